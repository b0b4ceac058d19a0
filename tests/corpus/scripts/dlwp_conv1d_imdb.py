"""Deep Learning with Python (F. Chollet, 1st edition, Manning 2017), listings 6.45-6.46: a 1D
convnet on IMDB, its last Dense without an activation under binary_crossentropy, as printed.

Source: fchollet/deep-learning-with-python-notebooks, 6.4-sequence-processing-with-convnets.ipynb
(MIT license), transcribed. Changed for the corpus: the data line (corpus.imdb_load_data: 2,000 /
1,000 real reviews), epochs 10 -> 3, the seed line and the report of the final figure. Keras 3
refuses Keras 2's `lr=`: its run reads `learning_rate=` there (run.py, oracle_edits).
"""
from keras.datasets import imdb
from keras.preprocessing import sequence

import corpus

max_features = 10000  # number of words to consider as features
max_len = 500  # cut texts after this number of words (among top max_features most common words)

print('Loading data...')
(x_train, y_train), (x_test, y_test) = corpus.imdb_load_data(num_words=max_features)
print(len(x_train), 'train sequences')
print(len(x_test), 'test sequences')

print('Pad sequences (samples x time)')
x_train = sequence.pad_sequences(x_train, maxlen=max_len)
x_test = sequence.pad_sequences(x_test, maxlen=max_len)
print('x_train shape:', x_train.shape)
print('x_test shape:', x_test.shape)

from keras.models import Sequential
from keras import layers
from keras.optimizers import RMSprop

corpus.seed()
model = Sequential()
model.add(layers.Embedding(max_features, 128, input_length=max_len))
model.add(layers.Conv1D(32, 7, activation='relu'))
model.add(layers.MaxPooling1D(5))
model.add(layers.Conv1D(32, 7, activation='relu'))
model.add(layers.GlobalMaxPooling1D())
model.add(layers.Dense(1))

model.summary()

model.compile(optimizer=RMSprop(lr=1e-4),
              loss='binary_crossentropy',
              metrics=['acc'])
history = model.fit(x_train, y_train,
                    epochs=3,
                    batch_size=128,
                    validation_split=0.2)
corpus.report(accuracy=history.history['val_acc'][-1])
