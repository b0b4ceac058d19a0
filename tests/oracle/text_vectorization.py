"""Records real Keras's TextVectorization (which needs TensorFlow, absent from CI) on texts of the
embedded sample and on hand-made edge cases, as tests/oracle/text_vectorization.json; the test
(tests/test_text_vectorization.py) holds textrnn's layer to it on every CI run.

    pip install tensorflow-cpu keras   # in a separate environment
    KERAS_BACKEND=tensorflow python tests/oracle/text_vectorization.py TEXTS.json OUT.json

TEXTS.json: {"texts": [...]} (tests/test_text_vectorization.py::oracle_texts writes the same texts).
"""

import json
import sys

import keras
import numpy as np

CASES = [
    {},
    {"max_tokens": 50, "output_sequence_length": 20},
    {"standardize": "lower", "split": "whitespace", "max_tokens": 40},
    {"standardize": None, "max_tokens": 30, "output_sequence_length": 8},
    {"split": "character", "max_tokens": 25, "output_sequence_length": 12},
    {"ngrams": 2, "max_tokens": 60, "output_sequence_length": 15},
    {"output_mode": "multi_hot", "max_tokens": 30},
    {"output_mode": "count", "max_tokens": 30},
]


def main(texts_path: str, out_path: str) -> None:
    texts = json.load(open(texts_path))["texts"]
    adapt, call = texts[: len(texts) // 2], texts[len(texts) // 2:]
    results = []
    for case in CASES:
        layer = keras.layers.TextVectorization(**case)
        layer.adapt(adapt)
        out = np.asarray(layer(call))
        results.append({"case": case, "vocabulary": layer.get_vocabulary(), "output": out.tolist()})
    json.dump({"keras": keras.__version__, "texts": texts, "results": results}, open(out_path, "w"))


if __name__ == "__main__":
    main(*sys.argv[1:])
