"""The MLflow peer of bench/inference-peers.ts: a pyfunc model that takes PNG bytes, around the ferops model.onnx.

  python mlflow_png_model.py <model.onnx> <out dir>   # writes an MLflow model dir (models-from-code)

MLflow's scoring server takes JSON only, so the image bytes travel as base64 strings in a DataFrame column
`image` (`{"dataframe_split": {"columns": ["image"], "data": [["<base64 PNG>"]]}}`): the least a client can send.
Each row is decoded with PIL to a 48x48 grayscale face in [0, 1]; the rows run as one onnxruntime batch.
FEROPS_PEER_ORT_THREADS sets onnxruntime's intra-op threads per worker (unset or 0: its default).
"""

from __future__ import annotations

import base64
import io
import os
import sys

import mlflow
import numpy as np
import pandas as pd
from PIL import Image


class PngOnnx(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(os.environ.get("FEROPS_PEER_ORT_THREADS", "0"))
        self.session = ort.InferenceSession(context.artifacts["onnx"], options, providers=["CPUExecutionProvider"])

    def predict(self, context, model_input: pd.DataFrame, params=None):
        faces = [
            np.asarray(Image.open(io.BytesIO(base64.b64decode(b))).convert("L").resize((48, 48)), dtype=np.float32)
            for b in model_input["image"]
        ]
        (logits,) = self.session.run(["logits"], {"pixels": np.stack(faces)[:, None] / np.float32(255)})
        return logits


mlflow.models.set_model(PngOnnx())

if __name__ == "__main__":
    onnx_file, out_dir = sys.argv[1], sys.argv[2]
    from mlflow.models import infer_signature

    example = pd.DataFrame({"image": [base64.b64encode(b"\x89PNG").decode()]})
    mlflow.pyfunc.save_model(
        out_dir,
        python_model=__file__,
        artifacts={"onnx": onnx_file},
        signature=infer_signature(example, np.zeros((1, 7), np.float32)),
        # Served with --env-manager local from the project venv: no requirement inference (it loads the model).
        pip_requirements=[f"mlflow=={mlflow.__version__}", "onnxruntime", "pillow"],
    )
