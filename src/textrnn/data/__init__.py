"""Text data: tokenizer, Vocabulary, pad_sequences, IMDB, the user's tables, the embedded sample."""

from textrnn.data.text import TextEncoder, Vocabulary, pad_sequences, tokenize

__all__ = ["TextEncoder", "Vocabulary", "pad_sequences", "tokenize"]
