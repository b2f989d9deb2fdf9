import io
import json

from ferops_trainer.events import EventWriter


def test_when_steps_come_faster_than_the_interval_then_only_one_per_interval_is_written():
    now = [0.0]
    out = io.StringIO()
    w = EventWriter(out, step_interval_s=2.0, clock=lambda: now[0])
    for t in (0.0, 0.5, 1.9, 2.0, 2.1, 4.5):
        now[0] = t
        w.step(epoch=1, step=int(t * 10), loss=1.0, lr=0.1)
    steps = [json.loads(line)["step"] for line in out.getvalue().splitlines()]
    assert steps == [0, 20, 45]


def test_when_a_value_is_nan_then_the_line_is_still_valid_json_with_null():
    out = io.StringIO()
    EventWriter(out).emit("epoch", train_loss=float("nan"), val=[float("inf"), 1.0])
    event = json.loads(out.getvalue())
    assert event == {"event": "epoch", "train_loss": None, "val": [None, 1.0]}
    assert out.getvalue().count("\n") == 1


def test_when_work_goes_on_without_events_then_alive_is_written_once_per_silent_interval_and_never_between_events():
    now = [0.0]
    out = io.StringIO()
    w = EventWriter(out, clock=lambda: now[0], alive_interval_s=10.0)
    for t in (1.0, 9.9, 10.0, 15.0, 20.5):
        now[0] = t
        w.alive("validate")
    now[0] = 21.0
    w.emit("epoch", epoch=1)
    for t in (25.0, 30.9):  # the epoch event just now counts: nothing is silent yet
        now[0] = t
        w.alive("test")
    now[0] = 31.0
    w.alive("test")
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["event"], e.get("phase")) for e in events] == [
        ("alive", "validate"), ("alive", "validate"), ("epoch", None), ("alive", "test")]


def test_when_validation_runs_then_it_calls_back_after_every_batch():
    import torch
    from ferops_trainer.device import Runtime
    from ferops_trainer.engine import predict_logits

    calls = []
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48 * 48, 7))
    cpu = Runtime(torch.device("cpu"), None)
    logits = predict_logits(model, torch.zeros((10, 48, 48), dtype=torch.uint8), cpu, 4, lambda: calls.append(1))
    assert logits.shape == (10, 7)
    assert len(calls) == 3
