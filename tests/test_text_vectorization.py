"""TextVectorization and text_dataset_from_directory against real Keras's. Keras's need TensorFlow,
which CI has not: their outputs were recorded once by tests/oracle/text_vectorization.py and
tests/oracle/text_dataset.py (in an environment with TensorFlow) as the JSON files beside them, and
every run holds textrnn's to them."""

import json
from pathlib import Path

import numpy as np
import pytest

import textrnn
from textrnn.data.sample import load_sample
from textrnn.errors import ConfigError

ORACLE = Path(__file__).parent / "oracle" / "text_vectorization.json"
DATASET_ORACLE = Path(__file__).parent / "oracle" / "text_dataset.json"
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


def write_text_folder(root: Path) -> Path:
    """Two class folders (one with a nested folder) of .txt files from the sample, a file of
    another kind, and a text at the top (which inferred labels ignore)."""
    train, _ = load_sample()
    rows = [*np.flatnonzero(train.labels == 0)[:15], *np.flatnonzero(train.labels == 1)[:15]]
    for k, (text, label) in enumerate(zip([train.texts[r] for r in rows], train.labels[rows])):
        folder = root / ("pos" if label else "neg") / ("more" if k % 7 == 0 else "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"review_{k:02d}.txt").write_text(text[:200], encoding="utf-8")
    (root / "neg" / "notes.md").write_text("not a text file")
    (root / "top.txt").write_text("at the top")
    return root


@pytest.mark.parametrize("index", range(4))
def test_text_dataset_from_directory_matches_keras(tmp_path, index):
    recorded = json.loads(DATASET_ORACLE.read_text())["results"][index]
    made = textrnn.utils.text_dataset_from_directory(write_text_folder(tmp_path), verbose=False,
                                                     **recorded["case"])
    parts = made if isinstance(made, list) else (made,)
    assert parts[0].class_names == recorded["class_names"]
    for part, expected in zip(parts, recorded["parts"], strict=True):
        got = [element if isinstance(element, tuple) else (element, None) for element in part]
        ours = [[list(texts), None if y is None else y.tolist()] for texts, y in got]
        theirs = [[batch["texts"], batch["labels"]] for batch in expected]
        assert [len(b[0]) for b in ours] == [len(b[0]) for b in theirs]
        if recorded["case"].get("shuffle", True):
            # the same files in each part (the split after Keras's seeded shuffle of the paths);
            # within a part tf.data shuffles again with its own generator, as it does every epoch
            assert sorted(_rows(ours)) == sorted(_rows(theirs))
        else:
            assert ours == theirs


def _rows(batches: list) -> list[tuple[str, str]]:
    return [(text, json.dumps(None if labels is None else labels[k]))
            for texts, labels in batches for k, text in enumerate(texts)]


def test_a_text_dataset_vectorized_by_map_trains_and_evaluates(tmp_path):
    train_ds, val_ds = textrnn.utils.text_dataset_from_directory(
        write_text_folder(tmp_path), batch_size=8, validation_split=0.25, subset="both", seed=1337,
        verbose=False)
    layer = textrnn.layers.TextVectorization(max_tokens=300)
    layer.adapt(train_ds.map(lambda x, y: x))
    train_ids, val_ids = (ds.map(lambda x, y: (layer(x), y)).cache().prefetch(4) for ds in (train_ds, val_ds))
    model = textrnn.Sequential([textrnn.layers.Embedding(300, 8, mask_zero=True), textrnn.layers.GRU(4),
                                textrnn.layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", ["accuracy"])
    history = model.fit(train_ids, validation_data=val_ids, epochs=2, verbose=0)
    assert len(history.history["val_accuracy"]) == 2
    x, y = val_ids.as_arrays()
    assert model.evaluate(val_ids, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
    assert model.predict(val_ids).shape == (len(y), 1)
    with pytest.raises(ConfigError, match="labels come from it"):
        model.fit(train_ids, np.zeros(3))
