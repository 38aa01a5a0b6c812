"""``labkit report``: a page a reader can be handed, checked the way a reader would read it.

Rendered once on the embedded default (resnet20 / digits-lt, two operating points, random as the
baseline), then parsed: every section is there, the summary says what changed in numbers, every
figure decodes as a PNG, numbers are formatted (no raw floats), the per-class table has one row
per class and an interval per operating point, the baseline is drawn in the curve, and the
verdict table has every row the committed studies produce.
"""
from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest

from labkit import Lab
from labkit.report import SECTIONS, _curve, fmt_acc, fmt_count, fmt_delta, fmt_macs, render_report

bs4 = pytest.importorskip("bs4")
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "notebooks" / "studies" / "results"
SPARSITIES = (0.3, 0.6)
INTERVAL = re.compile(r"^[01]\.\d{3} \[[01]\.\d{3}, [01]\.\d{3}\]$")


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab("resnet20", "digits-lt")


@pytest.fixture(scope="module")
def soup(lab):
    text = render_report(lab, sparsities=SPARSITIES, baselines=("random",), verdicts=RESULTS, progress=False)
    return bs4.BeautifulSoup(text, "html.parser")


def _table_after(soup, section: str, index: int = 0):
    h2 = soup.find("h2", id=section)
    assert h2 is not None, f"no section {section}"
    return h2.find_all_next("table")[index]


def _rows(table) -> list[list[str]]:
    return [[td.get_text() for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]


def _header(table) -> list[str]:
    return [th.get_text() for th in table.find("thead").find_all("th")]


def test_formatters():
    assert fmt_macs(9341360) == "9.34 M" and fmt_macs(5120) == "5.12 k" and fmt_macs(2.5e9) == "2.50 G"
    assert fmt_count(272186) == "272,186"
    assert fmt_acc(0.88) == "0.880" and fmt_acc(float("nan")) == "—"
    assert fmt_delta(-0.0312) == "−0.031" and fmt_delta(0.5) == "+0.500"


def test_every_section_is_there_and_nothing_runs(soup):
    assert [h.get("id") for h in soup.find_all("h2")] == list(SECTIONS)
    assert soup.find("script") is None and soup.find("link") is None  # static, self-contained


def test_summary_says_what_changed_in_numbers(soup, lab):
    text = soup.find("div", class_="summary").get_text(" ")
    assert "resnet20" in text and "digits-lt" in text
    assert f"balanced {fmt_acc(lab.dense_report.balanced)}" in text
    assert f"{fmt_count(lab.dense_cost['params'])} parameters" in text and fmt_macs(lab.dense_cost["MACs"]) in text
    items = soup.find("div", class_="summary").find_all("li")
    assert len(items) == len(SPARSITIES)
    for s, li in zip(SPARSITIES, items):
        t = lab.prune("magnitude", s)
        line = li.get_text(" ")
        assert f"At {100 * s:.1f} %" in line
        assert f"→ {fmt_acc(t.report.balanced)} ({fmt_delta(t.report.balanced - lab.dense_report.balanced)})" in line
        assert "Baseline random pruning at the same sparsity" in line


def test_figures_decode_as_png(soup):
    from PIL import Image

    imgs = soup.find_all("img")
    assert len(imgs) == 2 + len(SPARSITIES)  # curve, per-class at each point, profile
    for img in imgs:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix)
        im = Image.open(io.BytesIO(base64.b64decode(img["src"][len(prefix):])))
        im.load()
        assert im.width > 200 and im.height > 150
        assert img.get("alt")


def test_no_raw_floats_anywhere(soup):
    text = soup.get_text(" ")
    assert not re.findall(r"\d\.\d{5,}", text), re.findall(r"\d\.\d{5,}", text)[:5]


def test_cost_table_dense_vs_each_point_formatted(soup, lab):
    table = _table_after(soup, "cost")
    header, rows = _header(table), _rows(table)
    assert header == ["model", "sparsity", "nonzero params", "compression", "nonzero MACs", "MACs vs dense"]
    assert [r[0] for r in rows] == ["dense"] + [f"{c} @ {100 * s:.0f} %" for c in ("magnitude", "random")
                                                for s in SPARSITIES]
    assert rows[0][2] == fmt_count(lab.dense_cost["params"]) and rows[0][4] == fmt_macs(lab.dense_cost["MACs"])
    for r in rows:
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", r[2]), r
        assert re.fullmatch(r"\d+\.\d{2} [kMG]", r[4]), r


def test_accuracy_table_has_intervals_at_every_point(soup):
    table = _table_after(soup, "accuracy")
    header, rows = _header(table), _rows(table)
    assert header[:3] == ["model", "overall", "balanced"] and header[-1] == "Δ balanced"
    assert {"many", "medium", "few"} <= set(header)
    assert len(rows) == 1 + 2 * len(SPARSITIES)
    for r in rows:
        assert all(INTERVAL.match(c) for c in r[1:-1]), r


def test_per_class_table_classes_by_points(soup, lab):
    table = _table_after(soup, "per-class")
    header, rows = _header(table), _rows(table)
    assert header[:4] == ["class", "group", "n_train", "n_test"]
    assert header[4:] == ["dense"] + [f"magnitude @ {100 * s:.0f} %" for s in SPARSITIES]
    assert len(rows) == lab.data.num_classes
    n_train = [int(r[2].replace(",", "")) for r in rows]
    assert n_train == sorted(n_train, reverse=True)  # head classes first
    assert {r[1] for r in rows} == {"many", "medium", "few"}
    for r in rows:
        assert all(INTERVAL.match(c) for c in r[4:]), r
    # the numbers are the trial's own
    t = lab.prune("magnitude", SPARSITIES[-1])
    pc = t.report.per_class.set_index("name")
    for r in rows:
        assert r[-1].startswith(fmt_acc(float(pc.loc[r[0], "accuracy"])))


def test_curve_draws_the_baseline_and_no_current_marker(lab):
    from labkit.report import _measure

    points = _measure(lab, ["magnitude", "random"], SPARSITIES, "global", "weight", progress=False)
    fig = _curve(lab, points, "magnitude", "weight")
    ax = fig.axes[0]
    random_balanced = [p.report.balanced for p in points if p.criterion == "random"]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert any(list(ln.get_ydata())[1:] == pytest.approx(random_balanced) for ln in dashed)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "random" in legend and "dense" in legend and not any("current" in t for t in legend)
    for ln in ax.get_lines():  # every curve starts at the dense model, at sparsity 0
        xs = list(ln.get_xdata())
        if len(xs) > 2:
            assert xs[0] == 0.0


@pytest.mark.skipif(not RESULTS.is_dir(), reason="no committed study results in this checkout")
def test_verdict_table_is_complete(soup):
    from labkit.studies import committed_verdicts

    expected = committed_verdicts(RESULTS)
    rows = _rows(_table_after(soup, "verdicts"))
    assert len(rows) == len(expected)
    assert [r[-1] for r in rows] == expected["verdict"].astype(str).tolist()
