"""torchrun with 2 CPU processes on 127.0.0.1 computes what one process computes."""

import json
import os
import socket
import subprocess
import sys

import numpy as np

from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.models import load_model

ARGS = ["lstm", "--data", "sample", "--train-size", "256", "--maxlen", "40", "--vocab-size", "800",
        "--units", "8", "--dropout", "0", "--epochs", "3", "--patience", "0", "--seed", "1", "-q"]


def _port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def _torchrun(*argv):
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr",
           "127.0.0.1", "--master-port", _port(), "-m", "textrnn", *argv]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_two_processes_match_one_with_the_same_global_batch(tmp_path):
    single = subprocess.run([sys.executable, "-m", "textrnn", "train", *ARGS, "--out", str(tmp_path / "one")],
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr
    _torchrun("train", *ARGS, "--out", str(tmp_path / "two"))
    one = json.loads((tmp_path / "one/history.json").read_text())
    two = json.loads((tmp_path / "two/history.json").read_text())
    for key in ("loss", "acc", "val_loss", "val_acc"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5, atol=1e-6)
    # only rank 0 wrote, and the checkpoint loads in a single process
    a, b = load_model(tmp_path / "one/model"), load_model(tmp_path / "two/model")
    x = np.random.default_rng(0).integers(0, 800, size=(5, 40))
    np.testing.assert_allclose(b.predict(x), a.predict(x), atol=1e-5)
    assert not list(tmp_path.glob("two/*.tmp"))


def test_language_model_pretraining_under_torchrun(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(["a good film with good actors", "a bad film with a bad plot"] * 60))
    _torchrun("pretrain", "--method", "lm", "--corpus", str(corpus), "--vocab", "corpus",
              "--vocab-size", "20", "--dim", "4", "--units", "8", "--seq-len", "8", "--epochs", "2",
              "--out", str(tmp_path / "emb"), "-q")
    emb = PretrainedEmbedding.load(tmp_path / "emb")
    assert emb.matrix.shape == (20, 4) and emb.card["steps"] > 0


def test_resumed_torchrun_run_ends_where_the_uninterrupted_one_does(tmp_path):
    """A 2-process run resumed from its last checkpoint (here: a 2-epoch run whose run.json then
    asks for 3, as if it had been stopped after epoch 2) ends with the weights and history of a
    3-epoch run that was never stopped: rank 0's checkpoint restores every rank."""
    _torchrun("train", *ARGS, "--out", str(tmp_path / "straight"))
    two_epochs = [*ARGS]
    two_epochs[two_epochs.index("--epochs") + 1] = "2"
    _torchrun("train", *two_epochs, "--out", str(tmp_path / "resumed"))
    settings_file = tmp_path / "resumed/run.json"
    settings = json.loads(settings_file.read_text())
    assert settings["epochs"] == 2
    settings_file.write_text(json.dumps({**settings, "epochs": 3}))
    _torchrun("train", "--resume", str(tmp_path / "resumed"), "-q")
    straight = json.loads((tmp_path / "straight/history.json").read_text())
    resumed = json.loads((tmp_path / "resumed/history.json").read_text())
    assert resumed == straight and len(straight["loss"]) == 3
    a, b = load_model(tmp_path / "straight/model"), load_model(tmp_path / "resumed/model")
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wb, wa)
