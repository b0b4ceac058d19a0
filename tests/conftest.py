import os

# Keras is the oracle; run it on its torch backend so torch is the only framework needed.
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Models compute on the CPU unless a test moves them (tests/test_device.py does): the tests hold
# textrnn to Keras and to its own CPU kernels, and a GPU's TF32 would blur those comparisons.
os.environ.setdefault("TEXTRNN_DEVICE", "cpu")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def imdb_archive():
    """The real aclImdb_v1.tar.gz, found through TEXTRNN_DATA; tests needing it skip without it."""
    path = os.environ.get("TEXTRNN_DATA")
    if not path or not os.path.exists(path):
        pytest.skip("real IMDB archive not available: set TEXTRNN_DATA to aclImdb_v1.tar.gz")
    return path
