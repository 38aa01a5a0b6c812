"""What the :class:`~labkit.lab.Lab` checks before it opens: checked, not trusted.

The lab refuses, with a message naming the fix, anything that would give a silently wrong number:

- an unknown dataset name (not reported as a missing checkpoint), a ``preview`` that is not a
  positive int, a ``seed`` that is not a non-negative int;
- weights that are not finite anywhere (the unscored classifier included);
- a model that does not fit the data: its input channels or shape, its number of outputs;
- data that is not what the checkpoint was trained on: another dataset, another class count,
  input channels or image shape, and a test split holding images the checkpoint trained on
  (another split ``seed`` leaks training images into test; the check compares the images).

The user's module is copied (:func:`own_copy`), so the lab never changes it: a later
``lk.fit(module)`` still finds every parameter trainable, in the mode the user left it.

Example:
    >>> from labkit.errors import OptionError
    >>> check_options(preview=0, seed=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    labkit.errors.OptionError: preview must be 'auto' (sized by budget_ms), None (evaluate every test item) or an int...
"""
from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from ..data import LabData, list_datasets, load_dataset
from ..errors import DataError, MismatchError, OptionError, UnknownNameError
from ..models.checks import check_finite
from ..runtime import resolve_device

__all__ = ["check_inputs", "check_data", "check_options", "check_dataset_name", "own_copy", "check_model_fits",
           "check_against_checkpoint", "dataset_kwargs_for", "leaked_images"]

#: Options of a dataset that only say where it is, not what it holds.
_WHERE = ("root", "download", "split_dir")


def check_inputs(*, preview: Any, seed: Any, device: Any, dataset: Any, budget_ms: Any = 200.0) -> None:
    """Everything the :class:`~labkit.lab.Lab` can check before loading: options and the dataset name."""
    check_options(preview=preview, seed=seed, device=device, budget_ms=budget_ms)
    check_dataset_name(dataset)


def check_data(model: nn.Module, data: LabData, meta: Mapping[str, Any], given: Mapping[str, Any] | None,
               name: str) -> None:
    """Everything checked once model and data are loaded: data vs checkpoint, then model vs data."""
    check_against_checkpoint(meta, data, given)
    check_model_fits(model, data, f"model {name!r}")


def check_options(*, preview: Any, seed: Any, device: Any = None, budget_ms: Any = 200.0) -> None:
    """Refuse a ``preview`` that is not ``"auto"``, ``None`` or an int >= 1, a ``budget_ms`` that is not a
    positive number, a ``seed`` that is not an int >= 0, and a ``device`` torch does not know or this
    machine does not have."""
    if device is not None and not isinstance(device, torch.device):
        try:
            resolve_device(device)
        except (RuntimeError, TypeError) as err:
            raise OptionError(f"device {device!r} cannot be used ({str(err).splitlines()[0][:120]}); valid: None or "
                              f"'auto' (cuda, then mps, then cpu), 'cpu', 'cuda', 'cuda:N', 'mps'") from None
    if preview not in (None, "auto") and (isinstance(preview, bool) or not isinstance(preview, int) or preview < 1):
        raise OptionError(f"preview must be 'auto' (sized by budget_ms), None (evaluate every test item) or an int "
                          f">= 1 (at most that many test items, stratified), got {preview!r}; e.g. preview=2000")
    if isinstance(budget_ms, bool) or not isinstance(budget_ms, (int, float)) or not budget_ms > 0:
        raise OptionError(f"budget_ms must be a positive number of milliseconds per slider move, got {budget_ms!r}; "
                          f"e.g. budget_ms=200")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise OptionError(f"seed must be an int >= 0, got {seed!r}; e.g. seed=0")


def check_dataset_name(dataset: Any) -> None:
    """A dataset is a registered name or a :class:`LabData`; an unknown name lists the known ones."""
    if isinstance(dataset, LabData):
        return
    if not isinstance(dataset, str):
        raise OptionError(f"dataset must be a registered name (see lk.list_datasets()) or a LabData, got a "
                          f"{type(dataset).__name__}; e.g. dataset='digits-lt'")
    if dataset not in list_datasets():
        raise UnknownNameError(f"unknown dataset {dataset!r}; known: {', '.join(list_datasets())} "
                               f"(or pass a LabData, or register one with lk.register_dataset)")


def own_copy(model: Any) -> nn.Module:
    """A deep copy of the user's ``model`` (the lab then sets eval mode and freezes the copy only)."""
    if not isinstance(model, nn.Module):
        raise OptionError(f"model must be a registered name (see lk.list_models()) or a torch nn.Module, got a "
                          f"{type(model).__name__}; e.g. Lab('resnet20', 'digits-lt')")
    return copy.deepcopy(model)


def check_model_fits(model: nn.Module, data: LabData, source: str) -> None:
    """Run two test items through ``model`` (no grad) and check its output has one logit per class."""
    check_finite(model, source)
    x, _ = data.test.tensors()
    if len(x) == 0:
        raise DataError(f"the test split of {data.name!r} is empty; the lab needs test items to evaluate")
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x[:2].to(device))
    except RuntimeError as err:  # torch's shape errors: name both sides
        first = next((m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))), None)
        wants = (f"its first layer takes {first.in_channels} input channel(s)" if isinstance(first, nn.Conv2d)
                 else f"its first layer takes {first.in_features} features" if isinstance(first, nn.Linear) else "")
        raise MismatchError(f"{source} does not fit the data: {data.name!r} gives images of shape "
                            f"{tuple(data.input_shape)} but {wants or 'the model fails on them'} ({str(err)[:160]}); "
                            f"build the model for this data, e.g. lk.load_model(name, num_classes="
                            f"{data.num_classes}, in_channels={data.input_shape[0]})") from None
    finally:
        model.train(was_training)
    if not isinstance(out, Tensor) or out.dim() != 2 or out.shape[1] != data.num_classes:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise MismatchError(f"{source} gives outputs of shape {shape} for 2 items but {data.name!r} has "
                            f"{data.num_classes} classes (expected (2, {data.num_classes})); give it a "
                            f"{data.num_classes}-way classifier head")


def _row_hashes(x: Tensor) -> set[bytes]:
    flat = x.detach().to("cpu").contiguous().reshape(len(x), -1).numpy()
    return {hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in flat}


def leaked_images(test: Tensor, train: Tensor) -> int:
    """How many rows of ``test`` are, byte for byte, also rows of ``train``."""
    if test.shape[1:] != train.shape[1:]:
        return 0
    seen = _row_hashes(train)
    flat = test.detach().to("cpu").contiguous().reshape(len(test), -1).numpy()
    return sum(hashlib.blake2b(r.tobytes(), digest_size=16).digest() in seen for r in flat)


def _differences(recorded: Mapping[str, Any], data: LabData, given: Mapping[str, Any] | None) -> dict[str, tuple]:
    """``{option: (checkpoint's value, this data's value)}`` for the options both sides state."""
    mine = dict(data.meta)
    if given:
        mine.update(given)
    out = {}
    for k, v in recorded.items():
        if k in _WHERE or k not in mine:
            continue
        w = mine[k]
        same = float(v) == float(w) if isinstance(v, (int, float)) and isinstance(w, (int, float)) else v == w
        if not same:
            out[k] = (v, w)
    return out


def dataset_kwargs_for(meta: Mapping[str, Any], name: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options to load dataset ``name`` with: ``given``, else the checkpoint's when it was trained on ``name``.

    A checkpoint trained on another dataset is refused here, before its options are passed to the wrong loader.
    """
    trained_on = meta.get("dataset")
    if trained_on is not None and trained_on != name:
        raise MismatchError(f"the checkpoint was trained on {trained_on!r} but the data asked for is {name!r}; open "
                            f"the lab on {trained_on!r}, or pick a checkpoint trained on {name!r}")
    return dict(meta.get("dataset_kwargs") or {}) if given is None else dict(given)


def check_against_checkpoint(meta: Mapping[str, Any], data: LabData, given: Mapping[str, Any] | None) -> None:
    """Refuse ``data`` that is not what the checkpoint (its ``labkit_meta``) was trained and tested on.

    Checks, in order: the dataset name, the class count, the input channels and image shape, then
    the dataset options (``seed``, ``size``, ``imbalance`` ...): when they differ and the data is in
    memory, the checkpoint's training split is rebuilt and any test image found in it is refused.
    ``given`` are the ``dataset_kwargs`` the user passed (they win over ``data.meta``).
    """
    if not meta:
        return
    fix = "drop dataset_kwargs (the lab then uses the checkpoint's), or pass the model with pretrained=False"
    name = meta.get("dataset")
    if name is not None and name != data.name:
        raise MismatchError(f"the checkpoint was trained on {name!r} but the data is {data.name!r}; open the lab on "
                            f"{name!r}, or pick the checkpoint of {data.name!r} (lk.Lab(model, {data.name!r}))")
    for key, mine in (("num_classes", data.num_classes), ("in_channels", data.input_shape[0])):
        if key in meta and int(meta[key]) != int(mine):
            raise MismatchError(f"the checkpoint has {key}={meta[key]} but the data has {key}={mine}; {fix}")
    shape = meta.get("input_shape")
    if shape is not None and tuple(shape) != tuple(data.input_shape):
        raise MismatchError(f"the checkpoint was trained on images of shape {tuple(shape)} but the data gives "
                            f"{tuple(data.input_shape)} (dataset_kwargs {dict(given or {})}); evaluating it there "
                            f"is meaningless: {fix}")
    recorded = dict(meta.get("dataset_kwargs") or {})
    diff = _differences(recorded, data, given)
    if not diff:
        return
    said = ", ".join(f"{k}={w!r} (checkpoint: {v!r})" for k, (v, w) in diff.items())
    if not data.test.in_memory or name is None:
        if "seed" in diff:
            raise MismatchError(f"the data differs from the checkpoint's in {said}: another split seed puts the "
                                f"checkpoint's training images into the test split; {fix}")
        return
    kw = {k: v for k, v in recorded.items() if k not in _WHERE}
    kw.update({k: v for k, v in dict(given or {}).items() if k in _WHERE})
    try:
        train = load_dataset(name, **kw).train
    except (OSError, ValueError, TypeError) as err:
        raise MismatchError(f"the data differs from the checkpoint's in {said}, and the checkpoint's own split "
                            f"could not be rebuilt to check for leaked test images ({err}); {fix}") from None
    leaked = leaked_images(data.test.tensors()[0], train.tensors()[0])
    if leaked:
        raise MismatchError(f"{leaked} of {len(data.test)} test images were in the checkpoint's training split "
                            f"(the data differs in {said}), so its accuracy would be inflated; {fix}")
