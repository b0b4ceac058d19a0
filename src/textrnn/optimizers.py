"""Keras's path `keras.optimizers` (`from keras.optimizers import ...`): this module is
textrnn.training.optimizers itself, so both paths give the same objects."""

import sys

from textrnn.training import optimizers as _module

sys.modules[__name__] = _module
