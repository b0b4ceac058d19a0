"""Exceptions raised by textrnn. Only the CLI turns them into exit codes."""


class TextRNNError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class DataError(TextRNNError):
    """Input data is missing, malformed or inconsistent (names the file and record)."""


class ConfigError(TextRNNError):
    """A layer, model or option was given a value it cannot use (names the valid ones)."""


class NotBuiltError(TextRNNError):
    """A model or layer was used before its weights exist."""
