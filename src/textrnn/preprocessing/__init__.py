"""`keras.preprocessing` (Keras 2 paths that Keras 3 code still imports): `sequence.pad_sequences`."""
