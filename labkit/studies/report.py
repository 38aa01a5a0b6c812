"""``python -m labkit.studies.report FOLDER``: rewrite every study's ``.md`` from its committed CSV.

Run it after a study's full run replaces ``FOLDER/<name>.csv``; each ``<name>.md`` is generated
from its table alone (:func:`labkit.studies._report.study_markdown`), so the reports cannot drift
from the data. Exit 2 with one line on a missing folder or a damaged table.

Example:
    >>> main(["notebooks/studies/results"])     # doctest: +SKIP
    notebooks/studies/results/longtail.md
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ..errors import DataNotFoundError, cli_errors
from ._report import write_reports

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m labkit.studies.report", description=__doc__.splitlines()[0])
    ap.add_argument("folder", help="the results folder, e.g. notebooks/studies/results")
    args = ap.parse_args(argv)
    with cli_errors(ap.prog):
        if not Path(args.folder).is_dir():
            raise DataNotFoundError(f"no results folder {args.folder}; give the folder holding the study CSVs")
        written = write_reports(args.folder)
        if not written:
            raise DataNotFoundError(f"no study table (longtail.csv, csasml.csv, ...) in {args.folder}")
    for p in written:
        print(p)


if __name__ == "__main__":
    main()
