"""The GPU throughput benchmark must keep working where CI runs it: on CPU, with the tiny model."""
import json
import os
import subprocess
import sys

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "gpu_train_throughput.py")


def test_when_run_on_cpu_with_the_tiny_model_then_it_reports_both_loops_and_their_ratio():
    out = subprocess.run([sys.executable, BENCH, "--device", "cpu", "--steps", "2", "--warmup", "1"],
                         cwd=os.path.join(os.path.dirname(__file__), ".."), capture_output=True, text=True,
                         timeout=300, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["device"] == "cpu" and result["size"] == "tiny"
    assert result["hf_fp32_eager_images_per_s"] > 0 and result["ferops_images_per_s"] > 0
    assert abs(result["speedup"] - result["ferops_images_per_s"] / result["hf_fp32_eager_images_per_s"]) < 0.01
