"""The JSON-lines protocol on stdout: one event object per line, flushed at once (the activity streams them)."""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, Callable, Optional, TextIO


def _clean(value: Any) -> Any:
    # JSON has no NaN/Infinity; a diverged loss becomes null rather than an unparseable line.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class EventWriter:
    """Writes events to `stream`; `step` events are throttled to at most one per `step_interval_s`, and `alive`
    is written only after `alive_interval_s` without any event (a keep-alive through silent stretches)."""

    def __init__(self, stream: Optional[TextIO] = None, step_interval_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic, alive_interval_s: float = 10.0) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._step_interval_s = step_interval_s
        self._alive_interval_s = alive_interval_s
        self._clock = clock
        self._last_step_at: Optional[float] = None
        self._last_emit_at = clock()

    def emit(self, event: str, **fields: Any) -> None:
        self._last_emit_at = self._clock()
        self._write(_clean({"event": event, **fields}))

    def _write(self, event: dict[str, Any]) -> None:
        self._stream.write(json.dumps(event, allow_nan=False, separators=(",", ":")) + "\n")
        self._stream.flush()

    def step_due(self) -> bool:
        """Whether a step event would be written now; lets the caller skip a GPU sync (loss.item()) if not."""
        return self._last_step_at is None or self._clock() - self._last_step_at >= self._step_interval_s

    def step(self, **fields: Any) -> None:
        if not self.step_due():
            return
        self._last_step_at = self._clock()
        self.emit("step", **fields)

    def alive(self, phase: str) -> None:
        """Called as work goes on where no other event comes for a while (validation, testing, export): the train
        activity takes a trainer that says nothing for long as hung, and stops it (FEROPS_TRAIN_STALL_SECONDS)."""
        if self._clock() - self._last_emit_at >= self._alive_interval_s:
            self.emit("alive", phase=phase)


class SilentEvents(EventWriter):
    """The events of ranks other than 0 under torchrun: rank 0 alone speaks the protocol."""

    def _write(self, event: dict[str, Any]) -> None:
        pass

    def step_due(self) -> bool:
        return False


class EventCollector(EventWriter):
    """Keeps events in memory (in-process callers and tests)."""

    def __init__(self, step_interval_s: float = 0.0) -> None:
        super().__init__(stream=None, step_interval_s=step_interval_s)
        self.events: list[dict[str, Any]] = []

    def _write(self, event: dict[str, Any]) -> None:
        self.events.append(json.loads(json.dumps(event)))

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == event]
