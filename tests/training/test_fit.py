"""fit / finetune with a FitConfig: learning, determinism, exact resume, masks that stay masks, plug-ins."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from labkit.data import Split
from labkit.training import FitConfig, LDAMLoss, TrainHistory, finetune, fit, with_normed_head


def _data(n: int = 120, d: int = 6, classes: int = 3, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Gaussian blobs: separable enough that a tiny MLP learns them in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=g) * 3
    y = torch.arange(n) % classes
    return centers[y] + torch.randn(n, d, generator=g), y


def _net(seed: int = 0, dropout: float = 0.0, bn: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Linear(6, 16)]
    if bn:
        layers.append(nn.BatchNorm1d(16))
    layers += [nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


def _streaming(x: Tensor, y: Tensor) -> Split:
    return Split(TensorDataset(x, y), y)  # no cached tensors: goes through DataLoader


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(torch.equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values()))


def _acc(net: nn.Module, x: Tensor, y: Tensor) -> float:
    net.eval()
    with torch.no_grad():
        return float((net(x).argmax(1) == y).float().mean())


def test_learns_blobs_and_records_history() -> None:
    x, y = _data()
    net = _net()
    hist = fit(net, Split.from_tensors(x, y), FitConfig(epochs=15, lr=1e-2, batch_size=32, progress=False),
               val=Split.from_tensors(x, y))
    assert isinstance(hist, TrainHistory) and len(hist) == 15
    df = hist.to_frame()
    assert list(df.columns) == ["epoch", "loss", "lr", "val_accuracy", "val_balanced", "seconds"]
    assert df["epoch"].tolist() == list(range(15))
    assert df["loss"].iloc[-1] < 0.5 * df["loss"].iloc[0]
    assert df["val_accuracy"].iloc[-1] == pytest.approx(_acc(net, x, y))
    assert df["val_accuracy"].iloc[-1] > 0.9 and df["val_balanced"].iloc[-1] > 0.9
    assert hist.config["loss"] == "ce" and hist.config["class_counts"] == [40, 40, 40]


def test_without_val_the_val_columns_are_nan_and_the_model_mode_is_kept() -> None:
    x, y = _data()
    net = _net()
    net.eval()
    hist = fit(net, Split.from_tensors(x, y), FitConfig(epochs=1, progress=False))
    assert math.isnan(hist.val_accuracy[0]) and not net.training


@pytest.mark.parametrize("streaming", [False, True], ids=["tensors", "loader"])
def test_same_seed_same_weights_other_seed_other_weights(streaming: bool) -> None:
    x, y = _data()
    make = (lambda: _streaming(x, y)) if streaming else (lambda: Split.from_tensors(x, y))
    runs = []
    for seed in (0, 0, 1):
        net = _net(dropout=0.2)
        fit(net, make(), FitConfig(epochs=2, batch_size=16, seed=seed, progress=False))
        runs.append(net)
    assert _same(runs[0], runs[1])
    assert not _same(runs[0], runs[2])


class _Crash(Exception):
    pass


@pytest.mark.parametrize("streaming, kwargs", [
    (False, dict(optimizer="adam", schedule="cosine", loss="ce_drw", weight_decay=1e-3)),
    (True, dict(optimizer="sgd", lr=0.05, schedule="step", sampler="balanced", loss="ldam_drw",
                augment=lambda b: b + 0.05 * torch.randn_like(b))),
], ids=["tensors-adam-cosine-drw", "loader-sgd-balanced-augment"])
def test_resume_gives_the_same_weights_as_an_uninterrupted_run(tmp_path: Path, streaming: bool,
                                                               kwargs: dict) -> None:
    import warnings
    warnings.simplefilter("ignore")  # LDAM on a plain head warns; not what this test is about
    x, y = _data()
    split = _streaming(x, y) if streaming else Split.from_tensors(x, y)
    cfg = FitConfig(epochs=4, batch_size=16, seed=7, progress=False, **kwargs)

    straight = _net(dropout=0.3, bn=True)
    h_straight = fit(straight, split, cfg, checkpoint=tmp_path / "a.safetensors")

    def crash_after_two(epoch: int, history: TrainHistory, model: nn.Module) -> None:
        if epoch == 1:
            raise _Crash  # the checkpoint of epochs 0-1 is already on disk

    interrupted = _net(dropout=0.3, bn=True)
    with pytest.raises(_Crash):
        fit(interrupted, split, cfg, checkpoint=tmp_path / "b.safetensors", callback=crash_after_two)
    assert not _same(interrupted, straight)

    resumed = _net(seed=123, dropout=0.3, bn=True)  # a fresh process: other init, state from disk
    h_resumed = fit(resumed, split, cfg, checkpoint=tmp_path / "b.safetensors", resume=True)
    assert _same(resumed, straight)
    assert h_resumed.epoch == [0, 1, 2, 3]
    assert h_resumed.loss == h_straight.loss
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors", "b.safetensors"]


def test_resume_refuses_a_checkpoint_from_other_settings(tmp_path: Path) -> None:
    x, y = _data()
    split = Split.from_tensors(x, y)
    one = FitConfig(epochs=1, progress=False)
    fit(_net(), split, one, checkpoint=tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="lr: 0.001 -> 0.01"):
        fit(_net(), split, FitConfig(epochs=2, lr=1e-2, progress=False), checkpoint=tmp_path / "c.safetensors",
            resume=True)
    # a finished run resumes to itself without training again
    done = _net(seed=5)
    hist = fit(done, split, one, checkpoint=tmp_path / "c.safetensors", resume=True)
    assert len(hist) == 1
    with pytest.raises(ValueError, match="checkpoint"):
        fit(_net(), split, one, resume=True)


def _masks(net: nn.Module, seed: int = 0) -> dict[str, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"0.weight": torch.rand(net[0].weight.shape, generator=g) > 0.5,
            "3.weight": torch.rand(net[3].weight.shape, generator=g) > 0.3}


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_pruned_weights_stay_exactly_zero(optimizer: str) -> None:
    x, y = _data()
    net = _net(dropout=0.1)
    masks = _masks(net)
    before = {k: v.clone() for k, v in net.named_parameters()}
    fit(net, Split.from_tensors(x, y), FitConfig(epochs=3, optimizer=optimizer, lr=1e-2, weight_decay=1e-2,
                                                 batch_size=16, progress=False), masks=masks)
    params = dict(net.named_parameters())
    for name, m in masks.items():
        assert (params[name][~m] == 0).all(), name                        # pruned: exactly zero
        assert (params[name][m] != before[name][m]).float().mean() > 0.9  # kept: trained


def test_filter_masks_broadcast_over_a_row() -> None:
    x, y = _data()
    net = _net()
    keep = torch.tensor([True, False] * 8)
    fit(net, Split.from_tensors(x, y), FitConfig(epochs=2, progress=False), masks={"0.weight": keep})
    assert (net[0].weight[~keep] == 0).all() and (net[0].weight[keep] != 0).all()


def test_filter_masks_object_keeps_bias_and_batchnorm_of_removed_filters_at_zero() -> None:
    from labkit.pruning import Masks

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 4 * 4, 3))
    x, y = torch.randn(48, 1, 6, 6), torch.randint(0, 3, (48,))
    keep = torch.tensor([True, False] * 4)
    fit(net, Split.from_tensors(x, y), FitConfig(epochs=2, progress=False), masks=Masks({"0.weight": keep}, "filter"))
    for t in (net[0].weight, net[0].bias, net[1].weight, net[1].bias):
        assert (t[~keep] == 0).all() and (t[keep] != 0).all()
    with torch.no_grad():  # so a removed filter's map is exactly zero after BN and ReLU
        assert (net[2](net[1](net[0](x)))[:, ~keep] == 0).all()


def test_finetune_trains_every_parameter_of_its_copy_even_from_a_frozen_model() -> None:
    x, y = _data()
    net = _net(bn=True).requires_grad_(False)  # as Lab keeps its dense model
    tuned = finetune(net, Split.from_tensors(x, y), FitConfig(epochs=2, progress=False))
    assert all(p.requires_grad for p in tuned.parameters()) and not any(p.requires_grad for p in net.parameters())
    changed = [not torch.equal(a, b) for a, b in zip(net.parameters(), tuned.parameters())]
    assert all(changed), "every layer trained"


def test_bad_masks_name_the_fix() -> None:
    x, y = _data()
    split = Split.from_tensors(x, y)
    with pytest.raises(KeyError, match="did you mean"):
        fit(_net(), split, FitConfig(epochs=1), masks={"0.weights": torch.ones(16, 6, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shape"):
        fit(_net(), split, FitConfig(epochs=1), masks={"0.weight": torch.ones(6, 16, dtype=torch.bool)})
    with pytest.raises(TypeError, match="bool"):
        fit(_net(), split, FitConfig(epochs=1), masks={"0.weight": torch.ones(16, 6)})


def test_finetune_trains_a_copy_and_leaves_the_input_untouched() -> None:
    x, y = _data()
    dense = _net()
    reference = {k: v.clone() for k, v in dense.state_dict().items()}
    masks = _masks(dense)
    tuned = finetune(dense, Split.from_tensors(x, y), FitConfig(epochs=2, lr=1e-2, progress=False), masks=masks)
    assert tuned is not dense
    assert all(torch.equal(reference[k], v) for k, v in dense.state_dict().items())
    assert (tuned[0].weight[~masks["0.weight"]] == 0).all()
    assert not torch.equal(tuned[0].weight[masks["0.weight"]], dense[0].weight[masks["0.weight"]])
    assert len(tuned.train_history) == 2
    with pytest.raises(TypeError, match="epochs"):
        FitConfig()  # type: ignore[call-arg]  # epochs has no default


class _LabelCounter(nn.Module):
    """A loss that records the labels it sees (to check what the sampler feeds)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Tensor] = []

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        self.seen.append(target.clone())
        return nn.functional.cross_entropy(logits, target)


@pytest.mark.parametrize("streaming", [False, True], ids=["tensors", "loader"])
def test_balanced_sampler_evens_out_a_long_tail(streaming: bool) -> None:
    x, y = _data(n=300)
    keep = torch.cat([torch.nonzero(y == 0).flatten(), torch.nonzero(y == 1).flatten()[:20],
                      torch.nonzero(y == 2).flatten()[:4]])
    split = _streaming(x[keep], y[keep]) if streaming else Split.from_tensors(x[keep], y[keep])
    plain, balanced = _LabelCounter(), _LabelCounter()
    fit(_net(), split, FitConfig(epochs=3, loss=plain, progress=False))
    fit(_net(), split, FitConfig(epochs=3, loss=balanced, sampler="balanced", progress=False))
    share = lambda c: np.bincount(torch.cat(c.seen).numpy(), minlength=3) / len(torch.cat(c.seen))
    assert share(plain) == pytest.approx([100 / 124, 20 / 124, 4 / 124], abs=1e-9)
    assert share(balanced) == pytest.approx([1 / 3] * 3, abs=0.07)


def test_loss_factories_get_the_class_counts_and_epoch_hooks_run() -> None:
    x, y = _data()
    got: dict = {}

    class Hooked(nn.CrossEntropyLoss):
        def set_epoch(self, epoch: int, total: int) -> None:
            got.setdefault("epochs", []).append((epoch, total))

    def factory(counts: np.ndarray) -> nn.Module:
        got["counts"] = list(counts)
        return Hooked()

    fit(_net(), Split.from_tensors(x[:50], y[:50]), FitConfig(epochs=2, loss=factory, progress=False))
    assert got == {"counts": [17, 17, 16], "epochs": [(0, 2), (1, 2)]}
    fit(_net(), Split.from_tensors(x, y), FitConfig(epochs=1, loss=factory, class_counts=[5, 6, 7], progress=False))
    assert got["counts"] == [5, 6, 7]
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        fit(_net(), Split.from_tensors(x, y), FitConfig(epochs=1, class_counts=[5, 6], progress=False))


@pytest.mark.parametrize("schedule, factors", [
    ("none", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
    ("cosine", [0.5 * (1 + math.cos(math.pi * e / 10)) for e in range(10)]),
    ("step", [1] * 8 + [1e-2] + [1e-4]),
])
def test_learning_rate_schedules(schedule: str, factors: list[float]) -> None:
    x, y = _data(n=30)
    hist = fit(_net(), Split.from_tensors(x, y), FitConfig(epochs=10, lr=0.1, optimizer="sgd", schedule=schedule,
                                                         progress=False))
    assert hist.lr == pytest.approx([0.1 * f for f in factors])


def test_callables_for_optimizer_schedule_and_augment_and_early_stop() -> None:
    x, y = _data()
    calls = {"augment": 0}

    def augment(b: Tensor) -> Tensor:
        calls["augment"] += 1
        return b.flip(0).flip(0)

    cfg = FitConfig(epochs=5, batch_size=40, progress=False, optimizer=lambda ps: torch.optim.RMSprop(ps, lr=0.02),
                    schedule=lambda e, n: 1 / (e + 1), augment=augment)
    hist = fit(_net(), Split.from_tensors(x, y), cfg, callback=lambda epoch, h, m: epoch == 1)
    assert len(hist) == 2 and calls["augment"] == 2 * 3
    assert hist.lr == pytest.approx([0.02, 0.01])


def test_ldam_warns_on_a_plain_head_but_not_on_a_cosine_head() -> None:
    x, y = _data()
    split = Split.from_tensors(x, y)
    with pytest.warns(UserWarning, match="with_normed_head"):
        fit(_net(), split, FitConfig(epochs=1, loss="ldam", progress=False))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit(with_normed_head(_net()), split, FitConfig(epochs=1, loss="ldam", progress=False))
        fit(_net(), split, FitConfig(epochs=1, loss=LDAMLoss([40, 40, 40], s=1.0), progress=False))


def test_batchnorm_skips_a_batch_of_one_and_lazy_layers_are_created() -> None:
    x, y = _data(n=33)
    net = nn.Sequential(nn.LazyLinear(8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    hist = fit(net, Split.from_tensors(x, y), FitConfig(epochs=1, batch_size=16, progress=False))  # 16+16+1
    assert len(hist) == 1 and net[0].weight.shape == (8, 6)


def test_progress_bar_and_clear_errors(capsys) -> None:
    x, y = _data(n=30)
    fit(_net(), Split.from_tensors(x, y), FitConfig(epochs=1, progress=True))
    assert "fit" in capsys.readouterr().err
    quiet = FitConfig(epochs=1, progress=False)
    with pytest.raises(ValueError, match="num_classes=5"):
        fit(_net(), Split.from_tensors(x, y + 2), quiet)
    with pytest.raises(KeyError, match="adam"):
        fit(_net(), Split.from_tensors(x, y), FitConfig(epochs=1, optimizer="adma"))
    with pytest.raises(FloatingPointError, match="lower lr"):
        fit(_net(), Split.from_tensors(x * float("nan"), y), quiet)
    with pytest.raises(TypeError, match="FitConfig"):
        fit(_net(), Split.from_tensors(x, y), {"epochs": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        fit(_net(), Split.from_tensors(x[:0], y[:0]), quiet)


@pytest.mark.parametrize("bad, match", [
    (dict(epochs=-1), "epochs"), (dict(epochs=1.5), "epochs"), (dict(epochs=1, batch_size=0), "batch_size"),
    (dict(epochs=1, lr=0.0), "lr"), (dict(epochs=1, sampler="balance"), "sampler"),
    (dict(epochs=1, class_counts=[[1, 2]]), "1-D"),
])
def test_fit_config_refuses_bad_settings(bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FitConfig(**bad)


def test_fit_config_is_a_frozen_recipe_with_normalised_values() -> None:
    import dataclasses

    cfg = FitConfig(epochs=np.int64(3), lr=1, class_counts=np.array([4, 5]))
    assert (cfg.epochs, cfg.lr, cfg.class_counts) == (3, 1.0, (4, 5))
    assert type(cfg.epochs) is int and type(cfg.lr) is float
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 0.1  # type: ignore[misc]
    assert dataclasses.replace(cfg, epochs=5).epochs == 5 and cfg.epochs == 3
    rec = cfg.record(counts=np.array([4, 5]), masked=["b.weight", "a.weight"], n_train=9)
    assert rec["masked"] == ["a.weight", "b.weight"] and rec["class_counts"] == [4, 5] and rec["optimizer"] == "adam"


# --- mixed precision (labkit.runtime.accelerate): off on the CPU unless asked ----------------------------
def test_on_the_cpu_auto_precision_is_float32_bitwise_and_records_nothing_new() -> None:
    x, y = _data()
    runs = []
    for amp in ("auto", "off"):
        net = _net(dropout=0.1)
        runs.append((net, fit(net, Split.from_tensors(x, y), FitConfig(epochs=2, amp=amp, progress=False, device="cpu"))))
    assert _same(runs[0][0], runs[1][0]) and "amp" not in runs[0][1].config


def test_bf16_autocast_trains_on_the_cpu_keeps_masks_and_is_recorded() -> None:
    x, y = _data()
    net = _net()
    masks = _masks(net)
    hist = fit(net, Split.from_tensors(x, y), FitConfig(epochs=15, lr=1e-2, amp="bf16", progress=False, device="cpu"),
               masks=masks)
    assert hist.config["amp"] == "bf16" and net[0].weight.dtype == torch.float32  # autocast: fp32 master weights
    assert _acc(net, x, y) > 0.9 and all((dict(net.named_parameters())[n][~m] == 0).all() for n, m in masks.items())


def test_an_unknown_precision_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="auto, off, bf16, fp16"):
        FitConfig(epochs=1, amp="half")


@pytest.mark.gpu
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_on_cuda_mixed_precision_learns_and_keeps_masks(amp: str) -> None:
    x, y = _data()
    net = _net()
    masks = _masks(net)
    hist = fit(net, _streaming(x, y), FitConfig(epochs=15, lr=1e-2, amp=amp, progress=False, device="cuda"),
               masks=masks)  # streaming: pinned DataLoader batches, non-blocking copies; fp16: GradScaler
    assert hist.config["amp"] == amp and next(net.parameters()).is_cuda
    assert _acc(net.cpu(), x, y) > 0.9 and all((dict(net.named_parameters())[n][~m] == 0).all() for n, m in masks.items())
