"""One description of the lab's controls, rendered by marimo or by ipywidgets.

marimo does not render classic ipywidgets, and Jupyter does not render ``mo.ui`` elements
(docs/design.md §5). So a notebook describes its controls once, as plain frozen dataclasses, and
an adapter draws them: :func:`labkit.ui.marimo.controls` as a ``mo.ui.dictionary`` and
:func:`labkit.ui.jupyter.controls` as an ipywidgets ``VBox``. Both hand back the same plain
``dict[str, Any]`` of values, so the code after the controls does not know which host it
runs in. This module imports neither library.

``debounce=True`` marks a slider that triggers expensive work (scoring, re-evaluation): marimo
then sends the value only when the drag ends, and ipywidgets uses ``continuous_update=False``.

Example:
    >>> spec = ControlSpec([
    ...     Slider("sparsity", "global sparsity", 0.0, 0.9, 0.05, 0.5),
    ...     Dropdown("criterion", "criterion", ("magnitude", "taylor"), "magnitude"),
    ...     Checkbox("exclude_first", "keep the first conv dense", True),
    ...     Button("finetune", "fine-tune"),
    ... ])
    >>> spec.defaults()
    {'sparsity': 0.5, 'criterion': 'magnitude', 'exclude_first': True, 'finetune': False}
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

__all__ = ["Slider", "Dropdown", "Checkbox", "Button", "Control", "ControlSpec", "layer_spec"]


def _check_name(kind: str, name: object, label: object) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a {kind} needs a non-empty string name (the key of its value), got {name!r}")
    if not isinstance(label, str):
        raise TypeError(f"{kind} {name!r}: label must be a string, got {type(label).__name__}")


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass(frozen=True)
class Slider:
    """A numeric slider from ``start`` to ``stop`` in steps of ``step``, starting at ``value``.

    The slider holds integers when all four numbers are ``int`` and floats otherwise.
    ``value`` must lie on the grid ``start + k * step`` so that every host shows the same value.
    """

    name: str
    label: str
    start: float
    stop: float
    step: float
    value: float
    debounce: bool = True

    def __post_init__(self) -> None:
        _check_name("Slider", self.name, self.label)
        nums = (self.start, self.stop, self.step, self.value)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in nums):
            raise TypeError(f"Slider {self.name!r}: start, stop, step and value must be finite numbers, got {nums}")
        if not self.start < self.stop:
            raise ValueError(f"Slider {self.name!r}: start ({self.start}) must be below stop ({self.stop})")
        if not 0 < self.step <= self.stop - self.start:
            raise ValueError(f"Slider {self.name!r}: step must be in (0, stop - start], got {self.step}")
        self.validate(self.value)

    @property
    def integer(self) -> bool:
        """True when the slider holds integers (all of start, stop, step and value are ints)."""
        return all(_is_int(v) for v in (self.start, self.stop, self.step, self.value))

    def validate(self, value: Any) -> float:
        """Return ``value`` if it is a number on this slider's grid, else raise ``ValueError``."""
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise TypeError(f"Slider {self.name!r}: value must be a number, got {value!r}")
        if not self.start <= value <= self.stop:
            raise ValueError(f"Slider {self.name!r}: value {value} is outside [{self.start}, {self.stop}]")
        k = (value - self.start) / self.step
        if abs(k - round(k)) > 1e-6:
            raise ValueError(f"Slider {self.name!r}: value {value} is not start + k * step "
                             f"(start={self.start}, step={self.step}); round it to the grid")
        return value


@dataclass(frozen=True)
class Dropdown:
    """A choice among string ``options``; ``value`` defaults to the first option."""

    name: str
    label: str
    options: tuple[str, ...]
    value: str | None = None

    def __post_init__(self) -> None:
        _check_name("Dropdown", self.name, self.label)
        if isinstance(self.options, str) or not isinstance(self.options, Iterable):
            raise TypeError(f"Dropdown {self.name!r}: options must be a list of strings, got {self.options!r}")
        options = tuple(self.options)
        if not options or not all(isinstance(o, str) for o in options):
            raise ValueError(f"Dropdown {self.name!r}: options must be a non-empty list of strings, got {options}")
        if len(set(options)) != len(options):
            raise ValueError(f"Dropdown {self.name!r}: options repeat: {options}")
        object.__setattr__(self, "options", options)  # frozen: store the list as a tuple
        object.__setattr__(self, "value", options[0] if self.value is None else self.value)
        self.validate(self.value)

    def validate(self, value: Any) -> str:
        """Return ``value`` if it is one of the options, else raise ``ValueError``."""
        if value not in self.options:
            raise ValueError(f"Dropdown {self.name!r}: {value!r} is not an option; options: {list(self.options)}")
        return value


@dataclass(frozen=True)
class Checkbox:
    """An on/off switch."""

    name: str
    label: str
    value: bool = False

    def __post_init__(self) -> None:
        _check_name("Checkbox", self.name, self.label)
        self.validate(self.value)

    def validate(self, value: Any) -> bool:
        """Return ``value`` if it is a bool, else raise ``TypeError``."""
        if not isinstance(value, bool):
            raise TypeError(f"Checkbox {self.name!r}: value must be True or False, got {value!r}")
        return value


@dataclass(frozen=True)
class Button:
    """A button for an action (fine-tune, save, export). Its value is ``False`` at rest and
    ``True`` only in the update a click triggers (marimo's ``run_button`` semantics)."""

    name: str
    label: str

    def __post_init__(self) -> None:
        _check_name("Button", self.name, self.label)

    @property
    def value(self) -> bool:
        return False

    def validate(self, value: Any) -> bool:
        """Return ``value`` if it is a bool, else raise ``TypeError``."""
        if not isinstance(value, bool):
            raise TypeError(f"Button {self.name!r}: value must be True or False, got {value!r}")
        return value


Control = Slider | Dropdown | Checkbox | Button
_CONTROL_TYPES = (Slider, Dropdown, Checkbox, Button)


class ControlSpec(Sequence[Control]):
    """An ordered, immutable list of controls with unique names.

    Index it by position or by name; ``spec + other`` concatenates two specs.

    Example:
        >>> spec = ControlSpec([Slider("s", "sparsity", 0.0, 0.9, 0.1, 0.5)]) + layer_spec(["fc.weight"])
        >>> spec.names
        ['s', 'fc.weight']
        >>> spec["s"].stop
        0.9
    """

    def __init__(self, controls: Iterable[Control] = ()) -> None:
        items = tuple(controls)
        for c in items:
            if not isinstance(c, _CONTROL_TYPES):
                raise TypeError(f"ControlSpec takes Slider, Dropdown, Checkbox and Button, got {type(c).__name__}")
        names = [c.name for c in items]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"control names must be unique; repeated: {dupes}")
        self._controls = items
        self._by_name = {c.name: c for c in items}

    @overload
    def __getitem__(self, key: int | str) -> Control: ...
    @overload
    def __getitem__(self, key: slice) -> ControlSpec: ...
    def __getitem__(self, key: int | str | slice) -> Control | ControlSpec:
        if isinstance(key, str):
            try:
                return self._by_name[key]
            except KeyError:
                raise KeyError(f"no control named {key!r}; controls: {self.names}") from None
        if isinstance(key, slice):
            return ControlSpec(self._controls[key])
        return self._controls[key]

    def __len__(self) -> int:
        return len(self._controls)

    def __iter__(self) -> Iterator[Control]:
        return iter(self._controls)

    def __contains__(self, item: object) -> bool:
        return item in self._by_name if isinstance(item, str) else item in self._controls

    def __add__(self, other: ControlSpec) -> ControlSpec:
        if not isinstance(other, ControlSpec):
            return NotImplemented
        return ControlSpec(self._controls + other._controls)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ControlSpec) and self._controls == other._controls

    def __hash__(self) -> int:
        return hash(self._controls)

    def __repr__(self) -> str:
        inner = ",\n    ".join(repr(c) for c in self._controls)
        return f"ControlSpec([\n    {inner},\n])" if inner else "ControlSpec([])"

    @property
    def names(self) -> list[str]:
        """Control names in order: the keys of every values dict."""
        return [c.name for c in self._controls]

    def defaults(self) -> dict[str, Any]:
        """The initial value of every control, in order (buttons are ``False``)."""
        return {c.name: c.value for c in self._controls}

    def validate(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Check a values dict from an adapter against the spec and return it as a plain dict.

        Raises ``KeyError`` for missing or unknown names and ``ValueError``/``TypeError`` for a
        value a control cannot hold.
        """
        missing = [n for n in self.names if n not in values]
        extra = [n for n in values if n not in self._by_name]
        if missing or extra:
            raise KeyError(f"values do not match the spec: missing {missing}, unknown {extra}")
        return {n: self._by_name[n].validate(values[n]) for n in self.names}


def layer_spec(layers: Sequence[str], value: float | Mapping[str, float] = 0.5, *, start: float = 0.0,
               stop: float = 0.95, step: float = 0.05, debounce: bool = True) -> ControlSpec:
    """One sparsity slider per prunable layer, named by parameter, labelled without ``.weight``.

    Args:
        layers: parameter names in forward order (``lk.prunable_parameters(model)``).
        value: one starting sparsity for all layers, or a dict ``layer -> sparsity`` (an
            allocation, so the sliders start where ``lk.allocate`` put them); values are
            rounded to the nearest point of the slider grid and must lie in [start, stop].

    Example:
        >>> layer_spec(["layer1.0.conv1.weight"], {"layer1.0.conv1.weight": 0.3})[0].label
        'layer1.0.conv1'
    """
    if isinstance(layers, str) or not layers:
        raise ValueError("layers must be a non-empty list of parameter names (lk.prunable_parameters(model))")
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(layers))
        missing = [name for name in layers if name not in value]
        if unknown or missing:
            raise KeyError(f"value must give every layer a sparsity: missing {missing}, unknown {unknown}")
    controls = []
    for name in layers:
        v = float(value[name] if isinstance(value, Mapping) else value)
        if not start <= v <= stop:
            raise ValueError(f"sparsity {v} for {name!r} is outside the slider range [{start}, {stop}]; "
                             f"pass start/stop that cover it")
        snapped = round(start + round((v - start) / step) * step, 10)
        label = name[: -len(".weight")] if name.endswith(".weight") else name
        controls.append(Slider(name, label, start, stop, step, snapped, debounce=debounce))
    return ControlSpec(controls)
