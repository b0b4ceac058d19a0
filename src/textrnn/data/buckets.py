"""Length buckets: batches of reviews of near-equal length, cut out of pre-padded arrays with
little of their padding. Reviews differ a lot in length (IMDB: median ~230 words, padded to
400-500), so a bucketed epoch runs far fewer time steps. A `mask_zero` model still masks what
padding is left, so its results are those of the fully padded masked model."""

from __future__ import annotations

import numpy as np

POOL_BATCHES = 50  # rows are sorted by length within pools of this many batches


def row_lengths(x: np.ndarray) -> np.ndarray:
    """Tokens per row of a pre-padded id array: the row minus its leading zeros."""
    nonzero = x != 0
    first = np.where(nonzero.any(axis=1), nonzero.argmax(axis=1), x.shape[1])
    return x.shape[1] - first


def length_batches(lengths: np.ndarray, batch_size: int,
                   rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Row-index batches of near-equal lengths, each row once. Without rng: all rows sorted by
    length (fixed order, least padding). With rng: rows shuffled, cut into pools of POOL_BATCHES
    batches, each pool sorted by length and cut into batches, the batches shuffled, so that a
    batch's rows change from epoch to epoch while their lengths stay close."""
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    order = rng.permutation(len(lengths))
    pool = batch_size * POOL_BATCHES
    batches = []
    for p in range(0, len(order), pool):
        rows = order[p:p + pool]
        rows = rows[np.argsort(lengths[rows], kind="stable")]
        batches += [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def batch_width(lengths: np.ndarray, steps: int) -> int:
    """Columns a batch keeps from the right: its longest row plus one padding step (capped at
    `steps`), so that a row shorter than `steps` still has a masked step, as in the fully padded
    batch (GlobalMaxPooling1D, as in Keras, takes masked steps' zeros into its max)."""
    return int(min(steps, int(lengths.max(initial=0)) + 1))
