"""Device, precision and thread set-up, and the one seed applied everywhere."""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .errors import TrainerError


@dataclass
class Runtime:
    device: torch.device
    amp_dtype: Optional[torch.dtype]  # bf16 autocast on CUDA when supported; None = plain fp32

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)


def resolve_runtime(device: str, num_threads: Optional[int], local_rank: int = 0, local_world_size: int = 1) -> Runtime:
    """`local_rank` picks this process's GPU; the cores are shared among the host's `local_world_size` processes
    (unless `num_threads` says otherwise), so that several ranks on one CPU host do not thrash."""
    torch.set_num_threads(num_threads or max(1, (os.cpu_count() or 1) // local_world_size))
    if device == "cuda" and not torch.cuda.is_available():
        raise TrainerError("no_gpu", "device=cuda but no CUDA GPU is visible to torch "
                           f"(torch {torch.__version__}); pass device=cpu or device=auto, or run on a GPU host")
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return Runtime(torch.device("cpu"), None)
    if local_world_size > torch.cuda.device_count():  # checked on every rank alike, so rank 0 reports it
        raise TrainerError("no_gpu", f"{local_world_size} processes on this host need a GPU each, but torch sees "
                           f"{torch.cuda.device_count()}; launch at most that many processes per host (nproc)")
    torch.cuda.set_device(local_rank)
    torch.backends.cuda.matmul.allow_tf32 = True  # fp32 leftovers (loss, optimizer) use TF32 tensor cores
    torch.backends.cudnn.allow_tf32 = True
    amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return Runtime(torch.device("cuda", local_rank), amp)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def epoch_seed(seed: int, epoch: int) -> int:
    """Per-epoch seed for data order and augmentation: an epoch replays identically whether or not the run
    was resumed before it."""
    return (seed * 1_000_003 + epoch) % 2**63
