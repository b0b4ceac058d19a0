"""Deep Learning with Python (F. Chollet, 1st edition, Manning 2017), listing 6.43 (with the data
of listing 6.42): a bidirectional LSTM on IMDB.

Source: fchollet/deep-learning-with-python-notebooks, 6.3-advanced-usage-of-recurrent-neural-
networks.ipynb (MIT license), transcribed. Changed for the corpus: the data line
(corpus.imdb_load_data: 2,000 / 1,000 real reviews), epochs 10 -> 2, the seed line and the report
of the final figure.
"""
from keras.datasets import imdb
from keras.preprocessing import sequence
from keras import layers
from keras.models import Sequential

import corpus

# Number of words to consider as features
max_features = 10000
# Cut texts after this number of words (among top max_features most common words)
maxlen = 500

# Load data
(x_train, y_train), (x_test, y_test) = corpus.imdb_load_data(
    num_words=max_features)

# Pad sequences
x_train = sequence.pad_sequences(x_train, maxlen=maxlen)
x_test = sequence.pad_sequences(x_test, maxlen=maxlen)

corpus.seed()
model = Sequential()
model.add(layers.Embedding(max_features, 32))
model.add(layers.Bidirectional(layers.LSTM(32)))
model.add(layers.Dense(1, activation='sigmoid'))

model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
history = model.fit(x_train, y_train,
                    epochs=2,
                    batch_size=128,
                    validation_split=0.2)
corpus.report(accuracy=history.history['val_acc'][-1])
