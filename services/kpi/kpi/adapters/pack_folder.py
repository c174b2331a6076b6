"""The folder scheduled board packs are written into: each file appears whole or not at all (a
reader polling the folder, or a copy to the board's share, never sees half a pack)."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path


def pack_name(month: date, kind: str) -> str:
    return f"casetime-pack-{month:%Y-%m}.{kind}"


def write_whole(folder: Path, name: str, body: bytes) -> Path:
    """Write ``body`` to ``folder/name`` through a temporary file renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
