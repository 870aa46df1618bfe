"""Model artefacts on disk: atomic, checksummed writes and verified, pickle-safe reads.

A weights file is written to a temporary file in the destination directory, flushed and
fsynced, then moved into place with ``os.replace`` (atomic on POSIX) and the directory is
fsynced, so a crash leaves either the previous file or the complete new one, never a torn
one. The sha256 returned by :func:`save_weights_atomic` is the digest of the bytes on disk and
is what a registry stores; :func:`load_weights` checks it before unpickling anything and then
unpickles with ``weights_only=True`` from the very bytes it checked.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20


class CorruptWeightsError(Exception):
    """The file does not match its registered sha256 (truncated, altered or wrong file)."""


class UnsafeWeightsError(CorruptWeightsError):
    """The file holds objects that the ``weights_only`` unpickler refuses (e.g. code)."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_weights_atomic(state: dict[str, Any], path: Path) -> str:
    """Write ``state`` to ``path`` atomically and return the sha256 of the written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp's 0600 would hide it from other readers
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        digest = sha256_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    logger.info("wrote weights %s sha256=%s", path.name, digest)
    return digest


def load_weights(path: Path, *, expected_sha256: str) -> dict[str, Any]:
    """Load a checkpoint dict after verifying its sha256; never executes pickled code."""
    data = Path(path).read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, expected_sha256.lower()):
        raise CorruptWeightsError(
            f"{Path(path).name}: sha256 {actual} does not match the registered {expected_sha256}"
        )
    try:
        state = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        raise UnsafeWeightsError(f"{Path(path).name}: refused by the weights-only loader") from exc
    except (RuntimeError, EOFError, ValueError) as exc:
        raise CorruptWeightsError(f"{Path(path).name}: not a readable checkpoint") from exc
    if not isinstance(state, dict):
        raise CorruptWeightsError(f"{Path(path).name}: checkpoint is not a dict")
    return state


def load_training_state(path: Path) -> dict[str, Any] | None:
    """The training state an earlier attempt wrote to ``path``; None if absent or unreadable.

    It is the job's own working file (written with :func:`save_weights_atomic`, so never torn),
    not a registered artefact: there is no sha256 to check, and an unreadable file only means
    that training starts over. It is unpickled with ``weights_only=True`` all the same.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError):
        logger.warning("training state %s is unreadable; starting over", path.name)
        return None
    return state if isinstance(state, dict) else None
