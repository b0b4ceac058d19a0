"""Build the embedded IMDB sample (package data) from the real archive.

    python scripts/make_sample.py /path/to/aclImdb_v1.tar.gz

Takes a balanced, seeded random subset of the official train and test reviews (train from train,
test from test, so no test review is seen in training) and writes
src/textrnn/data/sample/imdb_sample.jsonl.gz.
"""

import gzip
import json
import random
import sys
from pathlib import Path

from textrnn.data.imdb import iter_reviews

PER_CLASS = {"train": 1500, "test": 500}
OUT = Path(__file__).resolve().parents[1] / "src/textrnn/data/sample/imdb_sample.jsonl.gz"


def main(archive: str) -> None:
    pools: dict[tuple[str, int], list] = {}
    for r in iter_reviews(archive):
        if r.split in PER_CLASS:
            pools.setdefault((r.split, r.label), []).append(r)
    rng = random.Random(2011)
    rows = []
    for (split, label), reviews in sorted(pools.items()):
        reviews.sort(key=lambda r: r.review_id)
        for r in rng.sample(reviews, PER_CLASS[split]):
            rows.append({"split": split, "label": label, "rating": r.rating, "id": r.review_id,
                         "text": r.text})
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} reviews to {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main(sys.argv[1])
