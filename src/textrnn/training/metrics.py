"""Classification metrics for `textrnn evaluate` (scikit-learn does the counting)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm


def probabilities_to_labels(probs: np.ndarray) -> np.ndarray:
    return (probs[:, 0] > 0.5).astype(np.int64) if probs.shape[1] == 1 else probs.argmax(axis=1)


def classification_report(y_true: np.ndarray, probs: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """accuracy, log loss, precision / recall / F1 (binary: of the positive class; else macro),
    ROC AUC (one-vs-rest macro when multi-class) and the confusion matrix (rows = true class)."""
    y_pred = probabilities_to_labels(probs)
    binary = probs.shape[1] == 1
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    full = np.hstack([1 - p, p]) if binary else p / p.sum(axis=1, keepdims=True)
    labels = list(range(len(classes)))
    average = "binary" if binary else "macro"
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, average=average, zero_division=0)
    try:
        auc = float(skm.roc_auc_score(y_true, p[:, 0]) if binary else
                    skm.roc_auc_score(y_true, full, multi_class="ovr", labels=labels))
    except ValueError:  # a single class in y_true
        auc = float("nan")
    return {
        "n": int(len(y_true)),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "loss": float(skm.log_loss(y_true, full, labels=labels)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": auc,
        "confusion_matrix": skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "classes": classes,
    }


def log_loss(y: np.ndarray, p: np.ndarray, eps: float = 1e-7) -> float:
    """Binary log loss of P(positive) `p` for labels 0 / 1, the probabilities clipped to [eps, 1 - eps]."""
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
