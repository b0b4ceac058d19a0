"""Where pretraining text and vocabularies come from.

Corpora: "imdb-unsup" (the 50,000 unlabelled IMDB reviews, never test text), "imdb-unlabelled" (those
and the 25,000 training reviews without their labels: ULMFiT's target-text step), "sample" (the embedded
sample's training reviews), or a path: a .txt file (one document per line), a CSV / TSV / JSONL
table (its text column; labels, if any, are ignored), or a folder whose .txt files, at any depth, are
one document each (an unlabelled folder, or one folder per class: labels are not read).
Vocabularies: "imdb" (ranked on the IMDB training reviews), "sample", "corpus" (fit on the
pretraining corpus itself), or a path to a vocab.json, a saved model, a run folder or an EMB_DIR.
"""

from __future__ import annotations

from pathlib import Path

from textrnn.data import imdb
from textrnn.data.inputs import read_texts
from textrnn.data.sample import load_sample
from textrnn.data.text import TextEncoder, Vocabulary, tokenize
from textrnn.errors import DataError
from textrnn.serialization import read_json


def corpus_tokens(source: str, quiet: bool = False) -> list[list[str]]:
    """The corpus as token lists, one per document."""
    if source in ("imdb-unsup", "imdb-unlabelled"):
        corpus = imdb.IMDBCorpus.load(quiet=quiet)
        words = corpus.words
        splits = ["unsup"] if source == "imdb-unsup" else ["unsup", "train"]
        return [[words[r - 1] for r in seq if r > 0] for split in splits
                for seq in corpus.splits[split].sequences()]
    if source == "sample":
        return [tokenize(t) for t in load_sample()[0].texts]
    path = Path(source)
    if not path.exists():
        raise DataError(f"{path}: corpus not found (give imdb-unsup, imdb-unlabelled, sample, or a file "
                        "or folder)")
    if path.is_dir():
        files = sorted(path.rglob("*.txt"))
        docs = [tokenize(_read_document(f)) for f in files]
        docs = [d for d in docs if d]
        if not docs:
            raise DataError(f"{path}: no .txt file with words in this folder")
        return docs
    docs = [tokenize(t) for t in read_texts(path).texts]
    if not any(docs):
        raise DataError(f"{path}: no text in this file")
    return [d for d in docs if d]


def _read_document(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def load_vocabulary(source: str, num_words: int = 10000,
                    corpus: list[list[str]] | None = None, quiet: bool = False) -> Vocabulary:
    if source == "imdb":
        return imdb.IMDBCorpus.load(quiet=quiet).vocabulary(num_words)
    if source == "sample":
        return Vocabulary.fit((tokenize(t) for t in load_sample()[0].texts), num_words=num_words)
    if source == "corpus":
        if corpus is None:
            raise DataError("--vocab corpus needs a corpus")
        return Vocabulary.fit(corpus, num_words=num_words)
    path = Path(source)
    for candidate in (path, path / "vocab.json", path / "model" / "vocab.json"):
        if candidate.is_file():
            data = read_json(candidate)
            if "vocabulary" in data:  # a model's TextEncoder
                return TextEncoder.from_json(data).vocabulary
            return Vocabulary.from_json(data)
    raise DataError(f"{source}: no vocabulary there (give imdb, sample, corpus, or a vocab.json, "
                    "model, run or embedding folder)")
