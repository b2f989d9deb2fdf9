"""One real CLI run shared by the protocol, learning, export and model-directory tests."""

import json
import os

import numpy as np
import onnxruntime as ort
import pytest

from conftest import SEED_OFFSET, make_config, run_cli

EVENT_FIELDS = {
    "start": {"device", "train_size", "val_size", "steps_per_epoch", "epochs", "resumed_from_epoch", "world_size",
              "config"},
    "step": {"epoch", "step", "loss", "lr"},
    "epoch": {"epoch", "epochs", "step", "train_loss", "val_loss", "val_accuracy", "lr", "images_per_s", "seconds"},
    "checkpoint": {"epoch", "step", "path"},
    "test": {"accuracy", "macro_f1", "per_class", "confusion"},
    "parity": {"fp32_max_abs_diff", "passed", "int8_top1_agreement", "int8_agreement_lower_bound", "int8_samples",
               "int8_shipped", "int8_withheld_reason"},
    "artifact": {"kind", "path"},
    "done": {"model_dir", "epochs_run", "best_val_accuracy", "test"},
}
EPOCHS = 6


@pytest.fixture(scope="module")
def finished_run(learn_dataset, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    # The default tiny model (48 px, patch 8). The int8 gate is opened (min agreement 0) so that this run ships
    # both files whatever the CPU's int8 kernels; whether int8 is withheld is test_int8_gate's subject.
    cfg = make_config(learn_dataset, str(tmp / "out"), model={"base": "tiny", "image_size": None, "patch_size": None},
                      train={"epochs": EPOCHS, "lr": 0.001}, export={"int8_min_agreement": 0.0})
    code, events, stderr = run_cli(cfg, tmp, "--set", "train.class_weights=true")
    assert code == 0, stderr[-3000:] + "\n" + "\n".join(json.dumps(e)[:300] for e in events if e["event"] != "step")
    return events, str(tmp / "out")


def of(events, name):
    return [e for e in events if e["event"] == name]


def test_when_run_completes_then_stdout_is_only_protocol_events_in_order(finished_run):
    events, _ = finished_run
    names = [e["event"] for e in events]
    assert names[0] == "start" and names[-1] == "done"
    assert set(names) <= set(EVENT_FIELDS)
    for e in events:
        assert EVENT_FIELDS[e["event"]] <= set(e), e
    order = [n for n in names if n not in ("step", "epoch", "checkpoint")]
    assert order == ["start", "test", "parity"] + ["artifact"] * 6 + ["done"]
    assert names.index("parity") < names.index("artifact")


def test_when_run_starts_then_start_event_carries_the_effective_config(finished_run):
    start = finished_run[0][0]
    assert start["device"] == "cpu" and start["resumed_from_epoch"] is None
    assert start["train_size"] == 1400 and start["val_size"] == 350 and start["epochs"] == EPOCHS
    assert start["steps_per_epoch"] == 44  # ceil(1400 / 32)
    assert start["config"]["train"]["class_weights"] is True and start["config"]["seed"] == 7 + SEED_OFFSET


def test_when_epochs_run_then_numbering_is_1_based_and_each_is_followed_by_a_durable_checkpoint(finished_run):
    events, out = finished_run
    epochs = of(events, "epoch")
    assert [e["epoch"] for e in epochs] == list(range(1, EPOCHS + 1))
    assert [e["step"] for e in epochs] == [44 * k for k in range(1, EPOCHS + 1)]
    checkpoints = of(events, "checkpoint")
    assert [c["epoch"] for c in checkpoints] == list(range(1, EPOCHS + 1))
    assert all(c["path"] == os.path.join(out, "checkpoints", "last.pt") for c in checkpoints)
    assert os.path.isfile(checkpoints[-1]["path"])
    assert all(e["images_per_s"] > 0 and e["seconds"] > 0 for e in epochs)


def test_when_trained_briefly_then_loss_falls_and_held_out_accuracy_clearly_beats_chance(finished_run):
    events, _ = finished_run
    epochs = of(events, "epoch")
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] - 0.1
    assert epochs[-1]["val_loss"] < epochs[0]["val_loss"]
    test = of(events, "test")[0]
    assert test["accuracy"] > 0.35, test  # chance is 1/7 = 0.14
    assert len(test["confusion"]) == 7 and sum(map(sum, test["confusion"])) == 350
    assert set(test["per_class"]) == {"angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"}
    done = of(events, "done")[0]
    assert done["test"]["accuracy"] == test["accuracy"] and done["epochs_run"] == EPOCHS
    assert done["best_val_accuracy"] == max(e["val_accuracy"] for e in epochs)


def test_when_exported_then_parity_passes_and_model_dir_holds_every_artifact(finished_run):
    events, out = finished_run
    parity = of(events, "parity")[0]
    assert parity["passed"] and parity["fp32_max_abs_diff"] <= 1e-3
    assert parity["int8_shipped"] and parity["int8_samples"] == 350 and 0 <= parity["int8_top1_agreement"] <= 1
    model_dir = os.path.join(out, "model")
    kinds = {a["kind"]: a["path"] for a in of(events, "artifact")}
    assert set(kinds) == {"onnx", "onnx_int8", "labels", "preprocess", "metrics", "hf_model"}
    assert all(os.path.isabs(p) and os.path.exists(p) for p in kinds.values())
    for name in ("model.onnx", "model.int8.onnx", "labels.json", "preprocess.json", "metrics.json", "config.json",
                 "hf/config.json"):
        assert os.path.exists(os.path.join(model_dir, name)), name
    assert json.load(open(kinds["labels"])) == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    assert json.load(open(kinds["preprocess"])) == {
        "input_name": "pixels", "output_name": "logits", "input_size": 48, "channels": 1, "scale": "0..1",
        "model_image_size": 48, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    metrics = json.load(open(kinds["metrics"]))
    assert metrics["test"]["accuracy"] == of(events, "test")[0]["accuracy"]
    hf_config = json.load(open(os.path.join(model_dir, "hf", "config.json")))
    assert hf_config["id2label"]["3"] == "happy" and hf_config["label2id"]["neutral"] == 6


@pytest.mark.parametrize("name", ["model.onnx", "model.int8.onnx"])
def test_when_onnx_model_runs_then_batch_is_dynamic_and_io_follow_the_convention(finished_run, learn_dataset, name):
    session = ort.InferenceSession(os.path.join(finished_run[1], "model", name), providers=["CPUExecutionProvider"])
    [inp], [out] = session.get_inputs(), session.get_outputs()
    assert inp.name == "pixels" and inp.shape[1:] == [1, 48, 48] and not isinstance(inp.shape[0], int)
    assert out.name == "logits" and out.shape[1] == 7
    images = np.load(os.path.join(learn_dataset, "test_images.npy"))[:5].astype(np.float32)[:, None] / 255.0
    for batch in (1, 5):
        logits = session.run(["logits"], {"pixels": images[:batch]})[0]
        assert logits.shape == (batch, 7) and np.isfinite(logits).all()
