"""Every study judges its claims by the one shared rule: a tie does not beat, an all-zero difference fails."""
import importlib

import pytest

from labkit.studies import METHOD_STUDIES
from labkit.studies._verdict import RULE, Claim

STUDIES = list(METHOD_STUDIES.values())


@pytest.mark.parametrize("name", STUDIES)
def test_each_study_marks_a_tie_as_not_beating_and_all_zero_as_fail(name):
    study = importlib.import_module(f"labkit.studies.{name}")
    stated = study.stated_claims()
    judged = [c for c in stated if c.judged]
    assert judged, f"{name} states no paired claim"
    assert {c.rule for c in stated} <= {RULE, "info", "fact"}
    for c in judged:
        tie = c.check([c.threshold] * 5)                  # exactly at the claimed margin in every seed
        assert tie.verdict == "FAIL", (name, c.criterion, tie.measured)
        assert c.check([0.0] * 5).verdict == "FAIL", (name, c.criterion)   # the arms were not told apart
        assert c.check([c.threshold + 1.0] * 5).verdict == "PASS", (name, c.criterion)
        mixed = [c.threshold + d for d in (0.5, 0.0, 0.4, 0.6, 0.5)]   # one tie, interval above the margin
        assert c.check(mixed).verdict == "PASS", (name, c.criterion)


@pytest.mark.parametrize("name", STUDIES)
def test_each_study_separates_claims_from_checks(name):
    stated = importlib.import_module(f"labkit.studies.{name}").stated_claims()
    kinds = {c.kind for c in stated}
    assert "claim" in kinds and kinds <= {"claim", "check"}
    assert all(isinstance(c, Claim) for c in stated)
