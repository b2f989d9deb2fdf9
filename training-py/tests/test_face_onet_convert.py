"""MTCNN's O-Net converted by infra/face-detector/convert_onet.py computes what facenet-pytorch's ONet computes.

The weights come from the facenet-pytorch wheel that bootstrap fetches; the converter reads them with its own
unpickler, checked here against torch.load. The reference is facenet-pytorch's forward pass written out in torch
(RGB input with R = G = B, normalised as MTCNN does), independent of the converter's folding of both into conv1.
"""

from __future__ import annotations

import importlib.util
import io
import os
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]
CONVERTER_DIR = REPO / "infra" / "face-detector"
WHEEL = Path(os.environ.get("FEROPS_CACHE_DIR", Path.home() / ".cache" / "ferops")) / "face-detector" / "facenet_pytorch-2.6.0-py3-none-any.whl"


def _converter():
    sys.path.insert(0, str(CONVERTER_DIR))  # convert_onet imports its sibling convert.py
    try:
        spec = importlib.util.spec_from_file_location("convert_onet", CONVERTER_DIR / "convert_onet.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(CONVERTER_DIR))


def _torch_state_dict() -> dict[str, torch.Tensor]:
    with zipfile.ZipFile(WHEEL) as z:
        return torch.load(io.BytesIO(z.read("facenet_pytorch/data/onet.pt")), weights_only=True)


def _reference(w: dict[str, torch.Tensor], gray: np.ndarray) -> np.ndarray:
    x = (torch.tensor(gray, dtype=torch.float64)[:, None].repeat(1, 3, 1, 1) - 127.5) * 0.0078125
    w = {k: v.double() for k, v in w.items()}
    for i, pool in ((1, (3, 2)), (2, (3, 2)), (3, (2, 2))):
        x = F.prelu(F.conv2d(x, w[f"conv{i}.weight"], w[f"conv{i}.bias"]), w[f"prelu{i}.weight"])
        x = F.max_pool2d(x, pool[0], pool[1], ceil_mode=True)
    x = F.prelu(F.conv2d(x, w["conv4.weight"], w["conv4.bias"]), w["prelu4.weight"])
    x = x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)
    x = F.prelu(F.linear(x, w["dense5.weight"], w["dense5.bias"]), w["prelu5.weight"])
    return F.softmax(F.linear(x, w["dense6_1.weight"], w["dense6_1.bias"]), dim=1)[:, 1].numpy()


def _wheel_or_fail() -> None:
    if not WHEEL.is_file():
        pytest.fail(f"facenet-pytorch wheel not found at {WHEEL}: run `npm run bootstrap` first")


def test_the_weights_read_without_torch_equal_torch_load():
    _wheel_or_fail()
    ours = _converter().load_weights(str(WHEEL))
    theirs = _torch_state_dict()
    assert sorted(ours) == sorted(theirs)
    for name, tensor in theirs.items():
        np.testing.assert_array_equal(ours[name], tensor.numpy(), err_msg=name)


def test_converted_onet_matches_an_independent_reference(tmp_path):
    _wheel_or_fail()
    out = tmp_path / "mtcnn_onet.onnx"
    assert _converter().main(["convert_onet.py", str(WHEEL), str(out)]) == 0
    rng = np.random.default_rng(0)
    # A smooth blob plus noise, 3 crops at once: the batch dimension must be free.
    yy, xx = np.mgrid[0:48, 0:48]
    blob = 255 * np.exp(-((xx - 24) ** 2 + (yy - 22) ** 2) / 200.0)
    gray = np.clip(blob[None] + rng.normal(0, 30, (3, 48, 48)), 0, 255)
    got = ort.InferenceSession(str(out)).run(None, {"crops": gray[:, None].astype(np.float32)})[0]
    want = _reference(_torch_state_dict(), gray)
    assert got.shape == (3,)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_file_that_is_not_a_legacy_torch_save_is_refused():
    with pytest.raises((ValueError, pickle.UnpicklingError)):
        _converter().load_legacy_state_dict(b"PK\x03\x04 not a legacy pickle")


def test_a_missing_argument_prints_the_usage(capsys):
    assert _converter().main(["convert_onet.py"]) == 2
    assert "convert_onet.py <facenet_pytorch-*.whl> <out.onnx>" in capsys.readouterr().err
