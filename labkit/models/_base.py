"""What every labkit model exposes: ordered *stages* and its *prunable layers*.

Stages make incremental evaluation possible (docs/design.md §4): ``model(x)`` equals running
``x`` through ``stages(model)`` one after another, so when only stage ``k``'s masks change,
the lab caches the activation entering stage ``k`` and re-runs only ``k..end``.

Prunable layers follow docs/methods.md §0.1: every conv and linear weight, in forward order,
except (by default) the first conv and the last linear.

Example:
    >>> net = StagedNet()
    >>> net.stem, net.head = nn.Conv2d(1, 4, 3), nn.Sequential(nn.Flatten(), nn.LazyLinear(2))
    >>> net.stage_names = ("stem", "head")
    >>> [type(s).__name__ for s in stages(net)]
    ['Conv2d', 'Sequential']
"""
from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

__all__ = ["StagedNet", "stages", "register_stage_adapter", "prunable_parameters", "layer_of"]


class StagedNet(nn.Module):
    """Base class: a network that is the composition of the submodules named in ``stage_names``."""

    stage_names: tuple[str, ...] = ()

    def stages(self) -> list[nn.Module]:
        return [getattr(self, n) for n in self.stage_names]

    def forward(self, x: Tensor) -> Tensor:
        for stage in self.stages():
            x = stage(x)
        return x


# Adapters for models we do not own (torchvision): type -> function returning the stages.
_STAGE_ADAPTERS: dict[type, Callable[[nn.Module], list[nn.Module]]] = {}


def register_stage_adapter(cls: type) -> Callable:
    """Register how to split a foreign model class into stages (duplicates raise)."""

    def wrapper(fn: Callable[[nn.Module], list[nn.Module]]) -> Callable[[nn.Module], list[nn.Module]]:
        if cls in _STAGE_ADAPTERS:
            raise ValueError(f"a stage adapter for {cls.__name__} is already registered")
        _STAGE_ADAPTERS[cls] = fn
        return fn

    return wrapper


def stages(model: nn.Module) -> list[nn.Module]:
    """The ordered stages of ``model``; a model without any is one stage."""
    if isinstance(model, StagedNet):
        return model.stages()
    for cls in type(model).__mro__:
        if cls in _STAGE_ADAPTERS:
            return _STAGE_ADAPTERS[cls](model)
    return [model]


def prunable_parameters(model: nn.Module, exclude_first: bool = True,
                        exclude_last: bool = True) -> list[str]:
    """Names of conv / linear weights in forward (registration) order.

    ``exclude_first`` drops the first conv (it sees raw pixels and is tiny); ``exclude_last``
    drops the classifier (pruning it removes tail-class rows first, docs/methods.md §0.1): the last
    linear, or, in a network without any linear, the last conv (SqueezeNet's 1x1 conv
    classifier). :func:`labkit.pruning.compact` keeps the model's output channels whatever
    the masks say.
    """
    names = [f"{mn}.weight" if mn else "weight" for mn, m in model.named_modules()
             if isinstance(m, (nn.Conv2d, nn.Linear)) and getattr(m, "weight", None) is not None]
    if exclude_first:
        convs = [n for n in names if isinstance(layer_of(model, n), nn.Conv2d)]
        if convs:
            names.remove(convs[0])
    if exclude_last:
        linears = [n for n in names if isinstance(layer_of(model, n), nn.Linear)]
        if linears:
            names.remove(linears[-1])
        elif names:  # no linear: a fully convolutional classifier
            names.remove(names[-1])
    return names


def layer_of(model: nn.Module, param_name: str) -> nn.Module:
    """The module owning ``param_name`` (``"layer1.0.conv1.weight"`` -> that conv)."""
    mod_name = param_name.rsplit(".", 1)[0] if "." in param_name else ""
    try:
        return model.get_submodule(mod_name)
    except AttributeError:
        raise KeyError(f"unknown layer {param_name!r}; prunable layers: "
                       f"{', '.join(prunable_parameters(model, False, False))}") from None
