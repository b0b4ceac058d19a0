"""The embedded sample: 4,000 real IMDB reviews (3,000 train, 1,000 test, balanced) shipped with the
package, so the demo runs with no download. Built by scripts/make_sample.py from the official archive."""

from __future__ import annotations

import gzip
import json
from importlib import resources

import numpy as np

from textrnn.data.tables import LabelledTexts

SAMPLE_FILE = "imdb_sample.jsonl.gz"


def load_sample() -> tuple[LabelledTexts, LabelledTexts]:
    """(train, test) parts of the embedded sample; labels 0 = neg, 1 = pos."""
    raw = resources.files("textrnn.data").joinpath("sample", SAMPLE_FILE).read_bytes()
    parts: dict[str, tuple[list[str], list[int]]] = {"train": ([], []), "test": ([], [])}
    for line in gzip.decompress(raw).decode("utf-8").split("\n"):
        if not line:
            continue
        row = json.loads(line)
        texts, labels = parts[row["split"]]
        texts.append(row["text"])
        labels.append(row["label"])
    return tuple(  # type: ignore[return-value]
        LabelledTexts(texts, np.array(labels, dtype=np.int64), ["neg", "pos"], f"sample:{split}")
        for split, (texts, labels) in parts.items())
