"""The §5.7 claims of the DOMINOS study (docs/methods.md §5.7), checked on the study table.

Accuracy claims use docs/methods.md §0.1 on per-seed differences of test accuracy (points): pass
when the mean has the claimed sign and exceeds one std of the differences, or the sign holds in
every seed. Every ablation is reported as INFO. Nothing is tuned to pass.

Example:
    >>> [c.criterion for c in claims(0.4).values()][:3]
    ['R·D+c2b vs L1 at -40%', 'blocks removed at -40%', 'SE vs extra epochs at -40%']
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._verdict import Check, Claim, paired_diffs, verdict_table

__all__ = ["WEIBULL", "INFLUENCE_TIME", "ABLATIONS", "claims", "verdict"]

WEIBULL = Claim("Weibull fits R² >= 0.9", ">= 80% of the Weibull fits (with R² defined) have R² >= 0.9",
                metric="share of fits with R² >= 0.9", threshold=0.8, rule="fact")
INFLUENCE_TIME = Claim("influence time", "exact ablation curves of every block conv, one seed", rule="info")
ABLATIONS = ("random", "r_only", "d_only", "rd_internal")
"""The runs the method (``rd_c2b``) is compared with as ablations (reported, not judged)."""


def claims(t: float) -> dict[str, Claim]:
    """The claims at MACs target ``t`` (a reduction, 0.4 = −40%), keyed by a short name."""
    at = f"at -{t:.0%}"
    return {
        "vs l1": Claim(f"R·D+c2b vs L1 {at}", "acc(rd_c2b) − acc(l1) >= 0 pt after fine-tuning (paired)",
                       metric="acc(rd_c2b) − acc(l1), fine-tuned"),
        "blocks": Claim(f"blocks removed {at}", "rd_c2b removes >= 1 block in every seed and the slimmed net runs "
                        "without shape errors", rule="fact"),
        "se": Claim(f"SE vs extra epochs {at}", "acc(+SE) − acc(+same epochs, no SE) >= +0.2 pt",
                    metric="acc(rd_c2b + SE) − acc(rd_c2b + extra epochs)", threshold=0.2),
        **{f"vs {o}": Claim(f"ablation: rd_c2b vs {o} {at}", f"acc(rd_c2b) − acc({o}) (report)",
                            metric=f"acc(rd_c2b) − acc({o}), fine-tuned", rule="info") for o in ABLATIONS},
        "macs": Claim(f"MACs {at}", "every run meets the MACs target (analytic = counted)", rule="info"),
        "no fine-tune": Claim(f"no fine-tune: rd_c2b vs l1 {at}", "acc before fine-tuning (report)",
                              metric="acc(rd_c2b) − acc(l1), pruned", rule="info"),
    }


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
    checks: list[Check] = [c[t]["vs l1"].check(_diff(df, "rd_c2b", "l1", t)) for t in targets]
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
    return verdict_table(checks)
