"""The compute layer: how a recurrent layer's sequence is run. `sequence.run_sequence` is the one
place that picks a path (textrnn's compiled kernels, PyTorch's fused kernels, or the reference step
loop) and declines cleanly to the next; `kernels` loads the C++ extension (csrc/) and wraps it in
autograd Functions. Nothing here knows about layers or models."""

from textrnn.naming import clear_session  # keras.backend.clear_session, for `import textrnn as keras`

__all__ = ["clear_session"]
