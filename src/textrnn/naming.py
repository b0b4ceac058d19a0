"""Keras's default names for layers and models (lstm, lstm_1, ...), counted process-wide, and
`clear_session`, which restarts the counts as Keras's does."""

from __future__ import annotations

import re
from collections import defaultdict

_name_counts: defaultdict[str, int] = defaultdict(int)


def snake_case(class_name: str) -> str:
    """Keras's to_snake_case: SimpleRNN -> simple_rnn, BinaryCrossentropy -> binary_crossentropy."""
    base = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", class_name))
    return re.sub("([a-z])([A-Z])", r"\1_\2", base).lower()


def auto_name(class_name: str) -> str:
    """Keras's unique default names: lstm, lstm_1, lstm_2, ... per class, process-wide."""
    base = snake_case(class_name)
    count = _name_counts[base]
    _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def clear_session() -> None:
    """Restart default layer names, as `keras.backend.clear_session()` does."""
    _name_counts.clear()


reset_names = clear_session
