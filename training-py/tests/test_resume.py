"""Resume: an interrupted-then-resumed run must end with exactly the parameters of an uninterrupted one."""

import os

import pytest
import torch

from conftest import make_config
from ferops_trainer.checkpoint import load_checkpoint, save_checkpoint
from ferops_trainer.config import parse_config
from ferops_trainer.errors import EXIT_INTERRUPTED, TrainerError
from ferops_trainer.events import EventCollector
from ferops_trainer.run import run

# Augmentation and mixup on, so the test also covers the generator states, not just data order; grad_accum
# 2 so that an interruption inside an epoch must also restore the accumulation boundary.
TRAIN = {"epochs": 3, "batch_size": 32, "grad_accum": 2, "mixup": 0.2, "augment": {"enabled": True}}


def config(dataset, out, **train):
    return parse_config(make_config(dataset, str(out), train={**TRAIN, **train}))


def stop_after(n_checks):
    calls = [0]

    def should_stop():
        calls[0] += 1
        return calls[0] > n_checks
    return should_stop


def params(path):
    return load_checkpoint(path)["model_state"]


@pytest.fixture(scope="module")
def uninterrupted(small_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    events = EventCollector()
    assert run(config(small_dataset, out), events) == 0
    return os.path.join(out, "checkpoints", "last.pt"), events


# 320 images / batch 32 = 10 micro-batches = 5 optimizer steps per epoch; should_stop is consulted once before
# each epoch and after every optimizer step. 6 checks: stop after the last step of epoch 1, before its
# validation; 8: after step 1 of epoch 2; 14: after step 2 of epoch 3.
@pytest.mark.parametrize("checks", [6, 8, 14])
def test_when_interrupted_and_resumed_then_parameters_equal_the_uninterrupted_run(
        small_dataset, tmp_path, uninterrupted, checks):
    events = EventCollector()
    code = run(config(small_dataset, tmp_path), events, should_stop=stop_after(checks))
    assert code == EXIT_INTERRUPTED
    last = os.path.join(tmp_path, "checkpoints", "last.pt")
    assert events.events[-1] == {"event": "interrupted", "checkpoint": last}
    assert events.of("checkpoint")[-1]["path"] == last

    ckpt_epochs = load_checkpoint(last)["loop"]["epochs_completed"]

    resumed = EventCollector()
    assert run(config(small_dataset, tmp_path), resumed, resume=last) == 0
    assert resumed.of("start")[0]["resumed_from_epoch"] == ckpt_epochs
    epochs_before = [e["epoch"] for e in events.of("epoch")]
    assert epochs_before + [e["epoch"] for e in resumed.of("epoch")] == [1, 2, 3]

    full_path, full_events = uninterrupted
    expected, got = params(full_path), params(last)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    assert resumed.of("epoch")[-1]["val_accuracy"] == full_events.of("epoch")[-1]["val_accuracy"]
    assert resumed.of("test")[0]["confusion"] == full_events.of("test")[0]["confusion"]


def test_when_checkpoint_is_corrupt_then_resume_refuses_before_training(small_dataset, uninterrupted, tmp_path):
    damaged = tmp_path / "last.pt"
    blob = bytearray(open(uninterrupted[0], "rb").read())
    blob[-50] ^= 0xFF
    damaged.write_bytes(bytes(blob))
    events = EventCollector()
    with pytest.raises(TrainerError, match="corrupt checkpoint") as info:
        run(config(small_dataset, tmp_path / "out"), events, resume=str(damaged))
    assert info.value.code == "bad_config" and events.events == []


def test_when_checkpoint_model_differs_from_config_then_resume_refuses(small_dataset, uninterrupted, tmp_path):
    cfg = config(small_dataset, tmp_path)
    cfg.model.image_size = 48
    with pytest.raises(TrainerError, match="resume with the same model settings"):
        run(cfg, EventCollector(), resume=uninterrupted[0])


def test_when_checkpoint_comes_from_another_dataset_then_resume_refuses(small_dataset, uninterrupted, tmp_path):
    payload = load_checkpoint(uninterrupted[0])
    payload["dataset_fingerprint"] = "other"
    other = save_checkpoint(str(tmp_path / "other.pt"), payload)
    with pytest.raises(TrainerError, match="different dataset"):
        run(config(small_dataset, tmp_path / "out"), EventCollector(), resume=other)


def test_when_checkpoint_rng_comes_from_another_device_type_then_resume_reseeds_and_finishes(
        small_dataset, uninterrupted, tmp_path):
    payload = load_checkpoint(uninterrupted[0])
    payload["rng"]["augment_device"] = "cuda"
    payload["rng"]["augment"] = torch.zeros(16, dtype=torch.uint8)  # a philox-sized state
    payload["loop"]["epochs_completed"], payload["loop"]["step"] = 2, 10
    moved = save_checkpoint(str(tmp_path / "moved.pt"), payload)
    events = EventCollector()
    assert run(config(small_dataset, tmp_path / "out"), events, resume=moved) == 0
    assert [e["epoch"] for e in events.of("epoch")] == [3]
