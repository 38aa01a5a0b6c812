"""Export a marimo notebook (the lab) to one HTML file that opens offline, figures included.

``marimo export html`` writes a page whose frontend (about 30 MB of JavaScript, CSS and fonts)
loads from the jsDelivr CDN, so offline the page is blank (marimo-team/marimo#575, open). The
same files ship inside the marimo wheel (``marimo/_static``), but a page opened from disk cannot
load them: browsers refuse ES-module scripts from ``file://`` URLs. So labkit exports in three
steps, the way marimo's own PDF export renders pages:

1. run the notebook with ``marimo export html`` (every cell executes; outputs are embedded);
2. open that page in headless Chromium (Playwright) with every CDN request answered from the
   installed ``marimo/_static`` and every other network request refused;
3. once it has rendered, write the rendered document out as static HTML: shadow DOM flattened,
   the CSS in one ``<style>`` block, fonts and images as ``data:`` URLs, canvases as PNG, no
   scripts. A Content-Security-Policy that allows no network request at all proves the file
   needs nothing else.

The result is a read-only snapshot of the notebook as run (controls show their values but do not
move). For a live lab run ``make lab``.

Example:
    >>> export_notebook("notebooks/lab.py", "lab.html", args=["--smoke"])   # doctest: +SKIP
    PosixPath('lab.html')

Needs ``marimo`` and ``playwright`` with a Chromium: Debian's ``/usr/bin/chromium`` (or the one
named by ``LABKIT_CHROMIUM``), else Playwright's own (``playwright install chromium``).
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import mimetypes
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .io import atomic_write

__all__ = ["export_notebook", "freeze_marimo_html", "marimo_static_dir", "CSP"]

CDN_PREFIX = "https://cdn.jsdelivr.net/npm/@marimo-team/frontend@"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The exported file may load nothing: only inline styles and data: images / fonts.
CSP = "default-src 'none'; img-src data:; font-src data:; style-src 'unsafe-inline'; media-src data:"
_INLINE_SUFFIXES = {".woff2", ".png", ".svg", ".gif", ".jpg", ".jpeg"}
_INLINE_MAX_BYTES = 256_000

# Runs in the rendered page: freeze it into one static HTML string plus its CSS.
_SNAPSHOT_JS = r"""
async () => {
  const VOID = new Set(['area','base','br','col','embed','hr','img','input','source','track','wbr']);
  const SKIP = new Set(['script','noscript','template','style','link','meta','title','base']);
  const esc = s => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const attr = s => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  const css = new Map();
  const addSheet = sheet => {
    let text = '';
    try { text = [...sheet.cssRules].map(r => r.cssText).join('\n'); } catch (e) { return; }
    if (text && !css.has(text)) css.set(text, sheet.href || '');
  };
  for (const s of document.styleSheets) addSheet(s);
  for (const s of document.adoptedStyleSheets || []) addSheet(s);
  const toDataURL = async src => {
    if (!src || src.startsWith('data:')) return src;
    try {
      const blob = await (await fetch(src)).blob();
      return await new Promise(ok => { const r = new FileReader(); r.onload = () => ok(r.result); r.readAsDataURL(blob); });
    } catch (e) { return ''; }
  };
  const images = new Map();
  const visit = async root => {
    for (const el of root.querySelectorAll('*')) {
      if (el.localName === 'img') images.set(el, await toDataURL(el.currentSrc || el.src));
      if (el.shadowRoot) {
        for (const s of el.shadowRoot.adoptedStyleSheets || []) addSheet(s);
        for (const s of el.shadowRoot.querySelectorAll('style')) if (s.sheet) addSheet(s.sheet);
        await visit(el.shadowRoot);
      }
    }
  };
  await visit(document);
  // The app scrolls inside a viewport-high box: in the snapshot that box and its ancestors grow
  // to their content instead, so the page is one long document (the live page is left alone:
  // marimo hides its cells while it re-measures a changed layout).
  const unclip = new Set();
  for (const el of document.querySelectorAll('body *')) {
    const s = getComputedStyle(el);
    if (/(auto|scroll|hidden)/.test(s.overflowY) && el.clientHeight >= 0.6 * innerHeight &&
        el.scrollHeight > el.clientHeight + 2) {
      for (let e = el; e && e !== document.body; e = e.parentElement) unclip.add(e);
    }
  }
  // marimo can leave the cell column `invisible` while it measures; a snapshot shows it.
  const reveal = new Set();
  for (const c of document.querySelectorAll('.marimo-cell'))
    for (let e = c; e && e !== document.body; e = e.parentElement) reveal.add(e);
  const GROW = 'overflow:visible!important;height:auto!important;max-height:none!important;flex:none!important;';
  const ser = node => {
    if (node.nodeType === Node.TEXT_NODE) return esc(node.data);
    if (node.nodeType !== Node.ELEMENT_NODE) return '';
    const tag = node.localName;
    if (SKIP.has(tag)) return '';
    if (tag === 'canvas') {
      let src = '';
      try { src = node.toDataURL('image/png'); } catch (e) { return ''; }
      const r = node.getBoundingClientRect();
      return `<img alt="chart" src="${src}" style="width:${r.width}px;height:${r.height}px">`;
    }
    let attrs = '';
    for (const a of node.attributes) {
      const name = a.name;
      if (name.startsWith('on') || name === 'loading' || name === 'srcset') continue;
      if (tag === 'img' && name === 'src') continue;
      if (tag === 'iframe' && name === 'src') continue;
      attrs += ` ${name}="${attr(a.value)}"`;
    }
    if (tag === 'img') attrs += ` src="${attr(images.get(node) || '')}"`;
    if (tag === 'input') {
      if (node.type === 'checkbox' || node.type === 'radio') { if (node.checked) attrs += ' checked'; }
      else attrs += ` value="${attr(node.value)}"`;
    }
    if (tag === 'ol' && /not connected to a kernel/i.test(node.textContent)) return '';  // marimo's toast
    if (reveal.has(node)) attrs = attrs.replace(/ class="([^"]*)"/, (m, c) => ` class="${c.replace(/\binvisible\b/g, '')}"`);
    if (node.shadowRoot) attrs += ' data-shadow-host=""';
    if (unclip.has(node))
      attrs = attrs.replace(/ style="([^"]*)"/, '') + ` style="${attr(node.getAttribute('style') || '')};${GROW}"`;
    if (VOID.has(tag)) return `<${tag}${attrs}>`;
    let inner = '';
    if (tag === 'textarea') inner = esc(node.value);
    else if (tag === 'select') inner = [...node.options].map(o =>
      `<option${o.selected ? ' selected' : ''}>${esc(o.text)}</option>`).join('');
    else for (const k of (node.shadowRoot ? node.shadowRoot.childNodes : node.childNodes)) inner += ser(k);
    return `<${tag}${attrs}>${inner}</${tag}>`;
  };
  const htmlAttrs = [...document.documentElement.attributes].map(a => ` ${a.name}="${attr(a.value)}"`).join('');
  return {body: ser(document.body), css: [...css.entries()], htmlAttrs, title: document.title};
}
"""

# Interactive leftovers that mean nothing in a snapshot: toasts, the "static notebook" notice.
_DROP_JS = r"""
() => {
  for (const el of document.querySelectorAll('[role=region][aria-label*="otification"], [data-sonner-toaster]')) el.remove();
  for (const li of document.querySelectorAll('ol > li')) {
    if (/not connected to a kernel/i.test(li.textContent)) li.parentElement.remove();
  }
}
"""


def marimo_static_dir() -> Path:
    """The frontend files shipped inside the installed marimo wheel (``marimo/_static``)."""
    try:
        import marimo
    except ImportError as exc:  # pragma: no cover - marimo is in the `lab` extra
        raise RuntimeError("exporting a notebook needs marimo: pip install 'labkit[lab]'") from exc
    static = Path(marimo.__file__).parent / "_static"
    if not (static / "index.html").is_file():
        raise RuntimeError(f"marimo's frontend files are not at {static}; reinstall marimo (pip install -U marimo)")
    return static


def _chromium() -> str | None:
    path = os.environ.get("LABKIT_CHROMIUM") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if path and not Path(path).exists():
        raise RuntimeError(f"LABKIT_CHROMIUM={path} does not exist; point it at a Chromium binary")
    return path  # None: Playwright's own browser (`playwright install chromium`)


def _run_marimo_export(notebook: Path, out: Path, args: Sequence[str], include_code: bool, timeout: float) -> None:
    cmd = [sys.executable, "-m", "marimo", "-q", "export", "html", str(notebook), "-o", str(out), "-f",
           "--no-sandbox", "--include-code" if include_code else "--no-include-code"]
    if args:
        cmd += ["--", *args]
    env = dict(os.environ, MARIMO_SKIP_UPDATE_CHECK="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=notebook.parent)
    if proc.returncode != 0 or not out.is_file():
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-25:])
        raise RuntimeError(f"marimo export html {notebook} failed (exit {proc.returncode}):\n{tail}")


def _data_url(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or ("font/woff2" if path.suffix == ".woff2" else "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _inline_css_urls(css: str, assets: Path) -> str:
    """``url(...)`` in the frontend CSS -> data: URLs for fonts / small images, empty otherwise."""
    cache: dict[str, str] = {}

    def repl(m: re.Match[str]) -> str:
        ref = m.group(2)
        if ref.startswith("data:"):
            return m.group(0)
        name = ref.split("?", 1)[0].split("#", 1)[0].rsplit("/", 1)[-1]
        if name not in cache:
            f = assets / name
            ok = f.suffix.lower() in _INLINE_SUFFIXES and f.is_file() and f.stat().st_size <= _INLINE_MAX_BYTES
            cache[name] = _data_url(f) if ok else "data:,"
        return f'url("{cache[name]}")'

    return re.sub(r"""url\((["']?)([^"')]+)\1\)""", repl, css)


def _render_offline(page_html: Path, static: Path, timeout: float, screenshot: Path | None) -> tuple[dict[str, Any], list[str]]:
    """Render in a worker thread: Playwright's sync API refuses a thread with a running event loop
    (Jupyter, or a caller already driving a browser)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_render_offline_here, page_html, static, timeout, screenshot).result()


_DRAWN_JS = """() => [document.querySelectorAll('.marimo-cell').length, document.images.length,
  document.querySelectorAll('svg, canvas').length, [...document.images].every(i => i.complete),
  document.body.innerText.length]"""


def _wait_drawn(page: Any, timeout: float, still_s: float = 2.0) -> None:
    """Wait until the page has drawn its outputs: images loaded and nothing new for ``still_s``.

    "Every image has loaded" alone is true before the outputs exist (no images yet), and a busy
    machine snapshots an empty page; so the count of cells, images, charts and text must also
    stay the same for ``still_s`` seconds.
    """
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        now = page.evaluate(_DRAWN_JS)
        if now != last:
            last, since = now, time.monotonic()
        elif now[3] and now[0] > 0 and time.monotonic() - since >= still_s:
            return
        page.wait_for_timeout(250)


def _render_offline_here(page_html: Path, static: Path, timeout: float,
                         screenshot: Path | None) -> tuple[dict[str, Any], list[str]]:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise RuntimeError("exporting a notebook needs Playwright: pip install playwright "
                           "(and a Chromium: apt-get install chromium, or playwright install chromium)") from exc
    refused: list[str] = []

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(CDN_PREFIX) and "/dist/" in url:
            f = static / url.split("/dist/", 1)[1].split("?", 1)[0]
            if f.is_file():
                mime = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
                r.fulfill(path=str(f), headers={"Access-Control-Allow-Origin": "*", "Content-Type": mime})
                return
        elif url.startswith(("file:", "data:", "blob:")):
            r.continue_()
            return
        refused.append(url)
        r.abort()

    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            raise RuntimeError("no Chromium for the export: apt-get install chromium (or set LABKIT_CHROMIUM, "
                               f"or run `playwright install chromium`): {exc}") from exc
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(timeout * 1000)
            page.route("**/*", route)
            page.goto(page_html.as_uri(), wait_until="networkidle")
            page.wait_for_function("() => document.querySelector('#App, #root')")
            _wait_drawn(page, timeout)
            page.evaluate(_DROP_JS)
            try:  # the cells are normally shown by now; the snapshot reveals them regardless
                page.wait_for_function("() => [...document.querySelectorAll('.marimo-cell')]"
                                       ".every(c => getComputedStyle(c).visibility === 'visible')", timeout=20_000)
            except PlaywrightError:
                pass
            if screenshot is not None:
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot), full_page=True)
            snap = page.evaluate(_SNAPSHOT_JS)
        finally:
            browser.close()
    return snap, refused


def _page(snap: dict[str, Any], static: Path, source: str, args: Sequence[str]) -> str:
    css = "\n".join(_inline_css_urls(text, static / "assets") for text, _href in snap["css"])
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    cmd = html.escape(" ".join([source, *args]))
    banner = ("<div class='labkit-export-note'>Static snapshot of <code>" + cmd + "</code>, run on " + when +
              ". Controls show the values it ran with and do not move; for the live lab run "
              "<code>make lab</code>.</div>")
    extra = ("[data-shadow-host]{display:contents}"
             ".labkit-export-note{font:13px system-ui,sans-serif;background:#fff8e1;border-bottom:1px solid #e0c36c;"
             "padding:6px 12px;color:#333;position:relative;z-index:2147483647}"
             "html,body{height:auto!important;overflow:auto!important}"
             "#App,#root{height:auto!important;overflow:visible!important}")
    body = re.sub(r"^<body([^>]*)>", lambda m: f"<body{m.group(1)} data-labkit-export='1'>{banner}",
                  snap["body"], count=1)
    return ("<!DOCTYPE html>\n<html" + snap["htmlAttrs"] + "><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(snap['title'] or source)}</title><style>{css}\n{extra}</style></head>"
            f"{body}</html>\n")


def freeze_marimo_html(page: str | os.PathLike, out: str | os.PathLike, *, label: str | None = None,
                       args: Sequence[str] = (), timeout: float = 300.0,
                       screenshot: str | os.PathLike | None = None) -> Path:
    """Steps 2-3 of the export: render a ``marimo export html`` page offline and write it frozen.

    Use it on a page you already exported; :func:`export_notebook` runs the notebook first.
    ``label`` (default: the page's file name) and ``args`` name the source in the banner.
    """
    page, out = Path(page).resolve(), Path(out)
    if not page.is_file():
        raise FileNotFoundError(f"no exported page at {page}; make one with `marimo export html NOTEBOOK -o PAGE`")
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"the export is HTML: give a path ending in .html, got {out}")
    static = marimo_static_dir()
    snap, refused = _render_offline(page, static, timeout, Path(screenshot) if screenshot else None)
    missing = [u for u in refused if u.startswith(CDN_PREFIX)]
    if missing:
        raise RuntimeError(f"the page asked for {len(missing)} frontend file(s) the installed marimo does not ship "
                           f"(first: {missing[0]}); the export would be incomplete: reinstall marimo")
    return atomic_write(out, _page(snap, static, label or page.name, args))


def export_notebook(notebook: str | os.PathLike, out: str | os.PathLike, *, args: Sequence[str] = (),
                    include_code: bool = False, timeout: float = 900.0,
                    screenshot: str | os.PathLike | None = None) -> Path:
    """Run a marimo ``notebook`` and write a self-contained, offline HTML snapshot to ``out``.

    Args:
        notebook: a marimo notebook file, e.g. ``notebooks/lab.py``.
        out: the ``.html`` file to write (atomically: a temp file, then a rename).
        args: the notebook's own command-line arguments (``mo.cli_args()``), e.g. ``["--smoke"]``.
        include_code: keep the cells' code in the page (default: outputs only).
        timeout: seconds allowed for running the notebook, and for rendering it.
        screenshot: also save a PNG of the rendered page here (to look at).

    Returns:
        The path written. Raises ``RuntimeError`` naming the fix when marimo, Playwright or
        Chromium is missing, the notebook fails, or the page asked for a file that is not local.
    """
    notebook, out = Path(notebook).resolve(), Path(out)
    if not notebook.is_file():
        raise FileNotFoundError(f"no notebook at {notebook}; give the path of a marimo .py notebook "
                                "(the lab is notebooks/lab.py in the labkit repository)")
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"the export is HTML: give a path ending in .html, got {out}")
    marimo_static_dir()  # fail before the (long) run when marimo is missing
    with tempfile.TemporaryDirectory(prefix="labkit-export-") as tmp:
        raw = Path(tmp) / "marimo-export.html"
        _run_marimo_export(notebook, raw, args, include_code, timeout)
        return freeze_marimo_html(raw, out, label=notebook.name, args=args, timeout=timeout, screenshot=screenshot)
