"""Study notebooks open on their committed results: the verdict first, the rerun behind a button.

A study (``labkit.studies.<name>``) runs for minutes to hours; its full run is committed as
``notebooks/studies/results/<name>.csv`` with the exact command in the header and the run time
in the ``.md`` beside it. The study notebooks use this module to

* read that run (:func:`committed_run`, through :func:`labkit.studies.load_or_run`): the table,
  the command, its ``--threads`` and its time;
* show the verdict first (:func:`verdict_board`): one row per claim, PASS / FAIL / INFO in
  colour, what was tested and what was measured, wrapped to the page width (no horizontal
  scrolling), under a callout that says how many claims held and the rule in plain words;
* rerun it exactly (:func:`rerun`): the committed command, same arguments and threads, in a
  subprocess writing to a temporary file, with a progress bar against the committed run time.

Example:
    >>> cmd = "python -m labkit.studies.longtail --pie-k 5 --threads 1 --out notebooks/studies/results/longtail.csv"
    >>> rerun_command(cmd, "/tmp/x.csv", python="py")
    ['py', '-m', 'labkit.studies.longtail', '--pie-k', '5', '--threads', '1', '--out', '/tmp/x.csv']
"""
from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..studies import load_or_run
from ..studies._committed import StudyModule

__all__ = ["PAIRED_RULE", "CommittedRun", "committed_run", "match_threads", "rerun", "rerun_command",
           "verdict_board"]

PAIRED_RULE = (
    "Each claim is tested on the same seeds for both arms (a *paired* comparison: same data split, "
    "same start, only the tested choice differs). It **passes** only when the method *beats* the other "
    "arm by more than the claimed margin: strictly in every seed, or with the paired 95 % interval of "
    "the differences above the margin. A tie does not beat, and an all-zero difference (the arms not "
    "told apart) **fails**. *INFO* rows are context, not claims; structural *checks* (properties that "
    "hold by construction, and the proxy's headroom) are in their own table below the claims.")


@dataclass(frozen=True)
class CommittedRun:
    """A study's committed full run: its table and how it was made."""

    path: Path
    table: pd.DataFrame
    command: str
    threads: int | None
    seconds: float | None

    @property
    def how(self) -> str:
        """One line for the notebook: the command, threads and time of the committed run."""
        t = f"{self.threads} thread{'s' if self.threads != 1 else ''}" if self.threads else "torch's default threads"
        took = f", {self.seconds / 60:.0f} min" if self.seconds else ""
        commit = self.table.attrs.get("git commit")
        at = f", code at {commit[:12]}" if commit and commit != "unknown" else ""
        return f"`{self.command}` ({t}{took}{at})"


def committed_run(path: str | os.PathLike[str], study: StudyModule) -> CommittedRun | None:
    """The committed run at ``path`` (read by ``load_or_run(study, ...)``), or None if absent.

    The time is the header's wall time (format 2) or else comes from the ``.md`` beside the CSV
    (its largest "... time: N s").
    """
    got = load_or_run(study, None, path, rerun=False)
    if got is None or got.path is None:
        return None
    m = re.search(r"--threads[ =](\d+)", got.command)
    md = got.path.with_suffix(".md")
    times = [float(t) for t in re.findall(r"time: (\d+(?:\.\d+)?) s", md.read_text())] if md.exists() else []
    wall = got.table.attrs.get("wall time s")
    seconds = float(wall) if wall else (max(times) if times else None)
    return CommittedRun(got.path, got.table, got.command, int(m.group(1)) if m else None, seconds)


_COLOURS = {"PASS": ("#1a7f37", "#dafbe1"), "FAIL": ("#cf222e", "#ffebe9"), "INFO": ("#57606a", "#f6f8fa")}


def _rows(verdict: pd.DataFrame) -> str:
    rows = []
    for r in verdict.itertuples():
        fg, bg = _COLOURS.get(str(r.verdict), _COLOURS["INFO"])
        rows.append(
            f'<tr><td style="white-space:nowrap;vertical-align:top"><span style="color:{fg};background:{bg};'
            f'font-weight:600;padding:1px 6px;border-radius:4px">{html.escape(str(r.verdict))}</span></td>'
            f'<td style="vertical-align:top"><b>{html.escape(str(r.criterion))}</b><br>'
            f'<span style="opacity:.8">{html.escape(str(r.claim))}</span></td>'
            f'<td style="vertical-align:top">{html.escape(str(r.measured))}</td></tr>')
    return "".join(rows)


def _table(rows: str, what: str, attr: str) -> str:
    return (f'<table {attr} style="width:100%;table-layout:fixed;border-collapse:collapse;'
            'font-size:0.9em;overflow-wrap:anywhere"><colgroup><col style="width:4.5em"><col style="width:45%">'
            f'<col></colgroup><thead><tr><th></th><th style="text-align:left">{what}</th>'
            '<th style="text-align:left">measured</th></tr></thead><tbody>' + rows + "</tbody></table>")


def verdict_board(verdict: pd.DataFrame, *, rule: str = PAIRED_RULE, title: str = "Verdict") -> Any:
    """The verdict as a marimo element: a summary callout, the claims, then the checks.

    ``verdict`` has columns ``criterion, claim, measured, verdict`` and (since issue 17) ``kind``
    (every study's ``verdict(df)``). The callout counts the claims that hold and names the
    proxy's headroom (the ``proxy headroom`` check: dense accuracy, test size, points per item);
    the checks (structural, not results) are a second table.
    """
    import marimo as mo

    from ..studies._verdict import split_verdict

    claims_, checks = split_verdict(verdict)
    counts = claims_["verdict"].value_counts()
    claims = int(counts.get("PASS", 0) + counts.get("FAIL", 0))
    passed = int(counts.get("PASS", 0))
    kind = "success" if passed == claims else ("danger" if passed == 0 else "warn")
    room = checks[checks["criterion"] == "proxy headroom"]
    headroom = (f"\n\n**Proxy headroom** ({room['verdict'].iloc[0]}): {room['measured'].iloc[0]} (wanted: dense "
                "accuracy 0.70–0.92, ≥ 500 test items).") if len(room) else ""
    parts = [mo.callout(mo.md(f"**{title}: {passed} of {claims} claims hold.**{headroom}\n\n{rule}"),
                        kind=kind),  # type: ignore[arg-type]
             mo.Html(_table(_rows(claims_), "claim: what was tested", "data-labkit-study-verdict"))]
    if len(checks):
        parts += [mo.md("**Checks** (structural: they hold by construction or are unit-test material, and the "
                        "proxy's headroom; not counted as results)"),
                  mo.Html(_table(_rows(checks), "check", "data-labkit-study-checks"))]
    return mo.vstack(parts)


def rerun_command(command: str, out: str | os.PathLike[str], python: str = sys.executable) -> list[str]:
    """The committed ``command`` as an argument list, run by ``python`` and writing to ``out``."""
    args = shlex.split(command)
    if not args or not args[0].startswith("python"):
        raise ValueError(f"not a 'python -m labkit.studies...' command: {command!r}")
    args[0] = python
    if "--out" not in args:
        raise ValueError(f"the committed command has no --out: {command!r}")
    args[args.index("--out") + 1] = str(out)
    return args


def rerun(run: CommittedRun, read: Callable[[str | os.PathLike[str]], pd.DataFrame], *,
          cwd: str | os.PathLike[str] | None = None, python: str = sys.executable,
          tick: Callable[[float, float], None] | None = None) -> pd.DataFrame:
    """Run the committed command again (same arguments, same ``--threads``) and read its table.

    The study runs in a subprocess writing to a temporary file, so the committed CSV is never
    touched. ``tick(elapsed_s, expected_s)`` is called about once a second (a progress bar).

    Raises:
        RuntimeError: the study exited with an error (its last output lines are in the message).
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / run.path.name
        log = Path(tmp) / "log.txt"
        args = rerun_command(run.command, out, python)
        t0 = time.monotonic()
        with open(log, "w") as fh:
            proc = subprocess.Popen(args, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT)
            while proc.poll() is None:
                if tick is not None:
                    tick(time.monotonic() - t0, run.seconds or 0.0)
                time.sleep(1.0)
        if proc.returncode != 0:
            tail = "\n".join(log.read_text().splitlines()[-15:])
            raise RuntimeError(f"`{' '.join(args)}` exited with {proc.returncode}:\n{tail}")
        return read(out)


def _read(study: StudyModule, path: str | os.PathLike[str]) -> pd.DataFrame:
    got = load_or_run(study, None, path, rerun=False)
    if got is None:
        raise FileNotFoundError(f"the rerun wrote no table at {path}")
    return got.table


def match_threads(run: CommittedRun | None) -> int:
    """Use the committed run's ``--threads`` in this process too (so an in-notebook run matches it).

    Returns the thread count now in use.
    """
    import torch

    if run is not None and run.threads:
        torch.set_num_threads(run.threads)
    return torch.get_num_threads()


def rerun_view(run: CommittedRun, study: Any, cwd: str | os.PathLike[str]) -> Any:
    """Rerun the committed command under a marimo progress bar and show whether it reproduces.

    ``study`` is the study module (``read_results`` and ``verdict``); ``cwd`` the repository root.
    The rerun's table is read back with ``load_or_run(study, ...)`` from its temporary file.
    The bar follows elapsed time against the committed run's wall time (the study prints no
    finer progress); the result is a callout (reproduced or not) above the rerun's verdict board.
    """
    import marimo as mo

    expected = int(run.seconds or 600)
    with mo.status.progress_bar(total=expected, title="rerunning the committed study", subtitle=run.command,
                                show_eta=True, remove_on_exit=True) as bar:
        done = [0]

        def tick(elapsed: float, _expected: float) -> None:
            step = min(int(elapsed), expected - 1) - done[0]
            if step > 0:
                bar.update(increment=step)
                done[0] += step

        fresh = rerun(run, lambda out: _read(study, out), cwd=cwd, tick=tick)
    old, new = study.verdict(run.table), study.verdict(fresh)
    same = list(old["measured"]) == list(new["measured"])
    return mo.vstack([
        mo.callout(mo.md("**The rerun reproduces the committed numbers.**" if same else
                         "**The rerun differs from the committed numbers** (another machine, library version "
                         "or thread count can change float results); its verdict:"),
                   kind="success" if same else "warn"),
        verdict_board(new, title="Verdict of the rerun", rule=""),
    ])


def committed_view(notebook_dir: str | os.PathLike[str], name: str, study: Any, rule: str) -> tuple[CommittedRun | None, Any]:
    """The top of a study notebook: the committed run of study ``name`` and its verdict board.

    Reads ``<notebook_dir>/results/<name>.csv`` (:func:`committed_run`). Returns
    ``(run, view)``; ``run`` is None (and ``view`` a callout with the command to make it) when no
    full run is committed. ``rule`` is what the pairs are in this study, added to :data:`PAIRED_RULE`.
    """
    import marimo as mo

    csv = f"notebooks/studies/results/{name}.csv"
    run = committed_run(Path(notebook_dir) / "results" / f"{name}.csv", study)
    if run is None:
        return None, mo.callout(mo.md(f"No committed full run yet: run the study's command "
                                      f"(`python -m labkit.studies.{name} --out {csv}`)."), kind="warn")
    return run, mo.vstack([
        mo.md("## The committed full run: verdict"),
        verdict_board(study.verdict(run.table), title="Verdict of the committed run", rule=f"{PAIRED_RULE} {rule}"),
        mo.md(f"Made by {run.how}, recomputed here from `{csv}`. The sections below explain the design; "
              "the first button reruns exactly that command, the second opens the interactive sections."),
    ])
