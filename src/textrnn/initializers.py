"""Keras's path `keras.initializers` (`keras.initializers.Constant(embedding_matrix)`): the classes,
their snake-case names (`keras.initializers.glorot_uniform`), get / serialize / deserialize."""

from textrnn.layers.initializers import (  # noqa: F401 - Keras's names
    CLASSES,
    NAMES,
    Constant,
    GlorotNormal,
    GlorotUniform,
    HeNormal,
    HeUniform,
    Identity,
    Initializer,
    LecunNormal,
    LecunUniform,
    Ones,
    Orthogonal,
    RandomNormal,
    RandomUniform,
    TruncatedNormal,
    VarianceScaling,
    Zeros,
    deserialize,
    get,
    serialize,
)

globals().update({name: cls for name, cls in NAMES.items() if name not in CLASSES})
