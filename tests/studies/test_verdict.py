"""The one shared rule (beats), the claim schema, claims vs checks and the headroom row."""
import math

import numpy as np
import pandas as pd
import pytest

from labkit.studies._verdict import (COLUMNS, Claim, beats, headroom, paired_diffs, paired_interval, split_verdict,
                                     verdict_table)


def test_beats_is_strict_in_every_pair_or_an_interval_above_zero():
    assert beats([0.1, 0.2, 0.3])                       # strictly above in every seed
    assert not beats([0.0, 0.2, 0.3])                   # a tie in one seed, interval [-0.2, 0.5] not above 0
    assert not beats([0.0, 0.0, 0.0])                   # all-zero: nothing told apart
    assert not beats([0.0, 0.0, 0.0], -2.0)             # ... even for a margin claim
    assert not beats([0.5, 0.5], 0.5)                   # a tie at the margin does not beat it
    assert beats([3.0, 2.5, 3.2, 2.8, -0.1])            # interval [0.60, 3.96] above zero
    assert not beats([1.0, -0.1, 0.2])                  # interval crosses zero
    assert beats([-1.5, -1.0, -0.5], -2.0) and not beats([-2.5, -1.0, -0.5], -2.0)
    assert not beats([]) and not beats([1.0, float("nan")])


def test_paired_interval_is_the_95_percent_t_interval():
    lo, hi = paired_interval([1.0, 2.0, 3.0])           # mean 2, sd 1, t(2) = 4.303
    assert lo == pytest.approx(2 - 4.303 / math.sqrt(3), abs=1e-6) and hi == pytest.approx(2 + 4.303 / math.sqrt(3))
    assert all(math.isnan(v) for v in paired_interval([1.0]))


def test_paired_diffs_pair_by_key_in_points():
    a = pd.Series([0.50, 0.60, 0.70], index=[2, 0, 1])
    b = pd.Series([0.40, 0.65, np.nan, 0.1], index=[2, 0, 1, 9])
    np.testing.assert_allclose(paired_diffs(a, b), [-5.0, 10.0])  # keys 0 and 2 (1 is NaN, 9 has no pair)
    np.testing.assert_allclose(paired_diffs(a, b, scale=1.0), [-0.05, 0.10])


def test_a_claim_checks_its_pairs_by_the_rule():
    c = Claim("new ≥ old", "acc(new) − acc(old) beats −0.3 pt", metric="new − old", threshold=-0.3,
              summary="{metric}: {mean:+.2f} ± {sd:.2f} pt over {n}")
    ok = c.check([0.2, -0.2, 0.4], detail="; note")
    assert ok.verdict == "PASS" and ok.measured == "new − old: +0.13 ± 0.31 pt over 3; note"  # x = d + 0.3 > 0
    assert c.check([0.2, -0.5, 0.4]).verdict == "FAIL"
    assert c.check([0.2, -0.2, 0.4], require=False).verdict == "FAIL"   # a precondition that did not hold
    missing = c.check([])
    assert (missing.verdict, missing.measured) == ("n/a", "runs missing")
    assert Claim("x", "y", rule="info").check([-5.0, 1.0]).verdict == "INFO"
    with pytest.raises(KeyError, match="unknown rule"):
        Claim("x", "y", rule="gain")
    with pytest.raises(KeyError, match="unknown kind"):
        Claim("x", "y", kind="result")


def test_claims_come_first_and_checks_split_off():
    fact = Claim("MACs", "lite <= 0.75 x baseline", threshold=0.75, rule="fact", kind="check")
    checks = [fact.judge("0.70x", True), Claim("n", "needs runs", rule="fact").judge("needs runs"),
              Claim("t", "u", rule="info").judge("12 s"),
              Claim("d", "e", metric="a − b", threshold=0.2).check([0.5, 0.1, 0.3])]
    table = verdict_table(checks)
    assert list(table.columns) == COLUMNS
    assert table["kind"].tolist() == ["claim", "claim", "claim", "check"]
    assert table["verdict"].tolist() == ["n/a", "INFO", "FAIL", "PASS"]  # x = d − 0.2 = 0.3, −0.1, 0.1: crosses 0
    last = table.iloc[2]
    assert last["diffs_pt"] == "+0.50, +0.10, +0.30" and last["n_pairs"] == 3 and last["threshold"] == 0.2
    assert last["ci_low_pt"] < 0.2
    claims, structural = split_verdict(table)
    assert len(claims) == 3 and structural["criterion"].tolist() == ["MACs"]
    assert math.isnan(structural.iloc[0]["threshold"]) and structural.iloc[0]["n_pairs"] == 0  # a fact has no pairs
    old = table.drop(columns="kind")                     # a table from before the split: all claims
    assert len(split_verdict(old)[0]) == 4 and split_verdict(old)[1].empty


def test_headroom_names_dense_accuracy_test_size_and_points_per_item():
    good = headroom(0.85, 600)
    assert good.verdict == "PASS" and good.claim.kind == "check" and "0.17 pt per item" in good.measured
    assert headroom(0.97, 600).verdict == "FAIL" and headroom(0.85, 300).verdict == "FAIL"
    assert headroom(float("nan"), 600).verdict == "n/a"
