"""Training throughput: a plain fp32 eager HuggingFace-style loop vs the ferops trainer's step, same run.

    python bench/gpu_train_throughput.py                       # GPU: ViT-B/16 at 224, batch 64
    python bench/gpu_train_throughput.py --size tiny --steps 3 # what CI runs on CPU (< 60 s)

Baseline ("hf"): ViTForImageClassification with eager attention, images preprocessed on the host (float,
resized, 3 channels, normalised, as an HF image processor would) and copied to the device each step, fp32
(TF32 off), torch.optim.AdamW with its default (foreach) kernel.
Ours ("ferops"): the trainer's own pieces (ferops_trainer.engine.compute_loss, build_optimizer, FaceViT):
uint8 faces resident on the device, on-device augmentation and resize inside the model, bf16 autocast, fused
AdamW, SDPA attention, TF32 for fp32 leftovers and torch.compile (GPU only unless --compile on CPU).
Prints one JSON line with both images/s and the ratio (stdout), progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "training-py"))

from ferops_trainer.config import AugmentConfig, ModelConfig, TrainConfig  # noqa: E402
from ferops_trainer.device import Runtime  # noqa: E402
from ferops_trainer.engine import build_optimizer, compute_loss  # noqa: E402
from ferops_trainer.labels import NUM_CLASSES  # noqa: E402
from ferops_trainer.model import PRESETS, build_model  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(step, device: torch.device, warmup: int, steps: int, batch: int) -> float:
    for _ in range(warmup):  # includes torch.compile's first-call compilation
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def hf_baseline(args, device: torch.device, faces: torch.Tensor, labels: torch.Tensor) -> float:
    from transformers import ViTConfig, ViTForImageClassification
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    preset = {**PRESETS[args.size], "image_size": args.image_size, "patch_size": args.patch_size}
    config = ViTConfig(**preset, num_labels=NUM_CLASSES, attn_implementation="eager")
    model = ViTForImageClassification(config).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    # Host-side preprocessing, once (the processor's cost is not even charged to the baseline).
    x = F.interpolate(faces[: args.batch].unsqueeze(1).float() / 255, size=(args.image_size,) * 2,
                      mode="bilinear", align_corners=False).expand(-1, 3, -1, -1)
    pixel_values = ((x - 0.5) / 0.5).contiguous()
    if device.type == "cuda":
        pixel_values = pixel_values.pin_memory()
    y = labels[: args.batch]

    def step() -> None:
        out = model(pixel_values=pixel_values.to(device, non_blocking=True), labels=y.to(device))
        out.loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return timed(step, device, args.warmup, args.steps, args.batch)


def ferops_step(args, device: torch.device, faces: torch.Tensor, labels: torch.Tensor) -> float:
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    amp = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    rt = Runtime(device, amp)
    model, _ = build_model(ModelConfig(base=args.size, image_size=args.image_size, patch_size=args.patch_size))
    model = model.to(device).train()
    cfg = TrainConfig(batch_size=args.batch, lr=1e-4, augment=AugmentConfig(enabled=True))  # crop/flip/rotate/erase
    opt = build_optimizer(model, cfg, rt)  # fused AdamW on CUDA
    forward = torch.compile(model) if args.compile else model
    gen = torch.Generator(device=device).manual_seed(0)
    py_rng = random.Random(0)
    images, targets = faces.to(device), labels.to(device)  # resident uint8, as in the trainer
    n = images.shape[0]

    def step() -> None:
        idx = torch.randint(0, n, (args.batch,), device=device, generator=gen)
        loss = compute_loss(forward, images[idx], targets[idx], cfg, gen, py_rng, None, rt)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    return timed(step, device, args.warmup, args.steps, args.batch)


def main() -> None:
    gpu = torch.cuda.is_available()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(PRESETS), default="base" if gpu else "tiny")
    p.add_argument("--image-size", type=int, default=None, help="default: the preset's")
    p.add_argument("--patch-size", type=int, default=None, help="default: the preset's")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=30 if gpu else 3)
    p.add_argument("--warmup", type=int, default=10 if gpu else 1)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile our step (default: on for CUDA, off for CPU)")
    args = p.parse_args()
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and gpu) else "cpu")
    if device.type == "cuda" and not gpu:
        sys.exit("no CUDA GPU visible: pass --device cpu")
    args.image_size = args.image_size or PRESETS[args.size]["image_size"]
    args.patch_size = args.patch_size or PRESETS[args.size]["patch_size"]
    if args.compile is None:
        args.compile = device.type == "cuda"
    torch.manual_seed(0)
    faces = torch.randint(0, 256, (max(1024, args.batch * 4), 48, 48), dtype=torch.uint8)
    labels = torch.randint(0, NUM_CLASSES, (faces.shape[0],))
    log(f"device={device} size={args.size} image={args.image_size} patch={args.patch_size} batch={args.batch} "
        f"steps={args.steps} compile={args.compile}")
    hf = hf_baseline(args, device, faces, labels)
    log(f"hf fp32 eager: {hf:.1f} images/s")
    ours = ferops_step(args, device, faces, labels)
    log(f"ferops step:   {ours:.1f} images/s")
    print(json.dumps({
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu", "torch": torch.__version__,
        "size": args.size, "image_size": args.image_size, "patch_size": args.patch_size, "batch": args.batch,
        "steps": args.steps, "compile": args.compile, "hf_fp32_eager_images_per_s": round(hf, 1),
        "ferops_images_per_s": round(ours, 1), "speedup": round(ours / hf, 3),
    }))


if __name__ == "__main__":
    main()
