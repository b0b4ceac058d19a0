"""The recipe's NB linear head with 2**22 and 2**24 hashed n-gram columns, refitted on finished recipe
runs: each run's network is kept; the head is fitted again as the recipe fits it (on the
network's training rows to choose the blend weight by validation log loss, then on all training
rows for the test), so the rows compare the head alone and the blend on the same networks.
Hash collisions merge n-grams; the table counts the columns the training reviews' n-grams use.

    TEXTRNN_DATA=... python experiments/head_bits.py runs/recipe-ablation/recipe/seed-{0,1,2}

Also prints each head's 5-fold cross-validated accuracy on the training reviews, folds by movie
(test reviews play no part in the choice).
"""

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import GroupKFold

from textrnn.app.ensemble import network_alone
from textrnn.app.linear_head import NBLinear, ngram_features
from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.app.recipe import (
    accuracy,
    blend_weight,
    fit_linear_head,
    settings_from_record,
    training_settings,
)
from textrnn.app.runs import prepare_data, validation_rows
from textrnn.data.datasets import imdb_train_movies
from textrnn.models import load_model

BITS = (22, 24)


def main(runs: list[str]) -> None:
    print("| run | bits | columns used | head CV acc % (by movie) | head test acc % | blend (val) | "
          "network + head test acc % | head fit s |")
    print("|---|---|---|---|---|---|---|---|")
    cv_done: dict[tuple, float] = {}
    for run in runs:
        s = settings_from_record(json.loads((Path(run) / "recipe.json").read_text())["settings"])
        settings = training_settings(s, f"{run}/embedding")
        data = prepare_data(settings, PretrainedEmbedding.load(settings.embedding), quiet=True)
        train_rows, val_rows = validation_rows(settings, data)
        model = network_alone(load_model(Path(run) / "model"))  # the network alone
        y_val, y_test = data.y_train[val_rows], data.y_test
        net_val = model.predict(data.x_train[val_rows], batch_size=256).ravel()
        net_test = model.predict(data.x_test, batch_size=256).ravel()
        movies = imdb_train_movies(s.data, quiet=True)[:len(data.x_train)]
        for bits in BITS:
            start = time.perf_counter()
            feats = ngram_features(data.x_train, s.ngrams, bits)
            test_feats = ngram_features(data.x_test, s.ngrams, bits)
            head, linear_val = fit_linear_head(replace(s, head_bits=bits), data.x_train, data.y_train,
                                               train_rows, val_rows, features=feats)
            seconds = time.perf_counter() - start
            linear_test = head.predict_proba(features=test_feats)
            blend = blend_weight(y_val, net_val, linear_val)
            key = (s.maxlen, s.vocab_size, s.ngrams, bits, s.head_C)  # the head's CV depends only on these
            if key not in cv_done:
                accs = []
                for fit_rows, held in GroupKFold(5).split(data.x_train, data.y_train, movies):
                    h = NBLinear(s.ngrams, bits, C=s.head_C)
                    h.fit(None, data.y_train[fit_rows], features=feats[fit_rows])
                    scores = h.decision_function(features=feats[held])
                    accs.append(np.mean((scores > 0) == data.y_train[held]))
                cv_done[key] = float(np.mean(accs))
            used = len(np.unique(feats.indices))  # distinct columns the training reviews' n-grams hit
            blended = (1 - blend) * net_test + blend * linear_test
            print(f"| {run} | {bits} | {used:,} | {100 * cv_done[key]:.2f} | "
                  f"{100 * accuracy(y_test, linear_test):.2f} | {blend:.2f} | "
                  f"{100 * accuracy(y_test, blended):.2f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
