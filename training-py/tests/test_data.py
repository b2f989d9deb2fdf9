import os
import shutil

import numpy as np
import pytest
import torch

from conftest import SEED_OFFSET
from ferops_trainer.data import class_weights, load_data
from ferops_trainer.errors import TrainerError


def copy_of(src: str, tmp_path) -> str:
    dst = str(tmp_path / "ds")
    shutil.copytree(src, dst)
    return dst


def bad(path: str) -> str:
    with pytest.raises(TrainerError) as info:
        load_data(path)
    assert info.value.code == "bad_dataset" and info.value.exit_code == 2
    return info.value.message


def test_when_dataset_is_valid_then_splits_load_as_uint8_images_and_int64_labels(small_dataset):
    data = load_data(small_dataset)
    assert [len(data.train), len(data.val), len(data.test)] == [320, 96, 96]
    assert data.train.images.dtype == torch.uint8 and data.train.images.shape == (320, 48, 48)
    assert data.train.labels.dtype == torch.int64 and int(data.train.labels.max()) < 7
    assert data.fingerprint == f"synthetic-{3 + SEED_OFFSET}-320-96-96"  # the manifest's content hash


def test_when_manifest_has_no_hash_then_fingerprint_is_computed_from_the_data(small_dataset, tmp_path):
    path = copy_of(small_dataset, tmp_path)
    os.remove(os.path.join(path, "manifest.json"))
    assert load_data(path).fingerprint.startswith("sha256:")


def test_when_directory_is_missing_then_bad_dataset(tmp_path):
    assert "not found" in bad(str(tmp_path / "nope"))


def test_when_a_split_file_is_missing_then_bad_dataset_names_it(small_dataset, tmp_path):
    path = copy_of(small_dataset, tmp_path)
    os.remove(os.path.join(path, "val_labels.npy"))
    assert "val_labels.npy" in bad(path)


@pytest.mark.parametrize("name,array,needle", [
    ("train_images.npy", np.zeros((320, 48, 48), np.float32), "must be uint8"),
    ("train_images.npy", np.zeros((320, 32, 32), np.uint8), "must be uint8 (N, 48, 48)"),
    ("train_labels.npy", np.zeros((320, 1), np.uint8), "must be uint8 (N,)"),
    ("train_labels.npy", np.zeros((300,), np.uint8), "320 images but 300 labels"),
    ("train_labels.npy", np.full((320,), 9, np.uint8), "label 9"),
    ("test_images.npy", np.zeros((0, 48, 48), np.uint8), "has 0 images but"),
])
def test_when_arrays_are_malformed_then_bad_dataset_says_what_is_wrong(small_dataset, tmp_path, name, array, needle):
    path = copy_of(small_dataset, tmp_path)
    np.save(os.path.join(path, name), array)
    assert needle in bad(path)


def test_when_a_file_is_not_npy_then_bad_dataset(small_dataset, tmp_path):
    path = copy_of(small_dataset, tmp_path)
    with open(os.path.join(path, "test_images.npy"), "wb") as fh:
        fh.write(b"this is not an npy file")
    assert "not a readable .npy" in bad(path)


def test_when_manifest_is_not_json_then_bad_dataset(small_dataset, tmp_path):
    path = copy_of(small_dataset, tmp_path)
    with open(os.path.join(path, "manifest.json"), "w") as fh:
        fh.write("{")
    assert "manifest.json" in bad(path)


def test_when_a_class_is_rare_then_its_weight_is_larger_and_absent_classes_get_zero():
    labels = torch.tensor([0] * 60 + [1] * 5 + [3] * 35)
    w = class_weights(labels)
    assert w[1] > w[3] > w[0] > 0
    assert w[2] == 0 and w[6] == 0
