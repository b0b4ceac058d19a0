"""The recipe's path for few labelled rows: pretrained word vectors averaged over a text, a logistic
regression on that mean, and the NB n-gram head, blended.

With a few hundred labels a recurrent network trained from them stays far behind a linear model
(docs/SMALL_DATA.md), so this path trains none. It keeps what the unlabelled text taught the word
vectors and what the labels say about single words and phrases:
- the mean of the text's word2vec vectors (padding left out) -> logistic regression, its L2
  strength chosen by cross-validation on the labelled rows (transfer.fit_probe); where the corpus's
  word counts are known, the vectors are also tried weighted by a / (a + p(word)) (Arora et al.
  2017's smooth inverse frequency: frequent words, which say little about a text, count less), and
  the weighting with the lower cross-validated log loss is kept;
- the NB head on 1..ngrams-grams (models.linear_head.NBLinear), its C chosen the same way;
- the blend weight that minimises the out-of-fold log loss of the two.
Every choice is made on the labelled rows' own folds, never on test. The result is one Keras-shaped
model, Embedding(frozen, mask_zero) -> GlobalAveragePooling1D -> Dense(1, sigmoid), carrying the NB
head as any recipe model does, so evaluate / predict / serve / export take it unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from textrnn.app.recipe import blend_weight  # the recipe's rule: the share with the lowest log loss
from textrnn.app.transfer import fit_probe, pooled_features, probe_probabilities, stratified_folds
from textrnn.layers import Dense, Embedding, GlobalAveragePooling1D
from textrnn.models import Sequential
from textrnn.models.linear_head import NBLinear
from textrnn.training.metrics import log_loss

HEAD_CS = (0.03, 0.1, 0.3, 1.0, 3.0)  # the NB head's strengths tried by cross-validation
SIF_A = 1e-3  # smooth inverse frequency's a: Arora et al.'s default, not tuned here


def frequency_weighted(matrix: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each word's vector times a / (a + p(word)), p its share of the corpus's words."""
    p = counts / max(int(counts.sum()), 1)
    return (matrix * (SIF_A / (SIF_A + p))[:, None]).astype(np.float32)


def mean_vector_model(matrix: np.ndarray, maxlen: int) -> Sequential:
    """Frozen word vectors averaged over a text's own words, then Dense(1, sigmoid) (weights unset)."""
    model = Sequential([Embedding(matrix.shape[0], matrix.shape[1], weights=[matrix], mask_zero=True,
                                  trainable=False),
                        GlobalAveragePooling1D(), Dense(1, activation="sigmoid")])
    model.build((None, maxlen))
    return model


def _head_probabilities(features: Any, y: np.ndarray, train: np.ndarray, held: np.ndarray,
                        ngrams: int, bits: int, c: float) -> np.ndarray:
    head = NBLinear(ngrams=ngrams, bits=bits, C=c)
    head.fit(None, y[train], features=features[train])
    return head.predict_proba(features=features[held])


def _vector_candidate(matrix: np.ndarray, x: np.ndarray, y: np.ndarray, folds: list, seed: int,
                      maxlen: int) -> dict[str, Any]:
    """The mean-vector model on `matrix`: its regression fitted on all rows, and its out-of-fold
    probabilities on the rows' folds."""
    model = mean_vector_model(matrix, maxlen)
    vectors = pooled_features(model, x, batch_size=512)  # the averaged word vectors
    kernel, bias, c = fit_probe(vectors, y, seed)
    oof = np.zeros(len(y))
    for train, held in folds:
        k, b, _ = fit_probe(vectors[train], y[train], seed, c)
        oof[held] = probe_probabilities(vectors[held], k, b)
    return {"model": model, "kernel": kernel, "bias": bias, "C": c, "oof": oof}


def fit_few_labels(x: np.ndarray, y: np.ndarray, matrix: np.ndarray, maxlen: int, seed: int,
                   ngrams: int = 3, bits: int = 24,
                   counts: np.ndarray | None = None) -> tuple[Sequential, dict[str, Any]]:
    """The few-labels model for padded ids x (rows, maxlen) and binary labels y, on word vectors
    `matrix` (vocabulary rows, dim) with, if known, each word's corpus `counts`. Returns (model with
    its NB head attached, what was chosen)."""
    y = np.asarray(y).astype(np.int64).ravel()
    folds = list(stratified_folds(y, seed).split(x, y))
    candidates = {"plain": _vector_candidate(matrix, x, y, folds, seed, maxlen)}
    if counts is not None:
        candidates["frequency-weighted"] = _vector_candidate(frequency_weighted(matrix, counts), x, y,
                                                             folds, seed, maxlen)
    weighting = min(candidates, key=lambda name: log_loss(y, candidates[name]["oof"]))
    best = candidates[weighting]
    model, kernel, bias, vector_c, vector_oof = (best[k] for k in ("model", "kernel", "bias", "C", "oof"))
    grams = NBLinear(ngrams=ngrams, bits=bits).features(x)
    out_of_fold = {c: np.zeros(len(y)) for c in HEAD_CS}
    for train, held in folds:
        for c in HEAD_CS:
            out_of_fold[c][held] = _head_probabilities(grams, y, train, held, ngrams, bits, c)
    head_c = min(HEAD_CS, key=lambda c: log_loss(y, out_of_fold[c]))
    blend = blend_weight(y, vector_oof, out_of_fold[head_c])
    model.layers[-1].set_weights([kernel, bias])
    head = NBLinear(ngrams=ngrams, bits=bits, C=head_c)
    head.fit(None, y, features=grams)
    model.attach_linear_head(head, blend)
    mixed = (1 - blend) * vector_oof + blend * out_of_fold[head_c]
    chosen = {"weighting": weighting, "vector_C": vector_c, "head_C": head_c, "blend": blend,
              "folds": len(folds),
              "cv_accuracy": {"vectors": float(np.mean((vector_oof > 0.5) == y)),
                              "head": float(np.mean((out_of_fold[head_c] > 0.5) == y)),
                              "blend": float(np.mean((mixed > 0.5) == y))}}
    return model, chosen
