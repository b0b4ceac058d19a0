"""What fit / evaluate / predict take besides arrays, read batch by batch as Keras reads it: a
`keras.utils.PyDataset` (Keras 2's `Sequence`), a Python generator or iterator of batches, or a
torch DataLoader. A batch is `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import torch

from textrnn.errors import ConfigError, DataError
from textrnn.training.array_steps import check_steps

Batch = tuple[Any, Any, Any]  # (x, y or None, sample_weight or None)


class PyDataset:
    """Keras's base class of a dataset of batches: subclasses give `__getitem__(index)` (a batch)
    and `__len__` (how many; or the `num_batches` property, None for endless), and may act in
    `on_epoch_begin` / `on_epoch_end` (Keras 2's Sequence reshuffled there). `workers`,
    `use_multiprocessing` and `max_queue_size` are taken; batches are read in this process."""

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        self.workers, self.use_multiprocessing = workers, use_multiprocessing
        self.max_queue_size = max_queue_size

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} gives no __getitem__(index)")

    @property
    def num_batches(self) -> int | None:
        if hasattr(self, "__len__"):
            return len(self)
        raise ConfigError(f"{type(self).__name__}: give __len__ or the num_batches property")

    def on_epoch_begin(self) -> None:
        """Called before each epoch."""

    def on_epoch_end(self) -> None:
        """Called after each epoch."""


Sequence = PyDataset  # Keras 2's name


def is_stream(x: Any) -> bool:
    """Whether `x` is read batch by batch (not an array, a list of arrays or a dict of them)."""
    return isinstance(x, (PyDataset, Iterator, torch.utils.data.DataLoader))


def _standardize(batch: Any, what: str, index: int) -> Batch:
    if not isinstance(batch, (tuple, list)) or _is_row_list(batch):
        return batch, None, None
    if not 1 <= len(batch) <= 3:
        raise DataError(f"{what}: batch {index} is a tuple of {len(batch)}; a batch is x, (x, y) or "
                        "(x, y, sample_weight)")
    x, y, w = (*batch, None, None)[:3]
    return x, y, w


def _is_row_list(batch: Any) -> bool:
    """A plain list of numbers (one batch of inputs given as a list), not a tuple of parts."""
    return isinstance(batch, list) and bool(batch) and isinstance(batch[0], (int, float))


class Stream:
    """The batches of one source, an epoch at a time. `steps`: how many batches an epoch takes
    (Keras's steps_per_epoch / validation_steps / steps); without it, the source's length, or all
    a generator gives. `shuffle`: a PyDataset's batches in a new order each epoch, as Keras's."""

    def __init__(self, source: Any, steps: int | None, what: str, shuffle: bool = False) -> None:
        check_steps(steps, f"{what}: steps")
        self.source, self.steps, self.what, self.shuffle = source, steps, what, shuffle
        self._iterator = source if isinstance(source, Iterator) else None
        self._peeked: list[Any] = []
        if isinstance(source, PyDataset) and source.num_batches is None and steps is None:
            raise ConfigError(f"{what}: {type(source).__name__} is endless (num_batches None); give the "
                              "number of steps")

    @property
    def length(self) -> int | None:
        """Batches an epoch takes, where known."""
        if self.steps is not None:
            return self.steps
        if isinstance(self.source, PyDataset):
            return self.source.num_batches
        if isinstance(self.source, torch.utils.data.DataLoader):
            try:
                return len(self.source)
            except TypeError:  # (an iterable dataset of unknown length)
                return None
        return None

    def first(self) -> Batch:
        """The first batch (to build the model), still given by the first epoch."""
        if isinstance(self.source, PyDataset):
            return _standardize(self.source[0], self.what, 0)
        if isinstance(self.source, torch.utils.data.DataLoader):
            return _standardize(next(iter(self.source)), self.what, 0)
        if not self._peeked:
            try:
                self._peeked.append(next(self._iterator))
            except StopIteration:
                raise DataError(f"{self.what}: the generator gave no batch") from None
        return _standardize(self._peeked[0], self.what, 0)

    def epoch(self) -> Iterator[Batch]:
        """One epoch's batches."""
        if isinstance(self.source, PyDataset):
            yield from self._dataset_epoch()
            return
        if isinstance(self.source, torch.utils.data.DataLoader):
            batches: Iterator[Any] = iter(self.source)
        else:
            batches = itertools.chain(self._peeked, self._iterator)
            self._peeked = []
        if self.steps is not None:
            batches = itertools.islice(batches, self.steps)
        given = 0
        for batch in batches:
            yield _standardize(batch, self.what, given)
            given += 1
        if given == 0 or (self.steps is not None and given < self.steps):
            raise DataError(f"{self.what}: the input ran out of batches after {given} of this epoch's "
                            f"{self.steps or 'batches'}; a generator for several epochs must give "
                            "steps x epochs batches (loop it), as Keras's")

    def _dataset_epoch(self) -> Iterator[Batch]:
        dataset = self.source
        dataset.on_epoch_begin()
        count = dataset.num_batches
        if self.steps is not None:
            count = self.steps if count is None else min(self.steps, count)
        order = torch.randperm(count).tolist() if self.shuffle else range(count)
        for index in order:
            yield _standardize(dataset[index], self.what, index)

    def end_epoch(self) -> None:
        """After an epoch's batches (a PyDataset's on_epoch_end: Keras 2's Sequence reshuffled there)."""
        if isinstance(self.source, PyDataset):
            self.source.on_epoch_end()
