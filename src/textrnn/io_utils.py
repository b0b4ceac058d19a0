"""Atomic writes: a crash never leaves a half-written file or folder where a good one was."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textrnn.errors import ConfigError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    if path.is_dir():  # (os.replace would fail half-way; a folder is never silently replaced)
        raise ConfigError(f"{path}: is a folder, and this writes a file there; give another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def atomic_write_dir(path: str | os.PathLike, fill: Callable[[Path], None]) -> None:
    """Create folder `path` by calling fill(tmp_folder) and renaming it into place.
    An existing folder at `path` is replaced only once the new one is complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        fill(tmp)
        settle_dir(path)
        if path.exists():
            old = _old_of(path)
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _old_of(path: Path) -> Path:
    return path.with_name(f".{path.name}.old")


def settle_dir(path: str | os.PathLike) -> Path:
    """Finish what a crash between atomic_write_dir's two renames left undone: the folder is missing
    and its previous version waits under `.NAME.old`; move it back. Loaders call this first."""
    path = Path(path)
    old = _old_of(path)
    if not path.exists() and old.is_dir():
        os.replace(old, path)
    return path


def is_own_temp(name: str) -> bool:
    """A name atomic_write_* gives its temporary files and folders (`.NAME.XXXX.tmp`, `.NAME.old`)."""
    return name.startswith(".") and (name.endswith(".tmp") or name.endswith(".old"))


def foreign_entries(path: str | os.PathLike, owned: set[str]) -> list[str]:
    """The names in folder `path` that are neither in `owned` nor textrnn's temporary files."""
    path = Path(path)
    if not path.is_dir():
        return []
    return sorted(p.name for p in path.iterdir() if p.name not in owned and not is_own_temp(p.name))


def check_output_dir(path: str | os.PathLike, owned: set[str], marker: str | None = None,
                     option: str = "--out") -> Path:
    """The one output-folder policy: `path` may be new, empty, or hold only this command's own
    outputs (`owned`), among them its `marker` file (e.g. a run's run.json: the proof that textrnn
    made the folder); a file, or a folder holding anything else, is refused so that nothing textrnn
    did not write is ever replaced or deleted."""
    from textrnn.errors import ConfigError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: is a file; give a folder")
    foreign = foreign_entries(path, owned)
    if not foreign and marker is not None and not (path / marker).is_file():
        foreign = foreign_entries(path, set())  # outputs' names, but no sign that textrnn wrote them
    if foreign:
        shown = ", ".join(foreign[:4]) + (f" and {len(foreign) - 4} more" if len(foreign) > 4 else "")
        raise ConfigError(f"{option} {path}: holds files textrnn did not write ({shown}); "
                          "give a new or empty folder")
    return path


def remove_owned(path: str | os.PathLike, owned: set[str]) -> None:
    """Delete the `owned` entries of folder `path` (and textrnn's temporary files), nothing else."""
    path = Path(path)
    for entry in list(path.iterdir()) if path.is_dir() else []:
        if entry.name in owned or is_own_temp(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
