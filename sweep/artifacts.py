"""Atomic writes: every file appears whole under its name or not at all.

Each writer writes to a temporary name in the same folder, then renames it (`os.replace` is
atomic on one file system), so a trial killed mid-write never leaves a half file that looks whole.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np


@contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` (same suffix); rename it onto `path` on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with atomic(path) as tmp:
        tmp.write_text(text)


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_plain) + "\n")


def write_npz(path: Path, **arrays: Any) -> None:
    with atomic(path) as tmp:
        np.savez(tmp, **arrays)


def digest(path: Path) -> str:
    """The BLAKE2b digest of a file: tells a whole copy from a torn or stale one."""
    with open(path, "rb") as src:
        return hashlib.file_digest(src, "blake2b").hexdigest()


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as plain JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
