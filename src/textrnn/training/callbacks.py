"""Training callbacks with Keras's names and behaviour: History, EarlyStopping, ModelCheckpoint."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

from textrnn.errors import ConfigError

if TYPE_CHECKING:
    from textrnn.models import Sequential

Logs = dict[str, float]


class Callback:
    model: Sequential

    def set_model(self, model: Sequential) -> None:
        self.model = model

    def on_train_begin(self, logs: Logs | None = None) -> None: ...
    def on_train_end(self, logs: Logs | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...


class History(Callback):
    """`history.history[name]` is the list of per-epoch values; `history.epoch` the epoch indices."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _better(mode: str, monitor: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"mode must be one of auto, min, max; got {mode!r}")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


class _Monitor(Callback):
    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = _better(mode, monitor)
        self.min_delta = abs(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf

    def _current(self, logs: Logs | None) -> float | None:
        return None if not logs or self.monitor not in logs else float(logs[self.monitor])

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when `monitor` has not improved for `patience` epochs. With restore_best_weights the
    best epoch's weights are put back when training ends, stopped early or not (as Keras 3 does)."""

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.wait = 0
        self.best_weights: dict[str, Any] | None = None
        self.stopped_epoch = 0
        self._restored = False

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self._restored:  # resuming: keep the state load_state() brought back
            self._restored = False
            return
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = self._current(logs)
        if value is None:
            return
        if self._improved(value):
            self.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(self.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience and epoch > 0:  # Keras's rule
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)

    def state(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], state["wait"]
        self._restored = True


class ModelCheckpoint(_Monitor):
    """Save the model (folder format) after each epoch, or only when `monitor` improves."""

    def __init__(self, filepath: str, monitor: str = "val_loss", save_best_only: bool = False,
                 mode: str = "auto") -> None:
        super().__init__(monitor, mode)
        self.filepath = filepath
        self.save_best_only = save_best_only

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        path = self.filepath.format(epoch=epoch + 1, **(logs or {}))
        if not self.save_best_only:
            self.model.save(path)
            return
        value = self._current(logs)
        if value is not None and self._improved(value):
            self.best = value
            self.model.save(path)
