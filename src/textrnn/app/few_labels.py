"""The recipe's path for few labelled rows: pretrained word vectors averaged over a text, a logistic
regression on that mean, and the NB n-gram head, blended; then, where it pays, taught again by
itself on unlabelled text.

With a few hundred labels a recurrent network trained from them stays far behind a linear model
(docs/SMALL_DATA.md), so this path trains none. It keeps what the unlabelled text taught the word
vectors and what the labels say about single words and phrases:
- the mean of the text's word2vec vectors (padding left out) -> logistic regression, its L2
  strength chosen by cross-validation on the labelled rows (transfer.fit_probe); where the corpus's
  word counts are known, the vectors are also tried weighted by a / (a + p(word)) (Arora et al.
  2017's smooth inverse frequency: frequent words, which say little about a text, count less), and
  the weighting with the lower cross-validated log loss is kept;
- the NB head on 1..ngrams-grams (app.linear_head.NBLinear), its C chosen the same way;
- the blend weight that minimises the out-of-fold log loss of the two;
- self-training, given unlabelled texts: the blend labels them, and both parts are fitted again on
  the labelled rows plus the `PSEUDO_PER_CLASS` texts of each class it is surest of. It is kept only
  where it raises the cross-validated accuracy (each fold's model labels the texts itself). Its log
  loss is no guide: a model fitted on thousands of its own labels is surer of itself, not less right.
Every choice is made on the labelled rows' own folds, never on test. The result is one Keras-shaped
model, Embedding(frozen, mask_zero) -> GlobalAveragePooling1D -> Dense(1, sigmoid), carrying the NB
head as any recipe model does, so evaluate / predict / serve / export take it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from textrnn.app.ensemble import Ensemble, blend_weight  # the recipe's rule: the lowest log loss
from textrnn.app.linear_head import NBLinear
from textrnn.app.transfer import fit_probe, pooled_features, probe_probabilities, stratified_folds
from textrnn.layers import Dense, Embedding, GlobalAveragePooling1D
from textrnn.models import Sequential
from textrnn.training.metrics import log_loss

HEAD_CS = (0.03, 0.1, 0.3, 1.0, 3.0)  # the NB head's strengths tried by cross-validation
SIF_A = 1e-3  # smooth inverse frequency's a: Arora et al.'s default, not tuned here
# Pseudo-labelled texts per class: on IMDB, 5,000 of 25,000 unlabelled reviews gave more than 500
# or 2,500, and a second round no more than the first (docs/SMALL_DATA.md).
PSEUDO_PER_CLASS = 5000


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


@dataclass
class Texts:
    """Rows as both parts read them: averaged word vectors and hashed n-gram features."""
    vectors: np.ndarray
    grams: Any  # scipy.sparse CSR

    def take(self, rows: np.ndarray) -> Texts:
        return Texts(self.vectors[rows], self.grams[rows])

    def join(self, other: Texts) -> Texts:
        import scipy.sparse as sp

        return Texts(np.vstack([self.vectors, other.vectors]), sp.vstack([self.grams, other.grams]).tocsr())


@dataclass
class Choice:
    """What cross-validation chose: the two parts' strengths and the NB head's share of the blend."""
    vector_c: float
    head_c: float
    blend: float
    ngrams: int
    bits: int


@dataclass
class Fitted:
    kernel: np.ndarray
    bias: np.ndarray
    head: NBLinear
    blend: float

    def predict(self, texts: Texts) -> np.ndarray:
        vectors = probe_probabilities(texts.vectors, self.kernel, self.bias)
        return (1 - self.blend) * vectors + self.blend * self.head.predict_proba(features=texts.grams)


def fit_parts(texts: Texts, y: np.ndarray, choice: Choice, seed: int) -> Fitted:
    kernel, bias, _ = fit_probe(texts.vectors, y, seed, choice.vector_c)
    head = NBLinear(ngrams=choice.ngrams, bits=choice.bits, C=choice.head_c)
    head.fit(None, y, features=texts.grams)
    return Fitted(kernel, bias, head, choice.blend)


def self_trained(texts: Texts, y: np.ndarray, unlabelled: Texts, choice: Choice, seed: int,
                 teacher: Fitted | None = None) -> Fitted:
    """Both parts fitted again on the rows plus the unlabelled texts the blend fitted on the rows
    (`teacher`, fitted here if not given) is surest of: the same number of each class, so that its
    leaning does not feed itself."""
    teacher = teacher or fit_parts(texts, y, choice, seed)
    order = np.argsort(teacher.predict(unlabelled))
    take = min(PSEUDO_PER_CLASS, len(order) // 5)
    pseudo = np.concatenate([order[:take], order[-take:]])
    labels = np.concatenate([y, np.repeat([0, 1], take)])
    return fit_parts(texts.join(unlabelled.take(pseudo)), labels, choice, seed)


def self_training_accuracy(texts: Texts, y: np.ndarray, unlabelled: Texts, choice: Choice, folds: list,
                           seed: int) -> tuple[float, float]:
    """Cross-validated accuracy (without, with) self-training; each fold's model is the teacher of
    that fold's student."""
    without, with_ = np.zeros(len(y)), np.zeros(len(y))
    for train, held in folds:
        rows, held_texts = texts.take(train), texts.take(held)
        teacher = fit_parts(rows, y[train], choice, seed)
        without[held] = teacher.predict(held_texts)
        with_[held] = self_trained(rows, y[train], unlabelled, choice, seed, teacher).predict(held_texts)
    return float(np.mean((without > 0.5) == y)), float(np.mean((with_ > 0.5) == y))


def _vector_candidate(matrix: np.ndarray, x: np.ndarray, y: np.ndarray, folds: list, seed: int,
                      maxlen: int) -> dict[str, Any]:
    """The mean-vector model on `matrix`: its strength chosen on all rows, its out-of-fold
    probabilities on the rows' folds."""
    model = mean_vector_model(matrix, maxlen)
    vectors = pooled_features(model, x, batch_size=512)  # the averaged word vectors
    _, _, c = fit_probe(vectors, y, seed)
    oof = np.zeros(len(y))
    for train, held in folds:
        k, b, _ = fit_probe(vectors[train], y[train], seed, c)
        oof[held] = probe_probabilities(vectors[held], k, b)
    return {"model": model, "vectors": vectors, "C": c, "oof": oof}


def _head_strength(grams: Any, y: np.ndarray, folds: list, ngrams: int,
                   bits: int) -> tuple[float, np.ndarray]:
    """The NB head's C with the lowest out-of-fold log loss, and those out-of-fold probabilities."""
    out_of_fold = {c: np.zeros(len(y)) for c in HEAD_CS}
    for train, held in folds:
        for c in HEAD_CS:
            head = NBLinear(ngrams=ngrams, bits=bits, C=c)
            head.fit(None, y[train], features=grams[train])
            out_of_fold[c][held] = head.predict_proba(features=grams[held])
    best = min(HEAD_CS, key=lambda c: log_loss(y, out_of_fold[c]))
    return best, out_of_fold[best]


def fit_few_labels(x: np.ndarray, y: np.ndarray, matrix: np.ndarray, maxlen: int, seed: int,
                   ngrams: int = 3, bits: int = 24, counts: np.ndarray | None = None,
                   unlabelled: np.ndarray | None = None) -> tuple[Sequential, dict[str, Any]]:
    """The few-labels model for padded ids x (rows, maxlen) and binary labels y, on word vectors
    `matrix` (vocabulary rows, dim) with, if known, each word's corpus `counts`; `unlabelled`
    (padded ids) are texts self-training may label. Returns (model with its NB head attached, what
    was chosen)."""
    y = np.asarray(y).astype(np.int64).ravel()
    folds = list(stratified_folds(y, seed).split(x, y))
    candidates = {"plain": _vector_candidate(matrix, x, y, folds, seed, maxlen)}
    if counts is not None:
        candidates["frequency-weighted"] = _vector_candidate(frequency_weighted(matrix, counts), x, y,
                                                             folds, seed, maxlen)
    weighting = min(candidates, key=lambda name: log_loss(y, candidates[name]["oof"]))
    best = candidates[weighting]
    head_reader = NBLinear(ngrams=ngrams, bits=bits)
    texts = Texts(best["vectors"], head_reader.features(x))
    head_c, head_oof = _head_strength(texts.grams, y, folds, ngrams, bits)
    choice = Choice(best["C"], head_c, blend_weight(y, best["oof"], head_oof), ngrams, bits)
    mixed = (1 - choice.blend) * best["oof"] + choice.blend * head_oof
    chosen: dict[str, Any] = {
        "weighting": weighting, "vector_C": choice.vector_c, "head_C": head_c, "blend": choice.blend,
        "folds": len(folds),
        "cv_accuracy": {"vectors": float(np.mean((best["oof"] > 0.5) == y)),
                        "head": float(np.mean((head_oof > 0.5) == y)),
                        "blend": float(np.mean((mixed > 0.5) == y))}}
    pool = None
    if unlabelled is not None and len(unlabelled) // 5 > 0:
        pool = Texts(pooled_features(best["model"], unlabelled, batch_size=512),
                     head_reader.features(unlabelled))
        without, with_ = self_training_accuracy(texts, y, pool, choice, folds, seed)
        chosen["self_training"] = {"unlabelled": len(unlabelled), "kept": with_ > without,
                                   "cv_accuracy": {"without": without, "with": with_}}
        if with_ <= without:
            pool = None
    if pool is not None:
        fitted = self_trained(texts, y, pool, choice, seed)
    else:
        fitted = fit_parts(texts, y, choice, seed)
    model = Ensemble.around(best["model"])
    model.layers[-1].set_weights([fitted.kernel, fitted.bias])
    model.attach_linear_head(fitted.head, fitted.blend)
    return model, chosen
