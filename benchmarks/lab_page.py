"""Latency where the person waits: a slider step in the marimo lab, measured in Chromium.

Starts ``marimo run notebooks/lab.py`` (token on, 127.0.0.1), opens it in Debian's chromium
through Playwright, waits until the page is still, then steps the **global sparsity** slider
``--steps`` times with the keyboard and reports for each step, from the key press:

- *first view*: the readout (``sparsity: ...``) shows the new value;
- *page still*: the last change to the page before ``--quiet`` ms without any DOM mutation and
  without marimo's running indicator.

Run (about a minute on 2 cores):

    python benchmarks/lab_page.py                 # the lab as `make lab` opens it
    python benchmarks/lab_page.py --screenshot /tmp/lab.png
    python benchmarks/lab_page.py --variant LABKIT_THREADS=2 --variant LABKIT_THREADS=1

Each ``--variant`` (environment settings for the server, ``default`` = none) gets its own server
and page; their slider steps are interleaved (A, B, A, B, ...), so a busy machine slows every
variant alike and the side-by-side ratio stays meaningful.

Both medians are printed with the open time; the README quotes them. The numbers include
everything a person waits for: the kernel's work, the websocket and the browser's drawing.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

_OBSERVE = """() => {
  window.__lastMut = performance.now();
  new MutationObserver(() => { window.__lastMut = performance.now(); })
    .observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
}"""

_READOUT = "() => { const m = document.body.innerText.match(/sparsity: ([0-9.]+)/); return m ? m[1] : null; }"
_BUSY = "() => !!document.querySelector('.running-app-icon')"


@contextlib.contextmanager
def serve(notebook: Path, *args: str, timeout: float = 240, env: dict[str, str] | None = None) -> Iterator[str]:
    """``marimo run`` on a free port with a random token; yields the URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_urlsafe(16)
    cmd = [sys.executable, "-m", "marimo", "-q", "run", str(notebook), "--headless", "--host", "127.0.0.1",
           "--port", str(port), "--token", "--token-password", token, "--no-sandbox"]
    if args:
        cmd += ["--", *args]
    env = {**os.environ, "MARIMO_SKIP_UPDATE_CHECK": "1", **(env or {})}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"marimo run exited with {proc.returncode}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            if time.monotonic() > deadline:
                raise TimeoutError("marimo did not start")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/?access_token={token}"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


def wait_still(page, quiet_ms: float, timeout_s: float = 300.0) -> float:
    """Block until no mutation for ``quiet_ms`` and marimo is idle; return the last mutation time (page ms)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        busy, last, now = page.evaluate(f"() => [({_BUSY})(), window.__lastMut, performance.now()]")
        if not busy and now - last >= quiet_ms:
            return float(last)
        time.sleep(0.05)
    raise TimeoutError("the page never became still")


def step(page, quiet_ms: float) -> tuple[float, float]:
    """One ArrowRight on the global-sparsity thumb: (first view ms, page still ms)."""
    # watch the readout element itself: polling document.body.innerText would force a layout of the
    # whole page every few milliseconds and slow down what it measures
    el = page.get_by_text(re.compile(r"^\s*sparsity:")).first.element_handle()
    page.evaluate("""(el) => { window.__readout = el.textContent; window.__changed = null;
        new MutationObserver(() => { if (window.__changed === null && el.textContent !== window.__readout)
            window.__changed = performance.now(); }).observe(el, {subtree: true, childList: true, characterData: true}); }""", el)
    thumb = page.get_by_role("slider", name="global sparsity")
    thumb.focus()
    t0 = page.evaluate("() => performance.now()")
    thumb.press("ArrowRight")
    page.wait_for_function("() => window.__changed !== null", timeout=120_000, polling=50)
    first = page.evaluate("() => window.__changed") - t0
    page.evaluate("() => { window.__lastMut = performance.now(); }")
    time.sleep(quiet_ms / 1000.0)  # let the kernel's follow-up messages start arriving
    still = wait_still(page, quiet_ms) - t0
    return first, max(still, first)


def _variant(text: str) -> dict[str, str]:
    if text == "default":
        return {}
    pairs = [kv.split("=", 1) for kv in text.split(",")]
    if any(len(kv) != 2 for kv in pairs):
        raise argparse.ArgumentTypeError(f"--variant {text!r}: expected NAME=VALUE[,NAME=VALUE] or 'default'")
    return dict(pairs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notebook", type=Path, default=REPO / "notebooks" / "lab.py")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--quiet", type=float, default=400.0, help="ms without DOM changes that count as still")
    ap.add_argument("--screenshot", type=Path, default=None)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--variant", action="append", type=_variant, default=None,
                    help="server environment, e.g. LABKIT_THREADS=1 (repeat to compare; default: as is)")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    variants = args.variant or [{}]
    names = [",".join(f"{k}={v}" for k, v in v.items()) or "default" for v in variants]
    with contextlib.ExitStack() as stack, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        pages, opened = [], []
        for env in variants:  # one server and page per variant, opened one after the other
            t_start = time.monotonic()
            url = stack.enter_context(serve(args.notebook, env=env))
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url)
            page.evaluate(_OBSERVE)
            page.get_by_role("slider", name="global sparsity").wait_for(timeout=240_000)
            page.wait_for_function(f"() => ({_READOUT})() !== null", timeout=240_000)
            wait_still(page, args.quiet)
            opened.append(time.monotonic() - t_start)
            pages.append(page)
        firsts: list[list[float]] = [[] for _ in variants]
        stills: list[list[float]] = [[] for _ in variants]
        for _ in range(args.steps):
            for i, page in enumerate(pages):
                f, s = step(page, args.quiet)
                firsts[i].append(f)
                stills[i].append(s)
                print(f"{names[i]:>20}: first view {f:6.0f} ms · page still {s:6.0f} ms · readout {page.evaluate(_READOUT)}")
        if args.screenshot:
            pages[0].screenshot(path=str(args.screenshot), full_page=True)
        errors = [page.locator(".marimo-error, [data-testid='marimo-error']").count() for page in pages]
        browser.close()
    print(f"load average {os.getloadavg()[0]:.1f} (1 min), {os.cpu_count()} CPUs")
    for i, name in enumerate(names):
        print(f"{name}: open (server start to still page) {opened[i]:.1f} s · slider step, median of {args.steps}: "
              f"first view {statistics.median(firsts[i]):.0f} ms · page still {statistics.median(stills[i]):.0f} ms"
              "   (targets 300 / 1000 ms)")
        if errors[i]:
            print(f"{name}: {errors[i]} cell(s) show an error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
