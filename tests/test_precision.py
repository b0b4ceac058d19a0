"""Mixed precision as Keras's dtype policies: the policies and the loss scaling held to real Keras's,
training under bf16 / fp16 close to float32 with float32 weights, textrnn's float32 kernels stepping
aside under autocast. On the CPU this runs the path a GPU runs (autocast, GradScaler)."""

import json
import threading

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn import layers as L
from textrnn.app.runs import TrainSettings, train_run
from textrnn.backend import kernels
from textrnn.cli import main
from textrnn.errors import ConfigError
from textrnn.models import Sequential, load_model
from textrnn.training import precision
from textrnn.training.callbacks import Callback


@pytest.fixture(autouse=True)
def _float32_after():
    yield
    precision.set_global_policy("float32")
    keras.mixed_precision.set_global_policy("float32")


def _model(policy="float32"):
    precision.set_global_policy(policy)
    torch.manual_seed(0)
    model = Sequential([L.Embedding(50, 8, mask_zero=True), L.Bidirectional(L.LSTM(8, return_sequences=True)),
                        L.GRU(8, dropout=0.2), L.Dense(1, activation="sigmoid")])
    model.build((None, 12))
    model.compile("rmsprop", "binary_crossentropy", ["acc"])
    precision.set_global_policy("float32")
    return model


def _data(n=64):
    rng = np.random.default_rng(0)
    x = rng.integers(1, 50, size=(n, 12))
    x[::3, :4] = 0  # some padding, through the masked path
    return x, (x[:, -1] > 25).astype("float32")


@pytest.mark.parametrize("name", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_the_policies_are_kerass(name):
    ours, theirs = precision.DTypePolicy(name), keras.mixed_precision.DTypePolicy(name)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == (
        theirs.name, theirs.compute_dtype, theirs.variable_dtype)
    assert repr(ours) == repr(theirs)


def test_the_loss_scale_is_kerass_loss_scale_optimizer():
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile("rmsprop", "binary_crossentropy")
    config = model.optimizer.get_config()
    assert precision.LOSS_SCALE == {"init_scale": config["initial_scale"],
                                    "growth_interval": config["dynamic_growth_steps"]}


def test_names_short_names_and_bad_names():
    assert precision.policy_name("bf16") == "mixed_bfloat16"
    assert precision.policy_name(precision.Policy("fp16")) == "mixed_float16"
    with pytest.raises(ConfigError, match="unknown dtype policy 'float8'"):
        precision.set_global_policy("float8")
    assert textrnn.mixed_precision.set_global_policy is precision.set_global_policy  # Keras's path


def test_a_model_takes_the_policy_in_force_when_made_or_loaded(tmp_path):
    textrnn.mixed_precision.set_global_policy("mixed_bfloat16")
    assert _model("mixed_bfloat16").dtype_policy.name == "mixed_bfloat16"
    model = _model("mixed_bfloat16")
    model.save(tmp_path / "m")  # float32 weights, no policy
    assert load_model(tmp_path / "m").dtype_policy.name == "float32"
    precision.set_global_policy("fp16")
    assert load_model(tmp_path / "m").dtype_policy.name == "mixed_float16"
    model.dtype_policy = "float32"
    assert model.dtype_policy == precision.DTypePolicy("float32")


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_training_stays_close_to_float32_with_float32_weights(policy):
    x, y = _data()
    exact, mixed = _model(), _model(policy)
    for model in (exact, mixed):
        torch.manual_seed(1)
        model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert all(w.dtype == torch.float32 for w in mixed.weights)
    out = mixed.predict(x)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out, exact.predict(x), atol=2e-2)
    assert not np.array_equal(out, exact.predict(x))  # it did compute in lower precision
    loss, acc = mixed.evaluate(x, y, verbose=0)
    assert 0 < loss < 1 and 0 <= acc <= 1


def test_float16_skips_a_step_whose_gradients_overflow_and_halves_the_scale():
    x, y = _data(16)
    model = _model("mixed_float16")
    model.train_on_batch(x, y)
    scaler = model.loss_scaler()
    assert scaler.get_scale() == 2.0 ** 15
    before = [w.detach().clone() for w in model.weights]
    hook = model.layers[-1].kernel.register_hook(lambda grad: grad * float("inf"))
    model.train_on_batch(x, y)
    hook.remove()
    assert all(torch.equal(a, b) for a, b in zip(before, model.weights))  # the step was skipped
    assert scaler.get_scale() == 2.0 ** 14
    model.train_on_batch(x, y)
    assert not all(torch.equal(a, b) for a, b in zip(before, model.weights))


def test_textrnns_float32_kernels_step_aside_under_autocast():
    cpu = torch.zeros(2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not kernels.runs_on(cpu)
    assert kernels.runs_on(cpu) == kernels.available()


def test_onednn_is_switched_off_while_any_thread_needs_it_off_and_back_on_after():
    """Under a mixed policy on a CPU without oneDNN's bfloat16 RNN the fused call runs with oneDNN
    off (a process-wide switch): overlapping calls from a server's threads leave it as it was."""
    from textrnn.backend.sequence import _without_onednn

    before = torch.backends.mkldnn.enabled
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        with _without_onednn():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with _without_onednn():
            second_in.set()
            first_out.wait(5)
            seen.append(torch.backends.mkldnn.enabled)  # the first is out, this one still in

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == [False]
    assert torch.backends.mkldnn.enabled == before


def test_the_cli_precision_option_holds_for_one_command(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "lstm", "--data", "sample", "--train-size", "200", "--maxlen", "20", "--epochs",
                 "1", "--vocab-size", "500", "--precision", "bf16", "--out", str(out), "-q"]) == 0
    assert precision.global_policy().name == "float32"  # put back as it was
    assert main(["--precision", "fp16", "evaluate", str(out), "-q"]) == 0
    with pytest.raises(SystemExit):  # argparse's choices
        main(["train", "lstm", "--precision", "fp8", "--out", str(tmp_path / "r")])


class _Crash(Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_a_float16_run_resumes_under_its_policy_and_loss_scale(tmp_path, capsys):
    settings = dict(model="lstm", data="sample", epochs=4, train_size=200, maxlen=30, vocab_size=600,
                    units=6, seed=3, patience=0)
    precision.set_global_policy("fp16")  # as --precision fp16 does for one command
    train_run(TrainSettings(**settings), tmp_path / "straight", verbose=0)
    with pytest.raises(KeyboardInterrupt):
        train_run(TrainSettings(**settings), tmp_path / "broken", verbose=0, callbacks=[_Crash()])
    precision.set_global_policy("float32")
    assert json.loads((tmp_path / "broken/run.json").read_text())["precision"] == "mixed_float16"
    assert main(["train", "--resume", str(tmp_path / "broken"), "--precision", "bf16", "-q"]) == 2
    assert "trained under mixed_float16" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "broken"), "-q"]) == 0  # goes on under float16
    for a, b in zip(load_model(tmp_path / "straight/model").get_weights(),
                    load_model(tmp_path / "broken/model").get_weights()):
        np.testing.assert_array_equal(a, b)
    scales = [json.loads((tmp_path / run / "checkpoint/state.json").read_text())["progress"]["loss_scale"]
              for run in ("straight", "broken")]
    assert scales[0] == scales[1] and scales[0]["_growth_tracker"] > 0  # steps since the last growth


def test_a_layer_given_a_dtype_computes_in_it_whatever_the_models_policy():
    """Keras's mixed precision guide keeps the output layer in float32 (dtype="float32"); a layer
    given a mixed policy in a float32 model computes in it (and the direct step steps aside)."""
    x = np.random.default_rng(0).normal(size=(8, 64)).astype("float32")
    for model_policy, layer_dtype, exact in (("mixed_bfloat16", None, False),
                                             ("mixed_bfloat16", "float32", True),
                                             ("float32", "mixed_bfloat16", False), ("float32", None, True)):
        precision.set_global_policy(model_policy)
        inputs = textrnn.Input((64,))
        dense = L.Dense(32, dtype=layer_dtype)
        model = textrnn.Model(inputs, dense(inputs))
        w, b = dense.get_weights()
        error = np.abs(model.predict(x) - (x @ w + b)).max()
        assert (error < 1e-5) == exact, (model_policy, layer_dtype, error)
        keras.mixed_precision.set_global_policy(model_policy)
        theirs = keras.layers.Dense(32, dtype=layer_dtype)
        assert (dense.dtype_policy.name, dense.compute_dtype) == (theirs.dtype_policy.name,
                                                                  theirs.compute_dtype)
        assert L.Dense.from_config(dense.get_config()).dtype_policy == dense.dtype_policy
    precision.set_global_policy("float32")
    model = _model()
    model.layers[-1]._own_policy = "mixed_float16"
    assert model._direct_step() is None
    with pytest.raises(ConfigError, match="dtype 'float16'|dtype policy 'float16'"):
        L.Dense(1, dtype="float16")


def _keras_mixed_model():
    """Keras's mixed precision guide's shape: mixed_float16 layers, the softmax kept in float32."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12,), dtype="int32"), keras.layers.Embedding(50, 8),
                              keras.layers.LSTM(8), keras.layers.Dense(3),
                              keras.layers.Activation("softmax", dtype="float32")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_keras_mixed_float16_files_cross_both_ways_with_policies_and_loss_scale(tmp_path):
    x = np.random.default_rng(0).integers(1, 50, size=(64, 12))
    y = x[:, 0] % 3
    theirs = _keras_mixed_model()
    theirs.fit(x, y, epochs=1, batch_size=16, verbose=0)
    theirs.save(tmp_path / "k.keras")
    keras.mixed_precision.set_global_policy("float32")

    ours = load_model(tmp_path / "k.keras")  # under float32: the file's policies are the model's
    assert ours.dtype_policy.name == "mixed_float16"
    assert [layer._own_policy for layer in ours.layers] == [None, None, None, "float32"]
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=1e-4)
    scale = ours.loss_scaler().state_dict()
    lso = theirs.optimizer
    assert (scale["scale"], scale["_growth_tracker"]) == (float(lso.dynamic_scale.numpy()),
                                                        int(lso.step_counter.numpy()))
    state = ours.optimizer.state[ours.trainable_weights[0]]
    assert state["step"] == int(lso.iterations.numpy()) == 4
    np.testing.assert_allclose(state["m"].numpy(), lso.inner_optimizer.variables[2].numpy(), atol=1e-7)

    ours.fit(x, y, epochs=1, batch_size=16, verbose=0)  # trains on under loss scaling
    ours.save(tmp_path / "ours.keras")
    keras.mixed_precision.set_global_policy("mixed_float16")  # as a Keras user loads a mixed model
    back = keras.models.load_model(tmp_path / "ours.keras")
    assert [layer.dtype_policy.name for layer in back.layers] == [
        "mixed_float16", "mixed_float16", "mixed_float16", "float32"]
    assert type(back.optimizer).__name__ == "LossScaleOptimizer"
    assert int(back.optimizer.iterations.numpy()) == 8
    assert int(back.optimizer.step_counter.numpy()) == ours.loss_scaler().state_dict()["_growth_tracker"] == 8
    np.testing.assert_allclose(back.predict(x, verbose=0), ours.predict(x), atol=1e-4)


def test_a_keras_model_saved_before_its_first_step_loads_compiled(tmp_path):
    keras.utils.set_random_seed(0)
    theirs = keras.Sequential([keras.Input((12,), dtype="int32"), keras.layers.Embedding(50, 8),
                               keras.layers.GRU(8), keras.layers.Dense(1, activation="sigmoid")])
    theirs.compile(keras.optimizers.RMSprop(learning_rate=0.003), "binary_crossentropy", metrics=["acc"])
    theirs.save(tmp_path / "k.keras")  # the optimizer holds its step count and rate only
    ours = load_model(tmp_path / "k.keras")
    assert ours.compiled and ours.optimizer.param_groups[0]["lr"] == pytest.approx(0.003)
    assert ours.dtype_policy.name == "float32" and all(layer._own_policy is None for layer in ours.layers)


def test_a_mixed_float16_model_crosses_an_h5_file_with_its_loss_scale(tmp_path):
    x, y = _data()
    ours = _model("mixed_float16")
    ours.fit(x, y, epochs=1, batch_size=16, verbose=0)
    ours.save(tmp_path / "model.h5")  # Keras's LossScaleOptimizer variables first, as Keras writes them
    back = load_model(tmp_path / "model.h5")
    assert back.dtype_policy.name == "mixed_float16"
    assert back.loss_scaler().state_dict() == ours.loss_scaler().state_dict()
    assert back.optimizer.iterations == ours.optimizer.iterations == 4
    first = ours.trainable_weights[0]
    np.testing.assert_array_equal(back.optimizer.state[back.trainable_weights[0]]["velocity"].numpy(),
                                  ours.optimizer.state[first]["velocity"].numpy())
    keras.mixed_precision.set_global_policy("mixed_float16")
    theirs = keras.models.load_model(tmp_path / "model.h5")
    np.testing.assert_allclose(theirs.predict(x, verbose=0), ours.predict(x), atol=1e-3)
