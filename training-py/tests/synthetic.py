"""Test fixture: draws class-dependent, face-like 48x48 patterns into FER-format dataset directories.

Each class has its own mouth and brow shape (happy smiles, sad frowns, surprise has an open "O" and raised
brows, ...) on a face of random position, size, brightness and noise, so a model must learn shapes, not pixels.
"""

from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np

SIZE = 48
_yy, _xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)


def _stroke(img: np.ndarray, xs: np.ndarray, ys: np.ndarray, value: float, width: float = 1.5) -> None:
    """Darkens pixels within `width` of the polyline sampled at (xs, ys)."""
    for x, y in zip(xs, ys):
        mask = (_xx - x) ** 2 + (_yy - y) ** 2 <= width ** 2
        img[mask] = value


def _face(label: int, rng: np.random.Generator) -> np.ndarray:
    img = rng.uniform(20, 90) + rng.normal(0, 8, (SIZE, SIZE))
    cx, cy = 24 + rng.uniform(-2, 2), 24 + rng.uniform(-2, 2)
    rx, ry = rng.uniform(14, 18), rng.uniform(17, 21)
    skin = rng.uniform(140, 210)
    img[((_xx - cx) / rx) ** 2 + ((_yy - cy) / ry) ** 2 <= 1] = skin
    dark = skin - rng.uniform(90, 130)
    eye_dy, eye_dx = -5 + rng.uniform(-1, 1), 6 + rng.uniform(-1, 1)
    for side in (-1, 1):
        _stroke(img, np.array([cx + side * eye_dx]), np.array([cy + eye_dy]), dark, width=1.8)
        # brows: slope and height carry the class
        t = np.linspace(-3, 3, 7)
        lift = {5: -4.0, 2: -3.0}.get(label, 0.0)
        slope = {0: -0.5, 4: 0.4, 2: 0.2}.get(label, 0.0)
        _stroke(img, cx + side * eye_dx + t, cy + eye_dy - 4 + lift + side * slope * t, dark, width=0.9)
    my, t = cy + 9 + rng.uniform(-1, 1), np.linspace(-6, 6, 13)
    if label == 3:    # happy: smile
        _stroke(img, cx + t, my + 3 - 0.08 * t ** 2, dark)
    elif label == 4:  # sad: frown
        _stroke(img, cx + t, my - 1 + 0.08 * t ** 2, dark)
    elif label == 5:  # surprise: open O
        a = np.linspace(0, 2 * np.pi, 24)
        _stroke(img, cx + 3 * np.cos(a), my + 3.5 * np.sin(a), dark)
    elif label == 2:  # fear: wide open rectangle-ish mouth
        _stroke(img, cx + t, np.full_like(t, my - 1), dark)
        _stroke(img, cx + t, np.full_like(t, my + 2), dark)
    elif label == 1:  # disgust: zig-zag, one-sided
        _stroke(img, cx + t * 0.8 + 2, my + 1.5 * np.sign(np.sin(t * 1.5)), dark)
    elif label == 0:  # angry: short tight line
        _stroke(img, cx + t * 0.5, np.full_like(t, my), dark, width=1.5)
    else:             # neutral: long flat line
        _stroke(img, cx + t, np.full_like(t, my), dark, width=0.9)
    img = img * rng.uniform(0.85, 1.15) + rng.normal(0, 6, (SIZE, SIZE))
    return np.clip(img, 0, 255).astype(np.uint8)


def make_split(n: int, rng: np.random.Generator, weights: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.choice(7, size=n, p=weights).astype(np.uint8)
    images = np.stack([_face(int(y), rng) for y in labels]).astype(np.uint8)  # (N, 48, 48)
    return images, labels


def write_dataset(root: str, train: int = 700, val: int = 210, test: int = 210, seed: int = 0,
                  imbalanced: bool = False) -> str:
    """Writes `<root>` in the dataset-directory format; `imbalanced` makes 'disgust' rare, as in FER2013."""
    rng = np.random.default_rng(seed)
    weights = None
    if imbalanced:
        weights = np.array([1.0, 0.2, 1.0, 1.5, 1.0, 1.0, 1.2])
        weights = weights / weights.sum()
    os.makedirs(root, exist_ok=True)
    counts = {}
    for name, n in (("train", train), ("val", val), ("test", test)):
        images, labels = make_split(n, rng, weights)
        np.save(os.path.join(root, f"{name}_images.npy"), images)
        np.save(os.path.join(root, f"{name}_labels.npy"), labels)
        counts[name] = n
    with open(os.path.join(root, "manifest.json"), "w", encoding="utf-8") as fh:
        json.dump({"source": "pytest-synthetic", "hash": f"synthetic-{seed}-{train}-{val}-{test}", "counts": counts}, fh)
    return root
