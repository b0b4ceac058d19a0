"""Optimizers with Keras 3's update rules and defaults (they differ from torch.optim's).

Keras RMSprop: v = ρ v + (1 - ρ) g²;  w -= lr g / sqrt(v + ε)   (ε inside the root; ρ 0.9, ε 1e-7)
Keras Adam:    m += (g - m)(1 - β1);  v += (g² - v)(1 - β2);
               w -= lr sqrt(1 - β2^t) / (1 - β1^t) · m / (sqrt(v) + ε)      (ε 1e-7)
SGD keeps Keras's momentum (the rate inside it), not torch's buffer of raw gradients. Nadam, Adamax,
Adagrad, Adadelta, RMSprop's momentum and centred form and Adam's AMSGrad follow Keras's
update_step line by line (keras/src/optimizers/).
With textrnn's kernels built, plain RMSprop and Adam update each CPU tensor in one pass
(backend/csrc/train_ops.cpp); otherwise, or on other devices, through torch's foreach ops.

`compile` takes a name ("rmsprop", "adam", "adamw", "sgd", "nadam", "adamax", "adagrad",
"adadelta") or, as in Keras, an instance with a learning rate: `RMSprop(learning_rate=1e-4)`,
`Adam(...)`, ..., each with Keras's clipnorm / clipvalue / global_clipnorm / weight_decay
(GradientRules). The torch optimizers behind them are the `*Optimizer` classes below.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.optim.optimizer as torch_optimizer

from textrnn.backend import kernels
from textrnn.errors import ConfigError
from textrnn.training import schedules
from textrnn.training.schedules import LearningRateSchedule

Group = dict[str, Any]  # a parameter group: its weights ("params") and the rule's settings
Tensors = list[torch.Tensor]


def _with_grads(group: dict) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The group's parameters that received a gradient (frozen weights get none), and those grads."""
    params = [p for p in group["params"] if p.grad is not None]
    return params, [p.grad for p in params]


RULES = ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay")  # Keras's arguments of every optimizer


class GradientRules:
    """What every Keras optimizer does before its update: clip the gradients (`clipnorm`: each to
    that norm; `global_clipnorm`: all together; `clipvalue`: each number; at most one of them), then
    decay the weights that have a gradient (`weight_decay`, decoupled: w -= w * decay * rate)."""

    def __init__(self, clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, weight_decay: float | None = None) -> None:
        given = {k: v for k, v in zip(RULES, (clipnorm, clipvalue, global_clipnorm, weight_decay))
                 if v is not None}
        for key, value in given.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            low = 0 if key == "weight_decay" else math.ulp(0)  # a decay may be 0, a clip may not
            if not number or not low <= value < math.inf:
                raise ConfigError(f"{key} must be a positive number, got {value!r}")
        if len(given.keys() - {"weight_decay"}) > 1:
            raise ConfigError("only one of clipnorm, clipvalue and global_clipnorm can be set")
        self.clipnorm, self.clipvalue, self.global_clipnorm, self.weight_decay = (
            clipnorm, clipvalue, global_clipnorm, weight_decay)

    def config(self) -> dict[str, float | None]:
        return {key: getattr(self, key) for key in RULES}

    def __bool__(self) -> bool:
        return any(v is not None for v in self.config().values())

    @torch.no_grad()
    def apply(self, optimizer: torch.optim.Optimizer) -> None:
        groups = [_with_grads(group) for group in optimizer.param_groups]
        grads = [g for _, group_grads in groups for g in group_grads]
        if grads and self.clipnorm:  # Keras's clip_by_norm: g * c / max(|g|, c)
            norms = torch._foreach_norm(grads)
            torch._foreach_mul_(grads, [self.clipnorm / torch.clamp(n, min=self.clipnorm) for n in norms])
        elif grads and self.global_clipnorm:  # Keras's clip_by_global_norm (NaN for an infinite norm)
            norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            limit = self.global_clipnorm
            scale = limit * torch.minimum(1.0 / norm, norm.new_tensor(1.0 / limit))
            torch._foreach_mul_(grads, scale + (norm - norm))
        elif grads and self.clipvalue:
            torch._foreach_clamp_min_(grads, -self.clipvalue)
            torch._foreach_clamp_max_(grads, self.clipvalue)
        if self.weight_decay:
            for group, (params, _) in zip(optimizer.param_groups, groups):
                if params:
                    torch._foreach_mul_(params, 1.0 - self.weight_decay * group["lr"])


def set_rate(optimizer: torch.optim.Optimizer, rate: float) -> None:
    """Set the learning rate (the first parameter group's); an Embedding's own rate
    (embedding_learning_rate) keeps its ratio to it."""
    old = float(optimizer.param_groups[0]["lr"])
    for group in optimizer.param_groups:
        group["lr"] = float(rate) if old == 0 else group["lr"] * float(rate) / old


class LearningRate:
    """`model.optimizer.learning_rate` as Keras code uses its variable: `float()`, `.numpy()` and
    arithmetic read it, `.assign(rate)` sets it (as does `keras.backend.set_value`). With a
    schedule it reads the rate of the next update and cannot be set, as in Keras."""

    def __init__(self, optimizer: _KerasOptimizer) -> None:
        self._optimizer = optimizer

    def __float__(self) -> float:
        optimizer = self._optimizer
        if optimizer.schedule is not None:
            return float(optimizer.schedule(optimizer.iterations))
        return float(optimizer.param_groups[0]["lr"])

    def numpy(self) -> np.float32:
        return np.float32(float(self))

    def __array__(self, dtype=None, copy=None) -> np.ndarray:  # noqa: ANN001 - NumPy's protocol
        return np.asarray(float(self), dtype=dtype or np.float32)

    def assign(self, value: Any) -> None:
        if self._optimizer.schedule is not None:
            raise ConfigError("the optimizer's learning rate follows a schedule; it cannot be set")
        rate = float(value)
        if not 0 <= rate < math.inf:
            raise ConfigError(f"the learning rate must be a finite number >= 0, got {value!r}")
        self._optimizer.set_learning_rate(rate)

    def __repr__(self) -> str:
        return f"<learning_rate={float(self):g}>"

    def __mul__(self, other: float) -> float:
        return float(self) * other

    def __truediv__(self, other: float) -> float:
        return float(self) / other

    def __add__(self, other: float) -> float:
        return float(self) + other

    def __sub__(self, other: float) -> float:
        return float(self) - other

    __rmul__, __radd__ = __mul__, __add__

    def __lt__(self, other: float) -> bool:
        return float(self) < other

    def __gt__(self, other: float) -> bool:
        return float(self) > other

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (int, float, LearningRate)) and float(self) == float(other)

    __hash__ = None  # type: ignore[assignment]  # a value that changes


class _KerasOptimizer:
    """What textrnn's optimizers add to torch's, as Keras's optimizers have it: before each update
    the schedule's rate (if a LearningRateSchedule was given) and the gradient rules (clipping,
    weight decay); `iterations`, the updates done (kept in the first parameter group, so that it
    is saved and restored with the optimizer's state); `learning_rate` (and Keras 2's `lr`)."""

    rules: GradientRules | None = None
    schedule: schedules.LearningRateSchedule | None = None
    param_groups: list[dict[str, Any]]

    @property
    def iterations(self) -> int:
        return int(self.param_groups[0].get("iterations", 0))

    @property
    def learning_rate(self) -> LearningRate:
        return LearningRate(self)

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        LearningRate(self).assign(value)

    lr = learning_rate

    def set_learning_rate(self, rate: float) -> None:
        set_rate(self, rate)

    @property
    def built(self) -> bool:
        """Whether it holds state, as Keras's optimizer is built: it has stepped, or a file's
        state was put in (summary() counts its variables, saving writes them)."""
        return bool(self.__dict__.get("_loaded") or self.iterations or getattr(self, "state", None))

    def mark_loaded(self) -> None:
        self.__dict__["_loaded"] = True

    def before_update(self) -> None:
        step = self.iterations
        if self.schedule is not None:
            set_rate(self, self.schedule(step))
        self.param_groups[0]["iterations"] = step + 1
        if self.rules:
            self.rules.apply(self)


class PendingOptimizer(_KerasOptimizer):
    """`model.optimizer` of a compiled model whose weights do not exist yet (a Sequential given no
    input shape, as the lecture's): Keras's optimizer exists from compile, so code that reads or
    sets its learning rate before `fit` runs; the rate set goes to the OptimizerSpec, which makes
    the optimizer at the first fit."""

    def __init__(self, spec: OptimizerSpec) -> None:
        self.spec = spec
        self.schedule = spec.schedule
        self.rules = spec.rules or None

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # read only: what the optimizer will start with
        return [{"lr": self.spec.learning_rate}]

    def set_learning_rate(self, rate: float) -> None:
        self.spec.set_learning_rate(rate)

    def __repr__(self) -> str:
        rate = float(self.learning_rate)
        return f"<{self.spec.name} optimizer, made at the first fit; learning_rate={rate:g}>"


class _KerasRule(_KerasOptimizer, torch.optim.Optimizer):
    """`step()` is torch's (a profiler range and the step hooks, around `update()`); `update()` is
    the rule alone, which `step_optimizer` calls when no hooks are registered. `before_update`
    runs first either way."""

    def step(self, closure=None):  # noqa: ANN001 - torch's signature
        self.before_update()
        self.update()

    def update(self) -> None:
        raise NotImplementedError


def step_optimizer(optimizer: torch.optim.Optimizer) -> None:
    """optimizer.step(); for textrnn's optimizers without step hooks (the usual case), their
    `update()` without torch's wrapper, which costs ~50 us a step (2 % of a SimpleRNN step)."""
    hooks = (optimizer._optimizer_step_pre_hooks or optimizer._optimizer_step_post_hooks
             or torch_optimizer._global_optimizer_pre_hooks or torch_optimizer._global_optimizer_post_hooks)
    # an instance attribute `step`: wrapped by someone (an LR scheduler counts the calls)
    if isinstance(optimizer, _KerasRule) and not hooks and "step" not in vars(optimizer):
        optimizer.before_update()
        optimizer.update()
    else:
        optimizer.step()


class _SlottedRule(_KerasRule):
    """A rule whose state per weight is named tensors (Keras's optimizer variables), applied group
    by group to the weights that received a gradient."""

    @torch.no_grad()
    def update(self) -> None:
        for group in self.param_groups:
            params, grads = _with_grads(group)
            if params:
                self.update_group(group, params, grads)

    def update_group(self, group: Group, params: Tensors, grads: Tensors) -> None:
        raise NotImplementedError

    def slots(self, params: list[torch.Tensor], *names: str, fill: float = 0.0) -> list[list[torch.Tensor]]:
        """Each named state tensor of each weight (created as `fill` the first time), one list per name."""
        states = [self.state[p] for p in params]
        lists = []
        for name in names:
            try:  # (each step: kept lean, it runs on every update)
                lists.append([state[name] for state in states])
            except KeyError:
                for state, p in zip(states, params):
                    if name not in state:
                        state[name] = torch.full_like(p, fill)
                lists.append([state[name] for state in states])
        return lists


class RMSpropOptimizer(_SlottedRule):
    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "rho": rho, "momentum": momentum, "epsilon": epsilon,
                                  "centered": centered})

    def update_group(self, group: Group, params: Tensors, grads: Tensors) -> None:
        (velocities,) = self.slots(params, "velocity")
        rho, lr, epsilon = group["rho"], group["lr"], group["epsilon"]
        momentum, centered = group.get("momentum", 0.0), group.get("centered", False)
        plain = not momentum and not centered
        if plain and kernels.rmsprop_step(params, grads, velocities, lr, rho, epsilon):
            return  # one pass instead of five
        torch._foreach_mul_(velocities, rho)
        torch._foreach_addcmul_(velocities, grads, grads, value=1 - rho)
        if centered:  # Keras: sqrt(v - a² + ε), a the running mean of the gradient
            (averages,) = self.slots(params, "average_gradient")
            torch._foreach_lerp_(averages, grads, 1 - rho)
            denom = torch._foreach_addcmul(velocities, averages, averages, value=-1)
            torch._foreach_add_(denom, epsilon)
        else:
            denom = torch._foreach_add(velocities, epsilon)
        torch._foreach_sqrt_(denom)
        if not momentum:
            torch._foreach_addcdiv_(params, grads, denom, value=-lr)
            return
        (moments,) = self.slots(params, "momentum")  # Keras: m = momentum m + lr g / denom
        torch._foreach_mul_(moments, momentum)
        torch._foreach_addcdiv_(moments, grads, denom, value=lr)
        torch._foreach_sub_(params, moments)


class AdamOptimizer(_SlottedRule):
    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False) -> None:
        super().__init__(params, {"lr": lr, "beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon,
                                  "amsgrad": amsgrad})

    def update_group(self, group: Group, params: Tensors, grads: Tensors) -> None:
        ms, vs = self.slots(params, "m", "v")
        for p in params:
            state = self.state[p]
            state["step"] = state.get("step", 0) + 1
        t = self.state[params[0]]["step"]
        b1, b2 = group["beta_1"], group["beta_2"]
        alpha = group["lr"] * (1 - b2**t) ** 0.5 / (1 - b1**t)
        amsgrad = group.get("amsgrad", False)
        if not amsgrad and kernels.adam_step(params, grads, ms, vs, alpha, b1, b2, group["epsilon"]):
            return
        torch._foreach_lerp_(ms, grads, 1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, grads, grads, value=1 - b2)
        if amsgrad:  # the largest velocity so far in the denominator
            (highest,) = self.slots(params, "v_hat")
            torch._foreach_maximum_(highest, vs)
            vs = highest
        denom = torch._foreach_sqrt(vs)
        torch._foreach_add_(denom, group["epsilon"])
        torch._foreach_addcdiv_(params, ms, denom, value=-alpha)


class NadamOptimizer(_SlottedRule):
    """Keras's Nadam: Adam with Nesterov momentum under Keras's momentum schedule
    u_t = β1 (1 - 0.5 · 0.96^t), whose running product Keras keeps as one more variable (kept
    here in the first parameter group, beside `iterations`)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7) -> None:
        super().__init__(params, {"lr": lr, "beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon})

    @torch.no_grad()
    def update(self) -> None:
        t = self.iterations  # this update's number, from 1
        first = self.param_groups[0]
        b1 = first["beta_1"]
        u_t, u_next = b1 * (1 - 0.5 * 0.96**t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        first["u_product"] = first.get("u_product", 1.0) * u_t
        self._momentum_now = (u_t, u_next)  # (every group takes this update's)
        super().update()

    def update_group(self, group: Group, params: Tensors, grads: Tensors) -> None:
        t, product = self.iterations, self.param_groups[0]["u_product"]
        u_t, u_next = self._momentum_now
        ms, vs = self.slots(params, "m", "v")
        b1, b2 = group["beta_1"], group["beta_2"]
        torch._foreach_lerp_(ms, grads, 1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, grads, grads, value=1 - b2)
        m_hat = torch._foreach_mul(ms, u_next / (1 - product * u_next))
        torch._foreach_add_(m_hat, grads, alpha=(1 - u_t) / (1 - product))
        denom = torch._foreach_mul(vs, 1 / (1 - b2**t))
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, group["epsilon"])
        torch._foreach_addcdiv_(params, m_hat, denom, value=-group["lr"])


class AdamaxOptimizer(_SlottedRule):
    """Keras's Adamax: u = max(β2 u, |g|);  w -= lr m / ((1 - β1^t)(u + ε))."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7) -> None:
        super().__init__(params, {"lr": lr, "beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon})

    def update_group(self, group: Group, params: Tensors, grads: Tensors) -> None:
        ms, norms = self.slots(params, "m", "norm")
        b1 = group["beta_1"]
        torch._foreach_lerp_(ms, grads, 1 - b1)
        torch._foreach_mul_(norms, group["beta_2"])
        torch._foreach_maximum_(norms, torch._foreach_abs(grads))
        denom = torch._foreach_add(norms, group["epsilon"])
        torch._foreach_mul_(denom, 1 - b1**self.iterations)
        torch._foreach_addcdiv_(params, ms, denom, value=-group["lr"])


class AdagradOptimizer(_SlottedRule):
    """Keras's Adagrad: a += g² (a starts at 0.1);  w -= lr g / sqrt(a + ε)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7) -> None:
        super().__init__(params, {"lr": lr, "initial_accumulator_value": initial_accumulator_value,
                                  "epsilon": epsilon})

    def update_group(self, group: Group, params: Tensors, grads: Tensors) -> None:
        (sums,) = self.slots(params, "accumulator", fill=group["initial_accumulator_value"])
        torch._foreach_addcmul_(sums, grads, grads)
        denom = torch._foreach_add(sums, group["epsilon"])
        torch._foreach_sqrt_(denom)
        torch._foreach_addcdiv_(params, grads, denom, value=-group["lr"])


class AdadeltaOptimizer(_SlottedRule):
    """Keras's Adadelta: g2 = ρ g2 + (1 - ρ) g²;  d = sqrt(d2 + ε) g / sqrt(g2 + ε);
    d2 = ρ d2 + (1 - ρ) d²;  w -= lr d."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 0.001, rho: float = 0.95,
                 epsilon: float = 1e-7) -> None:
        super().__init__(params, {"lr": lr, "rho": rho, "epsilon": epsilon})

    def update_group(self, group: Group, params: Tensors, grads: Tensors) -> None:
        grad_squares, delta_squares = self.slots(params, "accumulated_grad", "accumulated_delta_var")
        rho, epsilon = group["rho"], group["epsilon"]
        torch._foreach_mul_(grad_squares, rho)
        torch._foreach_addcmul_(grad_squares, grads, grads, value=1 - rho)
        deltas = torch._foreach_add(delta_squares, epsilon)
        torch._foreach_sqrt_(deltas)
        torch._foreach_mul_(deltas, grads)
        denom = torch._foreach_add(grad_squares, epsilon)
        torch._foreach_sqrt_(denom)
        torch._foreach_div_(deltas, denom)
        torch._foreach_mul_(delta_squares, rho)
        torch._foreach_addcmul_(delta_squares, deltas, deltas, value=1 - rho)
        torch._foreach_add_(params, deltas, alpha=-group["lr"])


class SGDOptimizer(_SlottedRule):
    """Keras's SGD: m = μ m - lr g;  w += m (Nesterov: w += μ m - lr g); without momentum
    w -= lr g. Keras keeps the rate inside m, so a rate that changes (a schedule,
    ReduceLROnPlateau) scales only the steps after it, unlike torch's buffer of raw gradients."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov})

    def update_group(self, group: Group, params: Tensors, grads: Tensors) -> None:
        lr, momentum = group["lr"], group["momentum"]
        if not momentum:
            torch._foreach_add_(params, grads, alpha=-lr)
            return
        (moments,) = self.slots(params, "momentum")
        torch._foreach_mul_(moments, momentum)
        torch._foreach_add_(moments, grads, alpha=-lr)
        if group["nesterov"]:
            step = torch._foreach_mul(moments, momentum)
            torch._foreach_add_(step, grads, alpha=-lr)
            torch._foreach_add_(params, step)
        else:
            torch._foreach_add_(params, moments)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Also the state of textrnn 0.1's SGD (torch's momentum buffer b, with m = -lr b)."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state.get(p, {})
                if "momentum_buffer" in state:
                    state["momentum"] = state.pop("momentum_buffer") * -group["lr"]


# AdamW is Keras's Adam with a weight decay of its own (0.004 unless given)
OPTIMIZERS = {"rmsprop": RMSpropOptimizer, "adam": AdamOptimizer, "adamw": AdamOptimizer, "sgd": SGDOptimizer,
              "nadam": NadamOptimizer, "adamax": AdamaxOptimizer, "adagrad": AdagradOptimizer,
              "adadelta": AdadeltaOptimizer}
DEFAULT_LR = {name: 0.01 if name == "sgd" else 0.001 for name in OPTIMIZERS}
DEFAULT_WEIGHT_DECAY = {"adamw": 0.004}


# Each rule's own settings with Keras's defaults.
_ADAM_LIKE = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
OPTIONS = {"rmsprop": {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False},
           "adam": {**_ADAM_LIKE, "amsgrad": False},
           "sgd": {"momentum": 0.0, "nesterov": False},
           "nadam": _ADAM_LIKE, "adamax": _ADAM_LIKE,
           "adagrad": {"initial_accumulator_value": 0.1, "epsilon": 1e-7},
           "adadelta": {"rho": 0.95, "epsilon": 1e-7}}
OPTIONS["adamw"] = OPTIONS["adam"]
# Keras arguments that change nothing at these values; textrnn has no rule for any other value.
NEUTRAL = {"name": None, "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
           "loss_scale_factor": None, "gradient_accumulation_steps": None, "decay": 0.0, "momentum": 0.0,
           "centered": False, "amsgrad": False}


class OptimizerSpec:
    """An optimizer named before the model's parameters exist: `OptimizerSpec("adam", lr=3e-4)`.

    `options`: the rule's own settings (OPTIONS), Keras's defaults where not given; `rules`:
    Keras's settings common to every optimizer (clipnorm, clipvalue, global_clipnorm, weight_decay).
    `embedding_learning_rate` (a textrnn extension, not in Keras): the Embedding layers' weights
    take this rate instead, e.g. a pretrained embedding fine-tuned more gently than the layers
    trained from scratch (ULMFiT's discriminative fine-tuning)."""

    def __init__(self, name: str, learning_rate: float | None = None,
                 embedding_learning_rate: float | None = None, options: dict | None = None,
                 rules: dict | None = None) -> None:
        key = name.lower()
        if key not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
        if isinstance(learning_rate, dict):  # a saved schedule
            learning_rate = schedules.deserialize(learning_rate)
        self.schedule = learning_rate if isinstance(learning_rate, LearningRateSchedule) else None
        if self.schedule is not None:  # the rate of the first update; later ones follow the schedule
            learning_rate = float(self.schedule(0))
        for label, rate in (("learning rate", learning_rate), ("embedding learning rate",
                                                               embedding_learning_rate)):
            if rate is not None and not 0 < float(rate) < math.inf:
                raise ConfigError(f"the {label} must be positive and finite, got {rate}")
        unknown = set(options or {}) - set(OPTIONS[key])
        if unknown:
            raise ConfigError(f"{key}: unknown setting(s) {', '.join(sorted(unknown))}; valid: "
                              f"{', '.join(OPTIONS[key])}")
        self.name = key
        self.learning_rate = DEFAULT_LR[key] if learning_rate is None else float(learning_rate)
        self.embedding_learning_rate = (None if embedding_learning_rate is None
                                        else float(embedding_learning_rate))
        self.options = {**OPTIONS[key], **(options or {})}
        rules = {"weight_decay": DEFAULT_WEIGHT_DECAY.get(key), **(rules or {})}
        unknown = set(rules) - set(RULES)
        if unknown:
            raise ConfigError(f"{key}: unknown setting(s) {', '.join(sorted(unknown))}")
        self.rules = GradientRules(**rules)

    def set_learning_rate(self, rate: float) -> None:
        """A new rate for the optimizer this spec makes (an embedding's own rate keeps its ratio)."""
        if self.embedding_learning_rate is not None and self.learning_rate:
            self.embedding_learning_rate *= rate / self.learning_rate
        self.learning_rate = float(rate)

    @property
    def keras_learning_rate(self) -> float | dict:
        """The learning rate as Keras's config holds it: a number, or the serialised schedule."""
        return schedules.serialize(self.schedule) if self.schedule is not None else self.learning_rate

    @property
    def rule(self) -> str:
        """The update rule (AdamW's is Adam's)."""
        return "adam" if self.name == "adamw" else self.name

    @property
    def keras_slots(self) -> tuple[tuple[str, ...], ...]:
        """The optimizer state that Keras keeps as variables per trained weight, in Keras's order
        (after the step count and the learning rate): blocks of state names, each block
        interleaved over the weights (Adam: m, v of the first weight, then of the second, ...;
        then AMSGrad's v_hat of each), one block after another. SGD keeps its momentum only with
        momentum."""
        options = self.options
        if self.name == "sgd":
            return (("momentum",),) if options["momentum"] else ()
        if self.rule == "rmsprop":
            return (("velocity",), *((("momentum",),) if options["momentum"] else ()),
                    *((("average_gradient",),) if options["centered"] else ()))
        if self.rule == "adam":
            return (("m", "v"), *((("v_hat",),) if options["amsgrad"] else ()))
        return {"nadam": (("m", "v"),), "adamax": (("m", "norm"),), "adagrad": (("accumulator",),),
                "adadelta": (("accumulated_grad", "accumulated_delta_var"),)}[self.name]

    @property
    def keras_tail(self) -> tuple[str, ...]:
        """Keras's variables after the slots, kept in the first parameter group (Nadam's momentum
        product)."""
        return ("u_product",) if self.name == "nadam" else ()

    @property
    def slot_fill(self) -> float:
        """What a slot holds before the first update (Adagrad's accumulators start above zero)."""
        return self.options.get("initial_accumulator_value", 0.0)

    def keras_variable_count(self, trainable_params: int) -> int:
        """How many numbers Keras's optimizer of this kind holds for this many trained weights (the
        summary's "Optimizer params")."""
        per_weight = sum(len(block) for block in self.keras_slots)
        return self.keras_head_count + per_weight * trainable_params + len(self.keras_tail)

    @property
    def keras_head_count(self) -> int:
        """The variables before the slots: the step count and the rate (none for a schedule)."""
        return 1 if self.schedule is not None else 2

    def create(self, params: list[torch.nn.Parameter],
               embedding_params: list[torch.nn.Parameter] = ()) -> torch.optim.Optimizer:
        """Over `params`; with an embedding learning rate, `embedding_params` (a subset of
        `params`) form a second parameter group at that rate."""
        if self.embedding_learning_rate is None or not embedding_params:
            optimizer = OPTIMIZERS[self.name](params, lr=self.learning_rate, **self.options)
        else:
            separate = {id(p) for p in embedding_params}
            groups = [{"params": [p for p in params if id(p) not in separate]},
                      {"params": list(embedding_params), "lr": self.embedding_learning_rate}]
            optimizer = OPTIMIZERS[self.name](groups, lr=self.learning_rate, **self.options)
        optimizer.rules = self.rules or None
        optimizer.schedule = self.schedule
        return optimizer

    def get_config(self) -> dict:
        config = {"name": self.name, "learning_rate": self.keras_learning_rate}
        if self.embedding_learning_rate is not None:
            config["embedding_learning_rate"] = self.embedding_learning_rate
        if self.options != OPTIONS[self.name]:
            config["options"] = dict(self.options)
        default = GradientRules(weight_decay=DEFAULT_WEIGHT_DECAY.get(self.name))
        if self.rules.config() != default.config():
            config["rules"] = self.rules.config()
        return config

    @classmethod
    def from_config(cls, config: dict) -> OptimizerSpec:
        return cls(config["name"], config["learning_rate"], config.get("embedding_learning_rate"),
                   config.get("options"), config.get("rules"))


def keras_arguments(name: str, learning_rate: float | None, lr: float | None,
                    extra: dict[str, Any]) -> tuple[float | None, dict[str, Any]]:
    """The learning rate from a Keras optimizer's arguments (Keras 2's `lr` taken as
    `learning_rate`) and the gradient rules among them; any other argument is refused in one line
    unless at its neutral value."""
    if lr is not None:
        if learning_rate is not None:
            raise ConfigError(f"{name}: give learning_rate or Keras 2's lr, not both")
        learning_rate = lr
    for key, value in extra.items():
        if key in RULES:
            continue
        if key not in NEUTRAL:
            raise ConfigError(f"{name}: unknown argument {key!r}")
        if key != "name" and value != NEUTRAL[key]:
            raise ConfigError(f"{name}: {key}={value!r} is not supported (textrnn has no rule for it)")
    return learning_rate, {k: v for k, v in extra.items() if k in RULES}


def get(optimizer: str | OptimizerSpec) -> OptimizerSpec:
    return optimizer if isinstance(optimizer, OptimizerSpec) else OptimizerSpec(optimizer)


class RMSprop(OptimizerSpec):
    """As keras.optimizers.RMSprop: `model.compile(optimizer=RMSprop(learning_rate=1e-4))`."""

    def __init__(self, learning_rate: float | None = None, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, embedding_learning_rate: float | None = None,
                 lr: float | None = None, **kwargs: Any) -> None:
        rate, rules = keras_arguments("RMSprop", learning_rate, lr, kwargs)
        super().__init__("rmsprop", rate, embedding_learning_rate,
                         {"rho": rho, "momentum": float(momentum), "epsilon": epsilon,
                          "centered": bool(centered)}, rules)


class Adam(OptimizerSpec):
    """As keras.optimizers.Adam."""

    def __init__(self, learning_rate: float | None = None, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, embedding_learning_rate: float | None = None,
                 lr: float | None = None, **kwargs: Any) -> None:
        rate, rules = keras_arguments("Adam", learning_rate, lr, kwargs)
        super().__init__("adam", rate, embedding_learning_rate,
                         {"beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon, "amsgrad": bool(amsgrad)},
                         rules)


class AdamW(OptimizerSpec):
    """As keras.optimizers.AdamW: Adam with decoupled weight decay (0.004 by default)."""

    def __init__(self, learning_rate: float | None = None, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 embedding_learning_rate: float | None = None, lr: float | None = None,
                 **kwargs: Any) -> None:
        if weight_decay is None:
            raise ConfigError("AdamW: weight_decay must be a number (Adam has none)")
        rate, rules = keras_arguments("AdamW", learning_rate, lr, kwargs)
        super().__init__("adamw", rate, embedding_learning_rate,
                         {"beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon, "amsgrad": bool(amsgrad)},
                         {**rules, "weight_decay": weight_decay})


class _AdamLike(OptimizerSpec):
    """Nadam and Adamax: Adam's three settings."""

    def __init__(self, learning_rate: float | None = None, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, embedding_learning_rate: float | None = None,
                 lr: float | None = None, **kwargs: Any) -> None:
        rate, rules = keras_arguments(type(self).__name__, learning_rate, lr, kwargs)
        super().__init__(type(self).__name__, rate, embedding_learning_rate,
                         {"beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon}, rules)


class Nadam(_AdamLike):
    """As keras.optimizers.Nadam."""


class Adamax(_AdamLike):
    """As keras.optimizers.Adamax."""


class Adagrad(OptimizerSpec):
    """As keras.optimizers.Adagrad."""

    def __init__(self, learning_rate: float | None = None, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, embedding_learning_rate: float | None = None,
                 lr: float | None = None, **kwargs: Any) -> None:
        rate, rules = keras_arguments("Adagrad", learning_rate, lr, kwargs)
        super().__init__("adagrad", rate, embedding_learning_rate,
                         {"initial_accumulator_value": float(initial_accumulator_value), "epsilon": epsilon},
                         rules)


class Adadelta(OptimizerSpec):
    """As keras.optimizers.Adadelta (Keras 3's learning rate 0.001 by default; Keras 2's was 1.0)."""

    def __init__(self, learning_rate: float | None = None, rho: float = 0.95, epsilon: float = 1e-7,
                 embedding_learning_rate: float | None = None, lr: float | None = None,
                 **kwargs: Any) -> None:
        rate, rules = keras_arguments("Adadelta", learning_rate, lr, kwargs)
        super().__init__("adadelta", rate, embedding_learning_rate, {"rho": rho, "epsilon": epsilon}, rules)


class SGD(OptimizerSpec):
    """As keras.optimizers.SGD, momentum and Nesterov momentum included."""

    def __init__(self, learning_rate: float | None = None, momentum: float = 0.0, nesterov: bool = False,
                 embedding_learning_rate: float | None = None, lr: float | None = None,
                 **kwargs: Any) -> None:
        rate, rules = keras_arguments("SGD", learning_rate, lr, kwargs)
        super().__init__("sgd", rate, embedding_learning_rate,
                         {"momentum": float(momentum), "nesterov": bool(nesterov)}, rules)
