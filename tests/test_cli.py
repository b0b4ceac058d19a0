"""The command line, end to end on small real data (the embedded sample and a CSV)."""

import io
import json

import numpy as np
import pytest

from textrnn.app.runs import TrainSettings, train_run
from textrnn.cli import main
from textrnn.models import load_model
from textrnn.training.callbacks import Callback

SMALL = ["--train-size", "240", "--maxlen", "40", "--vocab-size", "800", "--units", "8",
         "--batch-size", "32", "-q"]


def _cli(capsys, *argv):
    code = main([a for a in argv if a != "-q"] if "-q" not in argv else ["-q", *[a for a in argv
                                                                                 if a != "-q"]])
    out, err = capsys.readouterr()
    return code, out, err


def test_models_and_summary(capsys):
    code, out, _ = _cli(capsys, "models")
    assert code == 0 and [line.split()[0] for line in out.splitlines()] == [
        "simple-rnn", "lstm", "stacked-lstm", "bi-lstm", "gru", "bi-gru", "bi-lstm-pool", "bi-gru-pool"]
    code, out, _ = _cli(capsys, "summary", "stacked-lstm")
    assert "Total params: 344,993" in out and out.count("8,320") == 3
    code, out, _ = _cli(capsys, "summary", "bi-lstm")
    assert "Total params: 336,705" in out and "16,640" in out


def test_train_evaluate_predict_on_the_sample(capsys, tmp_path):
    run = tmp_path / "run"
    code, out, err = _cli(capsys, "train", "lstm", "--data", "sample", "--epochs", "2", "--out", str(run),
                          *SMALL)
    assert code == 0, err
    for name in ("run.json", "history.json", "metrics.json", "loss.png", "accuracy.png",
                 "model/config.json", "model/weights.safetensors", "model/vocab.json"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["n"] == 1000 and metrics["train_size"] == 240
    history = json.loads((run / "history.json").read_text())
    assert set(history) == {"acc", "loss", "val_acc", "val_loss"} and len(history["loss"]) == 2
    for curves in ("train", "validation"):  # for `tensorboard --logdir RUN_DIR/logs`
        assert list((run / "logs" / curves).glob("events.out.tfevents.*")), curves

    code, out, _ = _cli(capsys, "evaluate", str(run), "--json")
    report = json.loads(out)
    assert report["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert np.array(report["confusion_matrix"]).sum() == 1000

    code, out, _ = _cli(capsys, "predict", str(run), "A fine film.", "Awful.", "--json")
    rows = json.loads(out)
    assert [r["text"] for r in rows] == ["A fine film.", "Awful."]
    assert all(0 <= r["probability"] <= 1 and r["label"] in ("neg", "pos") for r in rows)
    # the same text gives the same probability from a file and from stdin
    f = tmp_path / "texts.txt"
    f.write_text("A fine film.\nAwful.\n")
    code, out2, _ = _cli(capsys, "predict", str(run), "--file", str(f), "--json")
    assert json.loads(out2) == rows

    code, out, _ = _cli(capsys, "summary", str(run))
    assert "embedding" in out and "Total params" in out


def test_predict_reads_stdin(capsys, tmp_path, monkeypatch):
    run = tmp_path / "run"
    _cli(capsys, "train", "gru", "--epochs", "1", "--out", str(run), *SMALL)
    monkeypatch.setattr("sys.stdin", io.StringIO("good\nbad\n"))
    code, out, _ = _cli(capsys, "predict", str(run), "--json")
    assert code == 0 and len(json.loads(out)) == 2


def test_train_on_a_csv_with_string_labels(capsys, tmp_path):
    rng = np.random.default_rng(0)
    words = {"pos": ["great", "fun", "superb"], "neg": ["dull", "awful", "boring"]}
    lines = ["review,sentiment"]
    for i in range(120):
        label = "positive" if i % 2 else "negative"
        pool = words["pos" if i % 2 else "neg"] + ["film", "plot", "the"]
        lines.append(" ".join(rng.choice(pool, size=8)) + f",{label}")
    data = tmp_path / "reviews.csv"
    data.write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    code, _, err = _cli(capsys, "train", "bi-gru", "--data", str(data), "--epochs", "6", "--maxlen", "10",
                        "--optimizer", "adam", "--lr", "0.01", "--out", str(run), "-q")
    assert code == 0, err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["classes"] == ["negative", "positive"]
    assert metrics["test"]["accuracy"] > 0.8
    code, out, _ = _cli(capsys, "evaluate", str(run), "--json")
    assert json.loads(out)["n"] == 24


class _Crash(Callback):
    def __init__(self, after_epoch):
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after_epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("embedding_lr", [None, 3e-4])  # with it, the optimizer has two groups
def test_resume_finishes_exactly_like_an_uninterrupted_run(capsys, tmp_path, embedding_lr):
    settings = TrainSettings(model="lstm", data="sample", epochs=4, train_size=200, maxlen=30,
                             vocab_size=600, units=6, seed=3, patience=0, dropout=0.3,
                             embedding_lr=embedding_lr)
    train_run(settings, tmp_path / "straight", verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train_run(settings, tmp_path / "broken", verbose=0, callbacks=[_Crash(after_epoch=1)])
    state = json.loads((tmp_path / "broken/checkpoint/state.json").read_text())
    assert state["progress"]["epochs_done"] == 2
    code, _, err = _cli(capsys, "train", "--resume", str(tmp_path / "broken"), "-q")
    assert code == 0, err
    a = load_model(tmp_path / "straight/model")
    b = load_model(tmp_path / "broken/model")
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    ha = json.loads((tmp_path / "straight/history.json").read_text())
    hb = json.loads((tmp_path / "broken/history.json").read_text())
    assert ha == hb and len(ha["loss"]) == 4


def test_compare_writes_table_and_plot(capsys, tmp_path):
    out = tmp_path / "cmp"
    code, stdout, err = _cli(capsys, "compare", "simple-rnn", "gru", "--epochs", "1", "--out", str(out),
                             *SMALL)
    assert code == 0, err
    table = (out / "compare.md").read_text()
    assert "| simple-rnn |" in table and "| gru |" in table
    assert (out / "val_accuracy.png").stat().st_size > 1000


def test_errors_are_one_line_with_exit_code_2(capsys, tmp_path):
    code, _, err = _cli(capsys, "train", "lstm", "--data", str(tmp_path / "nope.csv"), "-q")
    assert code == 2 and err.count("\n") == 1 and "nope.csv" in err
    code, _, err = _cli(capsys, "train", "transformer", "-q")
    assert code == 2 and "unknown model 'transformer'" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,1\nworse,\n")
    code, _, err = _cli(capsys, "train", "lstm", "--data", str(bad), "-q")
    assert code == 2 and "line 3" in err and "label" in err
    code, _, err = _cli(capsys, "evaluate", str(tmp_path))
    assert code == 2 and "not a saved textrnn model" in err
    run = tmp_path / "run"
    _cli(capsys, "train", "lstm", "--epochs", "1", "--out", str(run), *SMALL)
    code, _, err = _cli(capsys, "train", "lstm", "--epochs", "1", "--out", str(run), *SMALL)
    assert code == 2 and "already holds a run" in err


def test_demo_runs(capsys, tmp_path):
    code, out, err = _cli(capsys, "demo", "--epochs", "1", "--maxlen", "30", "--out", str(tmp_path / "d"),
                          "-q")
    assert code == 0, err
    assert "test accuracy" not in err and (tmp_path / "d/metrics.json").is_file()
