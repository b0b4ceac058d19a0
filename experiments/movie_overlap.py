"""How many IMDB validation reviews share a movie with a training review: the last 10 % of the
shuffled training set (Keras's validation_split) against whole movies (`--val-by-movie`), and how
many test movies appear in training at all.

    TEXTRNN_DATA=/path/to/aclImdb_v1.tar.gz python experiments/movie_overlap.py [--val-split 0.1]
"""

import argparse

import numpy as np

from textrnn.app.runs import TrainSettings, validation_rows
from textrnn.data import imdb
from textrnn.data.datasets import imdb_train_movies, prepare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--val-split", type=float, default=0.1)
    args = parser.parse_args()
    movies = imdb_train_movies("imdb", quiet=True)
    data = prepare("imdb", num_words=100, maxlen=8, quiet=True)
    splits = [validation_rows(TrainSettings(model="lstm", data="imdb", val_split=args.val_split,
                                            val_by_movie=by_movie), data) for by_movie in (False, True)]
    print(f"{len(movies):,} training reviews of {len(np.unique(movies)):,} movies")
    for name, (train, val) in zip(("last rows", "whole movies"), splits):
        shared = np.isin(movies[val], movies[train]).mean()
        print(f"{name}: {len(val):,} validation reviews of {len(np.unique(movies[val])):,} movies, "
              f"{shared:.1%} share a movie with a training review, {data.y_train[val].mean():.1%} positive")
    test = imdb.movie_ids("test", quiet=True)
    print(f"test: {len(test):,} reviews of {len(np.unique(test)):,} movies, "
          f"{np.isin(test, movies).mean():.2%} of them share a movie with a training review")


if __name__ == "__main__":
    main()
