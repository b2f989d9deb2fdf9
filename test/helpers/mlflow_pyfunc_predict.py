"""Loads a registered model through MLflow's Python client and prints its predictions, for the Node test that
checks a model logged by the TypeScript client really is a working pyfunc model.

Usage: MLFLOW_TRACKING_URI=http://... python mlflow_pyfunc_predict.py <model_uri> <pixels.f32> <count>

<pixels.f32> holds count*1*48*48 little-endian float32 values in [0, 1] (what Node feeds onnxruntime).
Prints one JSON object: {"logits": [[...7 floats...], ...], "top": [class index, ...]}.
"""

import json
import sys

import mlflow.pyfunc
import numpy as np


def main(model_uri: str, pixels_path: str, count: int) -> None:
    pixels = np.fromfile(pixels_path, dtype="<f4").reshape(count, 1, 48, 48)  # (B, 1, 48, 48)
    model = mlflow.pyfunc.load_model(model_uri)
    out = model.predict(pixels)
    # An ndarray input gives {output_name: array} from the onnx pyfunc wrapper.
    logits = np.asarray(out["logits"] if isinstance(out, dict) else out, dtype=np.float32)  # (B, 7)
    print(json.dumps({"logits": logits.tolist(), "top": logits.argmax(axis=1).tolist()}))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: mlflow_pyfunc_predict.py <model_uri> <pixels.f32> <count>")
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
