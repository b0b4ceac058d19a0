"""`textrnn pretrain`, `pretrain-encoder`, `finetune`, `import-vectors`, `neighbors`: pretrained
embeddings and encoders."""

from __future__ import annotations

import argparse
import json
import time

from textrnn.cli.options import (
    add_data_options,
)


def cmd_pretrain(args: argparse.Namespace) -> int:
    from textrnn.app.pretrain.run import pretrain

    emb = pretrain(args.method, args.corpus, args.out, vocab=args.vocab, vocab_size=args.vocab_size,
                   dim=args.dim, epochs=args.epochs, seed=args.seed, units=args.units,
                   seq_len=args.seq_len, max_minutes=args.max_minutes, model=args.model,
                   verbose=0 if args.quiet else 1)
    print(json.dumps(emb.card, indent=2))
    print(f"-> {args.out}")
    return 0


def cmd_pretrain_encoder(args: argparse.Namespace) -> int:
    from textrnn.app.transfer import pretrain_encoder

    card = pretrain_encoder(args.corpus, args.out, vocab=args.vocab, vocab_size=args.vocab_size,
                            dim=args.dim, units=args.units, seq_len=args.seq_len, epochs=args.epochs,
                            max_minutes=args.max_minutes, seed=args.seed, verbose=0 if args.quiet else 1)
    print(json.dumps(card, indent=2))
    print(f"-> {args.out}")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    from textrnn.app.transfer import FinetuneSettings, finetune

    settings = FinetuneSettings(
        encoder=args.encoder, data=args.data, test_data=args.test_data, text_column=args.text_column,
        label_column=args.label_column, encoding=args.encoding, train_size=args.train_size,
        maxlen=args.maxlen, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
    out = args.out or f"runs/finetune-{time.strftime('%Y%m%d-%H%M%S')}"
    finetune(settings, out, verbose=0 if args.quiet else 1)
    return 0


def cmd_import_vectors(args: argparse.Namespace) -> int:
    from textrnn.app.pretrain.run import import_vectors

    emb = import_vectors(args.file, args.out, vocab=args.vocab, vocab_size=args.vocab_size,
                         fmt=args.format, seed=args.seed)
    c = emb.card["coverage"]
    print(f"coverage: {c['found']:,} of {c['total']:,} vocabulary words ({100 * c['fraction']:.1f} %) "
          f"have a vector; the rest start from {emb.card['unmatched_init']} -> {args.out}")
    return 0


def cmd_neighbors(args: argparse.Namespace) -> int:
    from textrnn.app.pretrain.vectors import PretrainedEmbedding

    emb = PretrainedEmbedding.load(args.emb_dir)
    for word in args.words:
        near = emb.neighbors(word, args.k)
        print(f"{word}: " + ", ".join(f"{w} ({s:.2f})" for w, s in near))
    return 0


def register(command) -> None:
    """Add this module's commands to the parser (`command(name, help=...)` makes one)."""
    p = command("pretrain", help="pretrain an embedding (lecture steps 1-2); writes EMB_DIR")
    p.add_argument("--method", required=True, choices=["word2vec", "lm", "classifier"])
    p.add_argument("--corpus", default="imdb-unsup",
                   help="imdb-unsup (50,000 unlabelled reviews), sample, or a path (.txt one document "
                        "per line, CSV/JSONL, folder); for classifier: a labelled data source")
    p.add_argument("--vocab", default="imdb",
                   help="imdb, sample, corpus, or a vocab.json / model / run / EMB_DIR path")
    p.add_argument("--vocab-size", type=int, default=10000)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--epochs", type=int, help="passes over the corpus (word2vec 5, lm 1, classifier 5)")
    p.add_argument("--units", type=int, default=128, help="lm: LSTM state dim (default 128)")
    p.add_argument("--seq-len", type=int, default=64, help="lm: words per training window")
    p.add_argument("--max-minutes", type=float, help="lm: stop training after this long")
    p.add_argument("--model", default="lstm", help="classifier: the zoo model to train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="EMB_DIR to write")
    p.set_defaults(func=cmd_pretrain)

    p = command("pretrain-encoder", help="pretrain an LSTM language model; keep its embedding and LSTM "
                                         "(ENC_DIR) for `textrnn finetune`")
    p.add_argument("--corpus", default="imdb-unlabelled",
                   help="imdb-unlabelled (the 50,000 unlabelled and 25,000 training reviews, no labels), "
                        "imdb-unsup, sample, or a path (.txt one document per line, CSV/JSONL, folder)")
    p.add_argument("--vocab", default="imdb", help="imdb, sample, corpus, or a vocab.json / run path")
    p.add_argument("--vocab-size", type=int, default=10000)
    p.add_argument("--dim", type=int, default=64, help="embedding size (default 64)")
    p.add_argument("--units", type=int, default=128, help="LSTM state size (default 128)")
    p.add_argument("--seq-len", type=int, default=64, help="words per training window (default 64)")
    p.add_argument("--epochs", type=int, default=1, help="passes over the corpus (default 1)")
    p.add_argument("--max-minutes", type=float, default=25.0, help="stop after this long (default 25)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="ENC_DIR to write")
    p.set_defaults(func=cmd_pretrain_encoder)

    p = command("finetune", help="fit a classifier on a pretrained encoder with few labelled texts")
    p.add_argument("encoder", help="ENC_DIR from `textrnn pretrain-encoder`")
    p.add_argument("--out", help="run folder (default runs/finetune-TIMESTAMP)")
    add_data_options(p, default="imdb")
    p.add_argument("--train-size", type=int, help="use the first N labelled training texts")
    p.add_argument("--maxlen", type=int, default=400, help="words per text (default 400)")
    p.add_argument("--epochs", type=int, default=0,
                   help="whole-network fine-tuning epochs after the head's fit (default 0: head only)")
    p.add_argument("--lr", type=float, default=1e-3, help="fine-tuning rate of the head (default 1e-3)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_finetune)

    p = command("import-vectors", help="align a word2vec / GloVe file to a vocabulary")
    p.add_argument("file")
    p.add_argument("--format", default="auto", choices=["auto", "word2vec", "word2vec-binary", "glove"])
    p.add_argument("--vocab", default="imdb")
    p.add_argument("--vocab-size", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_import_vectors)

    p = command("neighbors", help="nearest words by cosine similarity in an EMB_DIR")
    p.add_argument("emb_dir")
    p.add_argument("words", nargs="+")
    p.add_argument("-k", type=int, default=10)
    p.set_defaults(func=cmd_neighbors)
