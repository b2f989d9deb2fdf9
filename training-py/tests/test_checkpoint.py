import os

import pytest
import torch

from ferops_trainer.checkpoint import load_checkpoint, save_checkpoint
from ferops_trainer.errors import TrainerError

PAYLOAD = {"format": "ferops-trainer-checkpoint", "epoch": 3, "weights": torch.arange(10.0),
           "rng": (3, tuple(range(5)), None)}


def test_when_saved_then_it_loads_back_equal_and_leaves_no_temp_file(tmp_path):
    path = save_checkpoint(str(tmp_path / "ck" / "last.pt"), PAYLOAD)
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 3 and torch.equal(loaded["weights"], PAYLOAD["weights"])
    assert loaded["rng"] == PAYLOAD["rng"]
    assert os.listdir(tmp_path / "ck") == ["last.pt"]


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_when_file_is_damaged_then_load_refuses_with_corrupt_checkpoint(tmp_path, damage):
    path = save_checkpoint(str(tmp_path / "last.pt"), PAYLOAD)
    blob = bytearray(open(path, "rb").read())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0x01
    elif damage == "truncate":
        blob = blob[: len(blob) - 100]
    else:
        blob = bytearray()
    open(path, "wb").write(bytes(blob))
    with pytest.raises(TrainerError, match="corrupt checkpoint") as info:
        load_checkpoint(path)
    assert info.value.code == "bad_config"


def test_when_file_is_a_plain_torch_save_then_load_refuses(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, path)
    with pytest.raises(TrainerError, match="not a ferops checkpoint"):
        load_checkpoint(str(path))


def test_when_checksum_is_right_but_payload_is_foreign_then_load_refuses(tmp_path):
    path = save_checkpoint(str(tmp_path / "x.pt"), {"format": "something-else"})
    with pytest.raises(TrainerError, match="not written by ferops_trainer"):
        load_checkpoint(path)


def test_when_file_is_missing_then_bad_config(tmp_path):
    with pytest.raises(TrainerError, match="cannot read checkpoint"):
        load_checkpoint(str(tmp_path / "missing.pt"))
