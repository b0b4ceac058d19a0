"""Keras's path `keras.optimizers` (`from keras.optimizers import ...`): this module is
textrnn.training.optimizers itself, so both paths give the same objects; and
`keras.optimizers.schedules` is textrnn.training.schedules."""

import sys

from textrnn.training import optimizers as _module
from textrnn.training import schedules as _schedules

sys.modules[__name__] = _module
sys.modules[__name__ + ".schedules"] = _schedules
