"""Converts MTCNN's three nets (weights MIT, shipped in the PyPI wheel facenet-pytorch, facenet_pytorch/data/*.pt)
into ONNX graphs for the inference service:

    python infra/face-detector/convert_mtcnn.py <facenet_pytorch-*.whl> <out dir>

writes mtcnn_pnet.onnx, mtcnn_rnet.onnx and mtcnn_onet.onnx there. Why (docs/inference.md#landmarks-and-alignment):
- P-Net (a 12x12 window, fully convolutional) proposes faces over an image pyramid and R-Net (24x24) refines them:
  they find faces of ~24-60 px that the Tiny Face Detector, which sees a copy at most 512 px wide, is too coarse for;
- O-Net (48x48) tells faces from non-faces: a second, independent opinion on every box, which drops the Tiny Face
  Detector's false boxes (a space shuttle, the gap between two heads).

The networks (facenet_pytorch/models/mtcnn.py) take RGB normalised as (rgb - 127.5) / 128, end in a 2-way softmax
(not a face, a face) and a box regression; conv layers are unpadded, max pools use ceil mode, and dense layers
read the features in (W, H, C) order (Caffe's layout). Our images are grayscale: every ONNX input is raw gray
values 0..255, (N, 1, H, W); with R = G = B the first conv's three input channels sum into one, and the
normalisation folds into it (unpadded convs see no padding zeros). Outputs: `face_prob` (the softmax's face
column) and, for P-Net and R-Net, `box_reg`; O-Net's landmark and regression heads are left out.

The weights are legacy (pre-zip) torch.save files, read here with a small unpickler so neither the converter nor
the container image that runs it needs torch.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from convert import GraphBuilder, save_model

INPUT, OUTPUT, REGRESSION = "crops", "face_prob", "box_reg"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}


class _Storage:
    def __init__(self, dtype: type) -> None:
        self.dtype = dtype
        self.data: np.ndarray | None = None


def _rebuild_tensor(storage: _Storage, offset: int, size: tuple, stride: tuple, *_):
    return lambda: np.lib.stride_tricks.as_strided(
        storage.data[offset:], shape=size, strides=[s * storage.data.itemsize for s in stride]).copy()


class _LegacyUnpickler(pickle.Unpickler):
    """torch.save's legacy format: tensors are rebuilt from storages whose bytes follow the pickle."""

    def __init__(self, f: io.BytesIO) -> None:
        super().__init__(f)
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in a state dict")

    def persistent_load(self, pid):
        kind, dtype, key = pid[:3]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {kind!r}")
        return self.storages.setdefault(key, _Storage(dtype))


def load_legacy_state_dict(raw: bytes) -> dict[str, np.ndarray]:
    f = io.BytesIO(raw)
    if pickle.load(f) != LEGACY_MAGIC:
        raise ValueError("not a legacy torch.save file")
    pickle.load(f)  # protocol version
    pickle.load(f)  # sys info
    unpickler = _LegacyUnpickler(f)
    lazy = unpickler.load()
    for key in pickle.load(f):
        storage = unpickler.storages[key]
        count = int(np.frombuffer(f.read(8), "<i8")[0])
        storage.data = np.frombuffer(f.read(count * np.dtype(storage.dtype).itemsize), dtype=storage.dtype)
    return {name: make() for name, make in lazy.items()}


def load_weights(wheel: str, net: str) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(wheel) as z:
        return load_legacy_state_dict(z.read(f"facenet_pytorch/data/{net}.pt"))


def face_logit(w: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    """Weights and bias of the face logit minus the non-face one: the 2-way softmax's face column is its sigmoid, the
    same probability from one output channel, without Softmax's and Gather's passes over P-Net's whole map."""
    weight, bias = w[f"{name}.weight"], w[f"{name}.bias"]
    return weight[1:] - weight[:1], bias[1:] - bias[:1]


class _Net:
    """A graph under construction from one MTCNN state dict."""

    def __init__(self, w: dict[str, np.ndarray]) -> None:
        self.g = GraphBuilder()
        self.w = w

    def conv(self, x: str, name: str, first: bool = False, negated: bool = False) -> str:
        """The conv layer `name`; `negated`: its output times -1 (weights and bias negated, so exactly -y)."""
        weight, bias = self.w[f"{name}.weight"], self.w[f"{name}.bias"]
        if first:  # (gray - 127.5) / 128 replicated to 3 channels == the summed channels, scaled, bias shifted
            weight = weight.sum(axis=1, keepdims=True)
            bias = bias - weight.sum(axis=(1, 2, 3)) * 127.5 / 128.0
            weight = weight / 128.0
        if negated:
            weight, bias, name = -weight, -bias, f"{name}.negated"
        return self.g.op("Conv", [x, self.g.const(f"{name}.w", weight), self.g.const(f"{name}.b", bias)], name,
                         kernel_shape=list(weight.shape[2:]))

    def prelu(self, x: str, name: str, spatial: bool = True) -> str:
        """PReLU on a conv's map as relu(x) + (-slope) * relu(-x): -x from a depthwise 1x1 conv of -1s (its relu fused)
        and the slope's multiply from another, whose add onnxruntime fuses into it. The same values, bit for bit, but
        all in onnxruntime's blocked (NCHWc) layout: its PRelu kernel, and Min and Mul after it, each sent the map out
        of that layout and back (docs/inference.md#landmarks-and-alignment). A dense layer's stays relu + slope * min."""
        slope = self.w[f"{name}.weight"]
        positive = self.g.op("Relu", [x], f"{name}.positive")
        if not spatial:
            negative = self.g.op("Min", [x, self.g.const(f"{name}.zero", np.zeros(1, np.float32))], f"{name}.negative")
            return self.g.op("Add", [positive, self.g.op("Mul", [negative, self.g.const(f"{name}.slope", slope)], f"{name}.scaled")], f"{name}.out")
        channels = len(slope)
        negated = self.g.op("Conv", [x, self.g.const(f"{name}.minus", -np.ones((channels, 1, 1, 1), np.float32))], f"{name}.negated",
                            kernel_shape=[1, 1], group=channels)
        scaled = self.g.op("Conv", [self.g.op("Relu", [negated], f"{name}.negative"), self.g.const(f"{name}.slope", -slope.reshape(-1, 1, 1, 1))],
                           f"{name}.scaled", kernel_shape=[1, 1], group=channels)
        return self.g.op("Add", [positive, scaled], f"{name}.out")

    def conv_prelu(self, x: str, conv: str, prelu: str, first: bool = False) -> str:
        """A first conv layer and its PReLU as relu(y) + (-slope) * relu(-y), -y from a second conv with the weights
        negated. Only convs, fused activations and an add: onnxruntime keeps them all in its blocked (NCHWc) layout,
        where PReLU's per-channel multiply sends the largest map through a layout change and back. Twice a cheap
        first conv costs less than that; deeper, costlier convs keep `prelu`."""
        positive = self.g.op("Relu", [self.conv(x, conv, first)], f"{prelu}.positive")
        negative = self.g.op("Relu", [self.conv(x, conv, first, negated=True)], f"{prelu}.negative")
        slope = -self.w[f"{prelu}.weight"]
        scaled = self.g.op("Conv", [negative, self.g.const(f"{prelu}.slope", slope.reshape(-1, 1, 1, 1))], f"{prelu}.scaled",
                           kernel_shape=[1, 1], group=len(slope))
        return self.g.op("Add", [positive, scaled], f"{prelu}.out")

    def pool(self, x: str, name: str, size: int) -> str:
        return self.g.op("MaxPool", [x], name, kernel_shape=[size, size], strides=[2, 2], ceil_mode=1)

    def dense(self, x: str, name: str) -> str:
        return self.g.op("Gemm", [x, self.g.const(f"{name}.w", self.w[f"{name}.weight"]), self.g.const(f"{name}.b", self.w[f"{name}.bias"])],
                         name, transB=1)

    def flatten_caffe(self, x: str) -> str:
        return self.g.op("Flatten", [self.g.op("Transpose", [x], "whc", perm=[0, 3, 2, 1])], "features", axis=1)

    def face_prob(self, x: str, name: str) -> str:
        """The 2-way softmax's face column of a dense layer (R-Net's, O-Net's), from one output (see face_logit)."""
        weight, bias = face_logit(self.w, name)
        return self.face_prob_of(self.g.op("Gemm", [x, self.g.const(f"{name}.w", weight), self.g.const(f"{name}.b", bias)], name, transB=1))

    def face_prob_of(self, logit: str) -> str:
        self.g.inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "face_axis"))
        return self.g.op("Squeeze", [self.g.op("Sigmoid", [logit], "face_logit_prob"), "face_axis"], OUTPUT)

    def model(self, name: str, side: int | None, outputs: list[onnx.ValueInfoProto]) -> onnx.ModelProto:
        shape = ["n", 1, side, side] if side else [1, 1, "height", "width"]
        return self.g.model(
            name, [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, shape)], outputs,
            f"MTCNN {name} (weights: facenet-pytorch, MIT, Tim Esler), converted by ferops infra/face-detector/convert_mtcnn.py",
        )


def build_pnet(w: dict[str, np.ndarray]) -> onnx.ModelProto:
    """(1, 1, H, W) -> face_prob (1, H', W') and box_reg (1, 4, H', W'): one 12x12 window per 2 pixels. The face
    logit and the box regression come from one 5-channel 1x1 conv, split: one change out of onnxruntime's blocked
    layout for both heads instead of one each (the values are the same)."""
    n = _Net(w)
    x = n.pool(n.conv_prelu(INPUT, "conv1", "prelu1", first=True), "pool1", 2)
    x = n.prelu(n.conv(x, "conv2"), "prelu2")
    x = n.prelu(n.conv(x, "conv3"), "prelu3")
    logit_w, logit_b = face_logit(w, "conv4_1")
    heads = n.g.op("Conv", [x, n.g.const("heads.w", np.concatenate([logit_w, w["conv4_2.weight"]])),
                            n.g.const("heads.b", np.concatenate([logit_b, w["conv4_2.bias"]]))], "heads", kernel_shape=[1, 1])
    n.g.inits.append(numpy_helper.from_array(np.array([1, 4], dtype=np.int64), "heads_split"))
    n.g.nodes.append(helper.make_node("Split", [heads, "heads_split"], ["face_logit", REGRESSION], "split_heads", axis=1))
    n.face_prob_of("face_logit")
    return n.model("mtcnn_pnet", None, [
        helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [1, "rows", "cols"]),
        helper.make_tensor_value_info(REGRESSION, TensorProto.FLOAT, [1, 4, "rows", "cols"]),
    ])


def build_rnet(w: dict[str, np.ndarray]) -> onnx.ModelProto:
    """(N, 1, 24, 24) -> face_prob (N) and box_reg (N, 4)."""
    n = _Net(w)
    x = n.pool(n.conv_prelu(INPUT, "conv1", "prelu1", first=True), "pool1", 3)
    x = n.pool(n.prelu(n.conv(x, "conv2"), "prelu2"), "pool2", 3)
    x = n.prelu(n.conv(x, "conv3"), "prelu3")
    x = n.prelu(n.dense(n.flatten_caffe(x), "dense4"), "prelu4", spatial=False)
    n.face_prob(x, "dense5_1")
    n.g.op("Identity", [n.dense(x, "dense5_2")], REGRESSION)
    return n.model("mtcnn_rnet", 24, [
        helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n"]),
        helper.make_tensor_value_info(REGRESSION, TensorProto.FLOAT, ["n", 4]),
    ])


def build_onet(w: dict[str, np.ndarray]) -> onnx.ModelProto:
    """(N, 1, 48, 48) -> face_prob (N)."""
    n = _Net(w)
    x = n.pool(n.conv_prelu(INPUT, "conv1", "prelu1", first=True), "pool1", 3)
    x = n.pool(n.prelu(n.conv(x, "conv2"), "prelu2"), "pool2", 3)
    x = n.pool(n.prelu(n.conv(x, "conv3"), "prelu3"), "pool3", 2)
    x = n.prelu(n.conv(x, "conv4"), "prelu4")
    x = n.prelu(n.dense(n.flatten_caffe(x), "dense5"), "prelu5", spatial=False)
    n.face_prob(x, "dense6_1")
    return n.model("mtcnn_onet", 48, [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n"])])


BUILDERS = {"pnet": build_pnet, "rnet": build_rnet, "onet": build_onet}


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    for net, build in BUILDERS.items():
        save_model(build(load_weights(argv[1], net)), os.path.join(argv[2], f"mtcnn_{net}.onnx"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
