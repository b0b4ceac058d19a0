"""The linear baselines an RNN has to beat on IMDB, on the split the RNN runs use:
hyper-parameters chosen on the last 20 % of the Keras-shuffled training reviews, then refitted on all
25,000 training reviews and scored once on all 25,000 test reviews.

    TEXTRNN_DATA=/path/to/aclImdb_v1.tar.gz python benchmarks/linear_baselines.py

- TF-IDF (1-2 grams, sublinear tf) + logistic regression, default C and C tuned;
- NBSVM-style: binary hashed n-grams scaled by naive-Bayes log-count ratios + logistic regression
  (textrnn.app.linear_head.NBLinear), 1-2 and 1-3 grams, C tuned, on textrnn's token ids with the whole
  vocabulary and whole reviews.
Times are the final fit on 25,000 reviews plus scoring the test set.
"""

import os
import platform
import time
from datetime import datetime, timezone

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from textrnn.app.linear_head import DEFAULT_BITS, NBLinear
from textrnn.data import imdb
from textrnn.data.datasets import KERAS_SHUFFLE_SEED
from textrnn.data.text import tokenize


def imdb_split():
    train_texts, y_train = imdb.load_texts("train")
    test_texts, y_test = imdb.load_texts("test")
    ids = whole_review_ids(train_texts, test_texts)
    order = np.arange(len(train_texts))
    np.random.RandomState(KERAS_SHUFFLE_SEED).shuffle(order)  # the order `prepare("imdb")` uses
    return [train_texts[i] for i in order], y_train[order], test_texts, y_test, ids


def tfidf(texts_fit, y_fit, texts_eval, C):
    vectorizer = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None,
                                 ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LogisticRegression(C=C, max_iter=2000).fit(vectorizer.fit_transform(texts_fit), y_fit)
    return lambda texts: model.predict(vectorizer.transform(texts))


def nbsvm(ngrams, ids):
    """ids: text -> its row of ids (the texts are the corpus's own, so this is a lookup)."""
    def fit(texts_fit, y_fit, texts_eval, C):
        model = NBLinear(ngrams=ngrams, C=C).fit(ids(texts_fit), y_fit)
        return lambda texts: (model.decision_function(ids(texts)) > 0).astype(int)
    return fit


def whole_review_ids(texts_train, texts_test):
    """Map each text to its ids over the whole vocabulary, nothing cut (the corpus's fixed order
    is the order `load_texts` returns)."""
    corpus = imdb.IMDBCorpus.load(quiet=True)
    rows = {}
    longest = max(int(np.diff(corpus.splits[s].offsets).max()) + 1 for s in ("train", "test"))
    for split, texts in (("train", texts_train), ("test", texts_test)):
        x, _ = corpus.padded(split, num_words=None, maxlen=longest)
        rows.update(zip(texts, x))
    return lambda texts: np.stack([rows[t] for t in texts])


def evaluate(name, fit, grid, train, y, test, y_test, split):
    val_scores = {}
    for C in grid:
        predict = fit(train[:split], y[:split], train[split:], C)
        val_scores[C] = float(np.mean(predict(train[split:]) == y[split:]))
    best = max(val_scores, key=val_scores.get)
    start = time.perf_counter()
    predict = fit(train, y, test, best)
    test_acc = float(np.mean(predict(test) == y_test))
    seconds = time.perf_counter() - start
    print(f"| {name} | {best:g} | {100 * val_scores[best]:.2f} | {100 * test_acc:.2f} | {seconds:.0f} |",
          flush=True)


def main() -> None:
    train, y, test, y_test, ids = imdb_split()
    split = int(len(train) * 0.8)
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, machine: {platform.machine()}, "
          f"{os.cpu_count()} cores\n")
    print("| baseline | C | val acc % | test acc % | fit + test s |\n|---|---|---|---|---|")
    evaluate("TF-IDF 1-2 grams + LR, default C", tfidf, [1.0], train, y, test, y_test, split)
    evaluate("TF-IDF 1-2 grams + LR, C tuned", tfidf, [1.0, 4.0, 16.0, 64.0], train, y, test, y_test, split)
    for n in (2, 3):
        name = f"NBSVM 1-{n} grams, 2^{DEFAULT_BITS} columns (NB log-count ratios + LR), C tuned"
        evaluate(name, nbsvm(n, ids),
                 [0.1, 0.3, 1.0, 3.0, 10.0], train, y, test, y_test, split)


if __name__ == "__main__":
    main()
