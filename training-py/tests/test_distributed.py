"""The trainer under torchrun with DistributedDataParallel: 2 processes on CPU with the gloo backend.

Two processes compute what one does up to float rounding (the gradient of a batch is summed from two halves, the
validation loss from two shards), so their final metrics agree within tolerances that allow for that rounding on
any CPU and seed: a few faces on a decision boundary may flip, and the loss may move orders of magnitude more than
rounding does (measured in training-py/README.md, "Several processes").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import SEED_OFFSET, TRAINER_DIR, make_config
from ferops_trainer.checkpoint import load_checkpoint
from ferops_trainer import distributed
from ferops_trainer.config import parse_config
from ferops_trainer.errors import EXIT_INTERRUPTED, TrainerError
from ferops_trainer.events import EventCollector
from ferops_trainer.run import run
from synthetic import write_dataset

NPROC = 2
VAL_FACES, TEST_FACES = 97, 96  # an odd validation split: the two shards differ in size
FLIPS = 3  # faces whose prediction may change side
# Far above float rounding, yet below what a rank weighing its share by sample count instead of class weight moves
# the loss (both measured in training-py/README.md, "Several processes").
LOSS_TOL = 3e-4
HANG_GUARD_S = 600  # only catches a hang: on a loaded 2-core machine a 2-process run can take minutes
# One thread per rank, and the same for the one-process reference: 2 ranks on a 2-core machine must not thrash.
SECTIONS = {"train": {"epochs": 2, "num_threads": 1}, "export": {"int8": False}}


def config(dataset: str, out, nproc: int = 1, **train) -> dict:
    cfg = make_config(dataset, str(out), nproc=nproc, **SECTIONS)
    cfg["train"].update(train)
    return cfg


def torchrun_argv(cfg: dict, tmp_path, *extra: str, script: tuple[str, ...] = ("-m", "ferops_trainer")) -> list[str]:
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={NPROC}", *script,
            "--config", str(path), *extra]


def torchrun(cfg: dict, tmp_path, *extra: str, **kw) -> tuple[int, list[dict], str]:
    """Runs the trainer as the activity does with nproc 2; returns (exit code, stdout events, stderr)."""
    env = {**os.environ, "PYTHONPATH": TRAINER_DIR}
    proc = subprocess.run(torchrun_argv(cfg, tmp_path, *extra, **kw), cwd=TRAINER_DIR, env=env, capture_output=True,
                          text=True, timeout=HANG_GUARD_S)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def of(events: list[dict], name: str) -> list[dict]:
    return [e for e in events if e["event"] == name]


def assert_same_metrics(got: list[dict], expected: list[dict]) -> None:
    """Every epoch `got` reports (train_loss included: a resumed epoch carries the checkpoint's partial sum) and
    the test split agree with the one-process run."""
    reference = {e["epoch"]: e for e in of(expected, "epoch")}
    for epoch in of(got, "epoch"):
        ref = reference[epoch["epoch"]]
        assert abs(epoch["val_accuracy"] - ref["val_accuracy"]) <= FLIPS / VAL_FACES, (epoch, ref)
        for key in ("val_loss", "train_loss"):
            assert abs(epoch[key] - ref[key]) <= LOSS_TOL, (key, epoch, ref)
    assert abs(of(got, "test")[0]["accuracy"] - of(expected, "test")[0]["accuracy"]) <= FLIPS / TEST_FACES


@pytest.fixture(scope="module")
def odd_dataset(tmp_path_factory) -> str:
    """321 training faces: with batch 32 the last batch holds one, so rank 1 gets an empty share of it."""
    return write_dataset(str(tmp_path_factory.mktemp("data") / "odd"), train=321, val=VAL_FACES, test=TEST_FACES,
                         seed=11 + SEED_OFFSET)


@pytest.fixture(scope="module")
def one_process(odd_dataset, tmp_path_factory) -> list[dict]:
    """The reference: the same config trained start to finish by one process."""
    events = EventCollector()
    assert run(parse_config(config(odd_dataset, tmp_path_factory.mktemp("one"))), events) == 0
    return events.events


def test_when_two_processes_resume_a_one_process_checkpoint_then_rank0_alone_reports_the_one_process_metrics(
        odd_dataset, tmp_path, one_process):
    out = tmp_path / "out"
    calls = [0]

    def stop_after_three_steps() -> bool:  # consulted before epoch 1, then after every optimizer step
        calls[0] += 1
        return calls[0] > 3

    cfg = config(odd_dataset, out, nproc=NPROC)
    assert run(parse_config(cfg), EventCollector(), should_stop=stop_after_three_steps) == EXIT_INTERRUPTED
    last = str(out / "checkpoints" / "last.pt")
    assert load_checkpoint(last)["loop"]["step"] == 3

    code, events, stderr = torchrun(cfg, tmp_path, "--resume", last)
    assert code == 0, stderr[-3000:]
    start = of(events, "start")
    assert len(start) == 1 and start[0]["world_size"] == NPROC and start[0]["resumed_from_epoch"] == 0
    # Rank 0 alone writes events: each epoch, checkpoint and the end are reported once.
    assert [e["epoch"] for e in of(events, "epoch")] == [1, 2]
    assert [e["epoch"] for e in of(events, "checkpoint")] == [1, 2]
    assert len(of(events, "test")) == 1 and len(of(events, "done")) == 1 and not of(events, "error")
    assert_same_metrics(events, one_process)
    ckpt = load_checkpoint(last)
    assert ckpt["loop"]["step"] == 22 and ckpt["run_config"]["nproc"] == NPROC
    assert not any(k.startswith("module.") for k in ckpt["model_state"])  # the bare model: any world size loads it


def test_when_sigterm_reaches_torchrun_then_rank0_checkpoints_and_one_process_resumes_to_the_same_metrics(
        odd_dataset, tmp_path, one_process):
    out = tmp_path / "out"
    cfg = config(odd_dataset, out, nproc=NPROC)
    # As the activity does: the launcher leads its own process group, which gets the SIGTERM.
    proc = subprocess.Popen(torchrun_argv(cfg, tmp_path), cwd=TRAINER_DIR, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        events = []
        for line in proc.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "step":  # training is under way
                break
        os.killpg(proc.pid, signal.SIGTERM)
        events += [json.loads(line) for line in proc.stdout]
        code = proc.wait(timeout=HANG_GUARD_S)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # torchrun reports a signalled run as 1; the activity reads the interruption from the events.
    assert code != 0
    last = str(out / "checkpoints" / "last.pt")
    assert events[-1] == {"event": "interrupted", "checkpoint": last}
    assert events[-2]["event"] == "checkpoint" and len(of(events, "interrupted")) == 1 and not of(events, "error")
    stopped_at = load_checkpoint(last)["loop"]
    assert stopped_at["epochs_completed"] < 2

    resumed = EventCollector()
    assert run(parse_config(config(odd_dataset, out)), resumed, resume=last) == 0
    assert resumed.of("start")[0]["resumed_from_epoch"] == stopped_at["epochs_completed"]
    assert [e["epoch"] for e in resumed.of("epoch")][-1] == 2
    assert_same_metrics(resumed.events, one_process)


def test_when_the_batch_cannot_be_split_among_the_processes_then_one_error_event_and_a_nonzero_exit(
        odd_dataset, tmp_path):
    code, events, _ = torchrun(config(odd_dataset, tmp_path / "out", batch_size=1), tmp_path)
    assert code != 0
    assert [e["event"] for e in events] == ["error"]
    assert events[0]["code"] == "bad_config" and "lower nproc" in events[0]["message"]


def test_when_one_rank_crashes_then_its_error_reaches_stdout_and_the_run_ends_without_hanging(odd_dataset, tmp_path):
    fault = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rank_fault.py")
    code, events, stderr = torchrun(config(odd_dataset, tmp_path / "out"), tmp_path, script=(fault,))
    assert code != 0
    errors = of(events, "error")
    assert errors, stderr[-3000:]
    assert errors[0]["code"] == "internal" and errors[0]["rank"] == 1 and "injected fault" in errors[0]["message"]
    assert not of(events, "done")


@pytest.mark.parametrize("n,world", [(97, 2), (5, 3), (1, 2), (0, 2)])
def test_when_a_split_is_sharded_then_every_item_goes_to_exactly_one_rank_in_near_equal_shares(n, world):
    shares = [range(n)[distributed.shard(n, distributed.Dist(rank=r, world_size=world))] for r in range(world)]
    assert sorted(i for share in shares for i in share) == list(range(n))
    assert max(map(len, shares)) - min(map(len, shares)) <= 1


def test_when_the_torchrun_environment_is_inconsistent_then_a_bad_config_error_names_it():
    assert distributed.from_env({}) == distributed.Dist()
    assert distributed.from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}).local_world_size == 2
    for env in ({"RANK": "2", "WORLD_SIZE": "2"}, {"WORLD_SIZE": "two"}, {"WORLD_SIZE": "0"}):
        with pytest.raises(TrainerError, match="WORLD_SIZE") as info:
            distributed.from_env(env)
        assert info.value.code == "bad_config"


def test_when_nproc_is_below_one_then_the_config_is_refused(tmp_path):
    with pytest.raises(TrainerError, match="nproc must be >= 1"):
        parse_config(config(str(tmp_path), tmp_path / "out", nproc=0))
