"""Recipes: the LDAM-DRW baseline exactly as published, a strict registry, data-dependent pieces."""
import numpy as np
import pytest
import torch
from torch import nn

from labkit.data import LabData, Split
from labkit.training import NormedLinear, get_recipe, get_schedule, list_recipes, register_recipe
from labkit.training.augment import RandomCropFlip


def _data(norm=True):
    x, y = torch.randn(12, 3, 8, 8), torch.arange(12) % 3
    s = Split.from_tensors(x, y)
    return LabData(name="toy", train=s, val=s, test=s, classes=["a", "b", "c"], class_counts=np.array([6, 4, 2]),
                   groups={"many": [0], "medium": [1], "few": [2]}, input_shape=(3, 8, 8),
                   meta={"normalize": {"mean": (0.5, 0.5, 0.5), "std": (0.25, 0.5, 1.0)}} if norm else {})


def test_ldam_drw_is_the_published_cifar_lt_recipe():
    cfg = get_recipe("ldam-drw").config  # Cao et al. 2019 / kaidic/LDAM-DRW cifar_train.py
    assert (cfg.optimizer, cfg.lr, cfg.momentum, cfg.weight_decay, cfg.batch_size, cfg.epochs) == \
        ("sgd", 0.1, 0.9, 2e-4, 128, 200)
    assert cfg.loss == "ldam_drw" and get_recipe("ldam-drw").normed_head
    # kaidic's adjust_learning_rate, 1-based epoch: lr*epoch/5 up to 5, x0.01 after 160, x0.0001 after 180
    def kaidic(epoch0):
        e = epoch0 + 1
        return e / 5 if e <= 5 else 1e-4 if e > 180 else 1e-2 if e > 160 else 1.0
    sched = get_schedule(cfg.schedule)
    assert all(sched(e, 200) == pytest.approx(kaidic(e)) for e in range(200))


def test_drw_switches_on_at_epoch_160_of_200_where_the_recipe_asks():
    from labkit.training import make_loss

    for name, has_drw in (("ce", False), ("ce-drw", True), ("ldam-drw", True)):
        loss = make_loss(get_recipe(name).config.loss, np.array([50, 5]))
        assert hasattr(loss, "drw_start") == has_drw
        if has_drw:
            assert loss.drw_start(200) == 160


def test_the_registry_is_strict():
    assert list_recipes() == ["ce", "ce-drw", "ldam-drw"]
    with pytest.raises(KeyError, match="ldam-drw"):
        get_recipe("ldam")
    with pytest.raises(ValueError):
        register_recipe(get_recipe("ce"))  # a duplicate name
    with pytest.raises(TypeError):
        register_recipe("ce")


def test_fit_config_brings_the_data_counts_and_a_black_padded_crop_flip():
    cfg = get_recipe("ce").fit_config(_data(), epochs=1)
    assert cfg.class_counts == (6, 4, 2) and cfg.epochs == 1 and cfg.lr == 0.1
    assert isinstance(cfg.augment, RandomCropFlip) and cfg.augment.padding == 4 and cfg.augment.flip
    assert cfg.augment.fill == pytest.approx((-2.0, -1.0, -0.5))  # (0 - mean) / std: black after normalising
    assert get_recipe("ce").fit_config(_data(norm=False)).augment.fill is None


def test_a_cosine_head_is_folded_into_a_linear_with_the_same_predictions():
    r = get_recipe("ldam-drw")
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5))
    work = r.prepare(net)
    assert isinstance(work[3], NormedLinear) and type(net[3]) is nn.Linear  # the caller's model is untouched
    x = torch.randn(64, 12)
    cosine = work(x)
    plain = r.finish(work)
    assert type(plain[3]) is nn.Linear and set(plain.state_dict()) == set(net.state_dict())
    assert torch.equal(plain(x).argmax(1), cosine.argmax(1))
    assert r.finish(net) is net and net[3].bias.abs().sum() > 0  # nothing to fold: unchanged
