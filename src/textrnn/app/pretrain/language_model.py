"""A next-word LSTM language model trained with textrnn's own layers on unlabelled text: a different
problem and a different model from the classifier, as the lecture allows. Only its embedding is kept.

    Embedding(V, dim) -> LSTM(units, return_sequences=True) -> adaptive softmax over V words

The documents are joined into one id stream (each opens with start_char) and cut into windows of
seq_len + 1 ids; the model predicts ids[1:] from ids[:-1].

Why an adaptive softmax (Grave et al. 2017, torch.nn.AdaptiveLogSoftmaxWithLoss): a full softmax over
10,000 words costs ~30x the LSTM itself per token and made a CPU minute buy very little text. Word
ids are ordered by frequency, so the frequent fifth of the vocabulary (~90 % of the tokens) gets a
full-size head and the rare words two smaller clusters: the same exact likelihood, ~5x fewer FLOPs.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from tqdm.auto import tqdm

from textrnn.backend.device import resolve as resolve_device
from textrnn.data.text import Vocabulary
from textrnn.layers import LSTM, Embedding
from textrnn.models import Sequential
from textrnn.training import distributed, precision
from textrnn.training.optimizers import AdamOptimizer


def _windows(docs: list[list[str]], vocabulary: Vocabulary, seq_len: int) -> torch.Tensor:
    stream = np.fromiter((i for d in docs for i in vocabulary.encode_tokens(d)), dtype=np.int64)
    n = (len(stream) - 1) // seq_len
    if n < 2:
        raise ValueError("the corpus is too small for a language model (fewer than 2 windows)")
    idx = np.arange(n)[:, None] * seq_len + np.arange(seq_len + 1)[None, :]
    return torch.from_numpy(stream[idx])


class _LanguageModel(torch.nn.Module):
    def __init__(self, vocab_size: int, dim: int, units: int):
        super().__init__()
        self.encoder = Sequential([Embedding(vocab_size, dim), LSTM(units, return_sequences=True)])
        # small vocabularies (tests, toy corpora) gain nothing from clusters: one full-size head
        cutoffs = [vocab_size // 5, 3 * vocab_size // 5] if vocab_size >= 1000 else [vocab_size - 1]
        # rarer clusters get units/4 and units/16 dims
        self.head = torch.nn.AdaptiveLogSoftmaxWithLoss(units, vocab_size, cutoffs,
                                                        div_value=4.0 if units >= 64 else 1.0)

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of window[:, 1:] given window[:, :-1]."""
        hidden = self.encoder(window[:, :-1])
        return self.head(hidden.reshape(-1, hidden.shape[-1]), window[:, 1:].reshape(-1)).loss


def _out_of_time(deadline: float | None) -> bool:
    """Past the time budget? Under torchrun rank 0's clock decides for all, so they stop together."""
    late = deadline is not None and time.monotonic() > deadline
    return distributed.decided_by_rank0(late)


def train_language_model(docs: list[list[str]], vocabulary: Vocabulary, dim: int = 32, units: int = 128,
                         seq_len: int = 64, batch_size: int = 64, epochs: int = 1, lr: float = 2e-3,
                         max_minutes: float | None = None, seed: int = 0,
                         verbose: int = 1, keep_encoder: bool = False):
    """Train the LM; return (its embedding matrix, {"perplexity": held-out perplexity, "steps": n}),
    and with keep_encoder its encoder too (Embedding -> LSTM(return_sequences=True), a Sequential).
    It trains where a classifier would (TEXTRNN_DEVICE, else CUDA when there is one) under the
    global precision policy; the encoder comes back on the CPU."""
    torch.manual_seed(seed)
    windows = _windows(docs, vocabulary, seq_len)
    held_out = max(1, len(windows) // 50)
    train, valid = windows[held_out:], windows[:held_out]
    model = _LanguageModel(vocabulary.size, dim, units)
    model.encoder.build((None, seq_len))
    device, policy = resolve_device(None), precision.global_policy().name
    model.to(device)
    scaler = precision.grad_scaler(device, policy)
    params = list(model.parameters())
    optimizer = AdamOptimizer(params, lr=lr)
    # under torchrun each rank takes its rows of every batch; a rare-word cluster may get no target
    forward = distributed.wrap(model, find_unused_parameters=True)
    deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
    steps = 0
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(train))
        usable = len(train)
        if 0 < usable % batch_size < distributed.world_size():
            usable -= usable % batch_size  # every process needs a row of the last batch
        bar = tqdm(range(0, usable, batch_size), desc=f"LM epoch {epoch + 1}/{epochs}",
                   disable=not verbose or not distributed.is_main())
        for start in bar:
            batch = train[distributed.local_rows(order[start:start + batch_size])]
            with precision.autocast(device, policy):
                loss = forward(batch.to(device, non_blocking=True)).float()
            optimizer.zero_grad(set_to_none=True)
            # LSTMs on long streams need the clipping
            precision.backward_and_step(loss, optimizer, scaler,
                                        clip=lambda: torch.nn.utils.clip_grad_norm_(params, 1.0))
            steps += 1
            if steps % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
            if _out_of_time(deadline):
                break
        if _out_of_time(deadline):
            break
    model.eval()
    with torch.inference_mode(), precision.autocast(device, policy):
        losses = [model(b.to(device)).float() for b in valid.split(batch_size)]
    perplexity = math.exp(float(torch.stack(losses).mean()))
    model.cpu()
    info = {"perplexity": perplexity, "steps": steps, "windows": len(windows), "units": units,
            "seq_len": seq_len, **({"precision": policy} if policy != "float32" else {})}
    matrix = model.encoder.layers[0].get_weights()[0]
    return (matrix, info, model.encoder) if keep_encoder else (matrix, info)
