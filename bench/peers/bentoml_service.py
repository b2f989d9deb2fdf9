"""The BentoML peer of bench/inference-peers.ts: the ferops model.onnx behind BentoML's own idioms.

  python -m bentoml serve bentoml_service:FerPeer --arg model=<model.onnx> [--arg workers=N] [--arg ort_threads=N]

An image parameter (PIL.Image) is BentoML's way to take an upload, so clients POST multipart/form-data with the
PNG in the field `image` (BentoML has no raw-body image input). The API is batchable: BentoML's adaptive batcher
merges concurrent requests into one onnxruntime call of up to 16 faces.
"""

from __future__ import annotations

import bentoml
import numpy as np
import onnxruntime as ort
from PIL import Image

ARGS = bentoml.use_arguments()
# Tuned on the 2-core dev machine (1 or 2 workers x ORT intra-op threads 1 or default, interleaved rounds): one worker
# with ORT's default threads is the best with ViT-B/16, where one face already keeps both cores busy and a second
# worker splits the batches and runs a second ORT pool on the same cores; with the demo model all four were within
# noise of each other. Overridable with --arg workers=N --arg ort_threads=N.
WORKERS = int(getattr(ARGS, "workers", 1))
ORT_THREADS = int(getattr(ARGS, "ort_threads", 0))  # 0: onnxruntime's default (one per core)


@bentoml.service(workers=WORKERS, traffic={"timeout": 60})
class FerPeer:
    def __init__(self) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = ORT_THREADS
        self.session = ort.InferenceSession(ARGS.model, options, providers=["CPUExecutionProvider"])

    # max_latency_ms as long as the bench client waits: the batcher sheds requests it expects to miss it, and a
    # shed request would count as a failure rather than as the throughput the server can sustain.
    @bentoml.api(batchable=True, max_batch_size=16, max_latency_ms=60_000)
    def classify(self, image: list[Image.Image]) -> np.ndarray:
        faces = [np.asarray(im.convert("L").resize((48, 48)), dtype=np.float32) for im in image]
        (logits,) = self.session.run(["logits"], {"pixels": np.stack(faces)[:, None] / np.float32(255)})
        return logits
