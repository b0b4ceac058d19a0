"""Texts to classify, one reader for every command that takes them (predict's --file and standard
input): one text per line of a .txt file, one record per line of a .jsonl file, one row of a .csv /
.tsv file (quoted cells may hold newlines).

Lines end at "\\n" (or "\\r\\n") only: U+0085, U+2028 and form feeds inside a review stay in it, so
the n-th prediction always belongs to the n-th line. Blank lines are skipped; each text keeps the
line it came from, for the caller to report.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from textrnn.data.tables import TEXT_COLUMNS, decode_bytes, pick_column, raise_csv_field_limit
from textrnn.errors import DataError


@dataclass
class Texts:
    texts: list[str]
    lines: list[int]  # the 1-based line (or record) each text starts on


def split_lines(content: str) -> list[tuple[int, str]]:
    """(line number, line) for each non-blank line, splitting at newlines only."""
    rows = []
    for number, line in enumerate(content.split("\n"), start=1):
        line = line[:-1] if line.endswith("\r") else line
        if line.strip():
            rows.append((number, line))
    return rows


def _from_jsonl(content: str, text_column: str | None, source: str) -> Texts:
    texts, lines = [], []
    for number, line in split_lines(content):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{source}: line {number} is not valid JSON ({exc.msg})") from None
        if isinstance(record, dict):
            where = f"{source}: line {number}"
            record = record.get(pick_column(list(record), text_column, TEXT_COLUMNS, where, "text"))
        if not isinstance(record, str) or not record.strip():
            raise DataError(f"{source}: line {number}: expected a non-empty text (a JSON string or an "
                            "object with a text field)")
        texts.append(record)
        lines.append(number)
    return Texts(texts, lines)


def _from_table(content: str, delimiter: str, text_column: str | None, source: str) -> Texts:
    raise_csv_field_limit()
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        column = pick_column(list(reader.fieldnames or []), text_column, TEXT_COLUMNS, source, "text")
        texts, lines = [], []
        start = reader.line_num + 1
        for row in reader:
            text = row.get(column)
            if text is not None and text.strip():
                texts.append(text)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{source}: line {reader.line_num}: malformed CSV ({exc})") from None
    return Texts(texts, lines)


def parse_texts(content: str, kind: str, text_column: str | None = None, source: str = "input") -> Texts:
    """Texts of `content` read as `kind`: "txt", "jsonl", "csv" or "tsv"."""
    content = content.lstrip("\ufeff")
    if kind == "jsonl":
        return _from_jsonl(content, text_column, source)
    if kind in ("csv", "tsv"):
        return _from_table(content, "\t" if kind == "tsv" else ",", text_column, source)
    rows = split_lines(content)
    return Texts([text for _, text in rows], [number for number, _ in rows])


def kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}.get(suffix, "txt")


def read_texts(path: str | Path, encoding: str = "utf-8", text_column: str | None = None) -> Texts:
    """The texts of a file, by its suffix (.jsonl / .ndjson, .csv, .tsv; anything else: lines)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    return parse_texts(decode_bytes(path, path.read_bytes(), encoding), kind_of(path), text_column,
                       str(path))
