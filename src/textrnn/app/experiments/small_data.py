"""`textrnn experiment small-data`: test accuracy against the number n of labelled reviews.

For each n and seed, a balanced draw of n training reviews (n/2 per class) is the only labelled
data; every choice (the L2 strength of each logistic regression) is made by stratified
cross-validation on those n rows; the score is on all 25,000 test reviews. Rows:
- TF-IDF(1,2) + LR: word and bigram TF-IDF fitted on the n texts, logistic regression;
- encoder probe: the pretrained encoder's mean-pooled states (textrnn.app.transfer) + LR;
- probe + TF-IDF: the mean of the two probabilities;
- self-trained: the probe refitted on pseudo-labelled unlabelled reviews, where that beats the plain
  probe on the n rows' own cross-validation folds (else the plain probe), alone and with TF-IDF;
- recipe, few labels: what `textrnn recipe` fits when labelled rows are few (textrnn.app.few_labels:
  word2vec on the unlabelled and training texts, averaged per review, + the NB n-gram head), with
  the recipe's default vocabulary, length and vector size.
The encoder's features of every review are computed once and cached under the run folder, so each
row costs a logistic regression, and the pretraining is paid once (its card gives the time).
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textrnn.app.transfer import (
    classifier_from_encoder,
    fit_probe,
    load_encoder,
    pooled_features,
    probe_probabilities,
    self_train,
    self_training_pays,
    stratified_folds,
)
from textrnn.data import imdb
from textrnn.data.text import TextEncoder, tokenize
from textrnn.io_utils import atomic_write_json, atomic_write_text

METHODS = ("tfidf", "probe", "probe+tfidf", "self", "self+tfidf", "few-labels")
LABELS = {"tfidf": "TF-IDF(1,2) + LR", "probe": "encoder probe", "probe+tfidf": "probe + TF-IDF",
          "self": "probe, self-trained where CV says so", "self+tfidf": "that + TF-IDF",
          "few-labels": "recipe, few labels (word2vec mean + NB head)"}
TARGETS = {100: 80.0, 250: 83.0, 1000: 87.0, 5000: 89.5}  # the few-labels goals, test accuracy %
FULL = 25000  # every training review: one draw


@dataclass
class SmallDataSetup:
    encoder: str = "runs/encoder-imdb"
    data: str | None = None  # the aclImdb archive (default: found as textrnn.data.imdb describes)
    sizes: list[int] = field(default_factory=lambda: [100, 250, 500, 1000, 2500, 5000, 25000])
    seeds: int = 3
    maxlen: int = 400
    unlabelled: int = 10000  # unlabelled reviews (of the 50,000) that self-training may pseudo-label

    @classmethod
    def quick(cls) -> SmallDataSetup:
        return cls(sizes=[100, 1000], seeds=2)


def balanced_draw(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n row indices, n // 2 of each of two classes (all rows when n is their number)."""
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    parts = [rng.choice(np.flatnonzero(labels == c), n // 2, replace=False) for c in (0, 1)]
    return np.sort(np.concatenate(parts))


def word_ngrams(tokens: list[str]) -> list[str]:
    """Words and word pairs: TF-IDF(1,2)'s terms, from a review tokenized once."""
    return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]


def tfidf_probabilities(train_docs: list[list[str]], y: np.ndarray, test_docs: list[list[str]],
                        seed: int) -> np.ndarray:
    """TF-IDF of words and word pairs (textrnn's tokenizer; fitted on the n training reviews) and
    logistic regression, its strength chosen by CV on the n rows; P(positive) of each test review."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    vectorizer = TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True)
    train = vectorizer.fit_transform(train_docs)
    split = stratified_folds(y, seed)
    scores = {c: cross_val_score(LogisticRegression(C=c, max_iter=2000), train, y, cv=split,
                                 scoring="neg_log_loss").mean() for c in np.logspace(-1, 3, 9)}
    best = max(scores, key=scores.get)
    model = LogisticRegression(C=best, max_iter=2000).fit(train, y)
    return model.predict_proba(vectorizer.transform(test_docs))[:, 1]


def encoder_features(setup: SmallDataSetup, root: Path, texts: dict[str, list[str]],
                     verbose: int) -> dict[str, np.ndarray]:
    """Mean-pooled encoder states of every train and test review, cached in root."""
    cache = root / f"features-mean-maxlen{setup.maxlen}-unlabelled{setup.unlabelled}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            return {k: stored[k] for k in stored.files}
    encoder, _ = load_encoder(setup.encoder)
    model = classifier_from_encoder(encoder, 2, setup.maxlen)
    text_encoder = TextEncoder(encoder.text_encoder.vocabulary, setup.maxlen)
    features = {}
    for split, split_texts in texts.items():
        start = time.perf_counter()
        features[split] = pooled_features(model, text_encoder.encode(split_texts))
        if verbose:
            print(f"encoder features of {len(split_texts):,} {split} reviews: "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    root.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp.npz")
    np.savez(tmp, **features)
    tmp.replace(cache)
    return features


def recipe_word_vectors(root: Path, verbose: int) -> tuple[TextEncoder, np.ndarray, dict[str, Any]]:
    """The recipe's word2vec on IMDB's unlabelled and training texts (no test text), with its default
    vocabulary, length and size; trained once and kept in root/word2vec (an EMB_DIR)."""
    from textrnn.app.pretrain.sources import corpus_tokens, load_vocabulary
    from textrnn.app.pretrain.vectors import PretrainedEmbedding
    from textrnn.app.pretrain.word2vec import train_word2vec
    from textrnn.app.recipe import RecipeSettings

    s, folder = RecipeSettings(), root / "word2vec"
    if not (folder / "card.json").is_file():
        start = time.perf_counter()
        vocabulary = load_vocabulary("imdb", s.vocab_size, quiet=True)
        docs = corpus_tokens("imdb-unlabelled", quiet=True)
        if verbose:
            print(f"word2vec ({s.dim}-d) on {len(docs):,} unlabelled and training reviews", flush=True)
        matrix, coverage = train_word2vec(docs, vocabulary, s.dim, epochs=s.w2v_epochs, seed=0)
        card = {"method": "word2vec", "corpus": "imdb-unlabelled", "documents": len(docs), "dim": s.dim,
                "coverage": coverage, "time_s": round(time.perf_counter() - start, 1)}
        PretrainedEmbedding(matrix, vocabulary, card).save(folder)
    embedding = PretrainedEmbedding.load(folder)
    return TextEncoder(embedding.vocabulary, s.maxlen), embedding.matrix, embedding.card


def few_labels_probabilities(ids: dict[str, np.ndarray], rows: np.ndarray, y: np.ndarray,
                             matrix: np.ndarray, seed: int) -> np.ndarray:
    from textrnn.app.few_labels import fit_few_labels

    model, _ = fit_few_labels(ids["train"][rows], y, matrix, ids["train"].shape[1], seed)
    return model.predict(ids["test"], batch_size=512).ravel()


def run(setup: SmallDataSetup, root: Path, report_path: Path, verbose: int = 1) -> str:
    texts, labels = {}, {}
    for split in ("train", "test", "unsup"):
        texts[split], labels[split] = imdb.load_texts(split, setup.data)
    texts["unsup"] = texts["unsup"][:: max(1, len(texts["unsup"]) // setup.unlabelled)][:setup.unlabelled]
    features = encoder_features(setup, root, texts, verbose)
    docs = {split: [tokenize(t) for t in texts[split]] for split in ("train", "test")}
    text_encoder, matrix, _ = recipe_word_vectors(root, verbose)
    ids = {split: text_encoder.encode(texts[split]) for split in ("train", "test")}
    results_path = root / "results.json"
    results: dict[str, Any] = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for n in setup.sizes:
        for seed in range(setup.seeds if n < len(labels["train"]) else 1):
            key = f"{n}/{seed}"
            rows = balanced_draw(labels["train"], n, seed)
            y = labels["train"][rows]
            acc = lambda p, truth=labels["test"]: float(np.mean((p > 0.5) == truth))  # noqa: E731
            if key in results and "few-labels" not in results[key]:  # a draw measured before the row
                start = time.perf_counter()
                results[key]["few-labels"] = acc(few_labels_probabilities(ids, rows, y, matrix, seed))
                results[key]["seconds"]["few-labels"] = round(time.perf_counter() - start, 1)
                atomic_write_json(results_path, results)
                if verbose:
                    print(f"n={n} seed={seed}: few-labels {100 * results[key]['few-labels']:.2f}", flush=True)
            if key in results:
                continue
            start = time.perf_counter()
            tfidf = tfidf_probabilities([docs["train"][i] for i in rows], y, docs["test"], seed)
            tfidf_s = time.perf_counter() - start
            kernel, bias, _ = fit_probe(features["train"][rows], y, seed)
            probe = probe_probabilities(features["test"], kernel, bias)
            probe_s = time.perf_counter() - start - tfidf_s
            pays = n < len(labels["train"]) and self_training_pays(features["train"][rows], y,
                                                                   features["unsup"], seed)
            selfed = probe
            if pays:
                k, b = self_train(features["train"][rows], y, features["unsup"], seed)
                selfed = probe_probabilities(features["test"], k, b)
            self_s = time.perf_counter() - start - tfidf_s - probe_s
            few = few_labels_probabilities(ids, rows, y, matrix, seed)
            few_s = time.perf_counter() - start - tfidf_s - probe_s - self_s
            results[key] = {"few-labels": acc(few),
                "tfidf": acc(tfidf), "probe": acc(probe), "probe+tfidf": acc((tfidf + probe) / 2),
                "self": acc(selfed), "self+tfidf": acc((tfidf + selfed) / 2), "self_training_chosen": pays,
                "seconds": {"tfidf": round(tfidf_s, 1), "probe": round(probe_s, 1), "self": round(self_s, 1),
                            "few-labels": round(few_s, 1)}}
            atomic_write_json(results_path, results)
            if verbose:
                print(f"n={n} seed={seed}: " + ", ".join(f"{m} {100 * results[key][m]:.2f}"
                                                         for m in METHODS), flush=True)
    text = render(setup, results)
    atomic_write_text(report_path, text)
    plot(setup, results, report_path.parent / "small_data" / "accuracy.png")
    return text


def _summary(results: dict[str, Any], n: int, method: str) -> tuple[float, float, int]:
    values = [100 * r[method] for key, r in results.items() if int(key.split("/")[0]) == n]
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0, len(values)


def render(setup: SmallDataSetup, results: dict[str, Any]) -> str:
    card = json.loads((Path(setup.encoder) / "card.json").read_text())
    lines = ["# Few labels: test accuracy against n", "",
             f"All 25,000 IMDB test reviews; mean ± sd over {setup.seeds} balanced draws of n training "
             "reviews (one draw at n = 25,000); each regression's L2 strength chosen by stratified "
             "cross-validation on the n rows alone.", "",
             f"Encoder: an LSTM({card['units']}) language model on {card['corpus']} "
             f"({card['documents']:,} reviews, {card['tokens']:,} tokens; no test text), embedding "
             f"{card['dim']}, {card['steps']:,} steps of 64 x {card['seq_len']} words in "
             f"{card['time_s'] / 60:.0f} min, held-out perplexity {card['perplexity']:.0f}; "
             f"{card['date']}, {card['machine']}.", "",
             "| n | " + " | ".join(LABELS[m] for m in METHODS) + " | goal |",
             "|---|" + "---|" * (len(METHODS) + 1)]
    for n in setup.sizes:
        if not any(int(k.split("/")[0]) == n for k in results):
            continue
        cells = []
        for method in METHODS:
            mean, sd, count = _summary(results, n, method)
            draws = setup.seeds if n < FULL else 1
            cell = f"{mean:.2f} ± {sd:.2f}" if count > 1 else f"{mean:.2f}"
            cells.append(cell if count == draws else f"{cell} ({count} draws)")
        goal = f">= {TARGETS[n]}" if n in TARGETS else ""
        lines.append(f"| {n:,} | " + " | ".join(cells) + f" | {goal} |")
    seconds = [r["seconds"] for r in results.values()]
    chosen = sum(bool(r.get("self_training_chosen")) for r in results.values())
    lines += ["", f"Self-training was chosen by cross-validation in {chosen} of {len(results)} draws.",
              "", f"Time per row (fit and score 25,000 test reviews): TF-IDF + LR "
              f"{max(s['tfidf'] for s in seconds):.0f} s at most, the probe "
              f"{max(s['probe'] for s in seconds):.1f} s, self-training and its choice "
              f"{max(s.get('self', 0) for s in seconds):.0f} s at most, once the encoder's features "
              "are computed.", "", "![accuracy against n](small_data/accuracy.png)", "",
              "## Reproduce", "", "```bash",
              f"textrnn pretrain-encoder --corpus {card['corpus']} --units {card['units']} "
              f"--dim {card['dim']} --max-minutes 27 --out {setup.encoder}",
              f"textrnn experiment small-data --encoder {setup.encoder} --seeds {setup.seeds} "
              f"--sizes {' '.join(str(n) for n in setup.sizes)}", "```", ""]
    return "\n".join(lines)


def plot(setup: SmallDataSetup, results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [n for n in setup.sizes if any(int(k.split("/")[0]) == n for k in results)]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method in METHODS:
        means = [_summary(results, n, method)[0] for n in sizes]
        sds = [_summary(results, n, method)[1] for n in sizes]
        ax.errorbar(sizes, means, yerr=sds, marker="o", capsize=3, label=LABELS[method])
    goals = sorted(n for n in TARGETS if n in sizes)
    ax.plot(goals, [TARGETS[n] for n in goals], "k--", marker="x", label="goal")
    ax.set_xscale("log")
    ax.set_xlabel("labelled training reviews n")
    ax.set_ylabel("test accuracy %")
    ax.grid(alpha=0.3)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
