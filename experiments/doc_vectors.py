"""A third member for the recipe's blend: paragraph vectors, PV-DBOW (gensim's Doc2Vec,
dm=0) whose documents predict their words and their bigrams (Li et al. 2015, "document embeddings
by predicting n-grams"), then logistic regression on the vectors. Blended with finished recipe runs'
networks and NB heads; the question is whether a model of another kind adds what the head and the
network miss (Mesnil et al. 2014 got their best IMDB figure from such a three-way ensemble).

    TEXTRNN_DATA=... python experiments/doc_vectors.py runs/recipe-ablation/big/seed-{0,1,2}

Doc2Vec trains on the training reviews and IMDB's 50,000 unlabelled reviews, whole and with the
corpus's full vocabulary (words seen twice); test vectors are inferred with the words' weights fixed,
so no test text shapes the model. The LR's C and every blend weight are chosen by validation log
loss on the runs' own validation rows (whole movies). Prints, per run and for the runs' networks
averaged: the network + head blend as the recipe makes it, and the three-way blend.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from textrnn.app.ensemble import network_alone
from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.app.recipe import (
    accuracy,
    blend_weight,
    fit_linear_head,
    settings_from_record,
    training_settings,
)
from textrnn.app.runs import prepare_data, validation_rows
from textrnn.data import imdb
from textrnn.data.datasets import KERAS_SHUFFLE_SEED
from textrnn.models import load_model


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _documents(corpus: imdb.IMDBCorpus, split: str) -> list[list[str]]:
    """Each review as its word ranks (as strings) followed by its bigrams, in the order of
    `prepare_data`'s rows (Keras's seed-113 shuffle, training split first)."""
    docs = []
    for seq in corpus.splits[split].sequences():
        words = [str(r) for r in seq]
        docs.append(words + [a + "_" + b for a, b in zip(words, words[1:])])
    return docs


def doc_vectors(dim: int, epochs: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(training vectors, inferred test vectors, seconds)."""
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument

    start = time.perf_counter()
    corpus = imdb.IMDBCorpus.load(quiet=True)
    rng = np.random.RandomState(KERAS_SHUFFLE_SEED)  # one RandomState for both splits, as prepare_data
    order = {}
    for split in ("train", "test"):
        order[split] = np.arange(len(corpus.splits[split]))
        rng.shuffle(order[split])
    docs = _documents(corpus, "train")
    train = [docs[i] for i in order["train"]]
    tagged = [TaggedDocument(d, [i]) for i, d in enumerate(train + _documents(corpus, "unsup"))]
    model = Doc2Vec(vector_size=dim, dm=0, negative=5, hs=0, min_count=2, sample=1e-4, workers=2,
                    epochs=epochs, seed=seed)
    model.build_vocab(tagged)
    model.train(tagged, total_examples=len(tagged), epochs=epochs)
    x_train = np.stack([model.dv[i] for i in range(len(train))])
    test = _documents(corpus, "test")
    x_test = np.stack([model.infer_vector(test[i], epochs=epochs) for i in order["test"]])
    return x_train, x_test, time.perf_counter() - start


def main(runs: list[str], dim: int, epochs: int, seed: int) -> None:
    x_pv, x_pv_test, seconds = doc_vectors(dim, epochs, seed)
    print(f"Doc2Vec PV-DBOW {dim}-d, {epochs} epochs, words + bigrams: {seconds:.0f} s")
    nets_val, nets_test = [], []
    for run in runs:
        s = settings_from_record(json.loads((Path(run) / "recipe.json").read_text())["settings"])
        settings = training_settings(s, f"{run}/embedding")
        data = prepare_data(settings, PretrainedEmbedding.load(settings.embedding), quiet=True)
        train_rows, val_rows = validation_rows(settings, data)
        y_val, y_test = data.y_train[val_rows], data.y_test
        if not nets_val:  # the head and the PV model are the same for every run of these settings
            head, linear_val = fit_linear_head(s, data.x_train, data.y_train, train_rows, val_rows)
            linear_test = head.predict_proba(data.x_test)
            fits = {C: LogisticRegression(C=C, max_iter=2000).fit(x_pv[train_rows], data.y_train[train_rows])
                    for C in (0.3, 1.0, 3.0, 10.0)}
            C = min(fits, key=lambda c: _log_loss(y_val, fits[c].predict_proba(x_pv[val_rows])[:, 1]))
            pv_val = fits[C].predict_proba(x_pv[val_rows])[:, 1]
            final = LogisticRegression(C=C, max_iter=2000).fit(x_pv, data.y_train)
            pv_test = final.predict_proba(x_pv_test)[:, 1]
            print(f"PV + LR (C {C}): val {accuracy(y_val, pv_val):.4f}, "
                  f"test {accuracy(y_test, pv_test):.4f}; NB head: test {accuracy(y_test, linear_test):.4f}")
            print("| networks | network test acc % | network + head (recipe) | + PV, three-way | "
                  "weights: head, PV |")
            print("|---|---|---|---|---|")
        model = network_alone(load_model(Path(run) / "model"))  # the network alone
        nets_val.append(model.predict(data.x_train[val_rows], batch_size=256).ravel())
        nets_test.append(model.predict(data.x_test, batch_size=256).ravel())
        rows = [(run, nets_val[-1], nets_test[-1])]
        if len(runs) > 1 and run == runs[-1]:
            rows.append((f"{len(runs)} averaged", np.mean(nets_val, 0), np.mean(nets_test, 0)))
        for name, net_val, net_test in rows:
            w = blend_weight(y_val, net_val, linear_val)
            two = (1 - w) * net_test + w * linear_test
            grid = [(a, b) for a in np.linspace(0, 1, 21) for b in np.linspace(0, 1, 21) if a + b <= 1 + 1e-9]
            a, b = min(grid, key=lambda ab: _log_loss(y_val, (1 - sum(ab)) * net_val + ab[0] * linear_val
                                                      + ab[1] * pv_val))
            three = (1 - a - b) * net_test + a * linear_test + b * pv_test
            print(f"| {name} | {100 * accuracy(y_test, net_test):.2f} | {100 * accuracy(y_test, two):.2f} | "
                  f"{100 * accuracy(y_test, three):.2f} | {a:.2f}, {b:.2f} |", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", help="finished recipe runs of the same settings")
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    main(args.runs, args.dim, args.epochs, args.seed)
