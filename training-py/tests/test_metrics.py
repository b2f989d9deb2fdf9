import numpy as np
import pytest

from ferops_trainer.metrics import classification_report


def test_when_predictions_are_known_then_report_matches_hand_computed_values():
    y_true = np.array([0, 0, 1, 1, 3, 3, 3])
    y_pred = np.array([0, 1, 1, 1, 3, 3, 0])
    r = classification_report(y_true, y_pred)
    assert r["accuracy"] == pytest.approx(5 / 7)
    assert r["per_class"]["angry"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert r["per_class"]["disgust"]["precision"] == pytest.approx(2 / 3)
    assert r["per_class"]["happy"]["recall"] == pytest.approx(2 / 3)
    # macro-F1 over the 3 classes that occur, not over all 7
    f1 = [0.5, 2 * (2 / 3) * 1 / (2 / 3 + 1), 2 * 1 * (2 / 3) / (1 + 2 / 3)]
    assert r["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert r["confusion"][0] == [1, 1, 0, 0, 0, 0, 0] and r["confusion"][3][3] == 2
    assert sum(map(sum, r["confusion"])) == 7


def test_when_inputs_differ_in_length_or_are_empty_then_value_error():
    with pytest.raises(ValueError):
        classification_report(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError):
        classification_report(np.array([]), np.array([]))
