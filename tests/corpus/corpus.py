"""What the corpus scripts use in place of their data lines, the same for the Keras run and the
textrnn run: small slices of the real IMDB data, a review text for the character models, the
seed the runner asks for, and the one line that reports a script's figure to the runner.

Nothing here imports keras or textrnn: the script under test brings one of them."""

import json
import os
import random
import sys

import numpy as np

RESULT = "CORPUS-RESULT"
TRAIN_ROWS = int(os.environ.get("CORPUS_TRAIN_ROWS", "2000"))
TEST_ROWS = int(os.environ.get("CORPUS_TEST_ROWS", "1000"))


def seed() -> int:
    """The runner's seed (CORPUS_SEED) for Python, NumPy and torch, and Keras's own generator when
    the script runs on Keras. Called where the published script seeds (or would)."""
    value = int(os.environ.get("CORPUS_SEED", "0"))
    random.seed(value)
    np.random.seed(value)
    try:
        import torch
    except ImportError:  # the Keras run on TensorFlow (run.py --tensorflow-python) has no torch
        pass
    else:
        torch.manual_seed(value)
    keras = sys.modules.get("keras")
    if keras is not None and hasattr(keras, "utils") and hasattr(keras.utils, "set_random_seed"):
        keras.utils.set_random_seed(value)
    return value


def imdb_load_data(num_words=None, maxlen=None, **kwargs):
    """keras.datasets.imdb.load_data's ((x_train, y_train), (x_test, y_test)), reviews shuffled as
    Keras does, cut to the first TRAIN_ROWS / TEST_ROWS of each split (real IMDB, read by
    textrnn's reader of the archive in TEXTRNN_DATA: Keras would download it)."""
    from textrnn.data import imdb

    seed()
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=num_words, maxlen=maxlen, **kwargs)
    return (x_train[:TRAIN_ROWS], y_train[:TRAIN_ROWS]), (x_test[:TEST_ROWS], y_test[:TEST_ROWS])


def review_text(chars: int = 40000) -> str:
    """The first `chars` characters of IMDB training reviews, lower-cased, one after another: the
    corpus of the character-level text models (Nietzsche's text in the published one)."""
    from textrnn.data import imdb

    texts, _ = imdb.load_texts("train")
    return " ".join(texts)[:chars].lower().replace("<br />", " ")


def monthly_series(path: str = "airline-passengers.csv", months: int = 144) -> str:
    """A CSV of a monthly count with trend and yearly season (the shape of the airline-passengers
    series, 1949-1960), written where the script reads it."""
    t = np.arange(months)
    rng = np.random.default_rng(7)
    values = (110 + 2.5 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 6, months)
    with open(path, "w") as f:
        f.write('"Month","Passengers"\n')
        for k, v in enumerate(values):
            f.write(f'"{1949 + k // 12}-{k % 12 + 1:02d}",{int(round(v))}\n')
    return path


def sentence_pairs(path: str = "fra.txt", rows: int = 1000) -> str:
    """A tab-separated file of sentence pairs in the layout of manythings.org's fra.txt (source,
    target, attribution): the first words of IMDB reviews and the same words in reverse order."""
    from textrnn.data import imdb

    texts, _ = imdb.load_texts("train")
    with open(path, "w", encoding="utf-8") as f:
        for text in texts[:rows]:
            words = text.lower().replace("<br />", " ").split()[:4]
            f.write(f"{' '.join(words)}\t{' '.join(reversed(words))}\tCC-BY\n")
    return path


def imdb_folders(root: str = "aclImdb", train: int = 1000, test: int = 500) -> str:
    """aclImdb's layout (train/pos, train/neg, test/pos, test/neg, one review per .txt file) with
    the first `train` / `test` reviews of each split of the real archive (as many of each class
    as it gives), written where the script reads it."""
    import shutil
    from pathlib import Path

    made = os.environ.get("CORPUS_IMDB_FOLDERS")  # made beforehand, for an environment without textrnn
    if made:
        shutil.copytree(Path(made) / "aclImdb", root)
        return root
    from textrnn.data import imdb

    for split, rows in (("train", train), ("test", test)):
        texts, labels = imdb.load_texts(split)
        order = np.random.RandomState(113).permutation(len(texts))[:rows]
        for k in order:
            folder = Path(root) / split / ("pos" if labels[k] else "neg")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{k}.txt").write_text(texts[k], encoding="utf-8")
    return root


def glove_file(path: str = "glove.6B.100d.txt", dim: int = 100, words: int = 20000) -> str:
    """A word-vector file in GloVe's text layout ("word v1 ... v100" per line), written where the
    script reads it. Pretrained as GloVe's are, on text other than the task's labelled reviews:
    LSA vectors (a truncated SVD of the TF-IDF matrix of 5,000 unlabelled IMDB reviews) of their
    `words` most frequent words, not Stanford's 400,000. Made once per machine and copied."""
    import shutil
    import tempfile
    from pathlib import Path

    cached = Path(tempfile.gettempdir()) / f"corpus-glove-{dim}d-{words}.txt"
    if not cached.exists():
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        from textrnn.data import imdb

        texts, _ = imdb.load_texts("unsup")
        tfidf = TfidfVectorizer(max_features=words, token_pattern=r"(?u)\b\w+\b")
        matrix = tfidf.fit_transform(t.lower().replace("<br />", " ") for t in texts[:5000])
        svd = TruncatedSVD(dim, random_state=0).fit(matrix)
        vectors = (svd.components_ * svd.singular_values_[:, None]).T
        vectors *= 0.4 / vectors.std(axis=0)  # GloVe's spread
        partial = cached.with_suffix(f".{os.getpid()}.part")
        with open(partial, "w", encoding="utf-8") as f:
            for word, vector in zip(tfidf.get_feature_names_out(), vectors):
                f.write(word + " " + " ".join(f"{v:.5f}" for v in vector) + "\n")
        os.replace(partial, cached)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, path)
    return path


def newsgroup_folders(root: str = "20_newsgroup", rows: int = 1000) -> str:
    """The 20 Newsgroup layout (a folder per group, one message per file named by a number, a header
    before the first blank line), written where the script reads it: two groups, the negative and
    the positive reviews among the first `rows` real IMDB training reviews (shuffled as
    imdb_folders shuffles them)."""
    from pathlib import Path

    from textrnn.data import imdb

    texts, labels = imdb.load_texts("train")
    for k in np.random.RandomState(113).permutation(len(texts))[:rows]:
        folder = Path(root) / ("rec.movies.positive" if labels[k] else "rec.movies.negative")
        folder.mkdir(parents=True, exist_ok=True)
        header = f"From: reviewer{k}@imdb.example\nSubject: review {k}\nLines: 1\n\n"
        (folder / str(50000 + int(k))).write_text(header + texts[k], encoding="latin-1", errors="replace")
    return root


def report(**figures: float) -> None:
    """The script's figures for the runner (one line, JSON)."""
    print(RESULT, json.dumps({k: float(v) for k, v in figures.items()}), flush=True)
