"""`textrnn ...`: thin subcommands over the library, one module per group of commands (runs, use,
pretraining, experiments). Errors become one line and exit code 2 (1 for an unexpected error;
`--debug` shows its traceback)."""

from __future__ import annotations

import argparse
import os
import sys

from textrnn.backend.device import ENV, resolve
from textrnn.cli import experiments, pretraining, runs, use
from textrnn.errors import TextRNNError
from textrnn.training import precision

DEVICE_HELP = ("where models train and predict: cpu, cuda, cuda:N or auto (default: $TEXTRNN_DEVICE, "
               "else auto: CUDA when there is one)")
PRECISION_HELP = ("mixed precision of the models made or loaded: bf16 or fp16 compute with float32 weights "
                  "(Keras's mixed_bfloat16 / mixed_float16, fp16 with loss scaling); pays on a GPU "
                  "(default: fp32)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textrnn", description=__doc__)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    parser.add_argument("--device", help=DEVICE_HELP)
    parser.add_argument("--precision", choices=tuple(precision.SHORT_NAMES), help=PRECISION_HELP)
    # -q, --debug, --device and --precision are also accepted after the command name
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars")
    quiet.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the full traceback of an error instead of one line")
    quiet.add_argument("--device", default=argparse.SUPPRESS, help=DEVICE_HELP)
    quiet.add_argument("--precision", choices=tuple(precision.SHORT_NAMES), default=argparse.SUPPRESS,
                       help=PRECISION_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, description: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[quiet], help=help, description=description or help)


    for module in (use, runs, pretraining, experiments):
        module.register(command)
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
    previous, previous_policy = os.environ.get(ENV), precision.global_policy()
    try:
        if args.device is not None:  # checked now, then read wherever a model is placed
            os.environ[ENV] = str(resolve(args.device))
        if args.precision is not None:  # the policy of every model this command makes or loads
            precision.set_global_policy(args.precision)
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
    finally:  # main() may run again in this process (tests, notebooks): leave the environment as it was
        precision.set_global_policy(previous_policy)
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous


if __name__ == "__main__":
    raise SystemExit(main())
