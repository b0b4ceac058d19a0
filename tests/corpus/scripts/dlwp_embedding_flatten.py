"""Deep Learning with Python (F. Chollet, 1st edition, Manning 2017), listings 6.6-6.7: an
Embedding learned with the classifier, flattened, on IMDB.

Source: fchollet/deep-learning-with-python-notebooks, 6.1-using-word-embeddings.ipynb (MIT
license), transcribed. Changed for the corpus: the data line (corpus.imdb_load_data: 2,000 / 1,000
real reviews), epochs 10 -> 3, the seed line, the capture of the final figure and its report.
"""
from keras.datasets import imdb
from keras import preprocessing

import corpus

# Number of words to consider as features
max_features = 10000
# Cut texts after this number of words
# (among top max_features most common words)
maxlen = 20

# Load the data as lists of integers.
(x_train, y_train), (x_test, y_test) = corpus.imdb_load_data(num_words=max_features)

# This turns our lists of integers
# into a 2D integer tensor of shape `(samples, maxlen)`
x_train = preprocessing.sequence.pad_sequences(x_train, maxlen=maxlen)
x_test = preprocessing.sequence.pad_sequences(x_test, maxlen=maxlen)

from keras.models import Sequential
from keras.layers import Flatten, Dense, Embedding

corpus.seed()
model = Sequential()
# We specify the maximum input length to our Embedding layer
# so we can later flatten the embedded inputs
model.add(Embedding(10000, 8, input_length=maxlen))
# After the Embedding layer,
# our activations have shape `(samples, maxlen, 8)`.

# We flatten the 3D tensor of embeddings
# into a 2D tensor of shape `(samples, maxlen * 8)`
model.add(Flatten())

# We add the classifier on top
model.add(Dense(1, activation='sigmoid'))
model.compile(optimizer='rmsprop', loss='binary_crossentropy', metrics=['acc'])
model.summary()

history = model.fit(x_train, y_train,
                    epochs=3,
                    batch_size=32,
                    validation_split=0.2)
corpus.report(accuracy=history.history['val_acc'][-1])
