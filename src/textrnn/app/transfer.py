"""Whole-encoder transfer for few labels: pretrain a recurrent language model on unlabelled text, keep
its embedding AND its LSTM (the lecture keeps only the embedding), then fit a classifier on top.

ENC_DIR (from `textrnn pretrain-encoder`, written atomically, reused by many runs):
    model/      a saved Sequential: Embedding(V, dim, mask_zero=True) -> LSTM(units, return_sequences=True),
                with its vocabulary (vocab.json)
    card.json   corpus, documents, tokens, units, dim, steps, held-out perplexity, time, date, machine

The classifier (`textrnn finetune ENC_DIR`) is a plain Keras-shaped model that predict / serve
take: the encoder's two layers -> GlobalAveragePooling1D -> Dense(1, sigmoid) (Dense(k, softmax)
for k classes). Its head is fitted first on the frozen encoder's pooled features by logistic
regression, its L2 strength chosen by stratified cross-validation on the n labelled rows alone (the
"probe": with 100 labels there is too little to move 400,000 weights); then, with --epochs, the
whole network is fine-tuned with discriminative learning rates (ULMFiT: each layer down gets the
rate / 2.6), the best epoch chosen on validation rows drawn from the n.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textrnn.app import report
from textrnn.app.pretrain.sources import corpus_tokens, load_vocabulary
from textrnn.data.datasets import prepare
from textrnn.data.text import TextEncoder
from textrnn.errors import ConfigError, DataError, require_rate, require_whole
from textrnn.io_utils import atomic_write_dir, atomic_write_json, check_output_dir
from textrnn.layers import LSTM, Dense, Embedding, GlobalAveragePooling1D
from textrnn.models import Sequential, load_model
from textrnn.serialization import read_json
from textrnn.setting import setting
from textrnn.training.metrics import classification_report
from textrnn.training.optimizers import AdamOptimizer

CARD_FILE = "card.json"
ENCODER_OUTPUTS = {"model", CARD_FILE}
RUN_OUTPUTS = {"run.json", "model", "metrics.json", "history.json", "loss.png", "accuracy.png"}
LAYER_DECAY = 2.6  # ULMFiT's discriminative fine-tuning: each layer down learns 2.6x slower


# --- pretraining ---------------------------------------------------------------------------------
@dataclass
class EncoderSettings:
    """`textrnn pretrain-encoder`'s options, one flag each: `pretrain_encoder`'s arguments but `out`
    and `verbose` (tests/test_cli.py holds the two to the same names and defaults)."""

    corpus: str = setting("imdb-unlabelled", "imdb-unlabelled (the 50,000 unlabelled and 25,000 training "
                          "reviews, no labels), imdb-unsup, sample, or a path (.txt one document per line, "
                          "CSV/JSONL, folder)")
    vocab: str = setting("imdb", "imdb, sample, corpus, or a vocab.json / run path")
    vocab_size: int = setting(10000, "words in the vocabulary")
    dim: int = setting(64, "embedding size")
    units: int = setting(128, "LSTM state size")
    seq_len: int = setting(64, "words per training window")
    epochs: int = setting(1, "passes over the corpus")
    max_minutes: float | None = setting(25.0, "stop after this long")
    seed: int = setting(0, "random seed")


def pretrain_encoder(corpus: str, out: str | Path, vocab: str = "imdb", vocab_size: int = 10000,
                     dim: int = 64, units: int = 128, seq_len: int = 64, epochs: int = 1,
                     max_minutes: float | None = 25.0, seed: int = 0, verbose: int = 1) -> dict[str, Any]:
    """Train a next-word LSTM language model on `corpus` and write its encoder as ENC_DIR `out`."""
    from textrnn.app.pretrain.language_model import train_language_model

    out = check_output_dir(out, ENCODER_OUTPUTS, marker=CARD_FILE)
    if (out / CARD_FILE).is_file():
        raise ConfigError(f"--out {out}: already holds a pretrained encoder; give another folder")
    for option, value in (("dim", dim), ("units", units), ("seq-len", seq_len), ("epochs", epochs)):
        if value < 1:
            raise ConfigError(f"--{option} must be at least 1, got {value}")
    start = time.perf_counter()
    docs = corpus_tokens(corpus, quiet=not verbose)
    vocabulary = load_vocabulary(vocab, vocab_size, corpus=docs, quiet=not verbose)
    _, info, lm_encoder = train_language_model(docs, vocabulary, dim, units=units, seq_len=seq_len,
                                               epochs=epochs, max_minutes=max_minutes, seed=seed,
                                               verbose=verbose, keep_encoder=True)
    encoder = Sequential([Embedding(vocabulary.size, dim, mask_zero=True),
                          LSTM(units, return_sequences=True)], name="encoder")
    encoder.build((None, seq_len))
    encoder.set_weights(lm_encoder.get_weights())
    encoder.text_encoder = TextEncoder(vocabulary, seq_len)
    card = {"corpus": corpus, "documents": len(docs), "tokens": int(sum(len(d) for d in docs)),
            "vocabulary": vocab, "vocab_size": vocabulary.size, "dim": dim, **info,
            "time_s": round(time.perf_counter() - start, 1), "seed": seed,
            "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"}

    def fill(folder: Path) -> None:
        encoder.save(folder / "model")
        atomic_write_json(folder / CARD_FILE, card)

    atomic_write_dir(out, fill)
    return card


def load_encoder(enc_dir: str | Path) -> tuple[Sequential, dict[str, Any]]:
    enc_dir = Path(enc_dir)
    if not (enc_dir / CARD_FILE).is_file():
        raise DataError(f"{enc_dir}: not a pretrained encoder (no {CARD_FILE}; make one with "
                        "`textrnn pretrain-encoder`)")
    encoder = load_model(enc_dir / "model", compile=False)
    kinds = [type(layer).__name__ for layer in encoder.layers]
    if kinds != ["Embedding", "LSTM"] or encoder.text_encoder is None:
        raise DataError(f"{enc_dir}/model: expected Embedding -> LSTM with a vocabulary, got {kinds}")
    return encoder, read_json(enc_dir / CARD_FILE)


# --- fine-tuning ---------------------------------------------------------------------------------
@dataclass
class FinetuneSettings:
    """Everything `textrnn finetune` needs; saved as run.json."""

    encoder: str                    # ENC_DIR
    data: str = "imdb"
    test_data: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    encoding: str = "utf-8"
    # the n labelled rows (the first n of the shuffled training set)
    train_size: int | None = setting(None, "use the first N labelled training texts", metavar="N",
                                     default_help="all")
    # the last words of a text, as pad_sequences keeps
    maxlen: int = setting(400, "words per text")
    epochs: int = setting(0, "whole-network fine-tuning epochs after the head's fit (0: the head only)")
    # the LSTM learns at lr / 2.6, the embedding at lr / 2.6**2
    lr: float = setting(1e-3, "fine-tuning rate of the head")
    batch_size: int = setting(32, "rows per batch")
    val_split: float = 0.2          # with epochs > 0: the rows that choose the best epoch
    seed: int = setting(0, "random seed")

    def validate(self) -> None:
        require_whole({"maxlen": (self.maxlen, 1), "epochs": (self.epochs, 0),
                       "batch-size": (self.batch_size, 1), "seed": (self.seed, 0)})
        require_rate("lr", self.lr)
        if not 0 < self.val_split < 1:
            raise ConfigError(f"--val-split must be in (0, 1), got {self.val_split}")


def classifier_from_encoder(encoder: Sequential, num_classes: int, maxlen: int) -> Sequential:
    """The encoder's layers (their weights copied) -> GlobalAveragePooling1D -> Dense.

    The mean over a text's own words (the mask leaves padding out), not the max: over hundreds of
    steps a language model's states reach nearly the same maximum in every review (their spread
    across reviews was 0.02 against 0.05 for the mean), and a probe on max-pooled states stayed near
    chance where the mean-pooled one learned (docs/SMALL_DATA.md)."""
    embedding, lstm = encoder.layers
    units = 1 if num_classes == 2 else num_classes
    model = Sequential([Embedding(embedding.input_dim, embedding.output_dim, mask_zero=True),
                        LSTM(lstm.units, return_sequences=True), GlobalAveragePooling1D(),
                        Dense(units, activation="sigmoid" if units == 1 else "softmax")])
    model.build((None, maxlen))
    model.layers[0].set_weights(embedding.get_weights())
    model.layers[1].set_weights(lstm.get_weights())
    return model


def pooled_features(model: Sequential, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The inputs of a pooled model's Dense head (every layer but the last: the encoder's mean
    states, or averaged word vectors) for the rows of x, in length buckets (padding skipped: the
    masked mean does not see it anyway)."""
    body = Sequential(model.layers[:-1])
    body.length_buckets = True
    return body.predict(x, batch_size=batch_size)


def fit_probe(features: np.ndarray, y: np.ndarray, seed: int,
              c: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Logistic regression on the standardised pooled features, its L2 strength `c` chosen (unless
    given) by stratified k-fold cross-validation (log loss) on these rows only, then folded back into
    a Dense layer's kernel and bias for the raw features. Returns (kernel (d, units), bias (units,), C)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    z = (features - mean) / std
    if c is None:
        split = stratified_folds(y, seed)
        scores = {c: cross_val_score(LogisticRegression(C=c, max_iter=2000), z, y, cv=split,
                                     scoring="neg_log_loss").mean() for c in np.logspace(-4, 1, 11)}
        c = max(scores, key=scores.get)
    probe = LogisticRegression(C=c, max_iter=2000).fit(z, y)
    coef = probe.coef_.T / std[:, None]  # w.(x - mean)/std + b  =  (w/std).x + (b - (w/std).mean)
    return coef.astype(np.float32), (probe.intercept_ - mean @ coef).astype(np.float32), float(c)


def stratified_folds(y: np.ndarray, seed: int):
    """Up to 5 stratified folds of the labelled rows: every choice made on them, never on test."""
    from sklearn.model_selection import StratifiedKFold

    folds = int(min(5, np.bincount(y).min()))
    if folds < 2:
        raise DataError("each class needs at least 2 labelled rows to choose by cross-validation")
    return StratifiedKFold(folds, shuffle=True, random_state=seed)


def probe_probabilities(features: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """P(positive) of a binary probe (kernel (d, 1), bias (1,)) for rows of pooled features."""
    return 1 / (1 + np.exp(-np.clip(features @ kernel[:, 0] + bias[0], -60, 60)))


def self_train(features: np.ndarray, y: np.ndarray, unlabelled: np.ndarray, seed: int,
               rounds: int = 3, per_class: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """A binary probe refitted on pseudo-labels: each round labels the unlabelled rows with the
    current probe and adds the `per_class` * round most confident of each class (balanced, so the
    probe's bias does not feed itself). Returns (kernel (d, 1), bias (1,))."""
    kernel, bias, c = fit_probe(features, y, seed)
    for round_ in range(1, rounds + 1):
        p = probe_probabilities(unlabelled, kernel, bias)
        take = min(per_class * round_, len(p) // 2)
        order = np.argsort(p)
        pseudo = np.concatenate([order[:take], order[-take:]])
        x = np.concatenate([features, unlabelled[pseudo]])
        labels = np.concatenate([y, np.repeat([0, 1], take)])
        kernel, bias, _ = fit_probe(x, labels, seed, c)  # the strength chosen on the labelled rows
    return kernel, bias


def self_training_pays(features: np.ndarray, y: np.ndarray, unlabelled: np.ndarray, seed: int) -> bool:
    """Whether self-training beats the plain probe on the labelled rows' own cross-validation
    folds (held-out accuracy; ties keep the plain probe)."""
    plain = selfed = 0
    for train, held in stratified_folds(y, seed).split(features, y):
        k, b, _ = fit_probe(features[train], y[train], seed)
        plain += int(((probe_probabilities(features[held], k, b) > 0.5) == y[held]).sum())
        k, b = self_train(features[train], y[train], unlabelled, seed)
        selfed += int(((probe_probabilities(features[held], k, b) > 0.5) == y[held]).sum())
    return selfed > plain


def _finetune_network(model: Sequential, x: np.ndarray, y: np.ndarray, s: FinetuneSettings,
                      verbose: int) -> dict[str, list[float]]:
    """Whole-network fine-tuning with discriminative rates; keeps the weights of the epoch with the
    lowest validation loss (validation: the last val_split of the n rows, stratified by order)."""
    split = int(len(x) * (1 - s.val_split))
    embedding, lstm, _, dense = model.layers
    groups = [{"params": dense.weights, "lr": s.lr},
              {"params": lstm.weights, "lr": s.lr / LAYER_DECAY},
              {"params": embedding.weights, "lr": s.lr / LAYER_DECAY ** 2}]
    model.compile("adam", loss="binary_crossentropy" if dense.units == 1 else
                  "sparse_categorical_crossentropy", metrics=["acc"])
    model.optimizer = AdamOptimizer(groups, lr=s.lr)
    best = (float("inf"), [w.copy() for w in model.get_weights()])
    history: dict[str, list[float]] = {}
    for _ in range(s.epochs):
        h = model.fit(x[:split], y[:split], batch_size=s.batch_size, epochs=1, verbose=0,
                      validation_data=(x[split:], y[split:]))
        for key, values in h.history.items():
            history.setdefault(key, []).extend(values)
        if history["val_loss"][-1] < best[0]:
            best = (history["val_loss"][-1], [w.copy() for w in model.get_weights()])
        if verbose:
            print(f"fine-tune epoch {len(history['loss'])}: loss {history['loss'][-1]:.4f} "
                  f"val_loss {history['val_loss'][-1]:.4f} val_acc {history['val_acc'][-1]:.4f}", flush=True)
    model.set_weights(best[1])
    return history


def finetune(s: FinetuneSettings, out: str | Path, verbose: int = 1) -> dict[str, Any]:
    """Fit a classifier on the pretrained encoder with the n labelled rows; write a run folder
    (run.json, model/, metrics.json) that evaluate / predict / serve / export take."""
    s.validate()
    out = check_output_dir(out, RUN_OUTPUTS, marker="run.json")
    if (out / "metrics.json").is_file():
        raise ConfigError(f"--out {out}: already holds a finished run; give another folder")
    torch.manual_seed(s.seed)
    start = time.perf_counter()
    encoder, card = load_encoder(s.encoder)
    data = prepare(s.data, num_words=encoder.text_encoder.vocabulary.size, maxlen=s.maxlen,
                   test_data=s.test_data, text_column=s.text_column, label_column=s.label_column,
                   encoding=s.encoding, seed=s.seed, train_size=s.train_size, quiet=not verbose,
                   vocabulary=encoder.text_encoder.vocabulary)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "run.json", {"command": "finetune", **asdict(s)})
    y_train = np.asarray(data.y_train).astype(np.int64).reshape(-1)
    model = classifier_from_encoder(encoder, len(data.classes), s.maxlen)
    kernel, bias, c = fit_probe(pooled_features(model, data.x_train), y_train, s.seed)
    if kernel.shape[1] != model.layers[3].units:  # sklearn gives one column for two classes
        raise DataError(f"the probe gave {kernel.shape[1]} outputs for {len(data.classes)} classes")
    model.layers[3].set_weights([kernel, bias])
    history = _finetune_network(model, data.x_train, y_train, s, verbose) if s.epochs else {}
    model.text_encoder = TextEncoder(encoder.text_encoder.vocabulary, s.maxlen, data.classes)
    model.compile("adam", loss="binary_crossentropy" if len(data.classes) == 2
                  else "sparse_categorical_crossentropy", metrics=["acc"])
    model.save(out / "model")
    seconds = time.perf_counter() - start
    test = classification_report(data.y_test, model.predict(data.x_test, batch_size=256), data.classes)
    metrics = {"command": "finetune", "encoder": s.encoder, "encoder_card": card,
               "train_size": int(len(data.x_train)), "probe_C": c, "epochs": s.epochs,
               "finetune_time_s": round(seconds, 1), "test": test,
               "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
               "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, "
                          f"torch {torch.__version__}"}
    if history:
        atomic_write_json(out / "history.json", history)
        report.learning_curves(history, out, f"fine-tuned encoder on {s.data}")
    atomic_write_json(out / "metrics.json", metrics)
    if verbose:
        print(f"test accuracy {test['accuracy']:.4f} (n = {len(data.x_train):,}, probe C {c:g}, "
              f"{seconds:.0f} s) -> {out}", file=sys.stdout)
    return metrics
