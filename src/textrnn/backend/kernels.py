"""textrnn's own compiled recurrent kernels (C++, built on first use, cached).

`fused_lstm(xproj, U, h0, c0)`, `fused_simple_rnn(xproj, U, h0)` and `fused_gru(xproj, U, b_rec, h0)`
run a whole LSTM / tanh SimpleRNN / GRU (reset_after) sequence from its input projections, with
their own backward (any float dtype and size); `lstm_layer`, `simple_rnn_layer` and `gru_layer` run
a whole layer from its inputs (float32, AVX-512, sizes multiples of 16: see `fast_layer`), input
projection and dropout mask inside the time loop, and are the layers' training and inference paths
where they apply; `token_layer` is their inference on token ids through a table of every word's
input projection (RNN.token_table). `embedding_grad`, `rmsprop_step`, `adam_step` and
`sigmoid_bce` (csrc/train_ops.cpp) do in one pass what PyTorch does in several around them. The extension is
compiled once per machine by torch.utils.cpp_extension (g++ and ninja; a minute at most) into a
folder of TEXTRNN_KERNEL_CACHE or ~/.cache/textrnn/kernels keyed by what the build depends on
(`_build_dir`). When it cannot be built, or with TEXTRNN_KERNEL=0,
`available()` is False and the layers use PyTorch's kernels instead: same results, slower.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import torch
from torch.autograd.graph import increment_version

_CSRC = Path(__file__).parent / "csrc"
# One file per cell and for token mode, the optimizers' and loss's one-pass ops, and the bindings;
# the headers (shared code, SIMD, each cell's kernels) are part of what a build depends on.
_SOURCES = [_CSRC / name for name in ("bindings.cpp", "lstm.cpp", "simple_rnn.cpp", "gru.cpp", "token.cpp",
                                      "train_ops.cpp")]
_HEADERS = sorted(_CSRC.glob("*.h"))
_CFLAGS = ["-O3", "-march=native", "-ffast-math", "-fopenmp"]
_module = None
_failed = False


def _load():
    global _module, _failed
    if _module is not None or _failed:
        return _module
    if os.environ.get("TEXTRNN_KERNEL", "1") == "0":
        _failed = True
        return None
    try:
        from torch.utils.cpp_extension import load

        build = _build_dir()
        build.mkdir(parents=True, exist_ok=True)
        lock = build / "lock"  # left behind by a build that was killed: would make every load wait
        if lock.exists() and time.time() - lock.stat().st_mtime > 600:
            lock.unlink(missing_ok=True)
        _module = load(name="textrnn_lstm", sources=[str(path) for path in _SOURCES],
                       build_directory=str(build),
                       extra_cflags=_CFLAGS,
                       extra_ldflags=["-fopenmp"], verbose=False)
    except Exception as exc:  # no compiler, no ninja, ...: fall back, say so once
        _failed = True
        warnings.warn(f"textrnn: fused LSTM kernel unavailable ({exc}); using PyTorch's kernels",
                      stacklevel=3)
    return _module


def _cpu_features() -> str:
    """The CPU's model and feature flags: a -march=native build runs only where they match."""
    try:
        info = Path("/proc/cpuinfo").read_text()
        wanted = ("model name", "flags", "Features", "CPU part")
        return "\n".join(sorted({line for line in info.splitlines() if line.split(":")[0].strip() in wanted}))
    except OSError:
        import platform

        return platform.processor() or platform.machine()


def _build_dir() -> Path:
    """One build folder per (Python, torch install, version and ABI, compiler flags, CPU, sources): two
    virtualenvs used in turn no longer rebuild each other's extension, and a home folder shared by
    the nodes of a cluster never hands one CPU a build made for another."""
    import hashlib
    import sys

    base = Path(os.environ.get("TEXTRNN_KERNEL_CACHE") or Path.home() / ".cache" / "textrnn" / "kernels")
    key = hashlib.sha256()
    # torch's location too: the build's include paths point into one environment, and ninja rebuilds
    # when another environment's build.ninja differs
    for part in (sys.version, torch.__version__, torch.__file__, str(torch._C._GLIBCXX_USE_CXX11_ABI),
                 " ".join(_CFLAGS),
                 _cpu_features(), *(path.read_text() for path in _SOURCES + _HEADERS)):
        key.update(part.encode() + b"\0")
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}-torch{torch.__version__.split('+')[0]}"
    return base / f"{tag}-{key.hexdigest()[:16]}"


NO_TOKENS = torch.empty(0, dtype=torch.long)  # the layer backwards' inv argument outside token mode


def _or_empty(t: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """`t` contiguous, or an empty tensor of `like`'s dtype: the extension's "none"."""
    return like.new_empty(0) if t is None else t.contiguous()


def available() -> bool:
    return _load() is not None


def runs_on(*tensors: torch.Tensor) -> bool:
    """Whether textrnn's own kernels may run for these tensors: the extension is built, every
    tensor is on the CPU, no trace is being recorded (a traced graph must hold PyTorch's ops) and
    no autocast is on (they compute float32; a mixed precision policy asks for less).
    The one rule that every caller asks (the recurrent layers, the embedding's gradient, the direct
    step); where it says no, PyTorch's kernels run (cuDNN on a GPU)."""
    return (not torch.jit.is_tracing() and not torch.is_autocast_enabled("cpu") and available()
            and all(t.device.type == "cpu" for t in tensors))


def ops():
    """The loaded extension's functions (after `available()` or `runs_on(...)` said yes), for the
    callers that chain them by hand (training.direct_step)."""
    return _load()


def embedding_grad(ids: torch.Tensor, grad: torch.Tensor, rows: int) -> torch.Tensor:
    """The (rows, dim) gradient of a table looked up at `ids` (N,) int64 with output gradient
    `grad` (N, dim): the same sums as index_add_, in id order."""
    return _module.embedding_grad(ids, grad, rows)


def distinct_tokens(ids: torch.Tensor, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(the distinct ids of `ids` (int64, each in [0, rows)) in order of first appearance, each
    id's position among them (ids' shape)): torch.unique's answer without its sort."""
    return _module.distinct_tokens(ids, rows)


def sigmoid_bce(p: torch.Tensor, y: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """(mean binary cross-entropy, accuracy, d loss / dz) for sigmoid outputs p = sigmoid(z) (B, 1)
    and labels y (B,), float32: what losses.binary_crossentropy / binary_accuracy and autograd give,
    in one pass (the loss to float rounding, the rest the same floats)."""
    return _module.sigmoid_bce(p, y)


def rmsprop_step(params, grads, velocities, lr: float, rho: float, epsilon: float) -> bool:
    """Keras's RMSprop, one pass per tensor; False (nothing updated) unless the kernels are built
    and every tensor is a contiguous CPU float32 / float64 tensor shaped as its parameter (checked
    in C++ before any update)."""
    if not available() or not _module.rmsprop_step(params, grads, velocities, lr, rho, epsilon):
        return False
    increment_version(params)  # written through data pointers: tell autograd and weight caches
    return True


def adam_step(params, grads, ms, vs, alpha: float, beta_1: float, beta_2: float, epsilon: float) -> bool:
    """Keras's Adam, one pass per tensor; False (nothing updated) as rmsprop_step."""
    if not available() or not _module.adam_step(params, grads, ms, vs, alpha, beta_1, beta_2, epsilon):
        return False
    increment_version(params)
    return True


class FusedLSTM(torch.autograd.Function):
    """(xproj (B, T, 4u), U (u, 4u), h0, c0) -> (H (B, T, u), h_T, c_T). xproj already holds
    x @ kernel + bias; the gradient flows back to it, to U and to the initial states."""

    @staticmethod
    def forward(ctx, xproj, U, h0, c0):
        H, C, G = _module.lstm_forward(xproj.contiguous(), U.contiguous(), h0.contiguous(),
                                       c0.contiguous())
        ctx.save_for_backward(U, h0, c0, H, C, G)
        return H, H[:, -1].clone(), C[:, -1].clone()

    @staticmethod
    def backward(ctx, dH, dhT, dcT):
        U, h0, c0, H, C, G = ctx.saved_tensors
        dH = torch.zeros_like(H) if dH is None else dH.contiguous()
        dhT = torch.zeros_like(h0) if dhT is None else dhT.contiguous()
        dcT = torch.zeros_like(c0) if dcT is None else dcT.contiguous()
        DG, dh0, dc0 = _module.lstm_backward(dH, dhT, dcT, U.contiguous(), c0.contiguous(), C, G)
        units = U.shape[0]
        h_prev = torch.cat([h0[:, None], H[:, :-1]], dim=1).reshape(-1, units)
        dU = h_prev.T @ DG.reshape(-1, 4 * units)  # the weight gradient, hoisted out of the loop
        return DG, dU, dh0, dc0


def fused_lstm(xproj: torch.Tensor, U: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor):
    return FusedLSTM.apply(xproj, U, h0, c0)


def fast_layer(inputs: int, units: int) -> bool:
    """Whether the whole-layer float32 kernels (`lstm_layer`) run for these sizes on this machine
    (AVX-512; input and state sizes multiples of 16)."""
    return available() and bool(_module.fast_layer(inputs, units))


class FusedLSTMLayer(torch.autograd.Function):
    """A whole LSTM layer from its inputs: (x (B, T, in), kernel (in, 4u), bias (4u) or None, U,
    h0, c0, starts, ends, xmask) -> (H, h_T, c_T). The input projection runs inside the time loop
    (no (B, T, 4u) projection goes through memory); backward walks the steps for the gate
    gradients a few rows at a time, and as each block of rows finishes, takes dx, dW, dU and db
    from its gate gradients while they are in cache (register-tiled, no (B, T, 4u) array in
    memory). With gradients
    off (`lstm_layer`) nothing is kept at all. starts / ends (int64 (B,), or empty tensors for
    every step): each row runs only its steps [start, end) from the initial state, H is zero
    outside them, h_T / c_T follow its last step. xmask ((B, in), or empty): Keras's input dropout
    mask, multiplied into x_t inside the forward's loop (no masked copy of x in memory); the
    gradient flows to x through it, not to the mask."""

    @staticmethod
    def forward(ctx, x, kernel, bias, U, h0, c0, starts, ends, xmask):
        x, kernel, U, h0, c0 = (t.contiguous() for t in (x, kernel, U, h0, c0))
        b = _or_empty(bias, x)
        H, hT, cT, C, G, XM = _module.lstm_layer_forward(x, kernel, b, U, h0, c0, True, starts, ends, xmask,
                                                         [])
        # backward's dW needs the inputs as the projection saw them: masked ones if there is a mask
        ctx.save_for_backward(XM if xmask.numel() else x, kernel, U, h0, c0, H, C, G, starts, ends, xmask)
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None, not a tensor of zeros
        ctx.has_bias = bias is not None
        return H, hT, cT

    @staticmethod
    def backward(ctx, dH, dhT, dcT):
        x, kernel, U, h0, c0, H, C, G, starts, ends, xmask = ctx.saved_tensors
        dH = _or_empty(dH, H)  # empty: only h_T is used (no zeros pass)
        dhT = torch.zeros_like(h0) if dhT is None else dhT.contiguous()
        dcT = torch.zeros_like(c0) if dcT is None else dcT.contiguous()
        dx, dW, dU, db, dh0, dc0 = _module.lstm_layer_backward(x, kernel, U, h0, c0, H, C, G, dH, dhT, dcT,
                                                               starts, ends, xmask, NO_TOKENS, [])
        return dx, dW, db if ctx.has_bias else None, dU, dh0, dc0, None, None, None


def lstm_layer(x, kernel, bias, U, h0, c0, starts=None, ends=None, xmask=None):
    if starts is None:
        starts = ends = torch.empty(0, dtype=torch.long)
    starts, ends = starts.to(torch.long).contiguous(), ends.to(torch.long).contiguous()
    xmask = _mask_arg(x, xmask)
    if torch.is_grad_enabled():
        return FusedLSTMLayer.apply(x, kernel, bias, U, h0, c0, starts, ends, xmask)
    b = _or_empty(bias, x)  # inference: keep nothing for backward
    H, hT, cT, *_ = _module.lstm_layer_forward(x.contiguous(), kernel.contiguous(), b, U.contiguous(),
                                                 h0.contiguous(), c0.contiguous(), False, starts, ends, xmask,
                                                 [])
    return H, hT, cT


class FusedSimpleRNN(torch.autograd.Function):
    """(xproj (B, T, u), U (u, u), h0) -> (H (B, T, u), h_T) for h_t = tanh(xp_t + h_(t-1) U).
    The extension's backward also returns dU (GEMMs over the pre-activation gradients)."""

    @staticmethod
    def forward(ctx, xproj, U, h0):
        (H,) = _module.rnn_forward(xproj.contiguous(), U.contiguous(), h0.contiguous())
        ctx.save_for_backward(U, h0, H)
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None, not a tensor of zeros
        return H, H[:, -1].clone()

    @staticmethod
    def backward(ctx, dH, dhT):
        U, h0, H = ctx.saved_tensors
        dH = _or_empty(dH, H)  # empty: no gradient into H
        dhT = torch.zeros_like(h0) if dhT is None else dhT.contiguous()
        DP, dU, dh0 = _module.rnn_backward(dH, dhT, U.contiguous(), h0.contiguous(), H)
        return DP, dU, dh0


def fused_simple_rnn(xproj: torch.Tensor, U: torch.Tensor, h0: torch.Tensor):
    return FusedSimpleRNN.apply(xproj, U, h0)


class FusedGRU(torch.autograd.Function):
    """Keras's GRU (reset_after=True): (xproj (B, T, 3u) = x @ kernel + input bias, U (u, 3u),
    recurrent bias (3u), h0) -> (H (B, T, u), h_T)."""

    @staticmethod
    def forward(ctx, xproj, U, brec, h0):
        H, G = _module.gru_forward(xproj.contiguous(), U.contiguous(), brec.contiguous(), h0.contiguous())
        ctx.save_for_backward(U, h0, H, G)
        ctx.set_materialize_grads(False)
        return H, H[:, -1].clone()

    @staticmethod
    def backward(ctx, dH, dhT):
        U, h0, H, G = ctx.saved_tensors
        dH = _or_empty(dH, H)
        dhT = torch.zeros_like(h0) if dhT is None else dhT.contiguous()
        DX, dU, dbrec, dh0, _ = _module.gru_backward(dH, dhT, U.contiguous(), h0.contiguous(), H, G)
        return DX, dU, dbrec, dh0


def fused_gru(xproj: torch.Tensor, U: torch.Tensor, brec: torch.Tensor, h0: torch.Tensor):
    return FusedGRU.apply(xproj, U, brec, h0)


class FusedRNNLayer(torch.autograd.Function):
    """A whole tanh SimpleRNN layer from its inputs: (x (B, T, in), kernel (in, u), bias (u) or
    None, U (u, u), h0, xmask) -> (H, h_T). As FusedLSTMLayer: the projection and Keras's input
    dropout mask are applied inside the time loop (small sizes), backward's dx too; dx, dW, dU and
    db are taken per finished block of rows, as in FusedLSTMLayer."""

    @staticmethod
    def forward(ctx, x, kernel, bias, U, h0, xmask):
        x, kernel, U, h0 = (t.contiguous() for t in (x, kernel, U, h0))
        b = _or_empty(bias, x)
        H, XM = _module.rnn_layer_forward(x, kernel, b, U, h0, True, xmask, [])
        ctx.save_for_backward(XM if xmask.numel() else x, kernel, U, h0, H, xmask)
        ctx.set_materialize_grads(False)
        ctx.has_bias = bias is not None
        return H, H[:, -1].clone()

    @staticmethod
    def backward(ctx, dH, dhT):
        x, kernel, U, h0, H, xmask = ctx.saved_tensors
        dH = _or_empty(dH, H)
        dhT = torch.zeros_like(h0) if dhT is None else dhT.contiguous()
        dx, dW, db, dU, dh0 = _module.rnn_layer_backward(x, kernel, U, h0, H, dH, dhT, xmask, NO_TOKENS, [])
        return dx, dW, db if ctx.has_bias else None, dU, dh0, None


class FusedGRULayer(torch.autograd.Function):
    """A whole GRU (reset_after) layer from its inputs: (x, kernel (in, 3u), input bias (3u) or None,
    U (u, 3u), recurrent bias (3u) or None, h0, xmask) -> (H, h_T); as FusedRNNLayer."""

    @staticmethod
    def forward(ctx, x, kernel, bias, U, brec, h0, xmask):
        x, kernel, U, h0 = (t.contiguous() for t in (x, kernel, U, h0))
        b = _or_empty(bias, x)
        r = x.new_zeros(U.shape[1]) if brec is None else brec.contiguous()
        H, G, XM = _module.gru_layer_forward(x, kernel, b, U, r, h0, True, xmask, [])
        ctx.save_for_backward(XM if xmask.numel() else x, kernel, U, h0, H, G, xmask)
        ctx.set_materialize_grads(False)
        ctx.has_bias = bias is not None, brec is not None
        return H, H[:, -1].clone()

    @staticmethod
    def backward(ctx, dH, dhT):
        x, kernel, U, h0, H, G, xmask = ctx.saved_tensors
        dH = _or_empty(dH, H)
        dhT = torch.zeros_like(h0) if dhT is None else dhT.contiguous()
        dx, dW, db_in, dU, db_rec, dh0 = _module.gru_layer_backward(x, kernel, U, h0, H, G, dH, dhT, xmask,
                                                                    NO_TOKENS, [])
        has_in, has_rec = ctx.has_bias
        return dx, dW, db_in if has_in else None, dU, db_rec if has_rec else None, dh0, None


def _mask_arg(x: torch.Tensor, xmask: torch.Tensor | None) -> torch.Tensor:
    return _or_empty(None if xmask is None else xmask.detach(), x)


def simple_rnn_layer(x, kernel, bias, U, h0, xmask=None):
    """(H, h_T) of a whole tanh SimpleRNN layer (float32, `fast_layer` sizes); with gradients off
    nothing is kept for backward."""
    xmask = _mask_arg(x, xmask)
    if torch.is_grad_enabled():
        return FusedRNNLayer.apply(x, kernel, bias, U, h0, xmask)
    b = _or_empty(bias, x)
    H, _ = _module.rnn_layer_forward(x.contiguous(), kernel.contiguous(), b, U.contiguous(), h0.contiguous(),
                                     False, xmask, [])
    return H, H[:, -1]


def gru_layer(x, kernel, bias, U, brec, h0, xmask=None):
    """(H, h_T) of a whole GRU (reset_after) layer (float32, `fast_layer` sizes); with gradients off
    nothing is kept for backward."""
    xmask = _mask_arg(x, xmask)
    if torch.is_grad_enabled():
        return FusedGRULayer.apply(x, kernel, bias, U, brec, h0, xmask)
    b = _or_empty(bias, x)
    r = x.new_zeros(U.shape[1]) if brec is None else brec.contiguous()
    H, _, _ = _module.gru_layer_forward(x.contiguous(), kernel.contiguous(), b, U.contiguous(), r,
                                        h0.contiguous(), False, xmask, [])
    return H, H[:, -1]


def token_layer(cell: str, ids, table, U, brec, h0, c0=None, starts=None, ends=None):
    """Inference of a whole layer (cell "lstm", "gru" or "rnn_tanh") on token ids (B, T) int64:
    `table` (V, G*u) holds the input projection of every vocabulary entry (embeddings @ kernel +
    input bias), which the kernel reads by id at each step instead of projecting x_t. brec: the
    GRU's recurrent bias (else None); starts / ends: the LSTM's valid steps per row, as in
    `lstm_layer`. Returns (H, h_T, c_T); c_T is None but for the LSTM. Float32, units % 16."""
    ids = ids.to(torch.long).contiguous()
    spans = [None if t is None else t.to(torch.long) for t in (starts, ends)]
    H, hT, cT, _, _ = _module.token_layer_forward(cell, ids, table, U.contiguous(), _or_empty(brec, table),
                                                  h0.contiguous(), _or_empty(c0, table),
                                                  *(_or_empty(t, ids) for t in spans), False)
    return H, hT, cT if cell == "lstm" else None
