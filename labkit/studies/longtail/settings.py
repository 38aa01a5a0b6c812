"""Settings of the long-tail study (docs/methods.md §1.7): the runs, the table's columns, the knobs.

Example:
    >>> LongTailSettings.smoke().sparsities, list(RUNS)
    ((0.3, 0.5), ['A', 'L', 'B', 'C', 'D', 'E'])
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from ...data import LabData, load_dataset
from ...training.trainers import DEFAULT_TRAINERS, get_trainer

__all__ = ["RUNS", "COLUMNS", "LongTailSettings", "load_unit_data", "settings_dict", "mix_seed"]

RUNS: dict[str, str] = {
    "A": "dense CE θ0 (full baseline, E0 epochs)",
    "L": "dense CE θ0 trained E_aux + E_ft epochs more: as long as the method (matched baseline)",
    "B": "dense control: θ_k* fine-tuned with trainer k*, no mask",
    "C": "uniform magnitude mask on θ0, fine-tuned with CE",
    "D": "single-trainer mask M_k*, layered budgets, fine-tuned with k*",
    "E": "full method: merged mask M*, layered budgets, fine-tuned with k*",
}
"""The runs of docs/methods.md §1.7."""

COLUMNS = ["run", "sparsity", "seed", "permutation", "overall", "balanced", "many", "medium", "few",
           "trainer", "achieved", "alpha", "seconds", "n_test"]
"""Columns of :func:`run_study`'s table. ``sparsity`` is the target (0 for the dense runs A, B);
``achieved`` the measured fraction of prunable weights removed; ``trainer`` the loss that
fine-tuned the row's model; ``alpha`` the merge weights (JSON) for D / E; ``permutation`` −1
means the dataset's own class order; ``n_test`` the test items (the proxy's points per item)."""


@dataclass(frozen=True)
class LongTailSettings:
    """Settings of the §1.7 experiment on digits-LT ([inferred] marked), as issue 17's proxy with headroom.

    Defaults (the full run): ResNet-20 (19 prunable convs, so the layered profile has room),
    600 balanced test items (60 per class: one item = 0.17 pt), 5 seeds, each its own split, init
    and class order (``permutations=None``: digits-LT permutes the classes by the seed). Run L is
    the dense baseline trained as long as the method. docs/methods.md §1.7's original proxy
    (``tiny_cnn``, 300 test items, 3 seeds x 3 orders) is :meth:`v1`.
    """

    dataset: str = "digits-lt"
    model: str = "resnet20"
    imbalance: float = 20.0
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)        # data split, class order and training seed
    permutations: tuple[int, ...] | None = None     # class-order seeds; None = one order per seed
    sparsities: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7)
    trainers: tuple[str, ...] = DEFAULT_TRAINERS
    runs: tuple[str, ...] = ("A", "L", "B", "C", "D", "E")
    e0: int = 40
    e_aux: int = 10
    e_ft: int = 10
    optimizer: str = "adam"
    lr: float = 1e-3                   # θ0
    lr_finetune: float | None = None   # auxiliary trainers and E_ft; None = lr
    schedule: str = "none"             # θ0
    schedule_finetune: str = "none"
    weight_decay: float = 0.0
    batch_size: int = 64               # [inferred]: §1.7 gives none
    criterion: str = "magnitude"       # S_k = |θ_k|; "taylor" on a balanced calibration set
    calibration_per_class: int = 10
    depth_bias: float = 0.5            # δ of the layered profile (§1.3)
    s_max: float = 0.95
    tau: float = 20.0                  # α = softmax(τ a_k); 0 = plain vote
    merge_mode: str = "weighted"       # weighted | majority | intersection-first
    weights: tuple[float, ...] | None = None  # merge weights by hand (one per trainer); overrides τ
    weight_by: str = "balanced"        # a_k: balanced val accuracy, or "few"
    control: str = "matched"           # B: "matched" (+E_ft dense epochs) or "theta_k" (θ_k* as is)
    start: str = "best"                # E / D fine-tune from θ_k* ("best"), θ0 ("theta0") or an α-weighted soup
    exclude_first: bool = True         # docs/methods.md §0.1 prunable set (the classifier always stays dense)
    verdict_sparsity: float = 0.3
    dataset_options: tuple[tuple[str, Any], ...] = (("test_per_class", 60),)
    device: str | None = None

    def __post_init__(self) -> None:
        bad = [r for r in self.runs if r not in RUNS]
        if bad:
            raise KeyError(f"unknown run(s) {bad}; runs are {list(RUNS)}")
        for name in self.trainers:
            get_trainer(name)  # unknown trainer -> KeyError with close matches
        if len(set(self.trainers)) != len(self.trainers) or not self.trainers:
            raise ValueError(f"trainers must be distinct and non-empty, got {self.trainers}")
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one (three for a verdict, docs/methods.md §0.1)")
        for s in self.sparsities:
            if not 0.0 < float(s) < 1.0:
                raise ValueError(f"sparsities must be fractions in (0, 1), got {s}")
        if self.control not in ("matched", "theta_k"):
            raise ValueError(f"control must be 'matched' or 'theta_k', got {self.control!r}")
        if self.start not in ("best", "theta0", "soup"):
            raise ValueError(f"start must be 'best', 'theta0' or 'soup', got {self.start!r}")
        if self.weights is not None and len(self.weights) != len(self.trainers):
            raise ValueError(f"weights has {len(self.weights)} entries for {len(self.trainers)} trainers")

    @classmethod
    def smoke(cls) -> LongTailSettings:
        """A tiny run for CI (< 1 min on a CPU): 2 seeds, 1 permutation, 2 sparsities, few epochs.

        The numbers are not meaningful; they only prove every path runs.
        """
        return cls(model="tiny_cnn", seeds=(0, 1), permutations=(0,), sparsities=(0.3, 0.5), e0=4, e_aux=1, e_ft=1,
                   dataset_options=(("test_per_class", 30),))

    @classmethod
    def v1(cls) -> LongTailSettings:
        """The proxy of the runs committed before issue 17: tiny_cnn, 300 test items, 3 seeds x 3 orders, no L."""
        return cls(model="tiny_cnn", seeds=(0, 1, 2), permutations=(0, 1, 2), runs=("A", "B", "C", "D", "E"),
                   dataset_options=())

    @classmethod
    def cifar100_lt(cls, root: str | None = None, **overrides: Any) -> LongTailSettings:
        """CIFAR-100-LT (IF 100) with ResNet-32, LDAM-DRW's θ0 recipe (docs/methods.md §1.1).

        θ0: SGD lr 0.1, momentum 0.9, weight decay 2e-4, batch 128, 200 epochs, lr ×0.01 / ×0.0001
        at 80% / 90% (no warm-up), random crop + flip. Auxiliary trainers and the final fine-tune
        [inferred]: 20 epochs each at lr 0.01, cosine. The class order is the dataset's own.
        """
        opts: dict[str, Any] = {"augment": True}
        if root is not None:
            opts["root"] = root
        base = cls(dataset="cifar100-lt", model="resnet32", imbalance=100.0, permutations=None,
                   e0=200, e_aux=20, e_ft=20, optimizer="sgd", lr=0.1, lr_finetune=0.01, schedule="step",
                   schedule_finetune="cosine", weight_decay=2e-4, batch_size=128,
                   dataset_options=tuple(sorted(opts.items())))
        return replace(base, **overrides)

    def fit_kwargs(self, phase: str) -> dict[str, Any]:
        """``fit`` options of a phase: ``"theta0"`` or ``"finetune"`` (auxiliary trainers and E_ft)."""
        lr = self.lr if phase == "theta0" or self.lr_finetune is None else self.lr_finetune
        sched = self.schedule if phase == "theta0" else self.schedule_finetune
        return {"optimizer": self.optimizer, "lr": lr, "schedule": sched, "weight_decay": self.weight_decay,
                "batch_size": self.batch_size}


def load_unit_data(settings: LongTailSettings, seed: int, permutation: int | None) -> LabData:
    """The dataset of one unit: split seed ``seed``, class order ``permutation`` (digits-LT only)."""
    kw: dict[str, Any] = {"imbalance": settings.imbalance, "seed": seed, **dict(settings.dataset_options)}
    if permutation is not None and permutation >= 0:
        kw["order_seed"] = permutation
    return load_dataset(settings.dataset, **kw)


def mix_seed(*parts: int) -> int:
    """A well-mixed non-negative 31-bit seed from integers (seed, trainer index, phase ...)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] >> 1)


def settings_dict(settings: LongTailSettings) -> dict[str, Any]:
    """The settings as the table records them (``df.attrs["settings"]``; dataset options as strings)."""
    d = asdict(settings)
    d["dataset_options"] = {k: str(v) for k, v in settings.dataset_options}
    return d
