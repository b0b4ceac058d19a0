"""Time the IMDB pipeline on the real archive: the first load (stream the tarball, tokenize and
encode all 100,000 reviews, write the cache) and the second load (from the cache), each followed by
making the lecture's (25000, 500) train and test arrays.

    TEXTRNN_DATA=/path/to/aclImdb_v1.tar.gz python benchmarks/data_load.py
"""

import os
import platform
import tempfile
import time
from datetime import datetime, timezone

from textrnn.data.datasets import prepare


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TEXTRNN_CACHE"] = cache  # a cold cache for the first load
        times = []
        for _ in range(2):
            start = time.perf_counter()
            data = prepare("imdb", num_words=10000, maxlen=500, quiet=True)
            times.append(time.perf_counter() - start)
        assert data.x_train.shape == (25000, 500) and data.x_test.shape == (25000, 500)
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d}, machine: {platform.machine()}, "
          f"{os.cpu_count()} cores")
    print(f"first load (tokenize 100,000 reviews + cache): {times[0]:.1f} s")
    print(f"second load (from cache):                      {times[1]:.1f} s")


if __name__ == "__main__":
    main()
