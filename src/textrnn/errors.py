"""Exceptions raised by textrnn, and the option checks that raise them. Only the CLI turns them into
exit codes."""


class TextRNNError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class DataError(TextRNNError):
    """Input data is missing, malformed or inconsistent (names the file and record)."""


class ConfigError(TextRNNError):
    """A layer, model or option was given a value it cannot use (names the valid ones)."""


class NotBuiltError(TextRNNError):
    """A model or layer was used before its weights exist."""


def require_whole(options: dict[str, tuple[object, int]]) -> None:
    """Each option's value must be an integer (not a bool) of at least its least value."""
    for option, (value, least) in options.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"--{option} must be an integer >= {least}, got {value!r}")


def require_rate(option: str, value: float | None) -> None:
    """A learning rate (when given) must be positive and finite."""
    if value is not None and not 0 < value < float("inf"):
        raise ConfigError(f"--{option} must be positive and finite, got {value}")
