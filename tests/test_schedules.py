"""`keras.optimizers.schedules` and the optimizer's learning rate against real Keras: every
schedule's rate per step, training under a schedule (history and weights), the step count crossing
`.keras` files and textrnn's folders so that the schedule goes on where it was, and
`model.optimizer.learning_rate` read and set from a callback, and right after compile, as Keras
code does."""

import keras
import numpy as np
import pytest

import textrnn
from textrnn.errors import ConfigError

RNG = np.random.default_rng(0)
X = RNG.integers(1, 30, (40, 8))
Y = (X[:, 0] > 15).astype("float32")

SCHEDULES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.05, "decay_steps": 4, "decay_rate": 0.7}),
    ("ExponentialDecay", {"initial_learning_rate": 0.05, "decay_steps": 4, "decay_rate": 0.7,
                          "staircase": True}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.05, "decay_steps": 3, "decay_rate": 0.5}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.05, "decay_steps": 3, "decay_rate": 0.5,
                          "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [3, 8], "values": [0.05, 0.02, 0.005]}),
    ("PolynomialDecay", {"initial_learning_rate": 0.05, "decay_steps": 7, "power": 2.0}),
    ("PolynomialDecay", {"initial_learning_rate": 0.05, "decay_steps": 7, "end_learning_rate": 0.01,
                         "cycle": True}),
    ("CosineDecay", {"initial_learning_rate": 0.05, "decay_steps": 9, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.001, "decay_steps": 9, "warmup_target": 0.05,
                     "warmup_steps": 4}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.05, "first_decay_steps": 3}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.05, "first_decay_steps": 4, "t_mul": 1.0,
                             "m_mul": 0.5, "alpha": 0.1}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.05, "first_decay_steps": 2, "t_mul": 1.5,
                             "m_mul": 0.8}),
]


@pytest.mark.parametrize("name, config", SCHEDULES)
def test_schedules_give_kerass_rates(name, config):
    theirs = getattr(keras.optimizers.schedules, name)(**config)
    ours = getattr(textrnn.optimizers.schedules, name)(**config)
    for step in range(30):
        expected = float(keras.ops.convert_to_numpy(theirs(step)))
        assert ours(step) == pytest.approx(expected, rel=1e-5), step
    back = keras.optimizers.schedules.deserialize(textrnn.optimizers.schedules.serialize(ours))
    assert back.get_config() == theirs.get_config()


def _pair(optimizer, name, config):
    keras.utils.set_random_seed(0)
    models = []
    for lib in (keras, textrnn):
        L = lib.layers
        model = lib.Sequential([lib.Input((8,), dtype="int32"), L.Embedding(30, 8), L.LSTM(6),
                                L.Dense(1, activation="sigmoid")])
        schedule = getattr(lib.optimizers.schedules, name)(**config)
        model.compile(getattr(lib.optimizers, optimizer)(learning_rate=schedule), "binary_crossentropy",
                      metrics=["acc"])
        models.append(model)
    models[1].set_weights(models[0].get_weights())
    return models


@pytest.mark.parametrize("optimizer, schedule", [("Adam", 0), ("RMSprop", 8), ("SGD", 4), ("AdamW", 6),
                                                 ("Adam", 9)])
def test_training_under_a_schedule_is_kerass(optimizer, schedule, tmp_path):
    theirs, ours = _pair(optimizer, *SCHEDULES[schedule])
    history = [m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"]
               for m in (theirs, ours)]
    np.testing.assert_allclose(history[1], history[0], rtol=1e-4)
    assert ours.optimizer.iterations == int(keras.ops.convert_to_numpy(theirs.optimizer.iterations)) == 10
    assert float(ours.optimizer.learning_rate) == pytest.approx(
        float(keras.ops.convert_to_numpy(theirs.optimizer.learning_rate)), rel=1e-5)

    theirs.save(tmp_path / "k.keras")  # the schedule and the step count cross: training goes on
    from_keras = textrnn.models.load_model(tmp_path / "k.keras")
    assert from_keras.optimizer.iterations == 10
    ours.save(tmp_path / "folder")
    from_folder = textrnn.models.load_model(tmp_path / "folder")
    ours.save(tmp_path / "t.keras")
    back = keras.saving.load_model(tmp_path / "t.keras")
    assert int(keras.ops.convert_to_numpy(back.optimizer.iterations)) == 10
    after = [m.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"]
             for m in (theirs, from_keras, from_folder, back)]
    for figures in after[1:]:
        np.testing.assert_allclose(figures, after[0], rtol=1e-4)


def test_a_scheduled_rate_cannot_be_set_as_in_keras():
    _, ours = _pair("Adam", *SCHEDULES[0])
    ours.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(ConfigError, match="follows a schedule"):
        ours.optimizer.learning_rate.assign(0.1)
    scheduler = textrnn.callbacks.LearningRateScheduler(lambda epoch, rate: rate / 2)
    with pytest.raises(ConfigError, match="follows a schedule"):
        ours.fit(X, Y, epochs=1, verbose=0, callbacks=[scheduler])


class _Halve:
    """A callback as published Keras code writes one: the rate read and set on the optimizer."""

    def __init__(self, lib, style):
        self.lib, self.style, self.rates = lib, style, []

    def __call__(self):
        lib, style, rates = self.lib, self.style, self.rates

        class Halve(lib.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                optimizer = self.model.optimizer
                if style == "keras3":
                    rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate)) if lib is keras \
                        else float(optimizer.learning_rate)
                    optimizer.learning_rate.assign(rate / 2)
                else:  # Keras 2's backend functions
                    rate = float(lib.backend.get_value(optimizer.learning_rate))
                    lib.backend.set_value(optimizer.learning_rate, rate / 2)
                rates.append(rate)

        return Halve()


@pytest.mark.parametrize("style", ["keras3", "keras2"])
def test_a_callback_reads_and_sets_the_rate_as_in_keras(style):
    keras.utils.set_random_seed(0)
    models, callbacks = [], []
    for lib in (keras, textrnn):
        model = lib.Sequential([lib.Input((8,), dtype="int32"), lib.layers.Embedding(30, 8),
                                lib.layers.GRU(6), lib.layers.Dense(1, activation="sigmoid")])
        model.compile(lib.optimizers.RMSprop(0.02), "binary_crossentropy")
        models.append(model)
        callbacks.append(_Halve(lib, style))
    models[1].set_weights(models[0].get_weights())
    if style == "keras2" and not hasattr(keras.backend, "set_value"):
        callbacks[0].style = "keras3"  # Keras 3 dropped set_value: its own way, the same rates
    history = [m.fit(X, Y, batch_size=8, epochs=3, shuffle=False, verbose=0, callbacks=[c()]).history["loss"]
               for m, c in zip(models, callbacks)]
    np.testing.assert_allclose(history[1], history[0], rtol=1e-4)
    np.testing.assert_allclose(callbacks[1].rates, callbacks[0].rates, rtol=1e-6)
    assert callbacks[1].rates == pytest.approx([0.02, 0.01, 0.005])


def _summary_counts(model):
    lines = []
    model.summary(print_fn=lines.append)
    return [line for line in "\n".join(lines).splitlines() if "params" in line]


def test_the_rate_set_right_after_compile_trains_as_kerass(tmp_path):
    """Keras's optimizer exists from compile: `K.set_value(model.optimizer.lr, ...)` before fit
    (Keras 2 code's way) trains at that rate; summary() counts no optimizer variables until the
    first step, as Keras's; a model saved before its first step keeps the rate."""
    keras.utils.set_random_seed(0)
    models = []
    for lib in (keras, textrnn):
        model = lib.Sequential([lib.Input((8,), dtype="int32"), lib.layers.Embedding(30, 8),
                                lib.layers.GRU(6), lib.layers.Dense(1, activation="sigmoid")])
        model.compile(lib.optimizers.Adam(0.5), "binary_crossentropy")
        model.optimizer.learning_rate.assign(0.02)
        models.append(model)
    theirs, ours = models
    ours.set_weights(theirs.get_weights())
    assert float(ours.optimizer.lr) == pytest.approx(  # (Keras 2's name; Keras 3 has only the long one)
        float(keras.ops.convert_to_numpy(theirs.optimizer.learning_rate)))
    assert _summary_counts(ours) == _summary_counts(theirs)  # no "Optimizer params" yet
    ours.save(tmp_path / "unstepped.keras")
    assert float(keras.saving.load_model(tmp_path / "unstepped.keras").optimizer.learning_rate) == \
        pytest.approx(0.02)
    ours.save(tmp_path / "unstepped")
    assert float(textrnn.models.load_model(tmp_path / "unstepped").optimizer.lr) == pytest.approx(0.02)
    history = [m.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"] for m in models]
    np.testing.assert_allclose(history[1], history[0], rtol=1e-4)
    assert _summary_counts(ours) == _summary_counts(theirs)  # now with "Optimizer params"


def test_the_rate_of_a_model_without_weights_yet_is_set_as_in_keras():
    """The lecture's Sequential (no input shape) has no weights until fit; its optimizer's rate
    is read and set all the same, and the first fit trains at the rate set."""
    def lecture(lib):
        L = lib.layers
        return lib.Sequential([L.Embedding(30, 8), L.LSTM(4), L.Dense(1, activation="sigmoid")])

    theirs, ours = lecture(keras), lecture(textrnn)
    for model in (theirs, ours):
        model.compile("rmsprop", "binary_crossentropy")
    assert float(ours.optimizer.learning_rate) == pytest.approx(
        float(keras.ops.convert_to_numpy(theirs.optimizer.learning_rate)))
    textrnn.backend.set_value(ours.optimizer.lr, 0.03)
    assert float(textrnn.backend.get_value(ours.optimizer.lr)) == pytest.approx(0.03)
    with pytest.raises(ConfigError, match="learning rate must be a finite number"):
        ours.optimizer.learning_rate = -1.0
    losses = []  # the same start, and the rate given to compile instead: the same training
    for model in (ours, lecture(textrnn)):
        if model is not ours:
            model.compile(textrnn.optimizers.RMSprop(0.03), "binary_crossentropy")
        model.build((None, 8))
        model.set_weights([np.full(w.shape, 0.1, "float32") for w in model.get_weights()])
        losses.append(model.fit(X, Y, batch_size=8, epochs=1, shuffle=False, verbose=0).history["loss"])
    assert ours.optimizer.param_groups[0]["lr"] == pytest.approx(0.03)
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


def test_get_layer_by_name_and_index():
    _, ours = _pair("Adam", *SCHEDULES[0])
    assert ours.get_layer(index=-1) is ours.layers[-1]
    assert ours.get_layer(ours.layers[1].name) is ours.layers[1]
    with pytest.raises(ConfigError, match="no layer named 'nothing'"):
        ours.get_layer("nothing")
