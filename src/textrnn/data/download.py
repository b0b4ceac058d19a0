"""Download a file with a progress bar, verify its checksum, and move it into place atomically:
a failed or partial download leaves nothing that a later run would trust."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from textrnn.errors import DataError


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest: str | os.PathLike, checksum: tuple[str, str] | None = None,
             quiet: bool = False, timeout: float = 60.0) -> Path:
    """Fetch `url` to `dest`. `checksum` is (algorithm, hex digest), e.g. ("md5", "7c2a...")."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        h = hashlib.new(checksum[0]) if checksum else None
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {dest.name}",
                      disable=quiet) as bar:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    if h:
                        h.update(block)
                    bar.update(len(block))
            if total is not None and out.tell() != total:
                raise DataError(f"{url}: download incomplete ({out.tell()} of {total} bytes)")
        if h and h.hexdigest() != checksum[1]:
            raise DataError(f"{url}: {checksum[0]} checksum mismatch (got {h.hexdigest()}, "
                            f"expected {checksum[1]}); the file was discarded")
        os.replace(tmp, dest)
        return dest
    except OSError as exc:  # URLError and socket errors are OSErrors
        raise DataError(f"{url}: download failed ({exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
