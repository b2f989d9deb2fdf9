import json

import pytest

from ferops_trainer.config import load_config, parse_config
from ferops_trainer.errors import TrainerError

BASE = {"dataset_dir": "/data/ds", "output_dir": "/out/run"}


def bad(data, overrides=None) -> str:
    with pytest.raises(TrainerError) as info:
        parse_config(data, overrides)
    assert info.value.code == "bad_config" and info.value.exit_code == 2
    return info.value.message


def test_when_only_required_keys_are_given_then_cpu_demo_defaults_apply():
    cfg = parse_config(BASE)
    assert cfg.model.base == "tiny" and cfg.device == "auto" and cfg.seed == 1337
    assert not cfg.train.augment.enabled and cfg.train.lr == 1e-3 and cfg.export.opset == 17
    assert cfg.export.int8_min_agreement == 0.98 and cfg.export.int8_confidence == 0.95


def test_when_overrides_are_given_then_json_values_are_parsed_and_nested_keys_set():
    cfg = parse_config(BASE, ["train.epochs=3", "train.lr=0.01", "train.augment.enabled=true",
                              "model.base=some/hub-id", "train.max_steps=null"])
    assert cfg.train.epochs == 3 and cfg.train.lr == 0.01 and cfg.train.augment.enabled is True
    assert cfg.model.base == "some/hub-id" and cfg.train.max_steps is None


def test_when_paths_are_relative_then_they_are_made_absolute():
    cfg = parse_config({"dataset_dir": "ds", "output_dir": "out"})
    assert cfg.dataset_dir.startswith("/") and cfg.output_dir.startswith("/")


@pytest.mark.parametrize("data,needle", [
    ({**BASE, "trian": {}}, "trian"),
    ({**BASE, "train": {"epoch": 3}}, "train.epoch"),
    ({**BASE, "train": {"augment": {"rotate": 3}}}, "train.augment.rotate"),
    ({"output_dir": "/o"}, "dataset_dir"),
    ({**BASE, "train": {"epochs": "3"}}, "train.epochs must be an integer"),
    ({**BASE, "train": {"epochs": 2.5}}, "train.epochs must be an integer"),
    ({**BASE, "train": {"class_weights": 1}}, "train.class_weights must be true or false"),
    ({**BASE, "train": {"epochs": 0}}, "train.epochs must be >= 1"),
    ({**BASE, "train": {"lr": -1}}, "train.lr must be > 0"),
    ({**BASE, "device": "tpu"}, "device must be auto, cpu or cuda"),
    ({**BASE, "model": {"image_size": 50, "patch_size": 8}}, "multiple of model.patch_size"),
    ({**BASE, "export": {"opset": 13}}, "opset must be >= 17"),
    ({**BASE, "export": {"int8_confidence": 1}}, "export.int8_confidence must be in [0.5, 1)"),
    ({**BASE, "model": "tiny"}, "model must be an object"),
    ([1, 2], "JSON object"),
])
def test_when_config_is_invalid_then_bad_config_names_the_key(data, needle):
    assert needle in bad(data)


def test_when_an_override_has_no_equals_sign_then_bad_config():
    assert "key.path=value" in bad(BASE, ["train.epochs"])


def test_when_an_override_descends_into_a_scalar_then_bad_config():
    assert "not an object" in bad({**BASE, "seed": 5}, ["seed.x=1"])


def test_when_config_file_is_missing_or_not_json_then_bad_config(tmp_path):
    with pytest.raises(TrainerError, match="not found"):
        load_config(str(tmp_path / "nope.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(TrainerError, match="not valid JSON"):
        load_config(str(broken))


def test_when_config_file_is_valid_then_it_loads_with_overrides(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({**BASE, "train": {"epochs": 4}}))
    cfg = load_config(str(path), ["train.batch_size=8"])
    assert cfg.train.epochs == 4 and cfg.train.batch_size == 8
    assert cfg.to_dict()["train"]["augment"]["enabled"] is False
