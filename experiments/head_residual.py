"""The network learns what the NB head misses, instead of being blended with it afterwards.
The head's log-odds enter the network's output as a fixed offset, P(positive) = sigmoid(z + offset),
so training pushes the network towards the head's mistakes (stacking by boosting). On the training
rows the offset is out of fold (5 folds by movie: the head never scores a review it was fitted on,
as on test); on the validation rows it is the head fitted on the training rows, and on test the head
fitted on all rows, as the recipe's blend has them.

    TEXTRNN_DATA=... python experiments/head_residual.py runs/recipe-ablation/recipe/seed-0
    ... head_residual.py --offset-scale 0.5 RUN   # a weaker offset leaves the network more to learn

A new network of RUN's settings (its word2vec vectors, seed, Adam, batch 32) trains --epochs epochs
on RUN's training rows; the epoch with the lowest validation loss of the sum is kept, and its test
accuracy is printed beside RUN's own blend (network + head). Also: a and b in sigmoid(a z + b offset)
chosen by validation log loss.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import GroupKFold

from textrnn.app.linear_head import NBLinear
from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.app.recipe import RecipeSettings, settings_from_record, training_settings
from textrnn.app.runs import build_model, prepare_data, validation_rows
from textrnn.data.datasets import imdb_train_movies
from textrnn.training import losses
from textrnn.training.optimizers import OptimizerSpec


def _logit(p: torch.Tensor) -> torch.Tensor:
    p = p.reshape(p.shape[0], -1)[:, :1].clamp(1e-7, 1 - 1e-7)
    return torch.log(p) - torch.log1p(-p)


def _offset_loss(y: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """y: (label, offset) per row; p: the network's sigmoid output."""
    return F.binary_cross_entropy_with_logits(_logit(p) + y[:, 1:2], y[:, :1])


def _offset_accuracy(y: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return (((_logit(p) + y[:, 1:2]) > 0).float() == y[:, :1]).float().mean()


def _head_offsets(s: RecipeSettings, x, y, x_test, train_rows, val_rows):
    """The head's log-odds: out of fold on the training rows, fitted on them for the validation
    rows, fitted on all rows for test."""
    head = NBLinear(s.ngrams, s.head_bits, s.head_C)
    feats = head.features(x)
    offset = np.zeros(len(x), np.float32)
    movies = imdb_train_movies(s.data, quiet=True)[:len(x)]
    for fit, held in GroupKFold(5).split(train_rows, groups=movies[train_rows]):
        head.fit(None, y[train_rows[fit]], features=feats[train_rows[fit]])
        offset[train_rows[held]] = head.decision_function(features=feats[train_rows[held]])
    head.fit(None, y[train_rows], features=feats[train_rows])
    offset[val_rows] = head.decision_function(features=feats[val_rows])
    head.fit(None, y, features=feats)
    return offset, head.decision_function(x_test).astype(np.float32)


def main(run: str, epochs: int, scale: float) -> None:
    record = json.loads((Path(run) / "recipe.json").read_text())
    s = settings_from_record(record["settings"])
    settings = training_settings(s, f"{run}/embedding")
    torch.manual_seed(s.seed)
    np.random.seed(s.seed)
    pretrained = PretrainedEmbedding.load(settings.embedding)
    data = prepare_data(settings, pretrained, quiet=True)
    train_rows, val_rows = validation_rows(settings, data)
    x, y, y_test = data.x_train, data.y_train.astype(np.float32), data.y_test
    start = time.perf_counter()
    offset, offset_test = _head_offsets(s, x, y, data.x_test, train_rows, val_rows)
    print(f"head offsets ({time.perf_counter() - start:.0f} s): out-of-fold accuracy on the training rows "
          f"{np.mean((offset[train_rows] > 0) == y[train_rows]):.4f}, "
          f"test {np.mean((offset_test > 0) == y_test):.4f}; "
          f"RUN's own blend: test {record['test_accuracy']:.4f}")

    losses.LOSSES["head_offset"] = (_offset_loss, _offset_accuracy)
    model = build_model(settings, data, pretrained)
    model.compile(OptimizerSpec("adam", s.lr), loss="head_offset", metrics=["acc"])
    targets = np.stack([y, scale * offset], axis=1)
    best = None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.fit(x[train_rows], targets[train_rows], batch_size=s.batch_size, epochs=1, verbose=0)
        z_val = _logit(torch.from_numpy(model.predict(x[val_rows], batch_size=256))).numpy().ravel()
        z_test = _logit(torch.from_numpy(model.predict(data.x_test, batch_size=256))).numpy().ravel()
        val_loss = float(F.binary_cross_entropy_with_logits(
            torch.from_numpy(z_val + scale * offset[val_rows]), torch.from_numpy(y[val_rows])))
        print(f"epoch {epoch} ({time.perf_counter() - start:.0f} s): val loss {val_loss:.4f}, "
              f"val acc {np.mean((z_val + scale * offset[val_rows] > 0) == y[val_rows]):.4f}, "
              f"test acc {np.mean((z_test + scale * offset_test > 0) == y_test):.4f} "
              f"(network alone {np.mean((z_test > 0) == y_test):.4f})", flush=True)
        if best is None or val_loss < best[0]:
            best = (val_loss, epoch, z_val, z_test)
    _, epoch, z_val, z_test = best

    def val_loss_of(a: float, b: float) -> float:
        return float(F.binary_cross_entropy_with_logits(
            torch.from_numpy(a * z_val + b * offset[val_rows]), torch.from_numpy(y[val_rows])))

    a, b = min(((a, b) for a in np.linspace(0, 2, 21) for b in np.linspace(0, 2, 21)),
               key=lambda ab: val_loss_of(*ab))
    print(f"kept epoch {epoch}: test acc {np.mean((z_test + scale * offset_test > 0) == y_test):.4f}; "
          f"sigmoid({a:.1f} z + {b:.1f} offset): {np.mean((a * z_test + b * offset_test > 0) == y_test):.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("run", help="a finished recipe run: its settings, rows and word2vec vectors")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--offset-scale", type=float, default=1.0)
    args = parser.parse_args()
    main(args.run, args.epochs, args.offset_scale)
