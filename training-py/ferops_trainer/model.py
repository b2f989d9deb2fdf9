"""The ViT and the one wrapper module that turns 48x48 grayscale faces into logits.

The wrapper is trained *and* exported, so the resize / 3-channel / normalise steps that serving relies on are
the same operations the model saw during training (no preprocessing copy in TypeScript to drift apart).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .config import NAMED_SIZES, ModelConfig
from .errors import bad_config
from .labels import ID2LABEL, LABEL2ID, NUM_CLASSES

# Named random-init sizes. "tiny" is sized to learn visibly in ~90 s on 2 CPU cores; "small"/"base" are
# ViT-S/16 and ViT-B/16 at 224 (the shapes of the usual pretrained checkpoints).
PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(hidden_size=96, num_hidden_layers=3, num_attention_heads=4, intermediate_size=192,
                 image_size=48, patch_size=8),
    "small": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536,
                  image_size=224, patch_size=16),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
                 image_size=224, patch_size=16),
}
DEFAULT_MEAN = (0.5, 0.5, 0.5)  # what google/vit-* checkpoints were trained with
DEFAULT_STD = (0.5, 0.5, 0.5)


@dataclass
class ModelSpec:
    """Everything needed to rebuild the model without the hub: goes into checkpoints and preprocess.json."""
    vit_config: dict[str, Any]
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str  # the model.base it was built from

    def to_dict(self) -> dict[str, Any]:
        return {"vit_config": self.vit_config, "image_size": self.image_size, "mean": list(self.mean),
                "std": list(self.std), "source": self.source}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelSpec":
        return cls(vit_config=data["vit_config"], image_size=int(data["image_size"]), mean=tuple(data["mean"]),
                   std=tuple(data["std"]), source=data["source"])


class FaceViT(nn.Module):
    """pixels (B, 1, 48, 48) float32 in [0, 1] -> logits (B, 7)."""

    def __init__(self, vit: nn.Module, image_size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.vit = vit
        self.image_size = image_size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels  # (B, 1, 48, 48)
        if self.image_size != x.shape[-1]:
            # bilinear without antialias: maps to a plain ONNX Resize, so onnxruntime matches PyTorch.
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        x = x.expand(-1, 3, -1, -1)  # (B, 3, S, S): grayscale into the RGB channels pretrained ViTs expect
        x = (x - self.mean) / self.std
        return self.vit(pixel_values=x).logits  # (B, 7)


def _vit_classes():
    from transformers import ViTConfig, ViTForImageClassification
    return ViTConfig, ViTForImageClassification


def _read_mean_std(model_dir: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    path = os.path.join(model_dir, "preprocessor_config.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        mean, std = data.get("image_mean"), data.get("image_std")
        if isinstance(mean, list) and isinstance(std, list) and len(mean) == 3 and len(std) == 3:
            return tuple(float(v) for v in mean), tuple(float(v) for v in std)
    return DEFAULT_MEAN, DEFAULT_STD


def _random_init(cfg: ModelConfig) -> tuple[nn.Module, int, str]:
    ViTConfig, ViTForImageClassification = _vit_classes()
    preset = dict(PRESETS[cfg.base])
    if cfg.image_size is not None:
        preset["image_size"] = cfg.image_size
    if cfg.patch_size is not None:
        preset["patch_size"] = cfg.patch_size
    if preset["image_size"] % preset["patch_size"]:
        raise bad_config(f"model.image_size ({preset['image_size']}) must be a multiple of "
                         f"model.patch_size ({preset['patch_size']})")
    vit_config = ViTConfig(**preset, num_labels=NUM_CLASSES, id2label=ID2LABEL, label2id=LABEL2ID)
    return ViTForImageClassification(vit_config), preset["image_size"], cfg.base


def _from_pretrained(cfg: ModelConfig) -> tuple[nn.Module, int]:
    _, ViTForImageClassification = _vit_classes()
    if os.path.isdir(cfg.base) and not os.path.isfile(os.path.join(cfg.base, "config.json")):
        raise bad_config(f"model.base {cfg.base} is a directory without config.json; "
                         "pass a directory written by save_pretrained, a hub id, or tiny/small/base")
    try:
        vit = ViTForImageClassification.from_pretrained(
            cfg.base, num_labels=NUM_CLASSES, id2label=ID2LABEL, label2id=LABEL2ID, ignore_mismatched_sizes=True)
    except (OSError, ValueError) as exc:
        raise bad_config(f"could not load model.base {cfg.base!r} ({exc}); offline, use a local save_pretrained "
                         "directory or a named size (tiny/small/base)") from None
    own_size, own_patch = int(vit.config.image_size), int(vit.config.patch_size)
    for key, wanted, own in (("image_size", cfg.image_size, own_size), ("patch_size", cfg.patch_size, own_patch)):
        if wanted is not None and wanted != own:
            raise bad_config(f"model.{key}={wanted} differs from the pretrained model's {own}; leave it unset")
    return vit, own_size


def build_model(cfg: ModelConfig) -> tuple[FaceViT, ModelSpec]:
    """Random init at a named size, or from_pretrained from a hub id / local directory."""
    if cfg.base in NAMED_SIZES:
        vit, image_size, source = _random_init(cfg)
        mean, std = DEFAULT_MEAN, DEFAULT_STD
    else:
        vit, image_size = _from_pretrained(cfg)
        source = os.path.abspath(cfg.base) if os.path.isdir(cfg.base) else cfg.base
        mean, std = _read_mean_std(cfg.base) if os.path.isdir(cfg.base) else (DEFAULT_MEAN, DEFAULT_STD)
    spec = ModelSpec(vit_config=vit.config.to_dict(), image_size=image_size, mean=tuple(mean), std=tuple(std),
                     source=source)
    return FaceViT(vit, image_size, mean, std), spec


def model_from_spec(spec: ModelSpec) -> FaceViT:
    """Rebuilds the architecture recorded in a checkpoint (weights are loaded separately); needs no hub."""
    ViTConfig, ViTForImageClassification = _vit_classes()
    vit = ViTForImageClassification(ViTConfig.from_dict(spec.vit_config))
    return FaceViT(vit, spec.image_size, spec.mean, spec.std)

