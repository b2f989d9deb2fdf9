"""The from_pretrained path, offline: a tiny random ViT saved locally stands in for a hub checkpoint."""

import json
import os

import pytest
import torch
from transformers import ViTConfig, ViTForImageClassification

from conftest import make_config
from ferops_trainer.config import ModelConfig, parse_config
from ferops_trainer.errors import TrainerError
from ferops_trainer.events import EventCollector
from ferops_trainer.model import build_model
from ferops_trainer.run import run


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("hub") / "vit-local")
    torch.manual_seed(0)
    # 3 labels: the classifier head must be re-initialised for 7 (ignore_mismatched_sizes).
    config = ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8, num_labels=3)
    ViTForImageClassification(config).save_pretrained(path)
    with open(os.path.join(path, "preprocessor_config.json"), "w") as fh:
        json.dump({"image_mean": [0.4, 0.4, 0.4], "image_std": [0.2, 0.2, 0.2]}, fh)
    return path


def test_when_base_is_a_local_dir_then_backbone_weights_load_and_head_is_resized(pretrained_dir):
    model, spec = build_model(ModelConfig(base=pretrained_dir))
    saved = ViTForImageClassification.from_pretrained(pretrained_dir)
    assert torch.equal(model.vit.vit.embeddings.patch_embeddings.projection.weight,
                       saved.vit.embeddings.patch_embeddings.projection.weight)
    assert model.vit.classifier.out_features == 7
    assert spec.image_size == 32 and spec.mean == (0.4, 0.4, 0.4) and spec.std == (0.2, 0.2, 0.2)
    assert model.vit.config.id2label[1] == "disgust"


def test_when_fine_tuned_from_a_local_dir_then_run_finishes_and_saves_hf_model(pretrained_dir, small_dataset, tmp_path):
    cfg = parse_config(make_config(small_dataset, str(tmp_path), model={"base": pretrained_dir, "image_size": None,
                                                                         "patch_size": None},
                                   train={"epochs": 1}))
    events = EventCollector()
    assert run(cfg, events) == 0
    hf_dir = os.path.join(tmp_path, "model", "hf")
    reloaded = ViTForImageClassification.from_pretrained(hf_dir)
    assert reloaded.config.num_labels == 7 and reloaded.config.label2id["surprise"] == 5
    assert reloaded.config.hidden_size == 32
    prep = json.load(open(os.path.join(tmp_path, "model", "preprocess.json")))
    assert prep["model_image_size"] == 32 and prep["mean"] == [0.4, 0.4, 0.4]


def test_when_local_dir_has_no_config_then_bad_config(tmp_path):
    with pytest.raises(TrainerError, match="without config.json") as info:
        build_model(ModelConfig(base=str(tmp_path)))
    assert info.value.code == "bad_config"


def test_when_image_size_contradicts_the_pretrained_model_then_bad_config(pretrained_dir):
    with pytest.raises(TrainerError, match="differs from the pretrained"):
        build_model(ModelConfig(base=pretrained_dir, image_size=48))


def test_when_hub_id_cannot_be_fetched_then_bad_config_suggests_offline_options(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(TrainerError, match="local save_pretrained directory"):
        build_model(ModelConfig(base="nobody/no-such-vit-model"))
