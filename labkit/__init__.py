"""labkit: a pruning lab for marimo and JupyterLab notebooks.

The data flow (docs/design.md §1), one direction::

    dataset -> model -> scores -> allocation -> masks -> (merge) -> apply -> evaluate -> views
                                                               \\-> compact (physical) -> cost

Example:
    >>> import labkit as lk
    >>> data = lk.load_dataset("digits-lt", imbalance=20, seed=0)
    >>> model = lk.load_model("resnet20", dataset="digits-lt", pretrained=True)
    >>> sc = lk.score(model, "magnitude")
    >>> masks = lk.make_masks(sc, lk.allocate(sc, sparsity=0.5, mode="layered", depth_bias=0.5))
    >>> rep = lk.evaluate(lk.apply_masks(model, masks), data.test, groups=data.groups)
"""
from __future__ import annotations

from typing import Any

from ._version import __version__ as __version__

from .runtime import default_device as default_device
from .runtime import seed_everything as seed_everything
from .runtime import versions as versions

# data
from .data import LabData as LabData
from .data import Split as Split
from .data import class_groups as class_groups
from .data import dataset_info as dataset_info
from .data import get_dataset as get_dataset
from .data import list_datasets as list_datasets
from .data import load_dataset as load_dataset
from .data import longtail_counts as longtail_counts
from .data import register_dataset as register_dataset

# models
from .models import get_model as get_model
from .models import list_models as list_models
from .models import load_model as load_model
from .models import prunable_parameters as prunable_parameters
from .models import register_model as register_model
from .models import stages as stages
from .models import load_checkpoint as load_checkpoint
from .models import save_checkpoint as save_checkpoint

# scores
from .criteria import Scores as Scores
from .criteria import get_criterion as get_criterion
from .criteria import list_criteria as list_criteria
from .criteria import register_criterion as register_criterion
from .criteria import score as score

# allocation, masks, merge, apply, compact
from .pruning import Masks as Masks
from .pruning import Ranking as Ranking
from .pruning import allocate as allocate
from .pruning import apply_masks as apply_masks
from .pruning import compact as compact
from .pruning import couple_scores as couple_scores
from .pruning import coupled_groups as coupled_groups
from .pruning import expand_masks as expand_masks
from .pruning import get_merge_mode as get_merge_mode
from .pruning import list_merge_modes as list_merge_modes
from .pruning import make_masks as make_masks
from .pruning import merge_masks as merge_masks
from .pruning import overlap as overlap
from .pruning import register_merge_mode as register_merge_mode

# training and analysis
from .training import FitConfig as FitConfig
from .training import finetune as finetune
from .training import fit as fit
from .training import list_losses as list_losses
from .analysis.cost import cost as cost
from .analysis.evaluate import ClassReport as ClassReport
from .analysis.evaluate import evaluate as evaluate
from .analysis.sensitivity import sensitivity_scan as sensitivity_scan

# the notebooks' facade
from .lab import Lab as Lab
from .lab import Plan as Plan
from .lab import Trial as Trial


def app(lab: Lab, **options: Any) -> Any:
    """The whole lab as one ipywidgets widget (JupyterLab, VS Code, Colab): ``lk.app(lab)``.

    Controls, readout, per-class / group / profile / curve / cost views, merging with the
    clickable overlap widget, filter activations, the methods' views and fine-tune / save /
    report. ``options`` go to :class:`labkit.ui.jupyter_app.LabApp` (``candidates``, ``sweep``,
    ``out_dir``, ``dpi``). Needs the ``lab`` extra (ipywidgets, anywidget).

    Example:
        >>> lab = Lab("resnet20", "digits-lt")
        >>> app(lab)                                   # doctest: +SKIP
    """
    from .ui.jupyter_app import lab_app

    return lab_app(lab, **options)

__all__ = [
    "__version__", "default_device", "seed_everything", "versions",
    "LabData", "Split", "class_groups", "dataset_info", "get_dataset", "list_datasets", "load_dataset",
    "longtail_counts", "register_dataset",
    "get_model", "list_models", "load_model", "prunable_parameters", "register_model", "stages",
    "load_checkpoint", "save_checkpoint",
    "Scores", "get_criterion", "list_criteria", "register_criterion", "score",
    "Masks", "Ranking", "allocate", "apply_masks", "compact", "couple_scores", "coupled_groups", "expand_masks",
    "get_merge_mode", "list_merge_modes",
    "make_masks", "merge_masks", "overlap", "register_merge_mode",
    "FitConfig", "finetune", "fit", "list_losses", "cost", "ClassReport", "evaluate", "sensitivity_scan",
    "Lab", "Plan", "Trial", "app",
]
