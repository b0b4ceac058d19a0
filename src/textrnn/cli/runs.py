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
    add_settings_options,
    add_train_options,
    data_options,
    options_given,
    settings_given,
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
    from textrnn.app.recipe import RecipeSettings, run_recipe

    given = {**data_options(args), **settings_given(args, RecipeSettings)}
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

    p = command("recipe", help="the recommended classifier: word2vec + pooled Bi-GRU + NB linear head",
                description="word2vec on unlabelled + training text, a fine-tuned Bi-GRU pooled over "
                            "time trained in length buckets, blended with an NBSVM-style linear model; "
                            "writes a run folder that evaluate / predict / serve / export take. "
                            "Rerunning with the same --out resumes.")
    p.add_argument("--out", help="run folder (default runs/recipe-TIMESTAMP); an unfinished one resumes")
    add_data_options(p, default="imdb")
    add_settings_options(p, RecipeSettings)
    p.set_defaults(func=cmd_recipe)

    p = command("demo", help="train a lecture model on the embedded sample (about 2 minutes)")
    p.add_argument("--model", default="bi-lstm")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--maxlen", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/demo")
    p.set_defaults(func=cmd_demo)
