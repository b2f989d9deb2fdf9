"""Writes the model directory that evaluation, the registry and the service read (see README)."""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional

from .config import RunConfig
from .data import Dataset
from .engine import LoopState
from .errors import TrainerError
from .events import EventWriter
from .export import INPUT_NAME, OUTPUT_NAME, check_parity, export_onnx, quantize_int8
from .labels import FACE_SIZE, LABELS
from .model import FaceViT, ModelSpec


def _write_json(path: str, data: Any) -> str:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)
    return os.path.abspath(path)


def preprocess_spec(spec: ModelSpec) -> dict[str, Any]:
    return {"input_name": INPUT_NAME, "output_name": OUTPUT_NAME, "input_size": FACE_SIZE, "channels": 1,
            "scale": "0..1", "model_image_size": spec.image_size, "mean": list(spec.mean), "std": list(spec.std)}


def save_hf(model: FaceViT, spec: ModelSpec, hf_dir: str) -> str:
    """save_pretrained of the bare ViT (id2label/label2id in its config) plus the image-processor settings, so
    the directory can be fine-tuned again through model.base or loaded by HF pipelines."""
    model.vit.save_pretrained(hf_dir)
    _write_json(os.path.join(hf_dir, "preprocessor_config.json"), {
        "image_processor_type": "ViTImageProcessor", "do_resize": True,
        "size": {"height": spec.image_size, "width": spec.image_size}, "do_rescale": True,
        "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": list(spec.mean), "image_std": list(spec.std),
    })
    return os.path.abspath(hf_dir)


def write_model_dir(model_dir: str, model: FaceViT, spec: ModelSpec, cfg: RunConfig, test: dict[str, Any],
                    state: LoopState, data: Dataset, events: EventWriter,
                    should_stop: Callable[[], bool]) -> Optional[list[tuple[str, str]]]:
    """Exports, gates on parity (raises parity_failed when fp32 is broken; withholds an int8 file that does not
    agree with fp32 well enough), writes the JSON files; returns (kind, path) pairs, or None if `should_stop` fired
    between the (slow) export stages."""
    os.makedirs(model_dir, exist_ok=True)
    # Each stage is one long call: a keep-alive between them (the stall limit is set well above one stage).
    onnx_path = export_onnx(model, os.path.join(model_dir, "model.onnx"), cfg.export.opset)
    events.alive("export")
    int8_path = quantize_int8(onnx_path, os.path.join(model_dir, "model.int8.onnx")) if cfg.export.int8 else None
    events.alive("export")
    if should_stop():
        return None
    parity = check_parity(model, onnx_path, int8_path, data.val.images, cfg.export.parity_atol,
                          cfg.export.int8_min_agreement, cfg.export.int8_confidence)
    events.emit("parity", **parity.to_event())
    if not parity.passed:
        raise TrainerError("parity_failed", f"exported model failed the parity gate: {parity.reason}")
    artifacts = [("onnx", onnx_path)]
    if int8_path and parity.int8 and parity.int8.shipped:
        artifacts.append(("onnx_int8", int8_path))
    elif int8_path:
        os.remove(int8_path)  # an optional variant that failed its gate is not shipped; fp32 serves
    artifacts.append(("labels", _write_json(os.path.join(model_dir, "labels.json"), list(LABELS))))
    artifacts.append(("preprocess", _write_json(os.path.join(model_dir, "preprocess.json"), preprocess_spec(spec))))
    metrics = {"test": test, "parity": parity.to_event(), "best_val_accuracy": state.best_val_accuracy,
               "best_epoch": state.best_epoch, "epochs_run": state.epochs_completed, "steps": state.step,
               "history": state.history, "dataset_fingerprint": data.fingerprint}
    artifacts.append(("metrics", _write_json(os.path.join(model_dir, "metrics.json"), metrics)))
    artifacts.append(("hf_model", save_hf(model, spec, os.path.join(model_dir, "hf"))))
    _write_json(os.path.join(model_dir, "config.json"), cfg.to_dict())
    return artifacts
