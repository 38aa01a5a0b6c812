"""The §5.7 claims of the DOMINOS study (docs/methods.md §5.7), checked on the study table.

Accuracy claims use the one shared rule (:func:`~labkit.studies._verdict.beats`) on per-seed
differences of test accuracy (points): strictly better in every seed or a paired 95 % interval
above the margin; ties and all-zero differences fail. The method is judged against L1, FPGM and
Taylor at every MACs target; every ablation is reported as INFO. "≥ 1 block removed", the MACs
met and the proxy's headroom are checks (properties of the rule and the setup), in their own
table. Nothing is tuned to pass.

Example:
    >>> [c.criterion for c in claims(0.4).values()][:3]
    ['R·D+c2b beats L1 at -40%', 'R·D+c2b beats FPGM at -40%', 'R·D+c2b beats Taylor at -40%']
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._verdict import Check, Claim, headroom, paired_diffs, verdict_table
from .settings import DominosSettings

__all__ = ["WEIBULL", "INFLUENCE_TIME", "ABLATIONS", "BASELINES", "claims", "stated_claims", "verdict"]

WEIBULL = Claim("Weibull fits R² >= 0.9", ">= 80% of the Weibull fits (with R² defined) have R² >= 0.9",
                metric="share of fits with R² >= 0.9", threshold=0.8, rule="fact")
INFLUENCE_TIME = Claim("influence time", "exact ablation curves of every block conv, one seed", rule="info",
                       kind="check")
BASELINES = {"l1": "L1", "fpgm": "FPGM", "taylor": "Taylor"}
"""The published criteria the method must beat (same selection and block rule)."""
ABLATIONS = ("random", "r_only", "d_only", "rd_internal")
V1_TEST_ITEMS = 300
"""Test items of the table committed before issue 17 (30 per class; no ``n_test`` column)."""
"""The runs the method (``rd_c2b``) is compared with as ablations (reported, not judged)."""


def claims(t: float) -> dict[str, Claim]:
    """The claims at MACs target ``t`` (a reduction, 0.4 = −40%), keyed by a short name."""
    at = f"at -{t:.0%}"
    return {
        **{f"vs {b}": Claim(f"R·D+c2b beats {name} {at}", f"acc(rd_c2b) beats acc({b}) after fine-tuning (paired)",
                            metric=f"acc(rd_c2b) − acc({b}), fine-tuned", missing=f"needs runs rd_c2b and {b}")
           for b, name in BASELINES.items()},
        "blocks": Claim(f"blocks removed {at}", "rd_c2b removes >= 1 block in every seed and the slimmed net runs "
                        "without shape errors (a property of the block rule)", rule="fact", kind="check"),
        "se": Claim(f"SE vs extra epochs {at}", "acc(+SE) − acc(+same epochs, no SE) beats +0.2 pt",
                    metric="acc(rd_c2b + SE) − acc(rd_c2b + extra epochs)", threshold=0.2),
        **{f"vs {o}": Claim(f"ablation: rd_c2b vs {o} {at}", f"acc(rd_c2b) − acc({o}) (report)",
                            metric=f"acc(rd_c2b) − acc({o}), fine-tuned", rule="info") for o in ABLATIONS},
        "macs": Claim(f"MACs {at}", "every run meets the MACs target (analytic = counted)", rule="info",
                      kind="check"),
        "no fine-tune": Claim(f"no fine-tune: rd_c2b vs l1 {at}", "acc before fine-tuning (report)",
                              metric="acc(rd_c2b) − acc(l1), pruned", rule="info"),
    }


def stated_claims() -> list[Claim]:
    """The claims and checks at the default targets, for the rule tests."""
    return [WEIBULL, INFLUENCE_TIME] + [c for t in DominosSettings().targets for c in claims(t).values()]


def _diff(df: pd.DataFrame, a: str, b: str, target: float, col_a: str = "acc_ft", col_b: str = "acc_ft") -> np.ndarray:
    """Per-seed ``a − b`` in points at ``target`` (same seed = same data, init and order)."""
    t = df[np.isclose(df["target"], target)]
    return paired_diffs(t[t["run"] == a].set_index("seed")[col_a], t[t["run"] == b].set_index("seed")[col_b])


def verdict(df: pd.DataFrame) -> pd.DataFrame:
    """The §5.7 claims (:func:`claims` per target, :data:`WEIBULL`) as measured in ``df`` (``run_study``'s table).

    The Weibull rule counts fits whose R² is defined (>= 3 usable points on the Weibull plot);
    the share over all channels is reported beside it.
    """
    need = {"seed", "run", "target", "acc_ft", "acc_se", "acc_extra", "n_removed", "shape_ok"}
    if not need <= set(df.columns):
        raise ValueError(f"verdict needs the table of run_study (columns {sorted(need)}); got {list(df.columns)}")
    targets = sorted(t for t in df["target"].unique() if t > 0)
    c = {t: claims(t) for t in targets}
    checks: list[Check] = [c[t][f"vs {b}"].check(_diff(df, "rd_c2b", b, t)) for t in targets for b in BASELINES]
    hi = max(targets) if targets else None
    if hi is not None:
        m = df[(df["run"] == "rd_c2b") & np.isclose(df["target"], hi)]
        if len(m):
            ok = bool((m["n_removed"] >= 1).all() and m["shape_ok"].astype(bool).all())
            checks.append(c[hi]["blocks"].judge(
                f"blocks removed per seed: {', '.join(str(int(v)) for v in m['n_removed'])}; "
                f"shape errors: {int((~m['shape_ok'].astype(bool)).sum())}", ok))
    checks += [c[t]["se"].check(_diff(df, "rd_c2b", "rd_c2b", t, "acc_se", "acc_extra")) for t in targets]
    dense = df[df["run"] == "dense"]
    if len(dense) and dense["weibull_r2_defined"].sum() > 0:
        good, defined, total = (int(dense[k].sum()) for k in ("weibull_r2_ge_09", "weibull_r2_defined", "weibull_fits"))
        share = good / defined
        checks.append(WEIBULL.judge(f"{good}/{defined} = {share:.1%} (all channels: {good}/{total} = "
                                    f"{good / total:.1%}; the rest have < 3 usable depths or are dead)", share >= 0.8))
        secs = dense["influence_seconds"]
        checks.append(INFLUENCE_TIME.judge(f"{secs.mean():.1f} s mean ({', '.join(f'{v:.1f}' for v in secs)})"))
    for t in targets:
        checks += [c[t][f"vs {o}"].check(_diff(df, "rd_c2b", o, t)) for o in ABLATIONS]
        pr = df[np.isclose(df["target"], t) & (df["run"] != "dense")]
        if len(pr):
            red = pr.groupby("run", sort=False)["reduction"].min()
            checks.append(c[t]["macs"].judge(", ".join(f"{r} {v:.1%}" for r, v in red.items())))
    checks += [c[t]["no fine-tune"].check(_diff(df, "rd_c2b", "l1", t, "acc_pruned", "acc_pruned")) for t in targets]
    n_test = int(dense["n_test"].iloc[0]) if "n_test" in dense.columns and len(dense) else V1_TEST_ITEMS
    checks.append(headroom(float(dense["acc_ft"].mean()) if len(dense) else float("nan"), n_test,
                           "dense ResNet-20 test accuracy"))
    return verdict_table(checks)
