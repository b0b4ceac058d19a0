"""Keras's path `keras.regularizers` (`kernel_regularizer=regularizers.l2(1e-3)`): L1, L2, L1L2,
their snake-case names, get / serialize / deserialize."""

from textrnn.layers.regularizers import (  # noqa: F401 - Keras's names
    L1,
    L1L2,
    L2,
    Regularizer,
    deserialize,
    get,
    serialize,
)

l1, l2, l1_l2 = L1, L2, L1L2
