"""Option groups shared by the commands that train, and the settings they make."""

from __future__ import annotations

import argparse


def add_data_options(p: argparse.ArgumentParser, default: str | None = "sample") -> None:
    p.add_argument("--data", default=default,
                   help="imdb, sample (the embedded 4,000 reviews), or a path: aclImdb archive or "
                        "folder, CSV/TSV/JSONL file, or a folder with one subfolder per class "
                        f"(default: {default or 'the data the run was trained on'})")
    p.add_argument("--test-data", help="separate test file for user data (else a stratified 20%% split)")
    p.add_argument("--text-column", help="text column of a CSV/JSONL (default: text, review, ...)")
    p.add_argument("--label-column", help="label column (default: label, sentiment, ...)")
    p.add_argument("--encoding", default="utf-8", help="encoding of user files (default utf-8)")


def add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model shape (the lecture's values by default)")
    g.add_argument("--vocab-size", type=int, default=10000, help="words kept (default 10000)")
    g.add_argument("--embedding-dim", type=int, default=32)
    g.add_argument("--maxlen", type=int, default=500, help="words per review (default 500)")
    g.add_argument("--units", type=int, default=32, help="state dim (default 32)")
    g.add_argument("--layers", type=int, default=3, help="depth of stacked-lstm (default 3)")
    g.add_argument("--dropout", type=float, help="input dropout of the recurrent layers "
                                                 "(default: 0.2, 0 for simple-rnn)")


def add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=10, help="most epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", default="rmsprop", choices=["rmsprop", "adam", "sgd"])
    p.add_argument("--lr", type=float, help="learning rate (default: Keras's, 0.001 for rmsprop)")
    p.add_argument("--embedding-lr", type=float, metavar="LR",
                   help="the embedding's own learning rate, e.g. lower to fine-tune pretrained "
                        "vectors gently (default: --lr)")
    p.add_argument("--val-split", type=float, default=0.2,
                   help="fraction of training rows (the last ones) for validation (default 0.2)")
    p.add_argument("--val-by-movie", action="store_true",
                   help="IMDB: validate on whole movies (about --val-split of the rows), none of which "
                        "is in training, as none of the test movies is")
    p.add_argument("--train-size", type=int, help="train on the first N training reviews only")
    p.add_argument("--patience", type=int, default=2,
                   help="early stopping: epochs without val_loss improvement (0: off; default 2)")
    p.add_argument("--min-epoch-steps", type=int, default=50, metavar="STEPS",
                   help="with few training rows, an epoch repeats them until it holds this many "
                        "optimizer steps, so --epochs and --patience mean as much training at n = 200 "
                        "as at 20,000 (0: one pass, as Keras; default 50)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--embedding", metavar="EMB_DIR",
                   help="start the embedding from `textrnn pretrain` output (its vocabulary is used)")
    p.add_argument("--embedding-scale", type=float, metavar="STD",
                   help="with --embedding: rescale the word vectors to this standard deviation first "
                        "(0.029 is Keras's init; helps fine-tuning, hurts freezing: "
                        "docs/guide/pretraining.md)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--freeze-embedding", action="store_true",
                   help="with --embedding: keep it fixed (the lecture's step 3)")
    g.add_argument("--finetune-embedding", action="store_true",
                   help="with --embedding: train it further (the default)")


def options_given(args: argparse.Namespace, defaults: dict, keep: set[str]) -> list[str]:
    """The options whose value differs from the command's default (those the user gave)."""
    return sorted(k for k, v in vars(args).items()
                  if k in defaults and k not in keep and v != defaults[k])


def train_settings(args: argparse.Namespace, model: str):
    from textrnn.app.runs import TrainSettings

    return TrainSettings(
        model=model, data=args.data, test_data=args.test_data, text_column=args.text_column,
        label_column=args.label_column, encoding=args.encoding, epochs=args.epochs,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        embedding_lr=args.embedding_lr, val_split=args.val_split,
        val_by_movie=args.val_by_movie, train_size=args.train_size, seed=args.seed, patience=args.patience,
        min_epoch_steps=args.min_epoch_steps,
        vocab_size=args.vocab_size, embedding_dim=args.embedding_dim, maxlen=args.maxlen,
        units=args.units, layers=args.layers, dropout=args.dropout, embedding=args.embedding,
        freeze_embedding=args.freeze_embedding, embedding_scale=args.embedding_scale)
