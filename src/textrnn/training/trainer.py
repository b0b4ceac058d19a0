"""The trainer: Keras's compile / fit / evaluate / predict and the batch methods, as a mixin of
the model (Keras's Model inherits its Trainer the same way). It knows the model only through
`self(x)`, `self.layers` / `self._layers`, `self.weights` and `self.built`; an ensemble model adds
other networks' outputs through `_combine`."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from textrnn import keep_denormals_flushed
from textrnn.backend.device import move_optimizer_state
from textrnn.backend.device import resolve as resolve_device
from textrnn.data.buckets import batch_width, length_batches, row_lengths
from textrnn.data.text_dataset import TextDataset
from textrnn.errors import ConfigError, DataError
from textrnn.layers.base import call_losses, penalties, regularized
from textrnn.layers.embedding import Embedding
from textrnn.training import arguments, array_steps, batch_source, distributed, losses, masking, precision
from textrnn.training import optimizers as optimizers_module
from textrnn.training.callbacks import Callback, History, uses_batch_hooks
from textrnn.training.direct_step import DirectStep
from textrnn.training.objective import Objective


def _from_dataset(x: Any, y: Any, batch_size: int, what: str, labels: bool = True) -> tuple[Any, Any, int]:
    """A TextDataset's batches as arrays and its batch size (Keras iterates the dataset); other
    inputs as they are. `labels`: `what` needs y, from the caller or from the dataset."""
    if isinstance(x, TextDataset):
        if y is not None:
            raise ConfigError(f"{what}: with a dataset, the labels come from it; give the dataset alone")
        x, y, batch_size = (*x.as_arrays(), x.batch_size)
    if labels and y is None:
        raise ConfigError(f"{what} needs y (the labels), or a dataset of (inputs, labels) batches")
    return x, y, batch_size


# A model's inputs are one tensor, or a list of them for a functional model of several inputs.
# These take rows of either; `width` (length buckets' columns from the right) applies to one input.
Batch = torch.Tensor | list[torch.Tensor]


def _count(x: Batch) -> int:
    return len(x[0]) if isinstance(x, list) else len(x)


def _take(x: Batch | None, rows: torch.Tensor, width: int | None = None) -> Batch | None:
    if x is None:  # no sample weights, or no labels for an output
        return None
    if isinstance(x, list):  # several inputs, or several outputs' labels
        return [_take(t, rows) for t in x]
    # one gather of the rows' last `width` columns (x[rows, -width:] copies twice)
    return (x if width is None else x[:, -width:]).index_select(0, rows)


class _LazyBatches:
    """An epoch's batches of arrays, each gathered as it is taken (this process's rows of it under
    torchrun): (inputs, labels, sample weights)."""

    def __init__(self, xt: Batch, yt: Any, wt: Any, plan: list[tuple[torch.Tensor, int | None]]) -> None:
        self.xt, self.yt, self.wt, self.plan = xt, yt, wt, plan

    def __len__(self) -> int:
        return len(self.plan)

    def __iter__(self) -> Iterator[tuple[Batch, Any, Any]]:
        for rows, width in self.plan:
            idx = distributed.local_rows(rows)
            yield _take(self.xt, idx, width), _take(self.yt, idx), _take(self.wt, idx)


def _split(x: Batch | None, at: int) -> tuple[Any, Any]:
    if x is None:  # no sample weights, or no labels for an output
        return None, None
    if isinstance(x, list):
        return tuple(map(list, zip(*(_split(t, at) for t in x))))
    return x[:at], x[at:]


def _first_batches(parts: tuple[Any, ...], batch_size: int, steps: int | None, what: str) -> tuple[Any, ...]:
    """The rows of the first `steps` batches of each part (Keras's `steps` over arrays); `what`
    names the argument."""
    array_steps.check_steps(steps, what)
    keep = array_steps.first_rows(_count(parts[0]), batch_size, steps)
    return tuple(_split(part, keep)[0] for part in parts)


def _shown(value: Any) -> float:
    """A log's value as the progress line shows it: a per-class array by its mean, as Keras's."""
    return float(np.mean(value))


def _flat(values: Any) -> list[float]:
    """What steps give after their loss (a tensor, a float, or a list), as a flat list."""
    return torch.as_tensor(values, dtype=torch.float64).reshape(-1).tolist()


class Trainer:
    """compile, fit, evaluate, predict, train_on_batch, test_on_batch, predict_on_batch."""

    # How many inputs the model takes and outputs it gives (a functional model may have several).
    input_count = 1
    output_count = 1

    def _init_trainer(self) -> None:
        self._optimizer: torch.optim.Optimizer | None = None
        self._optimizer_spec: optimizers_module.OptimizerSpec | None = None
        self.loss: Any = None  # as given to compile (a name; per output: a list or dict of them)
        self.metric_names: Any = []
        self.loss_weights: Any = None
        self._objective: Objective | None = None  # several outputs' (or metrics') losses and metrics
        self._metric_name: str | None = None
        self.compiled = False
        self.stop_training = False
        self.history: History | None = None
        self._policy = precision.global_policy().name  # as Keras: the policy in force at creation
        self._loss_scale: tuple[tuple[str, torch.device], torch.amp.GradScaler | None] | None = None

    @property
    def optimizer(self) -> torch.optim.Optimizer | optimizers_module.PendingOptimizer | None:
        """Keras's `model.optimizer`: None before compile; after it the optimizer over the weights
        (made when first asked for; it holds no state until it steps), or while the model has no
        weights yet a PendingOptimizer, whose learning rate can be read and set as Keras code
        does right after compile."""
        if self._optimizer is None and self.compiled:
            if self.built:
                return self.create_optimizer()
            return optimizers_module.PendingOptimizer(self._optimizer_spec)
        return self._optimizer

    @optimizer.setter
    def optimizer(self, optimizer: torch.optim.Optimizer | None) -> None:
        self._optimizer = optimizer

    @property
    def optimizer_built(self) -> bool:
        """Whether the optimizer holds state (it has stepped, or a file's was loaded), as Keras's
        `optimizer.built`: summary() then counts its variables and saving writes them."""
        optimizer = self._optimizer
        return optimizer is not None and bool(getattr(optimizer, "built", optimizer.state))

    @property
    def dtype_policy(self) -> precision.DTypePolicy:
        """Keras's mixed precision policy of this model (textrnn.training.precision)."""
        return precision.DTypePolicy(self._policy)

    @dtype_policy.setter
    def dtype_policy(self, policy: str | precision.DTypePolicy) -> None:
        self._policy = precision.policy_name(policy)

    @property
    def is_ensemble(self) -> bool:
        """More than this network makes its predictions (see Sequential): evaluate and the batch
        methods then go through predict."""
        return False

    def _combine(self, probs: torch.Tensor, xt: torch.Tensor, batch_size: int) -> torch.Tensor:
        """This network's outputs `probs` for `xt` -> the model's (an ensemble adds its others')."""
        return probs

    @property
    def output_names(self) -> list[str]:
        """Keras's `model.output_names`: the names of the layers that give the outputs."""
        return [self._layers[-1].name] if self._layers else []

    # --- training setup -------------------------------------------------------------------------
    def compile(self, optimizer: str | optimizers_module.OptimizerSpec = "rmsprop",
                loss: Any = "binary_crossentropy", metrics: Any = None, loss_weights: Any = None,
                weighted_metrics: Any = None, run_eagerly: bool = False, steps_per_execution: int = 1,
                jit_compile: Any = "auto", auto_scale_loss: bool = True, sample_weight_mode: Any = None,
                **unsupported: Any) -> None:
        """Keras's compile. A model of several outputs takes a loss, loss weight and metrics per
        output (textrnn.training.objective); metrics stay third, as in Keras 2 (Keras 3 put
        loss_weights there). Keras's execution settings (run_eagerly, steps_per_execution,
        jit_compile, auto_scale_loss) change how Keras runs, not what it computes: taken, and
        textrnn runs as it does. Keras 2's `sample_weight_mode="temporal"` is taken too: the
        sample weights' shape says it, as in Keras 3."""
        arguments.refuse("compile", unsupported)
        if sample_weight_mode not in (None, "temporal"):
            raise ConfigError(f"compile: sample_weight_mode must be None or 'temporal', got "
                              f"{sample_weight_mode!r}")
        if weighted_metrics:
            raise ConfigError("compile: weighted_metrics= is not supported by textrnn (the metrics are "
                              "unweighted, as Keras's metrics=)")
        self._optimizer_spec = optimizers_module.get(optimizer)
        loss = losses.deserialize(loss)  # a loss object as a saved config holds it
        metrics = losses.deserialize(metrics, losses.METRIC_CLASSES)
        if self.output_count > 1:
            self._objective_args = (loss, loss_weights, metrics, self.output_names)
            self._objective = Objective(*self._objective_args)
        else:
            name = self.output_names[0] if self.output_names else "output"
            loss = arguments.only_entry(loss, name, "loss")
            if arguments.only_entry(loss_weights, name, "loss_weights") not in (None, 1, 1.0):
                raise ConfigError("compile: loss_weights scale the losses of a model of several outputs; "
                                  "this model has one")
            self._loss_fn, by_loss = losses.get(loss)
            metrics = arguments.flat_metrics(metrics)
            named = [losses.metric(m, by_loss) for m in metrics]
            # one mean metric (the usual accuracy) on the plain path; more, or a counted one
            # (precision, recall, AUC), go through an objective
            counted = any(hasattr(fn, "result") for _, fn in named)
            self._objective_args = (loss, None, [metrics], [name])
            self._objective = Objective(*self._objective_args) if len(named) > 1 or counted else None
            self._metric_name = named[0][0] if named else None
            self._accuracy_fn = named[0][1] if named else by_loss
        self.loss, self.metric_names, self.loss_weights = loss, metrics or [], loss_weights
        self.optimizer = None  # created once the weights exist
        self._direct_plan = (None, None)  # planned again at the next step (TEXTRNN_DIRECT_STEP may differ)
        self.compiled = True

    def compile_entries(self) -> dict[str, Any]:
        """compile's loss, loss weights and metrics as Keras's compile_config holds them (objects
        serialised); textrnn's saved config holds them the same way."""
        return {"loss": losses.serialize(self.loss), "loss_weights": self.loss_weights,
                "metrics": losses.serialize(self.metric_names)}

    def _log_names(self) -> list[str]:
        """The names of the values a step gives after the loss (Keras's logs and evaluate's list)."""
        if self._objective is not None:
            return self._objective.names
        return [self._metric_name] if self._metric_name else []

    def _require_compiled(self) -> None:
        if not self.compiled:
            raise ConfigError("call model.compile(optimizer, loss, metrics) before training or evaluating")

    def _ensure_ready(self, x: torch.Tensor | list[torch.Tensor], batch_size: int = 32) -> None:
        if not self.built:
            self._build_from(x, batch_size)
        self._place()
        self.create_optimizer()

    @property
    def device(self) -> torch.device:
        """Where the model's weights are (the CPU before it is built). Read for every batch, so it
        is kept, and forgotten whenever the module is moved or cast (`_apply`)."""
        device = self.__dict__.get("_device")
        if device is None:
            weight = next(iter(self.parameters()), None)
            device = weight.device if weight is not None else torch.device("cpu")
            if weight is not None:
                self.__dict__["_device"] = device
        return device

    def _apply(self, fn, recurse=True):  # noqa: ANN001 - nn.Module's: .to / .cuda / .cpu / .float
        self.__dict__.pop("_device", None)
        return super()._apply(fn, recurse)

    def to_device(self, device: str | torch.device | None = None) -> Trainer:
        """Move the model (and its optimizer state) to `device` (see
        textrnn.backend.device.resolve: None is TEXTRNN_DEVICE or auto)."""
        target = resolve_device(device)
        self._placed = True
        if target == self.device:
            return self
        self.to(target)
        if self._optimizer is not None:
            move_optimizer_state(self._optimizer, target)
        return self

    def _place(self) -> None:
        """The first time it computes, a model goes to the default device, as Keras picks the GPU;
        one the user moved (model.to / to_device) stays where it is."""
        if not getattr(self, "_placed", False):
            self._placed = True
            if self.device.type == "cpu":
                self.to_device(None)

    def _on_device(self, t: Batch | None) -> Batch | None:
        """A batch where the weights are (a no-op on the CPU). To a GPU it goes through pinned
        memory, so the copy runs beside the computation (torch's pinned-memory cache recycles the
        buffers once their copies are done)."""
        if t is None:  # no sample weights, or no labels for an output
            return None
        if isinstance(t, list):  # a functional model's several inputs, or outputs' labels
            return [self._on_device(part) for part in t]
        device = self.device
        if t.device == device:
            return t
        if device.type == "cuda" and t.device.type == "cpu":
            t = t.pin_memory()
        return t.to(device, non_blocking=True)

    def create_optimizer(self) -> torch.optim.Optimizer:
        """The compiled optimizer over this (built) model's weights, created once."""
        self._require_compiled()
        if self._optimizer is None:
            # All weights go to the optimizer; frozen ones get no gradient and are left alone.
            embedding = [w for layer in self._layers if isinstance(layer, Embedding)
                         for w in layer.weights]
            self._optimizer = self._optimizer_spec.create(self.weights, embedding)
        return self._optimizer

    # --- batches --------------------------------------------------------------------------------
    @property
    def input_names(self) -> list[str]:
        """The names of the model's inputs (its Input layers'; none for a Sequential)."""
        return []

    def _to_tensors(self, x: Any, y: Any | None) -> tuple[torch.Tensor | list[torch.Tensor],
                                                          torch.Tensor | list[torch.Tensor | None] | None]:
        """x and y as tensors (textrnn.training.arguments: one per input / output for a model of
        several, from a list or a dict by name)."""
        xt = arguments.inputs(x, self.input_names, self.input_count)
        if y is None:
            return xt, None
        if self.output_count > 1:
            return xt, arguments.labels_per_output(y, _count(xt), self._objective.terms)
        return xt, arguments.labels(y, _count(xt))

    def _sample_weights(self, sample_weight: Any, class_weight: Any, yt: Any, n: int) -> torch.Tensor | None:
        return arguments.sample_weights(sample_weight, class_weight, yt, n, self.output_count)

    def _outputs(self, xb: torch.Tensor,
                 forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """The model's outputs for a batch, as float32: under a mixed policy they are computed in
        its compute dtype (autocast), and the loss, metrics and predictions read them in float32."""
        with precision.autocast(self.device, self._policy):
            pred = (forward or self)(xb)
        return [p.float() for p in pred] if isinstance(pred, list) else pred.float()

    def _batch_metrics(self, xb: torch.Tensor, yb: torch.Tensor,
                       forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
                       wb: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, the values named by _log_names): one output's accuracy, or a tensor of several;
        `wb` the rows' sample weights, which weigh the loss only (Keras's)."""
        pred = self._outputs(xb, forward)
        masks = self._sequence_masks(pred)
        if masks is not None and (self._objective is None or not self._objective.masked):
            # the first batch shows the outputs carry a mask: from now on the losses and the
            # mean metrics leave out the steps it masks (Keras's), which an Objective computes
            self._objective = Objective(*self._objective_args, masked=True)
        if self._objective is not None:
            loss, values = self._objective(yb, pred, wb, masks)
        else:
            loss, values = masking.masked_loss(self._loss_fn, yb, pred, wb, None), self._accuracy_fn(yb, pred)
        penalties = self.losses
        return (loss + sum(penalties) if penalties else loss), values

    def _sequence_masks(self, pred: Any) -> list[torch.Tensor | None] | None:
        """The mask each output carries, as Keras's `_keras_mask` (a sequence output's, (rows,
        steps), when a mask_zero Embedding or a Masking layer reaches it), or None if none does."""
        masks = self.__dict__.get("output_masks") or []
        outputs = pred if isinstance(pred, list) else [pred]
        kept = [m if m is not None and p.dim() == m.dim() + 1 and p.shape[:m.dim()] == m.shape else None
                for m, p in zip(masks, outputs)]
        return kept if any(m is not None for m in kept) else None

    @property
    def losses(self) -> list[torch.Tensor]:
        """Keras's `model.losses`: those its layers added in its last call (add_loss, activity
        regularizers) and the weight regularizers' penalties, added to the loss in training and
        evaluation as Keras 3 adds them."""
        return call_losses(self) + penalties(self)

    def train_on_batch(self, x: Any, y: Any, sample_weight: Any = None,
                       class_weight: Any = None) -> list[float]:
        self._require_compiled()
        xb, yb = self._to_tensors(x, y)
        wb = self._sample_weights(sample_weight, class_weight, yb, _count(xb))
        self._ensure_ready(xb)
        loss, values = self._train_step(xb, yb, wb=wb)
        self.eval()
        return self._results(float(loss), values, _count(xb))

    def _train_step(self, xb: torch.Tensor, yb: torch.Tensor,
                    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
                    wb: torch.Tensor | None = None) -> tuple[torch.Tensor | float, torch.Tensor | float]:
        """One optimizer step -> (loss, accuracy), left on the device (reading them would wait for
        the GPU every step); `forward` is the DistributedDataParallel wrapper when distributed,
        `wb` the rows' sample weights. Float32 models of the lecture's shapes, unweighted, take the
        direct step (direct_step.py): the same update through textrnn's kernels without autograd."""
        self.train()
        plain = (forward is None or forward is self) and self._policy == "float32" and wb is None
        direct = self._direct_step() if plain else None
        xb, yb = self._on_device(xb), self._on_device(yb)
        result = direct(self, xb, yb) if direct is not None else None
        if result is not None:  # as float32 tensors, as autograd's: the epoch sums them alike
            return torch.tensor(result[0], dtype=torch.float32), torch.tensor(result[1], dtype=torch.float32)
        self.optimizer.zero_grad(set_to_none=True)
        loss, acc = self._batch_metrics(xb, yb, forward, self._on_device(wb))
        precision.backward_and_step(loss, self.optimizer, self.loss_scaler())
        return loss.detach(), acc

    def loss_scaler(self) -> torch.amp.GradScaler | None:
        """The loss scaling of this model's policy on its device (mixed_float16 only), kept."""
        key = (self._policy, self.device)
        if self._loss_scale is None or self._loss_scale[0] != key:
            scaler = precision.grad_scaler(self.device, self._policy)
            before = self._loss_scale[1] if self._loss_scale is not None else None
            if scaler is not None and before is not None:  # moved to another device: same scale
                scaler.load_state_dict(before.state_dict())
            self._loss_scale = (key, scaler)
        return self._loss_scale[1]

    def _direct_step(self) -> DirectStep | None:
        """The direct step's plan for this model as it is now (layers and loss), or None."""
        if self._objective is not None or self._accuracy_fn is not losses.binary_accuracy:
            return None  # it computes the one loss and Keras's binary accuracy
        key = tuple(id(layer) for layer in self._layers)  # (compile forgets the plan)
        if getattr(self, "_direct_plan", (None,))[0] != key:
            # a layer given a mixed policy (dtype=) computes under autocast, which the step has not
            mixed = any(getattr(m, "_own_policy", None) not in (None, "float32") for m in self.modules())
            # nor the weight regularizers' penalties
            self._direct_plan = (key, None if mixed or regularized(self) else DirectStep.plan(self))
        return self._direct_plan[1]

    def test_on_batch(self, x: Any, y: Any, sample_weight: Any = None) -> list[float]:
        self._require_compiled()
        xb, yb = self._to_tensors(x, y)
        wb = self._sample_weights(sample_weight, None, yb, _count(xb))
        self._ensure_ready(xb)
        if self.is_ensemble:  # the whole model, as evaluate gives it
            results = self._evaluate_tensors(xb, yb, max(_count(xb), 1), wb)
            return self._results(results["loss"], results["values"], results["rows"])
        self.eval()
        with torch.inference_mode():
            loss, values = self._batch_metrics(*map(self._on_device, (xb, yb)), wb=self._on_device(wb))
        return self._results(float(loss), values, _count(xb))

    def predict_on_batch(self, x: Any) -> np.ndarray:
        xb, _ = self._to_tensors(x, None)
        if self.is_ensemble:  # the whole model, as predict gives it
            return self.predict(xb, batch_size=max(_count(xb), 1))
        self._place()
        self.eval()
        with torch.inference_mode():
            pred = self._outputs(self._on_device(xb))
        return [p.cpu().numpy() for p in pred] if isinstance(pred, list) else pred.cpu().numpy()

    def _values(self, values: Any, rows: int) -> list[float]:
        """The values named by _log_names, from what steps gave after their loss (their means over
        the `rows`: means, or a counted metric's counts per row)."""
        states = _flat(values)
        if self._objective is not None:
            return self._objective.finalize(states, rows)
        return states[:len(self._log_names())]

    def _results(self, loss: float, values: Any, rows: int) -> list[float] | float:
        """Keras's result of evaluate and the batch methods: the loss alone, or a list in Keras's
        order (Trainer._flatten_metrics_in_order: the names it lists first, then the rest by name;
        a name listed twice is given twice, as Keras gives it)."""
        named = self._named(loss, values, rows)
        result = [named[n] for n in self._evaluate_order(named)]
        return result if len(result) > 1 else result[0]

    def _evaluate_order(self, names: Any) -> list[str]:
        """`names` in the order of evaluate's list (Keras's Trainer._flatten_metrics_in_order)."""
        first = self._objective.listed_first if self._objective is not None else ["loss", self._metric_name]
        return [n for n in first if n in names] + [n for n in sorted(set(names)) if n not in first]

    def _batches(self, xt: torch.Tensor | list[torch.Tensor], batch_size: int,
                 shuffle: bool = False) -> list[tuple[torch.Tensor, int | None]]:
        """(row indices, columns to keep from the right) per batch: slices of all columns, or with
        length buckets rows of near-equal length with most of their padding cut off. Shuffles draw
        from torch's generator, so torch.manual_seed and a resumed run's restored RNG state cover
        them."""
        if not self.length_buckets or isinstance(xt, list):
            n = _count(xt)
            order = torch.randperm(n) if shuffle else torch.arange(n)
            return [(order[i:i + batch_size], None) for i in range(0, n, batch_size)]
        lengths = row_lengths(xt.numpy())
        rng = np.random.default_rng(int(torch.randint(2 ** 62, (1,)))) if shuffle else None
        return [(torch.from_numpy(rows), batch_width(lengths[rows], xt.shape[1]))
                for rows in length_batches(lengths, batch_size, rng)]

    # --- fit / evaluate / predict ---------------------------------------------------------------
    def fit(
        self,
        x: Any,
        y: Any = None,
        batch_size: int = 32,
        epochs: int = 1,
        verbose: int = 1,
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        **unsupported: Any,
    ) -> History:
        """Train for `epochs` epochs. As in Keras, validation_split takes the LAST rows of x, y
        (and sample_weight) before shuffling; the epoch's loss and metrics are means over its
        samples; class_weight / sample_weight weigh the loss, not the metrics. x may also be read
        batch by batch (a PyDataset, a generator, a DataLoader: textrnn.training.batch_source),
        `steps_per_epoch` of its batches an epoch, and so may validation_data."""
        arguments.refuse("fit", unsupported)
        self._require_compiled()
        keep_denormals_flushed()
        if batch_source.is_stream(x):
            if validation_split:
                raise ConfigError("fit: validation_split needs arrays; with batches read one at a time, give "
                                  "validation_data")
            if distributed.active() or self.length_buckets:
                raise ConfigError("fit: batches read one at a time train on one process without length "
                                  "buckets; give arrays")
            data: Any = self._stream_of(x, steps_per_epoch, "fit", shuffle, y=y, sample_weight=sample_weight)
        else:
            array_steps.check_steps(steps_per_epoch, "fit: steps_per_epoch")
            x, y, batch_size = _from_dataset(x, y, batch_size, "fit")
            xt, yt = self._to_tensors(x, y)
            wt = self._sample_weights(sample_weight, class_weight, yt, _count(xt))
            data = (xt, yt, wt)
        return self._fit_data(data, batch_size=batch_size, epochs=epochs, verbose=verbose,
                              callbacks=callbacks, validation_split=validation_split,
                              validation_data=validation_data, shuffle=shuffle, class_weight=class_weight,
                              initial_epoch=initial_epoch, validation_batch_size=validation_batch_size,
                              validation_freq=validation_freq, validation_steps=validation_steps,
                              steps_per_epoch=steps_per_epoch)

    def _fit_data(self, data: Any, batch_size: int, epochs: int, verbose: int, callbacks: Any,
                  validation_split: float, validation_data: Any, shuffle: bool, class_weight: Any,
                  initial_epoch: int, validation_batch_size: int | None, validation_freq: int,
                  validation_steps: int | None, steps_per_epoch: int | None = None) -> History:
        """fit's epochs over `data`: (x, y, sample weights) as tensors, or a batch_source.Stream
        (which counts its own steps). Over arrays, `steps_per_epoch` batches make an epoch
        (array_steps) and `validation_steps` takes the first batches of the validation rows."""
        if isinstance(validation_data, TextDataset):
            validation_data = validation_data.as_arrays()
        streamed = isinstance(data, batch_source.Stream)
        if streamed:
            xt, yt = self._to_tensors(*data.first()[:2])  # (its first batch builds the model)
            wt = None
        else:
            xt, yt, wt = data
        if not 0.0 <= validation_split < 1.0:
            raise ConfigError(f"validation_split must be in [0, 1), got {validation_split}")
        if not (isinstance(validation_freq, int) and validation_freq >= 1):
            raise ConfigError(f"validation_freq must be a whole number >= 1 (validate every N epochs), "
                              f"got {validation_freq!r}")
        val = None
        if batch_source.is_stream(validation_data):
            val = batch_source.Stream(validation_data, validation_steps, "fit's validation_data")
        elif validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ConfigError("validation_data must be (x, y) or (x, y, sample_weight)")
            x_val, y_val, *w_val = validation_data
            x_val, y_val = self._to_tensors(x_val, y_val)
            w_val = self._sample_weights(w_val[0] if w_val else None, None, y_val, _count(x_val))
            val = (x_val, y_val, w_val)
        elif validation_split > 0:
            split = int(_count(xt) * (1 - validation_split))
            (xt, x_val), (yt, y_val), (wt, w_val) = _split(xt, split), _split(yt, split), _split(wt, split)
            val = (x_val, y_val, None if class_weight is not None else w_val)  # class weights: training's
        if _count(xt) == 0:
            raise DataError("fit got no training samples")
        if isinstance(val, tuple):
            val = _first_batches(val, validation_batch_size or batch_size, validation_steps,
                                 "fit: validation_steps")
        self._ensure_ready(xt, batch_size)

        history = History()
        callbacks = [*(callbacks or []), history]  # last, as Keras: it records what the others log
        for cb in callbacks:
            cb.set_model(self)
        self.stop_training = False
        self._initial_epoch = None
        for cb in callbacks:
            cb.on_train_begin({})
        initial_epoch = self._initial_epoch or initial_epoch  # (BackupAndRestore's restored epoch)
        stepwise = [cb for cb in callbacks if uses_batch_hooks(cb)]  # the rest are not called per step
        forward = distributed.wrap(self)  # DistributedDataParallel under torchrun, else self
        verbose = verbose if distributed.is_main() else 0
        passes = None
        if not streamed:
            steps = math.ceil(_count(xt) / batch_size)
            if distributed.active() and batch_size % distributed.world_size():
                raise ConfigError(f"batch_size {batch_size} must be divisible by the "
                                  f"{distributed.world_size()} processes")
            if 0 < _count(xt) % batch_size < distributed.world_size():
                steps -= 1  # a last batch too small to give every process a row is dropped
            if self.length_buckets and distributed.active():
                raise ConfigError("length buckets are not supported in distributed training")
            if steps_per_epoch is not None:  # (a pass: the batches an epoch takes without it)
                whole = None if self.length_buckets else steps
                passes = array_steps.StepsOverPasses(
                    lambda: self._array_batches(xt, yt, wt, batch_size, shuffle, whole), steps_per_epoch)
        for epoch in range(initial_epoch, epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {})
            if streamed:
                batches = self._stream_batches(data, class_weight)
                steps = data.length
            elif passes is not None:
                steps = passes.next_epoch_length()
                batches = passes.epoch()
            else:
                batches = self._array_batches(xt, yt, wt, batch_size, shuffle)
                steps = len(batches) if self.length_buckets else steps  # buckets: more, smaller batches
            start = time.perf_counter()
            # Keras's epoch figures are means over the samples (a short last batch counts less);
            # the sums become tensors on the model's device, read when shown
            total_loss = total_values = 0.0
            seen = 0
            bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step",
                       disable=verbose != 1, leave=True, dynamic_ncols=True)
            done = 0
            for i, (xb, yb, wb) in enumerate(batches if streamed else itertools.islice(batches, steps)):
                for cb in stepwise:
                    cb.on_train_batch_begin(i, logs={})
                loss, values = self._train_step(xb, yb, forward, wb)
                n = _count(xb)
                total_loss += loss * n
                total_values += values * n
                seen += n
                done = i + 1
                bar.update(1)
                if stepwise:  # Keras's step logs: the running means
                    step_logs = self._named(float(total_loss) / seen, total_values / seen, seen)
                    for cb in stepwise:
                        cb.on_train_batch_end(i, logs=step_logs)
                if not bar.disable and (i % 10 == 0 or i == (steps or 0) - 1):  # a read waits for the GPU
                    running = self._named(float(total_loss) / seen, total_values / seen, seen)
                    bar.set_postfix({k: f"{_shown(v):.4f}" for k, v in running.items()}, refresh=False)
                if self.stop_training:  # a callback stopped it inside the epoch (TerminateOnNaN)
                    break
            bar.close()
            self.eval()  # (a callback's own call computes for inference, as in Keras)
            steps = done
            if streamed:
                data.end_epoch()
            # the processes' sums are averaged before the values are made from them (counts add up)
            mean_loss, *states = distributed.mean_over_ranks(float(total_loss) / seen,
                                                             *_flat(total_values / seen))
            logs = dict(sorted(self._named(mean_loss, states, seen * distributed.world_size()).items()))
            if val is not None and (epoch + 1) % validation_freq == 0:
                if isinstance(val, batch_source.Stream):
                    val_results = self._evaluate_batches(self._stream_batches(val, None))
                    val.end_epoch()
                else:
                    x_val, y_val, w_val = val
                    val_results = self._evaluate_tensors(x_val, y_val, validation_batch_size or batch_size,
                                                         w_val)
                named = self._named(val_results["loss"], val_results["values"], val_results["rows"])
                logs.update((f"val_{k}", v) for k, v in sorted(named.items()))
            if verbose:
                elapsed = time.perf_counter() - start
                line = " - ".join(f"{k}: {_shown(v):.4f}" for k, v in logs.items())
                prefix = "" if verbose == 1 else f"Epoch {epoch + 1}/{epochs}\n"
                tqdm.write(f"{prefix}{steps}/{steps} - {elapsed:.0f}s - "
                           f"{1000 * elapsed / steps:.0f}ms/step - {line}")
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        last = {k: v[-1] for k, v in history.history.items()}
        for cb in callbacks:  # Keras's calls: batch hooks get logs= by keyword, the others in place
            cb.on_train_end(last)
        self.history = history
        return history

    # Keras 2's names for fit / evaluate / predict of a generator (workers and the queue: its
    # parallel loading, taken and not needed here)
    def fit_generator(self, generator: Any, steps_per_epoch: int | None = None, epochs: int = 1,
                      verbose: int = 1, callbacks: Any = None, validation_data: Any = None,
                      validation_steps: int | None = None, validation_freq: int = 1, class_weight: Any = None,
                      max_queue_size: int = 10, workers: int = 1, use_multiprocessing: bool = False,
                      shuffle: bool = True, initial_epoch: int = 0) -> History:
        return self.fit(generator, epochs=epochs, verbose=verbose, callbacks=callbacks,
                        validation_data=validation_data, shuffle=shuffle, class_weight=class_weight,
                        initial_epoch=initial_epoch, validation_freq=validation_freq,
                        steps_per_epoch=steps_per_epoch, validation_steps=validation_steps)

    def evaluate_generator(self, generator: Any, steps: int | None = None, callbacks: Any = None,
                           max_queue_size: int = 10, workers: int = 1, use_multiprocessing: bool = False,
                           verbose: int = 0) -> list[float] | float:
        return self.evaluate(generator, steps=steps, verbose=verbose)

    def predict_generator(self, generator: Any, steps: int | None = None, callbacks: Any = None,
                          max_queue_size: int = 10, workers: int = 1, use_multiprocessing: bool = False,
                          verbose: int = 0) -> np.ndarray | list[np.ndarray]:
        return self.predict(generator, steps=steps, verbose=verbose)

    def predict_classes(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """Keras 2's (gone since TensorFlow 2.6): each row's class, the index of its largest output,
        or for one sigmoid output 1 above 0.5 (int32, shape (rows, 1))."""
        probs = self.predict(x, batch_size=batch_size, verbose=verbose)
        if probs.shape[-1] > 1:
            return probs.argmax(axis=-1)
        return (probs > 0.5).astype("int32")

    def predict_proba(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """Keras 2's name for predict of a model whose outputs are probabilities."""
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    @property
    def metrics_names(self) -> list[str]:
        """The names of evaluate()'s values, in its order ("loss" first), as Keras 2 gave them and as
        code that zips them with evaluate's list expects (Keras 3 gives "loss", "compile_metrics")."""
        return self._evaluate_order(["loss", *self._log_names()]) if self.compiled else []

    def _stream_of(self, x: Any, steps: int | None, what: str, shuffle: bool = False,
                   **not_given: Any) -> batch_source.Stream:
        """The Stream of `x`, refusing in one line what its batches give (`not_given`: y, ...)."""
        for name, value in not_given.items():
            if value is not None:
                raise ConfigError(f"{what}: with a PyDataset, a generator or a DataLoader, {name} comes from "
                                  "its batches; give the batches alone")
        if self.is_ensemble:
            raise ConfigError(f"{what}: an ensemble takes arrays, not batches read one at a time")
        return batch_source.Stream(x, steps, what, shuffle)

    def _predict_stream(self, stream: batch_source.Stream, verbose: int) -> np.ndarray | list[np.ndarray]:
        """predict over batches read one at a time (their labels, if any, unused), as Keras's."""
        if not self.built:
            self._build_from(self._to_tensors(stream.first()[0], None)[0])
        self._place()
        self.eval()
        parts: list[list[torch.Tensor]] = []
        several = False
        with torch.inference_mode():
            for x, _, _ in tqdm(stream.epoch(), total=stream.length, disable=not verbose, desc="predict"):
                pred = self._outputs(self._on_device(self._to_tensors(x, None)[0]))
                several = isinstance(pred, list)
                parts.append([p.cpu() for p in (pred if several else [pred])])
        stream.end_epoch()
        outs = [torch.cat(column).numpy() for column in zip(*parts)]
        return outs if several else outs[0]

    def _array_batches(self, xt: Batch, yt: Any, wt: Any, batch_size: int, shuffle: bool,
                       count: int | None = None) -> _LazyBatches:
        """An epoch's batches of arrays (the first `count`): (inputs, labels, sample weights) of
        each, this process's rows of it under torchrun (the rows are gathered as the batch is taken)."""
        return _LazyBatches(xt, yt, wt, self._batches(xt, batch_size, shuffle)[:count])

    def _stream_batches(self, stream: batch_source.Stream,
                        class_weight: Any) -> Iterator[tuple[Batch, Any, Any]]:
        """An epoch's batches read one at a time, as tensors."""
        for x, y, w in stream.epoch():
            xb, yb = self._to_tensors(x, y)
            yield xb, yb, self._sample_weights(w, class_weight, yb, _count(xb))

    def _named(self, loss: float, values: Any, rows: int) -> dict[str, float]:
        """{"loss": loss, and each value a step gives after it by its log name}."""
        return {"loss": loss, **dict(zip(self._log_names(), self._values(values, rows)))}

    def _evaluate_tensors(self, xt: torch.Tensor, yt: torch.Tensor, batch_size: int,
                          wt: torch.Tensor | None = None) -> dict[str, Any]:
        """{"loss": the mean loss, "values": the means of the values named by _log_names, "rows"}."""
        if self.is_ensemble:  # the ensemble's predictions, as predict gives
            pred = torch.from_numpy(self.predict(xt, batch_size))
            return {"loss": float(self._loss_fn(yt, pred, wt)),
                    "values": [float(self._accuracy_fn(yt, pred))], "rows": _count(xt)}
        return self._evaluate_batches((_take(xt, rows, width), _take(yt, rows), _take(wt, rows))
                                      for rows, width in self._batches(xt, batch_size))

    def _evaluate_batches(self, batches: Any) -> dict[str, Any]:
        """{"loss", "values", "rows"} over (inputs, labels, sample weights) batches."""
        self.eval()
        loss_sum = values_sum = 0.0
        n = 0
        with torch.inference_mode():
            for xb, yb, wb in batches:
                loss, values = self._batch_metrics(*map(self._on_device, (xb, yb)), wb=self._on_device(wb))
                rows = _count(xb)
                loss_sum += loss.double() * rows  # read once, at the end
                values_sum += values.double() * rows
                n += rows
        if n == 0:
            raise DataError("evaluate got no samples")
        return {"loss": float(loss_sum) / n, "values": _flat(values_sum / n), "rows": n}

    def evaluate(self, x: Any, y: Any = None, batch_size: int = 32, verbose: int = 1,
                 sample_weight: Any = None, return_dict: bool = False, steps: int | None = None,
                 **unsupported: Any) -> list[float] | float | dict[str, float]:
        arguments.refuse("evaluate", unsupported)
        self._require_compiled()
        keep_denormals_flushed()
        if batch_source.is_stream(x):
            stream = self._stream_of(x, steps, "evaluate", y=y, sample_weight=sample_weight)
            self._ensure_ready(self._to_tensors(*stream.first()[:2])[0])
            results = self._evaluate_batches(self._stream_batches(stream, None))
            stream.end_epoch()
        else:
            x, y, batch_size = _from_dataset(x, y, batch_size, "evaluate")
            xt, yt = self._to_tensors(x, y)
            wt = self._sample_weights(sample_weight, None, yt, _count(xt))
            xt, yt, wt = _first_batches((xt, yt, wt), batch_size, steps, "evaluate: steps")
            self._ensure_ready(xt, batch_size)
            results = self._evaluate_tensors(xt, yt, batch_size, wt)
        named = self._named(results["loss"], results["values"], results["rows"])
        if verbose:
            print(" - ".join(f"{k}: {_shown(v):.4f}" for k, v in named.items()))
        if return_dict:
            return dict(sorted(named.items()))
        return self._results(results["loss"], results["values"], results["rows"])

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0, steps: int | None = None,
                **unsupported: Any) -> np.ndarray | list[np.ndarray]:
        """Model outputs for x, in batches, with no autograd and dropout off (a list of arrays for
        a model of several outputs, as Keras gives)."""
        arguments.refuse("predict", unsupported)
        keep_denormals_flushed()
        if batch_source.is_stream(x):
            return self._predict_stream(self._stream_of(x, steps, "predict"), verbose)
        x, _, batch_size = _from_dataset(x, None, batch_size, "predict", labels=False)
        xt, _ = self._to_tensors(x, None)
        (xt,) = _first_batches((xt,), batch_size, steps, "predict: steps")
        if not self.built:
            self._build_from(xt, batch_size)
        self._place()
        self.eval()
        outs: list[torch.Tensor] | None = None
        several = False
        with torch.inference_mode():
            for rows, width in tqdm(self._batches(xt, batch_size), disable=not verbose, desc="predict"):
                pred = self._outputs(self._on_device(_take(xt, rows, width)))
                several = isinstance(pred, list)
                parts = [p.cpu() for p in (pred if several else [pred])]
                if outs is None:
                    outs = [p.new_empty((_count(xt), *p.shape[1:])) for p in parts]
                for out, part in zip(outs, parts):
                    out[rows] = part
        if outs is None:
            return np.zeros((0, *self._layers[-1].output_shape[1:]), dtype=np.float32)
        if several:
            return [out.numpy() for out in outs]
        return self._combine(outs[0], xt, batch_size).numpy()
