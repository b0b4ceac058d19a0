"""`textrnn pretrain`, `pretrain-encoder`, `finetune`, `import-vectors`, `neighbors`: pretrained
embeddings and encoders."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict

from textrnn.cli.options import add_data_options, add_settings_options, data_options, settings_given


def cmd_pretrain(args: argparse.Namespace) -> int:
    from textrnn.app.pretrain.run import PretrainSettings, pretrain

    settings = PretrainSettings(**settings_given(args, PretrainSettings))
    emb = pretrain(out=args.out, verbose=0 if args.quiet else 1, **asdict(settings))
    print(json.dumps(emb.card, indent=2))
    print(f"-> {args.out}")
    return 0


def cmd_pretrain_encoder(args: argparse.Namespace) -> int:
    from textrnn.app.transfer import EncoderSettings, pretrain_encoder

    settings = EncoderSettings(**settings_given(args, EncoderSettings))
    card = pretrain_encoder(out=args.out, verbose=0 if args.quiet else 1, **asdict(settings))
    print(json.dumps(card, indent=2))
    print(f"-> {args.out}")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    from textrnn.app.transfer import FinetuneSettings, finetune

    settings = FinetuneSettings(encoder=args.encoder, **data_options(args),
                                **settings_given(args, FinetuneSettings))
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
    from textrnn.app.pretrain.run import PretrainSettings
    from textrnn.app.transfer import EncoderSettings, FinetuneSettings

    p = command("pretrain", help="pretrain an embedding (lecture steps 1-2); writes EMB_DIR")
    add_settings_options(p, PretrainSettings)
    p.add_argument("--out", required=True, help="EMB_DIR to write")
    p.set_defaults(func=cmd_pretrain)

    p = command("pretrain-encoder", help="pretrain an LSTM language model; keep its embedding and LSTM "
                                         "(ENC_DIR) for `textrnn finetune`")
    add_settings_options(p, EncoderSettings)
    p.add_argument("--out", required=True, help="ENC_DIR to write")
    p.set_defaults(func=cmd_pretrain_encoder)

    p = command("finetune", help="fit a classifier on a pretrained encoder with few labelled texts")
    p.add_argument("encoder", help="ENC_DIR from `textrnn pretrain-encoder`")
    p.add_argument("--out", help="run folder (default runs/finetune-TIMESTAMP)")
    add_data_options(p, default="imdb")
    add_settings_options(p, FinetuneSettings)
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
