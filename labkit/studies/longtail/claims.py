"""The §1.7 claims of the long-tail study (docs/methods.md §1.7), checked on the study table.

Every claim compares two runs on the tail (*few*) accuracy, paired by (seed, class permutation),
in accuracy points: **thesis claim (matched)** E beats the dense CE baseline trained as long as
the method (run L: θ0 plus E_aux + E_ft more CE epochs; issue 17: the 40-epoch A measured extra
training); **merging helps** E beats D; **pruning itself helps the tail** E beats B, the dense
control with the same loss (§1.7: "report E vs B honestly"). All use the one shared rule
(:func:`~labkit.studies._verdict.beats`: strictly in every pair or a paired interval above zero;
ties and an all-zero difference fail). INFO rows give the context, including E against the
unmatched 40-epoch A; the proxy's headroom is a check row.

Example:
    >>> [c.criterion for c, _ in claims(0.3)][:3]
    ['thesis claim (matched)', 'merging helps', 'pruning itself helps the tail']
"""
from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np
import pandas as pd

from .._verdict import Check, Claim, headroom, paired_diffs, verdict_table

__all__ = ["Pair", "claims", "stated_claims", "verdict"]

DENSE = ("A", "B", "L")
"""The dense runs: they carry no sparsity."""

V1_TEST_ITEMS = 300
"""Test items of the tables committed before issue 17 (30 per class × 10 digits; no ``n_test`` column)."""


class Pair(NamedTuple):
    """What a claim compares: ``metric(a) − metric(b)``, runs given as ``(run, sparsity)``.

    ``match_trainer`` pairs a row with the dense control B of its own trainer k* (B has one row per
    unit and k*).
    """

    a: tuple[str, float]
    b: tuple[str, float]
    metric: str = "few"
    match_trainer: bool = False

    @property
    def label(self) -> str:
        """``few(E@0.3) − few(A)``: dense runs (A, B) carry no sparsity."""
        def run(r: tuple[str, float]) -> str:
            return f"{self.metric}({r[0]}{'' if r[0] in DENSE else f'@{r[1]:g}'})"
        return f"{run(self.a)} − {run(self.b)}"


_SUMMARY = "{metric}: {mean:+.2f} ± {sd:.2f} pt over {n} pairs"


def _claim(criterion: str, text: str, pair: Pair, rule: str = "beats") -> tuple[Claim, Pair]:
    return Claim(criterion, text, metric=pair.label, rule=rule, summary=_SUMMARY,
                 missing=f"needs runs {pair.a[0]} and {pair.b[0]}"), pair


def claims(s: float, sweep: tuple[float, ...] = ()) -> list[tuple[Claim, Pair]]:
    """The §1.7 claims at sparsity ``s`` (then INFO rows for E at every other ``sweep`` sparsity), in order."""
    e, a, b, long = ("E", s), ("A", 0.0), ("B", 0.0), ("L", 0.0)
    return [
        _claim("thesis claim (matched)", f"tail accuracy of E at s={s:g} beats the dense CE baseline trained as "
               "long as the method (L)", Pair(e, long)),
        _claim("merging helps", f"tail accuracy of E beats single-trainer D at s={s:g}", Pair(e, ("D", s))),
        _claim("pruning itself helps the tail", f"tail accuracy of E at s={s:g} beats dense control B (same loss)",
               Pair(e, b, match_trainer=True)),
        _claim("E vs unmatched A", f"(info) tail accuracy of E at s={s:g} − A (A trained E_aux + E_ft epochs less)",
               Pair(e, a), "info"),
        _claim("E vs B, balanced", f"(info) balanced accuracy of E at s={s:g} − dense control B",
               Pair(e, b, "balanced", True), "info"),
        _claim("long-tail loss alone", "(info) tail accuracy of B − A: what the loss does without pruning",
               Pair(b, a), "info"),
        _claim("plain pruning", f"(info) tail accuracy of uniform magnitude C at s={s:g} − A", Pair(("C", s), a),
               "info"),
        *(_claim(f"sweep s={o:g}", f"(info) tail accuracy of E at s={o:g} − A", Pair(("E", o), a), "info")
          for o in sweep),
    ]


def stated_claims() -> list[Claim]:
    """The claims of the default settings (s = 0.3), for the rule tests."""
    return [c for c, _ in claims(0.3)]


def _headroom(df: pd.DataFrame) -> Check:
    """Dense A's balanced test accuracy, the test size and points per item (check row)."""
    a = df[df["run"] == "A"]
    n = int(a["n_test"].iloc[0]) if "n_test" in a.columns and len(a) else V1_TEST_ITEMS
    return headroom(float(a["balanced"].mean()) if len(a) else float("nan"), n, "dense A balanced test accuracy")


def _paired(df: pd.DataFrame, pair: Pair) -> np.ndarray:
    """Per-unit ``metric(a) − metric(b)`` in points, keyed by (seed, permutation[, trainer])."""
    keys = ["seed", "permutation"] + (["trainer"] if pair.match_trainer else [])

    def pick(run: str, s: float) -> pd.Series:
        rows = df[(df["run"] == run) & np.isclose(df["sparsity"].astype(float), s)]
        return rows.groupby(keys)[pair.metric].mean()

    return paired_diffs(pick(*pair.a), pick(*pair.b))


def _dominance(df: pd.DataFrame, s: float) -> str:
    """How often one trainer's weight exceeded 1/2 at ``s``: its mask is then the merged mask exactly.

    With equal per-layer budgets, a unit kept by a candidate with ``α > 1/2`` has vote ``V > 1/2``
    and any other unit ``V < 1/2`` (the score tie-break adds at most 1e-3), so ``M* = M_k*`` and
    E repeats D's fine-tune: their difference is then exactly zero.
    """
    if "alpha" not in df.columns:
        return ""
    rows = df[(df["run"] == "E") & np.isclose(df["sparsity"].astype(float), s)]
    tops = [max(json.loads(a).values()) for a in rows["alpha"] if isinstance(a, str) and a]
    if not tops:
        return ""
    dominated = sum(t > 0.5 + 1e-3 for t in tops)
    return f"; one trainer's α > 0.5 (so M* = M_k*, E = D) in {dominated} of {len(tops)}"


def verdict(df: pd.DataFrame, sparsity: float | None = None) -> pd.DataFrame:
    """The §1.7 claims (:func:`claims`) as measured in ``df`` (the table of ``run_study``).

    At ``sparsity`` (default ``df.attrs["settings"]["verdict_sparsity"]`` or 0.3). The loss
    effect (B − A) is read off the control of E's k* at that sparsity (B rows exist per unit and
    k*); it is left out when there is no B. ``n/a`` when a claim's runs are missing. Columns:
    :data:`labkit.studies._verdict.COLUMNS`.
    """
    need = {"run", "sparsity", "seed", "permutation", "few", "balanced", "trainer"}
    if not need <= set(df.columns):
        raise ValueError(f"verdict needs the table of run_study (columns {sorted(need)}); got {list(df.columns)}")
    s = float(sparsity if sparsity is not None else df.attrs.get("settings", {}).get("verdict_sparsity", 0.3))
    sweep = tuple(sorted(set(df.loc[df["run"] == "E", "sparsity"].astype(float)) - {s}))
    keys = ["seed", "permutation", "trainer"]
    e_trainers = df[(df["run"] == "E") & np.isclose(df["sparsity"].astype(float), s)][keys]
    b_for_e = df[df["run"] == "B"].merge(e_trainers, on=keys) if len(e_trainers) else df[df["run"] == "B"]
    b_of_e = pd.concat([df[df["run"] != "B"], b_for_e], ignore_index=True)
    checks: list[Check] = []
    for claim, pair in claims(s, sweep):
        if claim.criterion == "long-tail loss alone":
            d = _paired(b_of_e, pair)
            if len(d):
                checks.append(claim.check(d))
            continue
        note = _dominance(df, s) if claim.criterion == "merging helps" else ""
        checks.append(claim.check(_paired(df, pair), detail=note))
    checks.append(_headroom(df))
    return verdict_table(checks)
