"""textrnn: Keras-compatible recurrent text classifiers on PyTorch, fast on a CPU."""

import os

import torch

# Backward passes through 500 steps push gradients into subnormal floats, which are very slow on
# x86 CPUs (GUIDE section 8). Flush them to zero, as JAX does, before torch starts its thread pool.
# Opt out with TEXTRNN_FLUSH_DENORMAL=0.
FLUSH_DENORMAL = os.environ.get("TEXTRNN_FLUSH_DENORMAL", "1") != "0"
if FLUSH_DENORMAL:
    torch.set_flush_denormal(True)


def keep_denormals_flushed() -> None:
    """Set the flush again on the calling thread: another library in the process may have cleared
    it (an ONNX Runtime session does), and the kernels' generic exp then meets subnormals, which
    made training diverge to NaN in a process that had run an ONNX session. fit / evaluate / predict
    call this first."""
    if FLUSH_DENORMAL:
        torch.set_flush_denormal(True)


def _keep_freed_memory() -> None:
    """Let glibc keep freed blocks instead of returning them to the OS: training frees and
    re-allocates the same multi-MB buffers every step, and fresh pages cost page faults
    (GUIDE section 8). Opt out with TEXTRNN_MALLOC_TUNING=0."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("TEXTRNN_MALLOC_TUNING", "1") == "0":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl): nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 256 << 20)  # blocks up to 256 MB come from the heap, not mmap
    libc.mallopt(m_trim_threshold, 1 << 30)    # keep up to 1 GB of freed heap for reuse


_keep_freed_memory()

__version__ = "0.1.0"

# `import textrnn as keras`: Keras's top-level names, loaded on first use (importing textrnn stays
# cheap, and the packages below keep importing only downward).
_KERAS_NAMES = {
    "Sequential": ("textrnn.models", "Sequential"),
    "Model": ("textrnn.models", "Model"),
    "Input": ("textrnn.layers", "Input"),
    "layers": ("textrnn.layers", None),
    "models": ("textrnn.models", None),
    "datasets": ("textrnn.datasets", None),
    "utils": ("textrnn.utils", None),
    "preprocessing": ("textrnn.preprocessing", None),
    "callbacks": ("textrnn.callbacks", None),
    "optimizers": ("textrnn.optimizers", None),
    "losses": ("textrnn.losses", None),
    "metrics": ("textrnn.metrics", None),
    "initializers": ("textrnn.initializers", None),
    "regularizers": ("textrnn.regularizers", None),
    "mixed_precision": ("textrnn.mixed_precision", None),
    "backend": ("textrnn.backend", None),
    "ops": ("textrnn.ops", None),
}


def __getattr__(name: str):
    if name not in _KERAS_NAMES:
        raise AttributeError(f"module 'textrnn' has no attribute {name!r}")
    import importlib

    module, attribute = _KERAS_NAMES[name]
    value = importlib.import_module(module)
    return value if attribute is None else getattr(value, attribute)
