"""Predict-then-reveal questions: compare a student's prediction with a measured number.

Every question in ``notebooks/course/`` follows the same rhythm, *predict, then reveal*:

1. the student commits a prediction with a control (a slider, a radio, a number box inside a
   ``mo.ui.form``, whose value stays ``None`` until the submit button is pressed);
2. a reveal cell measures the answer with labkit (``lab.prune``, ``lab.compact``, ...);
3. :func:`check` (a number) or :func:`check_choice` (one of several options) turns the pair
   into a :class:`Result`: right or not, by how much, and a short explanation in markdown.

A :class:`Result` displays itself as a coloured callout in marimo (``_display_``: green when
right, red when not, grey while pending) and as markdown in Jupyter (``_repr_markdown_``), so a
reveal cell ends in ``mo.vstack(result.reveal(figure))``: before the prediction is committed
only the prompt shows, afterwards the verdict and the figure that explains it. marimo is
imported only when a result is displayed there; the module has no state.

Example:
    >>> r = check(0.5, measured=0.48, tolerance=0.05, what="fraction of MACs left")
    >>> r.correct, r.kind
    (True, 'success')
    >>> check(0.9, measured=0.48).kind
    'danger'
    >>> check(None, measured=0.48).answered
    False
    >>> check_choice("global", "global", options=["global", "uniform"]).correct
    True
"""
from __future__ import annotations

import html
import inspect
import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from numbers import Real
from typing import Any

__all__ = ["Result", "check", "check_choice", "pending"]

PENDING = "_Commit a prediction above to reveal {what}._"


@dataclass(frozen=True)
class Result:
    """The verdict on one prediction.

    Attributes:
        correct: ``True`` / ``False``; ``None`` while no prediction has been committed.
        prediction: what the student committed (``None`` if nothing yet).
        measured: the answer labkit measured (a number, or the right option(s)).
        message: markdown for the student: verdict, measured value and explanation.
        evidence: the part of ``message`` that holds the measured answer (scanned by :attr:`secrets`).
    """

    correct: bool | None
    prediction: Any
    measured: Any
    message: str
    evidence: str = ""

    @property
    def answered(self) -> bool:
        """Whether a prediction was committed (so the answer may be revealed)."""
        return self.correct is not None

    @property
    def kind(self) -> str:
        """A callout kind for the host: ``"success"`` (right), ``"danger"`` (wrong) or ``"neutral"`` (pending)."""
        return "neutral" if self.correct is None else ("success" if self.correct else "danger")

    @property
    def secrets(self) -> list[str]:
        """Strings of the answer that must not be on the page before the commit (for tests).

        The **bold** numbers of :attr:`evidence`: the measured value of :func:`check`, and the
        numbers a notebook bolds in ``measured`` of :func:`check_choice` (not the options, which
        are on the page as the control's choices anyway). A bold number that ``measured`` also
        gives plainly, such as the dense baseline it equals, is context, not a secret.
        """
        if not self.answered:
            return []
        number = r"[-+]?[\d,]*\.?\d+"
        bold = set(re.findall(rf"\*\*({number})\*\*", self.evidence))
        context = set(re.findall(number, re.sub(rf"\*\*{number}\*\*", " ", self.evidence)))
        # a bold number also given plainly (e.g. the dense baseline) is context; a number of fewer
        # than three digits (a count of 2 blocks) is on every page and says nothing
        return sorted(m for m in bold - context if len(re.sub(r"\D", "", m)) >= 3)

    def reveal(self, *items: Any) -> list[Any]:
        """``[self, *items]`` once a prediction is committed, else ``[self]``.

        Pass the figures and tables that give the answer away, so they stay hidden until the
        student has committed: ``mo.vstack(result.reveal(fig, table))``.
        """
        return [self, *items] if self.answered else [self]

    def _repr_markdown_(self) -> str:
        return self.message

    def _display_(self) -> Any:
        """marimo: the message in a callout coloured by :attr:`kind`, tagged for browser tests.

        The wrapper carries ``data-labkit-verdict`` (``pending`` / ``right`` / ``wrong``) and
        ``data-secrets`` (:attr:`secrets`), so a test can check that no answer was on the page
        before the commit.
        """
        import marimo as mo

        state = "pending" if not self.answered else ("right" if self.correct else "wrong")
        box = mo.callout(mo.md(self.message), kind=self.kind)  # type: ignore[arg-type]
        secrets = html.escape("|".join(self.secrets), quote=True)
        return mo.Html(f'<div data-labkit-verdict="{state}" data-secrets="{secrets}">{box.text}</div>')

    def __str__(self) -> str:
        return self.message


def _number(x: Any, what: str) -> float:
    """``float(x)`` for a finite real number (also numpy / 0-d torch scalars), else a clear error."""
    if isinstance(x, bool) or x is None:
        raise TypeError(f"{what} must be a number, got {x!r}")
    if not isinstance(x, Real):
        item = getattr(x, "item", None)  # numpy scalars, 0-d arrays and tensors
        if item is None:
            raise TypeError(f"{what} must be a number, got {type(x).__name__}")
        x = item()
        if isinstance(x, bool) or not isinstance(x, Real):
            raise TypeError(f"{what} must be a number, got {x!r}")
    v = float(x)
    if not math.isfinite(v):
        raise ValueError(f"{what} must be finite, got {v}; was the measurement empty (NaN)?")
    return v


def _tail(text: str) -> str:
    """``text`` as a new markdown paragraph, dedented (notebooks pass indented triple-quoted strings)."""
    text = inspect.cleandoc(text) if text else ""
    return f"\n\n{text}" if text else ""


def check(prediction: Any, measured: Any, tolerance: float = 0.05, *, relative: bool = False,
          what: str = "the answer", fmt: str = ".3f", explain: str = "") -> Result:
    """Is a numeric prediction within ``tolerance`` of the measured value?

    Right when ``|prediction - measured| <= tol``, with ``tol = tolerance`` (absolute) or
    ``tol = tolerance * |measured|`` (``relative=True``). The message gives the measured value,
    how far off the prediction was and in which direction, then ``explain``.

    Args:
        prediction: the committed number, or ``None`` when nothing is committed yet (the
            result is then pending and shows only a prompt).
        measured: the value labkit measured (numpy and 0-d torch scalars are accepted).
        tolerance: how close counts as right; absolute unless ``relative``.
        relative: read ``tolerance`` as a fraction of ``|measured|``.
        what: names the quantity in the message, e.g. ``"balanced accuracy at 70 % sparsity"``.
        fmt: format spec for the numbers (``".3f"``, ``",d"`` for counts, ``".0%"``).
        explain: markdown appended once the answer is revealed: *why* it is this number.

    Example:
        >>> r = check(0.7, measured=0.49, tolerance=0.05, what="fraction of MACs left")
        >>> r.correct
        False
        >>> "0.210 too high" in r.message
        True
    """
    m = _number(measured, "measured")
    t = _number(tolerance, "tolerance")
    if t < 0:
        raise ValueError(f"tolerance must be >= 0, got {t}; use 0 for an exact answer")
    if prediction is None:
        return Result(None, None, m, PENDING.format(what=what))
    p = _number(prediction, "prediction")
    tol = t * abs(m) if relative else t
    off = p - m
    ok = abs(off) <= tol + 1e-12 * max(1.0, abs(m))  # float noise must not fail an exact answer

    def f(v: float, spec: str = fmt) -> str:
        return format(int(round(v)) if spec.endswith("d") else v, spec)

    def size(v: float) -> str:  # a distance: never signed, even when the values are (fmt "+.2f")
        return f(v, fmt.replace("+", ""))

    band = f"±{t:.0%} of it" if relative else f"±{size(tol)}"
    if ok:
        head = f"**Right.** You predicted {f(p)}; measured {what}: **{f(m)}** (within {band})."
    else:
        direction = "too high" if off > 0 else "too low"
        head = (f"**Not quite.** You predicted {f(p)}; measured {what}: **{f(m)}**, so your guess was "
                f"{size(abs(off))} {direction} (within {band} counts as right).")
    return Result(ok, p, m, head + _tail(explain), evidence=f"**{f(m)}**")


def _as_answers(answer: Any) -> list[Any]:
    if isinstance(answer, (str, bytes)) or not isinstance(answer, Iterable):
        return [answer]
    answers = list(answer)
    if not answers:
        raise ValueError("answer is empty; give the right option, or a collection of acceptable options")
    return answers


def check_choice(prediction: Any, answer: Any, *, options: Collection[Any] | None = None,
                 what: str = "the answer", measured: str = "", explain: str = "") -> Result:
    """Did the student pick the right option (or one of several acceptable ones)?

    Args:
        prediction: the committed option, or ``None`` while nothing is committed (pending).
        answer: the right option, or a collection of options that all count as right (e.g.
            the three most sensitive layers, when the scan cannot separate them).
        options: the options the control offered. When given, every answer must be one of
            them (otherwise the question cannot be answered: a bug in the notebook) and so
            must the prediction.
        what: names the question in the prompt and the verdict.
        measured: markdown with the measured numbers behind the answer, e.g. a small table.
        explain: markdown appended once the answer is revealed.

    Example:
        >>> r = check_choice("layer3", ["layer1", "layer2"], what="the most sensitive stage")
        >>> r.correct, r.message.startswith("**Not quite.**")
        (False, True)
    """
    answers = _as_answers(answer)
    if options is not None:
        opts = list(options)
        missing = [a for a in answers if a not in opts]
        if missing:
            raise ValueError(f"answer(s) {missing} are not among the options {opts}; the question cannot be "
                             f"answered: offer the measured answer as an option")
        if prediction is not None and prediction not in opts:
            raise ValueError(f"prediction {prediction!r} is not one of the options {opts}")
    shown = " or ".join(f"**{a}**" for a in answers)
    if prediction is None:
        return Result(None, None, answers[0] if len(answers) == 1 else answers, PENDING.format(what=what))
    ok = prediction in answers
    if ok:
        head = f"**Right.** {what[:1].upper() + what[1:]}: {shown}."
    else:
        head = f"**Not quite.** You picked **{prediction}**; {what}: {shown}."
    return Result(ok, prediction, answers[0] if len(answers) == 1 else answers,
                  head + _tail(measured) + _tail(explain), evidence=measured)


def pending(what: str = "the answer", note: str = "") -> Result:
    """A question that cannot be measured yet (its computation waits for a button): pending.

    Example:
        >>> pending("the most sensitive layer", "Run the scan first.").answered
        False
    """
    return Result(None, None, None, PENDING.format(what=what) + _tail(note))
