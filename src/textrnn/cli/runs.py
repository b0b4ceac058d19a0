"""`textrnn train`, `compare`, `recipe`, `demo`: the commands that train runs into run folders."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from textrnn.app import zoo
from textrnn.cli.options import (
    add_data_options,
    add_model_options,
    add_train_options,
    options_given,
    train_settings,
)
from textrnn.errors import TextRNNError


def cmd_train(args: argparse.Namespace) -> int:
    from textrnn.app.runs import train_run

    verbose = 0 if args.quiet else 1
    if args.resume:
        given = options_given(args, args.parser_defaults, keep={"resume", "quiet", "debug"})
        if given or args.model:
            flags = [f"--{g.replace('_', '-')}" for g in given]
            named = ", ".join(([args.model] if args.model else []) + flags)
            raise TextRNNError(f"--resume {args.resume} goes on with the settings the run started with; "
                               f"drop {named} (or train a new run with --out)")
        train_run(None, args.resume, resume=True, verbose=verbose)  # type: ignore[arg-type]
        return 0
    if not args.model:
        raise TextRNNError("give a MODEL to train (see `textrnn models`) or --resume RUN_DIR")
    out = args.out or f"runs/{args.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    train_run(train_settings(args, args.model), out, verbose=verbose)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from textrnn.app import report
    from textrnn.app.runs import train_run

    out = Path(args.out or f"runs/compare-{time.strftime('%Y%m%d-%H%M%S')}")
    rows, curves = [], {}
    for name in args.models:
        zoo.build(name)  # fail fast on unknown names
    from textrnn.app.runs import load_settings
    from textrnn.io_utils import check_output_dir

    check_output_dir(out, set(args.models) | {"compare.md", "val_accuracy.png"})
    for name in args.models:
        run_dir, settings = out / name, train_settings(args, name)
        resume = (run_dir / "run.json").exists() and (run_dir / "checkpoint").is_dir()
        if resume and load_settings(run_dir) != settings:
            raise TextRNNError(f"{run_dir}: holds a {name} run with other settings; rerun with the "
                               "options it started with to resume, or give another --out")
        metrics = train_run(settings, run_dir, resume=resume, verbose=0 if args.quiet else 1)
        history = json.loads((run_dir / "history.json").read_text())
        curves[name] = history.get("val_acc", [])
        rows.append([name, f"{metrics['params']:,}", metrics["epochs_run"], metrics["best_epoch"],
                     f"{metrics['train_time_s']:.0f} s",
                     f"{metrics['best_val_accuracy']:.4f}" if metrics["best_val_accuracy"] else "-",
                     f"{metrics['test']['accuracy']:.4f}"])
    table = report.markdown_table(
        ["model", "params", "epochs", "best epoch", "train time", "val acc", "test acc"], rows)
    from textrnn.io_utils import atomic_write_text

    atomic_write_text(out / "compare.md", f"# Comparison on {args.data} (seed {args.seed})\n\n{table}\n"
                                          "![validation accuracy](val_accuracy.png)\n")
    report.compare_plot(curves, out / "val_accuracy.png", f"validation accuracy on {args.data}")
    print(table, end="")
    print(f"-> {out}/compare.md, {out}/val_accuracy.png")
    return 0


def cmd_recipe(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from textrnn.app.recipe import RecipeSettings, run_recipe

    given = {f.name: getattr(args, f.name) for f in fields(RecipeSettings)
             if getattr(args, f.name, None) is not None}
    out = args.out or f"runs/recipe-{time.strftime('%Y%m%d-%H%M%S')}"
    run_recipe(RecipeSettings(**given), out, verbose=0 if args.quiet else 1)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The README's main job: train a lecture model on the embedded sample, evaluate it, plot it."""
    from textrnn.app.runs import RUN_FILE, RUN_OUTPUTS, TrainSettings, train_run
    from textrnn.io_utils import check_output_dir, remove_owned

    out = check_output_dir(args.out, RUN_OUTPUTS, marker=RUN_FILE)  # refuses anything else
    if (out / RUN_FILE).is_file():  # a previous demo: its own files go, nothing else is there
        remove_owned(out, RUN_OUTPUTS)
    settings = TrainSettings(model=args.model, data="sample", epochs=args.epochs, maxlen=args.maxlen,
                             seed=args.seed, patience=2)
    print(f"textrnn demo: {args.model} on the embedded IMDB sample (3,000 train reviews, the last 20 % "
          "for validation; 1,000 test reviews)")
    zoo.build(args.model, zoo.ZooConfig(maxlen=args.maxlen)).summary()
    train_run(settings, out, verbose=0 if args.quiet else 1)
    print(f"plots: {out}/loss.png, {out}/accuracy.png; metrics: {out}/metrics.json")
    print(f'try: textrnn predict {out} "A wonderful, moving film." "Dull and far too long."')
    return 0


def register(command) -> None:
    """Add this module's commands to the parser (`command(name, help=...)` makes one)."""
    p = command("train", help="train a zoo model; writes a run folder")
    p.add_argument("model", nargs="?", help="zoo name (see `textrnn models`)")
    p.add_argument("--out", help="run folder (default runs/MODEL-TIMESTAMP)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    add_data_options(p)
    add_train_options(p)
    add_model_options(p)
    p.set_defaults(func=cmd_train)
    p.set_defaults(parser_defaults=vars(p.parse_args([])))  # --resume refuses options beside it

    p = command("compare", help="train several models on the same data and seed")
    p.add_argument("models", nargs="+")
    p.add_argument("--out", help="folder for the runs, compare.md and val_accuracy.png")
    add_data_options(p)
    add_train_options(p)
    add_model_options(p)
    p.set_defaults(func=cmd_compare)

    from textrnn.app.recipe import RecipeSettings

    defaults = RecipeSettings()
    p = command("recipe", help="the recommended classifier: word2vec + pooled Bi-GRU + NB linear head",
                description="word2vec on unlabelled + training text, a fine-tuned Bi-GRU pooled over "
                            "time trained in length buckets, blended with an NBSVM-style linear model; "
                            "writes a run folder that evaluate / predict / serve / export take. "
                            "Rerunning with the same --out resumes.")
    p.add_argument("--out", help="run folder (default runs/recipe-TIMESTAMP); an unfinished one resumes")
    add_data_options(p, default="imdb")
    for name, kind, text in [
            ("vocab-size", int, "words kept"), ("maxlen", int, "words per review"),
            ("dim", int, "embedding / word2vec size"), ("units", int, "recurrent state per direction"),
            ("dropout", float, "dropout on the embedding and the pooled features"),
            ("epochs", int, "at most this many epochs (early stopping on val loss)"),
            ("batch-size", int, "rows per step"), ("lr", float, "Adam learning rate"),
            ("embedding-lr", float, "the embedding's own Adam learning rate"),
            ("val-split", float, "fraction of the training rows for validation"),
            ("patience", int, "epochs without val-loss gain before stopping"),
            ("w2v-epochs", int, "word2vec passes"), ("ngrams", int, "linear head: n-gram size"),
            ("head-C", float, "linear head: inverse regularisation"),
            ("head-bits", int, "linear head: 2**bits hashed n-gram columns"),
            ("networks", int, "networks of seeds SEED, SEED+1000, ... averaged"),
            ("train-size", int, "use only the first N labelled training rows"),
            ("few-labels-below", int, "with fewer labelled training rows, no network: word2vec mean + NB "
                                      "head, chosen by cross-validation (0: always the network)"),
            ("seed", int, "seed (word2vec's threads still vary its vectors between reruns)")]:
        dest = name.replace("-", "_")
        p.add_argument(f"--{name}", dest=dest, type=kind, help=f"{text} (default {getattr(defaults, dest)})")
    p.add_argument("--unlabelled", metavar="PATH",
                   help="more text for word2vec, no labels needed: a .txt (one text per line), a CSV / "
                        "JSONL with a text column, or a folder of .txt files")
    p.add_argument("--model", choices=["bi-gru-pool", "bi-lstm-pool"],
                   help=f"the network: pooled Bi-GRU or Bi-LSTM (default {defaults.model})")
    p.add_argument("--pretrain", choices=["word2vec", "none"], help="embedding start (default word2vec)")
    p.add_argument("--freeze-embedding", action="store_true", default=None,
                   help="keep the word2vec vectors fixed (default: fine-tune them)")
    p.add_argument("--word-dropout", action="store_true", default=None,
                   help="the embedding's dropout drops whole words instead of single values")
    p.add_argument("--own-word2vec", action="store_true", default=None,
                   help="with --networks: each network pretrains its own word2vec (default: one for all)")
    p.add_argument("--val-last-rows", dest="val_by_movie", action="store_false", default=None,
                   help="IMDB: validate on the last rows (sharing movies with training) instead of "
                        "on whole movies")
    p.add_argument("--no-linear-head", dest="linear_head", action="store_false", default=None,
                   help="the network alone, without the NB linear model")
    p.set_defaults(func=cmd_recipe)

    p = command("demo", help="train a lecture model on the embedded sample (about 2 minutes)")
    p.add_argument("--model", default="bi-lstm")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--maxlen", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/demo")
    p.set_defaults(func=cmd_demo)
