"""Self-training probe for the goal: does labelling IMDB's 50,000 unlabelled reviews with a finished
recipe model (network + NB head, blended) and training a new network on the training rows plus those
soft labels give a better recipe?

    TEXTRNN_DATA=... python experiments/self_training.py TEACHER_RUN STUDENT_RUN [EPOCHS]

TEACHER_RUN: a finished recipe run; its blended predictions on the unlabelled reviews are the soft
targets. STUDENT_RUN: a finished recipe run whose settings and word2vec vectors the new network
(the student) takes; its own network is the baseline the student is compared with. The student
trains EPOCHS (3) epochs on the 22,500 training rows plus the 50,000 unlabelled reviews and keeps
the epoch with the lowest validation loss (the recipe's validation rows, gold labels only). Both
networks are then blended with the recipe's NB head (refitted as the recipe fits it) by the
recipe's rule (weight by validation log loss). Test reviews are only scored.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from textrnn.app.ensemble import network_alone
from textrnn.app.pretrain.sources import corpus_tokens
from textrnn.app.pretrain.vectors import PretrainedEmbedding
from textrnn.app.recipe import (
    accuracy,
    blend_weight,
    fit_linear_head,
    settings_from_record,
    training_settings,
)
from textrnn.app.runs import build_model, prepare_data, validation_rows
from textrnn.data.text import pad_sequences
from textrnn.models import load_model


def main(teacher_run: str, student_run: str, epochs: int = 3) -> None:
    s = settings_from_record(json.loads((Path(student_run) / "recipe.json").read_text())["settings"])
    settings = training_settings(s, f"{student_run}/embedding")
    torch.manual_seed(s.seed)
    pretrained = PretrainedEmbedding.load(settings.embedding)
    data = prepare_data(settings, pretrained, quiet=True)
    train_rows, val_rows = validation_rows(settings, data)
    x_val, y_val, y_test = data.x_train[val_rows], data.y_train[val_rows], data.y_test

    start = time.perf_counter()
    docs = corpus_tokens("imdb-unsup", quiet=True)
    teacher = load_model(Path(teacher_run) / "model")  # with its NB head: predict gives the blend
    t_vocab, t_len = teacher.text_encoder.vocabulary, teacher.text_encoder.maxlen
    targets = teacher.predict(pad_sequences([t_vocab.encode_tokens(d) for d in docs], maxlen=t_len),
                              batch_size=256).ravel()
    x_unlabelled = pad_sequences([data.encoder.vocabulary.encode_tokens(d) for d in docs], maxlen=s.maxlen)
    print(f"teacher {teacher_run}: {len(docs):,} unlabelled reviews labelled in "
          f"{time.perf_counter() - start:.0f} s (mean P(positive) {targets.mean():.3f})", flush=True)

    student = build_model(settings, data, pretrained)
    student.build((None, s.maxlen))
    x = np.concatenate([data.x_train[train_rows], x_unlabelled])
    y = np.concatenate([data.y_train[train_rows].astype(np.float32), targets.astype(np.float32)])
    best, best_loss, start = None, float("inf"), time.perf_counter()
    for _ in range(epochs):
        logs = student.fit(x, y, batch_size=s.batch_size, epochs=1, verbose=2,
                           validation_data=(x_val, y_val)).history
        if logs["val_loss"][-1] < best_loss:
            best_loss, best = logs["val_loss"][-1], {k: v.clone() for k, v in student.state_dict().items()}
    student.load_state_dict(best)
    print(f"student trained in {time.perf_counter() - start:.0f} s", flush=True)

    head, linear_val = fit_linear_head(s, data.x_train, data.y_train, train_rows, val_rows)
    linear_test = head.predict_proba(data.x_test)
    baseline = network_alone(load_model(Path(student_run) / "model"))  # the network alone
    print(f"NB head (2**{head.bits} columns): test {100 * accuracy(y_test, linear_test):.2f} %")
    for name, model in (("the run's own network", baseline), ("student", student)):
        net_val = model.predict(x_val, batch_size=256).ravel()
        net_test = model.predict(data.x_test, batch_size=256).ravel()
        blend = blend_weight(y_val, net_val, linear_val)
        blended = (1 - blend) * net_test + blend * linear_test
        print(f"{name}: network val {100 * accuracy(y_val, net_val):.2f} %, "
              f"test {100 * accuracy(y_test, net_test):.2f} %; "
              f"+ NB head (blend {blend:.2f}) test {100 * accuracy(y_test, blended):.2f} %", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:4]))
