"""Records real Keras's text_dataset_from_directory (which needs TensorFlow, absent from CI) on a
folder of texts: which file lands in which batch with which label, for each case below, as
tests/oracle/text_dataset.json; tests/test_text_vectorization.py holds textrnn's to it.

    KERAS_BACKEND=tensorflow python tests/oracle/text_dataset.py FOLDER OUT.json

FOLDER: made by tests/test_text_vectorization.py::write_text_folder (the same files every time).
"""

import json
import sys

import keras
import numpy as np

CASES = [
    {"batch_size": 8, "seed": 1337, "validation_split": 0.25, "subset": "both"},
    {"batch_size": 5, "shuffle": False, "label_mode": "binary"},
    {"batch_size": 6, "seed": 7, "label_mode": "categorical", "max_length": 30},
    {"batch_size": 4, "labels": None, "shuffle": False},
]


def batches(dataset):
    out = []
    for element in dataset:
        texts, labels = element if isinstance(element, tuple) else (element, None)
        out.append({"texts": [t.decode("utf-8") for t in np.asarray(texts)],
                    "labels": None if labels is None else np.asarray(labels).tolist()})
    return out


def main(folder: str, out_path: str) -> None:
    results = []
    for case in CASES:
        made = keras.utils.text_dataset_from_directory(folder, verbose=False, **case)
        parts = made if isinstance(made, (tuple, list)) else (made,)
        results.append({"case": case, "parts": [batches(p) for p in parts],
                        "class_names": getattr(parts[0], "class_names", None)})
    json.dump({"keras": keras.__version__, "results": results}, open(out_path, "w"))


if __name__ == "__main__":
    main(*sys.argv[1:])
