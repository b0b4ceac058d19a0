"""Deep Learning with Python (F. Chollet, 1st edition, Manning 2017), listings 6.21-6.22:
a SimpleRNN on IMDB.

Source: fchollet/deep-learning-with-python-notebooks, 6.2-understanding-recurrent-neural-networks.ipynb (MIT license),
transcribed. Changed for the corpus: the data line (corpus.imdb_load_data: 2,000 / 1,000 real
reviews), epochs 10 -> 2, the seed line and the report of the final figure.
"""
from keras.datasets import imdb
from keras.preprocessing import sequence

import corpus

max_features = 10000  # number of words to consider as features
maxlen = 500  # cut texts after this number of words (among top max_features most common words)
batch_size = 32

print('Loading data...')
(input_train, y_train), (input_test, y_test) = corpus.imdb_load_data(num_words=max_features)
print(len(input_train), 'train sequences')
print(len(input_test), 'test sequences')

print('Pad sequences (samples x time)')
input_train = sequence.pad_sequences(input_train, maxlen=maxlen)
input_test = sequence.pad_sequences(input_test, maxlen=maxlen)
print('input_train shape:', input_train.shape)
print('input_test shape:', input_test.shape)

from keras.layers import Dense, Embedding, SimpleRNN
from keras.models import Sequential

corpus.seed()
model = Sequential()
model.add(Embedding(max_features, 32))
model.add(SimpleRNN(32))
model.add(Dense(1, activation='sigmoid'))

model.compile(optimizer='rmsprop',
              loss='binary_crossentropy',
              metrics=['acc'])
history = model.fit(input_train, y_train,
                    epochs=2,
                    batch_size=128,
                    validation_split=0.2)
corpus.report(accuracy=history.history['val_acc'][-1])
