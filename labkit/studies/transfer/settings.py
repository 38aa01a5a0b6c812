"""Settings of the method 4 study (docs/methods.md §4.3 protocol, §4.5 experiment) and its vocabulary.

Example:
    >>> TransferSettings.smoke().ratios, FAMILIES["apoz"]
    ((0.0, 0.4), 'data')
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

__all__ = ["FAMILIES", "RANKINGS", "ARMS", "SOURCE", "TransferSettings"]

#: Criterion -> family, for §4.5's "data-driven >= weight >= random".
FAMILIES: dict[str, str] = {"mean_activation": "data", "apoz": "data", "taylor": "data",
                            "min_weight": "weight", "avg_weight": "weight", "magnitude": "weight",
                            "magnitude_l2": "weight", "random": "random"}
RANKINGS = ("per-layer", "global")
ARMS = ("inherit", "scratch-e", "scratch-b")


class SourceSpec(TypedDict):
    """The shipped source model of §4.5: model name, checkpoint dataset key, :func:`load_dataset` kwargs."""

    model: str
    dataset: str
    dataset_kwargs: dict[str, Any]


#: The shipped source model of §4.5: (model name, checkpoint dataset key, how it was made).
SOURCE: SourceSpec = {"model": "vgg_small", "dataset": "digits-0-4",
                      "dataset_kwargs": {"classes": [0, 1, 2, 3, 4], "size": 32}}


@dataclass(frozen=True)
class TransferSettings:
    """Settings of the §4.3 protocol (defaults: the §4.5 CPU experiment; see :meth:`smoke`, :meth:`thesis`)."""

    criteria: tuple[str, ...] = ("mean_activation", "apoz", "min_weight", "avg_weight", "random")
    rankings: tuple[str, ...] = RANKINGS
    ratios: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)
    arms: tuple[str, ...] = ARMS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)   # §4.5: 5 seeds, each resamples the 15-shot set
    normalize: str = "l2"                      # global ranking: Molchanov's per-layer L2 (§4.2)
    min_keep: int | float | None = None        # None: max(1, ceil(0.1 C_l)) filters per layer
    exclude_first: bool = True                 # §0.1; the thesis's VGG-16 count (4,224) includes it
    epochs: int = 30                           # §4.5 fine-tune
    optimizer: str = "adam"                    # §4.5: Adam 1e-3; §4.3 (ImageNet): SGD
    lr: float = 1e-3
    head_lr: float | None = None               # §4.3: 1e-2 for the new head (None: same as lr)
    weight_decay: float = 0.0
    momentum: float = 0.9
    batch_size: int = 32
    scratch_b_cap: float = 3.0                 # Scratch-B epochs x min(cap, dense/pruned MACs)
    target_classes: tuple[int, ...] = (5, 6, 7, 8, 9)
    shots: int = 15
    image_size: int = 32
    # Gaussian pixel noise (std) on the target's train / val / test images: the clean-digits source
    # meets a noisy target. Issue 17's headroom: on clean digits unpruned transfer reached 0.93 and
    # 15-shot training from scratch nearly matched it; at 0.5 transfer lands near 0.87 and clearly
    # beats scratch (the "source transfers" check). 0.0 is the table committed before issue 17.
    noise: float = 0.5
    test_per_class: int | None = None          # None: every unused 5-9 image (§4.5); smoke caps it
    device: str | None = None

    @classmethod
    def smoke(cls) -> TransferSettings:
        """Tiny run for CI: 3 seeds, r in {0, 0.4}, 3 criteria, 1 epoch, 20 test images per class."""
        return cls(criteria=("mean_activation", "avg_weight", "random"), ratios=(0.0, 0.4),
                   arms=("inherit", "scratch-e"), seeds=(0, 1, 2), epochs=1, test_per_class=20)

    @classmethod
    def thesis(cls) -> TransferSettings:
        """The §4.3 recipe for ImageNet VGG-16: SGD 0.9, lr 1e-3 / head 1e-2, wd 5e-4, all 13 convs."""
        return cls(criteria=("mean_activation", "apoz", "min_weight", "avg_weight", "taylor", "random"),
                   optimizer="sgd", lr=1e-3, head_lr=1e-2, weight_decay=5e-4, exclude_first=False, seeds=(0,),
                   noise=0.0)
