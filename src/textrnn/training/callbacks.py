"""Training callbacks with Keras's names and behaviour: History, EarlyStopping, ModelCheckpoint,
ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TensorBoard, LambdaCallback, TerminateOnNaN,
BackupAndRestore."""

from __future__ import annotations

import copy
import csv
import json
import math
import shutil
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from textrnn.errors import ConfigError, DataError
from textrnn.io_utils import atomic_write_json

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

    # Each training step; as in Keras, the Keras 2 names on_batch_begin / on_batch_end are what the
    # default on_train_batch_* call, so callbacks written either way run.
    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...


BATCH_HOOKS = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")


def uses_batch_hooks(callback: Callback) -> bool:
    """Whether a callback does anything at each step (its class or the instance sets a batch hook),
    so that fit calls into the others only once an epoch."""
    return any(name in vars(callback) or getattr(type(callback), name) is not getattr(Callback, name)
               for name in BATCH_HOOKS)


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
    """Stop when `monitor` has not improved for `patience` epochs (counted from `start_from_epoch`;
    `baseline` is the value to beat first). With restore_best_weights the best epoch's weights are
    put back when training ends, stopped early or not (as Keras 3 does); verbose=1 says so."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta)
        self.patience, self.verbose = patience, verbose
        self.baseline, self.start_from_epoch = baseline, start_from_epoch
        self.restore_best_weights = restore_best_weights
        self.wait = 0
        self.best_weights: dict[str, Any] | None = None
        self.best_epoch = self.stopped_epoch = 0
        self._restored = False

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if self._restored:  # resuming: keep the state load_state() brought back
            self._restored = False
            return
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self.best = float(self.baseline)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        value = self._current(logs)
        if value is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:  # Keras: the first counts as best
            self.best_weights, self.best_epoch = copy.deepcopy(self.model.state_dict()), epoch
        if self._improved(value):
            self.best, self.wait, self.best_epoch = value, 0, epoch
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(self.model.state_dict())
            return
        self.wait += 1
        if self.wait >= self.patience and epoch > 0:  # Keras's rule
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)

    def state(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], state["wait"]
        self._restored = True


class ModelCheckpoint(_Monitor):
    """Save the model after each epoch, or only when `monitor` improves: a `.keras` file, a Keras
    `.h5` file, a textrnn folder for any other path, or with save_weights_only a `.weights.h5` (or
    Keras 2's `.h5`) file. The path may
    name the epoch and logs (`"ckpt-{epoch:02d}-{val_loss:.2f}.keras"`); verbose=1 prints Keras's
    lines."""

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str = "epoch", initial_value_threshold: float | None = None) -> None:
        super().__init__(monitor, mode)
        if save_freq != "epoch":
            raise ConfigError(f"ModelCheckpoint: save_freq={save_freq!r} is not supported (only 'epoch')")
        if save_weights_only and not str(filepath).endswith((".h5", ".hdf5")):
            raise ConfigError(f"ModelCheckpoint: with save_weights_only=True the file name must end in "
                              f".weights.h5 (or .h5), got {filepath}")
        self.filepath, self.verbose = str(filepath), verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.initial_value_threshold = initial_value_threshold
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        if not self.save_weights_only:  # refused now, not after the first epoch's training
            self.model.check_savable(self.filepath)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        path = self.filepath.format(epoch=epoch + 1, **(logs or {}))
        value = self._current(logs)
        if self.save_best_only and value is not None:
            best = "None" if math.isinf(self.best) else f"{self.best:.5f}"
            if not self._improved(value):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to {value:.5f}, "
                      f"saving model to {path}")
            self.best = value
        else:
            if self.save_best_only:  # Keras saves when the monitored value is missing, and warns
                warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=2)
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {path}")


def get_learning_rate(model: Sequential) -> float:
    """The optimizer's learning rate (the layers', not an Embedding's own rate; a schedule's for
    the next update)."""
    return float(model.create_optimizer().learning_rate)


def set_learning_rate(model: Sequential, rate: float) -> None:
    """Set the learning rate; an Embedding's own rate (embedding_learning_rate) keeps its ratio. A
    rate that follows a schedule is refused in one line, as Keras refuses it."""
    model.create_optimizer().learning_rate.assign(rate)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by `factor` when `monitor` has not improved for `patience` epochs,
    then wait `cooldown` epochs; never below `min_lr`. Logs `learning_rate` each epoch (Keras 3)."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0,
                 **kwargs: Any) -> None:
        if factor >= 1.0:
            raise ConfigError(f"ReduceLROnPlateau does not support a factor >= 1.0, got {factor}")
        super().__init__(monitor, mode, min_delta)
        self.factor, self.patience, self.verbose = factor, patience, verbose
        self.cooldown, self.min_lr = cooldown, min_lr
        self.cooldown_counter = self.wait = 0

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.cooldown_counter = self.wait = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs if logs is not None else {}
        logs["learning_rate"] = get_learning_rate(self.model)
        current = self._current(logs)
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            old = get_learning_rate(self.model)
            if self.wait >= self.patience and old > self.min_lr:
                new = max(old * self.factor, self.min_lr)
                set_learning_rate(self.model, new)
                if self.verbose:
                    print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to `schedule(epoch, lr)` (or `schedule(epoch)`)."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        try:
            rate = self.schedule(epoch, get_learning_rate(self.model))
        except TypeError:  # Keras's old one-argument schedule
            rate = self.schedule(epoch)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate):
            raise ConfigError(f"the schedule must return a finite float, got {rate!r}")
        set_learning_rate(self.model, float(rate))
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {rate}.")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = get_learning_rate(self.model)


class CSVLogger(Callback):
    """One row per epoch, `epoch` then the logs' keys in sorted order (Keras's columns and format)."""

    def __init__(self, filename: str | Path, separator: str = ",", append: bool = False) -> None:
        self.filename, self.sep, self.append = Path(filename), separator, append
        self.keys: list[str] | None = None
        self.header = True

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.header = not (self.append and self.filename.is_file() and self.filename.stat().st_size > 0)
        if not self.append:
            self.filename.write_text("")
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]  # as Keras: the columns a later run fills
        with self.filename.open("a", newline="") as f:
            writer = csv.DictWriter(f, ["epoch", *self.keys], delimiter=self.sep)
            if self.header:
                writer.writeheader()
                self.header = False
            writer.writerow({"epoch": epoch, **{k: _csv_value(logs.get(k, "NA")) for k in self.keys}})


def _csv_value(value: Any) -> Any:
    """Keras's CSVLogger cell: a per-class array as "[a, b, ...]" (quoted again by the csv module)."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return f'"[{", ".join(map(str, value))}]"'
    return value


class TensorBoard(Callback):
    """Keras's TensorBoard callback, for the curves: event files that `tensorboard --logdir LOG_DIR`
    shows, written with tensorboard's own writer. As Keras writes them: LOG_DIR/train and
    LOG_DIR/validation, a scalar `epoch_NAME` per log entry at step EPOCH (validation entries
    without their val_ prefix), and the learning rate as `epoch_learning_rate`."""

    def __init__(self, log_dir: str | Path = "logs", **ignored: Any) -> None:
        self.log_dir = Path(log_dir)
        self.writers: dict[str, Any] = {}

    def _writer(self, name: str) -> Any:
        if name not in self.writers:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is a dependency; a trimmed install may lack it
                raise ConfigError("the TensorBoard callback needs the tensorboard package: "
                                  "pip install tensorboard") from None
            self.writers[name] = SummaryWriter(str(self.log_dir / name))
        return self.writers[name]

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._writer("train")  # a missing package fails here, before any epoch is spent

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        train.setdefault("learning_rate", get_learning_rate(self.model))
        # (a per-class array is no scalar: left out of the event files)
        for name, value in train.items():
            if np.ndim(value) == 0:
                self._writer("train").add_scalar(f"epoch_{name}", float(value), epoch)
        for name, value in logs.items():
            if name.startswith("val_") and np.ndim(value) == 0:
                self._writer("validation").add_scalar(f"epoch_{name[4:]}", float(value), epoch)
        for writer in self.writers.values():
            writer.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers = {}


class LambdaCallback(Callback):
    """Keras's LambdaCallback: the given functions run at those points of training."""

    HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
             "on_train_batch_end", "on_batch_begin", "on_batch_end")

    def __init__(self, **hooks: Callable[..., Any] | None) -> None:
        unknown = set(hooks) - set(self.HOOKS)
        if unknown:
            raise ConfigError(f"LambdaCallback: unknown hook(s) {', '.join(sorted(unknown))}; valid: "
                              f"{', '.join(self.HOOKS)}")
        for name, function in hooks.items():
            if function is not None:
                setattr(self, name, function)


class TerminateOnNaN(Callback):
    """Stops training at the first step whose loss is NaN or infinite, as Keras's does."""

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class BackupAndRestore(Callback):
    """Keras's BackupAndRestore: the weights and the optimizer's state (`latest.weights.h5`) and the
    epoch reached (`training_metadata.json`) written to `backup_dir` after each epoch (or every
    `save_freq` batches), each file whole; a `fit` that starts with them there goes on from that
    epoch, as if never stopped. Once training ends they are deleted (`delete_checkpoint`); only
    the files it wrote, and the folder if nothing else is left in it. `double_checkpoint` keeps the
    previous pair too, for a latest one that cannot be read."""

    FILES = ("latest.weights.h5", "training_metadata.json")
    PREVIOUS = ("previous.weights.h5", "previous_training_metadata.json")  # double_checkpoint's

    def __init__(self, backup_dir: str, save_freq: str | int = "epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True) -> None:
        if not backup_dir:
            raise ConfigError("BackupAndRestore: backup_dir is empty")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ConfigError(f"BackupAndRestore: save_freq must be 'epoch' or a number of batches, got "
                              f"{save_freq!r}")
        self.backup_dir, self.save_freq = Path(backup_dir), save_freq
        self.double_checkpoint, self.delete_checkpoint = double_checkpoint, delete_checkpoint
        self._weights, self._metadata = (self.backup_dir / name for name in self.FILES)
        self._previous = [self.backup_dir / name for name in self.PREVIOUS]
        self._epoch = self._batches = 0
        if save_freq != "epoch":  # (an instance hook: fit calls it at each step only then)
            self.on_train_batch_end = self._every_batches

    def on_train_begin(self, logs: Logs | None = None) -> None:
        try:
            self._restore(self._weights, self._metadata)
        except (DataError, OSError, ValueError) as exc:
            if not self._previous[0].exists():
                raise DataError(f"{self.backup_dir}: the backup cannot be read ({exc}); delete the folder "
                                "to start training afresh") from None
            self._restore(*self._previous)

    def _restore(self, weights: Path, metadata: Path) -> None:
        self._epoch = self._batches = 0
        if weights.exists():
            self.model.load_weights(weights)
        if metadata.exists():
            self._epoch = int(json.loads(metadata.read_text())["epoch"])
            self.model._initial_epoch = self._epoch  # fit starts there, as Keras's

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch = epoch + 1
        if self.save_freq == "epoch":
            self._save()

    def _every_batches(self, batch: int, logs: Logs | None = None) -> None:
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._save()

    def _save(self) -> None:
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        if self.double_checkpoint:
            for path, previous in zip((self._weights, self._metadata), self._previous):
                if path.exists():
                    shutil.copyfile(path, previous)
        self.model.save_weights(self._weights)  # (written whole: a crash leaves the last one)
        atomic_write_json(self._metadata, {"epoch": self._epoch})

    def on_train_end(self, logs: Logs | None = None) -> None:
        if not self.delete_checkpoint:
            return
        for name in (*self.FILES, *self.PREVIOUS):
            (self.backup_dir / name).unlink(missing_ok=True)
        if self.backup_dir.is_dir() and not any(self.backup_dir.iterdir()):
            self.backup_dir.rmdir()
