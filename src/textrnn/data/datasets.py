"""From a data source name to model-ready arrays: what `textrnn train --data ...` uses.

Sources: "imdb" (the real archive, found as textrnn.data.imdb describes), "sample" (the embedded
sample), a path to an aclImdb archive or folder, a CSV / TSV / JSONL file, or a folder with one
subfolder per class (or with train/ and test/ subfolders that each hold class folders).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrnn.data import imdb
from textrnn.data.sample import load_sample
from textrnn.data.tables import LabelledTexts, read_labelled, stratified_split
from textrnn.data.text import TextEncoder, Vocabulary, tokenize
from textrnn.errors import DataError

KERAS_SHUFFLE_SEED = 113  # keras.datasets.imdb.load_data shuffles with this seed


@dataclass
class PreparedData:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    encoder: TextEncoder

    @property
    def classes(self) -> list[str]:
        return self.encoder.labels


def _shuffle(seed: int, *arrays: np.ndarray) -> list[np.ndarray]:
    order = np.arange(len(arrays[0]))
    np.random.RandomState(seed).shuffle(order)
    return [a[order] for a in arrays]


def _is_imdb(path: Path) -> bool:
    return path.name.endswith(".tar.gz") or (path / "aclImdb").is_dir() or path.name == "aclImdb"


def _imdb_split(corpus: imdb.IMDBCorpus, path: str | None, split: str, encoder: TextEncoder,
                quiet: bool) -> tuple[np.ndarray, np.ndarray]:
    vocab = encoder.vocabulary
    if corpus.words[:len(vocab.words)] == vocab.words:  # the corpus's own vocabulary: cached ids
        return corpus.padded(split, vocab.size, encoder.maxlen)
    texts, labels = imdb.load_texts(split, path)  # another vocabulary: encode the raw text
    return encoder.encode(texts), labels


def _from_imdb(path: str | None, num_words: int, maxlen: int, quiet: bool,
               vocabulary: Vocabulary | None = None) -> PreparedData:
    corpus = imdb.IMDBCorpus.load(path, quiet=quiet)
    encoder = (corpus.encoder(num_words, maxlen) if vocabulary is None
               else TextEncoder(vocabulary, maxlen, ["neg", "pos"]))
    rng_state = np.random.RandomState(KERAS_SHUFFLE_SEED)
    arrays = []
    for split in ("train", "test"):
        x, y = _imdb_split(corpus, path, split, encoder, quiet)
        order = np.arange(len(x))
        rng_state.shuffle(order)  # one RandomState for both splits, as Keras does
        arrays += [x[order], y[order]]
    return PreparedData("imdb", *arrays, encoder)


def imdb_train_movies(source: str = "imdb", quiet: bool = False) -> np.ndarray:
    """The movie of every row of `prepare(source).x_train` for IMDB (the same seed-113 shuffle)."""
    path = None if source == "imdb" else source
    movies = imdb.movie_ids("train", path, quiet=quiet)
    order = np.arange(len(movies))
    np.random.RandomState(KERAS_SHUFFLE_SEED).shuffle(order)  # the training set's shuffle comes first
    return movies[order]


def is_imdb_source(source: str) -> bool:
    return source == "imdb" or (source != "sample" and Path(source).exists() and _is_imdb(Path(source)))


def _from_texts(name: str, train: LabelledTexts, test: LabelledTexts, num_words: int,
                maxlen: int, vocabulary: Vocabulary | None = None) -> PreparedData:
    vocab = vocabulary or Vocabulary.fit((tokenize(t) for t in train.texts), num_words=num_words)
    encoder = TextEncoder(vocab, maxlen, train.classes)
    x_train = encoder.encode(train.texts)
    x_test = encoder.encode(test.texts)
    x_train, y_train = _shuffle(KERAS_SHUFFLE_SEED, x_train, train.labels)
    return PreparedData(name, x_train, y_train, x_test, test.labels, encoder)


def prepare(source: str = "sample", num_words: int = 10000, maxlen: int = 500,
            test_data: str | None = None, text_column: str | None = None,
            label_column: str | None = None, encoding: str = "utf-8", test_fraction: float = 0.2,
            seed: int = 0, train_size: int | None = None, quiet: bool = False,
            vocabulary: Vocabulary | None = None) -> PreparedData:
    """Load a data source and turn it into padded id arrays plus the TextEncoder that made them.
    The vocabulary is fit on the training texts unless one is given (e.g. a pretrained embedding's).
    The training rows are shuffled (seed 113, as Keras's IMDB loader) so validation_split's last
    rows hold every class; `train_size` keeps only the first n of them."""
    if source == "imdb":
        data = _from_imdb(None, num_words, maxlen, quiet, vocabulary)
    elif source == "sample":
        train, test = load_sample()
        data = _from_texts("sample", train, test, num_words, maxlen, vocabulary)
    else:
        path = Path(source)
        if not path.exists():
            raise DataError(f"{path}: data not found (give imdb, sample, or a file or folder path)")
        if _is_imdb(path):
            data = _from_imdb(str(path), num_words, maxlen, quiet, vocabulary)
        elif path.is_dir() and (path / "train").is_dir() and (path / "test").is_dir():
            train = read_labelled(path / "train", encoding=encoding)
            test = read_labelled(path / "test", encoding=encoding, classes=train.classes)
            data = _from_texts(path.name, train, test, num_words, maxlen, vocabulary)
        else:
            table = read_labelled(path, text_column, label_column, encoding)
            if test_data is not None:
                test = read_labelled(test_data, text_column, label_column, encoding, table.classes)
                train = table
            else:
                tr, te = stratified_split(table.labels, test_fraction, seed)
                train = _subset(table, tr)
                test = _subset(table, te)
            data = _from_texts(path.name, train, test, num_words, maxlen, vocabulary)
    if train_size is not None:
        if not 0 < train_size <= len(data.x_train):
            raise DataError(f"--train-size must be between 1 and {len(data.x_train)}, got {train_size}")
        data.x_train, data.y_train = data.x_train[:train_size], data.y_train[:train_size]
    return data


def test_split(source: str, encoder: TextEncoder, test_data: str | None = None,
               text_column: str | None = None, label_column: str | None = None,
               encoding: str = "utf-8", test_fraction: float = 0.2, seed: int = 0,
               held_out: bool = True, quiet: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The test rows of `source`, encoded with a trained model's `encoder`.

    held_out=True re-creates the test part that `prepare` set aside when training on `source`
    (the IMDB/sample test sets, a train/test folder's test/, `test_data`, or the same seeded
    stratified split of a single file); held_out=False reads all of the file as test data."""
    if is_imdb_source(source):
        path = None if source == "imdb" else source
        return _imdb_split(imdb.IMDBCorpus.load(path, quiet=quiet), path, "test", encoder, quiet)
    if source == "sample":
        table = load_sample()[1]
    elif test_data is not None:
        table = read_labelled(test_data, text_column, label_column, encoding, encoder.labels)
    elif Path(source).is_dir() and (Path(source) / "test").is_dir():
        table = read_labelled(Path(source) / "test", encoding=encoding, classes=encoder.labels)
    else:
        table = read_labelled(source, text_column, label_column, encoding, encoder.labels)
        if held_out:
            table = _subset(table, stratified_split(table.labels, test_fraction, seed)[1])
    return encoder.encode(table.texts), np.asarray(table.labels)


def _subset(table: LabelledTexts, idx: np.ndarray) -> LabelledTexts:
    return LabelledTexts([table.texts[i] for i in idx], table.labels[idx], table.classes, table.source)
