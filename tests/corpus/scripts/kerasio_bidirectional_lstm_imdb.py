"""
Title: Bidirectional LSTM on IMDB
Author: [fchollet](https://twitter.com/fchollet)

Source: keras-team/keras-io, examples/nlp/bidirectional_lstm_imdb.py (Apache 2.0), transcribed.
Changed for the corpus: the data line (corpus.imdb_load_data: 2,000 / 1,000 real reviews),
epochs 2 -> 1, the seed line and the report line at the end.
"""

import numpy as np
import keras
from keras import layers

import corpus

max_features = 20000  # Only consider the top 20k words
maxlen = 200  # Only consider the first 200 words of each movie review

corpus.seed()
# Input for variable-length sequences of integers
inputs = keras.Input(shape=(None,), dtype="int32")
# Embed each integer in a 128-dimensional vector
x = layers.Embedding(max_features, 128)(inputs)
# Add 2 bidirectional LSTMs
x = layers.Bidirectional(layers.LSTM(64, return_sequences=True))(x)
x = layers.Bidirectional(layers.LSTM(64))(x)
# Add a classifier
outputs = layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.summary()

(x_train, y_train), (x_val, y_val) = corpus.imdb_load_data(
    num_words=max_features
)
print(len(x_train), "Training sequences")
print(len(x_val), "Validation sequences")
# Use pad_sequence to standardize sequence length:
# this will truncate sequences longer than 200 words and zero-pad sequences shorter than 200 words.
x_train = keras.utils.pad_sequences(x_train, maxlen=maxlen)
x_val = keras.utils.pad_sequences(x_val, maxlen=maxlen)

model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, batch_size=32, epochs=1, validation_data=(x_val, y_val))
corpus.report(accuracy=history.history["val_accuracy"][-1])
