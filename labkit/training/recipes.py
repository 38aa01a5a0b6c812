"""Training recipes: published baselines as frozen, named values (a strict registry).

A :class:`Recipe` is a :class:`~labkit.training.FitConfig` (optimizer, learning rate and
schedule, batch, loss, epochs) plus what depends on the data or the model: the batch
augmentation (its padding colour comes from the dataset's normalisation) and the classifier
head. ``labkit train --recipe NAME`` and :func:`get_recipe` read this registry; an unknown name
fails with the list of known ones.

The CIFAR-LT recipes are those of LDAM-DRW (Cao et al. 2019, arXiv 1906.07413; code
kaidic/LDAM-DRW ``cifar_train.py``; docs/methods.md §1.1): ResNet-32, SGD lr 0.1, momentum
0.9, weight decay 2e-4, batch 128, 200 epochs, a 5-epoch linear warm-up, lr ×0.01 from epoch
160 and ×0.0001 from epoch 180 (``schedule="warmup_step"``), random crop 32 with padding 4 and
a horizontal flip. They differ in the loss:

==========  ==========================================================================
recipe      loss
==========  ==========================================================================
``ce``      cross-entropy (the paper's ERM baseline)
``ce-drw``  cross-entropy, class-balanced re-weighting from epoch 160 (DRW, β = 0.9999)
``ldam-drw``  LDAM margins (max 0.5, s = 30) on a cosine head, DRW from epoch 160
==========  ==========================================================================

The cosine head (:class:`~labkit.training.NormedLinear`) of ``ldam-drw`` is folded back into a
plain ``nn.Linear`` when training ends (:meth:`Recipe.finish`): weight rows set to unit length,
bias 0. Its logits are the cosine logits times ``|feature|``, a positive number per image, so
every prediction (arg max) and every accuracy is unchanged, and the checkpoint loads into the
registered architecture (``load_model``) like any other.

Example:
    >>> r = get_recipe("ldam-drw")
    >>> r.config.optimizer, r.config.lr, r.config.weight_decay, r.config.batch_size, r.config.epochs
    ('sgd', 0.1, 0.0002, 128, 200)
    >>> list_recipes()
    ['ce', 'ce-drw', 'ldam-drw']
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._registry import Registry
from ..data import LabData
from .augment import RandomCropFlip
from .config import FitConfig
from .heads import NormedLinear, with_normed_head

__all__ = ["Recipe", "register_recipe", "list_recipes", "get_recipe"]


@dataclass(frozen=True)
class Recipe:
    """A named training recipe (see the module docstring).

    Attributes:
        name: the registry key (``labkit train --recipe NAME``).
        summary: one line for ``--help`` and the docs.
        config: the data-independent settings (no ``class_counts``, ``augment`` or ``device``).
        crop_padding: random crop with this much padding (0: none).
        flip: random horizontal flip.
        normed_head: train with a cosine head (LDAM's ``s = 30`` assumes one).
        reference: where the recipe comes from.
    """

    name: str
    summary: str
    config: FitConfig
    crop_padding: int = 4
    flip: bool = True
    normed_head: bool = False
    reference: str = ""

    def fit_config(self, data: LabData, **overrides: Any) -> FitConfig:
        """The :class:`FitConfig` for ``data``: its class counts, the augmentation, then ``overrides``.

        The crop pads with black, as torchvision does before normalising: ``-mean / std`` per
        channel when the dataset records its normalisation (``data.meta["normalize"]``).
        """
        norm = data.meta.get("normalize")
        fill = tuple(-m / s for m, s in zip(norm["mean"], norm["std"])) if norm else None
        augment = RandomCropFlip(self.crop_padding, flip=self.flip, fill=fill) \
            if self.crop_padding or self.flip else None
        return dataclasses.replace(self.config, class_counts=data.class_counts, augment=augment, **overrides)

    def prepare(self, model: nn.Module) -> nn.Module:
        """The model to train: a copy with a cosine head if the recipe asks, else ``model`` itself."""
        return with_normed_head(model) if self.normed_head else model

    def finish(self, model: nn.Module) -> nn.Module:
        """Fold a cosine head back into an ``nn.Linear`` (unit rows, bias 0; same predictions), in place."""
        for name, mod in list(model.named_modules()):
            if isinstance(mod, NormedLinear):
                plain = nn.Linear(mod.in_features, mod.out_features, device=mod.weight.device,
                                  dtype=mod.weight.dtype)
                with torch.no_grad():
                    plain.weight.copy_(nn.functional.normalize(mod.weight, dim=-1))
                    plain.bias.zero_()
                parent, _, leaf = name.rpartition(".")
                setattr(model.get_submodule(parent) if parent else model, leaf, plain)
        return model

    def describe(self) -> dict[str, Any]:
        """JSON-able description recorded in checkpoints."""
        return {"name": self.name, "crop_padding": self.crop_padding, "flip": self.flip,
                "normed_head": self.normed_head, "reference": self.reference}


_RECIPES: Registry[Recipe] = Registry("recipe")


def register_recipe(recipe: Recipe) -> Recipe:
    """Record ``recipe`` under its name (a duplicate name raises ``ValueError``)."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"register_recipe takes a Recipe, got {type(recipe).__name__}")
    _RECIPES.add(recipe.name, recipe)
    return recipe


def list_recipes() -> list[str]:
    """Registered recipe names, sorted."""
    return _RECIPES.names()


def get_recipe(name: str) -> Recipe:
    """The recipe registered as ``name`` (``KeyError`` naming the known ones otherwise)."""
    return _RECIPES.get(name)


_LDAM_PAPER = "Cao et al. 2019, arXiv 1906.07413 (kaidic/LDAM-DRW cifar_train.py)"
_CIFAR_LT = FitConfig(epochs=200, optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=2e-4,
                      schedule="warmup_step", batch_size=128)
for _r in (Recipe("ce", "CIFAR-LT baseline: cross-entropy, SGD 0.1, warm-up 5, x0.01 at 160 and 180 of 200",
                  dataclasses.replace(_CIFAR_LT, loss="ce"), reference=_LDAM_PAPER),
           Recipe("ce-drw", "as ce, with class-balanced re-weighting (DRW) from epoch 160",
                  dataclasses.replace(_CIFAR_LT, loss="ce_drw"), reference=_LDAM_PAPER),
           Recipe("ldam-drw", "LDAM-DRW: LDAM loss on a cosine head, DRW from epoch 160; SGD 0.1, 200 epochs",
                  dataclasses.replace(_CIFAR_LT, loss="ldam_drw"), normed_head=True, reference=_LDAM_PAPER)):
    register_recipe(_r)
