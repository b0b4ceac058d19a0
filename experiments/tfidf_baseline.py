"""TF-IDF (1-2 grams) + logistic regression on the same IMDB split as the RNN runs: trained on the
first 20,000 of the Keras-shuffled training reviews, validated on the last 5,000, tested on all
25,000 test reviews. What many users would try first.

    TEXTRNN_DATA=/path/to/aclImdb_v1.tar.gz python experiments/tfidf_baseline.py
"""

import os
import platform
import time
from datetime import datetime, timezone

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from textrnn.data import imdb
from textrnn.data.datasets import KERAS_SHUFFLE_SEED


def main() -> None:
    train_texts, y_train = imdb.load_texts("train")
    test_texts, y_test = imdb.load_texts("test")
    order = np.arange(len(train_texts))
    np.random.RandomState(KERAS_SHUFFLE_SEED).shuffle(order)  # the order `prepare("imdb")` uses
    train_texts = [train_texts[i] for i in order]
    y_train = y_train[order]
    split = int(len(train_texts) * 0.8)
    start = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                 token_pattern=r"(?u)\b\w[\w']*\b")
    features = vectorizer.fit_transform(train_texts[:split])
    model = LogisticRegression(C=4.0, max_iter=2000).fit(features, y_train[:split])
    val_acc = model.score(vectorizer.transform(train_texts[split:]), y_train[split:])
    test_acc = model.score(vectorizer.transform(test_texts), y_test)
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d}, machine: {platform.machine()}, "
          f"{os.cpu_count()} cores")
    print(f"TF-IDF 1-2 grams + logistic regression (C=4): val acc {val_acc:.4f}, "
          f"test acc {test_acc:.4f}, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
