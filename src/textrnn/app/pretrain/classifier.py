"""Step 1 with a supervised model: train a zoo classifier on another labelled dataset and keep
only its embedding."""

from __future__ import annotations

import numpy as np
import torch

from textrnn.app import zoo
from textrnn.data.datasets import prepare
from textrnn.data.text import Vocabulary
from textrnn.training.callbacks import EarlyStopping


def train_classifier_embedding(source: str, vocabulary: Vocabulary, dim: int = 32, model_name: str = "lstm",
                               maxlen: int = 500, epochs: int = 5, seed: int = 0,
                               verbose: int = 1) -> tuple[np.ndarray, dict]:
    torch.manual_seed(seed)
    data = prepare(source, maxlen=maxlen, vocabulary=vocabulary, seed=seed, quiet=not verbose)
    config = zoo.ZooConfig(vocab_size=vocabulary.size, embedding_dim=dim, maxlen=maxlen,
                           num_classes=len(data.classes))
    model = zoo.build(model_name, config)
    loss = "binary_crossentropy" if len(data.classes) == 2 else "sparse_categorical_crossentropy"
    model.compile("rmsprop", loss, ["acc"])
    history = model.fit(data.x_train, data.y_train, epochs=epochs, validation_split=0.1, verbose=verbose,
                        callbacks=[EarlyStopping(patience=1, restore_best_weights=True)])
    return model.layers[0].get_weights()[0], {
        "model": model_name, "labelled_examples": int(len(data.x_train)),
        "val_acc": max(history.history.get("val_acc", [float("nan")]))}
