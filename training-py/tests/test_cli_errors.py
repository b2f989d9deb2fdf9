"""Failures reach the activity as one `error` event and an exit code that says whether a retry can help."""

import json
import subprocess
import sys

import pytest
import torch

from conftest import TRAINER_DIR, make_config, run_cli
from ferops_trainer.config import parse_config
from ferops_trainer.errors import TrainerError
from ferops_trainer.events import EventCollector
from ferops_trainer.run import run


def test_when_config_has_an_unknown_key_then_error_event_bad_config_and_exit_2(small_dataset, tmp_path):
    code, events, _ = run_cli({**make_config(small_dataset, str(tmp_path)), "learning_rate": 1}, tmp_path)
    assert code == 2
    assert events == [{"event": "error", "code": "bad_config", "message": events[0]["message"]}]
    assert "learning_rate" in events[0]["message"]


def test_when_command_line_is_wrong_then_error_event_bad_config_and_exit_2(tmp_path):
    code, events, _ = run_cli({}, tmp_path, "--bogus")
    assert code == 2 and events[-1]["code"] == "bad_config"


def test_when_dataset_is_missing_then_error_event_bad_dataset_and_exit_2(tmp_path):
    code, events, _ = run_cli(make_config(str(tmp_path / "none"), str(tmp_path / "out")), tmp_path)
    assert code == 2 and events[-1]["event"] == "error" and events[-1]["code"] == "bad_dataset"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_when_cuda_is_requested_without_a_gpu_then_error_event_no_gpu_and_exit_2(small_dataset, tmp_path):
    code, events, _ = run_cli(make_config(small_dataset, str(tmp_path), device="cuda"), tmp_path)
    assert code == 2 and events[-1]["code"] == "no_gpu" and "device=cpu" in events[-1]["message"]


def test_when_parity_gate_fails_then_parity_event_is_false_and_parity_failed_is_raised(small_dataset, tmp_path):
    cfg = parse_config(make_config(small_dataset, str(tmp_path), train={"epochs": 1}, export={"parity_atol": 1e-12}))
    events = EventCollector()
    with pytest.raises(TrainerError, match="parity gate") as info:
        run(cfg, events)
    assert info.value.code == "parity_failed" and info.value.exit_code == 3
    assert events.of("parity")[0]["passed"] is False and events.of("artifact") == [] and events.of("done") == []


def test_when_an_unexpected_exception_escapes_then_error_event_internal_and_exit_1(small_dataset, tmp_path):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(make_config(small_dataset, str(tmp_path))))
    script = ("import sys, ferops_trainer.run as r\n"
              "def boom(*a, **k): raise RuntimeError('disk on fire')\n"
              "r.run = boom\n"
              "from ferops_trainer.cli import main\n"
              f"sys.exit(main(['--config', {str(cfg)!r}]))\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=TRAINER_DIR, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert [json.loads(line) for line in proc.stdout.splitlines()] == [
        {"event": "error", "code": "internal", "message": "RuntimeError: disk on fire"}]
    assert "Traceback" in proc.stderr
