"""Training: ``fit`` / ``finetune`` (mask-preserving) with a ``FitConfig``, long-tail losses, class-balanced sampling.

Example:
    >>> from labkit.training import FitConfig, fit, list_losses
    >>> "ldam_drw" in list_losses(), FitConfig(epochs=5, loss="ldam_drw").loss
    (True, 'ldam_drw')
"""
from __future__ import annotations

from .checkpoint import TrainState as TrainState
from .checkpoint import load_train_state as load_train_state
from .checkpoint import save_train_state as save_train_state
from .config import FitConfig as FitConfig
from .fit import finetune as finetune
from .fit import fit as fit
from .heads import NormedLinear as NormedLinear
from .heads import with_normed_head as with_normed_head
from .history import TrainHistory as TrainHistory
from .losses import CEDRW as CEDRW
from .losses import BalancedSoftmaxLoss as BalancedSoftmaxLoss
from .losses import CrossEntropy as CrossEntropy
from .losses import LDAMDRWLoss as LDAMDRWLoss
from .losses import LDAMLoss as LDAMLoss
from .losses import LogitAdjustedLoss as LogitAdjustedLoss
from .losses import LongTailLoss as LongTailLoss
from .losses import drw_weights as drw_weights
from .losses import get_loss as get_loss
from .losses import ldam_margins as ldam_margins
from .losses import list_losses as list_losses
from .losses import make_loss as make_loss
from .losses import register_loss as register_loss
from .optim import get_schedule as get_schedule
from .optim import list_optimizers as list_optimizers
from .optim import list_schedules as list_schedules
from .optim import make_optimizer as make_optimizer
from .recipes import Recipe as Recipe
from .recipes import get_recipe as get_recipe
from .recipes import list_recipes as list_recipes
from .recipes import register_recipe as register_recipe
from .samplers import ClassBalancedSampler as ClassBalancedSampler

__all__ = [
    "fit", "finetune", "FitConfig", "TrainHistory", "list_optimizers", "list_schedules", "make_optimizer",
    "get_schedule",
    "register_loss", "list_losses", "get_loss", "make_loss", "drw_weights", "ldam_margins",
    "LongTailLoss", "CrossEntropy", "CEDRW", "BalancedSoftmaxLoss", "LogitAdjustedLoss",
    "LDAMLoss", "LDAMDRWLoss", "NormedLinear", "with_normed_head", "ClassBalancedSampler",
    "TrainState", "save_train_state", "load_train_state",
    "Recipe", "register_recipe", "list_recipes", "get_recipe",
]
