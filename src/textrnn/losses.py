"""Keras's path `keras.losses` (`from keras.losses import ...`): this module is
textrnn.training.losses itself, so both paths give the same objects."""

import sys

from textrnn.training import losses as _module

sys.modules[__name__] = _module
