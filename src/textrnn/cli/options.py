"""Option groups shared by the commands that train, and the settings they make."""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from typing import Any

from textrnn.errors import TextRNNError

_TYPES = {"int": int, "float": float, "str": str}


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
    """The model's shape: TrainSettings' fields of the group "model" (the lecture's values by default)."""
    from textrnn.app.runs import TrainSettings

    add_settings_options(p.add_argument_group("model shape (the lecture's values by default)"),
                         TrainSettings, group="model")


def add_train_options(p: argparse.ArgumentParser) -> None:
    """How a run trains: TrainSettings' other fields with a flag."""
    from textrnn.app.runs import TrainSettings

    add_settings_options(p, TrainSettings, group=None)
    p.add_argument("--finetune-embedding", action="store_true",
                   help="with --embedding: train it further (the default)")


def options_given(args: argparse.Namespace, defaults: dict, keep: set[str]) -> list[str]:
    """The options whose value differs from the command's default (those the user gave)."""
    return sorted(k for k, v in vars(args).items()
                  if k in defaults and k not in keep and v != defaults[k])


def train_settings(args: argparse.Namespace, model: str):
    from textrnn.app.runs import TrainSettings

    if args.freeze_embedding and args.finetune_embedding:
        raise TextRNNError("give --freeze-embedding or --finetune-embedding, not both")
    return TrainSettings(model=model, **data_options(args), **settings_given(args, TrainSettings))


def add_settings_options(p: Any, settings: type, group: str | None | bool = False) -> None:
    """One flag per field of a settings dataclass made with textrnn.setting.setting (only those of
    `group`, unless group is False): --name (or the field's `flag`) of the field's type, its default
    shown; a bool flag turns its default around. Each flag's value is None unless given, so
    settings_given passes on only what the user gave."""
    for f in fields(settings):
        if "help" not in f.metadata or (group is not False and f.metadata.get("group") != group):
            continue
        meta, default = f.metadata, f.default
        flag = meta.get("flag", f"--{f.name.replace('_', '-')}")
        kind = str(f.type).replace(" | None", "")
        if kind == "bool":
            p.add_argument(flag, dest=f.name, action="store_false" if default else "store_true",
                           default=None, help=meta["help"])
            continue
        shown = meta.get("default_help", "none" if default is None or default is MISSING else default)
        p.add_argument(flag, dest=f.name, type=_TYPES[kind], choices=meta.get("choices"),
                       metavar=meta.get("metavar"), required=meta.get("required", False),
                       help=meta["help"] if meta.get("required") else f"{meta['help']} (default {shown})")


def settings_given(args: argparse.Namespace, settings: type) -> dict[str, Any]:
    """The flags of a settings dataclass (add_settings_options) that the command line gave."""
    return {f.name: getattr(args, f.name) for f in fields(settings)
            if "help" in f.metadata and getattr(args, f.name, None) is not None}


def data_options(args: argparse.Namespace) -> dict[str, Any]:
    """What add_data_options read: the data, its test file, columns and encoding."""
    return {name: getattr(args, name) for name in ("data", "test_data", "text_column", "label_column",
                                                   "encoding")}
