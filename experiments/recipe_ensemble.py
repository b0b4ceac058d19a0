"""Probe for the 1-hour target: average the networks of several finished recipe runs (one per
seed), then blend in the NB linear head the same way the recipe does (weight chosen by validation log
loss, head fitted on the training part for that choice and on all training rows for the test).
Prints each network's and the average's validation / test accuracy and the blend's test accuracy.

    TEXTRNN_DATA=... python experiments/recipe_ensemble.py runs/recipe-ablation/recipe/seed-{0,1,2}
    ... recipe_ensemble.py --head-bits 24 RUN...   # a head of 2**24 columns, not the runs' own
    ... recipe_ensemble.py --prefixes R R/networks/{1,2,3}  # the first 1-4 networks of `--networks 4`

Settings and vocabulary come from the first RUN's recipe.json and embedding. The runs' wall times add
up to what the ensemble costs on one machine (recipe.json, `seconds.total`; printed when every RUN
has one).
"""

import argparse
import json
from pathlib import Path

import numpy as np

from textrnn.app.ensemble import network_alone
from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.app.recipe import blend_weight, fit_linear_head, settings_from_record, training_settings
from textrnn.app.runs import prepare_data, validation_rows
from textrnn.models import load_model


def main(runs: list[str], head_bits: int | None = None, prefixes: bool = False) -> None:
    first = json.loads((Path(runs[0]) / "recipe.json").read_text())
    s = settings_from_record(first["settings"])
    s.head_bits = head_bits or s.head_bits
    settings = training_settings(s, f"{runs[0]}/embedding")
    data = prepare_data(settings, PretrainedEmbedding.load(settings.embedding), quiet=True)
    train_rows, val_rows = validation_rows(settings, data)  # the rows the network validated on
    x_val, y_val, y_test = data.x_train[val_rows], data.y_train[val_rows], data.y_test
    val, test, seconds = [], [], []
    for run in runs:
        model = network_alone(load_model(Path(run) / "model"))  # the network alone
        val.append(model.predict(x_val, batch_size=256).ravel())
        test.append(model.predict(data.x_test, batch_size=256).ravel())
        record = Path(run) / "recipe.json"
        if record.is_file():
            seconds.append(json.loads(record.read_text())["seconds"]["total"])
        print(f"{run}: network val {np.mean((val[-1] > .5) == y_val):.4f}, "
              f"test {np.mean((test[-1] > .5) == y_test):.4f}")
    val_avg, test_avg = np.mean(val, axis=0), np.mean(test, axis=0)
    print(f"average of {len(runs)} networks: val {np.mean((val_avg > .5) == y_val):.4f}, "
          f"test {np.mean((test_avg > .5) == y_test):.4f}")
    head, linear_val = fit_linear_head(s, data.x_train, data.y_train, train_rows, val_rows)
    print(f"NB head alone (2**{s.head_bits} columns): val {np.mean((linear_val > .5) == y_val):.4f} "
          f"(fitted on the other rows), test {np.mean((head.predict_proba(data.x_test) > .5) == y_test):.4f}")
    linear_test = head.predict_proba(data.x_test)
    for n in range(1 if prefixes else len(runs), len(runs) + 1):  # the first n networks
        val_avg, test_avg = np.mean(val[:n], axis=0), np.mean(test[:n], axis=0)
        blend = blend_weight(y_val, val_avg, linear_val)
        probs = (1 - blend) * test_avg + blend * linear_test
        print(f"first {n} networks: averaged test {np.mean((test_avg > .5) == y_test):.4f}, "
              f"+ NB head (blend {blend:.2f}) test {np.mean((probs > .5) == y_test):.4f}")
    if len(seconds) == len(runs):  # a network inside another recipe's folder has no recipe.json
        print(f"the runs took {sum(seconds):.0f} s of wall time in all")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--head-bits", type=int, help="refit the head with 2**bits columns")
    parser.add_argument("--prefixes", action="store_true", help="also the first 1, 2, ... networks")
    args = parser.parse_args()
    main(args.runs, args.head_bits, args.prefixes)
