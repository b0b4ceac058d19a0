"""Sequential: Keras's model API (add, summary, compile, fit, evaluate, predict, save) on torch."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm.auto import tqdm

from textrnn import distributed, keep_denormals_flushed, losses
from textrnn import optimizers as optimizers_module
from textrnn.callbacks import Callback, History
from textrnn.data.buckets import batch_width, length_batches, row_lengths
from textrnn.direct_step import DirectStep
from textrnn.errors import ConfigError, DataError, NotBuiltError
from textrnn.io_utils import atomic_write_dir, atomic_write_json, settle_dir
from textrnn.layers.base import Layer, Shape, WeightSplit, auto_name, layer_from_config, layer_to_config
from textrnn.layers.core import Dropout
from textrnn.layers.embedding import Embedding
from textrnn.layers.recurrent import RNN
from textrnn.layers.wrappers import Bidirectional
from textrnn.summary import print_summary

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
VOCAB_FILE = "vocab.json"
MEMBERS_DIR = "members"  # the ensemble's other networks, one folder each


def _as_array(data: Any, field: str) -> np.ndarray:
    try:
        return np.asarray(data)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{field}: expected a rectangular array ({exc})") from None


class Sequential(WeightSplit, nn.Module):
    """A linear stack of layers, used exactly like keras.Sequential."""

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None) -> None:
        super().__init__()
        self.name = name or auto_name("Sequential")
        self._layers = nn.ModuleList()
        self.built = False
        self.build_input_shape: Shape | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self._optimizer_spec: optimizers_module.OptimizerSpec | None = None
        self.loss: str | None = None
        self.metric_names: list[str] = []
        self.compiled = False
        self.stop_training = False
        self.history: History | None = None
        self.text_encoder: Any = None  # textrnn.data.TextEncoder, saved as vocab.json
        # textrnn's addition to Keras's Sequential: fit, evaluate and predict in batches of rows of one
        # length, padding cut off (textrnn.data.buckets). Saved with the model.
        self.length_buckets = False
        # Also textrnn's: a linear model beside the network (textrnn.linear.NBLinear, the recipe's
        # ensemble); predict and evaluate blend the two probabilities, `blend` being the linear share.
        self.linear_head: Any = None
        self.linear_blend = 0.0
        # Also textrnn's: more networks of the same inputs and output, trained from other seeds (the
        # recipe's --networks); predict averages their probabilities with this one's before the blend.
        # Saved in members/K; fit trains this network only.
        self.members: list[Sequential] = []
        for layer in layers or []:
            self.add(layer)

    # --- structure ------------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise ConfigError(f"Sequential.add expects a textrnn layer, got {type(layer).__name__}")
        self._layers.append(layer)
        first_shape = self._layers[0].batch_input_shape
        if first_shape is not None:
            self.build(first_shape)

    def build(self, input_shape: Shape | None = None) -> None:
        """Create every layer's weights for inputs of `input_shape` (batch dimension included)."""
        shape = input_shape or self.build_input_shape
        if shape is None:
            raise NotBuiltError(
                "the model's input shape is unknown: give Embedding(input_length=...), call "
                "build((None, maxlen)), or fit/predict on data first")
        self.build_input_shape = tuple(shape)
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
            shape = layer.output_shape
        self.built = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = None
        looked_up = None  # at inference: an Embedding whose ids x still holds (see below)
        for layer in self._layers:
            if looked_up is not None:
                if isinstance(layer, (RNN, Bidirectional)):
                    next_mask = layer.compute_mask(x, mask)
                    x, mask, looked_up = layer(x, mask=mask, embedding=looked_up), next_mask, None
                    continue
                if isinstance(layer, Dropout):  # the identity at inference
                    continue
                x, looked_up = looked_up(x), None
            next_mask = layer.compute_mask(x, mask)
            if isinstance(layer, Embedding) and not self.training and not torch.is_grad_enabled():
                # The lookup waits: a recurrent layer right after it reads the ids itself, through
                # the input projection of every word (RNN.token_table), saving its input matmul.
                looked_up = layer
            else:
                x = layer(x, mask=mask)
            mask = next_mask
        return x if looked_up is None else looked_up(x)

    def __call__(self, x: Any) -> torch.Tensor:  # accept numpy like Keras does
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if not self.built:
            self.build((None, *x.shape[1:]))
        return super().__call__(x)

    # --- weights --------------------------------------------------------------------------------
    @property
    def weights(self) -> list[nn.Parameter]:
        return [w for layer in self._layers for w in layer.weights]

    def get_weights(self) -> list[np.ndarray]:
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        weights = list(weights)
        for layer in self._layers:
            n = len(layer.weights)
            layer.set_weights(weights[:n])
            weights = weights[n:]
        if weights:
            raise ConfigError(f"set_weights got {len(weights)} more arrays than the model has")

    def count_params(self) -> int:
        if not self.built:
            raise NotBuiltError("the model is not built yet")
        return sum(w.numel() for w in self.weights)

    def summary(self, line_length: int | None = None,
                print_fn: Callable[[str], object] | None = None) -> None:
        print_summary(self, line_length=line_length, print_fn=print_fn)

    # --- training setup -------------------------------------------------------------------------
    def compile(self, optimizer: str | optimizers_module.OptimizerSpec = "rmsprop",
                loss: str = "binary_crossentropy", metrics: Sequence[str] | None = None) -> None:
        self._optimizer_spec = optimizers_module.get(optimizer)
        self._loss_fn, self._accuracy_fn = losses.get(loss)
        self.loss = loss
        for m in metrics or []:
            if m not in losses.ACCURACY_NAMES:
                raise ConfigError(f"unknown metric {m!r}; valid: {', '.join(losses.ACCURACY_NAMES)}")
        self.metric_names = list(metrics or [])
        self.optimizer = None  # created once the weights exist
        self.compiled = True

    def _require_compiled(self) -> None:
        if not self.compiled:
            raise ConfigError("call model.compile(optimizer, loss, metrics) before training or evaluating")

    def _ensure_ready(self, x: torch.Tensor) -> None:
        if not self.built:
            self.build((None, *x.shape[1:]))
        self.create_optimizer()

    def create_optimizer(self) -> torch.optim.Optimizer:
        """The compiled optimizer over this (built) model's weights, created once."""
        self._require_compiled()
        if self.optimizer is None:
            # All weights go to the optimizer; frozen ones get no gradient and are left alone.
            embedding = [w for layer in self._layers if isinstance(layer, Embedding)
                         for w in layer.weights]
            self.optimizer = self._optimizer_spec.create(self.weights, embedding)
        return self.optimizer

    # --- batches --------------------------------------------------------------------------------
    @staticmethod
    def _to_tensors(x: Any, y: Any | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        xa = _as_array(x, "x")
        if xa.ndim != 2 or not np.issubdtype(xa.dtype, np.integer):
            raise DataError(f"x: expected a 2-D integer array (samples, timesteps), got shape "
                            f"{xa.shape} of {xa.dtype}")
        xt = torch.from_numpy(np.ascontiguousarray(xa, dtype=np.int64))
        if y is None:
            return xt, None
        ya = _as_array(y, "y")
        if len(ya) != len(xa):
            raise DataError(f"x has {len(xa)} samples but y has {len(ya)}")
        return xt, torch.from_numpy(np.ascontiguousarray(ya, dtype=np.float32))

    def _batch_metrics(self, xb: torch.Tensor, yb: torch.Tensor,
                       forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        pred = (forward or self)(xb)
        return self._loss_fn(yb, pred), self._accuracy_fn(yb, pred)

    def train_on_batch(self, x: Any, y: Any) -> list[float]:
        self._require_compiled()
        xb, yb = self._to_tensors(x, y)
        self._ensure_ready(xb)
        loss, acc = self._train_step(xb, yb)
        return self._results(loss, acc)

    def _train_step(self, xb: torch.Tensor, yb: torch.Tensor,
                    forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> tuple[float, float]:
        """One optimizer step; `forward` is the DistributedDataParallel wrapper when distributed.
        Models of the lecture's shapes take the direct step (direct_step.py): the same update
        through textrnn's kernels without autograd's graph."""
        self.train()
        direct = self._direct_step() if forward is None or forward is self else None
        result = direct(self, xb, yb) if direct is not None else None
        if result is not None:
            return float(result[0]), float(result[1])
        self.optimizer.zero_grad(set_to_none=True)
        loss, acc = self._batch_metrics(xb, yb, forward)
        loss.backward()
        optimizers_module.step_optimizer(self.optimizer)
        return float(loss.detach()), float(acc)

    def _direct_step(self) -> DirectStep | None:
        """The direct step's plan for this model as it is now (layers and loss), or None."""
        key = (tuple(id(layer) for layer in self._layers), self.loss)
        if getattr(self, "_direct_plan", (None,))[0] != key:
            self._direct_plan = (key, DirectStep.plan(self))
        return self._direct_plan[1]

    def test_on_batch(self, x: Any, y: Any) -> list[float]:
        self._require_compiled()
        xb, yb = self._to_tensors(x, y)
        self._ensure_ready(xb)
        if self.is_ensemble:  # the whole model, as evaluate gives it
            results = self._evaluate_tensors(xb, yb, max(len(xb), 1))
            return self._results(results["loss"], results["acc"])
        self.eval()
        with torch.inference_mode():
            loss, acc = self._batch_metrics(xb, yb)
        return self._results(float(loss), float(acc))

    def predict_on_batch(self, x: Any) -> np.ndarray:
        xb, _ = self._to_tensors(x, None)
        if self.is_ensemble:  # the whole model, as predict gives it
            return self.predict(xb, batch_size=max(len(xb), 1))
        self.eval()
        with torch.inference_mode():
            return self(xb).numpy()

    def _results(self, loss: float, acc: float) -> list[float] | float:
        return [loss, acc] if self.metric_names else loss

    def _batches(self, xt: torch.Tensor, batch_size: int,
                 shuffle: bool = False) -> list[tuple[torch.Tensor, int]]:
        """(row indices, columns to keep from the right) per batch: slices of all columns, or with
        length buckets rows of near-equal length with most of their padding cut off. Shuffles draw
        from torch's generator, so torch.manual_seed and a resumed run's restored RNG state cover
        them."""
        if not self.length_buckets:
            order = torch.randperm(len(xt)) if shuffle else torch.arange(len(xt))
            return [(order[i:i + batch_size], xt.shape[1]) for i in range(0, len(xt), batch_size)]
        lengths = row_lengths(xt.numpy())
        rng = np.random.default_rng(int(torch.randint(2 ** 62, (1,)))) if shuffle else None
        return [(torch.from_numpy(rows), batch_width(lengths[rows], xt.shape[1]))
                for rows in length_batches(lengths, batch_size, rng)]

    # --- fit / evaluate / predict ---------------------------------------------------------------
    def fit(
        self,
        x: Any,
        y: Any,
        batch_size: int = 32,
        epochs: int = 1,
        verbose: int = 1,
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Any, Any] | None = None,
        shuffle: bool = True,
        initial_epoch: int = 0,
    ) -> History:
        """Train for `epochs` epochs. As in Keras, validation_split takes the LAST rows of x, y
        before shuffling; loss and accuracy are averaged over the epoch's batches."""
        self._require_compiled()
        keep_denormals_flushed()
        xt, yt = self._to_tensors(x, y)
        if not 0.0 <= validation_split < 1.0:
            raise ConfigError(f"validation_split must be in [0, 1), got {validation_split}")
        val = None
        if validation_data is not None:
            val = self._to_tensors(*validation_data)
        elif validation_split > 0:
            split = int(len(xt) * (1 - validation_split))
            xt, yt, val = xt[:split], yt[:split], (xt[split:], yt[split:])
        if len(xt) == 0:
            raise DataError("fit got no training samples")
        self._ensure_ready(xt)

        history = History()
        callbacks = [history, *(callbacks or [])]
        for cb in callbacks:
            cb.set_model(self)
        self.stop_training = False
        for cb in callbacks:
            cb.on_train_begin()
        steps = math.ceil(len(xt) / batch_size)
        acc_name = self.metric_names[0] if self.metric_names else None
        forward = distributed.wrap(self)  # DistributedDataParallel under torchrun, else self
        if distributed.active() and batch_size % distributed.world_size():
            raise ConfigError(f"batch_size {batch_size} must be divisible by the "
                              f"{distributed.world_size()} processes")
        verbose = verbose if distributed.is_main() else 0
        if 0 < len(xt) % batch_size < distributed.world_size():
            steps -= 1  # a last batch too small to give every process a row is dropped
        if self.length_buckets and distributed.active():
            raise ConfigError("length buckets are not supported in distributed training")
        for epoch in range(initial_epoch, epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            batches = self._batches(xt, batch_size, shuffle)
            steps = len(batches) if self.length_buckets else steps  # buckets: more, smaller batches
            start = time.perf_counter()
            total_loss = total_acc = 0.0
            bar = tqdm(range(steps), desc=f"Epoch {epoch + 1}/{epochs}", unit="step",
                       disable=verbose != 1, leave=True, dynamic_ncols=True)
            for i in bar:
                rows, width = batches[i]
                idx = distributed.local_rows(rows)
                # one gather of the rows' last `width` columns (xt[idx, -width:] copies twice)
                loss, acc = self._train_step(xt[:, -width:].index_select(0, idx), yt[idx], forward)
                total_loss += loss
                total_acc += acc
                if i % 10 == 0 or i == steps - 1:
                    postfix = {"loss": f"{total_loss / (i + 1):.4f}"}
                    if acc_name:
                        postfix[acc_name] = f"{total_acc / (i + 1):.4f}"
                    bar.set_postfix(postfix, refresh=False)
            logs: dict[str, float] = {}
            mean_loss, mean_acc = distributed.mean_over_ranks(total_loss / steps, total_acc / steps)
            if acc_name:
                logs[acc_name] = mean_acc
            logs["loss"] = mean_loss
            if val is not None:
                val_results = self._evaluate_tensors(*val, batch_size=batch_size)
                if acc_name:
                    logs[f"val_{acc_name}"] = val_results["acc"]
                logs["val_loss"] = val_results["loss"]
            if verbose:
                elapsed = time.perf_counter() - start
                line = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
                prefix = "" if verbose == 1 else f"Epoch {epoch + 1}/{epochs}\n"
                tqdm.write(f"{prefix}{steps}/{steps} - {elapsed:.0f}s - "
                           f"{1000 * elapsed / steps:.0f}ms/step - {line}")
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        for cb in callbacks:
            cb.on_train_end()
        self.history = history
        return history

    def attach_linear_head(self, head: Any, blend: float) -> None:
        """Blend `head.predict_proba(x)` into this model's predictions with weight `blend` (0-1).
        Only for a single sigmoid output: the head gives P(positive)."""
        last = self._layers[-1] if self._layers else None
        if not (isinstance(last, Layer) and getattr(last, "units", None) == 1
                and getattr(last, "activation", None) == "sigmoid"):
            raise ConfigError("a linear head needs a model ending in Dense(1, activation='sigmoid')")
        if not 0.0 <= blend <= 1.0:
            raise ConfigError(f"blend must be in [0, 1], got {blend}")
        self.linear_head, self.linear_blend = head, float(blend)

    @property
    def is_ensemble(self) -> bool:
        """More than this network makes its predictions: members averaged in or a linear head blended in."""
        return self.linear_head is not None or bool(self.members)

    def attach_members(self, members: Sequence[Sequential]) -> None:
        """Average these networks' predictions with this one's (each predicts without its own head
        or members). They must take the same input and give the same output shape."""
        for member in members:
            if not isinstance(member, Sequential) or member.members or member.linear_head is not None:
                raise ConfigError("an ensemble member must be a single Sequential network, without "
                                  "members or a linear head of its own")
            if member._layers[-1].output_shape[1:] != self._layers[-1].output_shape[1:]:
                raise ConfigError(f"ensemble member {member.name} gives outputs of shape "
                                  f"{member._layers[-1].output_shape[1:]}, this model "
                                  f"{self._layers[-1].output_shape[1:]}")
        self.members = list(members)

    def _average_members(self, probs: torch.Tensor, xt: torch.Tensor, batch_size: int) -> torch.Tensor:
        if not self.members or len(xt) == 0:
            return probs
        total = probs.clone()
        for member in self.members:
            total += torch.from_numpy(member.predict(xt, batch_size)).reshape(probs.shape)
        return total / (1 + len(self.members))

    def _blend(self, probs: torch.Tensor, xt: torch.Tensor) -> torch.Tensor:
        if self.linear_head is None or len(xt) == 0:
            return probs
        linear = torch.from_numpy(self.linear_head.predict_proba(xt.numpy()).astype(np.float32))
        return (1 - self.linear_blend) * probs + self.linear_blend * linear.reshape(probs.shape)

    def _evaluate_tensors(self, xt: torch.Tensor, yt: torch.Tensor, batch_size: int) -> dict[str, float]:
        if self.is_ensemble:  # the ensemble's predictions, as predict gives
            pred = torch.from_numpy(self.predict(xt, batch_size))
            return {"loss": float(self._loss_fn(yt, pred)), "acc": float(self._accuracy_fn(yt, pred))}
        self.eval()
        loss_sum = acc_sum = 0.0
        with torch.inference_mode():
            for rows, width in self._batches(xt, batch_size):
                pred = self(xt[rows, -width:])
                n = len(pred)
                loss_sum += float(self._loss_fn(yt[rows], pred)) * n
                acc_sum += float(self._accuracy_fn(yt[rows], pred)) * n
        return {"loss": loss_sum / len(xt), "acc": acc_sum / len(xt)}

    def evaluate(self, x: Any, y: Any, batch_size: int = 32, verbose: int = 1,
                 return_dict: bool = False) -> list[float] | float | dict[str, float]:
        self._require_compiled()
        keep_denormals_flushed()
        xt, yt = self._to_tensors(x, y)
        self._ensure_ready(xt)
        results = self._evaluate_tensors(xt, yt, batch_size)
        named = {"loss": results["loss"]}
        if self.metric_names:
            named[self.metric_names[0]] = results["acc"]
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in named.items()))
        if return_dict:
            return named
        return self._results(results["loss"], results["acc"])

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """Model outputs for x, in batches, with no autograd and dropout off."""
        keep_denormals_flushed()
        xt, _ = self._to_tensors(x, None)
        if not self.built:
            self.build((None, *xt.shape[1:]))
        self.eval()
        out = None
        with torch.inference_mode():
            for rows, width in tqdm(self._batches(xt, batch_size), disable=not verbose, desc="predict"):
                pred = self(xt[rows, -width:])
                if out is None:
                    out = pred.new_empty((len(xt), *pred.shape[1:]))
                out[rows] = pred
        if out is None:
            return np.zeros((0, *self._layers[-1].output_shape[1:]), dtype=np.float32)
        return self._blend(self._average_members(out, xt, batch_size), xt).numpy()

    # --- config and saving ----------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layers": [layer_to_config(layer) for layer in self._layers],
            "build_input_shape": list(self.build_input_shape) if self.build_input_shape else None,
            **({"length_buckets": True} if self.length_buckets else {}),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        model = cls([layer_from_config(spec) for spec in config["layers"]], name=config.get("name"))
        model.length_buckets = bool(config.get("length_buckets", False))
        if config.get("build_input_shape") and not model.built:
            model.build(tuple(config["build_input_shape"]))
        return model

    def save(self, path: str | Path) -> None:
        """Write a folder: config.json (architecture + compile settings), weights.safetensors and,
        if the model carries a text encoder, vocab.json. The folder appears atomically.
        A path ending in .keras writes a Keras 3 archive instead (textrnn.keras_io)."""
        if not self.built:
            raise NotBuiltError("cannot save a model that has no weights yet")
        if str(path).endswith(".keras"):
            from textrnn.keras_io import save_keras_model

            save_keras_model(self, path)
            return
        config = {"format": "textrnn-sequential-v1", "model": self.get_config()}
        if self.compiled:
            config["compile"] = {"optimizer": self._optimizer_spec.get_config(), "loss": self.loss,
                                 "metrics": self.metric_names}

        def fill(folder: Path) -> None:
            atomic_write_json(folder / CONFIG_FILE, config)
            tensors = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
            save_file(tensors, str(folder / WEIGHTS_FILE))
            if self.text_encoder is not None:
                atomic_write_json(folder / VOCAB_FILE, self.text_encoder.to_json())
            if self.linear_head is not None:
                self.linear_head.save_into(folder, {"blend": self.linear_blend})
            for k, member in enumerate(self.members):  # inside this folder, so it appears at once
                member.save(folder / MEMBERS_DIR / str(k))

        atomic_write_dir(path, fill)


def load_model(path: str | Path, compile: bool = True) -> Sequential:
    """Load a folder written by `Sequential.save` (no pickle: JSON + safetensors), or a Keras 3
    `.keras` file."""
    if str(path).endswith(".keras"):
        from textrnn.keras_io import load_keras_model

        return load_keras_model(path)
    folder = settle_dir(path)
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise DataError(f"{folder}: not a saved textrnn model (no {CONFIG_FILE})")
    config = read_json(config_path, "malformed model config")
    try:
        model = Sequential.from_config(config["model"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DataError(f"{config_path}: malformed model config ({type(exc).__name__}: {exc})") from None
    weights_path = folder / WEIGHTS_FILE
    if not weights_path.is_file():
        raise DataError(f"{folder}: missing {WEIGHTS_FILE}")
    load_weights_file(model, weights_path)
    if compile and "compile" in config:
        c = config["compile"]
        model.compile(optimizers_module.OptimizerSpec(c["optimizer"]["name"],
                                                      c["optimizer"]["learning_rate"],
                                                      c["optimizer"].get("embedding_learning_rate")),
                      loss=c["loss"], metrics=c["metrics"])
    from textrnn.linear import NBLinear

    head = NBLinear.load_from(folder)
    if head is not None:
        model.attach_linear_head(head[0], head[1]["blend"])
    members = folder / MEMBERS_DIR
    if members.is_dir():
        numbered = sorted((p.name for p in members.iterdir() if p.name.isdigit()), key=int)
        model.attach_members([load_model(members / k, compile=False) for k in numbered])
    vocab_path = folder / VOCAB_FILE
    if vocab_path.is_file():
        model.text_encoder = load_vocabulary_file(vocab_path)
    return model


def load_vocabulary_file(path: Path) -> Any:
    """The TextEncoder of a vocab.json; any malformed content is one DataError line."""
    from textrnn.data.text import TextEncoder

    try:
        return TextEncoder.from_json(read_json(path))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise DataError(f"{path}: malformed vocabulary ({type(exc).__name__}: {exc})") from None


def read_json(path: Path, what: str = "not valid JSON") -> Any:
    """A JSON file's content; an empty, truncated or non-UTF-8 file is one DataError line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: {what} ({exc})") from None


def load_weights_file(model: nn.Module, path: Path, strict: bool = True) -> None:
    """Load a safetensors file into `model`: a damaged file, a missing or extra tensor, a tensor of
    the wrong shape, or a NaN / infinite weight is one DataError line naming the file."""
    from safetensors import SafetensorError

    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise DataError(f"{path}: damaged weights file ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if (missing or unexpected) and strict:
        raise DataError(f"{path}: weights do not match the config "
                        f"(missing {missing}, unexpected {unexpected})")
    for name, tensor in state.items():
        if name in expected and tuple(tensor.shape) != tuple(expected[name].shape):
            raise DataError(f"{path}: tensor {name} has shape {tuple(tensor.shape)}, the model expects "
                            f"{tuple(expected[name].shape)}")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise DataError(f"{path}: tensor {name} holds NaN or infinite values")
    model.load_state_dict(state, strict=False)
