"""What Keras's configurable objects share (initializers, regularizers, learning-rate schedules,
losses, metrics): a config of their constructor's arguments, rebuilt by `from_config`, equal when
class and config are; saved as Keras saves them, `{"module", "class_name", "config",
"registered_name"}`, and read back from the classes a family knows, with a one-line error."""

from __future__ import annotations

from typing import Any

from textrnn.errors import ConfigError


class KerasObject:
    keras_module = "keras"  # the module Keras's serialised form names

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KerasObject:
        return cls(**config)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_config() == self.get_config()

    __hash__ = None  # equal by value, not kept in sets

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.get_config()})"


def serialize(obj: KerasObject) -> dict[str, Any]:
    return {"module": obj.keras_module, "class_name": type(obj).__name__, "config": obj.get_config(),
            "registered_name": None}


def deserialize(config: dict[str, Any], classes: dict[str, type], what: str) -> Any:
    """The object of one of `classes` that Keras's (or textrnn's) serialised `config` describes."""
    name = config.get("class_name")
    cls = classes.get(name)
    if cls is None:
        raise ConfigError(f"unknown {what} {name!r}; valid: {', '.join(sorted(classes))}")
    try:
        return cls.from_config(dict(config.get("config") or {}))
    except TypeError as exc:
        raise ConfigError(f"{what} {name}: {exc}") from None
