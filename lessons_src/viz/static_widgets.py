"""Widgets that keep working in the HTML book, without a kernel.

A slider changes nothing on a static page if its effect is computed in Python. Here every state
is rendered in advance: the pages sit in an ``ipywidgets.Stack`` and the slider is tied to the
stack's ``selected_index`` with ``jslink``, which runs in the browser. The same widget works
unchanged in a live notebook. Pages are plain HTML (bar charts drawn with CSS: tiny and crisp)
or PNG images of matplotlib figures.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence

import numpy as np


def figure_png(fig, dpi: int = 80, colours: int | None = None) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed (it is not shown twice).

    ``colours`` (e.g. 64) stores a palette image of at most that many colours: a third of the bytes
    for heatmaps and line plots, which is what keeps a notebook of many pre-rendered pages small.
    """
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    if colours is None:
        return buffer.getvalue()
    from PIL import Image

    buffer.seek(0)
    palette = Image.open(buffer).convert("RGB").quantize(colors=colours, dither=Image.Dither.NONE)
    small = io.BytesIO()
    palette.save(small, format="PNG", optimize=True)
    return small.getvalue()


def png_tag(png: bytes, width: int, alt: str) -> str:
    """An inline <img> for PNG bytes."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" width="{width}" alt="{html.escape(alt)}"/>'


def html_bars(values: Sequence[float], labels: Sequence[str], title: str = "", highlight: int | None = None,
              vmax: float | None = None, fmt: str = "{:.3f}", height: int = 140, width: int = 42) -> str:
    """A vertical bar chart in HTML/CSS: one bar per value, its number above, its label below."""
    values = np.asarray(values, dtype=float)
    if len(values) != len(labels):
        raise ValueError(f"{len(values)} values but {len(labels)} labels")
    top = vmax if vmax is not None else max(float(values.max()), 1e-12)
    columns = []
    for i, (value, label) in enumerate(zip(values, labels)):
        colour = "#d95f02" if i == highlight else "#1b9e77"
        pixels = int(round(height * min(max(value, 0.0), top) / top))
        columns.append(
            '<div style="display:flex;flex-direction:column;align-items:center;justify-content:flex-end;'
            f'width:{width}px;height:{height + 40}px">'
            f'<span style="font-size:10px">{html.escape(fmt.format(value))}</span>'
            f'<div style="width:26px;height:{pixels}px;background:{colour}"></div>'
            f'<span style="font-size:12px;white-space:nowrap">{html.escape(str(label))}</span></div>'
        )
    heading = f'<div style="font-size:13px;margin-bottom:4px">{html.escape(title)}</div>' if title else ""
    return f'<div>{heading}<div style="display:flex;align-items:flex-end;gap:2px">{"".join(columns)}</div></div>'


def linked_stack(pages: Sequence, labels: Sequence[str], description: str, start: int = 0):
    """(slider, stack): the slider picks which page of the stack shows, in the browser (``jslink``).

    ``pages`` are widgets or HTML strings, ``labels`` name them (the slider shows the current one);
    both open on page ``start`` (the state the text discusses).
    """
    import ipywidgets as widgets

    if len(pages) != len(labels) or not pages:
        raise ValueError(f"need one label per page and at least one page, got {len(pages)} pages, {len(labels)} labels")
    if not 0 <= start < len(pages):
        raise ValueError(f"start must index one of the {len(pages)} pages, got {start}")
    children = [widgets.HTML(page) if isinstance(page, str) else page for page in pages]
    stack = widgets.Stack(children, selected_index=start)
    slider = widgets.SelectionSlider(options=[str(label) for label in labels], value=str(labels[start]),
                                     description=description, continuous_update=True,
                                     style={"description_width": "initial"})
    widgets.jslink((slider, "index"), (stack, "selected_index"))
    return slider, stack


def html_heatmap(matrix: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], title: str = "",
                 vmin: float = 0.0, vmax: float = 1.0, fmt: str = "{:.2f}", cell: int = 34) -> str:
    """A heatmap as an HTML table: white (vmin) to dark blue (vmax), the value in each cell."""
    matrix = np.asarray(matrix, dtype=float)
    if matrix.shape != (len(row_labels), len(col_labels)):
        raise ValueError(f"matrix {matrix.shape} does not match {len(row_labels)} row and {len(col_labels)} column labels")
    span = max(vmax - vmin, 1e-12)
    head = "".join(f'<th style="font-size:11px;min-width:{cell}px;white-space:nowrap">{html.escape(str(c))}</th>'
                   for c in col_labels)
    rows = []
    for label, values in zip(row_labels, matrix):
        cells = []
        for value in values:
            level = min(max((value - vmin) / span, 0.0), 1.0)
            red, green, blue = (int(255 - level * (255 - c)) for c in (8, 48, 107))  # white → #08306b
            ink = "white" if level > 0.55 else "black"
            cells.append(f'<td style="background:rgb({red},{green},{blue});color:{ink};font-size:10px;'
                         f'text-align:center;min-width:{cell}px;height:18px;padding:0 2px">'
                         f'{html.escape(fmt.format(value))}</td>')
        rows.append(f'<tr><th style="font-size:11px;text-align:right;padding-right:4px;white-space:nowrap">'
                    f'{html.escape(str(label))}</th>'
                    f'{"".join(cells)}</tr>')
    heading = f'<div style="font-size:13px;margin-bottom:4px">{html.escape(title)}</div>' if title else ""
    return (f'<div>{heading}<table style="border-collapse:collapse"><tr><th></th>{head}</tr>'
            f'{"".join(rows)}</table></div>')


def array_png(image: np.ndarray, scale: int = 3) -> bytes:
    """A greyscale array in [0, 1] (H, W) as PNG bytes, each pixel a ``scale``×``scale`` block; no figure."""
    import matplotlib.pyplot as plt

    big = np.kron(np.clip(np.asarray(image, dtype=float), 0, 1), np.ones((scale, scale)))
    buffer = io.BytesIO()
    plt.imsave(buffer, big, cmap="gray_r", vmin=0, vmax=1, format="png")
    return buffer.getvalue()


def linked_grid(pages_by_key: dict, controls: Sequence):
    """A nested ``Stack`` showing ``pages_by_key[(i, j, …)]`` where i, j, … are the controls' indices.

    ``controls`` are selection widgets (Dropdown, SelectionSlider, …), one per level of the key,
    outermost first; level ``d`` has ``len(controls[d].options)`` pages. Each control is ``jslink``-ed
    to the ``selected_index`` of every stack of its level, so the browser alone picks the page
    (``jslink`` copies one value; the nesting turns several values into one page). Pages are
    widgets or HTML strings; every key of the full grid must be present. Returns the outer stack.
    """
    import itertools

    import ipywidgets as widgets

    sizes = [len(control.options) for control in controls]
    expected = set(itertools.product(*(range(n) for n in sizes)))
    if not controls or set(pages_by_key) != expected:
        raise ValueError(f"need one page per key of the {' × '.join(map(str, sizes)) or 'empty'} grid, "
                         f"got {len(pages_by_key)} pages")

    def build(prefix: tuple):
        level = len(prefix)
        if level == len(controls):
            page = pages_by_key[prefix]
            return widgets.HTML(page) if isinstance(page, str) else page
        control = controls[level]
        index = control.index if control.index is not None else 0
        stack = widgets.Stack([build(prefix + (i,)) for i in range(sizes[level])], selected_index=index)
        widgets.jslink((control, "index"), (stack, "selected_index"))
        return stack

    return build(())
