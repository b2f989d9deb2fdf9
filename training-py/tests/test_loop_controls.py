"""max_steps, early stopping and gradient accumulation change how long a run trains, and the events say so."""

from conftest import make_config
from ferops_trainer.config import parse_config
from ferops_trainer.events import EventCollector
from ferops_trainer.run import run


def run_with(dataset, tmp_path, **train):
    events = EventCollector()
    assert run(parse_config(make_config(dataset, str(tmp_path), train=train)), events) == 0
    return events


def test_when_max_steps_is_reached_mid_epoch_then_training_stops_there_and_still_exports(small_dataset, tmp_path):
    events = run_with(small_dataset, tmp_path, epochs=5, max_steps=3)
    assert [(e["epoch"], e["step"]) for e in events.of("epoch")] == [(1, 3)]
    assert events.of("done")[0]["epochs_run"] == 1 and events.of("artifact")


def test_when_val_accuracy_stops_improving_then_early_stopping_ends_the_run(small_dataset, tmp_path):
    # A learning rate this small cannot move val accuracy, so epoch 1 stays the best.
    events = run_with(small_dataset, tmp_path, epochs=10, lr=1e-9, early_stop_patience=2)
    assert [e["epoch"] for e in events.of("epoch")] == [1, 2, 3]
    assert events.of("done")[0]["epochs_run"] == 3


def test_when_gradients_accumulate_then_an_epoch_has_fewer_optimizer_steps(small_dataset, tmp_path):
    events = run_with(small_dataset, tmp_path, epochs=1, batch_size=32, grad_accum=3)
    start = events.of("start")[0]
    assert start["steps_per_epoch"] == 4  # ceil(ceil(320 / 32) / 3): the last, partial group still steps
    assert events.of("epoch")[0]["step"] == 4
