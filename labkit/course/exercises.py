"""Graded code exercises: what an exercise is, how answers are compared, and the scoreboard.

An :class:`Exercise` names a function the student writes, its reference solution, the seeded
cases it is run on (built when grading, so nothing is stored in the notebook) and the comparator
that says how an answer differs (:func:`same_mask`, :func:`same_indices`, :func:`close_numbers`,
:func:`close_tensor`). :func:`labkit.course.grading.grade` runs a student's function on them;
:func:`scoreboard` sums a notebook's questions (:class:`~labkit.course.checks.Result`) and
exercises (:class:`Graded`) into the table a teacher grades.

Example:
    >>> same_mask(torch.tensor([True, False]), torch.tensor([True, True])) is not None
    True
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["Case", "Exercise", "Graded", "Scoreboard", "scoreboard",
           "same_mask", "same_indices", "close_numbers", "close_tensor"]


@dataclass(frozen=True)
class Case:
    """One call of the student's function: ``fn(*args)``, described by ``label`` on failure."""

    label: str
    args: tuple[Any, ...]


@dataclass(frozen=True)
class Exercise:
    """A function to write, its reference solution and how answers are compared.

    Attributes:
        name: the function's name in the notebook, e.g. ``"fine_grained_prune"``.
        signature: what the student must write, shown in messages.
        reference: the reference solution (tested in ``tests/test_course_exercises.py``).
        cases: builds the cases when grading (seeded, so every run sees the same ones).
        compare: ``compare(got, expected) -> None`` when right, else a sentence saying what differs.
        hint: one line shown on failure.
    """

    name: str
    signature: str
    reference: Callable[..., Any]
    cases: Callable[[], list[Case]]
    compare: Callable[[Any, Any], str | None]
    hint: str = ""


@dataclass(frozen=True)
class Graded:
    """The outcome of :func:`grade`: ``passed`` is ``None`` while the stub is not written yet."""

    exercise: str
    passed: bool | None
    message: str
    cases_passed: int = 0
    cases_total: int = 0

    @property
    def kind(self) -> str:
        """Callout kind: ``success`` (all cases pass), ``danger`` (a case fails), ``neutral`` (not attempted)."""
        return "neutral" if self.passed is None else ("success" if self.passed else "danger")

    def _repr_markdown_(self) -> str:
        return self.message

    def __str__(self) -> str:
        return self.message

    def _display_(self) -> Any:
        import marimo as mo

        state = {None: "todo", True: "passed", False: "failed"}[self.passed]
        box = mo.callout(mo.md(self.message), kind=self.kind)  # type: ignore[arg-type]
        return mo.Html(f'<div data-labkit-exercise="{html.escape(self.exercise)}" data-state="{state}">'
                       f"{box.text}</div>")


# ------------------------------------------------------------------ comparisons

def _as_tensor(x: Any, what: str) -> torch.Tensor | str:
    if not isinstance(x, torch.Tensor):
        return f"return a torch.Tensor ({what}), got {type(x).__name__}"
    return x


def same_mask(got: Any, expected: torch.Tensor) -> str | None:
    """A keep-mask equal to ``expected`` (bool, or 0/1 values of any dtype)."""
    t = _as_tensor(got, "a mask of the weight's shape")
    if isinstance(t, str):
        return t
    if tuple(t.shape) != tuple(expected.shape):
        return f"the mask has shape {tuple(t.shape)}, the weight {tuple(expected.shape)}"
    if t.dtype != torch.bool:
        if not bool(((t == 0) | (t == 1)).all()):
            return f"a mask holds only 0/1 (or True/False); yours has other values (dtype {t.dtype})"
        t = t != 0
    if torch.equal(t, expected):
        return None
    kept, want = int(t.sum()), int(expected.sum())
    if kept != want:
        return f"it keeps {kept:,} of {t.numel():,} weights; the right number is {want:,}"
    return f"it keeps the right number ({kept:,}) but {int((t != expected).sum()) // 2:,} of them are the wrong weights"


def same_indices(got: Any, expected: torch.Tensor) -> str | None:
    """The same integer indices in the same order (most important first)."""
    try:
        t = torch.as_tensor(got)
    except (TypeError, ValueError, RuntimeError):
        return f"return the indices as a tensor or a list of ints, got {type(got).__name__}"
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        return f"indices are integers; got dtype {t.dtype}"
    t = t.flatten().long()
    if t.numel() != expected.numel():
        return f"it keeps {t.numel()} channels; the right number is {expected.numel()}"
    if torch.equal(t, expected):
        return None
    if set(t.tolist()) == set(expected.tolist()):
        return "the right channels, in the wrong order: sort them by importance, the largest first"
    return f"{len(set(t.tolist()) - set(expected.tolist()))} of the channels you keep are not among the most important"


def close_numbers(rtol: float = 1e-4, atol: float = 1e-6) -> Callable[[Any, Any], str | None]:
    """Compare a number, or a tuple of numbers, within ``atol + rtol·|expected|``."""

    def compare(got: Any, expected: Any) -> str | None:
        exp = tuple(expected) if isinstance(expected, (tuple, list)) else (expected,)
        try:
            g = tuple(float(v) for v in (got if isinstance(got, (tuple, list)) else (got,)))
        except (TypeError, ValueError):
            return f"return {len(exp)} number(s), got {got!r}"
        if len(g) != len(exp):
            return f"return {len(exp)} number(s), got {len(g)}"
        for i, (a, b) in enumerate(zip(g, exp)):
            if not math.isfinite(a) or abs(a - float(b)) > atol + rtol * abs(float(b)):
                where = f" (value {i + 1} of {len(exp)})" if len(exp) > 1 else ""
                return f"expected {float(b):.6g}, got {a:.6g}{where}"
        return None

    return compare


def close_tensor(atol: float = 1e-5) -> Callable[[Any, Any], str | None]:
    """Compare a float tensor elementwise within ``atol``."""

    def compare(got: Any, expected: torch.Tensor) -> str | None:
        t = _as_tensor(got, f"of shape {tuple(expected.shape)}")
        if isinstance(t, str):
            return t
        if tuple(t.shape) != tuple(expected.shape):
            return f"the result has shape {tuple(t.shape)}; expected {tuple(expected.shape)}"
        diff = (t.detach().float().cpu() - expected).abs()
        if bool((diff <= atol).all()):
            return None
        i = int(diff.flatten().argmax())
        return (f"entry {i} is {float(t.flatten()[i]):.4f}, expected {float(expected.flatten()[i]):.4f} "
                f"({int((diff > atol).sum())} of {diff.numel()} entries differ)")

    return compare


# ------------------------------------------------------------------ the scoreboard

@dataclass(frozen=True)
class Scoreboard:
    """A notebook's questions and exercises, counted: what a teacher grades.

    ``rows`` has one dict per item: ``item``, ``type`` (question / exercise) and ``status``
    (pending, right, wrong / todo, passed, failed).
    """

    rows: list[dict[str, str]] = field(default_factory=list)

    def _count(self, type_: str, *status: str) -> int:
        return sum(r["type"] == type_ and r["status"] in status for r in self.rows)

    @property
    def questions(self) -> int:
        return sum(r["type"] == "question" for r in self.rows)

    @property
    def committed(self) -> int:
        return self._count("question", "right", "wrong")

    @property
    def correct(self) -> int:
        return self._count("question", "right")

    @property
    def exercises(self) -> int:
        return sum(r["type"] == "exercise" for r in self.rows)

    @property
    def passed(self) -> int:
        return self._count("exercise", "passed")

    @property
    def all_committed(self) -> bool:
        """Every question has a committed prediction (summaries may be shown)."""
        return self.committed == self.questions

    @property
    def summary(self) -> str:
        return (f"questions committed {self.committed}/{self.questions}, correct {self.correct}/{self.questions} · "
                f"exercises passed {self.passed}/{self.exercises}")

    def _repr_markdown_(self) -> str:
        icon = {"pending": "…", "right": "✓", "wrong": "✗", "todo": "…", "passed": "✓", "failed": "✗"}
        lines = [f"**Scoreboard**: {self.summary}", "", "| | item | status |", "|---|---|---|"]
        lines += [f"| {icon[r['status']]} | {r['item']} | {r['status']} |" for r in self.rows]
        return "\n".join(lines)

    def _display_(self) -> Any:
        import marimo as mo

        kind = "success" if self.all_committed and self.passed == self.exercises else "info"
        box = mo.callout(mo.md(self._repr_markdown_()), kind=kind)  # type: ignore[arg-type]
        return mo.Html(f'<div data-labkit-scoreboard="{self.committed}/{self.questions}">{box.text}</div>')


def scoreboard(questions: Mapping[str, Any], exercises: Mapping[str, Graded] | Sequence[Graded] = ()) -> Scoreboard:
    """Count a notebook's questions (``{label: Result}``) and exercises (``{label: Graded}``).

    Example:
        >>> from labkit.course.checks import check
        >>> b = scoreboard({"Q1": check(0.5, 0.5), "Q2": check(None, 0.5)})
        >>> b.summary
        'questions committed 1/2, correct 1/2 · exercises passed 0/0'
    """
    rows = [{"item": k, "type": "question",
             "status": "pending" if r.correct is None else ("right" if r.correct else "wrong")}
            for k, r in questions.items()]
    items = exercises.items() if isinstance(exercises, Mapping) else ((g.exercise, g) for g in exercises)
    rows += [{"item": k, "type": "exercise", "status": {None: "todo", True: "passed", False: "failed"}[g.passed]}
             for k, g in items]
    return Scoreboard(rows)
