"""Converts MTCNN's O-Net (the last stage of the MTCNN face detector; weights MIT, shipped in the PyPI wheel
facenet-pytorch, facenet_pytorch/data/onet.pt) into an ONNX graph that scores face crops for the inference service.

    python infra/face-detector/convert_onet.py <facenet_pytorch-*.whl> <out.onnx>

Why: the Tiny Face Detector boxes things that are not faces (a space shuttle, the gap between two heads); O-Net
was trained to tell faces from non-faces on 48x48 crops, and it is a second, independent opinion on each box
(docs/inference.md#landmarks-and-alignment).

The network (facenet_pytorch/models/mtcnn.py ONet): input 48x48 RGB normalised as (rgb - 127.5) / 128;
conv 3x3 (32) PReLU maxpool 3/2 ceil; conv 3x3 (64) PReLU maxpool 3/2 ceil; conv 3x3 (64) PReLU maxpool 2/2 ceil;
conv 2x2 (128) PReLU; flattened in (W, H, C) order (Caffe's layout); dense 256 PReLU; dense 2 softmax = face
probability (the box regression and 5-point heads are left out). Our crops are grayscale: the ONNX input is
(N, 1, 48, 48) raw gray values 0..255; with R = G = B the first conv's three input channels sum into one, and the
normalisation folds into it (unpadded convs see no padding zeros).

The weights are a legacy (pre-zip) torch.save file, read here with a small unpickler so neither the converter nor
the container image that runs it needs torch.
"""

from __future__ import annotations

import collections
import io
import pickle
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from convert import GraphBuilder, save_model

WEIGHTS_IN_WHEEL = "facenet_pytorch/data/onet.pt"
INPUT, OUTPUT = "crops", "face_prob"
SIDE = 48
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


def load_weights(wheel: str) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(wheel) as z:
        return load_legacy_state_dict(z.read(WEIGHTS_IN_WHEEL))


def build_graph(w: dict[str, np.ndarray]) -> onnx.ModelProto:
    g = GraphBuilder()

    def prelu(x: str, name: str, slope: np.ndarray, spatial: bool = True) -> str:
        return g.op("PRelu", [x, g.const(f"{name}.slope", slope.reshape(-1, 1, 1) if spatial else slope)], name)

    # conv1 on (gray - 127.5) / 128 replicated to 3 channels == conv1 with summed channels, scaled, bias shifted.
    w1 = w["conv1.weight"].sum(axis=1, keepdims=True)
    x = g.op("Conv", [INPUT, g.const("conv1.w", w1 / 128.0), g.const("conv1.b", w["conv1.bias"] - w1.sum(axis=(1, 2, 3)) * 127.5 / 128.0)],
             "c1", kernel_shape=[3, 3])
    x = g.op("MaxPool", [prelu(x, "a1", w["prelu1.weight"])], "p1", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    x = g.op("Conv", [x, g.const("conv2.w", w["conv2.weight"]), g.const("conv2.b", w["conv2.bias"])], "c2", kernel_shape=[3, 3])
    x = g.op("MaxPool", [prelu(x, "a2", w["prelu2.weight"])], "p2", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    x = g.op("Conv", [x, g.const("conv3.w", w["conv3.weight"]), g.const("conv3.b", w["conv3.bias"])], "c3", kernel_shape=[3, 3])
    x = g.op("MaxPool", [prelu(x, "a3", w["prelu3.weight"])], "p3", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
    x = g.op("Conv", [x, g.const("conv4.w", w["conv4.weight"]), g.const("conv4.b", w["conv4.bias"])], "c4", kernel_shape=[2, 2])
    x = prelu(x, "a4", w["prelu4.weight"])  # (N, 128, 3, 3)
    x = g.op("Flatten", [g.op("Transpose", [x], "whc", perm=[0, 3, 2, 1])], "features", axis=1)  # Caffe's order
    x = g.op("Gemm", [x, g.const("dense5.w", w["dense5.weight"]), g.const("dense5.b", w["dense5.bias"])], "d5", transB=1)
    x = prelu(x, "a5", w["prelu5.weight"], spatial=False)
    x = g.op("Gemm", [x, g.const("dense6_1.w", w["dense6_1.weight"]), g.const("dense6_1.b", w["dense6_1.bias"])], "d6", transB=1)
    probs = g.op("Softmax", [x], "probs", axis=1)  # (N, 2): not a face, a face
    g.inits.append(numpy_helper.from_array(np.array(1, dtype=np.int64), "face_column"))
    g.op("Gather", [probs, "face_column"], OUTPUT, axis=1)

    return g.model(
        "mtcnn_onet",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["n", 1, SIDE, SIDE])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n"])],
        "MTCNN O-Net face/non-face head (weights: facenet-pytorch, MIT, Tim Esler), converted by ferops infra/face-detector/convert_onet.py",
    )


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[3], file=sys.stderr)
        return 2
    save_model(build_graph(load_weights(argv[1])), argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
