"""Batched, on-device augmentation: one affine warp per image (random resized crop + flip + rotation) and
random erasing, all drawn from one generator so that a resumed run replays the same randomness."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import AugmentConfig


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen, device=device)


def random_affine(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """x (B, 1, H, W) in [0, 1] -> same shape. A single grid_sample replaces three separate resampling passes."""
    b, device = x.shape[0], x.device
    scale = _uniform(b, cfg.crop_scale_min, 1.0, gen, device)  # side fraction kept by the crop
    # The crop window must stay inside the image: its centre moves at most (1 - scale) in normalised coords.
    tx = _uniform(b, -1.0, 1.0, gen, device) * (1.0 - scale)
    ty = _uniform(b, -1.0, 1.0, gen, device) * (1.0 - scale)
    angle = _uniform(b, -1.0, 1.0, gen, device) * math.radians(cfg.rotation_degrees)
    flip = torch.where(torch.rand(b, generator=gen, device=device) < 0.5, -1.0, 1.0) if cfg.hflip \
        else torch.ones(b, device=device)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([
        torch.stack([cos * flip, -sin, tx], dim=1),
        torch.stack([sin * flip, cos, ty], dim=1),
    ], dim=1)  # (B, 2, 3): output pixel -> input sampling position
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # border padding: rotated corners repeat the edge instead of introducing black wedges no real face has.
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def random_erase(x: torch.Tensor, prob: float, gen: torch.Generator) -> torch.Tensor:
    """Blanks one random rectangle (2-20 % of the area, aspect 0.3-3.3) with noise-level grey, per image."""
    b, _, h, w = x.shape
    device = x.device
    apply = torch.rand(b, generator=gen, device=device) < prob
    area = _uniform(b, 0.02, 0.2, gen, device)
    log_aspect = _uniform(b, math.log(0.3), math.log(3.3), gen, device)
    eh = (torch.sqrt(area * torch.exp(log_aspect)) * h).clamp(1, h)
    ew = (torch.sqrt(area / torch.exp(log_aspect)) * w).clamp(1, w)
    y0 = torch.rand(b, generator=gen, device=device) * (h - eh)
    x0 = torch.rand(b, generator=gen, device=device) * (w - ew)
    fill = torch.rand(b, generator=gen, device=device).view(b, 1, 1, 1)
    rows = torch.arange(h, device=device).view(1, h, 1)
    cols = torch.arange(w, device=device).view(1, 1, w)
    inside = ((rows >= y0.view(b, 1, 1)) & (rows < (y0 + eh).view(b, 1, 1))
              & (cols >= x0.view(b, 1, 1)) & (cols < (x0 + ew).view(b, 1, 1)))  # (B, H, W)
    mask = (inside & apply.view(b, 1, 1)).unsqueeze(1)  # (B, 1, H, W)
    return torch.where(mask, fill.to(x.dtype), x)


def augment(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    if not cfg.enabled:
        return x
    x = random_affine(x, cfg, gen)
    if cfg.erase_prob > 0:
        x = random_erase(x, cfg.erase_prob, gen)
    return x
