"""The training loop: optimizer, schedule, loss, one epoch, evaluation, and the state a checkpoint holds."""

from __future__ import annotations

import contextlib
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from . import distributed
from .augment import augment
from .config import TrainConfig
from .data import Split
from .device import Runtime, epoch_seed
from .distributed import Dist
from .events import EventWriter

log = logging.getLogger(__name__)


def build_optimizer(model: nn.Module, cfg: TrainConfig, rt: Runtime) -> torch.optim.AdamW:
    # No weight decay on biases, LayerNorm, position embeddings and the CLS token (as in timm / HF examples):
    # decaying them only fights the normalisation.
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "position_embeddings" in name or "cls_token" in name else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, fused=rt.device.type == "cuda")


def build_scheduler(optimizer: torch.optim.Optimizer, total_steps: int, warmup_ratio: float):
    warmup = int(round(total_steps * warmup_ratio))

    def factor(step: int) -> float:  # step = optimizer steps taken so far
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total_steps - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def to_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 48, 48) -> float32 (B, 1, 48, 48) in [0, 1]: the model-input convention."""
    return images.unsqueeze(1).float().div_(255.0)


def compute_loss(forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, labels: torch.Tensor,
                 cfg: TrainConfig, gen: torch.Generator, py_rng: random.Random,
                 weights: Optional[torch.Tensor], rt: Runtime) -> torch.Tensor:
    """Augment, (mix up), forward under autocast, label-smoothed class-weighted cross-entropy."""
    x = augment(to_pixels(images), cfg.augment, gen)  # (B, 1, 48, 48)
    mix = None
    if cfg.mixup > 0:
        lam = py_rng.betavariate(cfg.mixup, cfg.mixup)
        perm = torch.randperm(x.shape[0], generator=gen, device=x.device)
        x = lam * x + (1.0 - lam) * x[perm]
        mix = (lam, perm)
    with rt.autocast():
        logits = forward(x)  # (B, 7)
    logits = logits.float()  # loss in fp32 even under bf16 autocast

    def ce(target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, target, weight=weights, label_smoothing=cfg.label_smoothing)

    if mix is None:
        return ce(labels)
    lam, perm = mix
    return lam * ce(labels) + (1.0 - lam) * ce(labels[perm])


@torch.no_grad()
def predict_logits(model: nn.Module, images: torch.Tensor, rt: Runtime, batch_size: int,
                   on_batch: Callable[[], None] = lambda: None) -> torch.Tensor:
    """uint8 (N, 48, 48) -> float32 logits (N, 7) on the CPU, in eval mode; `on_batch` after each batch."""
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start:start + batch_size].to(rt.device, non_blocking=True)
        with rt.autocast():
            out.append(model(to_pixels(batch)).float().cpu())
        on_batch()
    model.train(was_training)
    return torch.cat(out)


def evaluate(model: nn.Module, split: Split, rt: Runtime, batch_size: int,
             on_batch: Callable[[], None] = lambda: None) -> tuple[float, float, torch.Tensor]:
    """Returns (loss, accuracy, predictions) on `split` with plain (unweighted, unsmoothed) cross-entropy."""
    logits = predict_logits(model, split.images, rt, batch_size, on_batch)
    loss = F.cross_entropy(logits, split.labels).item()
    preds = logits.argmax(dim=1)
    return loss, (preds == split.labels).float().mean().item(), preds


def validate(model: nn.Module, split: Split, rt: Runtime, batch_size: int, dist: Dist,
             on_batch: Callable[[], None] = lambda: None) -> tuple[float, float]:
    """(loss, accuracy) on `split`, each rank scoring its own shard; the summed counts make the accuracy equal
    to one process's on the same weights."""
    if not dist.enabled:
        loss, accuracy, _ = evaluate(model, split, rt, batch_size, on_batch)
        return loss, accuracy
    part = distributed.shard(len(split), dist)
    labels = split.labels[part]  # (n_rank,); empty when the split is smaller than the world
    loss_sum, correct = 0.0, 0
    if len(labels):
        logits = predict_logits(model, split.images[part], rt, batch_size, on_batch)  # (n_rank, 7)
        loss_sum = F.cross_entropy(logits, labels, reduction="sum").item()
        correct = (logits.argmax(dim=1) == labels).sum().item()
    loss_sum, correct = distributed.all_sum(dist, [loss_sum, float(correct)])
    return loss_sum / len(split), correct / len(split)


@dataclass
class LoopState:
    """Progress counters; together with model/optimizer/scheduler/RNG state it is what a checkpoint holds."""
    epochs_completed: int = 0
    step: int = 0  # optimizer steps over the whole run
    batch_in_epoch: int = 0  # micro-batches of the current epoch already trained (0 = at an epoch boundary)
    epoch_loss_sum: float = 0.0
    epoch_samples: int = 0
    epoch_train_seconds: float = 0.0
    best_val_accuracy: float = -1.0
    best_epoch: int = 0
    epochs_since_best: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Owns the model, optimizer, schedule and generators; trains one epoch at a time and can stop after any
    optimizer step (SIGTERM) with a state from which `resume` replays the rest exactly.

    With several processes each global batch (`cfg.batch_size` samples of the one world-size-independent epoch
    order) is split among the ranks, and the loss is scaled so that DDP's gradient average equals the gradient of
    the whole batch's loss: the run computes what one process would, up to float rounding."""

    def __init__(self, model: nn.Module, cfg: TrainConfig, seed: int, train: Split, rt: Runtime,
                 class_weights: Optional[torch.Tensor], dist: Dist = Dist()) -> None:
        self.model = model.to(rt.device)  # always the bare module: its state_dict is what checkpoints hold
        self.cfg, self.seed, self.rt, self.dist = cfg, seed, rt, dist
        self.images = train.images.to(rt.device)  # uint8 (N, 48, 48): the whole split lives on the device
        self.labels = train.labels.to(rt.device)
        self.weights = class_weights.to(rt.device) if class_weights is not None else None
        self.batches_per_epoch = math.ceil(len(train) / cfg.batch_size)
        self.steps_per_epoch = math.ceil(self.batches_per_epoch / cfg.grad_accum)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        if cfg.max_steps is not None:
            self.total_steps = min(self.total_steps, cfg.max_steps)
        self.optimizer = build_optimizer(self.model, cfg, rt)
        self.scheduler = build_scheduler(self.optimizer, self.total_steps, cfg.warmup_ratio)
        self.gen = torch.Generator(device=rt.device)  # augmentation + mixup permutation
        self.py_rng = random.Random()  # mixup's Beta draw (torch has no seeded Beta sampler)
        # No buffer broadcast before each forward: the ViT's buffers are constants, not running statistics.
        self.ddp = DistributedDataParallel(self.model, broadcast_buffers=False) if dist.enabled else None
        self.forward: Callable[[torch.Tensor], torch.Tensor] = self.model if self.ddp is None else self.ddp
        if cfg.compile:
            self.forward = torch.compile(self.forward)
        self.state = LoopState()

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def done_training(self) -> bool:
        return self.state.step >= self.total_steps or self.state.epochs_completed >= self.cfg.epochs

    def _start_epoch(self, epoch: int) -> None:
        s = epoch_seed(self.seed, epoch)
        self.gen.manual_seed(s + self.dist.rank)  # ranks augment their shards independently
        self.py_rng.seed(s)
        torch.manual_seed(s)  # dropout, if the (pretrained) config has any

    def _order(self, epoch: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
        return torch.randperm(self.labels.shape[0], generator=g)  # (N,) on the CPU, same on every device

    def train_one_epoch(self, events: EventWriter, should_stop: Callable[[], bool]) -> bool:
        """Trains (the rest of) epoch `epochs_completed + 1`; returns False if stopped before its end."""
        st, cfg = self.state, self.cfg
        epoch = st.epochs_completed + 1
        if st.batch_in_epoch == 0:
            self._start_epoch(epoch)
            st.epoch_loss_sum, st.epoch_samples, st.epoch_train_seconds = 0.0, 0, 0.0
        order = self._order(epoch)
        self.model.train()
        started = time.perf_counter()
        running = torch.zeros((), device=self.rt.device)  # summed on device: no per-step GPU sync
        micro = 0
        for b in range(st.batch_in_epoch, self.batches_per_epoch):
            batch = order[b * cfg.batch_size:(b + 1) * cfg.batch_size].to(self.rt.device)
            idx = batch[self.dist.rank::self.dist.world_size]  # this rank's share; all of it with one process
            micro += 1
            last = b + 1 == self.batches_per_epoch
            syncs = not micro % cfg.grad_accum or last
            with self._grad_sync(syncs):
                loss, share = self._micro_batch(batch, idx)
            running += share.detach() * batch.shape[0]  # summed over ranks: the batch's mean loss times its size
            st.epoch_samples += idx.shape[0]
            if not syncs:
                continue
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad(set_to_none=True)
            st.step += 1
            st.batch_in_epoch = b + 1
            if events.step_due():
                events.step(epoch=epoch, step=st.step, loss=loss.item(), lr=self.lr)
            if self.state.step >= self.total_steps:
                break
            if should_stop():
                st.epoch_loss_sum += running.item()
                st.epoch_train_seconds += time.perf_counter() - started
                return False
        st.epoch_loss_sum += running.item()
        st.epoch_train_seconds += time.perf_counter() - started
        st.batch_in_epoch = 0
        st.epochs_completed = epoch
        return True

    def _grad_sync(self, syncs: bool) -> contextlib.AbstractContextManager:
        # Accumulation micro-batches skip DDP's gradient all-reduce; the last one before a step carries it.
        return self.ddp.no_sync() if self.ddp is not None and not syncs else contextlib.nullcontext()

    def _micro_batch(self, batch: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward and backward of this rank's share `idx` of the global batch `batch`. Returns the share's mean
        loss and its part of the whole batch's mean loss (the parts sum to it over the ranks)."""
        cfg = self.cfg
        if idx.shape[0] == 0:
            # A last batch smaller than the world leaves this rank nothing, but DDP needs its gradient: a zero one,
            # from one borrowed face (the model cannot run on an empty batch).
            with self.rt.autocast():
                zero = self.forward(to_pixels(self.images[batch[:1]])).float().sum() * 0.0
            zero.backward()
            return zero, zero
        loss = compute_loss(self.forward, self.images[idx], self.labels[idx], cfg, self.gen, self.py_rng,
                            self.weights, self.rt)
        if not self.dist.enabled:
            (loss / cfg.grad_accum).backward()
            return loss, loss
        # Cross-entropy's mean divides by the summed class weights of the samples; rescaled from this share's sum
        # to the whole batch's, and times the world (DDP averages gradients), the gradient is the batch mean's.
        share = loss * (self._weight_sum(idx) / self._weight_sum(batch))
        (share * self.dist.world_size / cfg.grad_accum).backward()
        return loss, share

    def _weight_sum(self, idx: torch.Tensor) -> torch.Tensor:
        if self.weights is None:
            return torch.tensor(float(idx.shape[0]), device=self.rt.device)
        return self.weights[self.labels[idx]].sum()  # stays on the device: no sync per micro-batch

    def rng_state(self) -> dict[str, Any]:
        return {
            "torch_cpu": torch.get_rng_state(),
            "torch_cuda": torch.cuda.get_rng_state_all() if self.rt.device.type == "cuda" else None,
            "augment": self.gen.get_state(),
            "augment_device": self.rt.device.type,
            "python": self.py_rng.getstate(),
        }

    def load_rng_state(self, rng: dict[str, Any]) -> None:
        torch.set_rng_state(rng["torch_cpu"])
        if rng.get("torch_cuda") is not None and self.rt.device.type == "cuda":
            torch.cuda.set_rng_state_all(rng["torch_cuda"])
        if self.dist.rank != 0:
            # The checkpoint holds rank 0's augmentation stream; the other ranks need streams of their own.
            s = epoch_seed(self.seed, self.state.epochs_completed + 1) ^ self.state.step
            self.gen.manual_seed(s + self.dist.rank)
        elif rng.get("augment_device") == self.rt.device.type:
            self.gen.set_state(rng["augment"])
        else:
            # CPU (mt19937) and CUDA (philox) generator states are not interchangeable: a run moved between
            # device types continues with a fresh per-epoch-derived seed, correct but not bit-identical.
            log.warning("checkpoint augmentation RNG is from %s, running on %s: reseeding",
                        rng.get("augment_device"), self.rt.device.type)
            self.gen.manual_seed(epoch_seed(self.seed, self.state.epochs_completed + 1) ^ self.state.step)
        self.py_rng.setstate(rng["python"])
