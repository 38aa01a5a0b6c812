"""Grading: run a student's function on an exercise's hidden cases, stop at the first that differs.

A course notebook has a cell where the student writes, for example, ``fine_grained_prune``
(in ``marimo edit``), and a cell below that grades it::

    ex_prune = course.grade(fine_grained_prune, "fine_grained_prune")
    ex_prune                     # a green / red / grey callout with what passed or what broke

:func:`grade` calls the function on every case of the :class:`~labkit.course.exercises.Exercise`,
compares each answer with the reference solution's (:mod:`labkit.course.solutions`) and stops at
the first case that differs, naming the case, what was expected and what came back. A function
that still raises ``NotImplementedError`` (the stub the notebook ships) is *not attempted*, not
failed. The inputs are copies, and a function that changes them, or leaves a forward hook on a
model, fails with the reason.

Example:
    >>> from labkit.course.solutions import jaccard
    >>> grade(jaccard, "jaccard").passed
    True
    >>> grade(lambda a, b: 0.5, "jaccard").passed
    False
    >>> def stub(a, b):
    ...     raise NotImplementedError
    >>> grade(stub, "jaccard").passed is None
    True
"""
from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .exercises import Exercise, Graded
from .solutions import EXERCISES

__all__ = ["grade"]


def _changed(before: Any, after: Any) -> bool:
    if isinstance(before, torch.Tensor):
        return not torch.equal(before, after)
    if isinstance(before, nn.Module):
        sb, sa = before.state_dict(), after.state_dict()
        return any(not torch.equal(sb[k], sa[k]) for k in sb)
    return False


def _hooks_left(x: Any) -> bool:
    if not isinstance(x, nn.Module):
        return False
    return any(m._forward_hooks or m._forward_pre_hooks for m in x.modules())


def _exercise(exercise: str | Exercise) -> Exercise:
    if isinstance(exercise, Exercise):
        return exercise
    if exercise not in EXERCISES:
        raise KeyError(f"no exercise {exercise!r}; known: {sorted(EXERCISES)}")
    return EXERCISES[exercise]


def grade(fn: Callable[..., Any] | None, exercise: str | Exercise) -> Graded:
    """Run ``fn`` on every case of ``exercise``; the first case that differs fails it.

    Args:
        fn: the student's function (``None`` counts as not attempted).
        exercise: an :class:`Exercise` or the name of one in
            :data:`labkit.course.solutions.EXERCISES`.

    Returns:
        :class:`Graded`: ``passed`` True / False, or None if ``fn`` raised ``NotImplementedError``.
    """
    ex = _exercise(exercise)
    title = f"`{ex.signature}`"
    if fn is None:
        return Graded(ex.name, None, f"**Not attempted yet.** Write {title} in the cell above.")
    cases = ex.cases()
    fail = "**Not yet.** {ok} of {n} checks pass. Case *{label}*: {why}." + (f"\n\nHint: {ex.hint}" if ex.hint else "")
    for i, case in enumerate(cases):
        args = copy.deepcopy(case.args)
        try:
            got = fn(*args)
        except NotImplementedError:
            return Graded(ex.name, None, f"**Not attempted yet.** Write {title} in the cell above "
                                         "(open the notebook with `marimo edit`), then run it.", 0, len(cases))
        except Exception as e:  # the student's bug, reported instead of raised
            where = traceback.extract_tb(e.__traceback__)[-1]
            return Graded(ex.name, False, fail.format(ok=i, n=len(cases), label=case.label,
                                                      why=f"your function raised `{type(e).__name__}: {e}` "
                                                          f"(line {where.lineno})"), i, len(cases))
        if any(_changed(a, b) for a, b in zip(case.args, args)):
            return Graded(ex.name, False, fail.format(ok=i, n=len(cases), label=case.label,
                                                      why="your function changed its input; work on a copy "
                                                          "(or compute without writing into it)"), i, len(cases))
        if any(_hooks_left(a) for a in args):
            return Graded(ex.name, False, fail.format(ok=i, n=len(cases), label=case.label,
                                                      why="a hook is still registered on the model afterwards: "
                                                          "keep the handle and call `handle.remove()`"), i, len(cases))
        why = ex.compare(got, ex.reference(*copy.deepcopy(case.args)))
        if why is not None:
            return Graded(ex.name, False, fail.format(ok=i, n=len(cases), label=case.label, why=why), i, len(cases))
    return Graded(ex.name, True, f"**Passed.** {title}: all {len(cases)} checks agree with the reference solution.",
                  len(cases), len(cases))
