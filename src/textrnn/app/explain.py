"""How a model reads a review, word by word.

- Unidirectional models (no Bidirectional, no go_backwards): "running" — the output head applied to
  the recurrent state after every word gives P(class) after each word; a word's effect is the change
  it causes, p_t - p_(t-1).
- Any model, bidirectional included: "occlusion" — a word's effect is P(full text) minus P(text with
  that word removed), all variants scored in one batch.
The class followed is the positive class (id 1) of a binary model, else the predicted class.
"""

from __future__ import annotations

import copy
import html
from dataclasses import asdict, dataclass

import numpy as np
from torch import nn

from textrnn.app.ensemble import network_alone
from textrnn.data.text import pad_sequences, tokenize
from textrnn.errors import ConfigError
from textrnn.layers import RNN, Bidirectional
from textrnn.models import Sequential


@dataclass
class Explanation:
    text: str
    tokens: list[str]             # the words the model read (after truncation to maxlen)
    scores: list[float]           # each word's effect on P(followed class); > 0 pushes towards it
    probability: float            # P(followed class) for the whole text
    label: str                    # predicted label
    followed_class: str
    method: str                   # "running" or "occlusion"
    running: list[float] | None   # P after each word (running method only)

    def to_json(self) -> dict:
        return asdict(self)


def is_unidirectional(model: Sequential) -> bool:
    rnns = [layer for layer in model.layers if isinstance(layer, (RNN, Bidirectional))]
    return bool(rnns) and all(isinstance(r, RNN) and not r.go_backwards for r in rnns)


def every_step_view(model: Sequential, layer: RNN) -> Sequential:
    """A view of `model` that shares its weights but whose `layer` returns all its steps, so the
    head scores each of them: on the padded row (no length buckets, which would cut the steps the
    trace indexes) and by the first network alone (a linear head scores whole texts, not steps; an
    ensemble's other networks are not traced). `model` itself is never changed, so a server's
    predictions running beside an explanation see it as it is."""
    traced = copy.copy(layer)
    traced.return_sequences = True
    view = copy.copy(network_alone(model))
    view._modules = dict(model._modules)  # its own module table: the assignment below stays here
    view._layers = nn.ModuleList([traced if each is layer else each for each in model.layers])
    view.length_buckets = False
    return view


def _class_prob(outputs: np.ndarray, cls: int | None) -> np.ndarray:
    """Probability of the followed class from the model's last axis (1 sigmoid unit or softmax)."""
    return outputs[..., 0] if outputs.shape[-1] == 1 else outputs[..., cls]


def explain(model: Sequential, text: str, method: str | None = None) -> Explanation:
    encoder = model.text_encoder
    vocab, maxlen = encoder.vocabulary, encoder.maxlen
    words = tokenize(text)
    ids = vocab.encode_tokens(words)
    kept = ids[-maxlen:]
    shown = words[len(words) - min(len(words), len(kept)):] if words else []
    x = pad_sequences([kept], maxlen=maxlen)
    method = method or ("running" if is_unidirectional(model) else "occlusion")
    if method not in ("running", "occlusion"):
        raise ConfigError(f"unknown explain method {method!r}; valid: running, occlusion")
    if method == "running":
        if not is_unidirectional(model):
            raise ConfigError("the running trace needs a unidirectional model; use occlusion")
        last_rnn = [layer for layer in model.layers if isinstance(layer, RNN)][-1]
        per_step = every_step_view(model, last_rnn).predict(x)[0]  # every step; the last is the prediction
        full = per_step[-1]
    else:
        full = model.predict(x)[0]
    binary = full.shape[-1] == 1
    cls = None if binary else int(full.argmax())
    followed = encoder.labels[1] if binary else encoder.labels[cls]
    prob = float(_class_prob(full, cls))
    label = encoder.labels[int(prob > 0.5)] if binary else followed
    running = None
    if method == "running":
        curve = _class_prob(per_step, cls)
        first = maxlen - len(shown)
        before = np.concatenate([[curve[first - 1] if first > 0 else 0.5], curve[first:-1]])
        running = [float(v) for v in curve[first:]]
        scores = [float(v) for v in curve[first:] - before]
    else:
        prefix = kept[:len(kept) - len(shown)]
        body = kept[len(kept) - len(shown):]
        variants = [prefix + body[:i] + body[i + 1:] for i in range(len(body))]
        without = _class_prob(model.predict(pad_sequences(variants, maxlen=maxlen), batch_size=128),
                              cls) if variants else np.zeros(0)
        scores = [float(prob - v) for v in without]
    return Explanation(text, shown, scores, prob, label, followed, method, running)


def _shade(score: float, scale: float) -> str:
    """Green for words that push towards the followed class, red for words that push away."""
    strength = min(1.0, abs(score) / scale) if scale > 0 else 0.0
    rgb = (46, 160, 67) if score > 0 else (215, 58, 73)
    return f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{0.85 * strength:.3f})"


def render_html(exp: Explanation, standalone: bool = True) -> str:
    scale = max((abs(s) for s in exp.scores), default=0.0)
    spans = " ".join(
        f'<span class="w" style="background:{_shade(s, scale)}" title="{s:+.4f}">{html.escape(t)}</span>'
        for t, s in zip(exp.tokens, exp.scores))
    body = (f'<p class="verdict">P({html.escape(exp.followed_class)}) = <b>{exp.probability:.4f}</b> '
            f'&rarr; <b>{html.escape(exp.label)}</b> <small>({exp.method})</small></p>'
            f'<p class="words">{spans}</p>')
    if not standalone:
        return body
    return ("<!doctype html><meta charset='utf-8'><title>textrnn explain</title><style>"
            "body{font-family:sans-serif;max-width:50em;margin:2em auto;line-height:2}"
            ".w{padding:2px 3px;border-radius:3px}</style>" + body)


def render_terminal(exp: Explanation) -> str:
    scale = max((abs(s) for s in exp.scores), default=0.0)
    parts = []
    for token, score in zip(exp.tokens, exp.scores):
        level = min(5, int(round(5 * abs(score) / scale))) if scale > 0 else 0
        colour = [255, 194, 157, 120, 83, 46][level] if score > 0 else [255, 224, 217, 210, 203, 196][level]
        parts.append(f"\x1b[48;5;{colour}m\x1b[30m{token}\x1b[0m")
    return (" ".join(parts) + f"\nP({exp.followed_class}) = {exp.probability:.4f} -> {exp.label} "
            f"({exp.method}; green pushes towards {exp.followed_class}, red away)")
