"""keras.layers.TextVectorization without TensorFlow: strings in, token ids (or multi-hot / count
rows) out, its vocabulary learned by `adapt`. It follows Keras 3's source step by step
(keras/src/layers/preprocessing/text_vectorization.py and index_lookup.py):
- standardize "lower_and_strip_punctuation" (the default): ASCII letters lower-cased (as
  tf.strings.lower), then the characters !"#$%&()*+,-./:;<=>?@[\\]^_`{|}~' removed;
- split "whitespace": runs of ASCII whitespace separate tokens, ends stripped; "character": one
  token per character; `ngrams` n joins n neighbours with a space (an int n: 1..n, a tuple: those);
- the vocabulary: "" (padding, id 0; "int" output only), "[UNK]" (the next id), then the adapted
  tokens by count, ties broken by the token in reverse order (Keras's np.lexsort((tokens,
  counts))[::-1]), at most max_tokens in all;
- "int" output: ids, padded with 0 or cut at the end to output_sequence_length (else to the
  batch's longest row).

Keras runs it inside tf.data pipelines or as a model's first layer on string tensors; torch has
no strings, so here it is called on the texts before the model (Python strings, lists or NumPy
arrays of them) and returns a torch tensor, as Keras's torch backend does."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from textrnn.errors import ConfigError, DataError
from textrnn.layers.base import Layer, is_symbolic

PADDING, OOV = "", "[UNK]"
_PUNCTUATION = re.compile(r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']')
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
STANDARDIZE = (None, "lower", "strip_punctuation", "lower_and_strip_punctuation")
SPLIT = (None, "whitespace", "character")
OUTPUT_MODES = ("int", "multi_hot", "count")


class TextVectorization(Layer):
    """Keras's TextVectorization: `adapt(texts)`, then `layer(texts)` -> ids (see the module)."""

    def __init__(self, max_tokens: int | None = None,
                 standardize: str | Callable[[str], str] | None = "lower_and_strip_punctuation",
                 split: str | Callable[[str], list[str]] | None = "whitespace",
                 ngrams: int | tuple[int, ...] | None = None, output_mode: str = "int",
                 output_sequence_length: int | None = None, pad_to_max_tokens: bool = False,
                 vocabulary: Iterable[str] | None = None, name: str | None = None, **kwargs: Any) -> None:
        for option in ("idf_weights", "sparse", "ragged"):
            if kwargs.pop(option, None):
                raise ConfigError(f"TextVectorization({option}=...) is not supported; "
                                  "valid: output_mode int, multi_hot or count")
        kwargs.pop("encoding", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, trainable=False, **kwargs)
        if not (standardize in STANDARDIZE or callable(standardize)):
            raise ConfigError(f"TextVectorization: standardize={standardize!r}; valid: "
                              f"{', '.join(map(str, STANDARDIZE))} or a function of a string")
        if not (split in SPLIT or callable(split)):
            raise ConfigError(f"TextVectorization: split={split!r}; valid: "
                              f"{', '.join(map(str, SPLIT))} or a function of a string")
        if output_mode not in OUTPUT_MODES:
            raise ConfigError(f"TextVectorization: output_mode={output_mode!r}; "
                              f"valid: {', '.join(OUTPUT_MODES)}")
        if max_tokens is not None and max_tokens < 3:
            raise ConfigError(f"TextVectorization: max_tokens must be at least 3, got {max_tokens}")
        if output_sequence_length is not None and output_mode != "int":
            raise ConfigError("TextVectorization: output_sequence_length is for output_mode 'int'")
        self.max_tokens, self.standardize, self.split = max_tokens, standardize, split
        self.ngrams = (tuple(range(1, ngrams + 1)) if isinstance(ngrams, int)
                       else tuple(ngrams) if ngrams is not None else None)
        self.output_mode, self.output_sequence_length = output_mode, output_sequence_length
        self.pad_to_max_tokens = pad_to_max_tokens
        # "int" ids keep 0 for padding; multi-hot and count columns start with the OOV one
        self._special = [PADDING, OOV] if output_mode == "int" else [OOV]
        self._vocabulary: list[str] = list(self._special)
        self._index: dict[str, int] = {}
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)
        self.built = True

    # --- text to tokens ---------------------------------------------------------------------------
    def tokens(self, text: str) -> list[str]:
        """One text's tokens after standardize, split and ngrams."""
        if not isinstance(text, str):
            text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
        if callable(self.standardize):
            text = self.standardize(text)
        else:
            if self.standardize in ("lower", "lower_and_strip_punctuation"):
                text = text.translate(_ASCII_LOWER)
            if self.standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
                text = _PUNCTUATION.sub("", text)
        if callable(self.split):
            words = list(self.split(text))
        elif self.split == "whitespace":
            words = [w for w in _WHITESPACE.split(text) if w]
        elif self.split == "character":
            words = list(text)
        else:
            words = [text]
        if not self.ngrams:
            return words
        return [" ".join(words[i:i + n]) for n in self.ngrams for i in range(len(words) - n + 1)]

    # --- the vocabulary ---------------------------------------------------------------------------
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary from texts (a list or array of strings, or batches of them)."""
        counts: Counter[str] = Counter()
        for text in _texts(data, steps):
            counts.update(self.tokens(text))
        counts.pop(PADDING, None)
        counts.pop(OOV, None)
        # Keras: np.lexsort((tokens, counts))[::-1] - count descending, ties by token descending
        ordered = sorted(counts, key=lambda t: (counts[t], t.encode("utf-8")), reverse=True)
        if self.max_tokens is not None:
            ordered = ordered[: self.max_tokens - len(self._special)]
        self._set(ordered)

    def set_vocabulary(self, vocabulary: Iterable[str]) -> None:
        tokens = [t for t in vocabulary]
        if tokens[: len(self._special)] == self._special:
            tokens = tokens[len(self._special):]
        if len(set(tokens)) != len(tokens):
            raise DataError("TextVectorization: the vocabulary repeats a token")
        self._set(tokens)

    def _set(self, tokens: list[str]) -> None:
        self._vocabulary = [*self._special, *tokens]
        self._index = {t: i for i, t in enumerate(self._vocabulary) if i >= len(self._special)}

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        return list(self._vocabulary if include_special_tokens else self._vocabulary[len(self._special):])

    def vocabulary_size(self) -> int:
        return len(self._vocabulary)

    # --- texts to ids -----------------------------------------------------------------------------
    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> torch.Tensor:
        if args or kwargs:
            raise ConfigError("TextVectorization takes the texts alone")
        if isinstance(inputs, torch.Tensor) or is_symbolic(inputs):
            raise ConfigError("TextVectorization inside a model: torch has no string tensors; call it on "
                              "the texts first (ids = layer(texts)) and give the model the ids")
        texts = _texts(inputs, None)
        oov = len(self._special) - 1
        rows = [[self._index.get(t, oov) for t in self.tokens(text)] for text in texts]
        if self.output_mode != "int":
            width = self.max_tokens if self.pad_to_max_tokens and self.max_tokens else len(self._vocabulary)
            out = np.zeros((len(rows), width), dtype=np.float32)
            for r, ids in enumerate(rows):
                np.add.at(out[r], ids, 1.0)
            if self.output_mode == "multi_hot":
                out = np.minimum(out, 1.0)
            return torch.from_numpy(out)
        width = self.output_sequence_length or max((len(ids) for ids in rows), default=0)
        out = np.zeros((len(rows), width), dtype=np.int64)
        for r, ids in enumerate(rows):
            ids = ids[:width]
            out[r, : len(ids)] = ids
        return torch.from_numpy(out)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "max_tokens": self.max_tokens,
                "standardize": self.standardize if not callable(self.standardize) else None,
                "split": self.split if not callable(self.split) else None,
                "ngrams": list(self.ngrams) if self.ngrams else None, "output_mode": self.output_mode,
                "output_sequence_length": self.output_sequence_length,
                "pad_to_max_tokens": self.pad_to_max_tokens, "vocabulary": self.get_vocabulary()}


def _texts(data: Any, steps: int | None) -> list[str]:
    """Texts from a string, a list / tuple / array of them (shape (n,) or (n, 1)), or an iterable
    of such batches (e.g. a text dataset's (texts, labels) batches: the texts are taken)."""
    if isinstance(data, (str, bytes)):
        return [data]
    if isinstance(data, np.ndarray):
        if data.ndim == 2 and data.shape[1] == 1:
            data = data[:, 0]
        if data.ndim != 1:
            raise DataError(f"TextVectorization: expected texts of shape (n,) or (n, 1), got {data.shape}")
        return list(data)
    if isinstance(data, (list, tuple)):
        if all(isinstance(t, (str, bytes)) for t in data):
            return list(data)
        if all(isinstance(t, (list, tuple)) and len(t) == 1 for t in data):
            return [t[0] for t in data]
    texts: list[str] = []
    try:
        for k, batch in enumerate(data):
            if steps is not None and k >= steps:
                break
            if isinstance(batch, tuple) and len(batch) == 2:
                batch = batch[0]  # (texts, labels)
            texts.extend(_texts(batch, None))
    except TypeError:
        raise DataError(f"TextVectorization: expected texts (strings), got {type(data).__name__}") from None
    return texts
