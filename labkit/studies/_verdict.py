"""How every study states and judges its claims: :class:`Claim` -> :class:`Check`, one rule for all.

Every study compares two runs trained on the same seed (the same split, init draw and batch
order), so it judges the per-seed differences, not two separate means. A study writes each claim
once as a :class:`Claim` (the criterion, the claim in words, what the differences measure, the
threshold), measures the paired differences with :func:`paired_diffs`, and gets a :class:`Check`:
the differences, the verdict and one line saying what was measured. :func:`verdict_table` turns
a study's checks into its table (one schema for all); :func:`split_verdict` separates it into
the **claims** (empirical, stated in advance, PASS / FAIL / INFO) and the **checks** (structural
facts that hold by construction or are unit-test material: a MAC ratio of a fixed architecture,
analytic == counted MACs, "≥ 1 block removed", a search that starts from the baseline).

The one rule, :func:`beats` (``Claim.rule = "beats"``), on ``x = diffs − threshold``:

* PASS when ``x > 0`` **strictly** in every pair, or when the paired 95 % t-interval of ``x``
  lies above zero (``mean − t·sd/√n > 0``, :func:`paired_interval`);
* a tie does not beat: ``x = 0`` in a pair is not ``> 0``;
* an all-zero difference (``diffs == 0`` in every pair) is FAIL whatever the threshold: the two
  arms were not told apart (a saturated proxy), so nothing was measured.

A margin claim ("loses ≤ 2 pt") is ``diffs`` beating ``threshold = −2``. ``"info"`` rows are
measured and reported, not judged (INFO); ``"fact"`` rows are judged on one measured fact
(:meth:`Claim.judge`, usually a ``kind="check"``). A claim with no pairs measured is ``n/a``.

Example:
    >>> import pandas as pd
    >>> acc = pd.DataFrame({"seed": [0, 1, 2] * 2, "run": ["new"] * 3 + ["old"] * 3,
    ...                     "acc": [0.91, 0.92, 0.93, 0.90, 0.90, 0.92]})
    >>> by = acc.pivot_table(index="seed", columns="run", values="acc")
    >>> claim = Claim("new beats old", "acc(new) − acc(old) > 0 pt", metric="acc(new) − acc(old)")
    >>> check = claim.check(paired_diffs(by["new"], by["old"]))
    >>> check.verdict, check.measured
    ('PASS', '+1.33 ± 0.58 pt')
    >>> verdict_table([check])[["criterion", "diffs_pt", "n_pairs", "verdict"]].values.tolist()
    [['new beats old', '+1.00, +2.00, +1.00', 3, 'PASS']]
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["beats", "paired_interval", "RULE", "RULE_TEXT", "paired_diffs", "Claim", "Check", "COLUMNS", "KINDS",
           "verdict_table", "split_verdict", "headroom"]

Verdict = Literal["PASS", "FAIL", "INFO", "n/a"]
Kind = Literal["claim", "check"]
KINDS: tuple[str, ...] = ("claim", "check")

Diffs = Sequence[float] | np.ndarray
"""Paired differences (points): a list, or the array :func:`paired_diffs` returns."""

SUMMARY = "{mean:+.2f} ± {sd:.2f} pt"
"""How a paired result reads by default (``str.format`` fields ``metric``, ``mean``, ``sd``, ``n``)."""

RULE = "beats"
"""The name of the one pass rule (:func:`beats`) a judged paired claim uses."""

RULE_TEXT = ("A claim passes when the method beats the other arm by more than the claimed margin: strictly in "
             "every seed, or with its paired 95 % interval above the margin. A tie does not beat, and an all-zero "
             "difference (the two arms not told apart) fails.")
""":func:`beats` in plain words (the notebooks show it above the verdict)."""

COLUMNS = ["kind", "criterion", "claim", "metric", "threshold", "measured", "mean_diff_pt", "std_diff_pt",
           "ci_low_pt", "diffs_pt", "n_pairs", "verdict"]
"""Columns of every study's verdict table (:func:`verdict_table`)."""

# two-sided 95 % Student t quantiles t_{0.975, df} for df = 1..30 (beyond: 1.96 + 2.4/df is within 0.01)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def _t975(df: int) -> float:
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


def paired_interval(diffs: Diffs) -> tuple[float, float]:
    """The paired 95 % t-interval ``mean ± t_{0.975, n−1} · sd / √n`` of ``diffs`` (NaN for < 2 pairs).

    Example:
        >>> [round(v, 2) for v in paired_interval([1.0, 2.0, 3.0])]
        [-0.48, 4.48]
    """
    d = np.asarray(diffs, dtype=float)
    if len(d) < 2 or not np.isfinite(d).all():
        return float("nan"), float("nan")
    half = _t975(len(d) - 1) * float(d.std(ddof=1)) / np.sqrt(len(d))
    return float(d.mean() - half), float(d.mean() + half)


def beats(diffs: Diffs, threshold: float = 0.0) -> bool:
    """The one rule: do the paired ``diffs`` beat ``threshold``? (see the module docstring)

    Strictly above it in every pair, or the paired 95 % interval above it; never on ties, never
    when every difference is exactly zero, never without pairs.

    Example:
        >>> beats([0.4, 0.1, 0.3]), beats([0.4, 0.0, 0.3]), beats([0.0, 0.0, 0.0], -2.0), beats([])
        (True, False, False, False)
        >>> beats([-0.2, -0.1, 0.5], -0.3), beats([-0.3, -0.3], -0.3)   # a margin claim; a tie at the margin
        (True, False)
        >>> beats([3.0, 2.5, 3.2, 2.8, -0.1])   # one seed below, interval [0.60, 3.96] above zero
        True
    """
    d = np.asarray(diffs, dtype=float)
    if len(d) == 0 or not np.isfinite(d).all() or bool((d == 0).all()):
        return False
    x = d - threshold
    if bool((x > 0).all()):
        return True
    low, _ = paired_interval(x)
    return bool(np.isfinite(low) and low > 0)


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
    """One claim (or check) of a study, stated once: what it says and how it is judged.

    Args:
        criterion: a short name (the verdict table's key), e.g. ``"merging helps"``.
        text: the claim in words, e.g. ``"tail accuracy of E beats single-trainer D at s=0.3"``.
        metric: what the paired differences measure, e.g. ``"few(E@0.3) − few(D@0.3)"`` (points).
        threshold: the claim is ``diff > threshold`` by :func:`beats` (``−2`` = "loses < 2 pt").
        rule: ``"beats"`` (:func:`beats`), ``"info"`` (reported, not judged) or ``"fact"`` (no pairs).
        kind: ``"claim"`` (empirical, stated in advance) or ``"check"`` (structural: holds by
            construction or is a unit test; shown in the separate checks table).
        summary: how the measured line reads, a ``str.format`` template with ``metric``, ``mean``,
            ``sd``, ``n`` (default ``"+1.23 ± 0.45 pt"``).
        missing: the measured line when no pair could be formed (verdict ``n/a``).
    """

    criterion: str
    text: str
    metric: str = ""
    threshold: float = 0.0
    rule: str = RULE
    kind: str = "claim"
    summary: str = SUMMARY
    missing: str = "runs missing"

    def __post_init__(self) -> None:
        if self.rule not in (RULE, "info", "fact"):
            raise KeyError(f"unknown rule {self.rule!r}; rules: {[RULE, 'info', 'fact']}")
        if self.kind not in KINDS:
            raise KeyError(f"unknown kind {self.kind!r}; kinds: {list(KINDS)}")

    @property
    def judged(self) -> bool:
        """True for a paired claim judged by :func:`beats` (not ``info``, not a ``fact``)."""
        return self.rule == RULE

    def check(self, diffs: Diffs, *, detail: str = "", require: bool = True) -> Check:
        """Judge the paired differences ``diffs`` (points): PASS / FAIL by :func:`beats`, INFO, or n/a if empty.

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
            verdict = "PASS" if require and beats(d, self.threshold) else "FAIL"
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
        return {"kind": c.kind, "criterion": c.criterion, "claim": c.text, "metric": c.metric,
                "threshold": c.threshold if c.judged else np.nan, "measured": self.measured,
                "mean_diff_pt": float(d.mean()) if len(d) else np.nan,
                "std_diff_pt": float(d.std(ddof=1)) if len(d) > 1 else np.nan,
                "ci_low_pt": paired_interval(d)[0], "diffs_pt": ", ".join(f"{v:+.2f}" for v in d),
                "n_pairs": len(d), "verdict": self.verdict}


def verdict_table(checks: Sequence[Check]) -> pd.DataFrame:
    """A study's verdict: one row per check, claims first, then checks (each in the study's order)."""
    rows = [c.row() for c in checks if c.claim.kind == "claim"] + [c.row() for c in checks if c.claim.kind == "check"]
    return pd.DataFrame(rows, columns=COLUMNS)


def split_verdict(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(claims, checks)``: the empirical claims and the structural checks of a verdict table.

    A table without a ``kind`` column (an older one) is all claims.
    """
    if "kind" not in table.columns:
        return table, table.iloc[0:0]
    is_check = table["kind"] == "check"
    return table[~is_check].reset_index(drop=True), table[is_check].reset_index(drop=True)


def headroom(dense_acc: float, n_test: int | None, what: str = "dense test accuracy") -> Check:
    """The proxy's headroom as a ``check`` row: dense accuracy, test size, points per test item.

    PASS when the dense accuracy is within [0.70, 0.92] and one item is <= 0.2 pt (>= 500 items):
    a proxy where the arms can differ and one image does not decide a claim.

    Example:
        >>> h = headroom(0.97, 300); h.verdict, h.measured
        ('FAIL', 'dense test accuracy 0.970, 300 test items, 0.33 pt per item')
    """
    claim = Claim("proxy headroom", "dense accuracy in [0.70, 0.92] and >= 500 test items (one item <= 0.2 pt)",
                  rule="fact", kind="check")
    if not np.isfinite(dense_acc):
        return claim.judge("no dense run measured")
    if not n_test:
        return claim.judge(f"{what} {dense_acc:.3f}; test size not recorded", False)
    ok = 0.70 <= dense_acc <= 0.92 and n_test >= 500
    return claim.judge(f"{what} {dense_acc:.3f}, {n_test} test items, {100 / n_test:.2f} pt per item", ok)
