"""Multi-process training under torchrun: which process this is, the process group, and the few collectives the
loop needs. With one process every helper is a no-op, so the single-process path is unchanged."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import Mapping

import torch
import torch.distributed as torch_dist

from .errors import bad_config

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _int_env(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise bad_config(f"{name}={raw!r} is not an integer; launch with torchrun, which sets it") from None


def from_env(env: Mapping[str, str] = os.environ) -> Dist:
    """The process's place in the group, from the variables torchrun sets (absent = a single process)."""
    world = _int_env(env, "WORLD_SIZE", 1)
    d = Dist(rank=_int_env(env, "RANK", 0), world_size=world, local_rank=_int_env(env, "LOCAL_RANK", 0),
             local_world_size=_int_env(env, "LOCAL_WORLD_SIZE", world))
    if world < 1 or not 0 <= d.rank < world or not 0 <= d.local_rank < d.local_world_size:
        raise bad_config(f"inconsistent torchrun environment: RANK={d.rank} LOCAL_RANK={d.local_rank} "
                         f"WORLD_SIZE={world} LOCAL_WORLD_SIZE={d.local_world_size}")
    return d


def _die_with_launcher() -> None:
    # torchrun starts each worker in its own session, so a SIGKILL to the launcher's process group (the activity's
    # last resort) would orphan the workers; the kernel kills them when their launcher dies instead.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def init(d: Dist, device: torch.device) -> None:
    """Joins the process group: gradients (CUDA tensors) go through nccl, the loop's flags and sums (CPU
    tensors) through gloo, so that agreeing on them never waits for the GPU's queue to drain."""
    if not d.enabled:
        return
    _die_with_launcher()
    if device.type == "cuda":
        torch_dist.init_process_group("cpu:gloo,cuda:nccl", device_id=device)
    else:
        torch_dist.init_process_group("gloo")
    log.info("rank %d of %d joined the process group on %s", d.rank, d.world_size, device)


def shutdown(d: Dist) -> None:
    if d.enabled and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def barrier(d: Dist) -> None:
    if d.enabled:
        torch_dist.barrier()


def all_sum(d: Dist, values: list[float]) -> list[float]:
    """Element-wise sum over ranks, in float64 so that sample counts and loss sums stay exact enough."""
    if not d.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    torch_dist.all_reduce(t, op=torch_dist.ReduceOp.SUM)
    return t.tolist()


def any_rank(d: Dist, flag: bool) -> bool:
    """True on every rank if it is true on any: ranks must agree to stop at the same optimizer step."""
    if not d.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], dtype=torch.int32)
    torch_dist.all_reduce(t, op=torch_dist.ReduceOp.MAX)
    return bool(t.item())


def shard(n: int, d: Dist) -> slice:
    """This rank's contiguous share of `n` items (sizes differ by at most one; a share may be empty)."""
    start = n * d.rank // d.world_size
    return slice(start, n * (d.rank + 1) // d.world_size)
