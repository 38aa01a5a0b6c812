"""The shared claim schema and PASS / FAIL rules of docs/methods.md §0.1 (and §1.7's gain, §3.3's every seed)."""
import math

import numpy as np
import pandas as pd
import pytest

from labkit.studies._verdict import (COLUMNS, Claim, every_pair, paired_diffs, paired_gain, paired_pass,
                                     verdict_table)


def test_paired_pass_follows_methods_0_1():
    assert paired_pass([0.1, 0.2, 0.3])                 # same sign every seed
    assert paired_pass([0.0, 0.0, 0.0])                 # ">= 0" met by ties in every seed
    assert not paired_pass([1.0, -0.1, 0.2])            # mean 0.37 < std 0.56
    assert paired_pass([3.0, -0.1, 3.2])                # mean 2.03 > std 1.85
    assert paired_pass([-0.2, -0.1, 0.0], -0.3)         # within the -0.3 pt margin every seed
    assert not paired_pass([-0.5, -0.4, -0.6], -0.3)
    assert not paired_pass([])


def test_paired_gain_asks_for_a_positive_mean():
    assert paired_gain([0.1, 0.2, 0.3])
    assert not paired_gain([0.0, 0.0, 0.0])             # §1.7 asks for a paired mean > 0
    assert paired_gain([0.0, 0.5, 0.0]) and not paired_gain([0.0, 0.5, 0.0], strict=True)
    assert not paired_gain([1.0, -0.1, 0.2])            # mean 0.37 < std 0.56
    assert paired_gain([3.0, -0.1, 3.2])                # mean 2.03 > std 1.85
    assert not paired_gain([]) and not paired_gain([1.0, float("nan")])
    assert paired_gain([0.3, 0.4], 0.2) and not paired_gain([0.2, 0.2], 0.2)


def test_every_pair_is_strict_in_every_pair():
    assert every_pair([0.1, 3.0]) and not every_pair([0.1, 0.0]) and not every_pair([]) and every_pair([1.5], 1.0)


def test_paired_diffs_pair_by_key_in_points():
    a = pd.Series([0.50, 0.60, 0.70], index=[2, 0, 1])
    b = pd.Series([0.40, 0.65, np.nan, 0.1], index=[2, 0, 1, 9])
    np.testing.assert_allclose(paired_diffs(a, b), [-5.0, 10.0])  # keys 0 and 2 (1 is NaN, 9 has no pair)
    np.testing.assert_allclose(paired_diffs(a, b, scale=1.0), [-0.05, 0.10])


def test_a_claim_checks_its_pairs_by_its_rule():
    c = Claim("new ≥ old", "acc(new) − acc(old) >= −0.3 pt", metric="new − old", threshold=-0.3,
              summary="{metric}: {mean:+.2f} ± {sd:.2f} pt over {n}")
    ok = c.check([0.2, -0.2, 0.4], detail="; note")
    assert ok.verdict == "PASS" and ok.measured == "new − old: +0.13 ± 0.31 pt over 3; note"  # x = d + 0.3 >= 0
    assert c.check([0.2, -0.5, 0.4]).verdict == "FAIL"
    assert c.check([0.2, -0.2, 0.4], require=False).verdict == "FAIL"   # a precondition that did not hold
    missing = c.check([])
    assert (missing.verdict, missing.measured) == ("n/a", "runs missing")
    one = Claim("x", "y").check([1.0])
    assert one.verdict == "PASS" and one.measured == "+1.00 ± nan pt"
    assert Claim("x", "y", rule="info").check([-5.0, 1.0]).verdict == "INFO"
    assert Claim("x", "y", rule="every pair").check([0.1, 0.0]).verdict == "FAIL"
    assert Claim("x", "y", rule="strict gain").check([0.0, 2.0, 1.0]).verdict == "FAIL"
    with pytest.raises(KeyError, match="unknown rule"):
        Claim("x", "y", rule="mostly")


def test_facts_are_judged_and_every_check_has_one_row_schema():
    fact = Claim("MACs", "lite <= 0.75 x baseline", threshold=0.75, rule="fact")
    checks = [fact.judge("0.70x", True), fact.judge("needs runs"), Claim("t", "u", rule="info").judge("12 s"),
              Claim("d", "e", metric="a − b", threshold=0.2).check([0.5, 0.1, 0.3])]
    table = verdict_table(checks)
    assert list(table.columns) == COLUMNS
    assert table["verdict"].tolist() == ["PASS", "n/a", "INFO", "FAIL"]  # x = d − 0.2: mean 0.1 < std 0.2
    last = table.iloc[-1]
    assert last["diffs_pt"] == "+0.50, +0.10, +0.30" and last["n_pairs"] == 3 and last["threshold"] == 0.2
    assert last["mean_diff_pt"] == pytest.approx(0.3) and last["std_diff_pt"] == pytest.approx(0.2)
    assert math.isnan(table.iloc[0]["threshold"]) and table.iloc[0]["n_pairs"] == 0  # a fact has no pairs
