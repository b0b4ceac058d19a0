"""Keras's path `keras.metrics` (`from keras.metrics import ...`): this module is
textrnn.training.metrics itself, so both paths give the same objects."""

import sys

from textrnn.training import metrics as _module

sys.modules[__name__] = _module
