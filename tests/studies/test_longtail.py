"""The §1.5 pipeline and §1.7 study: budgets met, merging keeps them, a real tiny run, an honest verdict."""
from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import torch

from labkit.criteria import score
from labkit.data import Split
from labkit.pruning import overlap_matrix
from labkit.studies._verdict import COLUMNS as VERDICT_COLUMNS
from labkit.studies.longtail import (COLUMNS, LongTailSettings, merge_trainers, pie_study, read_results, run_study,
                                     verdict, write_results)
from labkit.training import TrainHistory
from labkit.training.trainers import TrainerResult, fingerprint, get_trainer


def _candidates(theta0: torch.nn.Module, k: int = 4, start: str | None = None) -> list[TrainerResult]:
    """``k`` perturbed copies of θ0 standing in for fine-tuned trainers (different scores, same start)."""
    out = []
    g = torch.Generator().manual_seed(0)
    for i, name in enumerate(["ce", "ce_drw", "balanced_softmax", "logit_adjusted"][:k]):
        m = copy.deepcopy(theta0)
        with torch.no_grad():
            for p in m.parameters():
                p.mul_(1 + 0.5 * torch.randn(p.shape, generator=g))
        out.append(TrainerResult(get_trainer(name), m.eval(), score(m, "magnitude"),
                                 start or fingerprint(theta0), TrainHistory()))
    return out


def _net(seed: int) -> torch.nn.Module:
    """Seven convs of growing width and a classifier: six prunable layers, a real depth profile, fast."""
    torch.manual_seed(seed)
    w = [1, 4, 8, 8, 16, 16, 24, 32]
    layers: list[torch.nn.Module] = []
    for a, b in zip(w[:-1], w[1:]):
        layers += [torch.nn.Conv2d(a, b, 3, padding=1), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 3)).eval()


@pytest.fixture(scope="module")
def net() -> torch.nn.Module:
    return _net(0)


@pytest.fixture(scope="module")
def val() -> Split:
    g = torch.Generator().manual_seed(1)
    return Split.from_tensors(torch.rand(12, 1, 8, 8, generator=g), torch.arange(3).repeat(4))


GROUPS = {"many": [0], "medium": [1], "few": [2]}


@pytest.mark.parametrize("depth_bias", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("sparsity", [0.1, 0.3, 0.5, 0.7])
def test_layered_budgets_meet_the_target_and_merging_keeps_every_layer(net, val, sparsity, depth_bias):
    cands = _candidates(net)
    mr = merge_trainers(cands, sparsity, val=val, groups=GROUPS, depth_bias=depth_bias, tau=20.0)
    assert abs(mr.merged.sparsity - sparsity) <= 0.005                       # within 0.5% of the target
    budget = mr.allocation
    for name, m in mr.candidates.items():
        assert m.layer_sparsity == pytest.approx(dict(budget), abs=1e-12), name
    assert mr.merged.layer_sparsity == pytest.approx(dict(budget), abs=1e-12)  # merging keeps each budget
    layers = list(budget)
    s = [budget[n] for n in layers]
    if depth_bias > 0:  # the profile prunes early layers more than deep ones (§1.3)
        assert s[0] > s[-1]
    else:
        assert max(s) - min(s) < 0.01
    assert sum(mr.alpha.values()) == pytest.approx(1.0)
    assert mr.best == max(mr.alpha, key=mr.alpha.get)
    assert mr.merged.meta["init_fingerprint"] == fingerprint(net)


def test_merge_modes_and_hand_weights_keep_budgets(net, val):
    cands = _candidates(net, k=3)
    ref = merge_trainers(cands, 0.5, val=val, groups=GROUPS)
    for mode in ("majority", "intersection-first"):
        mr = merge_trainers(cands, 0.5, val=val, groups=GROUPS, mode=mode)
        assert mr.merged.layer_sparsity == pytest.approx(ref.merged.layer_sparsity, abs=1e-12)
    hand = merge_trainers(cands, 0.5, val=val, groups=GROUPS, weights=[0, 0, 1])
    assert hand.best == "balanced_softmax" and hand.alpha["balanced_softmax"] == 1.0
    assert hand.merged.equal(hand.candidates["balanced_softmax"])  # all the weight on one: its own mask
    major = merge_trainers(cands, 0.5, val=val, groups=GROUPS, weights=[0.2, 0.51, 0.29])
    assert major.merged.equal(major.candidates["ce_drw"])  # α > 1/2 decides every unit (see verdict's note)
    vote = merge_trainers(cands, 0.5, val=val, groups=GROUPS, tau=0.0)
    assert list(vote.alpha.values()) == pytest.approx([1 / 3] * 3)
    ov = overlap_matrix({**vote.candidates, "merged": vote.merged})
    assert ov.shape == (4, 4) and np.allclose(np.diag(ov), 1.0) and (ov.to_numpy() <= 1).all()
    with pytest.raises(ValueError, match="weights"):
        merge_trainers(cands, 0.5, val=val, groups=GROUPS, weights=[1, -1, 1])


def test_merge_refuses_candidates_from_another_start(net, val):
    cands = _candidates(net, k=2)
    cands += _candidates(_net(5), k=1)
    with pytest.raises(ValueError, match="not position-aligned"):
        merge_trainers(cands, 0.3, val=val, groups=GROUPS)


def test_soup_start_averages_the_candidates_by_alpha_and_runs_in_the_study():
    from labkit.studies.longtail.pipeline import _soup_start

    cands = _candidates(_net(0), k=3)
    alpha = {"ce": 0.5, "ce_drw": 0.3, "balanced_softmax": 0.2}
    start = _soup_start(cands, cands[0], alpha)
    name = next(n for n, _ in start.named_parameters())
    expect = sum(a * c.model.get_parameter(name) for a, c in zip(alpha.values(), cands))
    torch.testing.assert_close(start.get_parameter(name), expect)
    df = run_study(LongTailSettings(model="tiny_cnn", dataset_options=(), seeds=(0,), permutations=(0,),
                                    sparsities=(0.3,), e0=1, e_aux=1, e_ft=1,
                                    trainers=("ce", "balanced_softmax"), device="cpu", runs=("D", "E"),
                                    start="soup"))
    assert df.attrs["settings"]["start"] == "soup" and sorted(df["run"]) == ["D", "E"]
    assert np.isfinite(df[["overall", "balanced", "few"]].to_numpy(float)).all()
    with pytest.raises(ValueError, match="soup"):
        LongTailSettings(start="average")


def test_smoke_study_gives_a_complete_finite_table():
    s = LongTailSettings(model="tiny_cnn", seeds=(0, 1), permutations=(0,), sparsities=(0.3,),
                         trainers=("ce", "balanced_softmax"), e0=1, e_aux=1, e_ft=1, device="cpu",
                         dataset_options=(("test_per_class", 20),))
    df = run_study(s)
    assert list(df.columns) == COLUMNS
    num = ["sparsity", "seed", "permutation", "overall", "balanced", "many", "medium", "few", "achieved", "seconds"]
    assert np.isfinite(df[num].to_numpy(float)).all()
    assert df[["overall", "balanced", "many", "medium", "few"]].stack().between(0, 1).all()
    for seed in (0, 1):
        runs = df[df["seed"] == seed].set_index("run")
        assert sorted(runs.index) == ["A", "B", "C", "D", "E", "L"]
        assert runs.loc[["A", "B", "L"], "achieved"].tolist() == [0.0, 0.0, 0.0]
        assert runs.loc["L", "trainer"] == "ce" and runs["n_test"].eq(200).all()
        assert np.allclose(runs.loc[["C", "D", "E"], "achieved"], 0.3, atol=0.005)
        assert runs.loc["D", "trainer"] == runs.loc["E", "trainer"] == runs.loc["B", "trainer"]
        assert runs.loc["A", "trainer"] == runs.loc["C", "trainer"] == "ce"
        assert set(json.loads(runs.loc["E", "alpha"])) == {"ce", "balanced_softmax"}
    assert df.attrs["settings"]["e0"] == 1
    v = verdict(df)
    assert list(v.columns) == VERDICT_COLUMNS
    main = v.set_index("criterion").loc[["thesis claim (matched)", "merging helps", "pruning itself helps the tail"]]
    assert main["n_pairs"].tolist() == [2, 2, 2] and main["verdict"].isin(["PASS", "FAIL"]).all()
    paired = v[v["n_pairs"] > 0]
    assert np.isfinite(paired[["mean_diff_pt", "std_diff_pt"]].to_numpy(float)).all()
    assert v.set_index("criterion").loc["proxy headroom", "measured"].endswith("200 test items, 0.50 pt per item")


def test_pie_study_runs_populations_on_one_split():
    s = LongTailSettings(model="tiny_cnn", dataset_options=(), seeds=(0,), permutations=(1,),
                         trainers=("ce", "balanced_softmax"), e0=1, e_aux=1, e_ft=1, device="cpu")
    rep = pie_study(s, k=2, dense_run="A", pruned_run="C")
    assert (rep.k_dense, rep.k_pruned) == (2, 2) and len(rep.targets) == 300
    pc = rep.per_class
    assert pc["n_test"].tolist() == [30] * 10 and pc["n_train"].sum() == 453
    assert 0 <= rep.rate <= 1 and rep.rate == pytest.approx(pc["pies"].sum() / 300)
    with pytest.raises(KeyError, match="unknown run"):
        pie_study(s, k=1, pruned_run="F")


def _table(few: dict[str, list[float]], trainer_e: list[str] | None = None) -> pd.DataFrame:
    rows = []
    for run, vals in few.items():
        for unit, v in enumerate(vals):
            rows.append({"run": run, "sparsity": 0.0 if run in "ABL" else 0.3, "seed": unit, "permutation": 0,
                         "few": v, "balanced": v, "trainer": "ldam_drw" if run in "BDE" else "ce"})
    df = pd.DataFrame(rows)
    if trainer_e is not None:  # a second B per unit, for another k* (another sparsity's best trainer)
        extra = df[df["run"] == "B"].assign(trainer="ce_drw", few=0.0, balanced=0.0)
        df = pd.concat([df, extra], ignore_index=True)
    return df


def test_verdict_is_computed_as_measured():
    few = {"A": [0.40, 0.50, 0.45], "B": [0.80, 0.70, 0.75], "C": [0.30, 0.35, 0.30],
           "D": [0.70, 0.71, 0.74], "E": [0.70, 0.72, 0.74], "L": [0.60, 0.50, 0.45]}
    t = _table(few)
    t["alpha"] = ["" if r != "E" else ('{"ce": 0.3, "ldam_drw": 0.7}' if i % 2 else '{"ce": 0.5, "ldam_drw": 0.5}')
                  for i, r in enumerate(t["run"])]
    v = verdict(t, sparsity=0.3).set_index("criterion")
    assert v.loc["merging helps", "measured"].endswith("in 1 of 3")  # only the 0.7 unit is dominated
    assert v.loc["thesis claim (matched)", "verdict"] == "PASS"       # against L: +10, +22, +29 pt
    assert v.loc["thesis claim (matched)", "metric"] == "few(E@0.3) − few(L)"
    assert v.loc["E vs unmatched A", "verdict"] == "INFO"
    assert v.loc["E vs unmatched A", "mean_diff_pt"] == pytest.approx(27.0)
    assert v.loc["E vs unmatched A", "diffs_pt"] == "+30.00, +22.00, +29.00"
    assert v.loc["E vs unmatched A", "measured"] == "few(E@0.3) − few(A): +27.00 ± 4.36 pt over 3 pairs"
    assert v.loc["merging helps", "verdict"] == "FAIL"                # 0, +1, 0: ties do not beat
    assert v.loc["pruning itself helps the tail", "verdict"] == "FAIL"  # -10, +2, -1
    assert v.loc["long-tail loss alone", "verdict"] == "INFO"
    assert v.loc["long-tail loss alone", "mean_diff_pt"] == pytest.approx(30.0)
    assert v.loc["plain pruning", "mean_diff_pt"] == pytest.approx(-40 / 3)
    # B of another trainer (k* at another sparsity) must not be paired with E
    v2 = verdict(_table(few, trainer_e=["ce_drw"]), sparsity=0.3).set_index("criterion")
    assert v2.loc["pruning itself helps the tail", "n_pairs"] == 3
    assert v2.loc["long-tail loss alone", "mean_diff_pt"] == pytest.approx(30.0)
    few["E"] = few["D"]
    assert verdict(_table(few), sparsity=0.3).set_index("criterion").loc["merging helps", "verdict"] == "FAIL"
    no_d = _table({k: v for k, v in few.items() if k != "D"})
    assert verdict(no_d, sparsity=0.3).set_index("criterion").loc["merging helps", "verdict"] == "n/a"
    with pytest.raises(ValueError, match="run_study"):
        verdict(pd.DataFrame({"run": ["A"], "acc": [0.5]}))


def test_results_round_trip_with_their_command(tmp_path):
    df = pd.DataFrame([{c: 0 for c in COLUMNS}]).assign(run="A", trainer="ce", alpha="")
    df.attrs["settings"] = {"e0": 40}
    path = write_results(df, tmp_path / "r.csv", "python -m labkit.studies.longtail --out r.csv")
    back = read_results(path)
    assert back.attrs["command"].endswith("--out r.csv") and back.attrs["settings"] == {"e0": 40}
    assert list(back.columns) == COLUMNS and back.loc[0, "alpha"] == ""
    assert not list(tmp_path.glob(".r.csv.*"))  # no temp file left


def test_settings_reject_bad_input():
    with pytest.raises(KeyError, match="unknown run"):
        LongTailSettings(runs=("A", "Z"))
    with pytest.raises(KeyError, match="trainer"):
        LongTailSettings(trainers=("ce", "ldam_drww"))
    with pytest.raises(ValueError, match="fractions"):
        LongTailSettings(sparsities=(30,))
    with pytest.raises(ValueError, match="control"):
        LongTailSettings(control="none")
    c = LongTailSettings.cifar100_lt(root="/data")
    assert (c.dataset, c.model, c.imbalance, c.permutations) == ("cifar100-lt", "resnet32", 100.0, None)
    assert dict(c.dataset_options) == {"augment": True, "root": "/data"}
    assert c.fit_kwargs("theta0")["lr"] == 0.1 and c.fit_kwargs("finetune")["lr"] == 0.01


def test_the_same_study_runs_on_cifar100_lt_files(tmp_path, fake_cifar100):
    """The CIFAR-100-LT path (streamed, augmented train split; 100 classes; no class permutation)."""
    fake_cifar100()
    s = LongTailSettings.cifar100_lt(root=str(tmp_path), model="tiny_cnn", imbalance=2.0, seeds=(0,),
                                     sparsities=(0.3,), trainers=("ce", "ldam_drw"), e0=1, e_aux=1, e_ft=1,
                                     batch_size=64, device="cpu",
                                     dataset_options=(("augment", True), ("root", str(tmp_path)),
                                                      ("val_per_class", 1)))
    df = run_study(s)
    assert sorted(df["run"]) == ["A", "B", "C", "D", "E", "L"] and (df["permutation"] == -1).all()
    assert np.isfinite(df[["overall", "balanced", "achieved"]].to_numpy(float)).all()
