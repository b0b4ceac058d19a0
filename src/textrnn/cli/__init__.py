"""`textrnn ...`: the command line (textrnn.cli.main). Errors become one line and exit code 2."""

from textrnn.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
