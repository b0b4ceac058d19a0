"""LSTM and CNN for sequence classification in the IMDB dataset, with Keras 2's module paths.

Source: J. Brownlee, "Sequence Classification with LSTM Recurrent Neural Networks in Python with
Keras", Machine Learning Mastery (2016 edition), transcribed from its CNN + LSTM listing.
Changed for the corpus: the data line (corpus.imdb_load_data: 2,000 / 1,000 real reviews),
epochs 3 -> 2, the seed line and the report of the final figure. Keras 3 has no
keras.layers.convolutional / keras.layers.embeddings: its run imports from keras.layers there
(run.py, oracle_edits).
"""
# LSTM and CNN for sequence classification in the IMDB dataset
import numpy
from keras.datasets import imdb
from keras.models import Sequential
from keras.layers import Dense
from keras.layers import LSTM
from keras.layers.convolutional import Conv1D
from keras.layers.convolutional import MaxPooling1D
from keras.layers.embeddings import Embedding
from keras.preprocessing import sequence

import corpus

# fix random seed for reproducibility
corpus.seed()
# load the dataset but only keep the top n words, zero the rest
top_words = 5000
(X_train, y_train), (X_test, y_test) = corpus.imdb_load_data(num_words=top_words)
# truncate and pad input sequences
max_review_length = 500
X_train = sequence.pad_sequences(X_train, maxlen=max_review_length)
X_test = sequence.pad_sequences(X_test, maxlen=max_review_length)
# create the model
embedding_vecor_length = 32
model = Sequential()
model.add(Embedding(top_words, embedding_vecor_length, input_length=max_review_length))
model.add(Conv1D(filters=32, kernel_size=3, padding='same', activation='relu'))
model.add(MaxPooling1D(pool_size=2))
model.add(LSTM(100))
model.add(Dense(1, activation='sigmoid'))
model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
print(model.summary())
model.fit(X_train, y_train, epochs=2, batch_size=64)
# Final evaluation of the model
scores = model.evaluate(X_test, y_test, verbose=0)
print("Accuracy: %.2f%%" % (scores[1]*100))
corpus.report(accuracy=scores[1])
