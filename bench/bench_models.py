"""Writes a serving model directory for a benchmark, with random weights, through the trainer's own code.

    python bench/bench_models.py <tiny|small|base> <out_dir> [--seed 0] [--opset 17]

The architecture comes from `build_model` (the named preset, as `npm run demo` trains "tiny") and the graph from
`export_onnx`, so the ONNX file is exactly what serving gets from a trained run: only the weight values differ,
and the speed of a dense ViT does not depend on them. `model.int8.onnx` comes from the trainer's own
`quantize_int8`, unconditionally: the trainer's agreement gate needs validation images, and the model ladder bench
measures agreement itself. `labels.json` and `preprocess.json` are written as the trainer writes them; no
metrics.json.
Prints one JSON line with the written paths.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "training-py"))

import torch  # noqa: E402

from ferops_trainer.config import NAMED_SIZES, ModelConfig  # noqa: E402
from ferops_trainer.export import export_onnx, quantize_int8  # noqa: E402
from ferops_trainer.labels import LABELS  # noqa: E402
from ferops_trainer.model import build_model  # noqa: E402
from ferops_trainer.model_dir import _write_json, preprocess_spec  # noqa: E402


def write_bench_model(size: str, out_dir: str, seed: int, opset: int) -> dict[str, str]:
    if size not in NAMED_SIZES:
        raise SystemExit(f"size must be one of {', '.join(NAMED_SIZES)}, got {size!r}")
    torch.manual_seed(seed)  # random weights, but the same file for the same inputs
    model, spec = build_model(ModelConfig(base=size))
    os.makedirs(out_dir, exist_ok=True)
    onnx = export_onnx(model, os.path.join(out_dir, "model.onnx"), opset)
    return {
        "onnx": onnx,
        "int8": quantize_int8(onnx, os.path.join(out_dir, "model.int8.onnx")),
        "labels": _write_json(os.path.join(out_dir, "labels.json"), list(LABELS)),
        "preprocess": _write_json(os.path.join(out_dir, "preprocess.json"), preprocess_spec(spec)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("size", choices=NAMED_SIZES)
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args()
    paths = write_bench_model(args.size, args.out_dir, args.seed, args.opset)
    print(json.dumps({"size": args.size, "weights": "random", **paths}))


if __name__ == "__main__":
    main()
