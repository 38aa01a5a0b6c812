"""Course helpers: predict-then-reveal questions, graded code exercises and a scoreboard.

* :mod:`labkit.course.checks`: :func:`check` (a number) and :func:`check_choice` (one of several
  options) turn a committed prediction and a measured answer into a :class:`Result`, shown as a
  green or red callout once committed.
* :mod:`labkit.course.exercises` and :mod:`labkit.course.grading`: :func:`grade` runs a function the student wrote against the
  reference solution on seeded cases; :func:`scoreboard` counts a notebook's questions and
  exercises for the teacher.
* :mod:`labkit.course.solutions`: the reference solutions and their cases (:data:`EXERCISES`).

Example:
    >>> from labkit import course
    >>> course.check(0.5, measured=0.48, tolerance=0.05).correct
    True
    >>> course.grade(course.solutions.jaccard, "jaccard").passed
    True
"""
from __future__ import annotations

from . import solutions
from .checks import Result, check, check_choice, pending
from .display import tidy
from .exercises import Exercise, Graded, Scoreboard, scoreboard
from .grading import grade
from .solutions import EXERCISES

__all__ = ["EXERCISES", "Exercise", "Graded", "Result", "Scoreboard", "check", "check_choice", "grade",
           "pending", "scoreboard", "solutions", "tidy"]
