"""The course notebooks as a student meets them: ``marimo run`` in Chromium, every question walked.

For each notebook of ``notebooks/course/`` (smoke mode), the test

1. waits for the page to settle (the scoreboard and the gated summary are the last cells);
2. walks every "Commit prediction" form in page order: picks an option where the control has
   no value yet, reads the page text, commits, and waits for that question's verdict callout
   (``data-labkit-verdict``, see ``labkit/course/checks.py``) to leave ``pending``. The answer's
   numbers (``data-secrets``: the verdict's bold numbers) must **not** have been on the page
   before the commit, and must be on it afterwards; "What to remember" appears only after
   the last commit, and the scoreboard then counts every question;
3. checks the graded exercise. The notebook is served from a copy whose stub is replaced by the
   reference solution (01, 03, 05: the grader must say *passed*) or by a planted wrong one
   (02, 04, 06: it must say *failed*), so both paths are seen in the browser;
4. asserts every ``<img>`` decodes (``naturalWidth > 0``), no cell failed (marimo run reports a
   failed cell as an internal error on the console and in a toast), and saves a full-page
   screenshot to ``test-artifacts/course-<notebook>.png``.
"""
from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import marimo_server, notebook_url

pytest.importorskip("playwright.sync_api", reason="pip install playwright (the test extra)")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
COURSE = sorted((REPO / "notebooks" / "course").glob("[0-9][0-9]_*.py"))
STUB = re.compile(r"(?P<indent>[ \t]*)# YOUR CODE BELOW\n(?P<body>.*?)\n[ \t]*# YOUR CODE ABOVE", re.S)
DEF = re.compile(r"def (?P<name>\w+)\((?P<params>[^)]*)\)")


def _param_names(params: str) -> list[str]:
    names, depth, cur = [], 0, ""
    for ch in params + ",":
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        if ch == "," and depth == 0:
            if cur.strip():
                names.append(cur.split(":")[0].split("=")[0].strip())
            cur = ""
        else:
            cur += ch
    return names


def with_solution(source: str, kind: str) -> str:
    """``source`` with every exercise stub replaced: ``reference`` calls labkit's reference
    solution, ``wrong`` returns ``None`` (which the grader must catch)."""
    def fill(m: re.Match[str]) -> str:
        head = source[: m.start()]
        d = list(DEF.finditer(head))[-1]
        args = ", ".join(_param_names(d.group("params")))
        body = (f"from labkit.course import solutions as _ref\n{m['indent']}return _ref.{d['name']}({args})"
                if kind == "reference" else "return None  # planted wrong solution")
        return f"{m['indent']}# YOUR CODE BELOW\n{m['indent']}{body}\n{m['indent']}# YOUR CODE ABOVE"

    out, n = STUB.subn(fill, source)
    assert n >= 1, "every course notebook has at least one exercise stub between '# YOUR CODE BELOW/ABOVE'"
    return out


def test_with_solution_fills_the_stub() -> None:
    src = 'def jaccard(a: torch.Tensor, b: dict[str, int] = {}) -> float:\n    """x"""\n' \
          '    # YOUR CODE BELOW\n    raise NotImplementedError\n    # YOUR CODE ABOVE\n'
    assert "return _ref.jaccard(a, b)" in with_solution(src, "reference")
    assert "return None" in with_solution(src, "wrong")


def _settled(page, timeout_ms: int) -> None:
    page.locator("[data-labkit-scoreboard]").first.wait_for(timeout=timeout_ms)
    page.get_by_text("The summary appears once every question is committed").wait_for(timeout=timeout_ms)


def _pick_an_option(form) -> None:
    """Give controls without a default a value (a radio with nothing picked commits None)."""
    radios = form.get_by_role("radio")
    if radios.count() and not any(radios.nth(i).is_checked() for i in range(radios.count())):
        radios.last.check()
    selects = form.locator("select")
    if selects.count():
        opts = selects.first.locator("option")
        selects.first.select_option(index=opts.count() - 1)


DEEP_TEXT = """(root, skipVerdicts) => {
  const out = [];
  const walk = (n) => {
    if (n.nodeType === Node.TEXT_NODE) { out.push(n.textContent); return; }
    if (n.nodeType === Node.ELEMENT_NODE && ["STYLE", "SCRIPT", "TEMPLATE"].includes(n.tagName)) return;
    if (skipVerdicts && n.nodeType === Node.ELEMENT_NODE && n.hasAttribute("data-labkit-verdict")) return;
    if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.childNodes) walk(c);
  };
  walk(root || document.body);
  return out.join(" ");
}"""


def page_text(page, skip_verdicts: bool = False) -> str:
    """All text on the page, inside shadow roots too (marimo's tables and callouts render there).

    ``skip_verdicts`` leaves out the verdict callouts: "your guess was 0.55 too low" in one
    verdict is not another question's answer, whatever the digits."""
    return page.evaluate(f"() => ({DEEP_TEXT})(null, {'true' if skip_verdicts else 'false'})")


def tall_screenshot(page, path: Path) -> None:
    """The whole notebook in one PNG: marimo scrolls inside a container, not the body, so
    ``full_page=True`` sees one screen; grow the viewport to the container's height instead."""
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
    size = page.viewport_size or {"width": 1280, "height": 900}
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 50, 30_000)})
    page.wait_for_timeout(1500)  # images and tables re-layout
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)


def _has(text: str, token: str) -> bool:
    return re.search(rf"(?<![\d.,]){re.escape(token)}(?![\d,]|\.\d)", text) is not None


def _kind(notebook: Path) -> str:
    """The solution served in ``notebook``'s stub: the reference (01, 03, 05) or a wrong one (02, 04, 06)."""
    return "reference" if int(notebook.stem[:2]) % 2 else "wrong"


@pytest.fixture(scope="module")
def course_url(tmp_path_factory) -> Iterator[str]:
    """One ``marimo run --smoke`` of a folder holding every course notebook with its stub filled
    (:func:`with_solution`): one server start for the module, each test opens its own notebook."""
    folder = tmp_path_factory.mktemp("course")
    for notebook in COURSE:
        (folder / notebook.name).write_text(with_solution(notebook.read_text(), _kind(notebook)))
    with marimo_server(folder, "--smoke", timeout=300) as url:
        yield url


@pytest.mark.parametrize("notebook", COURSE, ids=[p.stem[:2] for p in COURSE])
def test_course_notebook_no_answer_before_its_commit(notebook: Path, course_url, page, artifacts) -> None:
    kind = _kind(notebook)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    shot = artifacts / f"course-{notebook.stem}.png"
    t0 = time.monotonic()
    try:
        page.goto(notebook_url(course_url, notebook.name))
        _settled(page, 300_000)
        loaded = time.monotonic() - t0
        buttons = page.get_by_role("button", name="Commit prediction")
        verdicts = page.locator("[data-labkit-verdict]")
        n = buttons.count()
        assert n >= 4 and verdicts.count() == n, f"{n} questions but {verdicts.count()} verdicts on the page"
        assert all(verdicts.nth(i).get_attribute("data-labkit-verdict") == "pending" for i in range(n))
        for i in range(n):
            assert "What to remember" not in page_text(page), "summary visible before every commit"
            form = page.locator("form").filter(has=page.get_by_role("button", name="Commit prediction")).nth(i)
            _pick_an_option(form)
            before = page_text(page, skip_verdicts=True)
            buttons.nth(i).click()
            verdict = page.locator("[data-labkit-verdict]").nth(i)
            verdict.and_(page.locator('[data-labkit-verdict]:not([data-labkit-verdict="pending"])')).wait_for(
                timeout=120_000)
            secrets = [s for s in (verdict.get_attribute("data-secrets") or "").split("|") if s]
            leaked = [s for s in secrets if _has(before, s)]
            assert not leaked, f"question {i + 1}: its answer {leaked} was on the page before the commit"
            after = page_text(page)
            assert all(_has(after, s) for s in secrets), f"question {i + 1}: the reveal is missing {secrets}"
            assert re.search(r"\b(Right|Not quite)\.", verdict.evaluate(f"e => ({DEEP_TEXT})(e, false)"))
        page.get_by_role("heading", name="What to remember").wait_for(timeout=120_000)
        page.locator(f'[data-labkit-scoreboard="{n}/{n}"]').wait_for(timeout=60_000)
        for ex in page.locator("[data-labkit-exercise]").all():
            want = "passed" if kind == "reference" else "failed"
            assert ex.get_attribute("data-state") == want, ex.inner_text()
        broken = page.evaluate("() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))"
                               ".map(i => i.src.slice(0, 60))")
        assert not broken, f"images that do not decode: {broken}"
        errors = [m for m in console if "An internal error occurred" in m or '"type":"exception"' in m]
        assert not errors and page.get_by_text("An internal error occurred").count() == 0, errors
    except Exception:
        tall_screenshot(page, shot.with_name(f"{shot.stem}-failed.png"))
        raise
    tall_screenshot(page, shot)
    print(f"{notebook.stem}: settled in {loaded:.0f} s, {n} questions walked in {time.monotonic() - t0 - loaded:.0f} s")
