"""NBSVM-style linear classifier on token ids: logistic regression on binary n-gram features scaled by
their naive-Bayes log-count ratios (Wang & Manning 2012). The strongest linear baseline on IMDB, and
the linear half of the recipe's ensemble.

It reads the same padded id arrays as the RNNs (id 0 is padding and never part of an n-gram), so it
sits beside an RNN in one model: `textrnn.app.ensemble.Ensemble`. N-grams are hashed into 2**bits columns (no
n-gram vocabulary to store): the model is one weight vector and a bias. The default 2**24 columns (64
MB of weights) merge fewer n-grams than 2**22: the 1-3 grams of IMDB's training reviews (up to 800
words each) fill 2.9 M of 2**22 = 4.2 M columns, but 4.2 M of 2**24, and the merging cost accuracy
(experiments/head_bits.py, docs/benchmarks.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from textrnn.errors import ConfigError, DataError
from textrnn.io_utils import atomic_write_json
from textrnn.serialization import read_json

if TYPE_CHECKING:
    import scipy.sparse as sp

WEIGHTS_FILE = "linear_head.safetensors"
CONFIG_FILE = "linear_head.json"
DEFAULT_BITS = 24
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of code * _MIX spread well
_PRIME = 1_000_003  # an n-gram's code: n, then code * _PRIME + id for each of its ids


def ngram_features(x: np.ndarray, ngrams: int = 3, bits: int = DEFAULT_BITS,
                   block: int = 2048) -> sp.csr_matrix:
    """Binary bag of hashed 1..ngrams-grams per row of a padded id array, as a (rows, 2**bits) CSR
    matrix of float32 ones."""
    import scipy.sparse as sp  # here, not at import: loading any saved model imports this module

    parts = []
    for first in range(0, len(x), block):
        rows = np.asarray(x[first:first + block], dtype=np.int64)
        keep = rows != 0
        ids = rows[keep].astype(np.uint64)
        doc = np.nonzero(keep)[0]
        r_parts, c_parts = [], []
        for n in range(1, ngrams + 1):
            if len(ids) < n:
                break
            width = len(ids) - n + 1
            code = np.full(width, n, dtype=np.uint64)
            for k in range(n):
                code = code * np.uint64(_PRIME) + ids[k:k + width]  # wraps around: fine for a hash
            same_doc = doc[:width] == doc[n - 1:]
            r_parts.append(doc[:width][same_doc])
            c_parts.append(((code[same_doc] * _MIX) >> np.uint64(64 - bits)).astype(np.int64))
        r = np.concatenate(r_parts) if r_parts else np.zeros(0, np.int64)
        c = np.concatenate(c_parts) if c_parts else np.zeros(0, np.int64)
        m = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(rows), 2 ** bits))
        m.sum_duplicates()
        m.data[:] = 1.0
        parts.append(m)
    if not parts:
        return sp.csr_matrix((0, 2 ** bits), dtype=np.float32)
    return sp.vstack(parts, format="csr")


class NBLinear:
    """fit(x, y) on padded id arrays; decision_function(x) gives the log-odds of the positive class."""

    def __init__(self, ngrams: int = 3, bits: int = DEFAULT_BITS, C: float = 1.0, alpha: float = 1.0) -> None:
        if not 1 <= int(bits) <= 28:  # 2**28 float32 weights are already 1 GB
            raise ConfigError(f"the NB linear model's bits must be 1-28, got {bits}")
        self.ngrams, self.bits, self.C, self.alpha = int(ngrams), int(bits), float(C), float(alpha)
        self.weights: np.ndarray | None = None  # coef * log-count ratio, one per hashed column
        self.bias = 0.0

    def features(self, x: np.ndarray) -> sp.csr_matrix:
        return ngram_features(x, self.ngrams, self.bits)

    def fit(self, x: np.ndarray | None, y: np.ndarray, features: sp.csr_matrix | None = None) -> NBLinear:
        """Fit on ids x, or on `features(x)` made before (to share them between several fits)."""
        from sklearn.linear_model import LogisticRegression

        feats = self.features(x) if features is None else features
        y = np.asarray(y).ravel()
        if not set(np.unique(y).tolist()) <= {0, 1}:
            raise DataError("the NB linear model takes labels 0 and 1 only")
        pos = np.asarray(feats[y == 1].sum(axis=0)).ravel() + self.alpha
        neg = np.asarray(feats[y == 0].sum(axis=0)).ravel() + self.alpha
        ratio = (np.log(pos / pos.sum()) - np.log(neg / neg.sum())).astype(np.float32)
        model = LogisticRegression(C=self.C, solver="liblinear", dual=True, max_iter=1000)
        model.fit(feats.multiply(ratio).tocsr(), y)
        self.weights = (model.coef_.ravel() * ratio).astype(np.float32)
        self.bias = float(model.intercept_[0])
        return self

    def decision_function(self, x: np.ndarray | None = None,
                          features: sp.csr_matrix | None = None) -> np.ndarray:
        if self.weights is None:
            raise DataError("the NB linear model is not fitted")
        feats = self.features(x) if features is None else features
        return np.asarray(feats @ self.weights).ravel() + self.bias

    def predict_proba(self, x: np.ndarray | None = None,
                      features: sp.csr_matrix | None = None) -> np.ndarray:
        """P(positive) per row of ids x, or of `features(x)` made before."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(x, features)))

    def get_config(self) -> dict[str, Any]:
        return {"ngrams": self.ngrams, "bits": self.bits, "C": self.C, "alpha": self.alpha, "bias": self.bias}

    def save_into(self, folder: Path, extra: dict[str, Any] | None = None) -> None:
        """Write the model's two files into a folder (a saved model's folder)."""
        save_file({"weights": torch.from_numpy(self.weights)}, str(folder / WEIGHTS_FILE))
        atomic_write_json(folder / CONFIG_FILE, {**self.get_config(), **(extra or {})})

    @classmethod
    def load_from(cls, folder: Path) -> tuple[NBLinear, dict[str, Any]] | None:
        """(model, its saved config) from a folder, or None if the folder holds none."""
        if not (folder / CONFIG_FILE).is_file():
            return None
        config = read_json(folder / CONFIG_FILE)
        model = cls(config["ngrams"], config["bits"], config["C"], config["alpha"])
        model.weights = load_file(str(folder / WEIGHTS_FILE))["weights"].numpy()
        if model.weights.shape != (2 ** model.bits,):
            raise DataError(f"{folder / WEIGHTS_FILE}: expected {2 ** model.bits} weights")
        model.bias = float(config["bias"])
        return model, config


class NgramHeadGraph(torch.nn.Module):
    """`NBLinear.decision_function` in torch operations on a padded id batch, for graph export (ONNX):
    the same hashed n-grams, each counted once per row. int64 arithmetic wraps as numpy's uint64
    does, and the top `bits` bits of the hash are taken by floor division and remainder, which
    ONNX has for signed integers (its BitShift is unsigned only). An n-gram holding a padding id is
    left out: the same n-grams as `ngram_features` when the padding is before or after the words."""

    def __init__(self, head: NBLinear) -> None:
        super().__init__()
        if head.weights is None:
            raise DataError("the NB linear model is not fitted")
        self.ngrams, self.bits, self.bias = head.ngrams, head.bits, head.bias
        self.register_buffer("weights", torch.from_numpy(head.weights))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mix = int(_MIX) - 2 ** 64  # the same 64 bits as a signed number
        columns = []
        for n in range(1, self.ngrams + 1):
            code, whole = None, None  # whole: the n-gram holds no padding
            for k in range(n):
                part = ids[:, k:(k - n + 1) or None]  # static bounds: the length stays dynamic
                code = part + n * _PRIME if code is None else code * _PRIME + part
                whole = part != 0 if whole is None else whole & (part != 0)
            top = torch.div(code * mix, 2 ** (64 - self.bits), rounding_mode="floor")
            columns.append(torch.where(whole, torch.remainder(top, 2 ** self.bits), -1))
        ordered = torch.sort(torch.cat(columns, dim=1), dim=1).values
        first = torch.ones_like(ordered[:, :1], dtype=torch.bool)
        once = torch.cat([first, ordered[:, 1:] != ordered[:, :-1]], dim=1) & (ordered >= 0)
        scores = self.weights[ordered.clamp(min=0)] * once
        return scores.sum(dim=1) + self.bias
