"""Atomic, checksummed checkpoint files.

Layout: b"FEROPS-CKPT-1\n" + sha256(payload) as 64 hex chars + b"\n" + payload, where payload is a plain
`torch.save` of a dict. The checksum catches truncation and bit rot that torch.load may not notice (it does
not verify zip CRCs), so a damaged file is reported instead of silently resuming from garbage.
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any

import torch

from .errors import bad_config

MAGIC = b"FEROPS-CKPT-1\n"
_DIGEST_LEN = 64


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(path: str, payload: dict[str, Any]) -> str:
    """Writes `payload` to `path` durably (tmp file, fsync, rename, fsync dir); returns the absolute path."""
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    buf = io.BytesIO()
    torch.save(payload, buf)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest().encode("ascii")
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(MAGIC + digest + b"\n")
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # atomic: a reader sees the old file or the new one, never half of one
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _fsync_dir(directory)
    return path


def load_checkpoint(path: str) -> dict[str, Any]:
    """Reads and verifies a checkpoint; a missing, foreign or damaged file raises bad_config, never loads."""
    try:
        with open(path, "rb") as fh:
            blob = fh.read()
    except OSError as exc:
        raise bad_config(f"cannot read checkpoint {path}: {exc.strerror}") from None
    header_len = len(MAGIC) + _DIGEST_LEN + 1
    if not blob.startswith(MAGIC) or len(blob) < header_len or blob[header_len - 1:header_len] != b"\n":
        raise bad_config(f"corrupt checkpoint {path}: not a ferops checkpoint (bad header); "
                         "resume from another checkpoint or start without --resume")
    expected = blob[len(MAGIC):len(MAGIC) + _DIGEST_LEN].decode("ascii", errors="replace")
    data = blob[header_len:]
    if hashlib.sha256(data).hexdigest() != expected:
        raise bad_config(f"corrupt checkpoint {path}: checksum mismatch (truncated or damaged file); "
                         "resume from another checkpoint or start without --resume")
    try:
        # weights_only: a checkpoint is data, never code to execute.
        payload = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for unreadable archives
        raise bad_config(f"corrupt checkpoint {path}: torch.load failed: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != "ferops-trainer-checkpoint":
        raise bad_config(f"checkpoint {path} was not written by ferops_trainer")
    return payload
