"""Settings of the DOMINOS study (docs/methods.md §5.7): the runs compared and the experiment's knobs.

Example:
    >>> DominosSettings.smoke().seeds, RUNS["rd_c2b"].structure
    ((0,), 'blocks')
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NamedTuple

__all__ = ["Run", "RUNS", "DominosSettings", "COLUMNS"]


class Run(NamedTuple):
    """One pruning variant: which importance it ranks by and whether the block rule applies."""

    importance: str   # "l1", "random", "R", "D", "I"
    structure: str    # "blocks" (channel-to-block) or "internal" (no rule)
    what: str


RUNS: dict[str, Run] = {
    "l1": Run("l1", "blocks", "L1-norm of the filter (Li et al. 2017), same selection and block rule"),
    "random": Run("random", "blocks", "seeded random scores, same selection and block rule"),
    "fpgm": Run("fpgm", "blocks", "FPGM: distance to the layer's other filters (He et al. 2019), same rule"),
    "taylor": Run("taylor", "blocks", "first-order Taylor |a·dL/da| on the calibration items (Molchanov 2017), same rule"),
    "r_only": Run("R", "blocks", "representativeness R only (alpha = 1)"),
    "d_only": Run("D", "blocks", "domino influence D only (alpha = 0)"),
    "rd_internal": Run("I", "internal", "R*D without channel-to-block (conv1 channels only, no block removed)"),
    "rd_c2b": Run("I", "blocks", "R*D + channel-to-block: the DOMINOS method as inferred"),
}
"""The §5.7 runs: the method (``rd_c2b``), its baselines and ablations."""


@dataclass(frozen=True)
class DominosSettings:
    """Settings of the §5.7 experiment (defaults = docs/methods.md §5.7 where it says; [inferred] elsewhere)."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)   # >= 5 seeds, each a new split and init (issue 17)
    runs: tuple[str, ...] = tuple(RUNS)
    # MACs reductions. Issue 17 asks for -70/-80 %; -80 % is out of reach for the no-block-rule run
    # (rd_internal: at most -76.7 % with floor 0.2 on ResNet-20), so the deepest target is -75 %.
    targets: tuple[float, ...] = (0.4, 0.6, 0.7, 0.75)
    epochs: int = 30                           # dense: SGD 0.1, cosine
    lr: float = 0.1
    weight_decay: float = 5e-4                 # [inferred]: the usual CIFAR-ResNet value; §5.7 names none
    batch_size: int = 64                       # [inferred]: ~11 steps per epoch on 698 images
    finetune_epochs: int = 15
    finetune_lr: float = 0.01                  # [inferred]: §5.7 gives no fine-tuning lr; §5.5's 0.01
    attention_epochs: int = 10                 # SE vs the same number of plain epochs
    attention_lr: float = 0.01                 # §5.5
    attention_runs: tuple[str, ...] = ("rd_c2b",)
    alpha: float = 0.5
    top_m: int = 1
    floor: float = 0.2
    tau_blk: float = 0.5
    beta: float = 0.0
    method: str = "exact"                      # influence: "exact" ablation or first-order "jvp"
    horizon: int | None = None                 # measured depths (None: down to the logits)
    calib_items: int = 256                     # R's calibration batch (§5.1)
    calib_items_d: int = 64                    # D's ablation batch (cost is linear in it)
    image_size: int = 16
    # Gaussian pixel noise (std) for headroom. At 0.2 the v2 run's dense ResNet-20 reached 0.970 (a
    # headroom FAIL: every pruned run sat within a point of it); one-seed calibration runs of the
    # dense network gave 0.798 / 0.855 at 0.5 (seeds 0 / 1) and 0.685 at 0.6.
    noise: float = 0.5
    noise_splits: tuple[str, ...] = ("train", "val", "test")
    train_fraction: float = 0.5
    test_per_class: int = 60                   # 600 test items: one item = 0.17 pt (issue 17)
    dataset: str = "digits"                    # "digits" (the CPU proxy) or a registered dataset (cifar10)
    model: str = "resnet20"                    # a CIFAR ResNet of basic blocks (resnet20/32/56)
    channels: int = 1                          # input channels (1: digits, 3: CIFAR)
    dataset_options: tuple[tuple[str, Any], ...] = ()  # load_dataset kwargs for a non-digits dataset
    device: str | None = None

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """One item's shape, ``(channels, image_size, image_size)``."""
        return (self.channels, self.image_size, self.image_size)

    @classmethod
    def smoke(cls) -> DominosSettings:
        """A tiny run for CI: one seed, one epoch per phase, a fifth of the pool, 16 ablation items."""
        return cls(seeds=(0,), targets=(0.4, 0.6), epochs=1, finetune_epochs=1, attention_epochs=1, train_fraction=0.2,
                   calib_items=64, calib_items_d=16, test_per_class=30)

    @classmethod
    def cifar10(cls, root: str | None = None, **overrides: Any) -> DominosSettings:
        """The benchmark setting of channel-pruning papers: ResNet-56 on CIFAR-10 (needs the files; meant for a GPU).

        The thesis does not name its data; FPGM, HRank and CHIP, which DOMINOS compares against,
        all report CIFAR-10 ResNet-56. Dense: 160 epochs of SGD 0.1 with a cosine schedule
        (He et al. 2016 train 164 with steps) at batch 128; fine-tune 40 epochs at 0.01, SE 20
        epochs: **[inferred]**. Crop-and-flip augmentation on the training split; the full
        10,000-image test set. ``root`` holds ``cifar-10-batches-py`` (``None``: ``$LABKIT_DATA``).
        """
        base = cls(dataset="cifar10", model="resnet56", channels=3, image_size=32, noise=0.0, noise_splits=(),
                   train_fraction=1.0, epochs=160, batch_size=128, finetune_epochs=40,
                   attention_epochs=20, weight_decay=1e-4,
                   dataset_options=(("augment", True),) + ((("root", root),) if root else ()))
        return replace(base, **overrides)


COLUMNS = ["seed", "run", "target", "what", "structure", "macs", "params", "reduction", "removed_blocks",
           "n_removed", "shape_ok", "acc_pruned", "acc_ft", "acc_se", "acc_extra", "se_params", "se_macs",
           "influence_seconds", "weibull_fits", "weibull_r2_defined", "weibull_r2_ge_09", "seconds", "n_test"]
"""Columns of the study table (:func:`labkit.studies.dominos.run_study`)."""
