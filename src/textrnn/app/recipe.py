"""`textrnn recipe`: the best binary text classifier textrnn offers on a CPU.

Three steps, each kept in the run folder so an interrupted recipe resumes where it stopped:
1. word2vec (skip-gram, gensim) on the unlabelled text: IMDB's 50,000 unlabelled reviews plus the
   training reviews; never test text. Written as an EMB_DIR in RUN_DIR/embedding. It runs on all
   cores, whose scheduling varies the vectors between reruns of one seed (gensim repeats them only
   on one thread with a fixed PYTHONHASHSEED); the network and head are deterministic given them.
2. `bi-gru-pool` (zoo): the word2vec embedding, fine-tuned (at its own Adam rate with
   --embedding-lr), under a Bi-GRU whose every time step is max-pooled; Adam; trained in length
   buckets; early stopping on a validation split;
   a normal textrnn run in RUN_DIR (model/, checkpoint/, history, plots). (`bi-lstm-pool`, the
   Bi-LSTM, was the network until the ablation's bi-gru rows.) With --networks N, N-1 more
   networks, each its own run in RUN_DIR/networks/K with seed SEED + 1000 K on the same data
   split, on the same vectors or (--own-word2vec) on its own word2vec of that seed in
   RUN_DIR/networks/K/embedding; the model averages their probabilities (app.ensemble.Ensemble).
3. An NBSVM-style linear model on the same ids (textrnn.app.linear_head), blended into the model's
   probabilities with the weight that minimises the validation log loss; saved inside the model,
   so evaluate / predict / serve use the blend.
With fewer labelled training rows than --few-labels-below, step 2 trains no network: the model is
the word2vec vectors averaged per text with a logistic regression on them, blended with the NB
head, then self-trained on up to POOL_SIZE unlabelled texts, every choice made by cross-validation
on the labelled rows (textrnn.app.few_labels); it reads --few-labels-maxlen words of each text.
--unlabelled PATH adds the user's own unlabelled text (lines of a .txt, a CSV / JSONL text column,
or a folder of .txt files) to word2vec's corpus on either path, and to self-training's texts.
The settings a folder started with are kept in recipe-settings.json; resuming with others stops.
Each choice and its default come from the ablation in docs/benchmarks.md (experiments/recipe_ablation.py).
"""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textrnn.app.ensemble import blend_weight
from textrnn.app.runs import RUN_FILE, RUN_OUTPUTS, TrainSettings, prepare_data, train_run, validation_rows
from textrnn.data.datasets import PreparedData, is_imdb_source
from textrnn.data.text import pad_sequences
from textrnn.errors import ConfigError
from textrnn.io_utils import atomic_write_json, check_output_dir
from textrnn.serialization import read_json
from textrnn.setting import setting
from textrnn.training.metrics import classification_report
from textrnn.training.optimizers import OptimizerSpec

RECIPE_FILE = "recipe.json"
SETTINGS_FILE = "recipe-settings.json"  # what it started with, checked on resume
NETWORKS_DIR = "networks"  # the ensemble's networks after the first
POOL_SIZE = 25000  # unlabelled texts the few-labels model's self-training may label
# What a recipe folder holds beside the first network's run files (the output-folder policy).
RECIPE_OUTPUTS = frozenset({RECIPE_FILE, SETTINGS_FILE, NETWORKS_DIR, "embedding"})


@dataclass
class RecipeSettings:
    data: str = "imdb"
    test_data: str | None = None
    text_column: str | None = None
    label_column: str | None = None
    encoding: str = "utf-8"
    model: str = setting("bi-gru-pool", "the network: pooled Bi-GRU or Bi-LSTM (bi-lstm-pool: 0.8 point "
                         "less alone, 0.2 less blended in the ablation)",
                         choices=("bi-gru-pool", "bi-lstm-pool"))
    vocab_size: int = setting(30000, "words kept")
    maxlen: int = setting(400, "words per review")
    dim: int = setting(64, "embedding / word2vec size")
    units: int = setting(64, "recurrent state per direction")
    dropout: float = setting(0.3, "dropout on the embedding and the pooled features")
    word_dropout: bool = setting(False, "the embedding's dropout drops whole words instead of single values")
    epochs: int = setting(4, "at most this many epochs (early stopping on val loss)")
    batch_size: int = setting(32, "rows per step")
    lr: float = setting(0.001, "Adam learning rate")
    embedding_lr: float | None = setting(0.00025, "the embedding's own Adam learning rate "
                                         "(docs/benchmarks.md)")
    val_split: float = setting(0.1, "fraction of the training rows for validation")
    val_by_movie: bool = setting(True, "IMDB: validate on the last rows, which share movies with training "
                                 "(default: on whole movies, none of them in training, as the test rows)",
                                 flag="--val-last-rows")
    patience: int = setting(2, "epochs without val-loss gain before stopping (1 stopped runs at epoch 1-2 "
                            "on the noisy movie validation)")
    pretrain: str = setting("word2vec", "embedding start", choices=("word2vec", "none"))
    freeze_embedding: bool = setting(False, "keep the word2vec vectors fixed (the lecture's step 3)")
    w2v_epochs: int = setting(5, "word2vec passes")
    linear_head: bool = setting(True, "the network alone, without the NB linear model",
                                flag="--no-linear-head")
    ngrams: int = setting(3, "linear head: n-gram size")
    head_C: float = setting(1.0, "linear head: inverse regularisation")
    head_bits: int = setting(24, "linear head: 2**bits hashed n-gram columns (22 merged many: "
                             "experiments/head_bits.py)")
    networks: int = setting(1, "networks of seeds SEED, SEED+1000, ... averaged")
    own_word2vec: bool = setting(False, "with --networks: each network pretrains its own word2vec "
                                 "(default: one for all)")
    seed: int = setting(0, "seed (word2vec's threads still vary its vectors between reruns)")
    train_size: int | None = setting(None, "use only the first N labelled training rows")
    unlabelled: str | None = setting(None, "more text, no labels needed: a .txt (one text per line), a CSV "
                                     "/ JSONL with a text column, or a folder of .txt files", metavar="PATH")
    # On IMDB the network path gave 87.35 % at 2,500 rows and 89.53 % at 5,000, the few-labels model
    # about 88.5 % and 89.7 % in minutes instead of 11-12 (docs/guide/recipe.md).
    few_labels_below: int = setting(5000, "with fewer labelled training rows, no network: word2vec mean + "
                                    "NB head, chosen by cross-validation (0: always the network)")
    # A mean costs no more per word, and 1,200 words hold nearly every IMDB review whole (+0.2
    # points at 250-5,000 labels over 400 words, docs/SMALL_DATA.md).
    few_labels_maxlen: int | None = setting(1200, "words of each text the few-labels model reads")


# What a recipe ran with before each of these settings existed: a saved record without one gets
# this value, not today's default (2^22 hashed columns, the last rows for validation, the
# embedding at the network's learning rate).
LEGACY_SETTINGS = {"val_by_movie": False, "head_bits": 22, "embedding_lr": None, "few_labels_maxlen": None}


def settings_from_record(settings: dict[str, Any]) -> RecipeSettings:
    """The RecipeSettings a saved run (recipe.json's "settings", recipe-settings.json) ran with."""
    return RecipeSettings(**{**LEGACY_SETTINGS, **settings})


def training_settings(s: RecipeSettings, embedding: str | None) -> TrainSettings:
    return TrainSettings(model=s.model, data=s.data, test_data=s.test_data,
                         text_column=s.text_column, label_column=s.label_column, encoding=s.encoding,
                         epochs=s.epochs, batch_size=s.batch_size, optimizer="adam", lr=s.lr,
                         embedding_lr=s.embedding_lr,
                         val_split=s.val_split, val_by_movie=s.val_by_movie and is_imdb_source(s.data),
                         seed=s.seed, patience=s.patience, vocab_size=s.vocab_size,
                         train_size=s.train_size,
                         embedding_dim=s.dim, maxlen=s.maxlen, units=s.units, dropout=s.dropout,
                         word_dropout=s.word_dropout,
                         embedding=embedding,
                         freeze_embedding=s.freeze_embedding and embedding is not None)


Unlabelled = tuple[list[list[str]], list[str]]  # token lists, and the names of their sources


def _unlabelled_docs(s: RecipeSettings, data: PreparedData) -> Unlabelled:
    """The unlabelled text beside the labelled rows, as token lists (IMDB's 50,000 unlabelled reviews
    for IMDB, and --unlabelled), and the names of its sources. Read once a run: word2vec and
    self-training both take it."""
    from textrnn.app.pretrain.sources import corpus_tokens

    docs: list[list[str]] = []
    sources = []
    if data.name == "imdb":
        docs += corpus_tokens("imdb-unsup", quiet=True)
        sources.append("imdb-unsup")
    if s.unlabelled:
        docs += corpus_tokens(s.unlabelled, quiet=True)
        sources.append(s.unlabelled)
    return docs, sources


def _pretrain_word2vec(s: RecipeSettings, data: PreparedData, unlabelled: Unlabelled, out: Path,
                       verbose: int) -> None:
    """Vectors for the run's own vocabulary, from its training rows and the unlabelled text."""
    from textrnn.app.pretrain.vectors import PretrainedEmbedding, corpus_counts
    from textrnn.app.pretrain.word2vec import train_word2vec

    start = time.perf_counter()
    vocab = data.encoder.vocabulary
    first = vocab.index_from + 1  # ids below are padding, start and out-of-vocabulary marks
    docs = [[vocab.words[i - first] for i in row if i >= first] for row in data.x_train]
    docs += unlabelled[0]
    corpus = [f"{s.data} training rows", *unlabelled[1]]
    if verbose:
        print(f"word2vec on {len(docs):,} documents (training + unlabelled text, no test text)", flush=True)
    matrix, coverage = train_word2vec(docs, vocab, s.dim, epochs=s.w2v_epochs, seed=s.seed)
    card = {"method": "word2vec", "corpus": " + ".join(corpus), "documents": len(docs),
            "tokens": sum(map(len, docs)), "dim": s.dim,
            "coverage": coverage, "time_s": round(time.perf_counter() - start, 1)}
    PretrainedEmbedding(matrix, vocab, card, corpus_counts(docs, vocab)).save(out)


def _pseudo_label_pool(s: RecipeSettings, data: PreparedData, docs: list[list[str]]) -> np.ndarray | None:
    """Up to POOL_SIZE of the unlabelled texts (a seeded sample), as padded ids self-training may
    label; None without unlabelled text."""
    if not docs:
        return None
    rng = np.random.default_rng(s.seed)
    picked = np.sort(rng.choice(len(docs), min(POOL_SIZE, len(docs)), replace=False))
    vocab = data.encoder.vocabulary
    return pad_sequences([vocab.encode_tokens(docs[i]) for i in picked], maxlen=data.encoder.maxlen)


def fit_linear_head(s: RecipeSettings, x: np.ndarray, y: np.ndarray, train_rows: np.ndarray,
                    val_rows: np.ndarray, features: Any = None) -> tuple[Any, np.ndarray]:
    """The recipe's NB head, fitted first on the network's training rows to give P(positive) on its
    validation rows (for `blend_weight`), then on all labelled rows. `features`: `head.features(x)`
    made before. Returns (the head fitted on all rows, the validation probabilities)."""
    from textrnn.app.linear_head import NBLinear

    head = NBLinear(ngrams=s.ngrams, bits=s.head_bits, C=s.head_C)
    features = head.features(x) if features is None else features  # once: both fits take their rows
    head.fit(None, y[train_rows], features=features[train_rows])
    linear_val = head.predict_proba(features=features[val_rows])
    head.fit(None, y, features=features)
    return head, linear_val


def network_dirs(s: RecipeSettings, run_dir: Path) -> list[Path]:
    """The first network is the run folder itself; the others are runs in RUN_DIR/networks/K."""
    return [run_dir] + [run_dir / NETWORKS_DIR / str(k) for k in range(1, s.networks)]


def _network_seed(seed: int, k: int) -> int:
    """Network k's seed (its word2vec's too, with --own-word2vec): apart from other recipe seeds'."""
    return seed + 1000 * k


def _network_settings(settings: TrainSettings, k: int) -> TrainSettings:
    """Network k's: another training seed (initial weights, dropout, batch order), the same data split."""
    return replace(settings, seed=_network_seed(settings.seed, k), data_seed=settings.seed)


def _train_network(settings: TrainSettings, run_dir: Path, verbose: int) -> dict:
    resume = (run_dir / RUN_FILE).is_file() and (run_dir / "checkpoint").is_dir()
    return train_run(settings, run_dir, resume=resume, verbose=verbose, other_outputs=RECIPE_OUTPUTS)


def _assemble(s: RecipeSettings, run_dir: Path, settings: TrainSettings, verbose: int) -> dict:
    """The recipe's model: the first network, the others as its members (predictions averaged), the
    NB head blended in; saved over RUN_DIR/model. Returns the record's figures for it."""
    from textrnn.app.ensemble import Ensemble, network_alone
    from textrnn.app.pretrain.vectors import PretrainedEmbedding
    from textrnn.models import load_model

    pretrained = PretrainedEmbedding.load(settings.embedding) if settings.embedding else None
    data = prepare_data(settings, pretrained, quiet=True)
    train_rows, val_rows = validation_rows(settings, data)  # the rows every network validated on
    x_val, y_val, y_test = data.x_train[val_rows], data.y_train[val_rows], data.y_test
    # a rerun of this step starts from the networks alone
    networks = [network_alone(load_model(d / "model", compile=i == 0))
                for i, d in enumerate(network_dirs(s, run_dir))]
    model = Ensemble.around(networks[0])
    val = [m.predict(x_val, batch_size=256).ravel() for m in networks]
    test = [m.predict(data.x_test, batch_size=256).ravel() for m in networks]
    rnn_val, probs = np.mean(val, axis=0), np.mean(test, axis=0)
    model.attach_members(networks[1:])
    part: dict[str, Any] = {"network_test_accuracy": accuracy(y_test, probs),
                            "network_val_accuracy": accuracy(y_val, rnn_val)}
    if s.networks > 1:
        part["networks"] = [{"seed": _network_seed(settings.seed, k), "test_accuracy": accuracy(y_test, t),
                             "val_accuracy": accuracy(y_val, v)} for k, (v, t) in enumerate(zip(val, test))]
    if s.linear_head:
        head, linear_val = fit_linear_head(s, data.x_train, data.y_train, train_rows, val_rows)
        blend = blend_weight(y_val, rnn_val, linear_val)
        model.attach_linear_head(head, blend)
        linear_probs = head.predict_proba(data.x_test)
        # what the model's predict gives (tests/test_recipe.py checks the two agree), without rerunning it
        probs = (1 - blend) * probs + blend * linear_probs
        part["linear_head"] = {"blend": blend, "linear_val_accuracy": accuracy(y_val, linear_val),
                               "linear_test_accuracy": accuracy(y_test, linear_probs)}
    model.save(run_dir / "model")
    part["test"] = classification_report(y_test, probs[:, None], data.classes)
    if verbose:
        what = f"{s.networks} networks averaged" if s.networks > 1 else "network"
        line = f"test accuracy {what} {part['network_test_accuracy']:.4f}"
        if s.linear_head:
            line += (f", linear {part['linear_head']['linear_test_accuracy']:.4f}, blend "
                     f"({part['linear_head']['blend']:.2f}) {part['test']['accuracy']:.4f}")
        print(line, flush=True)
    return part


def _check_settings(s: RecipeSettings, run_dir: Path) -> None:
    """A resumed recipe must go on with the settings it started with: its steps are kept on disk."""
    path = run_dir / SETTINGS_FILE
    if not path.is_file():
        atomic_write_json(path, asdict(s))
        return
    started = asdict(settings_from_record(read_json(path)))
    now = asdict(s)
    for settings in (started, now):  # no embedding rate of its own is the network's rate
        if settings.get("embedding_lr") is None:
            settings["embedding_lr"] = settings["lr"]
    changed = [f"{k} {started[k]!r} -> {now[k]!r}" for k in now if started[k] != now[k]]
    if changed:
        raise ConfigError(f"{run_dir}: started with other settings ({', '.join(changed)}); give the same "
                          "options to resume it, or another --out")


def accuracy(y: np.ndarray, probs: np.ndarray) -> float:
    return float(np.mean((probs.ravel() > 0.5) == y))


def _run_few_labels(s: RecipeSettings, run_dir: Path, data: PreparedData, start: float,
                    verbose: int) -> dict[str, Any]:
    """Few labelled rows: word2vec (step 1), then the few-labels model (textrnn.app.few_labels)
    instead of a network; written as a run folder that evaluate / predict / serve take."""
    from textrnn.app.few_labels import fit_few_labels
    from textrnn.app.pretrain.vectors import PretrainedEmbedding

    emb_dir = run_dir / "embedding"
    unlabelled = _unlabelled_docs(s, data)
    if not (emb_dir / "card.json").is_file():
        _pretrain_word2vec(s, data, unlabelled, emb_dir, verbose)
    fitted = time.perf_counter()
    if verbose:
        print(f"{len(data.x_train):,} labelled training rows (fewer than --few-labels-below "
              f"{s.few_labels_below:,}): word2vec mean + NB head, chosen by cross-validation", flush=True)
    vectors = PretrainedEmbedding.load(emb_dir)
    if s.few_labels_maxlen and s.few_labels_maxlen != s.maxlen:  # the same rows, more of each text
        longer = training_settings(replace(s, maxlen=s.few_labels_maxlen), None)
        data = prepare_data(longer, vectors, quiet=True)
    model, chosen = fit_few_labels(data.x_train, data.y_train, vectors.matrix, data.encoder.maxlen, s.seed,
                                   s.ngrams, s.head_bits, vectors.counts,
                                   _pseudo_label_pool(s, data, unlabelled[0]))
    model.text_encoder = data.encoder
    model.compile("adam", "binary_crossentropy", ["acc"])
    model.save(run_dir / "model")
    atomic_write_json(run_dir / RUN_FILE, asdict(training_settings(s, str(emb_dir))))
    test = classification_report(data.y_test, model.predict(data.x_test, batch_size=512), data.classes)
    done = time.perf_counter()
    metrics = {"model": "few-labels", "data": s.data, "params": model.count_params(),
               "train_size": int(len(data.x_train)), "few_labels": chosen, "test": test}
    atomic_write_json(run_dir / "metrics.json", metrics)
    record = {"settings": asdict(s), "path": "few-labels", "few_labels": chosen,
              "test_accuracy": test["accuracy"], "test": test,
              "seconds": {"pretrain": round(fitted - start, 1), "fit": round(done - fitted, 1),
                          "total": round(done - start, 1)},
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, "
                         f"torch {torch.__version__}"}
    atomic_write_json(run_dir / RECIPE_FILE, record)
    if verbose:
        cv = chosen["cv_accuracy"]
        print(f"cross-validated accuracy: vectors {cv['vectors']:.4f}, NB head {cv['head']:.4f}, blend "
              f"({chosen['blend']:.2f}) {cv['blend']:.4f}")
        if "self_training" in chosen:
            st = chosen["self_training"]
            print(f"self-training on {st['unlabelled']:,} unlabelled texts: cross-validated accuracy "
                  f"{st['cv_accuracy']['without']:.4f} -> {st['cv_accuracy']['with']:.4f}, "
                  f"{'kept' if st['kept'] else 'left out'}")
        print(f"recipe test accuracy {test['accuracy']:.4f} in {record['seconds']['total']:.0f} s "
              f"-> {run_dir}")
    return record


def run_recipe(s: RecipeSettings, out: str | Path, verbose: int = 1) -> dict[str, Any]:
    """Run (or resume) the recipe into the run folder `out`; returns the recipe record."""
    run_dir = Path(out)
    if (run_dir / RECIPE_FILE).is_file():
        record = read_json(run_dir / RECIPE_FILE)
        if verbose:
            print(f"{run_dir}: the recipe already finished (test accuracy {record['test_accuracy']:.4f})")
        return record
    if s.pretrain not in ("word2vec", "none"):
        raise ConfigError(f"--pretrain must be word2vec or none, got {s.pretrain!r}")
    if s.linear_head:
        from textrnn.app.linear_head import NBLinear

        NBLinear(s.ngrams, s.head_bits, s.head_C)  # a bad --head-bits fails here, not after training
    if s.networks < 1:
        raise ConfigError(f"--networks must be at least 1, got {s.networks}")
    OptimizerSpec("adam", s.lr, s.embedding_lr)  # a bad --lr / --embedding-lr fails before word2vec
    training_settings(s, None).validate()
    check_output_dir(run_dir, RUN_OUTPUTS | RECIPE_OUTPUTS, marker=SETTINGS_FILE)
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_settings(s, run_dir)
    start = time.perf_counter()
    torch.manual_seed(s.seed)
    dirs = network_dirs(s, run_dir)
    emb_dirs = [(d if s.own_word2vec else run_dir) / "embedding" for d in dirs]
    data = None
    if (s.linear_head and not (run_dir / RUN_FILE).is_file()) or s.few_labels_below > 0:
        data = prepare_data(training_settings(s, None), None, quiet=not verbose)
        if s.linear_head and len(data.classes) != 2:  # say so before any training
            raise ConfigError(f"the linear head is for two classes, this data has {len(data.classes)}: "
                              "give --no-linear-head")
        if s.linear_head and s.pretrain == "word2vec" and len(data.x_train) < s.few_labels_below:
            return _run_few_labels(s, run_dir, data, start, verbose)
    seconds = {"pretrain": 0.0, "network": 0.0}
    first: dict[str, Any] = {}
    unlabelled: Unlabelled | None = None  # read when the first word2vec needs it
    for k, (network_dir, emb_dir) in enumerate(zip(dirs, emb_dirs)):
        step = time.perf_counter()
        if s.pretrain == "word2vec" and not (emb_dir / "card.json").is_file():
            if data is None:
                data = prepare_data(training_settings(s, None), None, quiet=not verbose)
            unlabelled = unlabelled or _unlabelled_docs(s, data)
            _pretrain_word2vec(replace(s, seed=_network_seed(s.seed, k)), data, unlabelled, emb_dir, verbose)
        trained = time.perf_counter()
        seconds["pretrain"] += trained - step
        if verbose and s.networks > 1:
            print(f"network {k + 1} of {s.networks} -> {network_dir}", flush=True)
        settings = training_settings(s, str(emb_dir) if s.pretrain == "word2vec" else None)
        metrics = _train_network(_network_settings(settings, k) if k else settings, network_dir, verbose)
        first = first or metrics
        seconds["network"] += time.perf_counter() - trained
    settings = training_settings(s, str(emb_dirs[0]) if s.pretrain == "word2vec" else None)
    network_done = time.perf_counter()
    record: dict[str, Any] = {"settings": asdict(s), "network_test_accuracy": first["test"]["accuracy"]}
    if s.linear_head or s.networks > 1:
        part = _assemble(s, run_dir, settings, verbose)
        first.update(test=part.pop("test"), network_test_accuracy=part["network_test_accuracy"],
                     **{k: v for k, v in part.items() if k in ("networks", "linear_head")})
        atomic_write_json(run_dir / "metrics.json", first)
        record.update(part)
    record.update(test_accuracy=first["test"]["accuracy"], best_val_accuracy=first["best_val_accuracy"],
                  epochs_run=first["epochs_run"], best_epoch=first["best_epoch"],
                  seconds={"pretrain": round(seconds["pretrain"], 1), "network": round(seconds["network"], 1),
                           "assemble": round(time.perf_counter() - network_done, 1),
                           "total": round(time.perf_counter() - start, 1)},
                  date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  machine=f"{platform.machine()}, {torch.get_num_threads()} threads, "
                          f"torch {torch.__version__}")
    atomic_write_json(run_dir / RECIPE_FILE, record)
    if verbose:
        print(f"recipe test accuracy {record['test_accuracy']:.4f} in {record['seconds']['total']:.0f} s "
              f"-> {run_dir}")
    return record
