import json
import os
import signal
import subprocess
import sys

from conftest import TRAINER_DIR, make_config
from ferops_trainer.checkpoint import load_checkpoint


def test_when_sigterm_arrives_mid_training_then_a_checkpoint_is_written_and_exit_code_is_75(small_dataset, tmp_path):
    out = tmp_path / "out"
    cfg_path = tmp_path / "cfg.json"
    # Many epochs: the run is certainly still training when the signal lands.
    cfg_path.write_text(json.dumps(make_config(small_dataset, str(out), train={"epochs": 200})))
    proc = subprocess.Popen([sys.executable, "-m", "ferops_trainer", "--config", str(cfg_path)], cwd=TRAINER_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        events = []
        for line in proc.stdout:  # wait until training is really under way
            events.append(json.loads(line))
            if events[-1]["event"] == "step":
                break
        proc.send_signal(signal.SIGTERM)
        events += [json.loads(line) for line in proc.stdout]
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 75
    last = str(out / "checkpoints" / "last.pt")
    assert events[-1] == {"event": "interrupted", "checkpoint": last}
    assert events[-2]["event"] == "checkpoint" and events[-2]["path"] == last
    ckpt = load_checkpoint(last)  # complete and verifiable, not a half-written file
    assert ckpt["loop"]["step"] == events[-2]["step"] >= 1
    assert ckpt["run_config"]["train"]["epochs"] == 200
    assert ckpt["label2id"]["happy"] == 3 and ckpt["id2label"]["6"] == "neutral"
    assert not any(name.startswith("last.pt.tmp") for name in os.listdir(out / "checkpoints"))
