"""Auxiliary trainers (docs/methods.md §1.2): one common start, aligned candidate masks, refusal of mixed starts."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from labkit.data import Split
from labkit.models import load_model
from labkit.pruning import Masks, allocate
from labkit.training import FitConfig, NormedLinear
from labkit.training.trainers import (DEFAULT_TRAINERS, Trainer, calibration_set, candidate_accuracy, soup,
                                      check_common_start, fingerprint, get_trainer, list_trainers, merge_weights,
                                      register_trainer, train_auxiliary)

COUNTS = np.array([24, 10, 4])


@pytest.fixture(scope="module")
def split() -> Split:
    g = torch.Generator().manual_seed(0)
    y = torch.repeat_interleave(torch.arange(3), torch.as_tensor(COUNTS))
    x = torch.rand(len(y), 1, 8, 8, generator=g) + y.view(-1, 1, 1, 1) * 0.3  # learnable a little
    return Split.from_tensors(x, y)


@pytest.fixture(scope="module")
def theta0() -> torch.nn.Module:
    torch.manual_seed(0)
    return load_model("tiny_cnn", num_classes=3, in_channels=1).eval()


AUX = FitConfig(epochs=1, class_counts=COUNTS, device="cpu", progress=False, batch_size=16)


def _aux(theta0, name, split, **kw):
    return train_auxiliary(theta0, get_trainer(name, seed=1), split, AUX, **kw)


def test_registry_holds_the_section_1_2_trainers_and_is_strict():
    assert set(DEFAULT_TRAINERS) == {"ce", "ce_drw", "balanced_softmax", "ldam_drw"}
    assert {"logit_adjusted", "cb_resample", *DEFAULT_TRAINERS} <= set(list_trainers())
    assert get_trainer("cb_resample").sampler == "balanced" and get_trainer("cb_resample").loss == "ce"
    assert get_trainer("ldam_drw").normed_head
    with pytest.raises(ValueError, match="already registered"):
        register_trainer(Trainer("ce", "ce"))
    with pytest.raises(KeyError, match="balanced_softmax"):
        get_trainer("balanced_softmx")
    with pytest.raises(KeyError, match="loss"):
        Trainer("x", "not_a_loss")
    with pytest.raises(ValueError, match="sampler"):
        Trainer("x", "ce", sampler="uniform")
    assert get_trainer("ce", seed=5).seed == 5 and get_trainer("ce").seed == 0


def test_fingerprint_identifies_the_exact_state(theta0):
    twin = copy.deepcopy(theta0)
    assert fingerprint(twin) == fingerprint(theta0)
    with torch.no_grad():
        twin.layer1.conv.weight[0, 0, 0, 0] += 1e-6
    assert fingerprint(twin) != fingerprint(theta0)
    twin = copy.deepcopy(theta0)
    twin.layer1.bn.running_mean += 1  # buffers are part of the start too
    assert fingerprint(twin) != fingerprint(theta0)


def test_calibration_set_is_class_balanced(split):
    cal = calibration_set(split, per_class=4, seed=0)
    assert np.bincount(cal.targets.numpy()).tolist() == [4, 4, 4]
    assert np.bincount(calibration_set(split, per_class=10).targets.numpy()).tolist() == [10, 10, 4]
    with pytest.raises(ValueError, match="per_class"):
        calibration_set(split, per_class=0)


def test_trainers_share_the_start_and_give_aligned_masks(theta0, split):
    before = fingerprint(theta0)
    results = [_aux(theta0, name, split) for name in ("ce", "balanced_softmax", "ldam_drw", "cb_resample")]
    assert fingerprint(theta0) == before  # θ0 is never touched
    assert all(r.init_fingerprint == before for r in results)
    assert isinstance(results[2].model.head.fc, NormedLinear)  # LDAM trains a cosine head
    assert results[3].history.config["sampler"] == "balanced"
    assert results[1].history.config["loss"] == "BalancedSoftmaxLoss"
    # the fine-tunes really moved away from θ0 (and from each other)
    w0 = theta0.layer2.conv.weight
    assert all(not torch.equal(r.model.layer2.conv.weight, w0) for r in results)
    alloc = allocate(results[0].scores, 0.4, mode="layered", depth_bias=0.5)
    masks = [r.candidate_mask(alloc) for r in results]
    assert all(list(m) == ["layer1.conv.weight", "layer2.conv.weight"] for m in masks)  # classifier stays dense
    for m in masks:
        assert m.meta["init_fingerprint"] == before and m.granularity == "weight"
        assert m.layer_sparsity == pytest.approx(masks[0].layer_sparsity)
        assert {n: t.shape for n, t in m.items()} == {n: t.shape for n, t in masks[0].items()}
    assert check_common_start(masks) == before
    assert check_common_start(results) == before


def test_trainer_sets_loss_sampler_augment_and_seed_over_the_config(theta0, split):
    aug = lambda b: b  # noqa: E731
    t = Trainer("bal_aug", "balanced_softmax", sampler="balanced", augment=aug, seed=3)
    model = t.prepare(theta0)
    hist = t.fit(model, split, FitConfig(epochs=1, loss="ldam", sampler=None, seed=9, class_counts=COUNTS,
                                         progress=False, batch_size=16))
    assert hist.config["loss"] == "BalancedSoftmaxLoss" and hist.config["sampler"] == "balanced"
    assert hist.config["seed"] == 3 and hist.config["augment"].endswith("<lambda>")
    with pytest.raises(ValueError, match="class_counts"):
        t.fit(t.prepare(theta0), split, FitConfig(epochs=1, progress=False))


def test_masks_from_another_start_are_refused(theta0, split):
    torch.manual_seed(1)
    other0 = load_model("tiny_cnn", num_classes=3, in_channels=1).eval()
    a, b = _aux(theta0, "ce", split), _aux(other0, "ce", split)
    alloc = allocate(a.scores, 0.3, mode="layered")
    with pytest.raises(ValueError, match="different start.*not position-aligned"):
        check_common_start([a.candidate_mask(alloc), b.candidate_mask(alloc)])
    with pytest.raises(ValueError, match="different start"):
        check_common_start([a, b])
    bare = Masks({n: t.clone() for n, t in a.candidate_mask(alloc).items()})  # no provenance
    with pytest.raises(ValueError, match="no init fingerprint"):
        check_common_start([a.candidate_mask(alloc), bare])
    with pytest.raises(ValueError, match="no candidates"):
        check_common_start([])


def test_taylor_scores_need_a_balanced_calibration_set(theta0, split):
    with pytest.raises(ValueError, match="calibration"):
        _aux(theta0, "ce", split, criterion="taylor")
    with pytest.raises(ValueError, match="criterion"):
        _aux(theta0, "ce", split, criterion="apoz")
    mag = _aux(theta0, "ce", split)
    tay = _aux(theta0, "ce", split, criterion="taylor", calibration=calibration_set(split, 4))
    assert tay.scores.meta["criterion"] == "taylor" and mag.scores.meta["criterion"] == "magnitude"
    for n in mag.scores:  # same fine-tune (same seed), different importance
        assert torch.equal(mag.scores[n], mag.model.get_parameter(n).detach().abs())
        assert tay.scores[n].shape == mag.scores[n].shape and not torch.equal(tay.scores[n], mag.scores[n])


def test_candidate_accuracy_of_an_all_kept_mask_is_the_dense_accuracy(theta0, split):
    from labkit.analysis import evaluate

    groups = {"many": [0], "medium": [1], "few": [2]}
    full = Masks({n: torch.ones_like(theta0.get_parameter(n), dtype=torch.bool)
                  for n in ("layer1.conv.weight", "layer2.conv.weight")})
    rep = evaluate(theta0, split, groups=groups, n_boot=0)
    assert candidate_accuracy(theta0, full, split, groups) == pytest.approx(rep.balanced)
    assert candidate_accuracy(theta0, full, split, groups, "few") == pytest.approx(rep.by_group["few"])
    with pytest.raises(ValueError, match="metric"):
        candidate_accuracy(theta0, full, split, groups, "tail")


def test_merge_weights_are_a_temperature_softmax():
    a = np.array([0.80, 0.85, 0.70])
    w = merge_weights(a, tau=20)
    np.testing.assert_allclose(w, np.exp(20 * a) / np.exp(20 * a).sum())
    assert w.sum() == pytest.approx(1) and w.argmax() == 1
    np.testing.assert_allclose(merge_weights(a, tau=0), [1 / 3] * 3)  # τ = 0: plain vote
    assert merge_weights(a, tau=1e4)[1] == pytest.approx(1.0)        # τ → ∞: best only
    with pytest.raises(ValueError, match="fractions"):
        merge_weights([0.5, 85.0])
    with pytest.raises(ValueError, match="tau"):
        merge_weights([0.5, 0.6], tau=-1)


def test_soup_is_the_weighted_average_of_parameters_and_buffers(theta0, split):
    a = _aux(theta0, "ce", split)
    b = _aux(theta0, "balanced_softmax", split)
    s = soup([a.model, b.model], weights=[3.0, 1.0])
    sa, sb, ss = a.model.state_dict(), b.model.state_dict(), s.state_dict()
    for k, v in ss.items():
        if v.is_floating_point():  # weights and BatchNorm running statistics
            torch.testing.assert_close(v, 0.75 * sa[k] + 0.25 * sb[k])
        else:
            assert torch.equal(v, sa[k])
    key = next(k for k, v in sa.items() if v.is_floating_point())
    assert soup([a.model]).state_dict()[key].equal(sa[key])
    assert s is not a.model and torch.equal(a.model.state_dict()[key], sa[key])  # inputs untouched


def test_soup_refuses_other_architectures_and_bad_weights(theta0, split):
    a = _aux(theta0, "ce", split)
    ldam = _aux(theta0, "ldam_drw", split)  # a cosine head: same shapes, another module type
    with pytest.raises(ValueError, match="architecture"):
        soup([a.model, ldam.model])
    with pytest.raises(ValueError, match="non-negative"):
        soup([a.model, a.model], weights=[1.0, -1.0])
    with pytest.raises(ValueError, match="at least one"):
        soup([])
