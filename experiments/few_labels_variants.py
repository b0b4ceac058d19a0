"""What each step of the recipe's few-labels model gives, and what was tried beside it, on the small-data
study's balanced draws (3 per n, all 25,000 test reviews):

    TEXTRNN_DATA=... python experiments/few_labels_variants.py [VECTORS] [--sizes 100 250 1000 5000]
                                                               [--seeds 3] [--also-doc-models]

VECTORS: the study's word2vec folder (runs/small-data/word2vec, made by `textrnn experiment
small-data`). Rows printed per draw, then the mean of each variant per n:
- words400 / words1200: the few-labels model (textrnn.app.few_labels.fit_few_labels, no
  self-training) on the first 400 or 1,200 words of each review;
- self-always: the 1,200-word model self-trained once on 25,000 unlabelled reviews (every other one
  of the 50,000), 5,000 of each class, whatever cross-validation says;
- self-cv: the same where the draw's cross-validation keeps it (what the recipe does);
- at n = 100 only, on 400 words: self-training with 100, 500, 1,000, 2,500 or 5,000 texts of each
  class (pseudoK), and a second round of 5,000 (pseudo5000x2);
- meanmax / pc: the frequency-weighted mean beside each feature's max over the review, or with the
  unlabelled reviews' first principal component removed, blended with the NB head as the model does;
- with --also-doc-models: gensim's PV-DBOW paragraph vectors (100-d, 10 passes over the unlabelled
  and training reviews; test reviews inferred) and LSA (TF-IDF of the same reviews, 200 SVD
  components), each in a logistic regression blended with the NB head.
Every choice inside a variant is made by cross-validation on the draw's rows; test is only scored.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from textrnn.app import few_labels
from textrnn.app.experiments.small_data import balanced_draw
from textrnn.app.linear_head import NBLinear
from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.app.recipe import blend_weight
from textrnn.app.transfer import fit_probe, probe_probabilities, stratified_folds
from textrnn.data import imdb
from textrnn.data.text import TextEncoder, tokenize
from textrnn.training.metrics import log_loss

PSEUDO_TRIALS = ((100, 1), (500, 1), (1000, 1), (2500, 1), (5000, 1), (5000, 2))  # (per class, rounds)


def mean_and_max(matrix: np.ndarray, ids: np.ndarray, with_max: bool, chunk: int = 2000) -> np.ndarray:
    """Each review's mean word vector (padding left out), and with_max each feature's max beside it."""
    out = []
    for first in range(0, len(ids), chunk):
        rows = ids[first:first + chunk]
        mask = (rows > 0)[..., None]
        vectors = matrix[rows]
        parts = [(vectors * mask).sum(1) / np.maximum(mask.sum(1), 1)]
        if with_max:
            parts.append(np.where(mask, vectors, -1e9).max(1))
        out.append(np.concatenate(parts, 1))
    return np.concatenate(out).astype(np.float32)


def head_member(grams: sp.csr_matrix, test_grams: sp.csr_matrix, y: np.ndarray, folds: list):
    """The NB head as the model fits it: C by out-of-fold log loss; (out-of-fold, test) probabilities."""
    out_of_fold = {c: np.zeros(len(y)) for c in few_labels.HEAD_CS}
    for train, held in folds:
        for c in few_labels.HEAD_CS:
            out_of_fold[c][held] = NBLinear(C=c).fit(None, y[train], features=grams[train]).predict_proba(
                features=grams[held])
    best = min(few_labels.HEAD_CS, key=lambda c: log_loss(y, out_of_fold[c]))
    return out_of_fold[best], NBLinear(C=best).fit(None, y, features=grams).predict_proba(features=test_grams)


def vector_member(features: np.ndarray, test: np.ndarray, y: np.ndarray, folds: list, seed: int):
    """Logistic regression, C by cross-validation; (out-of-fold, test) probabilities."""
    kernel, bias, c = fit_probe(features, y, seed)
    oof = np.zeros(len(y))
    for train, held in folds:
        k, b, _ = fit_probe(features[train], y[train], seed, c)
        oof[held] = probe_probabilities(features[held], k, b)
    return oof, probe_probabilities(test, kernel, bias)


def blended(vector, head, y) -> np.ndarray:
    w = blend_weight(y, vector[0], head[0])
    return (1 - w) * vector[1] + w * head[1]


def self_trained_rounds(texts, y, pool, choice, seed, per_class: int, rounds: int):
    """The model fitted again `rounds` times, round r on the per_class * r texts of each class the
    previous fit is surest of."""
    fitted = few_labels.fit_parts(texts, y, choice, seed)
    for r in range(1, rounds + 1):
        order = np.argsort(fitted.predict(pool))
        take = min(per_class * r, len(order) // 2)
        pseudo = np.concatenate([order[:take], order[-take:]])
        labels = np.concatenate([y, np.repeat([0, 1], take)])
        fitted = few_labels.fit_parts(texts.join(pool.take(pseudo)), labels, choice, seed)
    return fitted


def doc_model_features(docs: dict, verbose: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    corpus = docs["unsup"] + docs["train"]
    start = time.perf_counter()
    d2v = Doc2Vec([TaggedDocument(d, [i]) for i, d in enumerate(corpus)], dm=0, vector_size=100, window=5,
                  negative=5, min_count=2, sample=1e-4, workers=2, epochs=10, seed=0)
    first = len(docs["unsup"])
    pv = (np.stack([d2v.dv[first + i] for i in range(len(docs["train"]))]),
          np.stack([d2v.infer_vector(d, epochs=10) for d in docs["test"]]))
    tfidf = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True, min_df=5, max_features=30000)
    counts = tfidf.fit_transform(corpus)
    svd = TruncatedSVD(200, algorithm="randomized", n_iter=5, random_state=0).fit(counts)
    lsa = (svd.transform(counts[first:]).astype(np.float32),
           svd.transform(tfidf.transform(docs["test"])).astype(np.float32))
    if verbose:
        print(f"paragraph vectors and LSA: {time.perf_counter() - start:.0f} s", flush=True)
    return {"pv-dbow": pv, "lsa": lsa}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vectors", nargs="?", default="runs/small-data/word2vec")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 1000, 5000])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--also-doc-models", action="store_true")
    args = parser.parse_args()

    texts, labels = {}, {}
    for split in ("train", "test", "unsup"):
        texts[split], labels[split] = imdb.load_texts(split, None)
    emb = PretrainedEmbedding.load(args.vectors)
    ids = {length: {split: TextEncoder(emb.vocabulary, length).encode(texts[split][::2] if split == "unsup"
                                                                       else texts[split])
                    for split in texts} for length in (400, 1200)}
    y_train, y_test = labels["train"].astype(np.int64), labels["test"].astype(np.int64)
    weighted = few_labels.frequency_weighted(emb.matrix, emb.counts)
    head = NBLinear()
    grams = {length: {split: head.features(ids[length][split]) for split in texts} for length in ids}
    means: dict[tuple[int, str], dict[str, np.ndarray]] = {}  # (length, weighting) -> split -> means

    def mean_vectors(length: int, weighting: str) -> dict[str, np.ndarray]:
        if (length, weighting) not in means:
            matrix = weighted if weighting == "frequency-weighted" else emb.matrix
            means[length, weighting] = {split: mean_and_max(matrix, ids[length][split], False)
                                        for split in texts}
        return means[length, weighting]

    pooled = mean_vectors(400, "frequency-weighted")
    pooled_max = {split: mean_and_max(weighted, ids[400][split], True) for split in ("train", "test")}
    pc = np.linalg.svd(pooled["unsup"][::2], full_matrices=False)[2][0]
    no_pc = {split: pooled[split] - np.outer(pooled[split] @ pc, pc) for split in ("train", "test")}
    doc_models = doc_model_features({s: [tokenize(t) for t in texts[s]] for s in texts}, True) \
        if args.also_doc_models else {}
    accuracy = lambda p: float(np.mean((p > 0.5) == y_test))  # noqa: E731
    results: dict[str, dict[int, list[float]]] = {}
    for n in args.sizes:
        for seed in range(args.seeds):
            rows = balanced_draw(y_train, n, seed)
            y = y_train[rows]
            folds = list(stratified_folds(y, seed).split(rows, y))
            row: dict[str, float] = {}
            for length in (400, 1200):
                model, chosen = few_labels.fit_few_labels(ids[length]["train"][rows], y, emb.matrix, length,
                                                          seed, counts=emb.counts)
                row[f"words{length}"] = accuracy(model.predict(ids[length]["test"], batch_size=512).ravel())
                vectors = mean_vectors(length, chosen["weighting"])
                choice = few_labels.Choice(chosen["vector_C"], chosen["head_C"], chosen["blend"], 3, 24)
                texts_ = few_labels.Texts(vectors["train"][rows], grams[length]["train"][rows])
                pool = few_labels.Texts(vectors["unsup"], grams[length]["unsup"])
                test = few_labels.Texts(vectors["test"], grams[length]["test"])
                if length == 1200:
                    always = few_labels.self_trained(texts_, y, pool, choice, seed).predict(test)
                    row["self-always"] = accuracy(always)
                    without, with_ = few_labels.self_training_accuracy(texts_, y, pool, choice, folds, seed)
                    row["self-cv"] = row["self-always"] if with_ > without else row["words1200"]
                elif n == 100:
                    for per_class, rounds in PSEUDO_TRIALS:
                        fitted = self_trained_rounds(texts_, y, pool, choice, seed, per_class, rounds)
                        name = f"pseudo{per_class}" + ("x2" if rounds == 2 else "")
                        row[name] = accuracy(fitted.predict(test))
            nb = head_member(grams[400]["train"][rows], grams[400]["test"], y, folds)
            others = {"meanmax": (pooled_max["train"], pooled_max["test"]),
                      "pc": (no_pc["train"], no_pc["test"]), **doc_models}
            for name, (train, test_) in others.items():
                row[name] = accuracy(blended(vector_member(train[rows], test_, y, folds, seed), nb, y))
            shown = ", ".join(f"{k} {100 * v:.2f}" for k, v in row.items())
            print(f"n={n} seed={seed}: {shown}", flush=True)
            for k, v in row.items():
                results.setdefault(k, {}).setdefault(n, []).append(v)
    for name, by_n in results.items():
        print(f"{name}: " + ", ".join(f"n={n} {100 * np.mean(v):.2f}" for n, v in by_n.items()))


if __name__ == "__main__":
    main()
