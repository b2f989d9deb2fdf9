"""One training run, start to finish: set-up or resume, epochs with checkpoints and early stopping, test
metrics, ONNX export with the parity gate, and the model directory."""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Optional

import torch

from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .config import RunConfig, check_world_size
from .data import Dataset, class_weights, load_data
from .device import resolve_runtime, seed_everything
from .distributed import Dist
from .engine import Trainer, evaluate, validate
from .errors import EXIT_INTERRUPTED, bad_config
from .events import EventWriter, SilentEvents
from .labels import ID2LABEL, LABEL2ID
from .metrics import classification_report
from .model import FaceViT, ModelSpec, build_model, model_from_spec
from .model_dir import write_model_dir

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = "ferops-trainer-checkpoint"


def _payload(trainer: Trainer, spec: ModelSpec, cfg: RunConfig, data: Dataset) -> dict[str, Any]:
    """Called on every rank (it sums the ranks' partial epoch loss); only rank 0 writes the result."""
    st = trainer.state
    loop = {k: getattr(st, k) for k in st.__dataclass_fields__}
    # The checkpoint holds the whole world's partial-epoch loss, so that any number of processes can resume it.
    loss_sum, samples = distributed.all_sum(trainer.dist, [st.epoch_loss_sum, float(st.epoch_samples)])
    loop.update(epoch_loss_sum=loss_sum, epoch_samples=int(samples))
    return {
        "format": CHECKPOINT_FORMAT, "version": 1,
        "model_spec": spec.to_dict(), "model_state": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(), "scheduler": trainer.scheduler.state_dict(),
        "rng": trainer.rng_state(),
        "loop": loop,
        "run_config": cfg.to_dict(), "dataset_fingerprint": data.fingerprint,
        "label2id": dict(LABEL2ID), "id2label": {str(k): v for k, v in ID2LABEL.items()},
        "versions": {"torch": str(torch.__version__)},  # TorchVersion is not weights_only-loadable
    }


def _check_compatible(ckpt: dict[str, Any], cfg: RunConfig, data: Dataset, path: str) -> None:
    old = ckpt["run_config"]
    if old["model"] != cfg.to_dict()["model"]:
        raise bad_config(f"checkpoint {path} was trained with model {old['model']}, the config asks for "
                         f"{cfg.to_dict()['model']}; resume with the same model settings")
    if ckpt["dataset_fingerprint"] != data.fingerprint:
        raise bad_config(f"checkpoint {path} was trained on a different dataset "
                         f"({ckpt['dataset_fingerprint']} vs {data.fingerprint})")
    for key in ("batch_size", "grad_accum", "mixup"):
        if old["train"][key] != getattr(cfg.train, key):
            log.warning("resuming with train.%s=%s (checkpoint used %s): the run will not replay exactly",
                        key, getattr(cfg.train, key), old["train"][key])


def _check_world(cfg: RunConfig, dist: Dist) -> None:
    check_world_size(cfg, dist.world_size)
    if dist.enabled and cfg.nproc != dist.world_size:
        log.warning("config nproc=%d, but torchrun started %d processes: training with %d", cfg.nproc,
                    dist.world_size, dist.world_size)


class Run:
    """One run on one process; under torchrun every rank runs it, in step, and only rank 0 writes files."""

    def __init__(self, cfg: RunConfig, events: EventWriter, should_stop: Callable[[], bool], dist: Dist) -> None:
        self.cfg, self.events, self.should_stop, self.dist = cfg, events, should_stop, dist
        self.ckpt_dir = os.path.join(cfg.output_dir, "checkpoints")
        self.last_path = os.path.join(self.ckpt_dir, "last.pt")
        self.best_path = os.path.join(self.ckpt_dir, "best.pt")
        self.last_written: Optional[str] = None

    def setup(self, resume: Optional[str]) -> None:
        cfg = self.cfg
        ckpt = load_checkpoint(resume) if resume else None  # verify it before any expensive work
        _check_world(cfg, self.dist)
        self.rt = resolve_runtime(cfg.device, cfg.train.num_threads, self.dist.local_rank,
                                  self.dist.local_world_size)
        self.data = load_data(cfg.dataset_dir)
        distributed.init(self.dist, self.rt.device)
        seed_everything(cfg.seed)
        if ckpt is not None:
            _check_compatible(ckpt, cfg, self.data, resume)
            self.spec = ModelSpec.from_dict(ckpt["model_spec"])
            model = model_from_spec(self.spec)
            model.load_state_dict(ckpt["model_state"])
        else:
            model, self.spec = build_model(cfg.model)
        weights = class_weights(self.data.train.labels) if cfg.train.class_weights else None
        self.trainer = Trainer(model, cfg.train, cfg.seed, self.data.train, self.rt, weights, self.dist)
        self.resumed_from: Optional[int] = None
        if ckpt is not None:
            t = self.trainer
            t.optimizer.load_state_dict(ckpt["optimizer"])
            t.scheduler.load_state_dict(ckpt["scheduler"])
            for key, value in ckpt["loop"].items():
                setattr(t.state, key, value)
            if not self.dist.is_main:  # the partial-epoch loss is the whole world's: count it once
                t.state.epoch_loss_sum, t.state.epoch_samples = 0.0, 0
            t.load_rng_state(ckpt["rng"])
            self.resumed_from = t.state.epochs_completed
            self.last_written = os.path.abspath(resume)

    def stop_agreed(self) -> bool:
        """The stop request, agreed by all ranks (SIGTERM may reach them one step apart)."""
        return distributed.any_rank(self.dist, self.should_stop())

    def save_last(self) -> str:
        st = self.trainer.state
        payload = _payload(self.trainer, self.spec, self.cfg, self.data)
        path = os.path.abspath(self.last_path)
        if self.dist.is_main:
            save_checkpoint(path, payload)
        distributed.barrier(self.dist)  # no rank exits (or runs ahead) before the file is durably written
        self.last_written = path
        epoch = st.epochs_completed + (1 if st.batch_in_epoch else 0)
        self.events.emit("checkpoint", epoch=epoch, step=st.step, path=path)
        return path

    def interrupted(self) -> int:
        self.events.emit("interrupted", checkpoint=self.last_written)
        return EXIT_INTERRUPTED

    def end_epoch(self) -> None:
        t, st, cfg = self.trainer, self.trainer.state, self.cfg
        val_loss, val_acc = validate(t.model, self.data.val, self.rt, cfg.train.batch_size * 4, self.dist,
                                     lambda: self.events.alive("validate"))
        loss_sum, samples = distributed.all_sum(self.dist, [st.epoch_loss_sum, float(st.epoch_samples)])
        train_loss = loss_sum / max(1.0, samples)
        record = {"epoch": st.epochs_completed, "epochs": cfg.train.epochs, "step": st.step,
                  "train_loss": train_loss, "val_loss": val_loss, "val_accuracy": val_acc, "lr": t.lr,
                  "images_per_s": samples / max(st.epoch_train_seconds, 1e-9),
                  "seconds": st.epoch_train_seconds}
        st.history.append(record)
        if val_acc > st.best_val_accuracy:
            st.best_val_accuracy, st.best_epoch, st.epochs_since_best = val_acc, st.epochs_completed, 0
            if self.dist.is_main:  # save_last's barrier follows
                save_checkpoint(self.best_path, {
                    "format": CHECKPOINT_FORMAT, "version": 1, "kind": "best", "model_spec": self.spec.to_dict(),
                    "model_state": t.model.state_dict(), "epoch": st.epochs_completed, "val_accuracy": val_acc})
        else:
            st.epochs_since_best += 1
        self.events.emit("epoch", **record)
        self.save_last()

    def early_stop(self) -> bool:
        patience = self.cfg.train.early_stop_patience
        return patience > 0 and self.trainer.state.epochs_since_best >= patience

    def best_model(self) -> FaceViT:
        """The best-val-accuracy weights; falls back to the last ones if best.pt is missing or belongs to another
        run (e.g. a resume into a fresh output_dir), which is logged rather than silently exporting stale weights."""
        model, st = self.trainer.model, self.trainer.state
        if os.path.isfile(self.best_path):
            best = load_checkpoint(self.best_path)
            if best.get("epoch") == st.best_epoch and best.get("val_accuracy") == st.best_val_accuracy:
                model.load_state_dict(best["model_state"])
                return model
        log.warning("no best.pt for epoch %d in %s: testing and exporting the last weights", st.best_epoch,
                    self.ckpt_dir)
        return model

    def execute(self, resume: Optional[str]) -> int:
        self.setup(resume)
        t, cfg = self.trainer, self.cfg
        self.events.emit("start", device=str(self.rt.device), train_size=len(self.data.train),
                         val_size=len(self.data.val), steps_per_epoch=t.steps_per_epoch, epochs=cfg.train.epochs,
                         resumed_from_epoch=self.resumed_from, world_size=self.dist.world_size, config=cfg.to_dict())
        while not t.done_training() and not self.early_stop():
            if self.stop_agreed():
                if self.last_written is None:
                    self.save_last()
                return self.interrupted()
            finished = t.train_one_epoch(self.events, self.stop_agreed)
            if not finished:
                self.save_last()
                return self.interrupted()
            self.end_epoch()
        if self.last_written is None:
            self.save_last()
        # Testing and export need one process: the others leave the group and exit.
        distributed.shutdown(self.dist)
        return self.finish() if self.dist.is_main else 0

    def finish(self) -> int:
        cfg, st = self.cfg, self.trainer.state
        model = self.best_model()
        _, _, preds = evaluate(model, self.data.test, self.rt, cfg.train.batch_size * 4, lambda: self.events.alive("test"))
        test = classification_report(self.data.test.labels.numpy(), preds.numpy())
        self.events.emit("test", **test)
        if self.should_stop():
            return self.interrupted()
        model_dir = os.path.join(cfg.output_dir, "model")
        artifacts = write_model_dir(model_dir, model, self.spec, cfg, test, st, self.data, self.events,
                                    self.should_stop)
        if artifacts is None:
            return self.interrupted()
        for kind, path in artifacts:
            self.events.emit("artifact", kind=kind, path=path)
        self.events.emit("done", model_dir=os.path.abspath(model_dir), epochs_run=st.epochs_completed,
                         best_val_accuracy=st.best_val_accuracy,
                         test={"accuracy": test["accuracy"], "macro_f1": test["macro_f1"]})
        return 0


def run(cfg: RunConfig, events: EventWriter, resume: Optional[str] = None,
        should_stop: Callable[[], bool] = lambda: False) -> int:
    """Runs training; returns 0 when done or 75 when stopped by `should_stop` (checkpoint written first).
    Raises TrainerError for expected failures."""
    started = time.perf_counter()
    os.makedirs(cfg.output_dir, exist_ok=True)
    dist = distributed.from_env()
    code = Run(cfg, events if dist.is_main else SilentEvents(), should_stop, dist).execute(resume)
    # Not on an exception: a failed rank keeps its connections until it has reported the error and exits, so the
    # others' lost-connection errors come after its report (the first error event names the cause).
    distributed.shutdown(dist)
    log.info("run finished with code %d in %.1f s", code, time.perf_counter() - started)
    return code

