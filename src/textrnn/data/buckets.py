"""Length buckets: batches of reviews that all have the same length, cut out of pre-padded arrays
without their padding. Reviews differ a lot in length (IMDB: median ~230 words, padded to 400-500),
so a bucketed epoch runs far fewer time steps; and as no row of a bucket is padded, a `mask_zero`
model takes its fast unmasked path with the same result a masked padded batch would give."""

from __future__ import annotations

import numpy as np


def row_lengths(x: np.ndarray) -> np.ndarray:
    """Tokens per row of a pre-padded id array: the row minus its leading zeros."""
    nonzero = x != 0
    first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), x.shape[1])
    return x.shape[1] - first


def length_batches(lengths: np.ndarray, batch_size: int,
                   rng: np.random.Generator | None = None) -> list[tuple[int, np.ndarray]]:
    """(length, row indices) batches of rows of one length each, at most batch_size rows. With rng,
    rows are shuffled within each length and the batches are shuffled; without, the order is fixed."""
    batches = []
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        if rng is not None:
            rng.shuffle(rows)
        batches += [(int(length), rows[i:i + batch_size]) for i in range(0, len(rows), batch_size)]
    if rng is not None:
        order = rng.permutation(len(batches))
        batches = [batches[i] for i in order]
    return batches
