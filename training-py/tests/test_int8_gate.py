"""int8 is an optional variant: shipped when its agreement with fp32 is shown with confidence, else withheld
without failing the run. Only a broken fp32 export fails it (test_cli_errors)."""

import json
import os

import pytest

from conftest import make_config, run_cli
from ferops_trainer.export import agreement_lower_bound, judge_int8


@pytest.mark.parametrize("agree, n, low, high", [
    (31, 32, 0.86, 0.88),  # one image in 32 is 3 points: the bound says so
    (388, 400, 0.95, 0.955),
    (2000, 2000, 0.998, 1.0),
])
def test_when_agreement_is_bounded_then_the_wilson_bound_matches_its_closed_form(agree, n, low, high):
    assert low <= agreement_lower_bound(agree, n, 0.95) <= high


def test_when_more_images_agree_at_the_same_rate_then_the_bound_tightens_towards_the_rate():
    bounds = [agreement_lower_bound(97 * k, 100 * k, 0.95) for k in (1, 10, 100)]
    assert bounds == sorted(bounds) and bounds[-1] < 0.97 and agreement_lower_bound(0, 0, 0.95) == 0.0


def test_when_a_small_split_agrees_fully_then_it_still_cannot_show_98_percent():
    verdict = judge_int8(32, 32, 0.98, 0.95)
    assert not verdict.shipped and verdict.agreement == 1.0
    assert "32/32" in verdict.reason and "export.int8_min_agreement" in verdict.reason


def test_when_a_large_split_agrees_well_then_int8_ships():
    verdict = judge_int8(1995, 2000, 0.98, 0.95)
    assert verdict.shipped and verdict.reason == "" and verdict.lower_bound >= 0.98


def test_when_int8_misses_its_gate_then_the_run_succeeds_with_fp32_only(small_dataset, tmp_path):
    # No bound on a finite split reaches 1.0, so this gate withholds int8 on any CPU and at any seed.
    cfg = make_config(small_dataset, str(tmp_path / "out"), train={"epochs": 1}, export={"int8_min_agreement": 1.0})
    code, events, stderr = run_cli(cfg, tmp_path)
    assert code == 0, stderr[-2000:]
    [parity] = [e for e in events if e["event"] == "parity"]
    assert parity["passed"] and not parity["int8_shipped"] and parity["int8_samples"] == 96
    assert "below export.int8_min_agreement 100.00%" in parity["int8_withheld_reason"]
    kinds = [e["kind"] for e in events if e["event"] == "artifact"]
    assert "onnx_int8" not in kinds and "onnx" in kinds
    model_dir = os.path.join(tmp_path, "out", "model")
    assert os.path.exists(os.path.join(model_dir, "model.onnx"))
    assert not os.path.exists(os.path.join(model_dir, "model.int8.onnx"))
    with open(os.path.join(model_dir, "metrics.json"), encoding="utf-8") as fh:
        assert json.load(fh)["parity"]["int8_shipped"] is False
    assert events[-1]["event"] == "done"
