"""`setting()`: a field of a settings dataclass (TrainSettings, RecipeSettings, the pretraining
commands') that is also a command-line flag. The field holds the flag's help text, and
`cli.options.add_settings_options` makes the flag from the field's name, type and default, so a
setting is written down once."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(default: Any, help: str, **extra: Any) -> Any:
    """A field with its flag's help. `extra`: `flag` renames the flag (a bool's --no-NAME),
    `choices` limits it, `required` makes it one the command cannot do without, `metavar` names its
    value, `group` puts it among a command's named option groups, and `default_help` says the
    default where None means something of its own."""
    return field(default=default, metadata={"help": help, **extra})
