"""Keras's other optimizers and settings, against real Keras: Nadam, Adamax, Adagrad, Adadelta,
RMSprop's momentum and centred form, Adam's and AdamW's AMSGrad, SGD's momentum under a rate that
changes. Each trains as Keras's, keeps training where it stopped across `.keras` files both ways
and textrnn's folders, and counts its variables in summary() as Keras does."""

import keras
import numpy as np
import pytest
import torch

import textrnn
from textrnn.errors import ConfigError
from textrnn.training.optimizers import SGDOptimizer

RNG = np.random.default_rng(0)
X = RNG.integers(1, 50, (48, 15))
Y = (X[:, 0] > 25).astype("float32")

CASES = [
    ("Nadam", {"learning_rate": 0.02}),
    ("Adamax", {"learning_rate": 0.05}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adagrad", {"learning_rate": 0.1, "initial_accumulator_value": 0.5, "epsilon": 1e-3}),
    ("Adadelta", {"learning_rate": 1.0}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.9}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True, "clipnorm": 0.1}),
    ("Adam", {"learning_rate": 0.02, "beta_2": 0.9, "amsgrad": True}),  # (a short memory: v falls)
    ("AdamW", {"learning_rate": 0.02, "beta_2": 0.9, "amsgrad": True}),
]
# Settings of an optimizer textrnn had before: checked also to change the result
PLAIN = ("RMSprop", "Adam", "AdamW")


def _model(lib, optimizer, settings, seed=0):
    keras.utils.set_random_seed(seed)
    L = lib.layers
    model = lib.Sequential([lib.Input((15,), dtype="int32"), L.Embedding(50, 8), L.LSTM(6),
                            L.Dense(1, activation="sigmoid")])
    model.compile(getattr(lib.optimizers, optimizer)(**settings), "binary_crossentropy", metrics=["acc"])
    return model


def _pair(optimizer, settings):
    theirs, ours = _model(keras, optimizer, settings), _model(textrnn, optimizer, settings)
    ours.set_weights(theirs.get_weights())
    return theirs, ours


def _fit(model, epochs=2):
    return model.fit(X, Y, batch_size=8, epochs=epochs, shuffle=False, verbose=0).history["loss"]


def _assert_same_weights(ours, theirs, atol=1e-4):
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=atol)


@pytest.mark.parametrize("optimizer, settings", CASES)
def test_trains_as_kerass(optimizer, settings):
    theirs, ours = _pair(optimizer, settings)
    np.testing.assert_allclose(_fit(ours), _fit(theirs), rtol=1e-4)
    _assert_same_weights(ours, theirs)
    if optimizer in PLAIN:  # the setting acted: without it the weights end elsewhere
        plain = {k: v for k, v in settings.items() if k in ("learning_rate", "beta_2", "clipnorm")}
        other = _model(textrnn, optimizer, plain)
        other.set_weights(_model(keras, optimizer, plain).get_weights())
        _fit(other)
        assert max(np.abs(a - b).max() for a, b in zip(other.get_weights(), ours.get_weights())) > 1e-3


@pytest.mark.parametrize("optimizer, settings", [CASES[0], CASES[2], CASES[4], CASES[7], CASES[8]])
def test_training_goes_on_across_keras_files_and_folders(tmp_path, optimizer, settings):
    """The optimizer's variables (Nadam's momentum product, Adagrad's accumulators, RMSprop's
    three blocks, AMSGrad's highest velocities) cross both ways: one more epoch after loading is
    the epoch the saving model would have trained."""
    theirs, ours = _pair(optimizer, settings)
    _fit(theirs, 1)
    theirs.save(tmp_path / "k.keras")
    loaded = textrnn.models.load_model(tmp_path / "k.keras")
    assert loaded.compiled and loaded._optimizer_spec.options == ours._optimizer_spec.options
    np.testing.assert_allclose(_fit(loaded, 1), _fit(theirs, 1), rtol=1e-4)
    _assert_same_weights(loaded, theirs)

    loaded.save(tmp_path / "back.keras")  # textrnn -> Keras
    again = keras.saving.load_model(tmp_path / "back.keras")
    assert type(again.optimizer).__name__ == optimizer
    loaded.save(tmp_path / "folder")  # and textrnn's own folder
    folder = textrnn.models.load_model(tmp_path / "folder")
    expected = _fit(again, 1)
    np.testing.assert_allclose(_fit(loaded, 1), expected, rtol=1e-4)
    np.testing.assert_allclose(_fit(folder, 1), expected, rtol=1e-4)
    _assert_same_weights(folder, again)


@pytest.mark.parametrize("optimizer, settings", [CASES[0], CASES[3], CASES[7], CASES[9]])
def test_summary_counts_the_optimizers_variables_as_kerass(optimizer, settings):
    theirs, ours = _pair(optimizer, settings)
    for model in (theirs, ours):
        model.fit(X[:8], Y[:8], batch_size=8, epochs=1, verbose=0)
    lines = []
    for model in (theirs, ours):
        text = []
        model.summary(print_fn=text.append)
        lines.append([line for line in "\n".join(text).splitlines() if "params" in line])
    assert lines[0] == lines[1] and any("Optimizer params" in line for line in lines[1])


def test_the_cli_trains_with_keras_other_optimizers(tmp_path):
    from textrnn.cli import main

    code = main(["-q", "train", "lstm", "--data", "sample", "--epochs", "1", "--train-size", "64",
                 "--maxlen", "20", "--vocab-size", "300", "--units", "4", "--optimizer", "nadam",
                 "--out", str(tmp_path / "run")])
    assert code == 0
    assert textrnn.models.load_model(tmp_path / "run" / "model")._optimizer_spec.name == "nadam"


def test_settings_without_a_rule_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="Nadam: amsgrad=True is not supported"):
        textrnn.optimizers.Nadam(amsgrad=True)
    with pytest.raises(ConfigError, match="unknown optimizer 'ftrl'"):
        textrnn.Sequential([textrnn.layers.Dense(1)]).compile("ftrl", "mse")


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_follows_a_changing_rate_as_kerass(nesterov):
    """Keras keeps the rate inside SGD's momentum: a schedule, or a callback that lowers the rate,
    scales the steps after it only (torch's buffer of raw gradients would scale the whole history)."""
    def schedule(lib):
        return lib.optimizers.schedules.ExponentialDecay(0.3, 2, 0.5)

    models = [_model(lib, "SGD", {"learning_rate": schedule(lib), "momentum": 0.9, "nesterov": nesterov})
              for lib in (keras, textrnn)]
    models[1].set_weights(models[0].get_weights())
    np.testing.assert_allclose(_fit(models[1], 3), _fit(models[0], 3), rtol=1e-4)
    _assert_same_weights(*models[::-1])

    models = _pair("SGD", {"learning_rate": 0.3, "momentum": 0.9, "nesterov": nesterov})
    histories = []
    for model, lib in zip(models, (keras, textrnn)):
        lower = lib.callbacks.LearningRateScheduler(lambda epoch, rate: rate * 0.25 if epoch else rate)
        histories.append(model.fit(X, Y, batch_size=8, epochs=3, shuffle=False, verbose=0,
                                   callbacks=[lower]).history["loss"])
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-4)
    _assert_same_weights(*models[::-1])


def test_sgd_state_of_textrnn_0_1_is_read():
    """textrnn 0.1 kept torch's momentum buffer b; Keras's momentum is -rate x b."""
    weight = torch.nn.Parameter(torch.zeros(3))
    optimizer = SGDOptimizer([weight], lr=0.5, momentum=0.9)
    old = {"state": {0: {"momentum_buffer": torch.tensor([1.0, 2.0, 3.0])}},
           "param_groups": [{**optimizer.state_dict()["param_groups"][0], "dampening": 0}]}
    optimizer.load_state_dict(old)
    torch.testing.assert_close(optimizer.state[weight]["momentum"], torch.tensor([-0.5, -1.0, -1.5]))
    weight.grad = torch.zeros(3)
    optimizer.step()
    torch.testing.assert_close(weight.detach(), torch.tensor([-0.45, -0.9, -1.35]))
