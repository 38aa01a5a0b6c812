"""Graded exercises (labkit/course/exercises.py, solutions.py): the references pass, planted
wrong solutions are caught with a message that says what is wrong, stubs count as not attempted."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from labkit.analysis import wilson_interval as lk_wilson
from labkit.criteria.influence import fit_weibull
from labkit.course import EXERCISES, grade, scoreboard, solutions
from labkit.course.checks import check


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_reference_solution_passes_its_own_exercise(name: str) -> None:
    g = grade(getattr(solutions, name), name)
    assert g.passed is True and g.cases_passed == g.cases_total >= 2, g.message
    assert g.kind == "success" and "all" in g.message


def _stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_the_shipped_stub_is_not_attempted_not_failed(name: str) -> None:
    g = grade(_stub, name)
    assert g.passed is None and g.kind == "neutral" and "Not attempted" in g.message
    assert grade(None, name).passed is None


def _prune_ge(weight, sparsity):  # off by one: >= keeps the threshold weight itself
    n = round(sparsity * weight.numel())
    if n == 0:
        return torch.ones_like(weight, dtype=torch.bool)
    return weight.abs() >= weight.abs().flatten().kthvalue(n).values


def _prune_signed(weight, sparsity):  # ranks by w, not |w|
    n = round(sparsity * weight.numel())
    return torch.ones_like(weight, dtype=torch.bool) if n == 0 else weight > weight.flatten().kthvalue(n).values


WRONG = {  # a planted wrong solution per exercise, and the words its failure message must contain
    "fine_grained_prune": [(_prune_ge, "the right number is"), (_prune_signed, "wrong weights"),
                           (lambda w, s: (w.abs() > 0.5).float() * 2, "only 0/1")],
    "channels_to_keep": [(lambda w, r: torch.argsort(w.flatten(1).norm(dim=1))[: round(w.shape[0] * (1 - r))],
                          "not among the most important"),
                         (lambda w, r: torch.sort(solutions.channels_to_keep(w, r)).values, "wrong order"),
                         (lambda w, r: solutions.channels_to_keep(w, r).float(), "integers")],
    "wilson_interval": [(lambda k, n: (k / n - 1.96 * np.sqrt(k / n * (1 - k / n) / n),
                                       k / n + 1.96 * np.sqrt(k / n * (1 - k / n) / n)), "expected")],
    "jaccard": [(lambda a, b: float((a & b).sum() / a.numel()), "expected"),
                (lambda a, b: float((a & b).sum() / (a | b).sum()), "nan")],
    "weibull_fit": [(lambda S: solutions.weibull_fit(S.clamp(max=0.999)), "expected"),
                    (lambda S: (1.0,), "return 2 number(s)")],
    "apoz": [(lambda m, layer, x: 1 - solutions.apoz(m, layer, x), "differ"),
             (lambda m, layer, x: (m(x), solutions.apoz(m, layer, x))[1], "changed its input"),
             (lambda m, layer, x: (layer.register_forward_hook(lambda *a: None), solutions.apoz(m, layer, x))[1],
              "handle.remove()")],
}


@pytest.mark.parametrize("name, fn, words", [(n, f, w) for n, cases in WRONG.items() for f, w in cases])
def test_a_planted_wrong_solution_is_caught_with_the_reason(name: str, fn, words: str) -> None:
    g = grade(fn, name)
    assert g.passed is False and g.kind == "danger", g.message
    assert "Not yet." in g.message and "Case *" in g.message and words in g.message, g.message
    assert "Hint:" in g.message


def test_every_exercise_has_a_planted_wrong_solution() -> None:
    assert set(WRONG) == set(EXERCISES)


def test_a_crash_in_the_student_code_is_reported_not_raised() -> None:
    g = grade(lambda a, b: a.nonexistent, "jaccard")
    assert g.passed is False and "AttributeError" in g.message and "0 of 5 checks pass" in g.message


def test_unknown_exercise_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="fine_grained_prune"):
        grade(solutions.jaccard, "jacard")


# ------------------------------------------------------------ references agree with labkit's own code

def test_fine_grained_prune_removes_exactly_the_requested_count() -> None:
    w = torch.randn(64, 32, 3, 3, generator=torch.Generator().manual_seed(0))
    for s in (0.1, 0.5, 0.9):
        assert int((~solutions.fine_grained_prune(w, s)).sum()) == round(s * w.numel())


def test_wilson_reference_matches_labkit() -> None:
    for k, n in ((0, 30), (12, 30), (30, 30), (3, 7)):
        lo, hi = lk_wilson(np.array([k]), np.array([n]))
        assert solutions.wilson_interval(k, n, z=1.959963984540054) == pytest.approx((float(lo[0]), float(hi[0])), abs=1e-9)


def test_weibull_reference_matches_labkit_on_a_clean_curve() -> None:
    t = np.arange(8.0)
    S = np.exp(-(t / 3.0) ** 1.4)
    k, lam = solutions.weibull_fit(torch.from_numpy(S))
    f = fit_weibull(S[None, :])
    assert (k, lam) == pytest.approx((float(f.k[0]), float(f.lam[0])), rel=1e-6)
    assert (k, lam) == pytest.approx((1.4, 3.0), rel=1e-6)


def test_apoz_reference_matches_a_direct_computation() -> None:
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
    x = torch.randn(5, 1, 6, 6)
    direct = (torch.relu(m[0](x)) == 0).float().mean(dim=(0, 2, 3))
    assert torch.allclose(solutions.apoz(m, m[1], x), direct)
    assert not m[1]._forward_hooks


def test_jaccard_of_random_half_masks_is_near_one_third() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(100_000, generator=g) < 0.5, torch.rand(100_000, generator=g) < 0.5
    assert solutions.jaccard(a, b) == pytest.approx(1 / 3, abs=0.01)


# ------------------------------------------------------------ scoreboard

def test_scoreboard_counts_questions_and_exercises() -> None:
    b = scoreboard({"Q1": check(0.5, 0.5), "Q2": check(0.9, 0.5), "Q3": check(None, 0.5)},
                   {"prune": grade(solutions.jaccard, "jaccard"), "hook": grade(_stub, "apoz")})
    assert (b.questions, b.committed, b.correct, b.exercises, b.passed) == (3, 2, 1, 2, 1)
    assert not b.all_committed
    assert b.summary == "questions committed 2/3, correct 1/3 · exercises passed 1/2"
    md = b._repr_markdown_()
    assert "| ✓ | Q1 | right |" in md and "| ✗ | Q2 | wrong |" in md and "| … | hook | todo |" in md
    assert scoreboard({"Q1": check(0.5, 0.5)}).all_committed


def test_scoreboard_renders_in_marimo() -> None:
    pytest.importorskip("marimo")
    from marimo._output.formatting import try_format

    out = try_format(scoreboard({"Q1": check(None, 0.5)}))
    assert out.exception is None and 'data-labkit-scoreboard="0/1"' in out.data
    g = try_format(grade(solutions.jaccard, "jaccard")).data
    assert 'data-labkit-exercise="jaccard"' in g and 'data-state="passed"' in g


# ------------------------------------------------------------ the notebooks use all of it

COURSE = sorted((Path(__file__).resolve().parents[1] / "notebooks" / "course").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("notebook", COURSE, ids=[p.stem[:2] for p in COURSE])
def test_every_course_notebook_has_a_graded_exercise_a_scoreboard_and_a_gated_summary(notebook: Path) -> None:
    src = notebook.read_text()
    graded = re.findall(r'course\.grade\((\w+), "(\w+)"\)', src)
    assert graded and all(fn == name and name in EXERCISES for fn, name in graded)
    assert src.count("# YOUR CODE BELOW") == len(graded) and "raise NotImplementedError" in src
    assert "course.scoreboard(" in src and "mo.stop(not board.all_committed" in src
    assert src.count('submit_button_label="Commit prediction"') >= 4
