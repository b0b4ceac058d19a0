"""Keras's path `keras.mixed_precision` (`set_global_policy("mixed_bfloat16")`, `global_policy`,
`DTypePolicy` / `Policy`): this module is textrnn.training.precision itself, so both paths give the
same objects."""

import sys

from textrnn.training import precision as _module

sys.modules[__name__] = _module
