"""A training run: data, model, fit with early stopping, best checkpoint, resumable epochs, and the
run folder (model/, checkpoint/, run.json, history.json, metrics.json, plots)."""

from __future__ import annotations

import math
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textrnn.app import report, zoo
from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.data.datasets import PreparedData, imdb_train_movies, is_imdb_source, prepare
from textrnn.errors import ConfigError, DataError, require_rate, require_whole
from textrnn.io_utils import atomic_write_json, check_output_dir, remove_owned, settle_dir
from textrnn.models import Sequential, load_model
from textrnn.serialization import read_json
from textrnn.setting import setting
from textrnn.training import distributed
from textrnn.training.callbacks import Callback, EarlyStopping, TensorBoard
from textrnn.training.checkpoint import load_checkpoint, save_checkpoint
from textrnn.training.metrics import classification_report, probabilities_to_labels
from textrnn.training.optimizers import OPTIMIZERS, OptimizerSpec

RUN_FILE = "run.json"
# Everything a training run writes into its folder: the output-folder policy refuses a folder that
# holds anything else, and only these are ever replaced or removed.
TENSORBOARD_DIR = "logs"  # the run's curves for `tensorboard --logdir RUN_DIR/logs`
RUN_OUTPUTS = {RUN_FILE, "model", "checkpoint", "history.json", "metrics.json", "loss.png", "accuracy.png",
               TENSORBOARD_DIR}


@dataclass
class TrainSettings:
    """Everything `textrnn train` needs; saved as run.json so --resume can rebuild the run."""

    model: str                      # a zoo name (textrnn models)
    data: str = "sample"            # imdb, sample, or a path (CSV / TSV / JSONL / folder / archive)
    test_data: str | None = None    # a separate test file for user data
    text_column: str | None = None
    label_column: str | None = None
    encoding: str = "utf-8"
    epochs: int = setting(10, "most epochs")
    batch_size: int = setting(32, "rows per step")
    optimizer: str = setting("rmsprop", "the optimizer", choices=tuple(OPTIMIZERS))
    lr: float | None = setting(None, "learning rate", default_help="Keras's, 0.001 for rmsprop")
    embedding_lr: float | None = setting(None, "the embedding's own learning rate, e.g. lower to fine-tune "
                                         "pretrained vectors gently", metavar="LR", default_help="--lr")
    val_split: float = setting(0.2, "fraction of training rows (the last ones, as Keras) for validation")
    val_by_movie: bool = setting(False, "IMDB: validate on whole movies (about --val-split of the rows), "
                                 "none of which is in training, as none of the test movies is")
    train_size: int | None = setting(None, "train on the first N training reviews only",
                                     default_help="all")
    seed: int = setting(0, "seed of the weights, the data split and the batches")
    data_seed: int | None = None    # the train/test split's seed if not `seed` (an ensemble keeps one split)
    patience: int = setting(2, "early stopping: epochs without val_loss improvement (0: off)")
    min_epoch_steps: int = setting(50, "with few training rows, an epoch repeats them until it holds this "
                                   "many optimizer steps, so --epochs and --patience mean as much "
                                   "training at n = 200 as at 20,000 (0: one pass, as Keras)",
                                   metavar="STEPS")
    vocab_size: int = setting(10000, "words kept", group="model")
    embedding_dim: int = setting(32, "embedding size", group="model")
    maxlen: int = setting(500, "words per review", group="model")
    units: int = setting(32, "state dim", group="model")
    layers: int = setting(3, "depth of stacked-lstm", group="model")
    dropout: float | None = setting(None, "input dropout of the recurrent layers", group="model",
                                    default_help="0.2, 0 for simple-rnn")
    word_dropout: bool = False      # bi-lstm-pool, bi-gru-pool: drop whole words from the embedding's output
    embedding: str | None = setting(None, "start the embedding from `textrnn pretrain` output (its "
                                    "vocabulary is used)", metavar="EMB_DIR")
    freeze_embedding: bool = setting(False, "with --embedding: keep it fixed (the lecture's step 3)")
    embedding_scale: float | None = setting(None, "with --embedding: rescale the word vectors to this "
                                            "standard deviation first (0.029 is Keras's init; helps "
                                            "fine-tuning, hurts freezing: docs/guide/pretraining.md)",
                                            metavar="STD")
    precision: str = "float32"      # the dtype policy trained under (--precision, a global option)
    extra: dict[str, Any] = field(default_factory=dict)  # room for later options

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainSettings:
        if not isinstance(data, dict) or "model" not in data:
            raise DataError("run.json: expected a JSON object of training settings with a 'model'")
        known = {f for f in cls.__dataclass_fields__}
        data = {"min_epoch_steps": 0, **data}  # runs saved before the option had Keras's epochs
        return cls(**{k: v for k, v in data.items() if k in known})

    def validate(self) -> None:
        """Refuse values no run can use, before anything is read or written (one line each)."""
        if self.model not in zoo.ZOO:
            raise ConfigError(f"unknown model {self.model!r}; valid: {', '.join(zoo.ZOO)}")
        whole = {"epochs": (self.epochs, 1), "batch-size": (self.batch_size, 1),
                 "vocab-size": (self.vocab_size, 4), "embedding-dim": (self.embedding_dim, 1),
                 "maxlen": (self.maxlen, 1), "units": (self.units, 1), "layers": (self.layers, 1),
                 "patience": (self.patience, 0), "seed": (self.seed, 0),
                 "min-epoch-steps": (self.min_epoch_steps, 0)}
        if self.train_size is not None:
            whole["train-size"] = (self.train_size, 1)
        if self.data_seed is not None:
            whole["data-seed"] = (self.data_seed, 0)
        require_whole(whole)
        for option in ("seed", "data-seed"):
            if whole.get(option, (0,))[0] >= 2 ** 32:
                raise ConfigError(f"--{option} must be below 2**32, got {whole[option][0]}")
        if not 0 <= self.val_split < 1:
            raise ConfigError(f"--val-split must be in [0, 1), got {self.val_split}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        require_rate("lr", self.lr)
        require_rate("embedding-lr", self.embedding_lr)
        OptimizerSpec(self.optimizer, self.lr, self.embedding_lr)  # the optimizer's name


def _pretrained(s: TrainSettings) -> PretrainedEmbedding | None:
    if s.embedding is None:
        if s.freeze_embedding or s.embedding_scale is not None:
            raise ConfigError("--freeze-embedding and --embedding-scale need --embedding EMB_DIR")
        return None
    embedding = PretrainedEmbedding.load(s.embedding)
    if s.embedding_scale is not None:
        if not s.embedding_scale > 0:
            raise ConfigError(f"--embedding-scale must be positive, got {s.embedding_scale}")
        # Pretrained vectors are ~10x Keras's init; with a fixed step size that decides how far
        # fine-tuning moves them (docs/guide/pretraining.md, the scale probe). Reserved ids keep their init.
        rows = embedding.matrix[embedding.vocabulary.index_from + 1:]
        rows *= s.embedding_scale / max(float(rows.std()), 1e-12)
    return embedding


def prepare_data(s: TrainSettings, pretrained: PretrainedEmbedding | None,
                 quiet: bool = False) -> PreparedData:
    """The run's data; with a pretrained embedding, encoded with the embedding's vocabulary."""
    return prepare(s.data, num_words=s.vocab_size, maxlen=s.maxlen, test_data=s.test_data,
                   text_column=s.text_column, label_column=s.label_column, encoding=s.encoding,
                   seed=s.seed if s.data_seed is None else s.data_seed, train_size=s.train_size, quiet=quiet,
                   vocabulary=pretrained.vocabulary if pretrained else None)


def validation_rows(s: TrainSettings, data: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) of data.x_train: the last val_split of the rows, as fit's
    validation_split (Keras) takes them; or with val_by_movie whole movies. IMDB's test reviews
    come from other movies than its training reviews, while the last rows share movies with the
    rest; with val_by_movie whole movies are taken, from the end of the shuffled set, while they fit
    in val_split of each class's rows, so validation measures what the test set does
    (docs/benchmarks.md)."""
    if not s.val_by_movie:
        split = int(len(data.x_train) * (1 - s.val_split))
        return np.arange(split), np.arange(split, len(data.x_train))
    if not is_imdb_source(s.data):
        raise ConfigError("--val-by-movie needs IMDB data (its urls files name each review's movie)")
    movies = imdb_train_movies(s.data, quiet=True)[:len(data.x_train)]
    labels = np.asarray(data.y_train).reshape(len(movies), -1)[:, 0]
    classes, totals = np.unique(labels, return_counts=True)
    need = {c: round(t * s.val_split) for c, t in zip(classes.tolist(), totals.tolist())}  # stratified
    per_movie: dict[int, dict[int, int]] = {}
    for movie, label in zip(movies.tolist(), labels.tolist()):
        counts = per_movie.setdefault(movie, {})
        counts[label] = counts.get(label, 0) + 1
    chosen: set[int] = set()
    for movie in dict.fromkeys(movies[::-1].tolist()):  # by last appearance, from the end
        counts = per_movie[movie]
        if all(counts[c] <= need[c] for c in counts):  # a movie that fits in every class still open
            chosen.add(movie)
            for c in counts:
                need[c] -= counts[c]
        if not any(need.values()):
            break
    val = np.isin(movies, list(chosen))
    return np.flatnonzero(~val), np.flatnonzero(val)


def build_model(s: TrainSettings, data: PreparedData,
                pretrained: PretrainedEmbedding | None) -> Sequential:
    config = zoo.ZooConfig(vocab_size=data.encoder.vocabulary.size,
                           embedding_dim=pretrained.dim if pretrained else s.embedding_dim,
                           maxlen=s.maxlen, units=s.units, layers=s.layers, dropout=s.dropout,
                           word_dropout=s.word_dropout,
                           num_classes=len(data.classes),
                           embedding_weights=pretrained.matrix if pretrained else None,
                           freeze_embedding=s.freeze_embedding)
    model = zoo.build(s.model, config)
    model.text_encoder = data.encoder
    loss = "binary_crossentropy" if len(data.classes) == 2 else "sparse_categorical_crossentropy"
    model.compile(OptimizerSpec(s.optimizer, s.lr, s.embedding_lr), loss=loss, metrics=["acc"])
    return model


def _keep_precision(settings: TrainSettings, model: Sequential, resume: bool) -> None:
    """A new run records the policy its model was made under; a resumed one goes on under the
    policy it was trained with, and refuses another one asked for now."""
    asked = model.dtype_policy.name
    if not resume:
        settings.precision = asked
        return
    if asked not in ("float32", settings.precision):
        raise ConfigError(f"the run was trained under {settings.precision}; --resume goes on with it "
                          f"(drop --precision)")
    model.dtype_policy = settings.precision


class _RunCheckpoint(Callback):
    """After each epoch: keep the best model (by the monitored value) and the full resumable state."""

    def __init__(self, run_dir: Path, monitor: str, stopper: EarlyStopping | None,
                 progress: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.monitor = monitor
        self.stopper = stopper
        self.progress = progress
        self.epoch_started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if not distributed.is_main():  # only rank 0 writes; the others keep no record
            return
        p = self.progress
        for key, value in (logs or {}).items():
            p["history"].setdefault(key, []).append(float(value))
        p["epochs_done"] = epoch + 1
        p["train_time_s"] += time.perf_counter() - self.epoch_started
        value = float(logs[self.monitor])
        if p["best"] is None or value < p["best"]:
            p["best"], p["best_epoch"] = value, epoch + 1
            self.model.save(self.run_dir / "model")
        if self.stopper is not None:
            p["early_stopping"] = self.stopper.state()
        p["stopped"] = bool(self.model.stop_training)
        scaler = self.model.loss_scaler()
        if scaler is not None:  # float16's loss scale, so that a resumed run goes on with it
            p["loss_scale"] = scaler.state_dict()
        save_checkpoint(self.run_dir / "checkpoint", self.model, self.model.optimizer, p)


def train_run(settings: TrainSettings, run_dir: str | Path, resume: bool = False, verbose: int = 1,
              callbacks: list[Callback] | None = None,
              other_outputs: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Train (or resume) a run in `run_dir` and return its metrics. Each epoch ends with the
    checkpoint on disk, so an interrupted run resumes from its last finished epoch and ends exactly
    where the uninterrupted run would have (same seed, machine and thread count). The folder may be
    new, empty, or hold this run's own files (and `other_outputs`: names a caller such as the recipe
    keeps beside them); anything else is refused. A run that never finished an epoch restarts."""
    run_dir = Path(run_dir)
    distributed.init_from_env()
    if resume:
        settings = load_settings(run_dir)
    settings.validate()
    # A caller that keeps its own files beside the run (the recipe) has checked the folder itself.
    started = _started(run_dir, resume, RUN_OUTPUTS | other_outputs, None if other_outputs else RUN_FILE)
    if started and not resume:
        raise ConfigError(f"{run_dir}: already holds a run; use --resume {run_dir} or another --out")
    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed)
    quiet = verbose == 0
    pretrained = _pretrained(settings)  # read once: it fixes both the vocabulary and the weights
    data = prepare_data(settings, pretrained, quiet=quiet)
    rows = validation_rows(settings, data)  # here, before the run folder: a bad choice fails first
    model = build_model(settings, data, pretrained)
    _keep_precision(settings, model, resume)
    model.build((None, settings.maxlen))
    model.create_optimizer()

    progress: dict[str, Any] = {"epochs_done": 0, "history": {}, "best": None, "best_epoch": None,
                                "train_time_s": 0.0, "stopped": False}
    if started:
        progress = load_checkpoint(run_dir / "checkpoint", model, model.optimizer)
        if "loss_scale" in progress and model.loss_scaler() is not None:
            model.loss_scaler().load_state_dict(progress["loss_scale"])
    elif distributed.is_main():
        # A folder whose run never finished an epoch holds nothing worth keeping: start it afresh.
        remove_owned(run_dir, RUN_OUTPUTS)
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run_dir / RUN_FILE, asdict(settings))

    monitor = "val_loss" if settings.val_split > 0 else "loss"
    stopper = None
    if settings.patience > 0:
        stopper = EarlyStopping(monitor=monitor, patience=settings.patience)
    cbs: list[Callback] = [stopper] if stopper else []
    checkpoint = _RunCheckpoint(run_dir, monitor, stopper, progress)
    cbs.append(checkpoint)
    if distributed.is_main():
        cbs.append(TensorBoard(run_dir / TENSORBOARD_DIR))
    cbs += callbacks or []

    if progress["epochs_done"] < settings.epochs and not progress.get("stopped"):
        if stopper is not None and "early_stopping" in progress:
            stopper.load_state(progress["early_stopping"])
        train, val = rows
        if settings.val_by_movie:
            x, y = data.x_train[train], data.y_train[train]
        else:  # slices, not copies: the last rows are validation, as Keras's validation_split
            x, y = data.x_train[:len(train)], data.y_train[:len(train)]
        x, y = repeated_rows(x, y, settings, verbose)
        split = {"validation_data": (data.x_train[val], data.y_train[val])} if len(val) else {}
        model.fit(x, y, batch_size=settings.batch_size, epochs=settings.epochs, verbose=verbose,
                  callbacks=cbs, initial_epoch=progress["epochs_done"], **split)
    if not distributed.is_main():
        distributed.barrier()
        return {}
    metrics = finish_run(run_dir, settings, data, progress, verbose)
    distributed.barrier()
    return metrics


def repeated_rows(x: np.ndarray, y: np.ndarray, s: TrainSettings,
                  verbose: int) -> tuple[np.ndarray, np.ndarray]:
    """The training rows, repeated so that one epoch holds at least `s.min_epoch_steps` optimizer
    steps. With a few hundred rows an epoch is a handful of steps, so patience and the epoch budget,
    counted in epochs, stop training before it has learnt anything (250 IMDB reviews: 7 steps an
    epoch, test accuracy 50 %). Counting them in rounds of at least this many steps gives every
    size the same minimum of training; data with enough rows are left as they are."""
    copies = math.ceil(s.min_epoch_steps * s.batch_size / max(len(x), 1))
    if copies <= 1:
        return x, y
    if verbose:
        print(f"{len(x):,} training rows: each epoch repeats them {copies} times "
              f"(at least {s.min_epoch_steps} steps; --min-epoch-steps)")
    return np.concatenate([x] * copies), np.concatenate([y] * copies)


def _started(run_dir: Path, resume: bool, owned: set[str], marker: str | None) -> bool:
    """Whether `run_dir` holds a run with at least one finished epoch (its checkpoint). Refuses an
    output folder that holds anything but `owned` (and, given a `marker`, one without it)."""
    check_output_dir(run_dir, owned, marker)
    settle_dir(run_dir / "checkpoint")  # a crash between a save's two renames
    started = (run_dir / RUN_FILE).is_file() and (run_dir / "checkpoint").is_dir()
    if resume and not (run_dir / RUN_FILE).is_file():
        raise DataError(f"{run_dir}: not a run folder (no {RUN_FILE})")
    return started


def finish_run(run_dir: Path, settings: TrainSettings, data: PreparedData, progress: dict[str, Any],
               verbose: int) -> dict[str, Any]:
    """Evaluate the best model on the test set; write history.json, metrics.json and plots."""
    best = load_model(run_dir / "model", compile=False)  # scored only
    probs = best.predict(data.x_test, batch_size=256)
    test = classification_report(data.y_test, probs, data.classes)
    history = progress["history"]
    val_acc = history.get("val_acc", [])
    metrics = {
        "model": settings.model,
        "data": settings.data,
        "params": best.count_params(),
        "train_size": int(len(data.x_train)),
        "epochs_run": progress["epochs_done"],
        "best_epoch": progress["best_epoch"],
        "best_val_accuracy": val_acc[progress["best_epoch"] - 1] if val_acc else None,
        "train_time_s": round(progress["train_time_s"], 2),
        "test": test,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
    }
    warnings = run_warnings(settings, data, probs, progress)
    if warnings:
        metrics["warnings"] = warnings
    atomic_write_json(run_dir / "history.json", history)
    atomic_write_json(run_dir / "metrics.json", metrics)
    for warning in warnings:
        print(f"textrnn: warning: {warning}", file=sys.stderr)
    report.learning_curves(history, run_dir, f"{settings.model} on {settings.data}")
    if verbose:
        print(f"test accuracy {test['accuracy']:.4f} (loss {test['loss']:.4f}, best epoch "
              f"{progress['best_epoch']}, {progress['train_time_s']:.0f}s training) -> {run_dir}")
    return metrics


SMALL_VALIDATION = 200  # rows: below this, validation accuracy's standard error exceeds 3.5 points


def run_warnings(settings: TrainSettings, data: PreparedData, probs: np.ndarray,
                 progress: dict[str, Any]) -> list[str]:
    """What a user should know about a finished run that its figures do not say: a model that
    predicts one class for every test text learned nothing that separates them, and a validation
    set too small to choose the best epoch by."""
    warnings = []
    predicted = probabilities_to_labels(probs)
    if len(predicted) > 1 and len(np.unique(predicted)) == 1:
        label = data.classes[int(predicted[0])]
        warnings.append(
            f"the model predicts {label!r} for all {len(predicted):,} test texts: it learned nothing that "
            f"separates the classes ({len(data.x_train):,} training rows, {progress['epochs_done']} "
            "epochs); try more --epochs and --patience, a higher --lr, or `textrnn recipe`")
    n_val = int(len(data.x_train) * settings.val_split) if not settings.val_by_movie else None
    if n_val is not None and 0 < n_val < SMALL_VALIDATION:
        error = 100 * (0.25 / n_val) ** 0.5
        warnings.append(
            f"validation holds only {n_val} rows: its accuracy has a standard error of about "
            f"{error:.1f} points, so early stopping and the best epoch rest on noise")
    return warnings


def load_settings(run_dir: Path) -> TrainSettings:
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise DataError(f"{run_dir}: not a run folder (no {RUN_FILE})")
    data = read_json(path)
    try:
        return TrainSettings.from_json(data)
    except TypeError as exc:
        raise DataError(f"{path}: malformed settings ({exc})") from None


def load_run_model(run_dir: str | Path, need_text: bool = True) -> Sequential:
    """The model of a run folder (or a saved model folder), ready to read raw text. Uncompiled:
    what reads it (predict, evaluate, explain, serve, export) never trains, so a saved optimizer
    state is not loaded into memory."""
    path = Path(run_dir)
    model = load_model(path / "model" if (path / "model").is_dir() else path, compile=False)
    if need_text and model.text_encoder is None:
        raise DataError(f"{run_dir}: the model has no vocabulary (vocab.json), so it cannot read text")
    return model
