"""`textrnn experiment`: the studies that write a report under docs/."""

from __future__ import annotations

import argparse
from pathlib import Path

from textrnn.errors import TextRNNError


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


def register(command) -> None:
    """Add this module's commands to the parser (`command(name, help=...)` makes one)."""
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
