"""Keras's `steps_per_epoch` over arrays: an epoch takes that many batches, and the next epoch goes
on where it stopped in the same pass over the rows. When a pass runs out first, its epoch ends
early with Keras's warning, and the next epoch starts a new pass (reshuffled, if fit shuffles).
(`validation_steps` and evaluate / predict's `steps` over arrays: the first batches, `first_rows`.)"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator, Sized
from typing import Any

from textrnn.errors import ConfigError

RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset or "
           "generator can generate at least `steps_per_epoch * epochs` batches.")  # Keras's words


def check_steps(steps: Any, what: str) -> None:
    """A count of batches (steps_per_epoch, validation_steps, steps) for arrays or batch sources."""
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise ConfigError(f"{what} must be a whole number >= 1, got {steps!r}")


def first_rows(rows: int, batch_size: int, steps: int | None) -> int:
    """How many rows the first `steps` batches of `batch_size` hold (all of them, with Keras's
    warning, when there are fewer batches)."""
    if steps is None:
        return rows
    if steps * batch_size >= rows + batch_size:  # (a last, shorter batch counts as one)
        warnings.warn(RAN_OUT, stacklevel=3)
    return min(rows, steps * batch_size)


class StepsOverPasses:
    """Epochs of `steps` batches taken from passes over the rows; `new_pass()` gives a pass's
    batches (a sized iterable)."""

    def __init__(self, new_pass: Callable[[], Sized], steps: int) -> None:
        self.new_pass, self.steps = new_pass, steps
        self._batches: Iterator[Any] | None = None
        self._left = 0  # batches left in the current pass

    def next_epoch_length(self) -> int:
        """Starts a pass if none is going on; the batches the next epoch takes."""
        if self._batches is None or self._left == 0:
            batches = self.new_pass()
            self._batches, self._left = iter(batches), len(batches)  # type: ignore[call-overload]
        return min(self.steps, self._left)

    def epoch(self) -> Iterator[Any]:
        """The next epoch's batches (call next_epoch_length first); an epoch a callback stops
        leaves the rest of its batches to the next one, as Keras's."""
        take = min(self.steps, self._left)
        if take < self.steps:
            warnings.warn(RAN_OUT, stacklevel=2)
        for batch in itertools.islice(self._batches, take):  # type: ignore[arg-type]
            self._left -= 1
            yield batch
