"""MTCNN's nets converted by infra/face-detector/convert_mtcnn.py compute what facenet-pytorch's PNet, RNet and ONet
compute.

The weights come from the facenet-pytorch wheel that bootstrap fetches; the converter reads them with its own
unpickler, checked here against torch.load. The references are facenet-pytorch's forward passes written out in
torch (RGB input with R = G = B, normalised as MTCNN does), independent of the converter's folding of both into conv1.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from face_converters import FACE_NET_CACHE, load_converter

WHEEL = FACE_NET_CACHE / "facenet_pytorch-2.6.0-py3-none-any.whl"


def _converter():
    return load_converter("convert_mtcnn")


def _torch_state_dict(net: str) -> dict[str, torch.Tensor]:
    with zipfile.ZipFile(WHEEL) as z:
        return torch.load(io.BytesIO(z.read(f"facenet_pytorch/data/{net}.pt")), weights_only=True)


def _reference(net: str, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """facenet-pytorch's forward pass: (face probability, box regression) for P-Net, R-Net and O-Net."""
    w = {k: v.double() for k, v in _torch_state_dict(net).items()}
    x = (torch.tensor(gray, dtype=torch.float64)[:, None].repeat(1, 3, 1, 1) - 127.5) * 0.0078125

    def conv(x, i, name="conv"):
        return F.prelu(F.conv2d(x, w[f"{name}{i}.weight"], w[f"{name}{i}.bias"]), w[f"prelu{i}.weight"])

    def dense(x, name):
        return F.linear(x, w[f"{name}.weight"], w[f"{name}.bias"])

    caffe_flat = lambda x: x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)  # noqa: E731
    if net == "pnet":
        x = conv(F.max_pool2d(conv(x, 1), 2, 2, ceil_mode=True), 2)
        x = conv(x, 3)
        prob = F.softmax(F.conv2d(x, w["conv4_1.weight"], w["conv4_1.bias"]), dim=1)[:, 1]
        return prob.numpy(), F.conv2d(x, w["conv4_2.weight"], w["conv4_2.bias"]).numpy()
    if net == "rnet":
        x = F.max_pool2d(conv(F.max_pool2d(conv(x, 1), 3, 2, ceil_mode=True), 2), 3, 2, ceil_mode=True)
        x = F.prelu(dense(caffe_flat(conv(x, 3)), "dense4"), w["prelu4.weight"])
        return F.softmax(dense(x, "dense5_1"), dim=1)[:, 1].numpy(), dense(x, "dense5_2").numpy()
    for i, size in ((1, 3), (2, 3), (3, 2)):
        x = F.max_pool2d(conv(x, i), size, 2, ceil_mode=True)
    x = F.prelu(dense(caffe_flat(conv(x, 4)), "dense5"), w["prelu5.weight"])
    return F.softmax(dense(x, "dense6_1"), dim=1)[:, 1].numpy(), None


def _wheel_or_fail() -> None:
    if not WHEEL.is_file():
        pytest.fail(f"facenet-pytorch wheel not found at {WHEEL}: run `npm run bootstrap` first")


@pytest.mark.parametrize("net", ["pnet", "rnet", "onet"])
def test_the_weights_read_without_torch_equal_torch_load(net):
    _wheel_or_fail()
    ours = _converter().load_weights(str(WHEEL), net)
    theirs = _torch_state_dict(net)
    assert sorted(ours) == sorted(theirs)
    for name, tensor in theirs.items():
        np.testing.assert_array_equal(ours[name], tensor.numpy(), err_msg=name)


def test_converted_nets_match_an_independent_reference(tmp_path):
    _wheel_or_fail()
    assert _converter().main(["convert_mtcnn.py", str(WHEEL), str(tmp_path)]) == 0
    rng = np.random.default_rng(0)
    # Smooth blobs plus noise; R-Net and O-Net take 3 crops at once (the batch dimension must be free), P-Net one
    # image of any size (here 45x70: odd sizes exercise the ceil-mode pooling).
    for net, shape in (("pnet", (1, 45, 70)), ("rnet", (3, 24, 24)), ("onet", (3, 48, 48))):
        yy, xx = np.mgrid[0:shape[1], 0:shape[2]]
        blob = 255 * np.exp(-((xx - shape[2] / 2) ** 2 + (yy - shape[1] / 2.2) ** 2) / (shape[1] * 4.0))
        gray = np.clip(blob[None] + rng.normal(0, 30, shape), 0, 255)
        got = ort.InferenceSession(str(tmp_path / f"mtcnn_{net}.onnx")).run(None, {"crops": gray[:, None].astype(np.float32)})
        prob, reg = _reference(net, gray)
        assert got[0].shape == prob.shape, net
        np.testing.assert_allclose(got[0], prob, atol=1e-5, err_msg=net)
        if reg is not None:
            np.testing.assert_allclose(got[1], reg, atol=1e-4, err_msg=net)


def test_converted_nets_use_no_prelu_or_softmax_op_and_pnet_only_blocked_layout_ops(tmp_path):
    # onnxruntime runs PRelu and Softmax outside its fused blocked layout; they were the largest part of P-Net's time
    # (docs/inference.md#landmarks-and-alignment). The converter writes the same functions with fusable ops.
    _wheel_or_fail()
    assert _converter().main(["convert_mtcnn.py", str(WHEEL), str(tmp_path)]) == 0
    for net in ("pnet", "rnet", "onet"):
        ops = {node.op_type for node in onnx.load(str(tmp_path / f"mtcnn_{net}.onnx")).graph.node}
        assert not ops & {"PRelu", "Softmax"}, (net, sorted(ops))
    # P-Net's maps, the largest: only ops onnxruntime keeps in that layout up to the heads' one split (no Min or Mul).
    pnet = {node.op_type for node in onnx.load(str(tmp_path / "mtcnn_pnet.onnx")).graph.node}
    assert pnet <= {"Conv", "Relu", "Add", "MaxPool", "Split", "Sigmoid", "Squeeze"}, sorted(pnet)


def test_a_file_that_is_not_a_legacy_torch_save_is_refused():
    with pytest.raises((ValueError, pickle.UnpicklingError)):
        _converter().load_legacy_state_dict(b"PK\x03\x04 not a legacy pickle")


def test_a_missing_argument_prints_the_usage(capsys):
    assert _converter().main(["convert_mtcnn.py"]) == 2
    assert "convert_mtcnn.py <facenet_pytorch-*.whl> <out dir>" in capsys.readouterr().err
