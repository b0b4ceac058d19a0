"""The recipe's model: a network whose predictions are averaged with other networks' (its members,
trained from other seeds) and blended with an NB linear head (textrnn.app.linear_head). It is a
Sequential (the first network's layers, shared) so that every command that takes a model takes it:
predict and evaluate give the whole ensemble, fit trains the first network only.

Saved as a Sequential folder whose config names the class "Ensemble", plus the head's two files
and members/K, one folder per other network (textrnn.models.sequential.MODEL_CLASSES)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from textrnn.app.linear_head import NBLinear, NgramHeadGraph
from textrnn.backend.device import resolve as resolve_device
from textrnn.errors import ConfigError
from textrnn.layers.base import Layer
from textrnn.models.sequential import Sequential, load_model
from textrnn.training.metrics import log_loss

MEMBERS_DIR = "members"  # the ensemble's other networks, one folder each


def blend_weight(y: np.ndarray, rnn: np.ndarray, linear: np.ndarray) -> float:
    """The linear model's share (0, 0.05, ..., 1) with the lowest log loss on these rows: how the
    recipe and the few-labels model blend a network's (or a probe's) probabilities with the head's."""
    best, best_loss = 0.0, float("inf")
    for w in np.linspace(0, 1, 21):
        loss = log_loss(y, (1 - w) * rnn + w * linear)
        if loss < best_loss - 1e-9:
            best, best_loss = float(w), float(loss)
    return best


def _view(model: Sequential, cls: type[Sequential]) -> Sequential:
    """`model` as class `cls`: the same layers, weights and settings, its own module table."""
    view = cls.__new__(cls)
    view.__dict__.update(model.__dict__)
    view._modules = dict(model._modules)
    return view


def network_alone(model: Sequential) -> Sequential:
    """The first network of `model` as a plain Sequential sharing its weights (the model itself
    when it is not an ensemble): what the network alone predicts, beside the ensemble."""
    if not isinstance(model, Ensemble):
        return model
    alone = _view(model, Sequential)
    for name in ("linear_head", "linear_blend", "members"):
        del alone.__dict__[name]
    return alone


class Ensemble(Sequential):
    """A Sequential network with `members` (their probabilities averaged with its own) and a
    `linear_head` (blended in last, its share `linear_blend`)."""

    def __init__(self, layers: Sequence[Layer] | None = None, name: str | None = None) -> None:
        super().__init__(layers, name)
        self.linear_head: NBLinear | None = None
        self.linear_blend = 0.0
        self.members: list[Sequential] = []

    @classmethod
    def around(cls, network: Sequential) -> Ensemble:
        """An ensemble whose first network is `network`: its layers and weights (shared), text
        encoder, length buckets and compile state; no members or head yet."""
        if type(network) not in (Sequential, cls):
            raise ConfigError("an ensemble is built around a Sequential network, "
                              f"got {type(network).__name__}")
        ensemble = _view(network, cls)
        ensemble.linear_head, ensemble.linear_blend, ensemble.members = None, 0.0, []
        return ensemble

    def attach_linear_head(self, head: NBLinear, blend: float) -> None:
        """Blend `head.predict_proba(x)` into this model's predictions with weight `blend` (0-1).
        Only for a single sigmoid output: the head gives P(positive)."""
        last = self._layers[-1] if self._layers else None
        if not (isinstance(last, Layer) and getattr(last, "units", None) == 1
                and getattr(last, "activation", None) == "sigmoid"):
            raise ConfigError("a linear head needs a model ending in Dense(1, activation='sigmoid')")
        if not 0.0 <= blend <= 1.0:
            raise ConfigError(f"blend must be in [0, 1], got {blend}")
        self.linear_head, self.linear_blend = head, float(blend)

    def attach_members(self, members: Sequence[Sequential]) -> None:
        """Average these networks' predictions with this one's. Each must be a single network of
        the same inputs and output shape."""
        for member in members:
            if type(member) is not Sequential:
                raise ConfigError("an ensemble member must be a single Sequential network, without "
                                  "members or a linear head of its own")
            if member._layers[-1].output_shape[1:] != self._layers[-1].output_shape[1:]:
                raise ConfigError(f"ensemble member {member.name} gives outputs of shape "
                                  f"{member._layers[-1].output_shape[1:]}, this model "
                                  f"{self._layers[-1].output_shape[1:]}")
        self.members = list(members)

    # --- what the trainer asks of an ensemble ------------------------------------------------------
    @property
    def is_ensemble(self) -> bool:  # noqa: D102 - overrides the trainer's
        return self.linear_head is not None or bool(self.members)

    def _combine(self, probs: torch.Tensor, xt: torch.Tensor, batch_size: int) -> torch.Tensor:
        if len(xt) == 0:
            return probs
        if self.members:
            total = probs.clone()
            for member in self.members:
                total += torch.from_numpy(member.predict(xt, batch_size)).reshape(probs.shape)
            probs = total / (1 + len(self.members))
        if self.linear_head is None:
            return probs
        linear = torch.from_numpy(self.linear_head.predict_proba(xt.numpy()).astype(np.float32))
        return (1 - self.linear_blend) * probs + self.linear_blend * linear.reshape(probs.shape)

    def to_device(self, device: str | torch.device | None = None) -> Ensemble:
        target = resolve_device(device)
        super().to_device(target)
        for member in self.members:
            member.to(target)
        return self

    def inference_module(self) -> nn.Module:
        return WholeModel(self) if self.is_ensemble else self

    # --- saving ------------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "class": "Ensemble"}

    def _save_extras(self, folder: Path) -> None:
        if self.linear_head is not None:
            self.linear_head.save_into(folder, {"blend": self.linear_blend})
        for k, member in enumerate(self.members):  # inside this folder, so it appears at once
            member.save(folder / MEMBERS_DIR / str(k))

    def _load_extras(self, folder: Path) -> None:
        head = NBLinear.load_from(folder)
        if head is not None:
            self.attach_linear_head(head[0], head[1]["blend"])
        members = folder / MEMBERS_DIR
        if members.is_dir():
            numbered = sorted((p.name for p in members.iterdir() if p.name.isdigit()), key=int)
            self.attach_members([load_model(members / k, compile=False) for k in numbered])


class WholeModel(nn.Module):
    """What `Ensemble.predict` computes, as one traceable module (for ONNX): the networks'
    average, the head blended in."""

    def __init__(self, model: Ensemble) -> None:
        super().__init__()
        self.networks = nn.ModuleList([network_alone(model), *model.members])
        self.head = NgramHeadGraph(model.linear_head) if model.linear_head is not None else None
        self.blend = model.linear_blend

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        probs = self.networks[0](ids)
        for network in self.networks[1:]:
            probs = probs + network(ids)
        probs = probs / len(self.networks)
        if self.head is None:
            return probs
        return (1 - self.blend) * probs + self.blend * torch.sigmoid(self.head(ids)).reshape(probs.shape)
