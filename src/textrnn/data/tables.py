"""The user's own labelled text: CSV / TSV, JSON Lines, or a folder with one subfolder per class.

Every problem is reported as one DataError line naming the file, the line or record, and what was
expected.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrnn.errors import DataError

TEXT_COLUMNS = ("text", "review", "sentence", "content")
LABEL_COLUMNS = ("label", "sentiment", "class", "target")
_BINARY_NAMES = {"neg": 0, "negative": 0, "pos": 1, "positive": 1}


@dataclass
class LabelledTexts:
    texts: list[str]
    labels: np.ndarray  # int64 class ids
    classes: list[str]  # class id -> name
    source: str


# A review may be long; the csv module's default field limit (128 KB) is not a text's limit.
MAX_FIELD_CHARS = 1 << 30


def raise_csv_field_limit() -> None:
    csv.field_size_limit(MAX_FIELD_CHARS)


def decode_bytes(path: Path | str, data: bytes, encoding: str) -> str:
    """`data` as text; a wrong encoding is one line naming the file, line and byte."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line} is not valid {encoding} (byte 0x{data[exc.start]:02x}); "
                        "pass the file's encoding (--encoding)") from None
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}") from None


def _read_text_file(path: Path, encoding: str) -> str:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    text = decode_bytes(path, path.read_bytes(), encoding)
    if not text.strip():
        raise DataError(f"{path}: file is empty")
    return text.lstrip("\ufeff")


def pick_column(columns: Sequence[str], wanted: str | None, defaults: Sequence[str], path: Path | str,
          what: str) -> str:
    if wanted is not None:
        if wanted not in columns:
            raise DataError(f"{path}: no {what} column {wanted!r} (columns: {', '.join(columns)})")
        return wanted
    for name in defaults:
        if name in columns:
            return name
    raise DataError(f"{path}: no {what} column (looked for {', '.join(defaults)}; columns: "
                    f"{', '.join(columns)}); name it with --{what}-column")


def _records(path: Path, encoding: str) -> tuple[list[tuple[int, dict]], list[str]]:
    """(line number, record) pairs and the column names."""
    text = _read_text_file(path, encoding)
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows, columns = [], []
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}: line {number} should be a JSON object")
            columns.extend(k for k in record if k not in columns)
            rows.append((number, record))
        return rows, columns
    if suffix in (".csv", ".tsv", ".txt"):
        raise_csv_field_limit()
        delimiter = "\t" if suffix == ".tsv" else ","
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        columns = list(reader.fieldnames or [])
        try:
            rows = [(reader.line_num, row) for row in reader]
        except csv.Error as exc:
            raise DataError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from None
        return rows, columns
    raise DataError(f"{path}: unsupported file type {suffix!r} (expected .csv, .tsv or .jsonl)")


def label_names(raw: Sequence[str]) -> list[str]:
    """Class names in id order: 0/1 and neg/pos keep their usual ids; other labels are sorted
    (numerically when they are all integers)."""
    unique = sorted(set(raw))
    lowered = {u.lower() for u in unique}
    if lowered <= set(_BINARY_NAMES):
        by_id = {_BINARY_NAMES[u.lower()]: u for u in unique}
        return [by_id.get(0, "neg"), by_id.get(1, "pos")]
    if all(u.lstrip("-").isdigit() for u in unique):
        return sorted(unique, key=int)
    return unique


def encode_labels(raw: Sequence[str], classes: Sequence[str], where: Sequence[str]) -> np.ndarray:
    lookup = {c.lower(): i for i, c in enumerate(classes)}
    ids = np.empty(len(raw), dtype=np.int64)
    for i, (label, place) in enumerate(zip(raw, where)):
        if label.lower() not in lookup:
            raise DataError(f"{place}: unknown label {label!r} (known: {', '.join(classes)})")
        ids[i] = lookup[label.lower()]
    return ids


def read_table(path: str | Path, text_column: str | None = None, label_column: str | None = None,
               encoding: str = "utf-8", classes: Sequence[str] | None = None) -> LabelledTexts:
    """Read a CSV / TSV / JSONL file of labelled texts. `classes` fixes the label ids (e.g. those of
    the training file when reading a test file)."""
    path = Path(path)
    rows, columns = _records(path, encoding)
    if not rows:
        raise DataError(f"{path}: no records after the header")
    text_col = pick_column(columns, text_column, TEXT_COLUMNS, path, "text")
    label_col = pick_column(columns, label_column, LABEL_COLUMNS, path, "label")
    texts, raw, where = [], [], []
    for number, record in rows:
        text, label = record.get(text_col), record.get(label_col)
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}: line {number}: empty or missing text in column {text_col!r}")
        if label is None or str(label).strip() == "":
            raise DataError(f"{path}: line {number}: empty or missing label in column {label_col!r}")
        texts.append(text)
        raw.append(str(label).strip())
        where.append(f"{path}: line {number}")
    return _finish(texts, raw, where, classes, str(path))


def read_folder(path: str | Path, encoding: str = "utf-8",
                classes: Sequence[str] | None = None) -> LabelledTexts:
    """A folder with one subfolder per class, each holding .txt files (aclImdb/train/{neg,pos})."""
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"{path}: folder not found")
    subfolders = sorted(p for p in path.iterdir() if p.is_dir() and any(p.glob("*.txt")))
    if not subfolders:
        raise DataError(f"{path}: no class subfolders with .txt files (expected e.g. {path}/pos/*.txt "
                        f"and {path}/neg/*.txt)")
    texts, raw, where = [], [], []
    for folder in subfolders:
        for file in sorted(folder.glob("*.txt")):
            text = decode_bytes(file, file.read_bytes(), encoding)
            if not text.strip():
                raise DataError(f"{file}: file is empty")
            texts.append(text)
            raw.append(folder.name)
            where.append(str(file))
    return _finish(texts, raw, where, classes, str(path))


def _integral_labels(raw: list[str], where: Sequence[str], source: str) -> list[str]:
    """Numeric labels written as floats ("1.0") become integers ("1"); fractional ones ("0.7") are
    scores, not classes, and are refused rather than read as one class per value."""
    try:
        values = [float(label) for label in raw]
    except ValueError:
        return raw
    if all(v.is_integer() for v in values):
        return [str(int(v)) for v in values]
    first = next(i for i, v in enumerate(values) if not v.is_integer())
    raise DataError(f"{where[first]}: label {raw[first]!r} is not a class: labels must be class names "
                    "or integers (textrnn classifies; it does not regress scores)")


def _check_mixed(raw: list[str], where: Sequence[str]) -> None:
    """pos/neg names beside other names are a typo or a stray row, not a third class."""
    lowered = [label.lower() for label in raw]
    if not any(label in _BINARY_NAMES for label in lowered):
        return
    others = [i for i, label in enumerate(lowered) if label not in _BINARY_NAMES]
    if others:
        first = others[0]
        raise DataError(f"{where[first]}: label {raw[first]!r} beside pos/neg labels ({len(others)} such "
                        f"rows); expected one of {', '.join(sorted(_BINARY_NAMES))}")


def _finish(texts, raw, where, classes, source) -> LabelledTexts:
    raw = _integral_labels(raw, where, source)
    if classes is None:
        if len(set(raw)) < 2:
            raise DataError(f"{source}: only one class ({raw[0]!r}) found; a classifier needs "
                            "at least two")
        _check_mixed(raw, where)
        classes = label_names(raw)
    return LabelledTexts(texts, encode_labels(raw, classes, where), list(classes), source)


def read_labelled(path: str | Path, text_column: str | None = None, label_column: str | None = None,
                  encoding: str = "utf-8", classes: Sequence[str] | None = None) -> LabelledTexts:
    """A file (CSV, TSV, JSONL) or a folder per class."""
    path = Path(path)
    if path.is_dir():
        return read_folder(path, encoding, classes)
    return read_table(path, text_column, label_column, encoding, classes)


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test): each class split in the same proportion, seeded."""
    if not 0 < test_fraction < 1:
        raise DataError(f"test fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        n_test = int(round(len(idx) * test_fraction))
        if n_test == 0 or n_test == len(idx):
            raise DataError(f"class {int(c)} has {len(idx)} examples: too few to split into train "
                            "and test; give a separate test file")
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return np.sort(np.array(train)), np.sort(np.array(test))
