"""Converts face-api.js's Tiny Face Detector (TensorFlow.js weights, MIT, shipped in npm @vladmandic/face-api) into
an ONNX graph that onnxruntime-node runs for the inference service.

    python infra/face-detector/convert.py <face-api model dir> <out.onnx>

Why: Haar detection in opencv-wasm costs 50-150 ms on a 640x480 photo; this 190k-parameter CNN runs in a few
milliseconds in onnxruntime and finds at least the faces Haar does on the test photos (docs/inference.md).

The network (face-api src/tinyYolov2/TinyYolov2Base.ts runMobilenet, TinyFaceDetector config):
  conv0 3x3 'valid' + leaky(0.1), maxpool 2/2 'same'
  conv1..conv5 depthwise-separable 3x3 (pad 1) + bias + leaky(0.1), maxpool 2/2 'same' after 1-4, 2/1 'same' after 5
  conv8 1x1 + bias -> (5 anchors x [tx, ty, tw, th, score]) per 32-pixel cell.
face-api feeds RGB normalised as (rgb - MEAN_RGB) / 255. Our images are grayscale (R = G = B = gray), and conv0
has no padding, so the normalisation and the channel sum fold exactly into conv0: the ONNX input is one channel of
raw gray values 0..255, any height and width that are multiples of 32.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MEAN_RGB = np.array([117.001, 114.697, 97.404], dtype=np.float64)
LEAKY_ALPHA = 0.10000000149011612  # face-api's leaky(): relu(x - 0.1x) + 0.1x
INPUT, OUTPUT = "image", "grid"


def load_weights(model_dir: str, model: str = "tiny_face_detector_model") -> dict[str, np.ndarray]:
    """Reads a TF.js weights manifest + binary; uint8-quantised tensors are dequantised (q * scale + min)."""
    with open(os.path.join(model_dir, f"{model}-weights_manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        blob = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            count = int(np.prod(spec["shape"]))
            quant = spec.get("quantization")
            if quant:
                if quant["dtype"] != "uint8":
                    raise ValueError(f"{spec['name']}: unsupported quantisation {quant['dtype']}")
                q = np.frombuffer(blob, dtype=np.uint8, count=count, offset=offset)
                values = q.astype(np.float64) * quant["scale"] + quant["min"]
                offset += count
            else:
                values = np.frombuffer(blob, dtype=np.float32, count=count, offset=offset).astype(np.float64)
                offset += count * 4
            weights[spec["name"]] = values.reshape(spec["shape"])
        if offset != len(blob):
            raise ValueError(f"weights file has {len(blob)} bytes, the manifest describes {offset}")
    return weights


class GraphBuilder:
    """Nodes and initialisers of a graph under construction; each method answers the name of what it added."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def op(self, kind: str, inputs: list[str], out: str, **attrs) -> str:
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def separable(self, x: str, dw: np.ndarray, pw: np.ndarray, b: np.ndarray, name: str, **depthwise) -> str:
        """A TF.js depthwise-separable 3x3 conv + bias; `depthwise` holds the depthwise Conv's strides/pads."""
        # depthwise TF [kh, kw, C, 1] -> ONNX [C, 1, kh, kw], group = C; pointwise TF [1, 1, C, O] -> [O, C, 1, 1].
        d = self.op("Conv", [x, self.const(f"{name}.dw", dw[:, :, :, 0].transpose(2, 0, 1)[:, None])], f"{name}.d",
                    kernel_shape=[3, 3], group=dw.shape[2], **depthwise)
        return self.op("Conv", [d, self.const(f"{name}.pw", pw[0, 0].T[:, :, None, None]), self.const(f"{name}.b", b)],
                       f"{name}.out", kernel_shape=[1, 1])

    def model(self, name: str, inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto], doc: str) -> onnx.ModelProto:
        """The graph as a checked opset-17 model (IR 8, what onnxruntime-node and the venv's onnxruntime both load)."""
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="ferops")
        model.ir_version = 8
        model.doc_string = doc
        onnx.checker.check_model(model)
        return model


def build_graph(w: dict[str, np.ndarray]) -> onnx.ModelProto:
    g = GraphBuilder()

    def maxpool(x: str, name: str, stride: int) -> str:
        # TF 'same' pooling pads only at the end; ceil_mode (stride 2) / an end pad (stride 1) is the same window set.
        if stride == 2:
            return g.op("MaxPool", [x], name, kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
        return g.op("MaxPool", [x], name, kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 1, 1])

    # conv0: TF [kh, kw, in=3, out] -> fold the RGB sum and the mean/255 normalisation -> ONNX [out, 1, kh, kw].
    f0, b0 = w["conv0/filters"], w["conv0/bias"]
    weight0 = (f0.sum(axis=2) / 255.0).transpose(2, 0, 1)[:, None, :, :]
    bias0 = b0 - np.einsum("hwco,c->o", f0, MEAN_RGB) / 255.0
    x = g.op("Conv", [INPUT, g.const("conv0.w", weight0), g.const("conv0.b", bias0)], "c0", kernel_shape=[3, 3])
    x = maxpool(g.op("LeakyRelu", [x], "a0", alpha=LEAKY_ALPHA), "p0", 2)

    for i in range(1, 6):
        c = g.separable(x, w[f"conv{i}/depthwise_filter"], w[f"conv{i}/pointwise_filter"], w[f"conv{i}/bias"], f"conv{i}",
                        pads=[1, 1, 1, 1])
        x = maxpool(g.op("LeakyRelu", [c], f"a{i}", alpha=LEAKY_ALPHA), f"p{i}", 2 if i < 5 else 1)

    f8, b8 = w["conv8/filters"], w["conv8/bias"]
    g.op("Conv", [x, g.const("conv8.w", f8[0, 0].T[:, :, None, None]), g.const("conv8.b", b8)], OUTPUT, kernel_shape=[1, 1])

    return g.model(
        "tiny_face_detector",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, 1, "height", "width"])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [1, 25, "rows", "cols"])],
        "face-api.js Tiny Face Detector (MIT, Vincent Muehler), converted by ferops infra/face-detector/convert.py",
    )


def convert(argv: list[str], usage: str, build, weights: str) -> int:
    """The command line both converters share: `<face-api model dir> <out.onnx>`, written atomically."""
    if len(argv) != 3:
        print(usage, file=sys.stderr)
        return 2
    save_model(build(load_weights(argv[1], weights)), argv[2])
    return 0


def save_model(model: onnx.ModelProto, out: str) -> None:
    """Writes `out` atomically: a concurrent reader never sees half a model."""
    tmp = f"{out}.tmp{os.getpid()}"  # per process: two bootstraps may convert at once
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    onnx.save(model, tmp)
    os.replace(tmp, out)


if __name__ == "__main__":
    sys.exit(convert(sys.argv, __doc__.strip().splitlines()[3], build_graph, "tiny_face_detector_model"))
