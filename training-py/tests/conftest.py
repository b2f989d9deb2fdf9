import json
import os
import subprocess
import sys

import pytest

from synthetic import write_dataset

TRAINER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every seed the tests use moves with FEROPS_SEED (default 0), so their numeric assertions can be checked at
# other seeds than the one they were written at: FEROPS_SEED=3 python -m pytest.
SEED_OFFSET = int(os.environ.get("FEROPS_SEED", "0"))

# Small and fast: a tiny ViT at 32 px (exercises the in-graph resize) on ~1k faces. Torch threads are capped
# so several test processes on a shared 2-core machine do not oversubscribe it.
FAST = {
    "seed": 7 + SEED_OFFSET,
    "model": {"base": "tiny", "image_size": 32, "patch_size": 8},
    "train": {"epochs": 2, "batch_size": 32, "lr": 0.002, "early_stop_patience": 0, "num_threads": 2,
              "augment": {"enabled": False}},
}


def make_config(dataset_dir: str, output_dir: str, **sections) -> dict:
    cfg = json.loads(json.dumps(FAST))
    cfg.update(dataset_dir=dataset_dir, output_dir=output_dir)
    for key, value in sections.items():
        if isinstance(value, dict):
            cfg.setdefault(key, {}).update(value)
        else:
            cfg[key] = value
    return cfg


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory) -> str:
    return write_dataset(str(tmp_path_factory.mktemp("data") / "small"), train=320, val=96, test=96, seed=3 + SEED_OFFSET)


@pytest.fixture(scope="session")
def learn_dataset(tmp_path_factory) -> str:
    return write_dataset(str(tmp_path_factory.mktemp("data") / "learn"), train=1400, val=350, test=350, seed=5 + SEED_OFFSET)


def run_cli(config: dict, tmp_path, *extra: str, timeout: float = 900) -> tuple[int, list[dict], str]:
    """Runs `python -m ferops_trainer` as the activity does; returns (exit code, parsed stdout events, stderr).
    The timeout only guards against a hang: runs that take ~20 s on a quiet machine took over 240 s at load 6."""
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config))
    proc = subprocess.run([sys.executable, "-m", "ferops_trainer", "--config", str(path), *extra],
                          cwd=TRAINER_DIR, capture_output=True, text=True, timeout=timeout)
    events = [json.loads(line) for line in proc.stdout.splitlines()]  # every stdout line must be JSON
    return proc.returncode, events, proc.stderr
