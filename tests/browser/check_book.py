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
* a widget control does not change what its widget shows: Dropdown options are selected and
  sliders moved with the keyboard, one step at a time, as a reader would, over every combination
  of the widget's controls (up to ``MAX_STEPS`` further positions per control and
  ``MAX_MOVES_PER_WIDGET`` moves per widget); after each move the widget's visible output (text and
  images, the controls' own labels and readouts excluded) must differ from before (the
  pre-rendered, ``jslink``-ed widgets must work without a kernel, in every branch of a nested Stack),
* the page lists ``@slider-works`` but has no widget slider,
* a chapter page carries a line of an exercise's solution or rubric, shown or behind a toggle
  (``lessons_src.course.editions.html_leaks``: solutions live in the instructor edition only),
* at the 1280 px wide viewport a code cell's input, a cell output, a table, a displayed equation
  or a widget is wider than the box it sits in (``scrollWidth > clientWidth + 1`` for the element
  or for the nearest box that clips or scrolls it, or it sticks out of the article column): the
  reader would have to scroll sideways or would see it cut off.

A full-page screenshot of every page goes to ``<html>/_screenshots/<page>.png``.

``--self-test`` shows that the widget and overflow checks can fail: it writes three pages into
``<html>/_selftest/`` (built from a chapter page's template) and requires that a widget whose
controls are all ``jslink``-ed passes, that the same widget with one link removed is reported
for exactly that control, and that a too-wide table and a too-wide text output inside a scroll box
are reported as overflow.

Usage: tests/browser/check_book.py [--html-dir book/_build/html]
       [--expectations tests/browser/expectations.json] [--chromium /usr/bin/chromium] [--self-test]
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
SKIP_DIRS = {"_static", "_sources", "_images", "_screenshots", "_downloads", "_selftest"}
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
MAX_STEPS = 12  # positions tried per control beyond the opening one (bounded time on long sliders)
MAX_MOVES_PER_WIDGET = 250  # moves per widget over all combinations of its controls
SETTLE_MS = 1_500  # how long a control may take to change the view

# A top-level widget = the element the html-manager rendered in place of a widget-view script.
WIDGET_ROOTS_JS = """
() => Array.from(document.querySelectorAll('%(view)s')).map(v => v.previousElementSibling)
  .filter(e => e && (e.matches('.jupyter-widgets, .widget-subarea') || e.querySelector('.jupyter-widgets')))
  .map((e, i) => { e.setAttribute('data-check-widget', String(i)); return i; })
""" % {"view": WIDGET_VIEW}

# What a widget's view shows now, as a short hash: the visible text and images, controls excluded
# (a readout changes whether or not anything is linked to its slider).
SHOWN_JS = """
(root) => {
  const skip = '.widget-readout, .widget-label, .widget-dropdown, .widget-slider, .slider-container, ' +
               '.widget-selection-slider, .widget-inline-hbox > input, select';
  const parts = [];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { const t = node.textContent.trim(); if (t) parts.push(t); return; }
    if (node.nodeType !== Node.ELEMENT_NODE || node.matches(skip)) return;
    const style = getComputedStyle(node);
    if (node.getClientRects().length === 0 || style.visibility === 'hidden') return;
    if (node.tagName === 'IMG') parts.push('img:' + node.currentSrc + '#' + node.alt);
    if (node.tagName === 'CANVAS') parts.push('canvas:' + node.toDataURL());
    node.childNodes.forEach(walk);
  };
  walk(root);
  const text = parts.join('|');
  let h = 5381;
  for (let i = 0; i < text.length; i++) h = ((h * 33) ^ text.charCodeAt(i)) >>> 0;
  return text.length + ':' + h;
}
"""

# The controls of one widget, each tagged so Playwright can find it again.
CONTROLS_JS = """
(root) => {
  const found = [];
  const name = (el) => {
    const box = el.closest('.widget-inline-hbox, .widget-dropdown, .widget-slider');
    const label = box && box.querySelector('.widget-label');
    return (label && label.textContent.trim()) || '(unlabelled)';
  };
  root.querySelectorAll('select, .noUi-handle, input[type=range]').forEach((el, i) => {
    if (el.getClientRects().length === 0) return;  // a control on a hidden page of a Stack
    el.setAttribute('data-check-control', String(i));
    if (el.tagName === 'SELECT') {
      found.push({id: i, kind: 'dropdown', name: name(el), count: el.options.length, now: el.selectedIndex});
    } else if (el.tagName === 'INPUT') {
      found.push({id: i, kind: 'slider', name: name(el), min: +el.min, max: +el.max, now: +el.value,
                  step: +(el.step || 1)});
    } else {
      found.push({id: i, kind: 'slider', name: name(el), min: +el.getAttribute('aria-valuemin'),
                  max: +el.getAttribute('aria-valuemax'), now: +el.getAttribute('aria-valuenow'), step: 1});
    }
  });
  return found;
}
"""


def _wait_for_change(page, root, before: str) -> str | None:
    """The widget's new shown-hash, or None if it did not change within SETTLE_MS."""
    deadline = time.perf_counter() + SETTLE_MS / 1000
    while True:
        now = root.evaluate(SHOWN_JS)
        if now != before:
            return now
        if time.perf_counter() > deadline:
            return None
        page.wait_for_timeout(50)


class _Control:
    """One control of a widget and the positions the check visits: up to MAX_STEPS + 1 of them,
    starting where the control opens; a slider's positions are consecutive (one key press apart)."""

    def __init__(self, root, facts: dict, widget_index: int):
        self.locator = root.locator(f'[data-check-control="{facts["id"]}"]')
        self.kind = facts["kind"]
        self.where = f'widget #{widget_index + 1}, {self.kind} "{facts["name"]}"'
        if self.kind == "dropdown":
            start = facts["now"] if facts["now"] >= 0 else 0
            others = [i for i in range(facts["count"]) if i != start]
            self.positions = [start] + others[:MAX_STEPS]
            self.count = facts["count"]
        else:
            step = facts["step"] or 1
            start = int(round((facts["now"] - facts["min"]) / step))
            top = int(round((facts["max"] - facts["min"]) / step))
            if top > start:  # rightwards if it can, else leftwards
                self.positions = list(range(start, min(top, start + MAX_STEPS) + 1))
            else:
                self.positions = list(range(start, max(0, start - MAX_STEPS) - 1, -1))
            self.count = top + 1
        self.at = 0  # index into positions
        self.forward = True

    def move(self, page, to: int) -> str:
        """Go to positions[to] as a reader would; returns what was done, for the report."""
        old, new = self.positions[self.at], self.positions[to]
        self.at = to
        if self.kind == "dropdown":
            self.locator.select_option(index=new)
            return f"selecting option {new + 1}/{self.count}"
        key = "ArrowRight" if new > old else "ArrowLeft"
        self.locator.focus()
        page.keyboard.press(key)
        return f"moving it from position {old + 1} to {new + 1}/{self.count} ({key})"


def exercise_widget(page, index: int) -> tuple[list[str], int, int]:
    """Visit every combination of the widget's control positions, one move at a time; after each move
    the widget must show something else. (problems, controls, moves)

    The traversal is an odometer that sweeps back and forth (boustrophedon): the last control sweeps
    all its positions at every combination of the others, so a link missing in one branch of a
    nested Stack (say, the block slider of the third model's fifth user) is found too.
    """
    root = page.locator(f'[data-check-widget="{index}"]')
    root.scroll_into_view_if_needed()
    controls = [_Control(root, facts, index) for facts in root.evaluate(CONTROLS_JS)]
    controls = [c for c in controls if len(c.positions) > 1 or c.kind == "slider"]
    problems: list[str] = []
    moves = 0
    for c in controls:
        if len(c.positions) < 2:
            problems.append(f"{c.where}: the slider has a single position")
    controls = [c for c in controls if len(c.positions) > 1]
    shown = [root.evaluate(SHOWN_JS)]
    broken: set[int] = set()

    def sweep(level: int) -> bool:
        """Sweep control ``level`` across its positions, recursing inward; False once the budget is spent."""
        nonlocal moves
        if level == len(controls):
            return True
        if not sweep(level + 1):
            return False
        c = controls[level]
        order = range(1, len(c.positions)) if c.forward else range(len(c.positions) - 2, -1, -1)
        for to in order:
            if moves >= MAX_MOVES_PER_WIDGET:
                return False
            done = c.move(page, to)
            moves += 1
            changed = None if level in broken else _wait_for_change(page, root, shown[0])
            if changed is None and level not in broken:  # one report per control; its later moves go unchecked
                state = ", ".join(f"{o.where.split(', ', 1)[1]} at {o.positions[o.at] + 1}" for o in controls)
                problems.append(f"{c.where}: {done} did not change what the widget shows "
                                f"(state: {state}; is every stack of its level jslink-ed to it?)")
                broken.add(level)
            shown[0] = changed or root.evaluate(SHOWN_JS)
            if not sweep(level + 1):
                return False
        c.forward = not c.forward
        return True

    sweep(0)
    return problems, len(controls), moves


def exercise_widgets(page, require_slider: bool) -> tuple[list[str], str]:
    """Every control of every widget on the page must change its widget's view."""
    roots = page.evaluate(WIDGET_ROOTS_JS)
    problems, n_controls, n_interactions = [], 0, 0
    for index in roots:
        found, controls, interactions = exercise_widget(page, index)
        problems += found
        n_controls += controls
        n_interactions += interactions
    if require_slider and page.locator(".jupyter-widgets .noUi-handle, .jupyter-widgets input[type=range]").count() == 0:
        problems.append("no widget slider on the page (expected one: @slider-works)")
    return problems, f"controls={n_controls} steps={n_interactions}"


# Elements a reader sees that must fit the page: (kind, selector).
OVERFLOW_KINDS = [
    ("code input", "div.cell_input pre"),
    ("code block", "article div.highlight pre"),
    ("cell output", "div.cell_output > .output, div.cell_output pre, div.cell_output > div"),
    ("table", "table"),
    ("equation", 'mjx-container[display="true"], div.math'),
    ("widget", "div.cell_output .jupyter-widgets.widget-container"),
]

# Open collapsed cells (a reader can), then list every element of OVERFLOW_KINDS that is wider than
# the box it sits in: itself (it scrolls or clips), the nearest ancestor that clips or scrolls it, or
# the article column. Only the innermost offenders are reported (an output is wide because of its table).
OVERFLOW_JS = """
(kinds) => {
  document.querySelectorAll('details').forEach(d => d.open = true);
  const article = document.querySelector('article.bd-article, main, body');
  const column = article.getBoundingClientRect();
  const clips = (el) => ['auto', 'scroll', 'hidden', 'clip'].includes(getComputedStyle(el).overflowX);
  const bad = [];
  for (const [kind, selector] of kinds) {
    for (const el of document.querySelectorAll(selector)) {
      if (el.getClientRects().length === 0) continue;
      const rect = el.getBoundingClientRect();
      let reason = null;
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
        reason = `scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth}`;
      } else {
        let box = el.parentElement;
        while (box && box !== article && !clips(box)) box = box.parentElement;
        if (box && box !== article && box.scrollWidth > box.clientWidth + 1 &&
            rect.width > box.clientWidth + 1) {
          reason = `${Math.round(rect.width)} px wide in a ${box.clientWidth} px scroll box`;
        } else if (rect.right > column.right + 1 || rect.left < column.left - 1) {
          reason = `sticks out of the ${Math.round(column.width)} px article column ` +
                   `(${Math.round(rect.left - column.left)}..${Math.round(rect.right - column.left)} px)`;
        }
      }
      if (reason) bad.push({el, kind, reason});
    }
  }
  const inner = bad.filter(b => !bad.some(o => o !== b && b.el.contains(o.el)));
  const seen = new Set();
  return inner.filter(b => !seen.has(b.el) && seen.add(b.el)).map(b => ({
    kind: b.kind, reason: b.reason,
    snippet: b.el.textContent.replace(/\\s+/g, ' ').trim().slice(0, 70) ||
             (b.el.querySelector('img') ? 'image ' + (b.el.querySelector('img').alt || '') : '(no text)'),
  }));
}
"""


def overflowing(page) -> list[str]:
    """What does not fit the page at the current viewport."""
    return [f"overflow: {o['kind']} ({o['reason']}): {o['snippet']!r}"
            for o in page.evaluate(OVERFLOW_JS, OVERFLOW_KINDS)]


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
        if selector != SLIDER_CHECK and page.locator(selector).count() == 0:
            problems.append(f"expected selector matches nothing: {selector!r}")
    t_widgets = time.perf_counter()
    widget_problems, exercised = exercise_widgets(page, SLIDER_CHECK in selectors)
    problems += widget_problems
    t_overflow = time.perf_counter()
    overflows = overflowing(page)
    problems += overflows
    t_done = time.perf_counter()

    shot = shots / (page_rel[: -len(".html")].replace("/", "__") + ".png")
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    print(
        f"  {'FAIL' if problems else 'ok  '} {page_rel}: math={facts['mathCount']} "
        f"img={len(facts['images'])} widgets={facts['widgetCount']}/{facts['widgetViews']} {exercised} "
        f"overflows={len(overflows)} ({t_overflow - t_widgets:.1f} s controls, {t_done - t_overflow:.1f} s "
        f"overflow) -> {shot.relative_to(shots.parent)}"
    )
    return problems


# ------------------------------------------------------------------------------------ self-test
SELFTEST_DIR = "_selftest"


def _fixture_widget(unlink: bool):
    """Dropdown × slider over 2 × 3 pre-rendered pages (text, or an image only); optionally one link cut."""
    import ipywidgets as widgets

    sys.path.insert(0, str(REPO))
    from lessons_src.viz.static_widgets import linked_grid

    pixel = ["iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYGAAAAAEAAH2FzhVAAAAAElFTkSuQmCC",
             "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC",
             "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgaGAAAAGEAIHnAPGQAAAAAElFTkSuQmCC"]
    which = widgets.Dropdown(options=["text", "image"], description="kind")
    step = widgets.SelectionSlider(options=["a", "b", "c"], description="page")
    pages = {(0, j): f"<p>text page {j}</p>" for j in range(3)}
    pages.update({(1, j): f'<img src="data:image/png;base64,{pixel[j]}" width="40" alt="">' for j in range(3)})
    grid = linked_grid(pages, [which, step])
    if unlink:  # the slider no longer drives the image pages: what a forgotten jslink looks like
        from ipywidgets.widgets.widget import _instances
        from ipywidgets.widgets.widget_link import Link

        for link in [w for w in list(_instances.values()) if isinstance(w, Link)]:
            if link.source[0] is step and link.target[0] is grid.children[1]:
                link.close()
    return widgets.VBox([widgets.HBox([which, step]), grid])


def _fixture_page(template: str, body: str, widget=None) -> str:
    """A copy of a chapter page with ``body`` as its article and ``widget`` embedded (or none)."""
    import re

    start = template.index('<article class="bd-article">') + len('<article class="bd-article">')
    end = template.index("</article>")
    body = f'<section id="self-test"><h1>Self-test page</h1>{body}</section>'
    # the theme's scroll-spy looks up every in-page link of the side bars: point them at our section
    head, tail = (re.sub(r'href="#[^"]*"', 'href="#self-test"', part) for part in (template[:start], template[end:]))
    page = head + body + tail
    match = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">.*?</script>', page, re.S)
    state = ""
    if widget is not None:
        from ipywidgets.embed import embed_data

        data = embed_data(views=[widget])
        state = ('<script type="application/vnd.jupyter.widget-state+json">'
                 f'{json.dumps(data["manager_state"])}</script>')
        view = (f'<div class="cell_output docutils container"><script type="application/vnd.jupyter.widget-view'
                f'+json">{json.dumps(data["view_specs"][0])}</script></div>')
        page = page.replace("@WIDGET@", view)
    return page[:match.start()] + state + page[match.end():] if match else page


def self_test(html_dir: Path, chromium: str) -> int:
    """The widget and overflow checks pass a good page and catch an unlinked control and a wide cell."""
    from playwright.sync_api import sync_playwright

    chapters = sorted((html_dir / "notebooks").glob("*.html"))
    if not chapters:
        print(f"no chapter page in {html_dir}/notebooks to use as a template (run `make book`)", file=sys.stderr)
        return 2
    template = chapters[0].read_text()
    out = html_dir / SELFTEST_DIR
    out.mkdir(exist_ok=True)
    cell = '<div class="cell docutils container">@WIDGET@</div><img src="data:image/png;base64,' + \
           'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYGAAAAAEAAH2FzhVAAAAAElFTkSuQmCC" alt="">'
    wide_table = "<table>" + "<tr>" + "".join(f"<td style='white-space:nowrap'>column {i}</td>" for i in range(40)) \
                 + "</tr></table>"
    wide_text = "<pre style='white-space:pre'>" + " ".join(f"word{i}" for i in range(300)) + "</pre>"
    overflow_body = (f'<div class="cell docutils container"><div class="cell_output docutils container">'
                     f'<div class="output text_html">{wide_table}</div></div></div>'
                     f'<div class="cell docutils container"><div class="cell_output docutils container">'
                     f'<div style="overflow-x:auto"><div class="output stream">{wide_text}</div></div></div></div>'
                     + cell.replace("@WIDGET@", ""))
    (out / "linked.html").write_text(_fixture_page(template, cell, _fixture_widget(unlink=False)))
    (out / "unlinked.html").write_text(_fixture_page(template, cell, _fixture_widget(unlink=True)))
    (out / "overflow.html").write_text(_fixture_page(template, overflow_body))
    expected = {
        "linked.html": [],
        "unlinked.html": ['widget #1, slider "page": moving it'],
        "overflow.html": ["overflow: table", "overflow: cell output"],
    }
    shots = html_dir / "_screenshots"
    shots.mkdir(exist_ok=True)
    server, base = serve(html_dir)
    failed = False
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
            for name, wanted in expected.items():
                problems = check_page(context, base, f"{SELFTEST_DIR}/{name}", [], shots)
                problems = [p for p in problems if not p.startswith("overflow:") or "overflow" in name]
                slow = [p for p in problems if p.startswith("page did not finish rendering")]
                problems = [p for p in problems if p not in slow]  # a busy machine, not what is tested here
                for problem in slow:
                    print(f"      note: {problem}")
                missing = [w for w in wanted if not any(p.startswith(w) for p in problems)]
                extra = [p for p in problems if not any(p.startswith(w) for w in wanted)]
                for problem in problems:
                    print(f"      reported: {problem}")
                if missing or extra:
                    failed = True
                    print(f"  SELF-TEST FAILED {name}: missing {missing}, unexpected {extra}", file=sys.stderr)
            browser.close()
    finally:
        server.shutdown()
    print("Self-test failed." if failed else "Self-test passed: the checks catch an unlinked control and overflow.")
    return 1 if failed else 0


def solution_leaks(html_dir: Path, pages: list[str]) -> dict[str, list[str]]:
    """{page: problems} for chapter pages that carry a solution or rubric line of their notebook."""
    from lessons_src.course.editions import html_leaks

    found = {}
    for page_rel in pages:
        notebook = REPO / "book" / Path(page_rel).with_suffix(".ipynb")
        if page_rel.startswith("notebooks/") and notebook.is_file():
            leaked = html_leaks(json.loads(notebook.read_text(encoding="utf-8")),
                                (html_dir / page_rel).read_text(encoding="utf-8"))
            if leaked:
                found[page_rel] = [f"solution line in the page: {line!r}" for line in leaked]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html-dir", type=Path, default=REPO / "book" / "_build" / "html")
    parser.add_argument("--expectations", type=Path, default=Path(__file__).with_name("expectations.json"))
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--self-test", action="store_true",
                        help="show on hand-made pages that an unlinked control and an overflowing cell are caught")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    html_dir = args.html_dir.resolve()
    if not (html_dir / "intro.html").exists():
        print(f"no built book in {html_dir} (run `make book` first)", file=sys.stderr)
        return 2
    if not Path(args.chromium).exists():
        print(f"Chromium not found at {args.chromium} (apt-get install chromium)", file=sys.stderr)
        return 2
    if args.self_test:
        return self_test(html_dir, args.chromium)
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

    for page_rel, problems in solution_leaks(html_dir, pages).items():
        failures.setdefault(page_rel, []).extend(problems)

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
