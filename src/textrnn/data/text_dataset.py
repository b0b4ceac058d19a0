"""keras.utils.text_dataset_from_directory without tf.data: the same files, labels, order and
split as Keras 3's (keras/src/utils/dataset_utils.py: class folders sorted, files sorted within
them, one shuffle of the paths by `seed`, the validation split taken from the end), as a
`TextDataset` of (texts, labels) batches that fit / evaluate / predict take, with the dataset
methods text code calls on it (map, cache, prefetch, shuffle, take)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from textrnn.errors import ConfigError, DataError

LABEL_MODES = ("int", "binary", "categorical", None)


class TextDataset:
    """Batches of (texts, labels) (texts alone when there are no labels), each passed through the
    functions given to `map`, in order. Texts are Python strings (Keras's are byte strings)."""

    def __init__(self, texts: list[str], labels: np.ndarray | None, batch_size: int,
                 class_names: list[str] | None = None, maps: tuple[Callable, ...] = ()) -> None:
        self.texts, self.labels, self.batch_size = texts, labels, batch_size
        self.class_names, self.maps = class_names, maps

    def __len__(self) -> int:
        return math.ceil(len(self.texts) / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        for start in range(0, len(self.texts), self.batch_size):
            rows = slice(start, start + self.batch_size)
            element: Any = np.array(self.texts[rows], dtype=object)
            if self.labels is not None:
                element = (element, self.labels[rows])
            for fn in self.maps:
                element = fn(*element) if isinstance(element, tuple) else fn(element)
            yield element

    def _with(self, **changes: Any) -> TextDataset:
        fields = {"texts": self.texts, "labels": self.labels, "batch_size": self.batch_size,
                  "class_names": self.class_names, "maps": self.maps, **changes}
        return TextDataset(**fields)

    def map(self, fn: Callable, num_parallel_calls: Any = None, deterministic: Any = None) -> TextDataset:
        return self._with(maps=(*self.maps, fn))

    def take(self, count: int) -> TextDataset:
        rows = count * self.batch_size if count >= 0 else len(self.texts)
        return self._with(texts=self.texts[:rows], labels=None if self.labels is None else self.labels[:rows])

    # tf.data's pipeline tuning: nothing to do here (the rows are in memory; fit shuffles them)
    def cache(self, filename: str = "") -> TextDataset:
        return self

    def prefetch(self, buffer_size: Any = None) -> TextDataset:
        return self

    def shuffle(self, buffer_size: Any = None, seed: Any = None,
                reshuffle_each_iteration: Any = None) -> TextDataset:
        return self

    def as_numpy_iterator(self) -> Iterator[Any]:
        return iter(self)

    def as_arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Every batch joined: (inputs, labels); id rows of different widths padded with 0 at the end."""
        xs, ys = [], []
        for element in self:
            x, y = element if isinstance(element, tuple) else (element, None)
            xs.append(np.asarray(x))
            if y is not None:
                ys.append(np.asarray(y))
        if not xs:
            raise DataError("the dataset has no rows")
        if xs[0].ndim == 2 and len({x.shape[1] for x in xs}) > 1:
            width = max(x.shape[1] for x in xs)
            xs = [np.pad(x, ((0, 0), (0, width - x.shape[1]))) for x in xs]
        return np.concatenate(xs), (np.concatenate(ys) if ys else None)


def text_dataset_from_directory(directory: str | os.PathLike, labels: Any = "inferred",
                                label_mode: str | None = "int", class_names: list[str] | None = None,
                                batch_size: int | None = 32, max_length: int | None = None,
                                shuffle: bool = True, seed: int | None = None,
                                validation_split: float | None = None, subset: str | None = None,
                                follow_links: bool = False, verbose: bool = True, **kwargs: Any) -> Any:
    """keras.utils.text_dataset_from_directory: a TextDataset ([training, validation] for
    subset="both")."""
    kwargs.pop("format", None)
    if kwargs:
        raise ConfigError(f"text_dataset_from_directory: unknown argument(s) {', '.join(kwargs)}")
    root = Path(directory)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    if label_mode not in LABEL_MODES:
        raise ConfigError(f"text_dataset_from_directory: label_mode={label_mode!r}; valid: int, binary, "
                          "categorical or None")
    if labels not in ("inferred", None):
        raise ConfigError("text_dataset_from_directory: labels must be 'inferred' or None here")
    if labels is None:
        label_mode = None
    if subset not in (None, "training", "validation", "both") or (subset is None) != (not validation_split):
        raise ConfigError("text_dataset_from_directory: give validation_split and subset ('training', "
                          "'validation' or 'both') together")
    if subset is not None and shuffle and seed is None:
        raise ConfigError("text_dataset_from_directory: a validation split of shuffled files needs a seed")
    paths, ids, names = _index(root, labels, class_names, follow_links)
    if label_mode == "binary" and len(names) != 2:
        raise ConfigError("text_dataset_from_directory: label_mode='binary' needs 2 classes, "
                          f"found {len(names)}")
    if verbose:
        classes = f" belonging to {len(names)} classes" if labels else ""
        print(f"Found {len(paths)} files{classes}.")
    if shuffle:
        seed = np.random.randint(1e6) if seed is None else seed
        np.random.RandomState(seed).shuffle(paths)
        np.random.RandomState(seed).shuffle(ids)
    texts = [_read(p, max_length) for p in paths]

    def dataset(rows: slice) -> TextDataset:
        return TextDataset(texts[rows], _labels(ids[rows], label_mode, len(names)), batch_size or len(texts),
                           names if labels else None)

    if not validation_split:
        return dataset(slice(None))
    n_val = int(validation_split * len(texts))
    train, val = dataset(slice(0, len(texts) - n_val)), dataset(slice(len(texts) - n_val, None))
    if verbose and subset in ("training", "both"):
        print(f"Using {len(texts) - n_val} files for training.")
    if verbose and subset in ("validation", "both"):
        print(f"Using {n_val} files for validation.")
    return {"training": train, "validation": val, "both": [train, val]}[subset]


def _index(root: Path, labels: Any, class_names: list[str] | None,
           follow_links: bool) -> tuple[list[str], np.ndarray, list[str]]:
    """(file paths, class ids, class names) in Keras's order: class folders sorted (or as given),
    within each the .txt files by folder, then name."""
    if labels is None:
        folders, names = [root], []
    else:
        found = sorted(p.name for p in root.iterdir() if p.is_dir())
        if class_names is not None and not set(class_names) <= set(found):
            raise DataError(f"{root}: class_names {class_names} are not all among its folders {found}")
        names = list(class_names) if class_names is not None else found
        folders = [root / name for name in names]
    paths, ids = [], []
    for k, folder in enumerate(folders):
        for dirpath, _, files in sorted(os.walk(folder, followlinks=follow_links), key=lambda w: w[0]):
            for name in sorted(files):
                if name.lower().endswith(".txt"):
                    paths.append(os.path.join(dirpath, name))
                    ids.append(k)
    if not paths:
        raise DataError(f"{root}: no .txt files" + (" in its class folders" if labels is not None else ""))
    return paths, np.array(ids, dtype=np.int32), names


def _read(path: str, max_length: int | None) -> str:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as UTF-8 text ({exc})") from None
    return text[:max_length] if max_length else text


def _labels(ids: np.ndarray, label_mode: str | None, classes: int) -> np.ndarray | None:
    if label_mode is None:
        return None
    if label_mode == "int":
        return ids.astype(np.int32)
    if label_mode == "binary":
        return ids.astype(np.float32)[:, None]
    return np.eye(classes, dtype=np.float32)[ids]
