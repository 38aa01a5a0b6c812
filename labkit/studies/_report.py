"""A study's full-run report: the ``.md`` beside its committed CSV, generated from that CSV alone.

Every number in a report is read from the table or recomputed from it by the study's
``verdict`` (the same code the README's verdict table and the notebooks use), so a report cannot
drift from its data: regenerate it after a re-run with
``python -m labkit.studies.report notebooks/studies/results``.

A report has the provenance (command, commit, threads, wall time, versions, settings), the
proxy's headroom, the claims stated in advance with every seed's paired difference, the
structural checks apart, the study's own notes (:data:`NOTES`, fixed text about the setting,
no numbers) and, where the thesis setting is out of reach here, what it would need
(:data:`THESIS_RUNS`).

Example:
    >>> from labkit.studies import transfer
    >>> md = study_markdown("transfer", transfer.read_results("notebooks/studies/results/transfer.csv"),
    ...                     csv="notebooks/studies/results/transfer.csv")           # doctest: +SKIP
    >>> md.splitlines()[0]                                                             # doctest: +SKIP
    '# Method 4 · transfer filters: the committed full run'
"""
from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pandas as pd

from ..io import atomic_write
from ._committed import METHOD_STUDIES
from ._report_text import MEANS, NOTES, THESIS_RUNS
from ._verdict import split_verdict

__all__ = ["study_markdown", "means_markdown", "write_report", "write_reports", "NOTES", "THESIS_RUNS", "MEANS"]


def _esc(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _method(name: str) -> str:
    for method, study in METHOD_STUDIES.items():
        if study == name:
            return method
    raise KeyError(f"unknown study {name!r}; studies: {', '.join(METHOD_STUDIES.values())}")


def _provenance(table: pd.DataFrame) -> list[str]:
    a = table.attrs
    wall = a.get("wall time s")
    lines = ["## How it was made", "", "From the repository root:", "", "```bash", str(a.get("command", "?")), "```", ""]
    if a.get("format", 1) == 1:
        lines.append("This table is header format 1 (before issue 17): no wall time or git commit was recorded.")
    else:
        when = f"{wall / 60:.1f} min of wall time" if isinstance(wall, float) else "wall time not recorded"
        lines.append(f"Code at git commit `{a.get('git commit', 'unknown')}`; {a.get('torch threads', '?')} torch "
                     f"thread(s) per process; {when}.")
    if a.get("versions"):
        lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in sorted(a["versions"].items())) + ".")
    if a.get("settings"):
        lines += ["", "<details><summary>Settings (as recorded in the CSV header)</summary>", "", "```",
                  *(f"{k} = {json.dumps(v, default=str)}" for k, v in sorted(a["settings"].items())), "```",
                  "</details>"]
    return lines + [""]


def _claims_table(claims: pd.DataFrame) -> list[str]:
    out = ["| claim | stated as | measured | per seed (pt) | 95 % interval, low end (pt) | verdict |",
           "|---|---|---|---|---|---|"]
    for r in claims.itertuples():
        low = "" if pd.isna(r.ci_low_pt) else f"{r.ci_low_pt:+.2f}"
        out.append(f"| {_esc(r.criterion)} | {_esc(r.claim)} | {_esc(r.measured)} | {_esc(r.diffs_pt)} | {low} "
                   f"| **{r.verdict}** |")
    return out


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return "" if v != v else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3f}")
    return str(v)


def key_fmt(k: object) -> str:
    """A pivot key as written: ``0.8`` not ``0.800``."""
    return f"{k:g}" if isinstance(k, float) else str(k)


def means_markdown(table: pd.DataFrame, index: list[str], values: str | list[str], columns: str | None = None) -> str:
    """A markdown table of seed means: ``table.pivot_table(index, columns, values)`` (mean over the other keys).

    Example:
        >>> t = pd.DataFrame({"run": ["a", "a", "b"], "seed": [0, 1, 0], "acc": [0.5, 0.7, 0.4]})
        >>> print(means_markdown(t, ["run"], ["acc"]))
        | run | acc |
        |---|---|
        | a | 0.600 |
        | b | 0.400 |
    """
    piv = table.pivot_table(index=index, columns=columns, values=values, aggfunc="mean", dropna=False)
    piv = piv.dropna(how="all")
    if columns is None and isinstance(values, list):
        piv = piv[values]  # the order asked for, not pandas' sorted one
    heads = [f"{columns} = {key_fmt(c)}" if columns else str(c) for c in piv.columns]
    lines = ["| " + " | ".join([*index, *heads]) + " |", "|" + "---|" * (len(index) + len(heads))]
    for key, row in piv.iterrows():
        keys = key if isinstance(key, tuple) else (key,)
        lines.append("| " + " | ".join([*(_esc(key_fmt(k)) for k in keys), *(_fmt(v) for v in row)]) + " |")
    return "\n".join(lines)


def study_markdown(name: str, table: pd.DataFrame, *, csv: str | os.PathLike[str]) -> str:
    """The report of study ``name`` (``"longtail"``, ...) whose committed table is ``table`` (read from ``csv``)."""
    method = _method(name)
    study = importlib.import_module(f"labkit.studies.{name}")
    v = study.verdict(table)
    claims, checks = split_verdict(v)
    judged = claims[claims["verdict"].isin(["PASS", "FAIL"])]
    tally = ", ".join(f"{(judged['verdict'] == k).sum()} {k}" for k in ("PASS", "FAIL"))
    head = checks[checks["criterion"] == "proxy headroom"]
    lines = [f"# Method {method}: the committed full run", "",
             f"`{Path(csv).as_posix()}` — {table.attrs.get('title', name)}. This page is generated from that "
             f"CSV by `python -m labkit.studies.report {Path(csv).parent.as_posix()}`; every number on it is "
             "read from the table or recomputed from it by the study's `verdict`.", ""]
    lines += _provenance(table)
    lines += ["## Proxy headroom", ""]
    lines += [f"**{r.verdict}**: {r.measured}. (Dense accuracy must lie in 0.70–0.92 on at least 500 test "
              "items, so a claim can move either way and one item is at most 0.2 pt.)" for r in head.itertuples()]
    lines += ["", f"## Claims stated in advance ({tally}; INFO rows qualify them, n/a = not measured)", "",
              "A claim passes when the method beats the other arm by more than the margin strictly in every "
              "seed, or with the paired 95 % t-interval above the margin; ties do not beat and an all-zero "
              "difference fails. `per seed` lists the paired differences in seed order.", ""]
    lines += _claims_table(claims)
    rest = checks[checks["criterion"] != "proxy headroom"]
    if len(rest):
        lines += ["", "## Checks (structural: properties of the rule or the setup, not results)", "",
                  "| check | measured | verdict |", "|---|---|---|"]
        lines += [f"| {_esc(r.criterion)} | {_esc(r.measured)} | {r.verdict} |" for r in rest.itertuples()]
    if name in NOTES:
        lines += ["", "## Reading it", "", NOTES[name].strip()]
    if name in MEANS:
        spec = MEANS[name]
        values = spec.values if isinstance(spec.values, str) else list(spec.values)
        lines += ["", f"## Means over the {table['seed'].nunique()} seeds", "",
                  means_markdown(table, list(spec.rows), values, spec.columns)]
    if name in THESIS_RUNS and (claims["verdict"] == "FAIL").any():
        lines += ["", "## What the thesis setting would need", "", THESIS_RUNS[name].strip()]
    lines += ["", "Recompute the verdict from the CSV:", "", "```bash",
              f"python -c \"from labkit.studies import {name} as S; print(S.verdict(S.read_results("
              f"'{Path(csv).as_posix()}')).to_string())\"", "```", ""]
    return "\n".join(lines)


def write_report(name: str, csv: str | os.PathLike[str]) -> Path:
    """Write :func:`study_markdown` of the table at ``csv`` to the ``.md`` beside it; return its path."""
    study = importlib.import_module(f"labkit.studies.{name}")
    out = Path(csv).with_suffix(".md")
    atomic_write(out, study_markdown(name, study.read_results(csv), csv=csv))
    return out


def write_reports(folder: str | os.PathLike[str]) -> list[Path]:
    """Rewrite the report of every study whose CSV (``<name>.csv``) is in ``folder``."""
    return [write_report(name, Path(folder) / f"{name}.csv") for name in METHOD_STUDIES.values()
            if (Path(folder) / f"{name}.csv").exists()]
