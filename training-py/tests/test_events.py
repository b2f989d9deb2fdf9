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
