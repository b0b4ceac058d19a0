"""Keras's path `keras.callbacks` (`from keras.callbacks import ...`): this module is
textrnn.training.callbacks itself, so both paths give the same objects."""

import sys

from textrnn.training import callbacks as _module

sys.modules[__name__] = _module
