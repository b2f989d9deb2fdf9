"""Reads one dataset version directory (the format ingest writes) into uint8 tensors, validating as it goes."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import torch

from .errors import bad_dataset
from .labels import FACE_SIZE, NUM_CLASSES

SPLITS = ("train", "val", "test")


@dataclass
class Split:
    images: torch.Tensor  # (N, 48, 48) uint8
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class Dataset:
    root: str
    splits: dict[str, Split]
    fingerprint: str  # identifies the data a checkpoint was trained on

    @property
    def train(self) -> Split:
        return self.splits["train"]

    @property
    def val(self) -> Split:
        return self.splits["val"]

    @property
    def test(self) -> Split:
        return self.splits["test"]


def _load_array(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise bad_dataset(f"missing dataset file {path}; is this a directory written by the ingest stage?")
    try:
        # memmap: the file is validated from its header before anything is read into memory.
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise bad_dataset(f"{path} is not a readable .npy file: {exc}") from None


def _load_split(root: str, name: str) -> Split:
    images = _load_array(os.path.join(root, f"{name}_images.npy"))
    labels = _load_array(os.path.join(root, f"{name}_labels.npy"))
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise bad_dataset(f"{name}_images.npy must be uint8 (N, {FACE_SIZE}, {FACE_SIZE}), "
                          f"got {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise bad_dataset(f"{name}_labels.npy must be uint8 (N,), got {labels.dtype} {labels.shape}")
    if images.shape[0] != labels.shape[0]:
        raise bad_dataset(f"{name} split has {images.shape[0]} images but {labels.shape[0]} labels")
    if labels.shape[0] == 0:
        raise bad_dataset(f"{name} split is empty")
    labels_np = np.asarray(labels)
    if int(labels_np.max()) >= NUM_CLASSES:
        raise bad_dataset(f"{name}_labels.npy holds label {int(labels_np.max())}; valid labels are 0..{NUM_CLASSES - 1}")
    # np.array copies the memmap into (writable, C-order) memory that torch can own.
    return Split(images=torch.from_numpy(np.array(images, order="C")),
                 labels=torch.from_numpy(labels_np.astype(np.int64)))


def _fingerprint(root: str, splits: dict[str, Split]) -> str:
    manifest = os.path.join(root, "manifest.json")
    if os.path.isfile(manifest):
        try:
            with open(manifest, encoding="utf-8") as fh:
                data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise bad_dataset(f"{manifest} is not valid JSON: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("hash"), str):
            return data["hash"]
    # No content hash from ingest: hash the labels and a strided sample of pixels (cheap, and enough to catch
    # resuming on a different dataset).
    digest = hashlib.sha256()
    for name in SPLITS:
        split = splits[name]
        digest.update(f"{name}:{len(split)}".encode())
        digest.update(split.labels.numpy().tobytes())
        digest.update(split.images.reshape(-1)[:: 997].numpy().tobytes())
    return "sha256:" + digest.hexdigest()


def load_data(dataset_dir: str) -> Dataset:
    """Loads train/val/test; raises TrainerError(bad_dataset) with the file and the problem on bad input."""
    if not os.path.isdir(dataset_dir):
        raise bad_dataset(f"dataset directory not found: {dataset_dir}")
    splits = {name: _load_split(dataset_dir, name) for name in SPLITS}
    return Dataset(root=dataset_dir, splits=splits, fingerprint=_fingerprint(dataset_dir, splits))


def class_weights(labels: torch.Tensor) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over present classes; FER2013's 'disgust' is ~1.5 % of the data."""
    counts = torch.bincount(labels, minlength=NUM_CLASSES).float()  # (7,)
    weights = counts.sum() / (NUM_CLASSES * counts.clamp(min=1))
    weights[counts == 0] = 0.0  # an absent class contributes no loss either way
    return weights
