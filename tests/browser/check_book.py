#!/usr/bin/env python3
"""Headless-browser smoke test of the built book (run by ``make test``).

Serves ``book/_build/html`` on 127.0.0.1 (random free port), opens every page with
the system Chromium through Playwright (no browser download, no network) and fails if

* a page requests anything that is not on the local server (the request is aborted
  and listed: the book must work without any CDN),
* a local request fails or returns HTTP >= 400 (e.g. a missing vendored file),
* the page raises a JavaScript error or logs a console error,
* a page with math (``.math`` elements) was not typeset by MathJax,
* an ``<img>`` did not load, or a chapter page (``notebooks/*.html``) has none,
* a page embeds ipywidgets state but the html-manager did not render every widget,
* a CSS selector listed for the page in ``expectations.json`` matches nothing,
* the page lists ``@slider-works`` and moving its first widget slider with the keyboard does not
  change what the page shows (the pre-rendered, ``jslink``-ed widgets must work without a kernel).

A full-page screenshot of every page goes to ``<html>/_screenshots/<page>.png``.

Usage: tests/browser/check_book.py [--html-dir book/_build/html]
       [--expectations tests/browser/expectations.json] [--chromium /usr/bin/chromium]
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIP_DIRS = {"_static", "_sources", "_images", "_screenshots", "_downloads"}
RENDER_TIMEOUT_MS = 30_000
WIDGET_STATE = 'script[type="application/vnd.jupyter.widget-state+json"]'
WIDGET_VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]'
IGNORED_URL_SUFFIXES = ("/favicon.ico",)  # browsers probe it; the book sets no favicon


def _ignored(url: str) -> bool:
    return urlsplit(url).path.endswith(IGNORED_URL_SUFFIXES)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from stdlib
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}"


def find_pages(html_dir: Path) -> list[str]:
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir)
        if rel.parts[0] in SKIP_DIRS or rel.as_posix() == "index.html":  # index = redirect
            continue
        pages.append(rel.as_posix())
    return pages


# Evaluated in the page once it has settled; returns facts for the Python-side checks.
PAGE_FACTS_JS = """
() => {
  const q = (s) => Array.from(document.querySelectorAll(s));
  const maths = q('.math, div.math, span.math');
  const views = q('%(view)s');
  return {
    mathCount: maths.length,
    mathUnrendered: maths.filter(m => !m.querySelector('mjx-container')).length,
    mathErrors: q('mjx-merror, [data-mjx-error]').length,
    images: q('img').map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    hasWidgetState: q('%(state)s').length > 0,
    widgetViews: views.length,
    widgetsUnrendered: views.filter(v => !(v.previousElementSibling &&
        (v.previousElementSibling.matches('.jupyter-widgets, .widget-subarea') ||
         v.previousElementSibling.querySelector('.jupyter-widgets')))).length,
    widgetCount: q('.jupyter-widgets').length,
  };
}
""" % {"view": WIDGET_VIEW, "state": WIDGET_STATE}


SLIDER_CHECK = "@slider-works"


# the page's text without the sliders' own readouts (which change whether or not anything is linked)
SHOWN_TEXT_JS = """
() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('.widget-readout, .noUi-target, .widget-label').forEach(e => e.remove());
  return copy.textContent;
}
"""


def slider_changes_view(page) -> str | None:
    """Press → on the first widget slider's handle; the text the page shows must change (no kernel here)."""
    handles = page.locator(".jupyter-widgets .noUi-handle")
    if handles.count() == 0:
        return "no widget slider on the page (expected one: @slider-works)"
    before = page.evaluate(SHOWN_TEXT_JS)
    handles.first.scroll_into_view_if_needed()
    handles.first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(500)
    if page.evaluate(SHOWN_TEXT_JS) == before:
        return "moving the first widget slider changed nothing on the page (are its pages jslink-ed?)"
    return None


def check_page(context, base: str, page_rel: str, selectors: list[str], shots: Path) -> list[str]:
    problems: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"JS error: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console.{msg.type}: {msg.text} ({msg.location.get('url', '')})")
        if msg.type == "error" and not _ignored(msg.location.get("url", "")) else None,
    )
    page.on(
        "requestfailed",
        lambda req: problems.append(f"request failed: {req.url} ({req.failure})")
        if req.url.startswith(base) and not _ignored(req.url) else None,
    )
    page.on(
        "response",
        lambda resp: problems.append(f"HTTP {resp.status}: {resp.url}")
        if resp.status >= 400 and not _ignored(resp.url) else None,
    )
    page.goto(f"{base}/{page_rel}", wait_until="load")

    has_state = page.locator(WIDGET_STATE).count() > 0
    n_views = page.locator(WIDGET_VIEW).count()
    try:
        if page.locator(".math").count():
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.math'))"
                ".every(m => m.querySelector('mjx-container'))",
                timeout=RENDER_TIMEOUT_MS,
            )
        if has_state and n_views:
            page.wait_for_function(
                f"() => document.querySelectorAll('.jupyter-widgets').length >= {n_views}",
                timeout=RENDER_TIMEOUT_MS,
            )
        page.wait_for_load_state("networkidle", timeout=RENDER_TIMEOUT_MS)
    except Exception as exc:  # playwright TimeoutError: report, keep checking
        problems.append(f"page did not finish rendering: {str(exc).splitlines()[0]}")

    facts = page.evaluate(PAGE_FACTS_JS)
    if facts["mathUnrendered"]:
        problems.append(f"{facts['mathUnrendered']}/{facts['mathCount']} math elements not typeset by MathJax")
    if facts["mathErrors"]:
        problems.append(f"{facts['mathErrors']} MathJax errors (mjx-merror)")
    broken = [im["src"] for im in facts["images"] if not im["ok"]]
    if broken:
        problems.append(f"images not loaded: {broken}")
    if page_rel.startswith("notebooks/") and not facts["images"]:
        problems.append("chapter page has no <img> figure")
    if facts["hasWidgetState"]:
        if facts["widgetViews"] == 0:
            problems.append("widget state embedded but no widget views on the page")
        elif facts["widgetsUnrendered"]:
            problems.append(f"{facts['widgetsUnrendered']}/{facts['widgetViews']} widget views not rendered")
    elif facts["widgetViews"]:
        problems.append(
            f"{facts['widgetViews']} widget views but no widget state: the notebook was saved "
            "without widget state (execute it with nbclient's store_widget_state=True)"
        )
    for selector in selectors:
        if selector == SLIDER_CHECK:
            problem = slider_changes_view(page)
            if problem:
                problems.append(problem)
        elif page.locator(selector).count() == 0:
            problems.append(f"expected selector matches nothing: {selector!r}")

    shot = shots / (page_rel[: -len(".html")].replace("/", "__") + ".png")
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    print(
        f"  {'FAIL' if problems else 'ok  '} {page_rel}: math={facts['mathCount']} "
        f"img={len(facts['images'])} widgets={facts['widgetCount']}/{facts['widgetViews']} "
        f"-> {shot.relative_to(shots.parent)}"
    )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html-dir", type=Path, default=REPO / "book" / "_build" / "html")
    parser.add_argument("--expectations", type=Path, default=Path(__file__).with_name("expectations.json"))
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    html_dir = args.html_dir.resolve()
    if not (html_dir / "intro.html").exists():
        print(f"no built book in {html_dir} (run `make book` first)", file=sys.stderr)
        return 2
    if not Path(args.chromium).exists():
        print(f"Chromium not found at {args.chromium} (apt-get install chromium)", file=sys.stderr)
        return 2
    expectations = {
        k: v for k, v in json.loads(args.expectations.read_text()).items() if not k.startswith("_")
    }
    pages = find_pages(html_dir)
    failures: dict[str, list[str]] = {}
    missing = sorted(set(expectations) - set(pages))
    if missing:
        failures["expectations.json"] = [f"page not built: {p}" for p in missing]
    if not any(p.startswith("notebooks/") for p in pages):
        failures.setdefault("book", []).append("no chapter pages (notebooks/*.html) were built")

    shots = html_dir / "_screenshots"
    shots.mkdir(exist_ok=True)
    server, base = serve(html_dir)
    external: dict[str, set[str]] = {}
    t0 = time.perf_counter()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
            current = {"page": ""}

            def route(route_obj):
                url = route_obj.request.url
                if url.startswith(base + "/") or urlsplit(url).scheme in {"data", "blob"}:
                    route_obj.continue_()
                else:
                    external.setdefault(current["page"], set()).add(url)
                    route_obj.abort("blockedbyclient")

            context.route("**/*", route)
            print(f"Checking {len(pages)} pages served from {html_dir} at {base}")
            for page_rel in pages:
                current["page"] = page_rel
                problems = check_page(context, base, page_rel, expectations.get(page_rel, []), shots)
                if problems:
                    failures.setdefault(page_rel, []).extend(problems)
            browser.close()
    finally:
        server.shutdown()

    for page_rel, urls in external.items():
        failures.setdefault(page_rel, []).extend(
            f"external request blocked (the page must not need it): {u}" for u in sorted(urls)
        )
    print(f"Browser check took {time.perf_counter() - t0:.1f} s")
    if failures:
        print("\nBROWSER CHECK FAILED", file=sys.stderr)
        for page_rel, problems in failures.items():
            for problem in dict.fromkeys(problems):  # de-duplicate, keep order
                print(f"  {page_rel}: {problem}", file=sys.stderr)
        return 1
    print("Browser check passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
