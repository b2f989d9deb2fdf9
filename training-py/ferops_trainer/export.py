"""ONNX export (fp32 + dynamic int8) and the parity gate every run must pass before its model is used."""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import nn

from .labels import FACE_SIZE

INPUT_NAME = "pixels"
OUTPUT_NAME = "logits"


def export_onnx(model: nn.Module, path: str, opset: int) -> str:
    """Exports the FaceViT wrapper: pixels (B, 1, 48, 48) float32 in [0, 1] -> logits (B, 7), dynamic batch.

    Uses the TorchScript-based exporter (dynamo=False). Both exporters pass parity on this graph (max |diff|
    ~2e-6), but torch 2.15's dynamo exporter has no opset-17 implementations (it exports opset 18 and
    down-converts through a fallback), prints progress to stdout, and took 2.5 s vs 0.15 s for the tiny model
    on this 2-core machine. The legacy exporter writes the requested opset directly, in one file.
    """
    cpu_model = copy.deepcopy(model).float().cpu().eval()
    example = torch.rand(2, 1, FACE_SIZE, FACE_SIZE)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter; errors still raise
        torch.onnx.export(
            cpu_model, (example,), path, dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            do_constant_folding=True,
        )
    import onnx
    onnx.checker.check_model(path)
    return os.path.abspath(path)


def quantize_int8(src: str, dst: str) -> str:
    """Dynamic int8 quantisation of the MatMul/Gemm weights (the bulk of a ViT); the patch-embedding Conv
    stays fp32 because ConvInteger is not implemented by every onnxruntime build. Per-channel weight scales:
    on the tiny model they raised top-1 agreement with fp32 from 97.1 % to 98.0 % (same model, 350 images)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(src, dst, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
                     per_channel=True)
    return os.path.abspath(dst)


def _session(path: str):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def onnx_logits(path: str, pixels: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Runs an exported model on float32 (N, 1, 48, 48) pixels in batches; returns (N, 7) logits."""
    session = _session(path)
    out = [session.run([OUTPUT_NAME], {INPUT_NAME: pixels[i:i + batch_size]})[0]
           for i in range(0, pixels.shape[0], batch_size)]
    return np.concatenate(out)


@dataclass
class ParityResult:
    fp32_max_abs_diff: float
    int8_top1_agreement: Optional[float]  # None when int8 export is off
    passed: bool
    reason: str

    def to_event(self) -> dict:
        return {"fp32_max_abs_diff": self.fp32_max_abs_diff, "int8_top1_agreement": self.int8_top1_agreement,
                "passed": self.passed}


def check_parity(model: nn.Module, onnx_path: str, int8_path: Optional[str], val_images: torch.Tensor,
                 atol: float, int8_min_agreement: float, fp32_batch: int = 64) -> ParityResult:
    """fp32: onnxruntime logits vs PyTorch (eval, fp32, CPU) on one val batch, max |diff| <= atol.
    int8: top-1 agreement of the int8 model with the fp32 ONNX model over the whole val split."""
    pixels = (val_images.numpy().astype(np.float32) / 255.0)[:, None]  # (N, 1, 48, 48)
    cpu_model = copy.deepcopy(model).float().cpu().eval()
    batch = pixels[:fp32_batch]
    with torch.no_grad():
        expected = cpu_model(torch.from_numpy(batch)).numpy()
    diff = float(np.abs(onnx_logits(onnx_path, batch) - expected).max())
    reasons = []
    if not diff <= atol:
        reasons.append(f"fp32 ONNX logits differ from PyTorch by {diff:.2e} > {atol:.0e}")
    agreement = None
    if int8_path is not None:
        fp32_top1 = onnx_logits(onnx_path, pixels).argmax(axis=1)
        int8_top1 = onnx_logits(int8_path, pixels).argmax(axis=1)
        agreement = float((fp32_top1 == int8_top1).mean())
        if agreement < int8_min_agreement:
            reasons.append(f"int8 top-1 agrees with fp32 on {agreement:.2%} of the validation split "
                           f"< {int8_min_agreement:.2%} (export.int8_min_agreement)")
    return ParityResult(diff, agreement, not reasons, "; ".join(reasons))
