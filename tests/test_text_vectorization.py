"""TextVectorization against real Keras's. Keras's layer needs TensorFlow, which CI has not: its
outputs on these texts were recorded once by tests/oracle/text_vectorization.py (in an environment
with TensorFlow) as tests/oracle/text_vectorization.json, and every run holds textrnn's to them."""

import json
from pathlib import Path

import numpy as np
import pytest

import textrnn
from textrnn.data.sample import load_sample
from textrnn.errors import ConfigError

ORACLE = Path(__file__).parent / "oracle" / "text_vectorization.json"
EDGE_CASES = ["", "   ", "UPPER lower MiXeD", "Ünïcödé ÉCOLE café", "tabs\tand\nnewlines  twice",
              "punctuation!!! (and) [brackets]; don't-stop", "<br /><br />html breaks", "a a a b b c"]


def oracle_texts() -> list[str]:
    """The texts the oracle was recorded on: 60 sample reviews and the edge cases, in two halves
    (the first adapts, the second is vectorized)."""
    train, _ = load_sample()
    texts = [t[:400] for t in train.texts[:60]]
    return texts[:30] + EDGE_CASES[:4] + texts[30:] + EDGE_CASES[4:]


@pytest.mark.parametrize("index", range(8))
def test_text_vectorization_matches_keras(index):
    recorded = json.loads(ORACLE.read_text())
    texts = oracle_texts()
    assert recorded["texts"] == texts  # the oracle ran on these very texts
    result = recorded["results"][index]
    layer = textrnn.layers.TextVectorization(**result["case"])
    layer.adapt(texts[: len(texts) // 2])
    assert layer.get_vocabulary() == result["vocabulary"]
    np.testing.assert_array_equal(layer(texts[len(texts) // 2:]).numpy(), np.array(result["output"]))


def test_text_vectorization_feeds_a_model_and_refuses_string_tensors():
    train, _ = load_sample()
    layer = textrnn.layers.TextVectorization(max_tokens=500, output_sequence_length=40)
    layer.adapt(train.texts[:200])
    ids = layer(np.array(train.texts[:64]))
    assert ids.shape == (64, 40) and int(ids.max()) < 500
    model = textrnn.Sequential([textrnn.layers.Embedding(500, 8, mask_zero=True), textrnn.layers.LSTM(4),
                                textrnn.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    model.fit(ids, train.labels[:64].astype("float32"), epochs=1, verbose=0)
    with pytest.raises(ConfigError, match="torch has no string tensors"):
        layer(textrnn.Input(shape=(1,), dtype="string"))
    with pytest.raises(ConfigError, match="output_mode"):
        textrnn.layers.TextVectorization(output_mode="tf_idf")
