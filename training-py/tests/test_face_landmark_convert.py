"""The landmark net converted by infra/face-detector/convert_landmarks.py computes what face-api.js computes.

The reference is written independently in torch from face-api's TensorFlow.js code (FaceFeatureExtractor.ts,
denseBlock.ts: TF 'same' padding, dense sums, fully connected head) and reads the same TF.js weights.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from face_converters import REPO, load_converter

WEIGHTS = REPO / "node_modules" / "@vladmandic" / "face-api" / "model"


def _converter(name: str = "convert_landmarks"):
    return load_converter(name)


def _tf_same(x: torch.Tensor, stride: int) -> torch.Tensor:
    size = x.shape[2]
    out = -(-size // stride)
    pad = max((out - 1) * stride + 3 - size, 0)
    return F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2))


def _reference(w: dict[str, torch.Tensor], gray: np.ndarray) -> np.ndarray:
    def separable(x, prefix, stride):
        x = F.conv2d(_tf_same(x, stride), w[f"{prefix}/depthwise_filter"].permute(2, 3, 0, 1), stride=stride, groups=x.shape[1])
        return F.conv2d(x, w[f"{prefix}/pointwise_filter"].permute(3, 2, 0, 1)) + w[f"{prefix}/bias"].view(1, -1, 1, 1)

    x = torch.tensor(gray, dtype=torch.float64)[:, None].repeat(1, 3, 1, 1)  # (N, 3, 112, 112), R = G = B
    x = (x - torch.tensor([122.782, 117.001, 104.298], dtype=torch.float64).view(1, 3, 1, 1)) / 255
    for block in range(4):
        p = f"dense{block}"
        if block == 0:
            out1 = F.conv2d(_tf_same(x, 2), w[f"{p}/conv0/filters"].permute(3, 2, 0, 1), stride=2) + w[f"{p}/conv0/bias"].view(1, -1, 1, 1)
        else:
            out1 = separable(x, f"{p}/conv0", 2)
        out1 = F.relu(out1)
        out2 = separable(out1, f"{p}/conv1", 1)
        out3 = separable(F.relu(out1 + out2), f"{p}/conv2", 1)
        out4 = separable(F.relu(out1 + out2 + out3), f"{p}/conv3", 1)
        x = F.relu(out1 + out2 + out3 + out4)
    x = F.avg_pool2d(x, 7, 2).flatten(1)  # (N, 256)
    return (x @ w["fc/weights"] + w["fc/bias"]).numpy()  # (N, 136)


def test_converted_landmark_net_matches_an_independent_reference(tmp_path):
    if not WEIGHTS.is_dir():
        pytest.fail(f"face-api weights not found at {WEIGHTS}: run `npm ci` (npm run bootstrap) first")
    conv = _converter()
    out = tmp_path / "face_landmark_68.onnx"
    assert conv.main(["convert_landmarks.py", str(WEIGHTS), str(out)]) == 0
    weights = {k: torch.tensor(v, dtype=torch.float64) for k, v in _converter("convert").load_weights(str(WEIGHTS), conv.MODEL).items()}
    rng = np.random.default_rng(0)
    # A smooth blob plus noise, 3 crops at once: the batch dimension must be free.
    yy, xx = np.mgrid[0:112, 0:112]
    blob = 255 * np.exp(-((xx - 56) ** 2 + (yy - 50) ** 2) / 900.0)
    gray = np.clip(blob[None] + rng.normal(0, 20, (3, 112, 112)), 0, 255)
    got = ort.InferenceSession(str(out)).run(None, {"crops": gray[:, None].astype(np.float32)})[0]
    want = _reference(weights, gray)
    assert got.shape == (3, 136)
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_a_missing_argument_prints_the_usage(capsys):
    assert _converter().main(["convert_landmarks.py"]) == 2
    assert "convert_landmarks.py <face-api model dir> <out.onnx>" in capsys.readouterr().err
