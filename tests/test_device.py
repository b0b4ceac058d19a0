"""Device selection: one resolution rule, models placed on first use, batches following the weights,
the CPU kernels declining elsewhere. CUDA cases run where a GPU is present (skipped here with a reason)."""

import numpy as np
import pytest
import torch

from textrnn import layers as L
from textrnn.backend import kernels
from textrnn.backend.device import ENV, resolve
from textrnn.cli import main
from textrnn.errors import ConfigError
from textrnn.models import Sequential, load_model

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device on this machine")


@pytest.fixture(autouse=True)
def _no_tf32():
    """Parity at 1e-4 needs float32 products: cuDNN's default TF32 keeps 10 bits of mantissa."""
    flags = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = flags


def _model():
    torch.manual_seed(0)
    m = Sequential([L.Embedding(30, 8), L.Bidirectional(L.LSTM(8, return_sequences=True)), L.LSTM(8),
                    L.Dense(1, activation="sigmoid")])
    m.build((None, 12))  # the weights drawn now, from this seed
    m.compile("rmsprop", "binary_crossentropy", ["acc"])
    return m


def _data(n=48):
    rng = np.random.default_rng(0)
    return rng.integers(1, 30, size=(n, 12)), rng.integers(0, 2, size=n)


def test_resolve_reads_the_spec_then_the_environment(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert resolve("cpu") == torch.device("cpu")
    assert resolve("auto") == torch.device("cuda" if CUDA else "cpu")
    assert resolve(None) == resolve("auto")
    monkeypatch.setenv(ENV, "cpu")
    assert resolve(None) == torch.device("cpu")
    for bad, message in (("tpu", "unknown device"), ("mps", "cpu or cuda"), ("cuda:99", "CUDA device")):
        with pytest.raises(ConfigError, match=message):
            resolve(bad)


@pytest.mark.skipif(CUDA, reason="checks the message of a machine without CUDA")
def test_asking_for_cuda_without_one_is_one_line(tmp_path, capsys):
    with pytest.raises(ConfigError, match="no CUDA device"):
        resolve("cuda")
    assert main(["train", "lstm", "--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # refused before anything was written


@pytest.mark.skipif(CUDA, reason="auto is CUDA here; the CUDA tests below compare it with the CPU")
def test_an_explicit_cpu_device_takes_the_same_path(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    x, y = _data()
    default, explicit = _model(), _model().to_device("cpu")
    assert explicit.device == torch.device("cpu")
    moved = _model()
    assert moved.device.type == "cpu"
    moved.to("meta")  # PyTorch's own move: the model's device (read for every batch) follows it
    assert moved.device.type == "meta"
    for model in (default, explicit):
        model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(default.get_weights(), explicit.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(default.predict(x), explicit.predict(x))


def test_the_cli_device_option_holds_for_one_command(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    out = tmp_path / "run"
    assert main(["train", "lstm", "--data", "sample", "--train-size", "200", "--maxlen", "20", "--epochs",
                 "1", "--vocab-size", "500", "--device", "cpu", "--out", str(out), "-q"]) == 0
    import os

    assert ENV not in os.environ  # put back as it was
    assert load_model(out / "model").device == torch.device("cpu")


def test_textrnns_cpu_kernels_decline_on_other_devices():
    layer = L.LSTM(16)
    layer.build((None, 5, 16))
    if layer.own_kernel() is None:
        pytest.skip("textrnn's kernels are not built here")
    layer.to("meta")  # any device but the CPU: PyTorch's fused kernels (cuDNN on CUDA) run instead
    assert layer.own_kernel() is None


@needs_cuda
def test_cuda_training_matches_the_cpu_and_saves_device_free(tmp_path, recwarn):
    x, y = _data()
    cpu, gpu = _model().to_device("cpu"), _model().to_device("cuda")
    for model in (cpu, gpu):
        model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert not [w for w in recwarn if "contiguous chunk" in str(w.message)]  # cuDNN's compaction note
    for a, b in zip(cpu.get_weights(), gpu.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-4)
    np.testing.assert_allclose(cpu.predict(x), gpu.predict(x), atol=1e-4)
    gpu.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert next(loaded.parameters()).device.type == "cpu"
    loaded.to_device("cuda").fit(x, y, epochs=1, verbose=0)  # optimizer state follows the weights
    from textrnn.interop.onnx_export import export_onnx

    export_onnx(gpu, tmp_path / "m.onnx")  # traced where the model is
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_own_kernels_run_only_on_cpu_tensors_outside_a_trace():
    """kernels.runs_on is the one rule the layers, the embedding's gradient and the direct step
    ask: off the CPU (here a meta tensor stands for a GPU one) PyTorch's kernels must run."""
    cpu, elsewhere = torch.zeros(2), torch.zeros(2, device="meta")
    assert kernels.runs_on(cpu) == kernels.available()
    assert not kernels.runs_on(cpu, elsewhere) and not kernels.runs_on(elsewhere)
    layer = L.LSTM(4)
    layer.build((None, 3, 2))
    layer.to("meta")
    assert layer.own_kernel() is None


@needs_cuda
@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_cuda_mixed_precision_stays_close_to_the_cpus_float32(policy):
    from textrnn.training import precision

    x, y = _data()
    cpu, gpu = _model().to_device("cpu"), _model().to_device("cuda")
    gpu.dtype_policy = policy
    for model in (cpu, gpu):
        model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert all(w.dtype == torch.float32 for w in gpu.weights)
    np.testing.assert_allclose(cpu.predict(x), gpu.predict(x), atol=2e-2)
    assert precision.global_policy().name == "float32"


def test_torchrun_on_gpus_joins_nccl_with_gloo_for_the_cpu_tensors(monkeypatch):
    """Epoch means and rank 0's decisions are CPU tensors, which nccl cannot carry."""
    from torch import distributed as dist

    from textrnn.training import distributed

    joined = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv(ENV, "cpu")
    monkeypatch.setattr("textrnn.backend.device.resolve", lambda spec: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: joined.setdefault("device", device))
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend: joined.setdefault("backend", backend))
    assert distributed.init_from_env()
    assert joined == {"device": torch.device("cuda", 1), "backend": "cpu:gloo,cuda:nccl"}
    import os

    assert os.environ[ENV] == "cuda:1"


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=needs_cuda)])
def test_stateful_layers_and_masked_sequence_losses_follow_the_model(device):
    """Held states made on the CPU (or set from arrays) go on from where they are on `device`; a
    tagger's masked loss trains there as on the CPU."""
    def stateful():
        torch.manual_seed(0)
        return Sequential([L.Input(batch_shape=(4, 12), dtype="int32"), L.Embedding(30, 8),
                           L.LSTM(8, stateful=True), L.Dense(1, activation="sigmoid")])

    x, _ = _data(8)
    cpu, moved = stateful().to_device("cpu"), stateful().to_device("cpu")
    for model in (cpu, moved):
        model.predict(x[:4], batch_size=4)
    moved.to_device(device)
    for rows in (slice(4, 8), slice(0, 4)):  # on from the held states; then from states set by hand
        np.testing.assert_allclose(moved.predict(x[rows], batch_size=4), cpu.predict(x[rows], batch_size=4),
                                   atol=1e-5)
        moved.layers[1].reset_states([np.full((4, 8), 0.1, "float32"), np.zeros((4, 8), "float32")])
        cpu.layers[1].reset_states([np.full((4, 8), 0.1, "float32"), np.zeros((4, 8), "float32")])

    def tagger():
        torch.manual_seed(0)
        m = Sequential([L.Embedding(30, 8, mask_zero=True), L.LSTM(8, return_sequences=True),
                        L.Dense(3, activation="softmax")])
        m.build((None, 12))
        m.compile("rmsprop", "sparse_categorical_crossentropy", ["acc"])
        return m

    ids = x.copy()
    ids[::2, 8:] = 0  # padded rows
    tags = ids % 3
    histories = [m.fit(ids, tags, epochs=2, batch_size=4, shuffle=False, verbose=0).history
                 for m in (tagger().to_device("cpu"), tagger().to_device(device))]
    np.testing.assert_allclose(histories[1]["loss"], histories[0]["loss"], rtol=1e-4)
    np.testing.assert_allclose(histories[1]["acc"], histories[0]["acc"], atol=1e-6)


def test_the_prepared_gpu_check_runs_through_on_the_cpu(tmp_path):
    """benchmarks/gpu_check.py is what a lent GPU machine runs, once: here it runs against itself
    on the CPU (small arrays in its saved format), so that the script cannot rot unseen."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    rng = np.random.default_rng(0)
    arrays = tmp_path / "imdb.npz"
    np.savez_compressed(arrays, x_train=rng.integers(0, 10_000, (64, 500)).astype(np.uint16),
                        y_train=rng.integers(0, 2, 64).astype(np.uint8),
                        x_test=rng.integers(0, 10_000, (64, 500)).astype(np.uint16),
                        y_test=rng.integers(0, 2, 64).astype(np.uint8))
    root = Path(__file__).parent.parent
    command = [sys.executable, "benchmarks/gpu_check.py", "--device", "cpu", "--arrays", str(arrays),
               "--models", "lstm", "bi-gru-pool", "--policies", "float32", "mixed_bfloat16", "--steps", "2"]
    out = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(root / "src")})
    assert out.returncode == 0, out.stderr[-2000:]
    for model in ("lstm", "bi-gru-pool"):
        assert f"| {model} | 0.00e+00 | 0.00e+00 | yes |" in out.stdout
    for policy in ("float32", "mixed_bfloat16"):
        row = next(line for line in out.stdout.splitlines() if line.startswith(f"| textrnn {policy} |"))
        assert "failed" not in row and float(row.split("|")[3]) >= 0.0
