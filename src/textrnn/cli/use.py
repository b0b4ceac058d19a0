"""`textrnn models`, `summary`, `evaluate`, `predict`, `explain`, `serve`, `export`, `import-keras`:
the commands that read or use a model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from textrnn.app import zoo
from textrnn.app.runs import TrainSettings, load_run_model
from textrnn.cli.options import (
    add_data_options,
    add_model_options,
    settings_given,
)
from textrnn.errors import TextRNNError


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
        shape = TrainSettings(model=args.model, **settings_given(args, TrainSettings))
        config = zoo.ZooConfig(vocab_size=shape.vocab_size, embedding_dim=shape.embedding_dim,
                               maxlen=shape.maxlen, units=shape.units, layers=shape.layers,
                               dropout=shape.dropout)
        model = zoo.build(args.model, config)
    model.summary()
    if model.length_buckets:
        print(" Runs in length buckets: batches of near-equal review lengths, padding skipped")
    members, head = getattr(model, "members", []), getattr(model, "linear_head", None)
    if members:
        print(f" Ensemble: the average of {1 + len(members)} networks of this architecture "
              f"(this table is the first; {sum(m.count_params() for m in members):,} more params)")
    if head is not None:
        print(f" Linear head: NB log-count-ratio logistic regression on 1-{head.ngrams} grams "
              f"({2 ** head.bits:,} hashed weights), blended with weight {model.linear_blend:.2f}")
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


def cmd_serve(args: argparse.Namespace) -> int:
    from textrnn.app.serve import serve

    if not 0 <= args.port <= 65535:
        raise TextRNNError(f"--port must be between 0 and 65535, got {args.port}")
    if args.workers < 1:
        raise TextRNNError(f"--workers must be at least 1, got {args.workers}")
    serve(args.run_dir, host=args.host, port=args.port, workers=args.workers)
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
    members = getattr(model, "members", [])
    left_out = [f"{len(members)} other networks"] if members else []
    left_out += ["NB linear head"] if getattr(model, "linear_head", None) is not None else []
    if left_out and args.format == "keras":  # an ONNX graph holds the whole model
        print(f"note: left out of the exported file: the model's {' and '.join(left_out)}; its "
              "predictions are the first network's alone")
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


def register(command) -> None:
    """Add this module's commands to the parser (`command(name, help=...)` makes one)."""
    p = command("models", help="list the model zoo")
    p.set_defaults(func=cmd_models)

    p = command("summary", help="print a zoo model's or a saved run's Keras-style summary")
    p.add_argument("model", help="zoo name or RUN_DIR")
    add_model_options(p)
    p.set_defaults(func=cmd_summary)

    p = command("evaluate", help="accuracy, loss, P/R/F1, ROC AUC, confusion matrix")
    p.add_argument("run_dir")
    add_data_options(p, default=None)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_evaluate)

    p = command("predict", help="probability and label per text")
    p.add_argument("run_dir")
    p.add_argument("texts", nargs="*", help="texts to classify (else --file or standard input)")
    p.add_argument("--file", help="a .txt (one text per line), .jsonl (one record per line) or "
                                   ".csv/.tsv file")
    p.add_argument("--text-column")
    p.add_argument("--encoding", default="utf-8")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = command("explain", help="show how the model reads a text, word by word")
    p.add_argument("run_dir")
    p.add_argument("text", nargs="+")
    p.add_argument("--method", choices=["running", "occlusion"],
                   help="running: P after each word (unidirectional models, the default there); "
                        "occlusion: P change when a word is removed (any model)")
    p.add_argument("--html", help="also write a shaded HTML view to this file")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)

    p = command("serve", help="serve a run's model over HTTP (predict, explain, a web page)")
    p.add_argument("run_dir")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=cmd_serve)

    p = command("export", help="write a run's model as a Keras 3 .keras file or an ONNX graph")
    p.add_argument("run_dir")
    p.add_argument("--format", required=True, choices=["keras", "onnx"])
    p.add_argument("--out", required=True)
    p.add_argument("--fixed-length", action="store_true", help="onnx: fix the sequence length")
    p.set_defaults(func=cmd_export)

    p = command("import-keras", help="read a Keras 3 .keras file into a textrnn run folder")
    p.add_argument("path")
    p.add_argument("--out", required=True, help="RUN_DIR to write (the model goes to RUN_DIR/model)")
    p.add_argument("--vocab", help="attach a vocabulary (imdb, sample, or a vocab.json) to predict on text")
    p.set_defaults(func=cmd_import_keras)
