"""textrnn: Keras-compatible recurrent text classifiers on PyTorch, fast on a CPU."""

import os

import torch

# Backward passes through 500 steps push gradients into subnormal floats, which are very slow on
# x86 CPUs (GUIDE section 8). Flush them to zero, as JAX does, before torch starts its thread pool.
# Opt out with TEXTRNN_FLUSH_DENORMAL=0.
if os.environ.get("TEXTRNN_FLUSH_DENORMAL", "1") != "0":
    torch.set_flush_denormal(True)

__version__ = "0.1.0"
