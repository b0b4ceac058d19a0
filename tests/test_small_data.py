"""Runs with few labelled rows say what their figures do not: a model that predicts one class, a
validation set too small to pick the best epoch by."""

import json

import numpy as np

from textrnn.app.runs import SMALL_VALIDATION, TrainSettings, run_warnings
from textrnn.cli import main


class _Data:
    classes = ["neg", "pos"]

    def __init__(self, n_train):
        self.x_train = np.zeros((n_train, 5), dtype="int64")


def test_a_model_that_predicts_one_class_is_named():
    settings = TrainSettings(model="lstm", val_split=0.2)
    progress = {"epochs_done": 3}
    one_class = run_warnings(settings, _Data(5000), np.full((100, 1), 0.4), progress)
    assert len(one_class) == 1 and "'neg' for all 100 test texts" in one_class[0]
    both = np.concatenate([np.full((50, 1), 0.4), np.full((50, 1), 0.6)])
    assert run_warnings(settings, _Data(5000), both, progress) == []


def test_a_small_validation_set_is_named():
    settings = TrainSettings(model="lstm", val_split=0.2)
    both = np.array([[0.2], [0.8]])
    small = run_warnings(settings, _Data(250), both, {"epochs_done": 1})
    assert len(small) == 1 and "only 50 rows" in small[0] and "7.1 points" in small[0]
    assert run_warnings(settings, _Data(5 * SMALL_VALIDATION), both, {"epochs_done": 1}) == []


def test_the_cli_prints_and_records_the_warnings(capsys, tmp_path):
    run = tmp_path / "run"
    code = main(["train", "lstm", "--train-size", "100", "--maxlen", "20", "--vocab-size", "300",
                 "--units", "8", "--epochs", "1", "--out", str(run), "-q"])
    err = capsys.readouterr().err
    assert code == 0
    recorded = json.loads((run / "metrics.json").read_text())["warnings"]
    assert any("validation holds only 20 rows" in w for w in recorded)
    assert all(f"textrnn: warning: {w}" in err for w in recorded)
