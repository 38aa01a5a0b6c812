"""How every study states and judges its claims (docs/methods.md §0.1): :class:`Claim` -> :class:`Check`.

Every study compares two runs trained on the same seed (the same split, init draw and batch
order), so it judges the per-seed differences, not two separate means. A study writes each of its
claims once as a :class:`Claim` (the criterion, the claim in words, what the differences measure,
the threshold and the rule), measures the paired differences with :func:`paired_diffs`, and gets
a :class:`Check`: the differences, the verdict and one line saying what was measured.
:func:`verdict_table` turns a study's checks into its verdict table (one schema for all).

The rules (``Claim.rule``), all on ``x = diffs − threshold``:

* ``"paired"`` (:func:`paired_pass`, §0.1): pass when ``x >= 0`` in every pair, or when
  ``mean(x) > 0`` and exceeds one sample std of ``x``;
* ``"gain"`` (:func:`paired_gain`, §1.7): the same, but the mean must be > 0 (an all-zero
  result is not a gain); ``"strict gain"``: and ``x > 0`` instead of ``>= 0`` in every pair;
* ``"every pair"`` (:func:`every_pair`): ``x > 0`` in every pair (§3.3's "paired, all seeds");
* ``"info"``: measured and reported, not judged (verdict ``INFO``);
* ``"fact"``: judged on one measured fact, no pairs (:meth:`Claim.judge`).

A claim with no pairs measured is ``n/a``.

Example:
    >>> import pandas as pd
    >>> acc = pd.DataFrame({"seed": [0, 1, 2] * 2, "run": ["new"] * 3 + ["old"] * 3,
    ...                     "acc": [0.91, 0.92, 0.93, 0.90, 0.90, 0.92]})
    >>> by = acc.pivot_table(index="seed", columns="run", values="acc")
    >>> claim = Claim("new ≥ old", "acc(new) − acc(old) >= 0 pt", metric="acc(new) − acc(old)")
    >>> check = claim.check(paired_diffs(by["new"], by["old"]))
    >>> check.verdict, check.measured
    ('PASS', '+1.33 ± 0.58 pt')
    >>> verdict_table([check])[["criterion", "diffs_pt", "n_pairs", "verdict"]].values.tolist()
    [['new ≥ old', '+1.00, +2.00, +1.00', 3, 'PASS']]
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["paired_pass", "paired_gain", "every_pair", "RULES", "paired_diffs", "Claim", "Check", "COLUMNS",
           "verdict_table"]

Verdict = Literal["PASS", "FAIL", "INFO", "n/a"]

Diffs = Sequence[float] | np.ndarray
"""Paired differences (points): a list, or the array :func:`paired_diffs` returns."""

SUMMARY = "{mean:+.2f} ± {sd:.2f} pt"
"""How a paired result reads by default (``str.format`` fields ``metric``, ``mean``, ``sd``, ``n``)."""

COLUMNS = ["criterion", "claim", "metric", "threshold", "measured", "mean_diff_pt", "std_diff_pt", "diffs_pt",
           "n_pairs", "verdict"]
"""Columns of every study's verdict table (:func:`verdict_table`)."""


def _shifted(diffs: Diffs, threshold: float) -> np.ndarray | None:
    x = np.asarray(diffs, dtype=float) - threshold
    return x if len(x) and np.isfinite(x).all() else None


def paired_pass(diffs: Diffs, threshold: float = 0.0) -> bool:
    """docs/methods.md §0.1 "pass" for the claim ``diff >= threshold`` over paired seeds.

    With ``x = diffs − threshold``: pass when ``mean(x) > 0`` and exceeds one (sample) std of
    ``x``, or when ``x >= 0`` in every seed (the claimed sign in every seed; a tie counts as
    meeting a ``>=`` claim).

    Example:
        >>> paired_pass([0.4, 0.1, 0.3]), paired_pass([0.5, -0.2, 0.1]), paired_pass([-0.1, -0.4], -0.3)
        (True, False, False)
    """
    x = _shifted(diffs, threshold)
    if x is None:
        return False
    if (x >= 0).all():
        return True
    sd = float(x.std(ddof=1)) if len(x) > 1 else float("inf")
    return bool(x.mean() > 0 and x.mean() > sd)


def paired_gain(diffs: Diffs, threshold: float = 0.0, strict: bool = False) -> bool:
    """§0.1's rule where a gain must show: the mean of ``x = diffs − threshold`` must be > 0.

    Pass when ``mean(x) > 0`` **and** either exceeds one (sample) std of ``x`` or every ``x``
    has the claimed sign (``>= 0``, or ``> 0`` when ``strict``). An all-zero result is not a
    pass: docs/methods.md §1.7 asks for a paired mean > 0.

    Example:
        >>> paired_gain([1.0, 2.0, 0.5]), paired_gain([3.0, -1.0, 0.5]), paired_gain([0.0, 0.0])
        (True, False, False)
        >>> paired_gain([2.0, 0.0, 1.0]), paired_gain([2.0, 0.0, 1.0], strict=True)  # a tie meets >=, not >
        (True, False)
    """
    x = _shifted(diffs, threshold)
    if x is None:
        return False
    mean = float(x.mean())
    if mean <= 0:
        return False
    sd = float(x.std(ddof=1)) if len(x) > 1 else float("inf")
    same_sign = bool((x > 0).all()) if strict else bool((x >= 0).all())
    return same_sign or mean > sd


def every_pair(diffs: Diffs, threshold: float = 0.0) -> bool:
    """``diff > threshold`` in every pair (and at least one pair).

    Example:
        >>> every_pair([0.1, 2.0]), every_pair([0.1, 0.0]), every_pair([])
        (True, False, False)
    """
    x = _shifted(diffs, threshold)
    return x is not None and bool((x > 0).all())


RULES: dict[str, Callable[[Diffs, float], bool]] = {
    "paired": paired_pass, "gain": paired_gain, "strict gain": partial(paired_gain, strict=True),
    "every pair": every_pair}
"""The pass rules of paired claims, by the name a :class:`Claim` gives in ``rule``."""


def paired_diffs(a: pd.Series, b: pd.Series, scale: float = 100.0) -> np.ndarray:
    """``(a − b) · scale`` per pairing key (seed, unit ...) that both have, in key order.

    ``a`` and ``b`` are indexed by the pairing key (e.g. ``df.groupby("seed")["acc"].mean()``);
    ``scale=100`` turns accuracy fractions into percentage points. Keys missing on either side,
    and pairs with a NaN, are dropped.

    Example:
        >>> paired_diffs(pd.Series([0.5, 0.6, 0.7], index=[0, 1, 2]), pd.Series([0.4, 0.6], index=[0, 1])).round(6)
        array([10.,  0.])
    """
    return ((a - b) * scale).dropna().to_numpy(dtype=float)


@dataclass(frozen=True)
class Claim:
    """One claim of a study, stated once: what it says and how it is judged.

    Args:
        criterion: a short name (the verdict table's key), e.g. ``"merging helps"``.
        text: the claim in words, e.g. ``"tail accuracy of E ≥ single-trainer D at s=0.3"``.
        metric: what the paired differences measure, e.g. ``"few(E@0.3) − few(D@0.3)"`` (points).
        threshold: the claim is ``diff >= threshold`` (``> threshold`` for the strict rules).
        rule: a key of :data:`RULES`, ``"info"`` (reported, not judged) or ``"fact"`` (no pairs).
        summary: how the measured line reads, a ``str.format`` template with ``metric``, ``mean``,
            ``sd``, ``n`` (default ``"+1.23 ± 0.45 pt"``).
        missing: the measured line when no pair could be formed (verdict ``n/a``).
    """

    criterion: str
    text: str
    metric: str = ""
    threshold: float = 0.0
    rule: str = "paired"
    summary: str = SUMMARY
    missing: str = "runs missing"

    def __post_init__(self) -> None:
        if self.rule not in RULES and self.rule not in ("info", "fact"):
            raise KeyError(f"unknown rule {self.rule!r}; rules: {[*RULES, 'info', 'fact']}")

    def check(self, diffs: Diffs, *, detail: str = "", require: bool = True) -> Check:
        """Judge the paired differences ``diffs`` (points): PASS / FAIL by ``rule``, INFO, or n/a if empty.

        ``detail`` is appended to the measured line; ``require=False`` fails the claim whatever the
        differences say (a precondition that did not hold, e.g. fewer than 3 seeds).
        """
        d = np.asarray(diffs, dtype=float)
        if len(d) == 0:
            return Check(self, (), "n/a", self.missing)
        sd = float(d.std(ddof=1)) if len(d) > 1 else float("nan")
        if self.rule == "info":
            verdict: Verdict = "INFO"
        else:
            verdict = "PASS" if require and RULES[self.rule](d, self.threshold) else "FAIL"
        measured = self.summary.format(metric=self.metric, mean=d.mean(), sd=sd, n=len(d)) + detail
        return Check(self, tuple(float(v) for v in d), verdict, measured)

    def judge(self, measured: str, passed: bool | None = None) -> Check:
        """A claim decided by one measured fact: PASS / FAIL as ``passed`` says, n/a when None (INFO for ``info``)."""
        if self.rule == "info":
            verdict: Verdict = "INFO"
        else:
            verdict = "n/a" if passed is None else ("PASS" if passed else "FAIL")
        return Check(self, (), verdict, measured)


@dataclass(frozen=True)
class Check:
    """A :class:`Claim` as measured: its paired differences (points), verdict and measured line."""

    claim: Claim
    diffs: tuple[float, ...]
    verdict: Verdict
    measured: str

    def row(self) -> dict[str, object]:
        """The verdict-table row (:data:`COLUMNS`)."""
        d = np.asarray(self.diffs, dtype=float)
        c = self.claim
        return {"criterion": c.criterion, "claim": c.text, "metric": c.metric,
                "threshold": c.threshold if c.rule in RULES else np.nan, "measured": self.measured,
                "mean_diff_pt": float(d.mean()) if len(d) else np.nan,
                "std_diff_pt": float(d.std(ddof=1)) if len(d) > 1 else np.nan,
                "diffs_pt": ", ".join(f"{v:+.2f}" for v in d), "n_pairs": len(d), "verdict": self.verdict}


def verdict_table(checks: Sequence[Check]) -> pd.DataFrame:
    """A study's verdict: one row per check, columns :data:`COLUMNS`."""
    return pd.DataFrame([c.row() for c in checks], columns=COLUMNS)
