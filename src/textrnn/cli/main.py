"""`textrnn ...`: thin subcommands over the library. Errors become one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from textrnn.app import zoo
from textrnn.app.runs import load_run_model
from textrnn.errors import TextRNNError


def _add_data_options(p: argparse.ArgumentParser, default: str | None = "sample") -> None:
    p.add_argument("--data", default=default,
                   help="imdb, sample (the embedded 4,000 reviews), or a path: aclImdb archive or "
                        "folder, CSV/TSV/JSONL file, or a folder with one subfolder per class "
                        f"(default: {default or 'the data the run was trained on'})")
    p.add_argument("--test-data", help="separate test file for user data (else a stratified 20%% split)")
    p.add_argument("--text-column", help="text column of a CSV/JSONL (default: text, review, ...)")
    p.add_argument("--label-column", help="label column (default: label, sentiment, ...)")
    p.add_argument("--encoding", default="utf-8", help="encoding of user files (default utf-8)")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model shape (the lecture's values by default)")
    g.add_argument("--vocab-size", type=int, default=10000, help="words kept (default 10000)")
    g.add_argument("--embedding-dim", type=int, default=32)
    g.add_argument("--maxlen", type=int, default=500, help="words per review (default 500)")
    g.add_argument("--units", type=int, default=32, help="state dim (default 32)")
    g.add_argument("--layers", type=int, default=3, help="depth of stacked-lstm (default 3)")
    g.add_argument("--dropout", type=float, help="input dropout of the recurrent layers "
                                                 "(default: 0.2, 0 for simple-rnn)")


def _add_train_options(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--embedding", metavar="EMB_DIR",
                   help="start the embedding from `textrnn pretrain` output (its vocabulary is used)")
    p.add_argument("--embedding-scale", type=float, metavar="STD",
                   help="with --embedding: rescale the word vectors to this standard deviation first "
                        "(0.029 is Keras's init; helps fine-tuning, hurts freezing: docs/RESULTS.md)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--freeze-embedding", action="store_true",
                   help="with --embedding: keep it fixed (the lecture's step 3)")
    g.add_argument("--finetune-embedding", action="store_true",
                   help="with --embedding: train it further (the default)")


def _options_given(args: argparse.Namespace, defaults: dict, keep: set[str]) -> list[str]:
    """The options whose value differs from the command's default (those the user gave)."""
    return sorted(k for k, v in vars(args).items()
                  if k in defaults and k not in keep and v != defaults[k])


def _settings(args: argparse.Namespace, model: str):
    from textrnn.app.runs import TrainSettings

    return TrainSettings(
        model=model, data=args.data, test_data=args.test_data, text_column=args.text_column,
        label_column=args.label_column, encoding=args.encoding, epochs=args.epochs,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        embedding_lr=args.embedding_lr, val_split=args.val_split,
        val_by_movie=args.val_by_movie, train_size=args.train_size, seed=args.seed, patience=args.patience,
        vocab_size=args.vocab_size, embedding_dim=args.embedding_dim, maxlen=args.maxlen,
        units=args.units, layers=args.layers, dropout=args.dropout, embedding=args.embedding,
        freeze_embedding=args.freeze_embedding, embedding_scale=args.embedding_scale)


# --- commands ------------------------------------------------------------------------------------
def cmd_models(args: argparse.Namespace) -> int:
    for name, (_, description) in zoo.ZOO.items():
        print(f"{name:13s} {description}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    target = Path(args.model)
    if (target / "model").is_dir() or (target / "config.json").is_file():
        from textrnn.app.runs import load_run_model

        model = load_run_model(target, need_text=False)
    else:
        config = zoo.ZooConfig(vocab_size=args.vocab_size, embedding_dim=args.embedding_dim,
                               maxlen=args.maxlen, units=args.units, layers=args.layers,
                               dropout=args.dropout)
        model = zoo.build(args.model, config)
    model.summary()
    if model.length_buckets:
        print(" Runs in length buckets: batches of near-equal review lengths, padding skipped")
    if model.members:
        print(f" Ensemble: the average of {1 + len(model.members)} networks of this architecture "
              f"(this table is the first; {sum(m.count_params() for m in model.members):,} more params)")
    head = model.linear_head
    if head is not None:
        print(f" Linear head: NB log-count-ratio logistic regression on 1-{head.ngrams} grams "
              f"({2 ** head.bits:,} hashed weights), blended with weight {model.linear_blend:.2f}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from textrnn.app.runs import train_run

    verbose = 0 if args.quiet else 1
    if args.resume:
        given = _options_given(args, args.parser_defaults, keep={"resume", "quiet", "debug"})
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
    train_run(_settings(args, args.model), out, verbose=verbose)
    return 0


def _evaluation_data(args: argparse.Namespace, model):
    """Test arrays encoded with the model's vocabulary: by default the run's own test set."""
    from textrnn.app.runs import load_settings
    from textrnn.data.datasets import test_split

    if args.data is None:
        s = load_settings(Path(args.run_dir))
        return test_split(s.data, model.text_encoder, s.test_data, s.text_column, s.label_column,
                          s.encoding, seed=s.seed, quiet=args.json)
    return test_split(args.data, model.text_encoder, args.test_data, args.text_column,
                      args.label_column, args.encoding, held_out=False, quiet=args.json)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from textrnn.training.metrics import classification_report

    model = load_run_model(args.run_dir)
    x, y = _evaluation_data(args, model)
    report = classification_report(y, model.predict(x, batch_size=256), model.text_encoder.labels)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for key in ("n", "accuracy", "loss", "precision", "recall", "f1", "roc_auc"):
        value = report[key]
        print(f"{key:10s} {value:.4f}" if isinstance(value, float) else f"{key:10s} {value}")
    print("confusion matrix (rows: true, columns: predicted; " + ", ".join(report["classes"]) + ")")
    for row in report["confusion_matrix"]:
        print("  " + " ".join(f"{v:7d}" for v in row))
    return 0


def _read_texts(args: argparse.Namespace):
    from textrnn.data.inputs import Texts, parse_texts, read_texts
    from textrnn.data.tables import decode_bytes

    if args.texts:
        for number, text in enumerate(args.texts, start=1):
            if not text.strip():
                raise TextRNNError(f"text {number} is empty; give texts with words in them")
        return Texts(list(args.texts), list(range(1, len(args.texts) + 1)))
    if args.file:
        return read_texts(args.file, args.encoding, args.text_column)
    if sys.stdin is None or sys.stdin.isatty():
        raise TextRNNError("give texts as arguments, --file PATH, or on standard input")
    stream = getattr(sys.stdin, "buffer", None)  # bytes, decoded as --encoding says
    content = (decode_bytes("standard input", stream.read(), args.encoding) if stream is not None
               else sys.stdin.read())
    return parse_texts(content, "txt", source="standard input")


def cmd_predict(args: argparse.Namespace) -> int:
    model = load_run_model(args.run_dir)
    given = _read_texts(args)
    if not given.texts:
        raise TextRNNError("no texts to predict")
    probs = model.predict(model.text_encoder.encode(given.texts), batch_size=256)
    labels = model.text_encoder.labels
    rows = []
    for text, line, p in zip(given.texts, given.lines, probs):
        if len(p) == 1:
            rows.append({"line": line, "text": text, "probability": float(p[0]),
                         "label": labels[int(p[0] > 0.5)]})
        else:
            rows.append({"line": line, "text": text, "probabilities": [float(v) for v in p],
                         "label": labels[int(p.argmax())]})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for row in rows:
            score = row.get("probability", max(row.get("probabilities", [0])))
            flat = " ".join(row["text"].split())
            snippet = flat if len(flat) <= 60 else flat[:57] + "..."
            print(f"{score:.4f}  {row['label']:>8s}  {snippet}")
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
        run_dir, settings = out / name, _settings(args, name)
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


def cmd_import_keras(args: argparse.Namespace) -> int:
    from textrnn.app.pretrain.sources import load_vocabulary
    from textrnn.data.text import TextEncoder
    from textrnn.interop.keras_io import load_keras_model
    from textrnn.io_utils import check_output_dir

    out = check_output_dir(args.out, {"model"})
    if (out / "model").exists():
        raise TextRNNError(f"--out {out}: already holds a model; give a new or empty folder")
    model = load_keras_model(args.path)
    if args.vocab:
        vocab = load_vocabulary(args.vocab, model.layers[0].get_config().get("input_dim", 10000))
        model.text_encoder = TextEncoder(vocab, model.build_input_shape[1] or 500)
    model.save(Path(args.out) / "model")
    model.summary()
    note = "" if args.vocab else " (no vocabulary: give --vocab to predict on text)"
    print(f"-> {args.out}/model{note}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    if Path(args.out).is_dir():
        raise TextRNNError(f"--out {args.out}: is a folder; give the file to write "
                           f"(e.g. {Path(args.out) / ('model.' + args.format)})")
    model = load_run_model(args.run_dir, need_text=False)
    if args.format == "keras":
        from textrnn.interop.keras_io import save_keras_model

        save_keras_model(model, args.out)
    else:
        from textrnn.interop.onnx_export import export_onnx

        export_onnx(model, args.out, fixed_length=args.fixed_length)
    print(f"-> {args.out}")
    left_out = [f"{len(model.members)} other networks"] if model.members else []
    left_out += ["NB linear head"] if model.linear_head is not None else []
    if left_out and args.format == "keras":  # an ONNX graph holds the whole model
        print(f"note: left out of the exported file: the model's {' and '.join(left_out)}; its "
              "predictions are the first network's alone")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from textrnn.app.serve import serve

    if not 0 <= args.port <= 65535:
        raise TextRNNError(f"--port must be between 0 and 65535, got {args.port}")
    if args.workers < 1:
        raise TextRNNError(f"--workers must be at least 1, got {args.workers}")
    serve(args.run_dir, host=args.host, port=args.port, workers=args.workers)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from textrnn.app.explain import explain, render_html, render_terminal
    from textrnn.io_utils import atomic_write_text

    model = load_run_model(args.run_dir)
    exp = explain(model, " ".join(args.text), method=args.method)
    if args.json:
        print(json.dumps(exp.to_json(), indent=2))
    else:
        print(render_terminal(exp))
    if args.html:
        atomic_write_text(args.html, render_html(exp))
        if not args.json:
            print(f"-> {args.html}")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from textrnn.app.experiments import lecture, pretraining, small_data

    module, setup_cls = {"lecture": (lecture, lecture.LectureSetup),
                         "pretraining": (pretraining, pretraining.PretrainingSetup),
                         "small-data": (small_data, small_data.SmallDataSetup)}[args.name]
    setup = setup_cls.quick() if args.quick else setup_cls()
    names = ("seeds", "sizes", "full", "epochs", "maxlen", "units", "vocab_size", "models", "methods",
             "lm_minutes", "encoder")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    if args.data is not None:  # pretraining uses the same source's unlabelled (or training) text
        overrides.update(data=args.data, corpus="imdb-unsup" if args.data == "imdb" else "sample",
                         vocab=args.data)
    unknown = set(overrides) - set(setup_cls.__dataclass_fields__)
    if unknown:
        raise TextRNNError(f"experiment {args.name} has no option {', '.join(sorted(unknown))}")
    setup = replace(setup, **overrides)
    out = Path(args.out or f"runs/{args.name}" + ("-quick" if args.quick else ""))
    report = Path(args.report or f"docs/{args.name.upper().replace('-', '_')}.md")
    if args.report_only:
        if args.name != "pretraining":
            raise TextRNNError("--report-only: only the pretraining study writes a partial report")
        pretraining.run(setup, out, report, verbose=0, report_only=True)
        print(f"-> {report}")
        return 0
    module.run(setup, out, report, verbose=0 if args.quiet else 1)
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


# --- parser --------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textrnn", description=__doc__)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    # -q is also accepted after the command name
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars")
    quiet.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[quiet], help=help, description=description or help)

    p = command("models", help="list the model zoo")
    p.set_defaults(func=cmd_models)

    p = command("summary", help="print a zoo model's or a saved run's Keras-style summary")
    p.add_argument("model", help="zoo name or RUN_DIR")
    _add_model_options(p)
    p.set_defaults(func=cmd_summary)

    p = command("train", help="train a zoo model; writes a run folder")
    p.add_argument("model", nargs="?", help="zoo name (see `textrnn models`)")
    p.add_argument("--out", help="run folder (default runs/MODEL-TIMESTAMP)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    _add_data_options(p)
    _add_train_options(p)
    _add_model_options(p)
    p.set_defaults(func=cmd_train)
    p.set_defaults(parser_defaults=vars(p.parse_args([])))  # --resume refuses options beside it

    p = command("evaluate", help="accuracy, loss, P/R/F1, ROC AUC, confusion matrix")
    p.add_argument("run_dir")
    _add_data_options(p, default=None)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_evaluate)

    p = command("predict", help="probability and label per text")
    p.add_argument("run_dir")
    p.add_argument("texts", nargs="*", help="texts to classify (else --file or standard input)")
    p.add_argument("--file", help="a .txt (one text per line) or .csv/.tsv file")
    p.add_argument("--text-column")
    p.add_argument("--encoding", default="utf-8")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = command("compare", help="train several models on the same data and seed")
    p.add_argument("models", nargs="+")
    p.add_argument("--out", help="folder for the runs, compare.md and val_accuracy.png")
    _add_data_options(p)
    _add_train_options(p)
    _add_model_options(p)
    p.set_defaults(func=cmd_compare)

    from textrnn.app.recipe import RecipeSettings

    defaults = RecipeSettings()
    p = command("recipe", help="the recommended classifier: word2vec + pooled Bi-GRU + NB linear head",
                description="word2vec on unlabelled + training text, a fine-tuned Bi-GRU pooled over "
                            "time trained in length buckets, blended with an NBSVM-style linear model; "
                            "writes a run folder that evaluate / predict / serve / export take. "
                            "Rerunning with the same --out resumes.")
    p.add_argument("--out", help="run folder (default runs/recipe-TIMESTAMP); an unfinished one resumes")
    _add_data_options(p, default="imdb")
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
            ("seed", int, "seed (word2vec's threads still vary its vectors between reruns)")]:
        dest = name.replace("-", "_")
        p.add_argument(f"--{name}", dest=dest, type=kind, help=f"{text} (default {getattr(defaults, dest)})")
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
    _add_data_options(p, default="imdb")
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

    p = command("import-keras", help="read a Keras 3 .keras file into a textrnn run folder")
    p.add_argument("path")
    p.add_argument("--out", required=True, help="RUN_DIR to write (the model goes to RUN_DIR/model)")
    p.add_argument("--vocab", help="attach a vocabulary (imdb, sample, or a vocab.json) to predict on text")
    p.set_defaults(func=cmd_import_keras)

    p = command("export", help="write a run's model as a Keras 3 .keras file or an ONNX graph")
    p.add_argument("run_dir")
    p.add_argument("--format", required=True, choices=["keras", "onnx"])
    p.add_argument("--out", required=True)
    p.add_argument("--fixed-length", action="store_true", help="onnx: fix the sequence length")
    p.set_defaults(func=cmd_export)

    p = command("serve", help="serve a run's model over HTTP (predict, explain, a web page)")
    p.add_argument("run_dir")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=cmd_serve)

    p = command("explain", help="show how the model reads a text, word by word")
    p.add_argument("run_dir")
    p.add_argument("text", nargs="+")
    p.add_argument("--method", choices=["running", "occlusion"],
                   help="running: P after each word (unidirectional models, the default there); "
                        "occlusion: P change when a word is removed (any model)")
    p.add_argument("--html", help="also write a shaded HTML view to this file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)

    p = command("experiment", help="the lecture's four claims, the pretraining study, or the few-labels "
                                   "study; writes a report")
    p.add_argument("name", choices=["lecture", "pretraining", "small-data"])
    p.add_argument("--encoder", metavar="ENC_DIR",
                   help="small-data: the pretrained encoder (default runs/encoder-imdb)")
    p.add_argument("--quick", action="store_true", help="the same pipeline on the embedded sample")
    p.add_argument("--data", choices=["imdb", "sample"], help="default imdb; sample with --quick")
    p.add_argument("--seeds", type=int, help="seeds per setting (default 3)")
    p.add_argument("--sizes", type=int, nargs="+", help="training-set sizes n for claims 3 and 4")
    p.add_argument("--full", type=int, help="the n that means all training reviews (default 25000)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--maxlen", type=int)
    p.add_argument("--units", type=int)
    p.add_argument("--vocab-size", type=int)
    p.add_argument("--models", nargs="+", help="pretraining: zoo models (default bi-lstm lstm)")
    p.add_argument("--methods", nargs="+", choices=["word2vec", "lm"], help="pretraining: methods")
    p.add_argument("--lm-minutes", type=float, help="pretraining: the language model's time budget")
    p.add_argument("--report-only", action="store_true",
                   help="pretraining: write the report from the runs finished so far, train nothing")
    p.add_argument("--out", help="folder of the cached runs (default runs/NAME)")
    p.add_argument("--report", help="markdown report (default docs/LECTURE.md or docs/PRETRAINING.md)")
    p.set_defaults(func=cmd_experiment)

    p = command("demo", help="train a lecture model on the embedded sample (about 2 minutes)")
    p.add_argument("--model", default="bi-lstm")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--maxlen", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/demo")
    p.set_defaults(func=cmd_demo)
    return parser


def _one_line(exc: BaseException) -> str | None:
    """The one-line message of a failure the user can act on (bad input or options, a damaged
    or unreadable file, too little memory), or None for an unexpected error: a bug."""
    from safetensors import SafetensorError

    if isinstance(exc, TextRNNError):
        return str(exc)
    if isinstance(exc, SafetensorError):
        return f"damaged weights file ({exc}); retrain or restore the run"
    if isinstance(exc, MemoryError):
        return "out of memory (a file declares more data than fits; is it damaged?)"
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        return f"{exc.filename}: {exc.strerror.lower() if exc.strerror else exc}"
    if isinstance(exc, OSError):
        return f"{getattr(exc, 'filename', None) or 'file'}: {exc.strerror or exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"input is not valid {exc.encoding} (byte {exc.start}); pass --encoding"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("textrnn: interrupted; a training run continues with `textrnn train --resume RUN_DIR`",
              file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        message = _one_line(exc)
        if message is None:
            print(f"textrnn: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the "
                  "traceback, and please report it)", file=sys.stderr)
            return 1
        print(f"textrnn: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
