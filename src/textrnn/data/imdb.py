"""The Large Movie Review Dataset (aclImdb v1, Maas et al. 2011), read in place, with
keras.datasets.imdb's conventions.

The archive (`aclImdb_v1.tar.gz`, streamed, never unpacked) or its unpacked `aclImdb/` folder is found
from, in order: the `path` argument, the TEXTRNN_DATA environment variable, the user cache
(TEXTRNN_CACHE or ~/.cache/textrnn), and finally a download from the dataset's home (checksum
verified). Tokenized reviews are cached per archive checksum, so only the first load tokenizes.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrnn.data.download import download, file_digest
from textrnn.data.text import TextEncoder, Vocabulary, tokenize
from textrnn.errors import DataError
from textrnn.io_utils import atomic_write_bytes

OFFICIAL_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
OFFICIAL_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
ARCHIVE_NAME = "aclImdb_v1.tar.gz"
CACHE_VERSION = "v1"  # bump when the tokenizer or the cache layout changes
SPLITS = ("train", "test", "unsup")
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/(\d+)_(\d+)\.txt$")


def cache_dir() -> Path:
    return Path(os.environ.get("TEXTRNN_CACHE") or Path.home() / ".cache" / "textrnn")


def find_archive(path: str | os.PathLike | None = None, download_if_missing: bool = True,
                 quiet: bool = False) -> Path:
    """Where the IMDB data is: see the module docstring for the search order."""
    candidates = [path, os.environ.get("TEXTRNN_DATA"), cache_dir() / ARCHIVE_NAME]
    for i, candidate in enumerate(candidates):
        if candidate is None or candidate == "":
            continue
        p = Path(candidate)
        if p.exists():
            return p
        if i < 2:  # the user named it: say so rather than look elsewhere
            source = "path" if i == 0 else "TEXTRNN_DATA"
            raise DataError(f"{p}: IMDB data not found ({source} should name aclImdb_v1.tar.gz "
                            "or an aclImdb/ folder)")
    if not download_if_missing:
        raise DataError("IMDB data not found: set TEXTRNN_DATA to aclImdb_v1.tar.gz")
    return download(OFFICIAL_URL, cache_dir() / ARCHIVE_NAME, ("md5", OFFICIAL_MD5), quiet=quiet)


@dataclass
class RawReview:
    split: str       # train, test or unsup
    label: int       # 1 positive, 0 negative, -1 unlabelled
    review_id: int
    rating: int      # 1-4 negative, 7-10 positive, 0 unlabelled
    text: str


def iter_reviews(path: str | os.PathLike) -> Iterator[RawReview]:
    """Every review in the archive or folder, in storage order."""
    path = Path(path)
    if path.is_dir():
        root = path if path.name == "aclImdb" else path / "aclImdb"
        if not (root / "train").is_dir():
            raise DataError(f"{path}: not an aclImdb folder (no train/ inside)")
        for file in sorted(root.glob("*/*/*.txt")):
            review = _review(str(file.relative_to(root.parent)), lambda f=file: f.read_bytes())
            if review:
                yield review
        return
    try:
        with tarfile.open(path, "r|gz") as tar:
            for member in tar:
                if member.isfile():
                    review = _review(member.name, lambda m=member: tar.extractfile(m).read())
                    if review:
                        yield review
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read the archive ({exc})") from None


def _review(name: str, read) -> RawReview | None:
    match = _MEMBER.search(name)
    if not match:
        return None
    split, kind, review_id, rating = match.groups()
    split = "unsup" if kind == "unsup" else split
    label = {"pos": 1, "neg": 0, "unsup": -1}[kind]
    return RawReview(split, label, int(review_id), int(rating), read().decode("utf-8"))


def _tokenize_all(texts: list[str]) -> list[list[str]]:
    return [tokenize(t) for t in texts]


@dataclass
class TokenizedSplit:
    ranks: np.ndarray    # int32, flat: word rank among training reviews (1-based), 0 = unseen
    offsets: np.ndarray  # int64, len n+1: review i is ranks[offsets[i]:offsets[i+1]]
    labels: np.ndarray   # int8
    ratings: np.ndarray  # int8
    ids: np.ndarray      # int32, the file's review id

    def __len__(self) -> int:
        return len(self.labels)

    def sequences(self) -> list[np.ndarray]:
        return np.split(self.ranks, self.offsets[1:-1])


class IMDBCorpus:
    """All 100,000 reviews tokenized, with the vocabulary ranked on the training reviews."""

    def __init__(self, words: list[str], splits: dict[str, TokenizedSplit]) -> None:
        self.words = words
        self.splits = splits

    # --- building and caching -------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike | None = None, quiet: bool = False) -> IMDBCorpus:
        archive = find_archive(path, quiet=quiet)
        cache = cache_dir() / f"imdb-{_fingerprint(archive)}-{CACHE_VERSION}.npz"
        if cache.is_file():
            try:
                return cls._from_npz(cache)
            except Exception:  # a damaged cache is rebuilt, never trusted
                cache.unlink(missing_ok=True)
        corpus = cls.build(archive, quiet=quiet)
        buffer = io.BytesIO()
        np.savez(buffer, **corpus._to_arrays())
        atomic_write_bytes(cache, buffer.getvalue())
        return corpus

    @classmethod
    def build(cls, archive: str | os.PathLike, quiet: bool = False) -> IMDBCorpus:
        reviews = {s: [] for s in SPLITS}
        for review in iter_reviews(archive):
            reviews[review.split].append(review)
        if not reviews["train"]:
            raise DataError(f"{archive}: no aclImdb/train reviews found")
        for split in SPLITS:  # a fixed order whatever the storage order: neg then pos, by id
            reviews[split].sort(key=lambda r: (r.label, r.review_id))
        texts = [r.text for s in SPLITS for r in reviews[s]]
        with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
            chunk = 2000
            parts = pool.map(_tokenize_all, [texts[i:i + chunk] for i in range(0, len(texts), chunk)])
            tokens = [t for part in parts for t in part]
        n_train = len(reviews["train"])
        vocab = Vocabulary.fit(tokens[:n_train], num_words=None)
        rank = {w: i + 1 for i, w in enumerate(vocab.words)}
        splits, start = {}, 0
        for split in SPLITS:
            items = reviews[split]
            toks = tokens[start:start + len(items)]
            start += len(items)
            lengths = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
            offsets = np.zeros(len(toks) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            ranks = np.fromiter((rank.get(w, 0) for t in toks for w in t), dtype=np.int32,
                                count=int(offsets[-1]))
            splits[split] = TokenizedSplit(
                ranks, offsets, np.array([r.label for r in items], dtype=np.int8),
                np.array([r.rating for r in items], dtype=np.int8),
                np.array([r.review_id for r in items], dtype=np.int32))
        return cls(vocab.words, splits)

    def _to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"words": np.array("\n".join(self.words))}
        for name, s in self.splits.items():
            for field in ("ranks", "offsets", "labels", "ratings", "ids"):
                arrays[f"{name}_{field}"] = getattr(s, field)
        return arrays

    @classmethod
    def _from_npz(cls, path: Path) -> IMDBCorpus:
        with np.load(path) as data:
            words = str(data["words"]).split("\n")
            splits = {name: TokenizedSplit(*(data[f"{name}_{f}"] for f in
                                             ("ranks", "offsets", "labels", "ratings", "ids")))
                      for name in SPLITS}
        return cls(words, splits)

    # --- views ----------------------------------------------------------------------------------
    def vocabulary(self, num_words: int | None = 10000, start_char: int | None = 1,
                   oov_char: int = 2, index_from: int = 3) -> Vocabulary:
        return Vocabulary(self.words, num_words=num_words, start_char=start_char,
                          oov_char=oov_char, index_from=index_from)

    def encoder(self, num_words: int = 10000, maxlen: int = 500) -> TextEncoder:
        return TextEncoder(self.vocabulary(num_words), maxlen, labels=["neg", "pos"])

    def ids(self, split: str, num_words: int | None = 10000, index_from: int = 3,
            oov_char: int = 2, skip_top: int = 0) -> np.ndarray:
        """The split's flat ids with Keras's conventions (no start_char yet)."""
        ranks = self.splits[split].ranks
        ids = ranks.astype(np.int64) + index_from
        limit = np.iinfo(np.int64).max if num_words is None else num_words
        bad = (ranks == 0) | (ids >= limit) | (ids < skip_top)
        ids[bad] = oov_char
        return ids

    def padded(self, split: str, num_words: int = 10000, maxlen: int = 500,
               start_char: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) with x the (N, maxlen) array pad_sequences would make from the encoded reviews
        (pre-padding, keeping the LAST maxlen ids), built without Python loops."""
        s = self.splits[split]
        ids = self.ids(split, num_words)
        lengths = np.diff(s.offsets) + 1  # + start_char
        x = np.empty((len(lengths), maxlen), dtype=np.int32)
        for first in range(0, len(lengths), 2048):  # blocks of rows: the int64 index arrays stay small
            rows = slice(first, first + 2048)
            pos = lengths[rows, None] - maxlen + np.arange(maxlen)[None, :]  # index into [start, ids...]
            flat = np.clip(s.offsets[:-1][rows, None] + pos - 1, 0, max(len(ids) - 1, 0))
            x[rows] = np.where(pos > 0, ids[flat] if len(ids) else 0, np.where(pos == 0, start_char, 0))
        return x, s.labels.astype(np.int64)


def _fingerprint(path: Path) -> str:
    if path.is_file():
        return file_digest(path)[:16]
    files = sorted(path.rglob("*.txt"))
    stamp = "".join(f"{f}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files)
    import hashlib

    return hashlib.sha256(stamp.encode()).hexdigest()[:16]


_URLS = re.compile(r"(?:^|/)aclImdb/(train|test)/urls_(pos|neg)\.txt$")
_TITLE = re.compile(r"tt(\d+)")


def _read_urls(archive: Path) -> dict[tuple[str, str], list[str]]:
    """(split, pos|neg) -> the lines of aclImdb/<split>/urls_<kind>.txt."""
    found: dict[tuple[str, str], list[str]] = {}
    if archive.is_dir():
        root = archive if archive.name == "aclImdb" else archive / "aclImdb"
        for file in root.glob("*/urls_*.txt"):
            match = _URLS.search(str(file.relative_to(root.parent)))
            if match:
                found[match.groups()] = file.read_text(encoding="utf-8").splitlines()
        return found
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                match = _URLS.search(member.name)
                if member.isfile() and match:
                    found[match.groups()] = tar.extractfile(member).read().decode("utf-8").splitlines()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{archive}: cannot read the archive ({exc})") from None
    return found


def movie_ids(split: str, path: str | os.PathLike | None = None, quiet: bool = False) -> np.ndarray:
    """Each review's movie (its IMDB title number) for `split` (train or test), in IMDBCorpus order
    (negative then positive, by review id). From the archive's urls_neg.txt / urls_pos.txt, whose
    line i is the movie of review i; cached beside the corpus."""
    archive = find_archive(path, quiet=quiet)
    cache = cache_dir() / f"imdb-{_fingerprint(archive)}-movies.npz"
    if cache.is_file():
        with np.load(cache) as saved:
            return saved[split]
    corpus = IMDBCorpus.load(archive, quiet=quiet)
    urls = _read_urls(archive)
    arrays = {}
    for name in ("train", "test"):
        s = corpus.splits[name]
        movies = np.empty(len(s), dtype=np.int64)
        for row, (label, review_id) in enumerate(zip(s.labels, s.ids)):
            lines = urls.get((name, "pos" if label == 1 else "neg"))
            if lines is None or review_id >= len(lines) or not _TITLE.search(lines[review_id]):
                raise DataError(f"{archive}: aclImdb/{name}/urls_{'pos' if label == 1 else 'neg'}.txt "
                                f"has no movie for review {review_id}")
            movies[row] = int(_TITLE.search(lines[review_id]).group(1))
        arrays[name] = movies
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(cache, buffer.getvalue())
    return arrays[split]


def load_data(path: str | os.PathLike | None = None, num_words: int | None = 10000,
              skip_top: int = 0, maxlen: int | None = None, seed: int = 113,
              start_char: int | None = 1, oov_char: int = 2, index_from: int = 3):
    """keras.datasets.imdb.load_data on the real archive: ((x_train, y_train), (x_test, y_test)),
    x an object array of id lists. Reviews are shuffled with `seed` as Keras does; `maxlen` DROPS
    longer reviews (use pad_sequences to cut them); ids >= num_words become oov_char."""
    corpus = IMDBCorpus.load(path)
    result = []
    rng = np.random.RandomState(seed)
    for split in ("train", "test"):
        s = corpus.splits[split]
        ids = corpus.ids(split, num_words, index_from, oov_char, skip_top)
        seqs = np.split(ids, s.offsets[1:-1])
        labels = s.labels.astype(np.int64)
        order = np.arange(len(seqs))
        rng.shuffle(order)
        xs = [([start_char] if start_char is not None else []) + seqs[i].tolist() for i in order]
        labels = labels[order]
        if maxlen:
            keep = [i for i, x in enumerate(xs) if len(x) < maxlen]
            xs, labels = [xs[i] for i in keep], labels[keep]
        x = np.empty(len(xs), dtype=object)
        x[:] = xs
        result.append((x, labels))
    return tuple(result)


def get_word_index(path: str | os.PathLike | None = None) -> dict[str, int]:
    """Word -> frequency rank among the training reviews (1-based), as Keras's get_word_index."""
    return {w: i + 1 for i, w in enumerate(IMDBCorpus.load(path).words)}


def load_texts(split: str, path: str | os.PathLike | None = None) -> tuple[list[str], np.ndarray]:
    """Raw texts and labels of one split (train, test or unsup: the 50,000 unlabelled reviews, for
    pretraining), in the corpus's fixed order."""
    reviews = sorted((r for r in iter_reviews(find_archive(path)) if r.split == split),
                     key=lambda r: (r.label, r.review_id))
    return [r.text for r in reviews], np.array([r.label for r in reviews], dtype=np.int64)
