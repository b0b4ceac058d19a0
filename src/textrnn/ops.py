"""Keras's path `keras.ops` (`from keras import ops`): this module is textrnn.backend.ops itself."""

import sys

from textrnn.backend import ops as _module

sys.modules[__name__] = _module
