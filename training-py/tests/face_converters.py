"""Loads the face-net converters of infra/face-detector (scripts, not a package) for their tests."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONVERTER_DIR = REPO / "infra" / "face-detector"
# Where infra/bootstrap.sh keeps the wheels it fetches for the converters (lib/paths.ts: faceNetFile).
FACE_NET_CACHE = Path(os.environ.get("FEROPS_CACHE_DIR", Path.home() / ".cache" / "ferops")) / "face-detector"


def load_converter(name: str):
    """infra/face-detector/<name>.py as a module; its sibling convert.py is importable while it loads."""
    sys.path.insert(0, str(CONVERTER_DIR))
    try:
        spec = importlib.util.spec_from_file_location(name, CONVERTER_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(CONVERTER_DIR))
