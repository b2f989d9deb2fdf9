"""`python -m ferops_trainer --config cfg.json [--resume ckpt.pt] [--set key.path=value ...]`.

stdout carries only the JSON-lines protocol: the real stdout is kept for events and fd 1 is pointed at stderr,
so that library chatter (exporters, warnings, print calls) can never corrupt the stream the activity parses.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback
from typing import Optional, Sequence

from .errors import EXIT_CODES, TrainerError
from .events import EventWriter


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit 2 without an event
        raise TrainerError("bad_config", f"bad command line: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _ArgumentParser(prog="python -m ferops_trainer", description="Fine-tune a ViT on a FER dataset directory.")
    p.add_argument("--config", required=True, help="absolute path of the run config JSON")
    p.add_argument("--resume", help="checkpoint to continue from (e.g. <output_dir>/checkpoints/last.pt)")
    p.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                   help="override a config value; VALUE is parsed as JSON when it parses (repeatable)")
    return p


def _torchrun_env(name: str, default: int) -> int:
    """RANK or WORLD_SIZE as torchrun set it, read here (not through torch) so that a bad config fails fast;
    distributed.from_env validates them."""
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _protocol_stream():
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(events_fd, "w", buffering=1, encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    events = EventWriter(_protocol_stream())
    # WARNING for libraries (onnxruntime.quantization logs every tensor at INFO), INFO for our own messages.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("ferops_trainer").setLevel(logging.INFO)
    stop_requested = False

    def on_sigterm(signum, frame):  # only a flag: the loop checkpoints at the next optimizer step
        nonlocal stop_requested
        stop_requested = True
        logging.getLogger("ferops_trainer").warning("SIGTERM: checkpointing and stopping")

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        args = _parser().parse_args(argv)
        from .config import check_world_size, load_config
        cfg = load_config(args.config, args.set)
        check_world_size(cfg, _torchrun_env("WORLD_SIZE", 1))  # fails before torch loads
        from .run import run  # heavy imports (torch, transformers) only once the config is known good
        return run(cfg, events, resume=args.resume, should_stop=lambda: stop_requested)
    except TrainerError as exc:
        if _torchrun_env("RANK", 0) == 0:  # every rank meets the same bad config or dataset: one report is enough
            events.emit("error", code=exc.code, message=exc.message)
        return exc.exit_code
    except Exception as exc:  # anything unexpected: report it in the protocol, keep the traceback on stderr
        traceback.print_exc()
        # Any rank's crash is reported (it may be the root cause of the others' lost-connection errors).
        where = {"rank": _torchrun_env("RANK", 0)} if "WORLD_SIZE" in os.environ else {}
        events.emit("error", code="internal", message=f"{type(exc).__name__}: {exc}", **where)
        return EXIT_CODES["internal"]
