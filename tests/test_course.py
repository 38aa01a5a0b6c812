"""Self-checks of the course notebooks (labkit/course.py): verdicts, messages, gating, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from labkit.course import Result, check, check_choice


# ------------------------------------------------------------------ check (numbers)

def test_check_within_tolerance_is_right_and_names_the_measured_value() -> None:
    r = check(0.5, measured=0.48, tolerance=0.05, what="fraction of MACs left")
    assert r.correct is True and r.answered and r.kind == "success"
    assert r.prediction == 0.5 and r.measured == 0.48
    assert r.message.startswith("**Right.**")
    assert "fraction of MACs left: **0.480**" in r.message and "±0.050" in r.message


@pytest.mark.parametrize("prediction, direction", [(0.7, "too high"), (0.2, "too low")])
def test_check_outside_tolerance_says_by_how_much_and_which_way(prediction: float, direction: str) -> None:
    r = check(prediction, measured=0.49, tolerance=0.05)
    assert r.correct is False and r.kind == "danger"
    assert r.message.startswith("**Not quite.**")
    assert f"{abs(prediction - 0.49):.3f} {direction}" in r.message


def test_check_tolerance_boundary_counts_as_right_despite_float_noise() -> None:
    assert check(0.3, measured=0.2, tolerance=0.1).correct is True      # 0.3 - 0.2 = 0.09999999999999998
    assert check(0.7, measured=0.6, tolerance=0.1).correct is True      # 0.7 - 0.6 = 0.09999999999999998
    assert check(0.31, measured=0.2, tolerance=0.1).correct is False
    assert check(12, measured=12, tolerance=0, fmt="d").correct is True
    assert check(13, measured=12, tolerance=0, fmt="d").correct is False


def test_check_relative_tolerance_scales_with_the_measured_value() -> None:
    assert check(1_050_000, measured=1_000_000, tolerance=0.1, relative=True).correct is True
    assert check(1_200_000, measured=1_000_000, tolerance=0.1, relative=True).correct is False
    assert "±10% of it" in check(1.0, measured=1.0, tolerance=0.1, relative=True).message


def test_check_formats_counts_as_integers() -> None:
    r = check(1500, measured=1234.0, tolerance=10, fmt=",d", what="weights kept")
    assert "weights kept: **1,234**" in r.message and "266 too high" in r.message


def test_explanations_written_as_indented_triple_quoted_strings_are_dedented() -> None:
    r = check(0.5, measured=0.5, explain="""
    First line of the explanation,
    second line.

        - a nested list item keeps its relative indent""")
    assert r.message.endswith("\n\nFirst line of the explanation,\nsecond line.\n\n    - a nested list item keeps its relative indent")
    m = check_choice("a", "a", measured="""
        a: 0.9
        b: 0.8""")
    assert m.message.endswith("\n\na: 0.9\nb: 0.8")


def test_check_accepts_numpy_and_torch_scalars() -> None:
    assert check(np.float32(0.5), measured=torch.tensor(0.5)).correct is True
    assert check(np.int64(3), measured=np.float64(3.0), tolerance=0).correct is True


def test_check_pending_until_a_prediction_is_committed() -> None:
    r = check(None, measured=0.49, what="the fraction of MACs left")
    assert r.correct is None and not r.answered and r.kind == "neutral"
    assert "Commit a prediction" in r.message and "the fraction of MACs left" in r.message
    assert "0.49" not in r.message  # the pending prompt must not give the answer away


def test_check_appends_the_explanation_once_answered() -> None:
    r = check(0.5, measured=0.5, explain="Both C_in and C_out shrink: 0.7 x 0.7.")
    assert r.message.endswith("\n\nBoth C_in and C_out shrink: 0.7 x 0.7.")
    assert "0.7 x 0.7" not in check(None, measured=0.5, explain="0.7 x 0.7").message


@pytest.mark.parametrize("kwargs, error, fix", [
    ({"prediction": 0.5, "measured": float("nan")}, ValueError, "NaN"),
    ({"prediction": float("inf"), "measured": 0.5}, ValueError, "finite"),
    ({"prediction": "half", "measured": 0.5}, TypeError, "prediction must be a number"),
    ({"prediction": True, "measured": 0.5}, TypeError, "prediction must be a number"),
    ({"prediction": 0.5, "measured": None}, TypeError, "measured must be a number"),
    ({"prediction": 0.5, "measured": 0.5, "tolerance": -0.1}, ValueError, "use 0 for an exact answer"),
])
def test_check_rejects_bad_input_naming_the_fix(kwargs: dict, error: type, fix: str) -> None:
    with pytest.raises(error, match=fix):
        check(**kwargs)


# ------------------------------------------------------------------ check_choice (options)

def test_check_choice_right_and_wrong() -> None:
    right = check_choice("global", "global", options=["global", "uniform"], what="the better allocation",
                         measured="global 0.837 · uniform 0.370")
    assert right.correct is True and right.message.startswith("**Right.** The better allocation: **global**.")
    assert "global 0.837 · uniform 0.370" in right.message
    wrong = check_choice("uniform", "global", options=["global", "uniform"], what="the better allocation")
    assert wrong.correct is False and "You picked **uniform**" in wrong.message
    assert wrong.measured == "global"


def test_check_choice_accepts_any_of_several_answers() -> None:
    top3 = ["layer1.0.conv2", "layer3.0.conv1", "layer1.0.conv1"]
    r = check_choice("layer3.0.conv1", top3, what="a most sensitive layer")
    assert r.correct is True and r.measured == top3
    assert "**layer1.0.conv2** or **layer3.0.conv1** or **layer1.0.conv1**" in r.message
    assert check_choice("layer2.1.conv1", set(top3)).correct is False


def test_check_choice_pending_hides_the_answer() -> None:
    r = check_choice(None, "few", options=["many", "medium", "few"], what="the group that loses most",
                     explain="tail classes have the smallest margins")
    assert not r.answered and "few" not in r.message and "margins" not in r.message


def test_check_choice_refuses_an_answer_the_control_did_not_offer() -> None:
    with pytest.raises(ValueError, match="offer the measured answer as an option"):
        check_choice("a", "c", options=["a", "b"])
    with pytest.raises(ValueError, match="not one of the options"):
        check_choice("z", "a", options=["a", "b"])
    with pytest.raises(ValueError, match="answer is empty"):
        check_choice("a", [])


def test_check_choice_numbers_as_options() -> None:
    assert check_choice(3, 3, options=range(10)).correct is True
    assert check_choice(2, 3, options=range(10)).correct is False


# ------------------------------------------------------------------ Result display and gating

def test_reveal_hides_figures_until_answered() -> None:
    fig, table = object(), object()
    pending = check(None, measured=1.0)
    assert pending.reveal(fig, table) == [pending]
    done = check(1.0, measured=1.0)
    assert done.reveal(fig, table) == [done, fig, table]


def test_result_displays_as_markdown_in_marimo_and_jupyter() -> None:
    r = check(0.5, measured=0.5)
    assert r._repr_markdown_() == r.message == str(r)
    assert isinstance(r, Result)


def test_result_renders_through_marimo_formatter() -> None:
    pytest.importorskip("marimo")
    from marimo._output.formatting import try_format

    out = try_format(check(0.5, measured=0.5, what="x"))
    assert out.exception is None
    assert "Right." in out.data and "strong" in out.data  # the markdown, rendered inside a callout


def test_result_shows_as_a_coloured_callout_tagged_for_browser_tests() -> None:
    pytest.importorskip("marimo")
    from marimo._output.formatting import try_format

    right = try_format(check(0.5, measured=0.48, what="x")).data
    assert 'data-labkit-verdict="right"' in right and 'data-secrets="0.480"' in right and "success" in right
    wrong = try_format(check_choice("b", "a", options=["a", "b"], measured="a **0.91** · b **0.52** · dense 0.93")).data
    assert 'data-labkit-verdict="wrong"' in wrong and "danger" in wrong
    assert 'data-secrets="0.52|0.91"' in wrong  # the bold numbers; the context (dense) is not a secret
    pending = try_format(check(None, measured=0.48)).data
    assert 'data-labkit-verdict="pending"' in pending and 'data-secrets=""' in pending and "0.48" not in pending


def test_secrets_of_a_choice_are_the_measured_numbers_not_the_options() -> None:
    r = check_choice("3", ["3", "5"], what="the class", measured="3: **0.40** → 0.10 · 5: 0.5 → 0.2")
    assert r.secrets == ["0.40"]


def test_a_bold_number_equal_to_a_plain_context_number_is_not_a_secret() -> None:
    r = check_choice("a", "b", measured="weights **0.860** · filters **0.270** · dense 0.860")
    assert r.secrets == ["0.270"]


def test_secrets_are_empty_until_answered() -> None:
    assert check(None, measured=0.3).secrets == []
    assert check(0.3, measured=12742, fmt=",d").secrets == ["12,742"]
    assert check(1, measured=2, fmt="d").secrets == []  # too short to be told apart from any other 2


def test_signed_formats_do_not_sign_the_tolerance_or_the_distance() -> None:
    r = check(0.2, measured=-0.05, tolerance=0.1, fmt="+.2f", what="gain")
    assert "±0.10" in r.message and "±+" not in r.message
    assert "You predicted +0.20" in r.message and "0.25 too high" in r.message
