"""Probe: is the recipe's blend rule the right one? For each finished `textrnn recipe
--networks N` run, the networks' and the NB head's probabilities on the run's validation and test
rows, combined by several rules, each fitted on the validation rows only:

- prob: (1 - w) * mean of the networks + w * head, w in 0, 0.05, ..., 1 by validation log loss (the
  recipe's rule; it repeats the run's recorded test accuracy)
- prob, w from network 1: the same rule, w chosen with the first network alone on validation (what
  a rule fitted on one network's out-of-fold predictions would give an ensemble)
- logit: the same mix of the log-odds (a geometric mean of the probabilities)
- logit of logits: the networks' log-odds averaged, then mixed with the head's
- stacking: logistic regression on (networks' mean log-odds, head log-odds) with an intercept
- best w on test: the prob rule with the weight chosen on the test rows (an upper bound, not a rule)

    TEXTRNN_DATA=... python experiments/blend_rules.py runs/recipe-own4/seed-{0,1,2,3}
"""

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from textrnn.app.ensemble import network_alone
from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.app.recipe import (
    blend_weight,
    fit_linear_head,
    network_dirs,
    settings_from_record,
    training_settings,
)
from textrnn.app.runs import prepare_data, validation_rows
from textrnn.models import load_model

EPS = 1e-6
WEIGHTS = np.linspace(0, 1, 21)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _mix(y: np.ndarray, val: tuple, test: tuple, combine) -> np.ndarray:
    """Test predictions of combine(a, b, w), w chosen by validation log loss as `blend_weight`
    chooses it for the recipe's mix."""
    w = min(WEIGHTS, key=lambda w: _log_loss(y, combine(*val, w)))
    return combine(*test, w)


def predictions(run: Path) -> dict[str, np.ndarray]:
    """Each network's and the head's probabilities on the run's validation and test rows."""
    s = settings_from_record(json.loads((run / "recipe.json").read_text())["settings"])
    settings = training_settings(s, str(run / "embedding"))
    data = prepare_data(settings, PretrainedEmbedding.load(settings.embedding), quiet=True)
    train_rows, val_rows = validation_rows(settings, data)
    val, test = [], []
    for network_dir in network_dirs(s, run):
        model = network_alone(load_model(network_dir / "model"))  # the network alone
        val.append(model.predict(data.x_train[val_rows], batch_size=256).ravel())
        test.append(model.predict(data.x_test, batch_size=256).ravel())
    head, head_val = fit_linear_head(s, data.x_train, data.y_train, train_rows, val_rows)
    return {"val": np.array(val), "test": np.array(test), "head_val": head_val,
            "head_test": head.predict_proba(data.x_test), "y_val": data.y_train[val_rows],
            "y_test": data.y_test}


def rules(d: dict[str, np.ndarray]) -> dict[str, float]:
    y, yt = d["y_val"], d["y_test"]
    nv, nt = d["val"].mean(0), d["test"].mean(0)
    hv, ht = d["head_val"], d["head_test"]
    prob = lambda a, b, w: (1 - w) * a + w * b  # noqa: E731
    logit = lambda a, b, w: _sigmoid((1 - w) * _logit(a) + w * _logit(b))  # noqa: E731
    acc = lambda p: 100 * float(np.mean((p > 0.5) == yt))  # noqa: E731
    w = blend_weight(y, nv, hv)  # the recipe's own choice
    w1 = blend_weight(y, d["val"][0], hv)
    stack = LogisticRegression().fit(np.c_[_logit(nv), _logit(hv)], y)
    lv, lt = _logit(d["val"]).mean(0), _logit(d["test"]).mean(0)
    return {
        "prob": acc(prob(nt, ht, w)),
        "prob, w from network 1": acc(prob(nt, ht, w1)),
        "logit": acc(_mix(y, (nv, hv), (nt, ht), logit)),
        "logit of logits": acc(_mix(y, (_sigmoid(lv), hv), (_sigmoid(lt), ht), logit)),
        "stacking": acc(stack.predict_proba(np.c_[_logit(nt), _logit(ht)])[:, 1]),
        "best w on test": max(acc(prob(nt, ht, w)) for w in WEIGHTS),
    }


def main(runs: list[str]) -> None:
    table = {}
    for run in runs:
        table[run] = rules(predictions(Path(run)))
        print(run, {k: round(v, 2) for k, v in table[run].items()}, flush=True)
    names = list(next(iter(table.values())))
    print("| rule | " + " | ".join(Path(r).name for r in runs) + " | mean ± sd |")
    print("|---|" + "---|" * (len(runs) + 1))
    for name in names:
        values = [table[r][name] for r in runs]
        print(f"| {name} | " + " | ".join(f"{v:.2f}" for v in values)
              + f" | {np.mean(values):.2f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("runs", nargs="+", help="finished recipe runs (with --networks N)")
    main(parser.parse_args().runs)
