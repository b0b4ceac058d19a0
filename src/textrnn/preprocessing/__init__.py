"""`keras.preprocessing` (Keras 2 paths that published code still imports): `sequence.pad_sequences`,
`text.Tokenizer` and `text.text_to_word_sequence`."""

from textrnn.preprocessing import sequence, text

__all__ = ["sequence", "text"]
