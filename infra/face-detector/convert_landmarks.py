"""Converts face-api.js's 68-point face landmark net (TensorFlow.js weights, MIT, shipped in npm @vladmandic/face-api)
into an ONNX graph that onnxruntime-node runs on face crops for the inference service.

    python infra/face-detector/convert_landmarks.py <face-api model dir> <out.onnx>

Why: the Haar eye cascades found both eyes in only part of the detector's faces; this CNN (face_landmark_68_model,
about 360k parameters) places all 68 iBUG points on every crop, so alignment no longer depends on a cascade.

The network (face-api src/faceFeatureExtractor/FaceFeatureExtractor.ts, denseBlock.ts, faceProcessor):
  input 112x112 RGB, normalised as (rgb - MEAN_RGB) / 255;
  4 dense blocks (dense0: conv 3x3 stride 2 'same'; dense1-3: depthwise-separable 3x3 stride 2 'same'), each with
  3 more depthwise-separable 3x3 stride 1 convs whose outputs are summed densely (relu after each sum);
  avgpool 7x7 stride 2 'valid' -> (N, 256); fully connected -> (N, 136) = 68 x (x, y) in [0, 1] of the input square.
Our crops are grayscale: the ONNX input is (N, 1, 112, 112) raw gray values 0..255, broadcast to the three channels
inside the graph (the normalisation cannot fold into conv0 because its 'same' padding pads zeros after it).
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

from convert import GraphBuilder, convert

MODEL = "face_landmark_68_model"
MEAN_RGB = np.array([122.782, 117.001, 104.298], dtype=np.float64)
INPUT, OUTPUT = "crops", "landmarks"
SIDE = 112


def build_graph(w: dict[str, np.ndarray]) -> onnx.ModelProto:
    g = GraphBuilder()

    def same_pads(stride: int) -> list[int]:
        # TF 'same' on an even size: stride 2 pads one pixel at the end only; stride 1 one on every side.
        return [0, 0, 1, 1] if stride == 2 else [1, 1, 1, 1]

    def separable(x: str, prefix: str, stride: int) -> str:
        dw, pw, b = w[f"{prefix}/depthwise_filter"], w[f"{prefix}/pointwise_filter"], w[f"{prefix}/bias"]
        return g.separable(x, dw, pw, b, prefix.replace("/", "."), strides=[stride, stride], pads=same_pads(stride))

    # (N, 1, 112, 112) gray -> (N, 3, 112, 112) normalised RGB with R = G = B.
    x = g.op("Sub", [INPUT, g.const("mean", MEAN_RGB.reshape(1, 3, 1, 1))], "centred")
    x = g.op("Mul", [x, g.const("inv255", np.array(1 / 255.0))], "normalised")
    for block in range(4):
        prefix = f"dense{block}"
        if block == 0:
            f, b = w[f"{prefix}/conv0/filters"], w[f"{prefix}/conv0/bias"]
            c0 = g.op("Conv", [x, g.const(f"{prefix}.conv0.w", f.transpose(3, 2, 0, 1)), g.const(f"{prefix}.conv0.b", b)],
                      f"{prefix}.c0", kernel_shape=[3, 3], strides=[2, 2], pads=same_pads(2))
        else:
            c0 = separable(x, f"{prefix}/conv0", 2)
        out1 = g.op("Relu", [c0], f"{prefix}.out1")
        total = out1
        for k in range(1, 4):
            outk = separable(total if k == 1 else g.op("Relu", [total], f"{prefix}.in{k + 1}"), f"{prefix}/conv{k}", 1)
            total = g.op("Add", [total, outk], f"{prefix}.sum{k}")
        x = g.op("Relu", [total], f"{prefix}.relu")
    pooled = g.op("AveragePool", [x], "pooled", kernel_shape=[7, 7], strides=[2, 2])  # (N, 256, 1, 1)
    flat = g.op("Flatten", [pooled], "features", axis=1)  # (N, 256)
    g.op("Gemm", [flat, g.const("fc.w", w["fc/weights"]), g.const("fc.b", w["fc/bias"])], OUTPUT)  # (N, 136)

    return g.model(
        "face_landmark_68",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["n", 1, SIDE, SIDE])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["n", 136])],
        "face-api.js 68-point face landmark net (MIT, Vincent Muehler), converted by ferops infra/face-detector/convert_landmarks.py",
    )


def main(argv: list[str]) -> int:
    return convert(argv, __doc__.strip().splitlines()[3], build_graph, MODEL)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
