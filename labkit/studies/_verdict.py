"""The PASS / FAIL rule the studies share (docs/methods.md §0.1): a claim checked on paired seeds.

Every study compares two runs trained on the same seed (the same split, init draw and batch
order), so it judges the per-seed differences, not two separate means. The rule accepts a claim
``diff >= threshold`` when the paired differences clear the threshold in every seed, or when their
mean clears it by more than one sample standard deviation. Method 1's study adds the §1.7 twist
that an all-zero result is not a gain (:func:`labkit.studies.longtail.paired_rule`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["paired_pass"]


def paired_pass(diffs: Sequence[float], threshold: float = 0.0) -> bool:
    """docs/methods.md §0.1 "pass" for the claim ``diff >= threshold`` over paired seeds.

    With ``x = diffs − threshold``: pass when ``mean(x) > 0`` and exceeds one (sample) std of
    ``x``, or when ``x >= 0`` in every seed (the claimed sign in every seed; a tie counts as
    meeting a ``>=`` claim).

    Example:
        >>> paired_pass([0.4, 0.1, 0.3]), paired_pass([0.5, -0.2, 0.1]), paired_pass([-0.1, -0.4], -0.3)
        (True, False, False)
    """
    x = np.asarray(diffs, dtype=float) - threshold
    if len(x) == 0 or not np.isfinite(x).all():
        return False
    if (x >= 0).all():
        return True
    sd = float(x.std(ddof=1)) if len(x) > 1 else float("inf")
    return bool(x.mean() > 0 and x.mean() > sd)
