# Run: .venv/bin/python tools/diagrams.py [NAME ...]   (writes the architecture diagrams to book/images/*.svg;
#      a NAME, e.g. mgnm or mgnm_architecture.svg, draws that figure only)
"""Architecture diagrams of the book's models, drawn with matplotlib only, written as static SVG.

One function per figure, each drawing what the code in ``lessons_src`` computes (not a generic
textbook version): the authors' SASRec block, this book's α convention for distillation, the
CapsNet sizes of ``CapsNetConfig``, the interest model's hard readout and full softmax, MM-Rec's
co-attention over the book's frozen MiniLM and concept-CNN inputs with every padding mask, MGNM's
user-aware item graph, multi-level GCN and time-ordered routing, PMGT's hop-weighted context sampling,
modality gate, diversity attention and two pre-training losses, with the public code's switches noted.

Coordinates are in points (1/72 inch), y pointing down, so a font size and a distance are in the same
unit. Every figure is 7.5 inches wide: shown at the book's column width (≈ 720–750 px) one point is
about one CSS point, so the 10 pt minimum font size stays ≥ 10 pt on screen. Text is converted to
paths (``svg.fonttype = "path"``): the SVG looks the same in every browser, whatever fonts it has.

The script checks its own layout before writing: every label must fit inside its box, no two labels
may overlap, and no arrow may run through a label. Re-running it writes byte-identical files
(fixed ``svg.hashsalt``, no date in the metadata).
"""

from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "book" / "images"
WIDTH = 540.0  # points: 7.5 inches

plt.rcParams.update({
    "svg.fonttype": "path",  # glyphs as paths: identical rendering everywhere
    "svg.hashsalt": "lessons-src-diagrams",  # deterministic ids in the SVG
    "font.family": "DejaVu Sans",
    "mathtext.fontset": "dejavusans",
    "font.size": 10.5,
    "path.simplify": False,
})

INK = "#1f2328"  # text and arrows
MUTED = "#4d5561"  # secondary text (notes)
FRAME = "#8c959f"  # grouping frames

# One colour per kind of operation, the same in every figure: (fill, edge, legend label).
KINDS = {
    "data": ("#e1ecf8", "#3d6fa8", "inputs, embeddings, vectors"),
    "linear": ("#e0f1dc", "#3f8a3a", "learned map"),
    "norm": ("#fff3c4", "#b08a00", "normalisation"),
    "mix": ("#fde1d3", "#c4552a", "mixing: attention, routing"),
    "mask": ("#ececec", "#767676", "mask, dropout"),
    "loss": ("#ebe3f6", "#6b4ca0", "score, loss"),
}

FS = 10.5  # box text
FS_SMALL = 10.0  # notes, arrow labels: the smallest size used
FS_TITLE = 11.5


@dataclass
class Box:
    """A box's geometry: centre (cx, cy), width w and height h, in points (y down)."""

    cx: float
    cy: float
    w: float
    h: float

    @property
    def left(self):
        return (self.cx - self.w / 2, self.cy)

    @property
    def right(self):
        return (self.cx + self.w / 2, self.cy)

    @property
    def top(self):
        return (self.cx, self.cy - self.h / 2)

    @property
    def bottom(self):
        return (self.cx, self.cy + self.h / 2)

    @property
    def x0(self):
        return self.cx - self.w / 2

    @property
    def x1(self):
        return self.cx + self.w / 2

    @property
    def y0(self):
        return self.cy - self.h / 2

    @property
    def y1(self):
        return self.cy + self.h / 2

    def at(self, fx: float, fy: float):
        """The point at fractions (fx, fy) of the width and height from the top-left corner."""
        return (self.x0 + fx * self.w, self.y0 + fy * self.h)


@dataclass
class Diagram:
    """A figure whose axes are points, y down, with the layout checks of the module docstring."""

    height: float
    width: float = WIDTH
    boxes: list = field(default_factory=list)  # (Box, [texts inside it]) obstacles for free text
    free_texts: list = field(default_factory=list)  # texts that must not touch boxes or other texts
    arrows: list = field(default_factory=list)  # point lists, that must not run through any text

    def __post_init__(self):
        self.fig = plt.figure(figsize=(self.width / 72, self.height / 72), dpi=72)
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, self.width)
        self.ax.set_ylim(self.height, 0)
        self.ax.axis("off")

    # -- primitives -------------------------------------------------------------------------------

    def text(self, x, y, s, size=FS_SMALL, color=MUTED, ha="left", va="center", free=True, **kw):
        t = self.ax.text(x, y, s, fontsize=size, color=color, ha=ha, va=va, zorder=5, **kw)
        if free:
            self.free_texts.append(t)
        return t

    def box(self, cx, cy, w, h, text="", kind="data", size=FS, weight="normal", linestyle="-",
            linespacing=1.35, rounding=4.0, textcolor=INK):
        fill, edge, _ = KINDS[kind]
        patch = FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle=f"round,pad=0,rounding_size={rounding}",
                               facecolor=fill, edgecolor=edge, linewidth=1.1, linestyle=linestyle, zorder=2)
        self.ax.add_patch(patch)
        b = Box(cx, cy, w, h)
        texts = []
        if text:
            texts.append(self.ax.text(cx, cy, text, fontsize=size, color=textcolor, ha="center", va="center",
                                      weight=weight, linespacing=linespacing, zorder=5))
        self.boxes.append((b, texts))
        return b

    def cell(self, x0, y0, w, h, text="", fill="white", edge="#c8ccd0", size=FS_SMALL, color=INK,
             weight="normal", lw=0.6):
        """A square-cornered cell of a matrix or a list, from its top-left corner; its text must fit it."""
        self.ax.add_patch(Rectangle((x0, y0), w, h, facecolor=fill, edgecolor=edge, linewidth=lw, zorder=2))
        b = Box(x0 + w / 2, y0 + h / 2, w, h)
        texts = []
        if text:
            texts.append(self.ax.text(b.cx, b.cy, text, fontsize=size, color=color, ha="center", va="center",
                                      weight=weight, zorder=5))
        self.boxes.append((b, texts))
        return b

    def outline(self, x0, y0, x1, y1, color, lw=1.6, dashed=False):
        """A highlight drawn around a group of cells (no obstacle of its own: the cells are)."""
        self.ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor="none", edgecolor=color, linewidth=lw,
                                    linestyle=(0, (3, 2)) if dashed else "-", zorder=3.5))

    def obstacle(self, x0, y0, x1, y1):
        """A drawn region (grid, glyph) that free text must keep clear of."""
        self.boxes.append((Box((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), []))

    def node(self, cx, cy, symbol="+", r=7.0, edge=INK):
        """A small circle with an operator in it (⊕ for a residual sum, × for a product)."""
        self.ax.add_patch(Circle((cx, cy), r, facecolor="white", edgecolor=edge, linewidth=1.2, zorder=3))
        if symbol == "+":
            self.ax.plot([cx - r * 0.55, cx + r * 0.55], [cy, cy], color=edge, lw=1.3, zorder=4)
            self.ax.plot([cx, cx], [cy - r * 0.55, cy + r * 0.55], color=edge, lw=1.3, zorder=4)
        elif symbol == "x":
            d = r * 0.4
            self.ax.plot([cx - d, cx + d], [cy - d, cy + d], color=edge, lw=1.3, zorder=4)
            self.ax.plot([cx - d, cx + d], [cy + d, cy - d], color=edge, lw=1.3, zorder=4)
        self.boxes.append((Box(cx, cy, 2 * r, 2 * r), []))
        return Box(cx, cy, 2 * r, 2 * r)

    def arrow(self, *points, color=INK, lw=1.1, dashed=False, head=True, check=True):
        """A polyline from the first point to the last, with an arrow head at the last."""
        points = [tuple(map(float, p)) for p in points]
        if check:
            self.arrows.append(points)
        if dashed and head:  # a dashed line, then a solid head: a dash pattern would cut the head up
            (xa, ya), (xb, yb) = points[-2], points[-1]
            length = math.hypot(xb - xa, yb - ya)
            tip = 8.0 / length
            self.arrow(*points[:-1], (xb - (xb - xa) * tip, yb - (yb - ya) * tip), color=color, lw=lw,
                       dashed=True, head=False, check=False)
            return self.arrow((xb - (xb - xa) * tip, yb - (yb - ya) * tip), (xb, yb), color=color, lw=lw,
                              check=False)
        path = MplPath(points, [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1))
        style = "-|>,head_length=0.45,head_width=0.2" if head else "-"
        patch = FancyArrowPatch(path=path, arrowstyle=style, mutation_scale=14, color=color, linewidth=lw,
                                linestyle=(0, (4, 2.5)) if dashed else "-", joinstyle="miter",
                                capstyle="butt", zorder=1.5)
        self.ax.add_patch(patch)
        return patch

    def line(self, *points, **kw):
        return self.arrow(*points, head=False, **kw)

    def dot(self, x, y, color=INK):
        self.ax.add_patch(Circle((x, y), 2.2, facecolor=color, edgecolor="none", zorder=4))

    def frame(self, x0, y0, x1, y1, label=None, label_size=FS, color=FRAME, dashed=True, fill="none"):
        """A rounded grouping frame (a block, a panel), its label inside the top-left corner."""
        patch = FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=6",
                               facecolor=fill, edgecolor=color, linewidth=1.0,
                               linestyle=(0, (5, 3)) if dashed else "-", zorder=0.5)
        self.ax.add_patch(patch)
        if label:
            self.text(x0 + 7, y0 + 10, label, size=label_size, color=INK, weight="bold")

    def legend(self, x, y, entries, columns=1, row=16.0, size=FS_SMALL, title="colours"):
        """Swatches for ``entries`` [(kind, label)] from (x, y) (top-left): one column, or one row if columns > 1."""
        if title:
            self.text(x, y, title, size=FS, color=INK, weight="bold")
            y += row + 2
        renderer = self.fig.canvas.get_renderer()
        sx, sy = x, y
        for n, (kind, label) in enumerate(entries):
            fill, edge, _ = KINDS[kind]
            self.ax.add_patch(FancyBboxPatch((sx, sy - 5), 16, 10, boxstyle="round,pad=0,rounding_size=2",
                                             facecolor=fill, edgecolor=edge, linewidth=1.0, zorder=2))
            t = self.text(sx + 22, sy, label, size=size, color=INK)
            if columns > 1:  # the next entry after this label, 20 pt on
                x0, _, x1, _ = self._extent(t, renderer)
                sx = x1 + 20
            else:
                sy += row

    # -- checks and output ------------------------------------------------------------------------

    def _extent(self, artist, renderer):
        bbox = artist.get_window_extent(renderer).transformed(self.ax.transData.inverted())
        return min(bbox.x0, bbox.x1), min(bbox.y0, bbox.y1), max(bbox.x0, bbox.x1), max(bbox.y0, bbox.y1)

    def check(self, name: str) -> list[str]:
        """Layout problems: text outside its box, overlapping texts, arrows through text, off the page."""
        self.fig.canvas.draw()
        renderer = self.fig.canvas.get_renderer()
        problems = []
        labelled = []  # (extent, description)
        for b, texts in self.boxes:
            for t in texts:
                x0, y0, x1, y1 = e = self._extent(t, renderer)
                if x0 < b.x0 + 2 or x1 > b.x1 - 2 or y0 < b.y0 + 1 or y1 > b.y1 - 1:
                    problems.append(f"{name}: {t.get_text()!r} does not fit its box "
                                    f"({x1 - x0:.0f}×{y1 - y0:.0f} in {b.w:.0f}×{b.h:.0f})")
                labelled.append((e, t.get_text()))
        for t in self.free_texts:
            e = self._extent(t, renderer)
            labelled.append((e, t.get_text()))
            for b, _ in self.boxes:
                if _overlap(e, (b.x0, b.y0, b.x1, b.y1), margin=-0.5):
                    problems.append(f"{name}: free text {t.get_text()!r} touches a box at ({b.cx:.0f}, {b.cy:.0f})")
        for (e1, s1), (e2, s2) in itertools.combinations(labelled, 2):
            if _overlap(e1, e2, margin=-0.5):
                problems.append(f"{name}: texts overlap: {s1!r} and {s2!r}")
        for e, s in labelled:
            if e[0] < 1 or e[1] < 1 or e[2] > self.width - 1 or e[3] > self.height - 1:
                problems.append(f"{name}: {s!r} leaves the page")
        for points in self.arrows:
            for (xa, ya), (xb, yb) in zip(points, points[1:]):
                n = max(2, int(math.hypot(xb - xa, yb - ya)))
                hit = next((s for e, s in labelled for k in range(n + 1)
                            if _inside(xa + (xb - xa) * k / n, ya + (yb - ya) * k / n, e, margin=1.0)), None)
                if hit is not None:
                    problems.append(f"{name}: an arrow from ({xa:.0f}, {ya:.0f}) to ({xb:.0f}, {yb:.0f}) "
                                    f"crosses {hit!r}")
        return problems

    def save(self, name: str) -> list[str]:
        problems = self.check(name)
        OUT.mkdir(parents=True, exist_ok=True)
        self.fig.savefig(OUT / name, format="svg", metadata={"Date": None, "Creator": None}, transparent=False,
                         facecolor="white")
        plt.close(self.fig)
        return problems


def _overlap(a, b, margin=0.0):
    return a[0] < b[2] + margin and b[0] < a[2] + margin and a[1] < b[3] + margin and b[1] < a[3] + margin


def _inside(x, y, e, margin=0.0):
    return e[0] + margin < x < e[2] - margin and e[1] + margin < y < e[3] - margin


# ---------------------------------------------------------------------------------------------------
# 1. SASRec (lessons_src/sasrec/model.py, block_layout="official")


def sasrec() -> Diagram:
    d = Diagram(height=640)
    cx = 178.0  # the main column
    main_w = 216.0
    kv_x = 30.0  # the un-normalised x, on its way to the keys and values
    res_x = 306.0  # residual bypasses

    # input: a left-padded history
    tokens = ["0", "0", "$s_1$", "$s_2$", "$s_3$", "$s_4$"]
    tw, gap = 24.0, 3.0
    t0 = cx - (len(tokens) * tw + (len(tokens) - 1) * gap) / 2
    for n, tok in enumerate(tokens):
        d.box(t0 + n * (tw + gap) + tw / 2, 24, tw, 20, tok, kind="mask" if tok == "0" else "data", rounding=2)
    d.text(t0 - 8, 24, "seq", ha="right", color=INK)
    d.text(t0 + len(tokens) * (tw + gap) + 4, 24, "left-padded history\n(0 = padding)")

    item = d.box(cx - 56, 74, 106, 36, "item embedding\n$\\sqrt{d}\\cdot \\mathbf{M}[s_t]$", "data")
    pos = d.box(cx + 56, 74, 106, 36, "learned position\nembedding $\\mathbf{P}_{L-1-t}$", "data")
    d.arrow((item.cx, 34), item.top)
    add0 = d.node(cx, 114)
    d.arrow(item.bottom, (item.cx, 114), add0.left)
    d.arrow(pos.bottom, (pos.cx, 114), add0.right)
    drop = d.box(cx, 144, 236, 22, "Dropout, $\\times\\, \\mathbf{1}[s_t \\neq 0]$ (timeline mask)", "mask")
    d.arrow(add0.bottom, drop.top)
    d.text(350, 86, "book settings: $d = 50$, $L = 50$,\n1 head; dropout 0.5 on the\n"
           "embeddings, on the attention\nweights and inside the FFN")

    # one block, drawn once inside a frame: the authors' layout (no W_O, keys/values un-normalised)
    d.frame(14, 166, 328, 474, "block  × 2")
    d.text(322, 177, "the authors' TF layout", ha="right")
    ln1 = d.box(cx, 206, 140, 22, "LayerNorm", "norm")
    d.arrow(drop.bottom, ln1.top)
    d.dot(cx, 188)
    d.text(cx + 6, 188, "$\\mathbf{x}$", size=FS, color=INK)
    attn = d.box(cx, 280, main_w, 42, "causal self-attention, no $\\mathbf{W}^O$\n"
                 "$\\mathrm{softmax}(\\mathbf{Q}\\mathbf{K}^{\\top}/\\sqrt{d_h} + \\mathbf{B})\\,\\mathbf{V}$", "mix")
    d.line((cx, 188), (kv_x, 188), (kv_x, attn.cy))
    d.arrow((kv_x, attn.cy), attn.left)
    d.text(kv_x + 5, 239, "$\\mathbf{K} = \\mathbf{x}\\mathbf{W}^K,\\ \\mathbf{V} = \\mathbf{x}\\mathbf{W}^V$"
           "\n(un-normalised $\\mathbf{x}$)")
    d.dot(cx, 230)
    d.text(cx + 6, 224, "$\\mathbf{z}$", size=FS, color=INK)
    d.arrow(ln1.bottom, attn.top)
    d.text(cx + 6, 244, "$\\mathbf{Q} = \\mathbf{z}\\mathbf{W}^Q$")
    add1 = d.node(cx, 322)
    d.arrow(attn.bottom, add1.top)
    d.line((cx, 230), (res_x, 230), (res_x, add1.cy))
    d.arrow((res_x, add1.cy), add1.right)
    d.text(res_x - 5, 310, "residual $+\\,\\mathbf{z}$", ha="right")
    ln2 = d.box(cx, 350, 140, 22, "LayerNorm′", "norm")
    d.arrow(add1.bottom, ln2.top)
    ffn = d.box(cx, 400, main_w, 38, "point-wise feed-forward, per position\n"
                "$\\mathrm{ReLU}(\\mathbf{x}\\mathbf{W}^{(1)} + \\mathbf{b}^{(1)})\\,"
                "\\mathbf{W}^{(2)} + \\mathbf{b}^{(2)}$", "linear")
    d.dot(cx, 371)
    d.arrow(ln2.bottom, ffn.top)
    add2 = d.node(cx, 438)
    d.arrow(ffn.bottom, add2.top)
    d.line((cx, 371), (res_x, 371), (res_x, add2.cy))
    d.arrow((res_x, add2.cy), add2.right)
    d.text(res_x - 5, 426, "residual", ha="right")
    mask = d.box(cx, 460, 120, 18, "$\\times\\, \\mathbf{1}[s_t \\neq 0]$", "mask", size=FS_SMALL)
    d.arrow(add2.bottom, mask.top)

    final = d.box(cx, 498, 180, 22, "final LayerNorm  →  $\\mathbf{F}_t$", "norm")
    d.arrow(mask.bottom, final.top)
    pos_score = d.box(cx - 58, 550, 112, 38, "$r^{+} = \\mathbf{F}_t \\cdot \\mathbf{M}[o_t]$\nnext item $o_t$", "loss")
    neg_score = d.box(cx + 58, 550, 112, 38, "$r^{-} = \\mathbf{F}_t \\cdot \\mathbf{M}[j_t]$\nsampled negative $j_t$",
                      "loss")
    d.dot(cx, 520)
    d.line(final.bottom, (cx, 520))
    d.arrow((cx, 520), (pos_score.cx, 520), pos_score.top)
    d.arrow((cx, 520), (neg_score.cx, 520), neg_score.top)
    loss = d.box(cx, 610, 270, 38, "binary cross-entropy, positions with $o_t \\neq 0$\n"
                 "$-\\log\\sigma(r^{+}) - \\log(1 - \\sigma(r^{-}))$", "loss")
    d.arrow(pos_score.bottom, (pos_score.cx, loss.y0))
    d.arrow(neg_score.bottom, (neg_score.cx, loss.y0))
    # the item table M scores the outputs too
    blue = KINDS["data"][1]
    d.arrow(item.left, (6, item.cy), (6, pos_score.cy), pos_score.left, dashed=True, color=blue)
    d.text(11, 508, "the same $\\mathbf{M}$", color=blue)

    # right column: the attention mask B for L = 6, two padded positions
    gx, cell = 372.0, 14.0
    labels = ["0", "0", "$s_1$", "$s_2$", "$s_3$", "$s_4$"]
    d.text(350, 190, "attention mask $\\mathbf{B}$", size=FS, color=INK, weight="bold")

    def grid(y0, title, allowed, note):
        d.text(350, y0 - 26, title, size=FS, color=INK)
        for i in range(6):
            for j in range(6):
                ok = allowed(i, j)
                d.ax.add_patch(Rectangle((gx + j * cell, y0 + i * cell), cell, cell, zorder=2,
                                         facecolor=KINDS["mix"][0] if ok else "white",
                                         edgecolor=KINDS["mix"][1] if ok else "#c8ccd0", linewidth=0.6))
        d.obstacle(gx, y0, gx + 6 * cell, y0 + 6 * cell)
        for k, lab in enumerate(labels):
            d.text(gx + k * cell + cell / 2, y0 - 8, lab, ha="center")
            d.text(gx - 4, y0 + k * cell + cell / 2, lab, ha="right")
        d.text(gx + 6 * cell + 7, y0 + 3 * cell, note)

    grid(238, "causal", lambda i, j: j <= i, "row $i$: query\ncolumn $j$: key\nallowed if\n$j \\leq i$")
    grid(366, "and padded keys", lambda i, j: (j <= i and j >= 2) or i == j,
         "padded keys\nblocked; a\npadded row\nkeeps itself\n(zeroed later)")
    for n, (fill, edge, label) in enumerate([(KINDS["mix"][0], KINDS["mix"][1], "$B_{ij} = 0$: may attend"),
                                             ("white", "#c8ccd0", "$B_{ij} = -\\infty$: blocked")]):
        d.ax.add_patch(Rectangle((350, 460 + 16 * n), 12, 10, facecolor=fill, edgecolor=edge, linewidth=0.6,
                                 zorder=2))
        d.text(367, 465 + 16 * n, label)
    d.legend(350, 522, [("data", "input, embedding"), ("norm", "LayerNorm"), ("mix", "self-attention"),
                        ("linear", "feed-forward"), ("mask", "mask, dropout"), ("loss", "score, loss")])
    return d


def bars(d: Diagram, x0, y1, w, h, values, highlight=None, kind="norm"):
    """A tiny bar chart (a distribution over classes) with its base at y1, inside a (w × h) area."""
    fill, edge, _ = KINDS[kind]
    n = len(values)
    step = w / n
    top = max(values)
    for k, v in enumerate(values):
        bh = max(0.8, h * v / top)
        strong = k == highlight
        d.ax.add_patch(Rectangle((x0 + k * step + 0.6, y1 - bh), step - 1.2, bh, zorder=2, linewidth=0.5,
                                 facecolor=edge if strong else fill, edgecolor=edge))
    d.ax.plot([x0, x0 + w], [y1, y1], color=MUTED, lw=0.8, zorder=2)
    d.obstacle(x0, y1 - h, x0 + w, y1)


# ---------------------------------------------------------------------------------------------------
# 2. Distillation (lessons_src/distill/losses.py and ranking.py)


def distillation() -> Diagram:
    d = Diagram(height=530)
    # soft targets of a "2" at a high temperature, the student's, its T = 1 prediction and the label
    soft_p = [0.07, 0.05, 0.30, 0.16, 0.04, 0.05, 0.06, 0.13, 0.09, 0.05]
    soft_q = [0.09, 0.07, 0.24, 0.11, 0.07, 0.08, 0.08, 0.09, 0.10, 0.07]
    sharp_q = [0.01, 0.01, 0.80, 0.08, 0.0, 0.0, 0.01, 0.07, 0.02, 0.0]
    onehot = [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]

    d.text(8, 14, "(a) Knowledge distillation (Hinton, Vinyals & Dean 2015)", size=FS_TITLE, color=INK,
           weight="bold")
    ty, sy, hy = 58.0, 128.0, 196.0  # teacher, student and hard-label rows
    image = d.box(32, (ty + sy) / 2, 48, 36, "image\n$\\mathbf{x}$", "data")
    teacher = d.box(124, ty, 112, 44, "teacher\n784-1200-1200-10\nfrozen", "linear", linespacing=1.2)
    student = d.box(124, sy, 112, 44, "student\n784-800-800-10", "linear")
    d.arrow(image.top, (image.cx, ty), teacher.left)
    d.arrow(image.bottom, (image.cx, sy), student.left)
    soft_t = d.box(240, ty, 84, 24, "softmax($\\mathbf{v}/T$)", "norm")
    soft_s = d.box(240, sy, 84, 24, "softmax($\\mathbf{z}/T$)", "norm")
    d.arrow(teacher.right, soft_t.left, dashed=True)
    d.text(184, ty - 9, "$\\mathbf{v}$", size=FS, color=INK)
    d.arrow(student.right, soft_s.left)
    d.text(184, sy - 9, "$\\mathbf{z}$", size=FS, color=INK)
    bx, bw, bh = 296.0, 50.0, 26.0
    bars(d, bx, ty + 10, bw, bh, soft_p, highlight=2)
    d.text(bx + bw / 2, ty - 24, "soft targets $\\mathbf{p}^T$", ha="center", color=INK)
    bars(d, bx, sy + 10, bw, bh, soft_q, highlight=2)
    d.text(bx + bw / 2, sy - 24, "$\\mathbf{q}^T$", ha="center", color=INK)
    d.line(soft_t.right, (bx - 4, ty))
    d.line(soft_s.right, (bx - 4, sy))
    kl = d.box(428, (ty + sy) / 2, 120, 40, "soft term\n$T^2\\cdot\\mathrm{KL}(\\mathbf{p}^T \\,\\|\\, \\mathbf{q}^T)$",
               "loss")
    d.arrow((bx + bw + 4, ty), (kl.cx, ty), kl.top)
    d.arrow((bx + bw + 4, sy), (kl.cx, sy), kl.bottom)
    # hard term: the student's ordinary softmax against the label
    d.dot(184, sy)
    soft_1 = d.box(240, hy - 8, 84, 24, "softmax($\\mathbf{z}$)", "norm")
    d.arrow((184, sy), (184, soft_1.cy), soft_1.left)
    d.text(198, hy + 14, "$T = 1$", color=INK)
    bars(d, bx, hy + 2, bw, bh, sharp_q, highlight=2)
    d.line(soft_1.right, (bx - 4, soft_1.cy))
    d.text(bx + bw + 8, hy - 20, "$\\mathbf{q}$", color=INK)
    bars(d, bx, hy + 34, bw, bh - 8, onehot, highlight=2, kind="data")
    d.text(bx - 6, hy + 26, "label $y$", ha="right", color=INK)
    ce = d.box(428, hy + 8, 120, 40, "hard term\n$\\mathrm{CE}(y, \\mathbf{q})$", "loss")
    d.arrow((bx + bw + 4, soft_1.cy), (ce.x0, soft_1.cy))
    d.arrow((bx + bw + 4, hy + 24), (ce.x0, hy + 24))
    total = d.box(402, 268, 264, 26, "$\\alpha\\, T^2\\,\\mathrm{KL}(\\mathbf{p}^T \\| \\mathbf{q}^T)"
                  " + (1-\\alpha)\\,\\mathrm{CE}(y, \\mathbf{q})$", "loss")
    d.arrow(ce.bottom, (ce.cx, total.y0))
    d.text(ce.cx + 6, (ce.y1 + total.y0) / 2, "$\\times\\,(1 - \\alpha)$", color=INK)
    d.arrow(kl.right, (524, kl.cy), (524, total.y0))
    d.text(518, 160, "$\\times\\,\\alpha$", color=INK, ha="right")
    d.text(8, 262, "dashed: no gradient (the teacher's\nlogits are detached); at test the\nstudent runs at $T = 1$;"
           " §2.4 uses\n$T = 20$, $\\alpha = 0.9$", va="center")

    # (b) ranking distillation
    top = 312.0
    d.text(8, top, "(b) Ranking distillation (Tang & Wang 2018), as in ranking.py", size=FS_TITLE,
           color=INK, weight="bold")
    ry, sy2 = top + 44, top + 138
    hist = d.box(38, (ry + sy2) / 2, 60, 38, "history\n$s_1 \\ldots s_t$", "data")
    t2 = d.box(134, ry, 104, 38, "teacher SASRec\n$d = 50$, frozen", "linear")
    s2 = d.box(134, sy2, 104, 38, "student SASRec\n$d = 16$", "linear")
    d.arrow(hist.top, (hist.cx, ry), t2.left)
    d.arrow(hist.bottom, (hist.cx, sy2), s2.left)
    rank = d.box(262, ry, 118, 38, "rank all items, drop\nthe user's history", "loss")
    d.arrow(t2.right, rank.left, dashed=True)
    # the teacher's top-K list with its position weights
    lx, lw, k = 340.0, 16.0, 5
    for r in range(k):
        d.box(lx + r * (lw + 2) + lw / 2, ry, lw, 18, "", "data", rounding=2)
    d.text(lx - 2, ry - 20, "top-$K$ items $\\pi_1 \\ldots \\pi_K$", color=INK)
    weights = [math.exp(-(r + 1) / 5.0) for r in range(k)]
    base_y = ry + 36
    for r, w in enumerate(weights):
        bh2 = 20 * w / weights[0]
        d.ax.add_patch(Rectangle((lx + r * (lw + 2) + 3, base_y - bh2), lw - 6, bh2, facecolor=KINDS["loss"][0],
                                 edgecolor=KINDS["loss"][1], linewidth=0.6, zorder=2))
    d.ax.plot([lx, lx + k * (lw + 2) - 2], [base_y, base_y], color=MUTED, lw=0.8, zorder=2)
    d.obstacle(lx, base_y - 20, lx + k * (lw + 2), base_y)
    d.text(lx + k * (lw + 2) + 2, base_y - 8, "$w_r$", color=INK)
    d.arrow(rank.right, (lx - 3, ry))
    d.text(452, ry - 2, "$K = 10$\n$w_r \\propto e^{-r/\\lambda}$, $\\lambda = 5$\n(hybrid: $\\times$\ndiscrepancy)",
           va="center")
    d.text(88, ry + 33, "teacher's lists: computed once,\nbefore training", va="center")
    score = d.box(262, sy2, 118, 52, "student scores\n$\\hat y_i = \\mathbf{F}_t\\cdot\\mathbf{M}_i$ for\n"
                  "$i \\in \\{o_t, j_t, \\pi_1 \\ldots \\pi_K\\}$", "loss", linespacing=1.25)
    d.arrow(s2.right, score.left)
    rd = d.box(388, sy2 - 28, 112, 40, "ranking term $\\mathcal{L}_{RD}$\n"
               "$-\\Sigma_r\\, w_r \\log\\sigma(\\hat y_{\\pi_r})$", "loss")
    base = d.box(388, sy2 + 28, 112, 40, "$\\mathcal{L}_{\\mathrm{SASRec}}$: BCE,\n$o_t$ against $j_t$", "loss")
    d.dot(326, score.cy)
    d.line(score.right, (326, score.cy))
    d.arrow((326, score.cy), (326, rd.cy), rd.left)
    d.arrow((326, score.cy), (326, base.cy), base.left)
    d.arrow((lx + 9, base_y + 2), (lx + 9, ry + 50), (score.cx, ry + 50), score.top)
    d.text(300, ry + 42, "$\\pi_r$", color=INK)
    d.arrow((rd.cx + 20, base_y + 2), (rd.cx + 20, rd.y0))
    total2 = d.box(495, sy2, 82, 96, "total\n$\\mathcal{L}_{\\mathrm{SASRec}}$\n"
                   "$+\\,\\lambda_{RD}\\,\\mathcal{L}_{RD}$\n"
                   "$\\lambda_{RD} = 0.5$", "loss", linespacing=1.5)
    d.arrow(rd.right, (total2.x0, rd.cy))
    d.arrow(base.right, (total2.x0, base.cy))
    d.legend(8, 518, [("data", "input"), ("linear", "network"), ("norm", "softmax"), ("loss", "score, loss")],
             columns=4, title=None)
    return d


# ---------------------------------------------------------------------------------------------------
# 3. CapsNet (lessons_src/capsules/capsnet.py, CapsNetConfig defaults = the paper's MNIST network)


def digit_glyph(d: Diagram, x0, y0, size, color=INK, lw=3.0, alpha=1.0, shift=0.0):
    """A 28 × 28 image of a handwritten 7: a framed square and two strokes, ``shift`` × size to the right."""
    d.ax.add_patch(Rectangle((x0, y0), size, size, facecolor="white", edgecolor=KINDS["data"][1], linewidth=1.0,
                             zorder=2))
    xs = [x0 + size * (f + shift) for f in (0.25, 0.74, 0.44)]
    ys = [y0 + size * f for f in (0.27, 0.25, 0.80)]
    d.ax.plot(xs, ys, color=color, lw=lw, alpha=alpha, solid_capstyle="round", solid_joinstyle="round", zorder=3)
    d.ax.plot([x0 + size * (0.36 + shift), x0 + size * (0.66 + shift)], [y0 + size * 0.54, y0 + size * 0.52],
              color=color, lw=lw * 0.8, alpha=alpha, solid_capstyle="round", zorder=3)
    d.obstacle(x0, y0, x0 + size, y0 + size)


def capsnet() -> Diagram:
    d = Diagram(height=480)
    gx = 8.0  # glyph column
    lx, lw = 186.0, 244.0  # encoder column (centre, width)
    rx, rw = 425.0, 196.0  # decoder column
    rows = [30.0 + 56.0 * k for k in range(8)]
    h = 36.0

    def stack(x0, y0, side, n, kind, step=3.5):
        fill, edge, _ = KINDS[kind]
        for k in range(n):
            o = (n - 1 - k) * step
            d.ax.add_patch(Rectangle((x0 + o, y0 + k * step), side, side, facecolor=fill, edgecolor=edge,
                                     linewidth=0.8, zorder=2 + k * 0.01))
        d.obstacle(x0, y0, x0 + side + (n - 1) * step, y0 + side + (n - 1) * step)

    # encoder, top to bottom
    digit_glyph(d, gx + 4, rows[0] - 20, 40)
    inp = d.box(lx, rows[0], lw, h, "input image $\\mathbf{x}$: 1 × 28 × 28", "data", size=FS_SMALL)
    stack(gx + 2, rows[1] - 20, 30, 4, "linear")
    conv = d.box(lx, rows[1], lw, h, "Conv1: 256 filters 9 × 9, stride 1, ReLU\n→ 256 × 20 × 20", "linear",
                 size=FS_SMALL)
    stack(gx + 2, rows[2] - 20, 32, 3, "data")
    angles = [20, 75, 140, 200, 260, 320, 45, 110, 170, 235, 300, 350]
    for i in range(4):
        for j in range(4):
            a = math.radians(angles[(i * 4 + j) % len(angles)])
            x, y = gx + 2 + 4 + j * 8, rows[2] - 20 + 2 * 3.5 + 4 + i * 8
            d.ax.plot([x, x + 3.2 * math.cos(a)], [y, y - 3.2 * math.sin(a)], color=KINDS["data"][1], lw=1.0,
                      zorder=3)
    prim = d.box(lx, rows[2], lw, h, "PrimaryCaps: 32 types × 8-D, 9×9, stride 2\n"
                 "1152 = 32 × 6 × 6 capsules $\\mathbf{u}_i$, squashed", "linear", size=FS_SMALL)
    # votes: one capsule predicts every digit capsule
    fx, fy = gx + 6, rows[3]
    for t in (-15, -5, 5, 15):
        d.arrow((fx, fy), (fx + 34, fy + t), lw=0.9, color=KINDS["linear"][1], check=False)
    d.dot(fx, fy, color=KINDS["linear"][1])
    d.obstacle(fx - 3, fy - 16, fx + 36, fy + 16)
    votes = d.box(lx, rows[3], lw, h, "votes $\\hat{\\mathbf{u}}_{j|i} = \\mathbf{W}_{ij}\\mathbf{u}_i$, "
                  "one 16 × 8 $\\mathbf{W}_{ij}$ per pair\n1152 × 10 predictions of 16-D", "linear", size=FS_SMALL)
    # routing: a loop
    cxr, cyr, rr = gx + 22, rows[4], 13.0
    theta = [math.radians(a) for a in range(40, 360, 10)]
    d.ax.plot([cxr + rr * math.cos(t) for t in theta], [cyr + rr * math.sin(t) for t in theta],
              color=KINDS["mix"][1], lw=1.3, zorder=3)
    end = theta[-1]
    d.arrow((cxr + rr * math.cos(end - 0.2), cyr + rr * math.sin(end - 0.2)),
            (cxr + rr * math.cos(end + 0.35), cyr + rr * math.sin(end + 0.35)), color=KINDS["mix"][1], lw=1.3,
            check=False)
    d.text(cxr, cyr, "×3", size=FS_SMALL, ha="center", color=KINDS["mix"][1], free=False)
    d.obstacle(cxr - rr - 2, cyr - rr - 2, cxr + rr + 2, cyr + rr + 2)
    route = d.box(lx, rows[4], lw, h, "dynamic routing by agreement, 3 iterations\n"
                  "$\\mathbf{v}_j = \\mathrm{squash}(\\Sigma_i\\, c_{ij}\\hat{\\mathbf{u}}_{j|i})$, "
                  "$c_{ij} = \\mathrm{softmax}_j(b_{ij})$", "mix", size=FS_SMALL)
    # digit capsules: ten vectors, the true digit's the longest
    lengths = [0.25, 0.15, 0.3, 0.2, 0.1, 0.22, 0.12, 0.95, 0.18, 0.28]
    for k, size in enumerate(lengths):
        y = rows[5] - 18 + 4 * k
        strong = k == 7
        d.ax.plot([gx + 2, gx + 2 + 40 * size], [y, y], color=KINDS["data"][1] if strong else "#9db6d6",
                  lw=2.4 if strong else 1.6, solid_capstyle="butt", zorder=3)
    d.obstacle(gx, rows[5] - 20, gx + 44, rows[5] + 20)
    digit = d.box(lx, rows[5], lw, h, "DigitCaps: 10 capsules $\\mathbf{v}_j$ of 16-D", "data", size=FS_SMALL)
    length = d.box(lx, rows[6], lw, h, "lengths $\\|\\mathbf{v}_j\\|$ in [0, 1): the probability\n"
                   "that digit $j$ is present", "loss", size=FS_SMALL)
    for a, b in ((inp, conv), (conv, prim), (prim, votes), (votes, route), (route, digit), (digit, length)):
        d.arrow(a.bottom, b.top)

    # decoder, bottom to top, back to an image next to the input
    mask = d.box(rx, rows[5], rw, h, "mask: zero all capsules but one\n"
                 "(the true class; at test the longest)", "mask", size=FS_SMALL)
    fc1 = d.box(rx, rows[4], rw, h, "FC 160 → 512, ReLU", "linear", size=FS_SMALL)
    fc2 = d.box(rx, rows[3], rw, h, "FC 512 → 1024, ReLU", "linear", size=FS_SMALL)
    fc3 = d.box(rx, rows[2], rw, h, "FC 1024 → 784, sigmoid", "linear", size=FS_SMALL)
    recon = d.box(rx - 26, rows[1], rw - 52, h, "reconstruction $\\hat{\\mathbf{x}}$\n28 × 28", "data", size=FS_SMALL)
    digit_glyph(d, rx + rw / 2 - 40, rows[1] - 20, 40, color="#5a6b80", lw=3.6, alpha=0.75)
    sse = d.box(rx, rows[0], rw, h, "reconstruction loss $\\Sigma_p\\,(x_p - \\hat x_p)^2$", "loss", size=FS_SMALL)
    d.arrow(digit.right, mask.left)
    for a, b in ((mask, fc1), (fc1, fc2), (fc2, fc3)):
        d.arrow(a.top, b.bottom)
    d.arrow((recon.cx, recon.y0), (recon.cx, sse.y1))
    d.arrow((recon.cx, fc3.y0), recon.bottom)
    d.arrow(inp.right, sse.left)
    d.line((rx - rw / 2 - 5, rows[4] + h / 2), (rx - rw / 2 - 5, rows[2] - h / 2), color=FRAME, check=False)
    d.text(rx - rw / 2 - 12, rows[3], "decoder", size=FS_SMALL, rotation=90, ha="center", va="center")

    total = d.box(300, rows[7], 464, 44, "margin loss $\\Sigma_k\\, T_k \\max(0, 0.9 - \\|\\mathbf{v}_k\\|)^2 + "
                  "0.5\\,(1 - T_k)\\max(0, \\|\\mathbf{v}_k\\| - 0.1)^2$\n"
                  "$+\\ 0.0005\\,\\times$ reconstruction loss", "loss", size=FS_SMALL)
    d.arrow(length.bottom, (length.cx, total.y0))
    d.arrow(sse.right, (534, sse.cy), (534, total.cy), total.right)
    d.legend(8, 468, [("data", "image, capsules"), ("linear", "learned layer"), ("mix", "routing"),
                      ("mask", "mask"), ("loss", "output, loss")], columns=5, title=None)
    return d


# ---------------------------------------------------------------------------------------------------
# 4. Multi-interest extraction (lessons_src/capsules/interests.py)


def interest_routing() -> Diagram:
    d = Diagram(height=500)
    # the behaviour sequence
    tokens = ["0", "0"] + [f"$\\mathbf{{e}}_{k}$" for k in range(1, 7)]
    tw, gap = 28.0, 3.0
    t0 = 150.0
    for n, tok in enumerate(tokens):
        d.box(t0 + n * (tw + gap) + tw / 2, 22, tw, 20, tok, kind="mask" if tok == "0" else "data", rounding=2)
    d.text(t0 - 8, 22, "behaviours", ha="right", color=INK)
    tend = t0 + len(tokens) * (tw + gap) - gap
    d.text(tend + 8, 22, "$\\mathbf{e}_i = \\mathbf{M}[\\mathrm{item}_i]$,\nleft-padded")
    tcx = (t0 + tend) / 2

    # the two maps; û leaves both towards the weighted sum
    sum_x = 374.0
    mind = d.box(126, 84, 212, 38, "MIND: $\\hat{\\mathbf{u}}_{j|i} = \\mathbf{S}\\,\\mathbf{e}_i$\n"
                 "one map, shared by all interests", "linear")
    comi = d.box(sum_x, 84, 236, 38, "ComiRec-DR (used here): "
                 "$\\hat{\\mathbf{u}}_{j|i} = \\mathbf{S}_{ij}\\,\\mathbf{e}_i$\n"
                 "one map per position $i$ and interest $j$", "linear")
    d.text((mind.x1 + comi.x0) / 2, 84, "or", ha="center", color=INK)
    d.dot(tcx, 46)
    d.line((tcx, 32), (tcx, 46))
    d.arrow((tcx, 46), (mind.cx, 46), mind.top)
    d.arrow((tcx, 46), (comi.cx, 46), comi.top)

    # routing: init, then a loop of four steps
    d.frame(14, 128, 446, 304, "routing, 3 iterations")
    init = d.box(92, 190, 140, 40, "start: $b_{ij} = 0$ (ComiRec-DR)\n"
                 "or $b_{ij} \\sim \\mathcal{N}(0, 1)$ (MIND)", "mix",
                 size=FS_SMALL)
    soft = d.box(236, 190, 128, 40, "$c_{ij} = \\mathrm{softmax}_j(b_{ij})$\nover the $K$ interests", "norm",
                 size=FS_SMALL)
    ssum = d.box(sum_x, 190, 116, 40, "$\\mathbf{s}_j = \\Sigma_i\\, c_{ij}\\,\\hat{\\mathbf{u}}_{j|i}$\n"
                 "padding: $c_{ij} = 0$", "mix", size=FS_SMALL)
    squash_ = d.box(sum_x, 266, 116, 30, "$\\mathbf{v}_j = \\mathrm{squash}(\\mathbf{s}_j)$", "norm", size=FS_SMALL)
    agree = d.box(236, 266, 128, 40, "$b_{ij} \\leftarrow b_{ij} + \\hat{\\mathbf{u}}_{j|i}\\cdot\\mathbf{v}_j$\n"
                  "agreement", "mix", size=FS_SMALL)
    d.arrow(init.right, soft.left)
    d.arrow(soft.right, ssum.left)
    d.arrow(ssum.bottom, squash_.top)
    d.arrow(squash_.left, agree.right)
    d.arrow(agree.top, soft.bottom)
    d.text(agree.cx - 6, 228, "next iteration", ha="right")
    d.line(mind.bottom, (mind.cx, 116), (sum_x, 116))
    d.arrow(comi.bottom, ssum.top)
    d.dot(sum_x, 116)
    d.text(sum_x + 6, 150, "$\\hat{\\mathbf{u}}_{j|i}$", color=INK)

    # the K interest capsules
    ix = 494.0
    d.text(ix, 148, "$K = 4$\ninterests", ha="center", color=INK)
    caps = [d.box(ix, 192 + 25 * k, 48, 19, f"$\\mathbf{{v}}_{k + 1}$", "data", rounding=2) for k in range(4)]
    group = Box(ix, (caps[0].y0 + caps[3].y1) / 2, 62, caps[3].y1 - caps[0].y0 + 12)
    d.frame(group.x0, group.y0, group.x1, group.y1, color=KINDS["data"][1])
    d.arrow(squash_.right, (group.x0, squash_.cy))

    # training and serving
    bus = 318.0
    d.line(group.bottom, (ix, bus))
    d.dot(ix, bus)
    d.frame(8, 332, 294, 476, "training: the next item $t$ is known", label_size=FS)
    d.frame(304, 332, 532, 476, "serving: no target", label_size=FS)
    target = d.box(46, 384, 64, 36, "target\n$\\mathbf{e}_t = \\mathbf{M}[t]$", "data", size=FS_SMALL)
    readout = d.box(186, 384, 196, 52, "label-aware readout: the interest\n"
                    "$\\mathbf{v}_{j^*}$ with $j^* = \\mathrm{argmax}_j\\, \\mathbf{v}_j\\cdot\\mathbf{e}_t$\n"
                    "(MIND: weights $\\mathrm{softmax}((\\mathbf{V}\\mathbf{e}_t)^p)$)", "mix", size=FS_SMALL,
                    linespacing=1.3)
    ce = d.box(151, 446, 266, 34, "softmax over all $N$ items, cross-entropy with $t$\n"
               "(MIND and ComiRec sample this softmax)", "loss", size=FS_SMALL, linespacing=1.25)
    d.arrow(target.right, readout.left)
    d.arrow((readout.cx, readout.y1), (readout.cx, ce.y0))
    retrieve = d.box(418, 384, 212, 52, "each interest scores every item,\n"
                     "$\\mathbf{v}_j\\cdot\\mathbf{M}[i]$, and keeps its top $N$", "loss", size=FS_SMALL)
    merge = d.box(418, 446, 212, 34, "merge the $K$ lists by score:\n"
                  "$\\mathrm{max}_j\\, \\mathbf{v}_j\\cdot\\mathbf{M}[i]$"
                  " → top $N$", "loss", size=FS_SMALL, linespacing=1.25)
    d.arrow(retrieve.bottom, merge.top)
    d.arrow((ix, bus), (readout.x1 - 22, bus), (readout.x1 - 22, readout.y0))
    d.arrow((ix, bus), (ix, retrieve.y0))
    d.legend(8, 490, [("data", "items, interests"), ("linear", "learned map"), ("norm", "softmax, squash"),
                      ("mix", "routing"), ("loss", "score, loss")], columns=5, title=None)
    return d


# ---------------------------------------------------------------------------------------------------
# 5. One routing iteration (lessons_src/capsules/routing.py, Procedure 1 of Sabour et al.)


def routing_iteration() -> Diagram:
    d = Diagram(height=214)
    d.text(8, 14, "One iteration of routing by agreement (repeated $r = 3$ times; the last skips the update)",
           size=FS, color=INK, weight="bold")
    row1, row2, low = 66.0, 150.0, 200.0
    u = d.box(40, row1, 64, 38, "parts\n$\\mathbf{u}_i$", "data")
    pred = d.box(136, row1, 104, 38, "prediction\n$\\hat{\\mathbf{u}}_{j|i} = \\mathbf{W}_{ij}\\mathbf{u}_i$", "linear")
    ssum = d.box(276, row1, 128, 38, "$\\mathbf{s}_j = \\Sigma_i\\, c_{ij}\\,\\hat{\\mathbf{u}}_{j|i}$\n"
                 "weighted sum over $i$", "mix")
    squash_ = d.box(422, row1, 124, 38, "$\\mathbf{v}_j = \\mathrm{squash}(\\mathbf{s}_j)$\n"
                    "length in [0, 1)", "norm")
    soft = d.box(276, row2, 128, 44, "$c_{ij} = \\mathrm{softmax}_j(b_{ij})$\n$\\Sigma_j\\, c_{ij} = 1$; "
                 "start: $b_{ij} = 0$", "norm", size=FS_SMALL)
    agree = d.box(422, row2, 124, 44, "$b_{ij} \\leftarrow b_{ij} + \\hat{\\mathbf{u}}_{j|i}\\cdot\\mathbf{v}_j$\n"
                  "agreement", "mix", size=FS_SMALL)
    d.arrow(u.right, pred.left)
    d.arrow(pred.right, ssum.left)
    d.arrow(ssum.right, squash_.left)
    d.arrow(squash_.right, (524, row1))
    d.text(514, row1 - 12, "$\\mathbf{v}_j$", color=INK, ha="center")
    d.text(514, row1 + 14, "wholes", ha="center")
    d.arrow(soft.top, ssum.bottom)
    d.text(soft.cx + 6, (soft.y0 + ssum.y1) / 2, "$c_{ij}$", color=INK)
    d.arrow(squash_.bottom, agree.top)
    d.text(squash_.cx + 6, (squash_.y1 + agree.y0) / 2, "$\\mathbf{v}_j$", color=INK)
    d.arrow(agree.left, soft.right)
    d.text((soft.x1 + agree.x0) / 2, row2 - 10, "$b_{ij}$", color=INK, ha="center")
    # the predictions also feed the agreement
    tap = (pred.x1 + ssum.x0) / 2
    d.dot(tap, row1)
    d.arrow((tap, row1), (tap, low), (agree.cx, low), agree.bottom)
    d.text(tap, row1 - 13, "$\\hat{\\mathbf{u}}_{j|i}$", color=INK, ha="center")
    d.text(tap + 8, low - 9, "the predictions also enter the agreement")
    d.text(8, 112, "$i$: lower capsule (part)\n$j$: upper capsule (whole)", va="center")
    d.legend(8, 146, [("data", "capsules"), ("linear", "learned map"), ("norm", "softmax, squash"),
                      ("mix", "routing")], row=15, title=None)
    return d


# ---------------------------------------------------------------------------------------------------
# 6. MM-Rec (lessons_src/mmrec/model.py; the frozen inputs of lessons_src/mmrec/pretrained.py)


def picture_glyph(d: Diagram, x0, y0, w, h):
    """A news picture: the whole image, two shapes and their object boxes (dashed)."""
    edge = KINDS["data"][1]
    d.ax.add_patch(Rectangle((x0, y0), w, h, facecolor="white", edgecolor=edge, linewidth=1.1, zorder=2))
    d.ax.add_patch(Circle((x0 + 0.27 * w, y0 + 0.45 * h), 0.2 * h, facecolor="#9db6d6", edgecolor="none", zorder=3))
    d.ax.add_patch(Rectangle((x0 + 0.6 * w, y0 + 0.34 * h), 0.22 * w, 0.46 * h, facecolor="#c5d6ea",
                             edgecolor="none", zorder=3))
    for bx, by, bw, bh in ((0.1, 0.14, 0.34, 0.64), (0.54, 0.22, 0.34, 0.66)):
        d.ax.add_patch(Rectangle((x0 + bx * w, y0 + by * h), bw * w, bh * h, facecolor="none", edgecolor=edge,
                                 linewidth=0.9, linestyle=(0, (2.5, 1.5)), zorder=4))
    d.obstacle(x0, y0, x0 + w, y0 + h)


def mmrec() -> Diagram:
    d = Diagram(height=884)
    xt, xv = 150.0, 390.0  # the text and image streams
    cw = 200.0  # their boxes
    qt, qv = 110.0, 430.0  # where each stream's own tokens enter its attention, as queries
    kt, kv = 200.0, 340.0  # where the other stream's tokens enter, as keys and values
    rt, rv = 30.0, 510.0  # residual bypasses

    # ---- the news encoder -----------------------------------------------------------------------
    d.frame(8, 6, 532, 524, "news encoder: one copy, shared by every clicked and candidate news")
    tokens = ["$w_1$", "$w_2$", "$\\ldots$", "$w_L$"]
    tw, gap, t0 = 28.0, 4.0, 62.0
    for n, tok in enumerate(tokens):
        d.box(t0 + n * (tw + gap) + tw / 2, 42, tw, 20, tok, "data", rounding=2)
    t1 = t0 + len(tokens) * (tw + gap) - gap
    d.text(t0 - 6, 42, "title", ha="right", color=INK)
    d.text(t1 + 6, 42, "word pieces,\n$L \\leq 16$")
    picture_glyph(d, 270, 28, 52, 28)
    d.text(329, 42, "picture → regions $r_1 \\ldots r_R$: the whole\nimage + ≤ 4 boxes of the generator", color=INK)
    enc_t = d.box(xt, 88, cw, 36, "frozen MiniLM (all-MiniLM-L6-v2):\ncontextual token vectors, 384-d",
                  "linear", linestyle="--", size=FS_SMALL)
    enc_v = d.box(xv, 88, cw, 36, "frozen concept CNN on each region\n(paper: Mask R-CNN ROIs + ResNet)",
                  "linear", linestyle="--", size=FS_SMALL)
    d.arrow(((t0 + t1) / 2, 52), ((t0 + t1) / 2, enc_t.y0))
    d.arrow((296, 56), (296, enc_v.y0))
    proj_t = d.box(xt, 138, cw, 36, "projection 384 → $d = 64$\n+ position embedding $\\mathbf{p}_\\ell$",
                   "linear", size=FS_SMALL)
    proj_v = d.box(xv, 138, cw, 36, "projection → $d$ + box-location\n"
                   "embedding of $[x_0, y_0, x_1, y_1, \\mathrm{area}]$", "linear", size=FS_SMALL)
    d.arrow(enc_t.bottom, proj_t.top, dashed=True)
    d.arrow(enc_v.bottom, proj_v.top, dashed=True)
    ln_t = d.box(xt, 178, cw, 22, "LayerNorm → $\\mathbf{E}^w$  ($L \\times d$)", "norm", size=FS_SMALL)
    ln_v = d.box(xv, 178, cw, 22, "LayerNorm → $\\mathbf{E}^r$  ($R \\times d$)", "norm", size=FS_SMALL)
    d.arrow(proj_t.bottom, ln_t.top)
    d.arrow(proj_v.bottom, ln_v.top)

    # the co-attention layer: each stream's queries attend to the other stream's keys and values
    d.frame(16, 198, 524, 464)
    d.text(270, 210, "co-attention layer (ViLBERT's co-TRM)", ha="center", size=FS, color=INK, weight="bold")
    tap, tap2 = 224.0, 382.0
    kv_t = d.box(kt, 266, 116, 28, "$\\mathbf{K}, \\mathbf{V}$ from regions\npadded ones masked", "mask",
                 size=FS_SMALL, linespacing=1.2)
    kv_v = d.box(kv, 266, 116, 28, "$\\mathbf{K}, \\mathbf{V}$ from words\npadded ones masked", "mask",
                 size=FS_SMALL, linespacing=1.2)
    att_t = d.box(xt, 314, cw, 40, "words query the regions (4 heads)\n"
                  "$\\mathrm{softmax}(\\mathbf{Q}_w\\mathbf{K}_r^{\\top}/\\sqrt{d_h})\\,\\mathbf{V}_r$", "mix",
                  size=FS_SMALL)
    att_v = d.box(xv, 314, cw, 40, "regions query the words (4 heads)\n"
                  "$\\mathrm{softmax}(\\mathbf{Q}_r\\mathbf{K}_w^{\\top}/\\sqrt{d_h})\\,\\mathbf{V}_w$", "mix",
                  size=FS_SMALL)
    outputs = []  # each stream's last box
    for x, q, ln, att, own_kv, other_kv, r, side in ((xt, qt, ln_t, att_t, kv_t, kv_v, rt, 1),
                                                     (xv, qv, ln_v, att_v, kv_v, kv_t, rv, -1)):
        d.line((q, ln.y1), (q, tap))
        d.dot(q, tap)
        d.arrow((q, tap), (q, att.y0))  # this stream's tokens, as queries
        d.text(q + 5 * side, att.y0 - 9, "$\\mathbf{Q}$", color=INK, ha="left" if side > 0 else "right")
        d.arrow((q, tap), (other_kv.cx, other_kv.y0))  # … and as the other stream's keys and values
        d.arrow(own_kv.bottom, (own_kv.cx, att.y0))
        add1 = d.box(x, 360, 130, 20, "add & LayerNorm", "norm", size=FS_SMALL)
        d.arrow(att.bottom, add1.top)
        d.line((q, tap), (r, tap), (r, add1.cy))
        d.arrow((r, add1.cy), add1.left if side > 0 else add1.right)
        ffn = d.box(x, 405, cw, 26, "feed-forward $d \\to 2d \\to d$, GELU", "linear", size=FS_SMALL)
        d.dot(x, tap2)
        d.arrow(add1.bottom, ffn.top)
        add2 = d.box(x, 444, 130, 20, "add & LayerNorm", "norm", size=FS_SMALL)
        d.arrow(ffn.bottom, add2.top)
        d.line((x, tap2), (r, tap2), (r, add2.cy))
        d.arrow((r, add2.cy), add2.left if side > 0 else add2.right)
        outputs.append(add2)

    # pooling: one vector per modality
    pool_t = d.box(xt, 496, 212, 36, "word attention pooling → $\\mathbf{t}$\n"
                   "$\\mathbf{t} = \\Sigma_\\ell\\, \\alpha_\\ell \\mathbf{E}^w_\\ell$, "
                   "$\\alpha = \\mathrm{softmax}(\\mathbf{q}^{\\top}\\tanh(\\mathbf{W}\\mathbf{E}^w))$", "mix",
                   size=FS_SMALL)
    pool_v = d.box(xv, 496, 212, 36, "region attention pooling → $\\mathbf{v}$\n"
                   "$\\mathbf{v} = \\Sigma_j\\, \\alpha_j \\mathbf{E}^r_j$, same form", "mix", size=FS_SMALL)
    d.arrow(outputs[0].bottom, pool_t.top)
    d.arrow(outputs[1].bottom, pool_v.top)

    # ---- the user: candidate-aware attention over the clicked news ------------------------------
    enc = d.box(219, 573, 94, 70, "news\nencoder\n(above)", "linear")
    cand = d.box(83, 554, 134, 26, "candidate news $c$", "data", size=FS_SMALL)
    hist = d.box(83, 592, 134, 26, "clicked $n_1 \\ldots n_H$, $H \\leq 20$", "data", size=FS_SMALL)
    out_c = d.box(340, 554, 100, 26, "$\\mathbf{t}_c,\\ \\mathbf{v}_c$", "data", size=FS_SMALL)
    out_h = d.box(340, 592, 100, 26, "$\\mathbf{t}_i,\\ \\mathbf{v}_i$,  $i = 1 \\ldots H$", "data",
                  size=FS_SMALL)
    for a, b in ((cand, out_c), (hist, out_h)):
        d.arrow(a.right, (enc.x0, a.cy))
        d.arrow((enc.x1, b.cy), b.left)
    att = d.box(234, 646, 436, 40, "candidate-aware attention, four pairings $x \\to y$ with "
                "$x, y \\in \\{t, v\\}$, no parameters\n"
                "$\\alpha^{x\\to y}_i = \\mathrm{softmax}_i(\\mathbf{x}_c\\cdot\\mathbf{y}_i/\\sqrt{d})$"
                " over the real clicks,   $\\mathbf{u}^{x\\to y} = \\Sigma_i\\, \\alpha^{x\\to y}_i\\, \\mathbf{y}_i$",
                "mix", size=FS_SMALL)
    d.arrow(out_h.bottom, (out_h.cx, att.y0))
    d.text(out_h.cx - 6, (out_h.y1 + att.y0) / 2, "keys, values $\\mathbf{y}_i$", ha="right", color=INK)
    cx_line = 502.0  # the candidate's vectors: queries, then the score
    d.line(out_c.right, (cx_line, out_c.cy), (cx_line, att.cy))
    d.dot(cx_line, att.cy)
    d.arrow((cx_line, att.cy), att.right)
    d.text((att.x1 + cx_line) / 2, att.cy - 17, "queries\n$\\mathbf{x}_c$", ha="center", color=INK)
    uw, ug = 103.0, 8.0
    ubox = []
    for n, (x, y) in enumerate(itertools.product("tv", "tv")):
        cx = 16 + uw / 2 + n * (uw + ug)
        ubox.append(d.box(cx, 699, uw, 34, f"$\\mathbf{{u}}^{{{x}\\to {y}}}$\n"
                          f"$\\mathbf{{{x}}}_c$ asks the $\\mathbf{{{y}}}_i$", "data", size=FS_SMALL))
        d.arrow((cx, att.y1), ubox[-1].top)
    bus = 734.0
    plus = d.node(234, bus)
    for b in ubox:
        d.line(b.bottom, (b.cx, bus))
    d.arrow((ubox[0].cx, bus), plus.left)
    d.arrow((ubox[3].cx, bus), plus.right)
    score = d.box(470, 772, 120, 36, "click score\n$\\hat y = (\\mathbf{t}_c + \\mathbf{v}_c)\\cdot\\mathbf{u}$",
                  "loss")
    d.arrow(plus.bottom, (plus.cx, score.cy), score.left)
    d.text(plus.cx + 8, score.cy - 11, "$\\mathbf{u} = \\Sigma_{x,y}\\, \\mathbf{u}^{x\\to y}$", color=INK)
    d.arrow((cx_line, att.cy), (cx_line, score.y0))
    d.text(cx_line - 5, (ubox[0].y1 + score.y0) / 2, "$\\mathbf{t}_c + \\mathbf{v}_c$", ha="right", color=INK)
    d.text(20, 770, "$t\\to v$, $v\\to t$: a clicked news whose\npicture matches the candidate's\ntitle counts too")
    loss = d.box(270, 826, 508, 36, "training: softmax over the 1 clicked + $K = 4$ non-clicked candidates "
                 "of an impression,\n"
                 "cross-entropy $-\\log\\,(e^{\\hat y^{+}} / \\Sigma_j\\, e^{\\hat y_j})$, $j$ over the $1 + K$; "
                 "each candidate has its own $\\mathbf{u}$", "loss", size=FS_SMALL)
    d.arrow(score.bottom, (score.cx, loss.y0))
    d.text(524, 16, "dashed: frozen", ha="right")
    d.legend(8, 870, [("data", "vectors"), ("linear", "learned map"), ("norm", "LayerNorm"), ("mix", "attention"),
                      ("mask", "mask"), ("loss", "score, loss")], columns=6, title=None)
    return d


# ---------------------------------------------------------------------------------------------------
# 7. The NaN of a fully masked attention row, and the ways out (lessons_src/sasrec/model.py, attention_mask)

ALLOWED = (KINDS["mix"][0], KINDS["mix"][1])  # a key the query may attend to: the colours of sasrec()'s mask
BLOCKED = ("white", "#c8ccd0")
ZEROED = (KINDS["mask"][0], KINDS["mask"][1])  # weights that a mask sets to zero afterwards
ALARM = "#c0392b"  # where it goes wrong


def mask_grid(d: Diagram, gx, gy, cell, labels, allowed, texts=None, zeroed=()):
    """A query × key matrix from (gx, gy): row i, column j, coloured by ``allowed(i, j)``; ``zeroed`` rows grey."""
    n = len(labels)
    for i in range(n):
        for j in range(n):
            fill, edge = ZEROED if i in zeroed else ALLOWED if allowed(i, j) else BLOCKED
            d.cell(gx + j * cell, gy + i * cell, cell, cell, (texts or {}).get((i, j), ""), fill, edge)
    for k, lab in enumerate(labels):
        d.text(gx + k * cell + cell / 2, gy - 8, lab, ha="center")
        d.text(gx - 4, gy + k * cell + cell / 2, lab, ha="right")


def mask_swatches(d: Diagram, x, y, entries):
    """A one-row key for the matrix colours: [(fill, edge, dashed outline?, label)]."""
    renderer = d.fig.canvas.get_renderer()
    for fill, edge, dashed, label in entries:
        d.ax.add_patch(Rectangle((x, y - 5), 12, 10, facecolor=fill, edgecolor=edge, zorder=2,
                                 linewidth=1.4 if dashed is not None else 0.6,
                                 linestyle=(0, (3, 2)) if dashed else "-"))
        t = d.text(x + 17, y, label, color=INK)
        x = d._extent(t, renderer)[2] + 16


def attention_nan() -> Diagram:
    d = Diagram(height=584)
    labels = ["0", "0", "$s_1$", "$s_2$", "$s_3$"]  # the chapter's example: two padding slots, three items
    real = lambda j: j >= 2  # noqa: E731
    causal = lambda i, j: j <= i  # noqa: E731

    # (a) causal mask + padding keys, blocked = −∞: rows 0 and 1 keep no key
    d.text(8, 14, "(a) Where the NaN comes from: padding keys masked with $-\\infty$", size=FS_TITLE, color=INK,
           weight="bold")
    gx, gy, c = 62.0, 62.0, 16.0
    mask_grid(d, gx, gy, c, labels, lambda i, j: causal(i, j) and real(j))
    d.outline(gx - 1.5, gy - 1.5, gx + 5 * c + 1.5, gy + 2 * c + 1.5, ALARM)
    d.text(gx + 2.5 * c, 36, "keys $j$", ha="center", color=INK)
    d.text(22, gy + 2.5 * c, "queries $i$", ha="center", color=INK, rotation=90)
    d.text(gx + 2.5 * c, 162, "causal ∧ real key:\nrows 0, 1 keep no key", ha="center")

    cx0, cw, ch = 186.0, 28.0, 18.0  # row 0 of the scores, then of exp, then of the weights
    rows = (gy + c / 2, 118.0, 166.0)
    d.arrow((gx + 5 * c + 3, rows[0]), (cx0 - 3, rows[0]))
    d.text((gx + 5 * c + cx0) / 2, rows[0] - 11, "row 0", ha="center", color=INK)
    d.text(cx0 + 2.5 * cw, 44, "scores $\\mathbf{q}_0\\cdot\\mathbf{k}_j/\\sqrt{d_h} + B_{0j}$", ha="center",
           color=INK)
    for r, (y, text) in enumerate(zip(rows, ("−∞", "0", "NaN"))):
        for j in range(5):
            d.cell(cx0 + j * cw, y - ch / 2, cw, ch, text, "white", ALARM if r == 2 else BLOCKED[1],
                   weight="bold" if r == 2 else "normal", color=ALARM if r == 2 else INK)
    mid = cx0 + 2.5 * cw
    d.arrow((mid, rows[0] + ch / 2), (mid, rows[1] - ch / 2))
    d.text(mid + 6, (rows[0] + rows[1]) / 2, "exp: $e^{-\\infty} = 0$", color=INK)
    d.arrow((mid, rows[1] + ch / 2), (mid, rows[2] - ch / 2))
    d.text(mid + 6, (rows[1] + rows[2]) / 2, "divide by $\\Sigma_j\\, e^{\\ldots} = 0$", color=INK)
    right = cx0 + 5 * cw + 10
    d.text(right, rows[0], "every key is blocked:\n$B_{0j} = -\\infty$ for all $j$")
    d.text(right, rows[1], "nothing left to normalise")
    d.text(right, rows[2], "softmax = 0/0 = NaN,\nin rows 0 and 1 alike")

    # how one NaN row poisons the whole batch
    by = 226.0
    b1 = d.box(70, by, 124, 40, "attention output\nof rows 0, 1: NaN", "mix", size=FS_SMALL)
    b2 = d.box(204, by, 124, 40, "timeline mask ×0:\nNaN · 0 = NaN", "mask", size=FS_SMALL)
    b3 = d.box(358, by, 164, 40, "block 2: rows 0, 1 are keys and\nvalues of every later query", "mix",
               size=FS_SMALL)
    b4 = d.box(487, by, 80, 40, "loss = NaN\nat once", "loss", size=FS_SMALL)
    d.arrow((mid, rows[2] + ch / 2), (mid, 193), (b1.cx, 193), b1.top)
    for a, b in ((b1, b2), (b2, b3), (b3, b4)):
        d.arrow(a.right, b.left)
    d.text(b3.cx, by + 30, "$0\\cdot\\mathrm{NaN} = \\mathrm{NaN}$ at every position", ha="center", color=INK)
    d.text(8, 284, "This is the explicit path (need_weights=True, the default); recent PyTorch's fused kernel"
           "\n(need_weights=False) returns zeros for such rows: whether you meet the NaN depends on the path.")

    # (b) the three ways out, on the same example
    top = 314.0
    d.text(8, top, "(b) Three ways out", size=FS_TITLE, color=INK, weight="bold")
    c2, gy2 = 22.0, 376.0
    ways = [
        ("1. drop the padding mask\n(the PyTorch port)", causal, {}, (),
         "no NaN, but real queries see\nthe padding keys (the biases\nof $\\mathbf{W}^K$, $\\mathbf{W}^V$): "
         "the scores\ndepend on the padding"),
        ("2. fill with $-2^{32}+1$\n(the authors' TF code)", lambda i, j: causal(i, j) and real(j),
         {(i, j): "0.2" for i in (0, 1) for j in range(5)}, (0, 1),
         "padding rows: uniform 0.2,\nthen zeroed by a query mask;\nreal rows never see padding"),
        ("3. $-\\infty$, but each query\nmay see itself (ours)",
         lambda i, j: (causal(i, j) and real(j)) or i == j, {(0, 0): "1", (1, 1): "1"}, (),
         "padding rows: weight 1 on\nthemselves, zeroed by the\ntimeline mask; a boolean mask,\n"
         "so the fused kernel works"),
    ]
    for k, (title, allowed, texts, zeroed, verdict) in enumerate(ways):
        px = k * 174.0
        gx2 = px + 44
        centre = gx2 + 2.5 * c2
        d.text(centre, 340, title, ha="center", color=INK)
        mask_grid(d, gx2, gy2, c2, labels, allowed, texts, zeroed)
        d.text(centre, gy2 + 5 * c2 + 8, verdict, ha="center", va="top")
        if k == 0:  # real queries attending to padding keys
            d.outline(gx2 - 1.5, gy2 + 2 * c2 - 1.5, gx2 + 2 * c2 + 1.5, gy2 + 5 * c2 + 1.5, ALARM, dashed=True)
    mask_swatches(d, 8, 572, [(*ALLOWED, None, "may attend"), (*BLOCKED, None, "blocked"),
                              (*ZEROED, None, "weights zeroed afterwards"),
                              ("none", ALARM, True, "real query, padding key")])
    return d


# ---------------------------------------------------------------------------------------------------
# 8. The two evaluation protocols (lessons_src/evaluation/ranking.py, RankingEvaluator)


def brace(d: Diagram, x0, x1, y, up=False):
    """A square bracket under (or over) the span x0 … x1 at height y."""
    tip = -4 if up else 4
    d.line((x0, y - tip), (x0, y), (x1, y), (x1, y - tip), color=MUTED, lw=0.9, check=False)


def evaluation_protocols() -> Diagram:
    d = Diagram(height=404)
    # (a) leave-one-out
    d.text(8, 14, "(a) Leave-one-out: the last two items of every user are held out", size=FS_TITLE, color=INK,
           weight="bold")
    tw, th, ty = 32.0, 22.0, 48.0
    train = ["$s_1$", "$s_2$", "$\\cdots$", "$s_{n-2}$"]
    for n, tok in enumerate(train):
        d.box(60 + n * (tw + 3) + tw / 2, ty, tw, th, tok, "data", rounding=2)
    v = d.box(60 + 4 * (tw + 3) + 8 + tw / 2, ty, tw, th, "$s_{n-1}$", "data", rounding=2, linestyle="--")
    t = d.box(v.cx + tw + 3, ty, tw, th, "$s_n$", "loss", rounding=2, linestyle="--")
    d.text(52, ty, "user", ha="right", color=INK)
    brace(d, 60, 60 + 4 * (tw + 3) - 3, ty + 16)
    d.text(60 + 2 * (tw + 3), ty + 27, "training items", ha="center")
    d.text(v.cx, ty + 27, "$v$", ha="center", color=INK)
    d.text(t.cx, ty + 27, "$t$", ha="center", color=INK)
    d.text(t.x1 + 14, ty - 8, "validation: training items → target $v$\n"
           "test: training items + $v$ → target $t$", va="center", color=INK)
    d.text(t.x1 + 14, ty + 25, "validation negatives may include $t$ (the\n"
           "test item must not steer model selection)", va="center")

    # (b) the same scores, ranked among two candidate sets
    top = 112.0
    d.text(8, top, "(b) Rank the test target $t$ among what? One user, the same scores", size=FS_TITLE,
           color=INK, weight="bold")
    x0, cw, ch, x_end, res = 96.0, 12.0, 22.0, 420.0, 432.0
    fy, sy = 164.0, 280.0  # the full and the sampled ranking
    item, target = (KINDS["data"][0], KINDS["data"][1]), (KINDS["loss"][0], KINDS["loss"][1])

    def ranking(y, top10, rest):
        """Ten cells for the top 10 (highest score first), then segments [(width, text, colours)]."""
        for k, tok in enumerate(top10):
            d.cell(x0 + k * cw, y - ch / 2, cw, ch, tok, *(target if tok == "$t$" else item))
        x = x0 + 10 * cw
        for w, text, colours in rest:
            d.cell(x, y - ch / 2, w, ch, text, *colours)
            x += w
        brace(d, x0, x0 + 10 * cw, y - ch / 2 - 5, up=True)
        d.text(x0 + 5 * cw, y - ch / 2 - 15, "top 10", ha="center", color=INK)

    d.text(8, fy - 7, "full", color=INK, weight="bold", size=FS)
    d.text(8, fy + 12, "all 23,715 items\nbut the history")
    ranking(fy, [""] * 10, [(60, "220 more", item), (18, "$t$", target), (x_end - x0 - 120 - 78, "≈ 23,500 more",
                                                                          item)])
    d.text(x0 + 10 * cw + 12, fy - ch / 2 - 15, "candidates by the model's score, highest first →")
    d.text(res, fy, "rank 230\nHR@10 = 0\nNDCG@10 = 0", color=INK)

    # the 100 sampled negatives, uniform over the pool: about one lands among the 230 above t
    dy = fy + ch / 2 + 9
    above = x0 + 10 * cw + 30
    d.dot(above, dy, color=KINDS["data"][1])
    below = [x0 + 10 * cw + 84 + k * 9.5 for k in range(13)]
    for x in below:
        d.dot(x, dy, color=KINDS["data"][1])
    d.obstacle(above - 3, dy - 3, below[-1] + 3, dy + 3)
    d.text(above, dy + 10, "1", ha="center", color=INK)
    d.text((below[0] + below[-1]) / 2, dy + 10, "99", ha="center", color=INK)
    d.text(x0, dy + 36, "100 negatives, uniform over the items the user never had (history and $t$\n"
           "excluded): on average $100 \\times 230\\, /\\, 23{,}700 \\approx 1$ lands above $t$")
    d.arrow((250, dy + 52), (250, sy - ch / 2 - 4))

    d.text(8, sy - 7, "sampled", color=INK, weight="bold", size=FS)
    d.text(8, sy + 18, "$t$ + 100\nnegatives\n(the paper's)")
    ranking(sy, ["$j$", "$t$"] + ["$j$"] * 8, [(x_end - x0 - 120, "91 more negatives $j$", item)])
    d.text(res, sy, "rank 1\nHR@10 = 1\nNDCG@10 = 0.63", color=INK)

    d.box(270, 354, 524, 52, "HR@10 = $\\mathbb{1}[\\mathrm{rank} < 10]$,   NDCG@10 = "
          "$\\mathbb{1}[\\mathrm{rank} < 10]\\, /\\, \\log_2(\\mathrm{rank} + 2)$\n"
          "rank = candidates scored above $t$ (0-based, ties averaged): rank 1 gives $1/\\log_2 3 = 0.63$\n"
          "averaged over users: sampled on 10,000 of them (fixed seed), full on all 30,901", "loss", size=FS_SMALL,
          linespacing=1.3)
    d.legend(8, 394, [("data", "items"), ("loss", "target, metric")], columns=2, title=None)
    d.text(532, 394, "dashed: held out", ha="right")
    return d


# ---------------------------------------------------------------------------------------------------
# 9. Ranking distillation at one position (lessons_src/distill/ranking.py)


def ranking_distillation() -> Diagram:
    d = Diagram(height=486)
    d.text(8, 14, "Ranking distillation at one training position $t$ ($K = 10$, $\\lambda = 5$), as in ranking.py",
           size=FS_TITLE, color=INK, weight="bold")
    py = 52.0
    win = d.box(42, py, 68, 36, "window\n$s_1 \\ldots s_t$", "data")
    teacher = d.box(144, py, 104, 36, "frozen teacher\nSASRec, $d = 50$", "linear")
    scores = d.box(288, py, 160, 36, "scores of all 23,715 items;\nthe user's history → $-\\infty$", "loss",
                   size=FS_SMALL)
    d.arrow(win.right, teacher.left)
    d.arrow(teacher.right, scores.left, dashed=True)
    d.text(scores.x1 + 12, py, "the top $K$ of them: computed\nonce, before training, as a\n"
           "(users, positions, $K$) table")

    # the teacher's ranking, row by row, and the weight each π_r gets
    lam, k = 5.0, 10
    position = [math.exp(-r / lam) for r in range(1, k + 1)]
    position = [w / sum(position) for w in position]
    discrepancy = [0, 1, 1, 0, 1, 1, 0, 1, 1, 1]  # an example: 0 where the student already ranks π_r on top
    hybrid = [w * f for w, f in zip(position, discrepancy)]
    hybrid = [w / sum(hybrid) for w in hybrid]
    hy = 120.0
    ax, bx, cx, dx = 78.0, 176.0, 352.0, 410.0  # the columns: ranking, w_r bars, d_r, hybrid bars
    d.text(ax, hy, "sorted by the\nteacher's score", ha="center", color=INK)
    d.arrow((scores.cx, scores.y1), (scores.cx, 88), (ax, 88), (ax, hy - 16))
    d.text(bx, hy, "position importance\n$w_r \\propto e^{-r/\\lambda}$", color=INK)
    d.text(cx, hy, "discrepancy\n$d_r$ (e.g.)", ha="center", color=INK)
    d.text(dx, hy, "hybrid weight\n$\\propto w_r\\, d_r$ (e.g.)", color=INK)
    rows = [("1st: $\\pi_1$", 1), ("2nd: a history item", None), ("3rd: $\\pi_2$", 2), ("4th: $\\pi_3$", 3),
            ("5th: $o_t$ (in the history)", None), ("6th: $\\pi_4$", 4), ("$\\vdots$", "dots"),
            ("$\\pi_{10}$", 10), ("the other ≈ 23,700", "rest")]
    step, y0 = 21.0, 152.0
    blue, loss_edge = KINDS["data"], KINDS["loss"]
    for n, (label, r) in enumerate(rows):
        y = y0 + n * step
        if r == "dots":
            d.text(ax, y, label, ha="center", color=INK)
            continue
        fill, edge = ((blue[0], blue[1]) if isinstance(r, int) else (KINDS["mask"][0], KINDS["mask"][1])
                      if r is None else ("white", BLOCKED[1]))
        d.cell(ax - 70, y - 9, 140, 18, label, fill, edge)
        if r is None:
            d.text(bx, y, "skipped: not a candidate")
        elif r == "rest":
            d.text(bx, y, "no term: only the top of the ranking is transferred")
        else:
            for x, w, scale in ((bx, position[r - 1], 100 / position[0]), (dx, hybrid[r - 1], 60 / max(hybrid))):
                if w > 0:
                    d.ax.add_patch(Rectangle((x, y - 6), w * scale, 12, facecolor=loss_edge[0],
                                             edgecolor=loss_edge[1], linewidth=0.7, zorder=2))
                    d.obstacle(x, y - 6, x + w * scale, y + 6)
                d.text(x + w * scale + 4, y, f"{w:.2f}" if w > 0 else "0", color=INK)
            d.text(cx, y, "≈ 1" if discrepancy[r - 1] else "0", ha="center", color=INK)
    ny = y0 + len(rows) * step + 8
    d.text(8, ny, "hybrid: $d_r = \\tanh(\\max(\\mu(\\hat r_r - r), 0))$, $\\mu = 0.1$, where the student's rank "
           "of $\\pi_r$ is\nestimated as $\\hat r_r = 1 + n_r \\cdot 23{,}715/100$ from the $n_r$ of 100 sampled items "
           "it scores above $\\pi_r$:\n$\\hat r_r$ is 1 or > 238, so $d_r$ is 0 where the student already ranks "
           "$\\pi_r$ above all of them, ≈ 1 elsewhere;\nthe products $w_r d_r$ are renormalised to sum 1", va="top")

    # the student's loss at t
    ly = 438.0
    student = d.box(72, ly, 128, 40, "student, $d = 16$:\nscores $\\hat y$ of $\\pi_1 \\ldots \\pi_K$", "linear",
                    size=FS_SMALL)
    rd = d.box(258, ly, 196, 40, "$\\mathcal{L}_{RD} = -\\Sigma_r\\, w_r \\log\\sigma(\\hat y_{\\pi_r})$\n"
               "every $\\pi_r$ a positive, weighted", "loss", size=FS_SMALL)
    total = d.box(448, ly, 152, 40, "$\\mathcal{L}_{\\mathrm{SASRec}}(o_t, j_t) + \\lambda_{RD}\\,\\mathcal{L}_{RD}$\n"
                  "$\\lambda_{RD} = 0.5$ or $0.1$", "loss", size=FS_SMALL)
    d.arrow(student.right, rd.left)
    d.arrow(rd.right, total.left)
    d.legend(8, 474, [("data", "items, lists"), ("linear", "network"), ("loss", "scores, weights, loss"),
                      ("mask", "skipped")], columns=4, title=None)
    return d


# ---------------------------------------------------------------------------------------------------
# 10. A CNN feature detector with pooling vs a capsule (chapter 3's introduction)


def capsule_vs_neuron() -> Diagram:
    d = Diagram(height=364)
    half = 270.0  # the 7 on the left, the same 7 shifted right on the right
    blue, pale = KINDS["data"][1], "#9db6d6"
    shifts = (-0.12, 0.14)  # the 7's place in its 28 × 28 frame, as a fraction of the frame
    g = 50.0  # glyph size

    def glyph(x, y, k):
        if k == 1:  # where the 7 was, faintly
            digit_glyph(d, x, y, g, color=FRAME, alpha=0.35, shift=shifts[0])
        digit_glyph(d, x, y, g, shift=shifts[k])
        d.text(x + g / 2, y + g + 10, ("the 7", "the same 7, shifted")[k], ha="center")

    # (a) a scalar detector at every location, then max pooling
    d.text(8, 14, "(a) CNN: a scalar feature detector at every location, then max pooling", size=FS_TITLE,
           color=INK, weight="bold")
    gy, c = 78.0, 12.0  # centre line, feature-map cell
    for k in range(2):
        x = k * half
        glyph(x + 12, gy - g / 2, k)
        mx, my = x + 106, gy - 3 * c
        corner = (3, 5)[k]  # the column of the 7's top-right corner: two columns further once shifted
        for i in range(6):
            for j in range(6):
                value = 0.9 if (i, j) == (1, corner) else 0.3 if (i, j) in ((2, corner), (1, corner - 1)) else 0.0
                fill = blue if value > 0.5 else pale if value > 0 else "white"
                d.cell(mx + j * c, my + i * c, c, c, "", fill, "#c8ccd0")
        d.arrow((x + 12 + g + 4, gy), (mx - 4, gy))
        d.text(mx + 3 * c, gy + 3 * c + 8, "corner detector:\none value per location", ha="center", va="top")
        pooled = d.box(x + 243, gy, 38, 24, "0.9", "loss")
        d.arrow((mx + 6 * c + 4, gy), pooled.left)
        d.text((mx + 6 * c + pooled.x0) / 2, gy - 11, "max", ha="center", color=INK)
    d.text(8, 164, "The map moves with the digit, the pooled number does not: invariance. Where the corner is, and how "
           "the\nparts sit relative to each other, is thrown away.", va="top", color=INK)

    # (b) a capsule: one vector, its length the presence, its orientation the pose
    d.text(8, 212, "(b) Capsule: a vector, length = presence, orientation = pose", size=FS_TITLE, color=INK,
           weight="bold")
    cy, radius, length = 280.0, 36.0, 0.9
    for k, angle in enumerate((15.0, 65.0)):
        x = k * half
        glyph(x + 12, cy - g / 2, k)
        ox = x + 136.0  # the vector's origin
        d.arrow((x + 12 + g + 4, cy), (ox - radius - 6, cy))
        unit = [math.radians(a) for a in range(0, 361, 6)]
        d.ax.plot([ox + radius * math.cos(t) for t in unit], [cy - radius * math.sin(t) for t in unit], color=FRAME,
                  lw=0.9, linestyle=(0, (3, 2)), zorder=1)
        d.obstacle(ox - radius, cy - radius, ox + radius, cy + radius)
        if k == 1:  # the 7's vector, for comparison, and the turn between the two
            a0 = math.radians(15.0)
            d.arrow((ox, cy), (ox + length * radius * math.cos(a0), cy - length * radius * math.sin(a0)),
                    color=FRAME, lw=1.4, dashed=True, check=False)
            arc = [math.radians(a) for a in range(22, 59, 2)]
            d.ax.plot([ox + 0.5 * radius * math.cos(t) for t in arc],
                      [cy - 0.5 * radius * math.sin(t) for t in arc], color=MUTED, lw=0.9, zorder=3)
        a = math.radians(angle)
        d.arrow((ox, cy), (ox + length * radius * math.cos(a), cy - length * radius * math.sin(a)), color=blue,
                lw=2.2, check=False)
        d.dot(ox, cy, color=blue)
        d.text(ox + radius + 10, cy, ("$\\|\\mathbf{v}\\| = 0.9$:\npresent;\nangle = pose",
                                      "$\\|\\mathbf{v}\\| = 0.9$:\nstill present;\nangle turned")[k],
               color=INK)
    d.text(8, 338, "The length stays, the orientation moves with the digit: equivariance. Dashed circle: length 1 "
           "(CapsNet's\ndigit capsules have 16 dimensions, drawn here in two).", va="top", color=INK)
    return d


# ---------------------------------------------------------------------------------------------------
# 11. MGNM (lessons_src/mgnm/model.py, graph.py, gcn.py, sequence.py; the router of capsules/interests.py)


def mgnm() -> Diagram:
    d = Diagram(height=850)
    blue, purple = KINDS["data"][1], KINDS["loss"][1]
    rail = 535.0  # λ₁‖A‖₁ on its way to the loss, right of every frame

    # ---- inputs: the history and the user ----------------------------------------------------------
    tokens = ["0", "0", "$i_1$", "$i_2$", "$\\ldots$", "$i_n$"]
    tw, gap, t0 = 28.0, 3.0, 58.0
    for n, tok in enumerate(tokens):
        d.box(t0 + n * (tw + gap) + tw / 2, 22, tw, 20, tok, kind="mask" if tok == "0" else "data", rounding=2)
    tend = t0 + len(tokens) * (tw + gap) - gap
    d.text(t0 - 8, 22, "history", ha="right", color=INK)
    d.text(tend + 8, 22, "left-padded:\n0 = padding")
    ux = 400.0
    d.box(ux, 22, 28, 20, "$u$", "data", rounding=2)
    d.text(ux - 22, 22, "user", ha="right", color=INK)
    d.text(ux + 24, 22, "Toys runs: $d = 64$,\n$K = 4$, $L = 20$")
    emb = d.box(150, 70, 200, 36, "$\\mathbf{E}$: $\\mathbf{e}_i = \\mathbf{M}[i]$, $L \\times d$\n"
                "$\\mathbf{M}[0] = \\mathbf{0}$ (padding)", "data")
    user = d.box(ux, 70, 150, 36, "$\\mathbf{p}_u = \\mathbf{P}[u]$, $d$\nuser embedding", "data")
    d.arrow((emb.cx, 32), emb.top)
    d.arrow((ux, 32), user.top)

    # ---- the user's item graph ---------------------------------------------------------------------
    adj = d.box(285, 136, 280, 38, "user-aware item graph $A_{ij} = \\sigma(\\Sigma_k\\, e_{ik}\\, e_{jk}\\, p_{uk})$\n"
                "rows, columns of padding set to 0", "mix")
    d.arrow((200, emb.y1), (200, adj.y0))
    d.arrow(user.bottom, (ux, adj.y0))
    l1 = d.box(486, 136, 80, 38, "$\\lambda_1\\|\\mathbf{A}\\|_1$\nto the loss", "loss", size=FS_SMALL)
    d.arrow(adj.right, l1.left)
    norm = d.box(285, 192, 230, 36, "$\\hat{\\mathbf{A}} = \\mathbf{D}^{-1/2}(\\mathbf{A} + \\mathbf{I})\\,"
                 "\\mathbf{D}^{-1/2}$\nself-loops on real items only", "norm")
    d.arrow(adj.bottom, norm.top)
    d.text(norm.x1 + 8, 192, "switch: the public code\nruns $\\sigma(\\mathbf{e}_i\\cdot\\mathbf{e}_j)$, the same\n"
           "graph for every user")

    # ---- multi-level GCN ---------------------------------------------------------------------------
    d.frame(8, 216, 528, 336)
    d.text(521, 226, "multi-level GCN, levels $l = 0 \\ldots 3$", ha="right", size=FS, color=INK, weight="bold")
    conv = d.box(240, 258, 250, 36, "$\\mathbf{X}^{(l+1)} = \\mathrm{LeakyReLU}(\\hat{\\mathbf{A}}\\,\\mathbf{X}^{(l)}"
                 "\\mathbf{W}^{(l)} + \\mathbf{b}^{(l)})$\nlevel $l$ sees $l$ hops of the graph", "linear")
    d.arrow(norm.bottom, (norm.cx, conv.y0))
    d.text(conv.x1 + 10, 258, "switch: the public code\ncomputes every level from\n$\\mathbf{X}^{(0)}$ (one hop)")
    lw, lgap, lx0, ly = 76.0, 52.0, 40.0, 308.0
    levels = []
    for n in range(4):
        label = "$\\mathbf{X}^{(0)} = \\mathbf{E}$" if n == 0 else f"$\\mathbf{{X}}^{{({n})}}$"
        levels.append(d.box(lx0 + lw / 2 + n * (lw + lgap), ly, lw, 28, label, "data"))
        if n:
            a, b = levels[n - 1], levels[n]
            d.arrow(a.right, b.left)
            d.text((a.x1 + b.x0) / 2, ly - 11, f"$\\hat{{\\mathbf{{A}}}}, \\mathbf{{W}}^{{({n - 1})}}$",
                   ha="center", color=INK)
    d.arrow((levels[0].cx, emb.y1), levels[0].top)

    # ---- the router, once for all levels -----------------------------------------------------------
    bus = 348.0
    for b in levels:
        d.line(b.bottom, (b.cx, bus))
    d.line((levels[0].cx, bus), (levels[3].cx, bus))
    d.frame(8, 360, 528, 608)
    d.text(15, 370, "chapter 3's capsule router, shared by all levels", size=FS, color=INK, weight="bold")
    px = 330.0
    d.dot(px, bus)
    pred = d.box(px, 398, 252, 36, "predictions $\\hat{\\mathbf{u}}_{j|i} = \\mathbf{W}_{ij}\\,\\mathbf{x}_i$, "
                 "$K$ interests\none map per position $i$ and interest $j$", "linear")
    d.arrow((px, bus), pred.top)
    ry = 538.0  # the row of iterations
    init = d.box(58, ry, 84, 40, "$b_{ij} \\sim \\mathcal{N}(0, 1)$\nrandom start", "mix", size=FS_SMALL)
    it1 = d.box(172, ry, 100, 40, "iteration 1\nroutes $\\hat{\\mathbf{u}}$", "mix", size=FS_SMALL)
    it2 = d.box(300, ry, 100, 40, "iteration 2\nroutes $\\tilde{\\mathbf{u}}$", "mix", size=FS_SMALL)
    it3 = d.box(440, ry, 124, 40, "iteration 3 routes $\\hat{\\mathbf{u}}$\n"
                "→ $\\mathbf{v}_{l,1} \\ldots \\mathbf{v}_{l,K}$", "mix", size=FS_SMALL)
    for a, b in ((init, it1), (it1, it2), (it2, it3)):
        d.arrow(a.right, b.left)
        d.text((a.x1 + b.x0) / 2, ry - 11, "$b$", ha="center", color=INK)
    ubus = 430.0
    d.line(pred.bottom, (px, ubus))
    d.dot(px, ubus)
    d.line((it1.cx, ubus), (it3.cx, ubus))
    d.arrow((it1.cx, ubus), it1.top)
    d.arrow((it3.cx, ubus), it3.top)
    d.text(it1.cx + 6, ubus + 12, "$\\hat{\\mathbf{u}}$", color=INK)
    lstm = d.box(it2.cx, 460, 120, 32, "BiLSTM over $\\hat{\\mathbf{u}}_1 \\ldots \\hat{\\mathbf{u}}_L$\n"
                 "in time order → $\\mathbf{h}_i$", "linear", size=FS_SMALL, linespacing=1.2)
    d.dot(it2.cx, ubus)
    d.arrow((it2.cx, ubus), lstm.top)
    plus = d.node(it2.cx, 496)
    d.arrow(lstm.bottom, plus.top)
    tap = 378.0
    d.dot(tap, ubus)
    d.arrow((tap, ubus), (tap, plus.cy), plus.right)
    d.arrow(plus.bottom, it2.top)
    d.text(plus.x0 - 6, 496, "$\\tilde{\\mathbf{u}}_{j|i} = \\hat{\\mathbf{u}}_{j|i} + (\\mathbf{W}\\mathbf{h}_i)_j$",
           ha="right", color=INK)
    d.text(15, 584, "each iteration: $c_{ij} = \\mathrm{softmax}_j(b_{ij})$, "
           "$\\mathbf{s}_j = \\Sigma_i\\, c_{ij}\\mathbf{u}_{j|i}$, $\\mathbf{v}_j = \\mathrm{squash}(\\mathbf{s}_j)$,\n"
           "then (not after the last) $b_{ij} \\leftarrow b_{ij} + \\mathbf{u}_{j|i}\\cdot\\mathbf{v}_j$; "
           "one draw of $b$ for all levels")

    # ---- the interests of every level --------------------------------------------------------------
    gw, ggap, gy = 112.0, 12.0, 636.0
    groups = [d.box(28 + gw / 2 + n * (gw + ggap), gy, gw, 24,
                    f"$l = {n}$: $\\mathbf{{v}}_{{{n},1}} \\ldots \\mathbf{{v}}_{{{n},K}}$", "data", size=FS_SMALL)
              for n in range(4)]
    group = Box(270, gy, 496, 36)
    d.frame(group.x0, group.y0, group.x1, group.y1, color=blue)
    d.arrow(it3.bottom, (it3.cx, group.y0))
    d.text(it3.cx + 6, 584, "4 levels ×\n$K$ interests", color=INK)

    # ---- training and serving ----------------------------------------------------------------------
    obus = 668.0
    d.line((group.cx, group.y1), (group.cx, obus))
    d.dot(group.cx, obus)
    d.frame(8, 680, 226, 808, "serving: no target")
    d.frame(236, 680, 528, 808, "training: the next item $t$ is known")
    score = d.box(117, 750, 204, 56, "$\\mathrm{score}(i) = \\mathrm{max}_{l,k}\\; \\mathbf{v}_{lk}\\cdot\\mathbf{e}_i$\n"
                  "max over 4 levels × $K$ interests\n→ the top $N$ items", "loss", size=FS_SMALL)
    d.arrow((group.cx, obus), (150, obus), (150, score.y0))
    target = d.box(282, 728, 76, 40, "target $t$\n$\\mathbf{e}_t = \\mathbf{M}[t]$", "data", size=FS_SMALL)
    readout = d.box(430, 728, 180, 40, "label-aware readout, per level\n"
                    "$\\mathbf{u}_l = \\Sigma_k\\, \\mathrm{softmax}_k(\\mathbf{e}_t\\cdot\\mathbf{v}_{lk})\\,\\mathbf{v}_{lk}$",
                    "mix", size=FS_SMALL)
    d.arrow((group.cx, obus), (470, obus), (470, readout.y0))
    d.arrow(target.right, readout.left)
    loss = d.box(382, 780, 276, 40, "$\\Sigma_l$ sigmoid BCE of $\\mathbf{u}_l\\cdot\\mathbf{M}[c]$, $c$: the target (1)\n"
                 "and 5 uniform negatives (0);  $+\\ \\lambda_1\\|\\mathbf{A}\\|_1$", "loss", size=FS_SMALL)
    d.arrow((readout.cx, readout.y1), (readout.cx, loss.y0))
    d.arrow(l1.right, (rail, l1.cy), (rail, loss.cy), loss.right, color=purple)
    d.legend(8, 832, [("data", "vectors"), ("linear", "learned map"), ("norm", "normalisation"),
                      ("mix", "graph, routing"), ("loss", "score, loss")], columns=5,
             title=None)
    return d


# ---------------------------------------------------------------------------------------------------
# 12. PMGT (lessons_src/pmgt/graph.py, sampling.py, model.py, masking.py, losses.py, pretrain.py; ncf.py)


def pmgt() -> Diagram:
    d = Diagram(height=820)
    mx = 290.0  # the main column: node input, blocks
    rail = 500.0  # residual bypasses of the block

    # ---- the item graph of the early period --------------------------------------------------------
    early = d.box(88, 26, 160, 36, "ML-100k: the early half;\nToys: half of the users", "data",
                  size=FS_SMALL)
    graph = d.box(350, 26, 348, 36, "item graph: an edge where ≥ 3 users (Toys: 2) had both ($w_{uv}$)\n"
                  "$w'_{uv} = (\\log w_{uv} + 1)\\, /\\, (\\log\\sqrt{\\deg_u \\deg_v} + 1)$", "norm",
                  size=FS_SMALL)
    d.arrow(early.right, graph.left)

    # ---- MCNSampling -------------------------------------------------------------------------------
    f = 62.0
    d.frame(8, f, 532, f + 116)
    d.text(15, f + 10, "MCNSampling: the context of a centre item $h$", size=FS, color=INK, weight="bold")
    d.text(525, f + 10, "drawn afresh at every step", ha="right")
    d.arrow(graph.bottom, (graph.cx, f))
    centre = d.box(40, f + 42, 36, 34, "$h$", "data")
    hops = [d.box(130 + n * 146, f + 42, 126, 34, text, "mix", size=FS_SMALL, linespacing=1.25)
            for n, text in enumerate(["hop 1: 10 draws from $h$\n∝ $w'$, each adds $\\beta_1 = 3$",
                                      "hop 2: 5 from each\n(50 draws), $\\beta_2 = 2$",
                                      "hop 3: 2 from each\n(100 draws), $\\beta_3 = 1$"])]
    d.arrow(centre.right, hops[0].left)
    for a, b in zip(hops, hops[1:]):
        d.arrow(a.right, b.left)
    score = d.box(270, f + 88, 508, 36, "score$(v) = \\Sigma_{\\mathrm{hop}}\\, \\beta_{\\mathrm{hop}}\\cdot$"
                  "#draws of $v$ at that hop;  $h$ excluded (switch: the official code keeps it)\n"
                  "→ the top $K = 10$ by score (ties: smaller id), in score order: the context "
                  "$S_h = (s_1, \\ldots, s_{10})$", "loss", size=FS_SMALL)
    for b in hops:
        d.arrow(b.bottom, (b.cx, score.y0))

    # ---- the sequence and its masking ----------------------------------------------------------------
    tokens = ["$h$", "$s_1$", "$s_2$", "[M]", "$s_4$", "$\\ldots$", "[M]", "$s_{10}$"]
    ids = ["0", "1", "2", "3", "4", "", "9", "10"]
    tw, gap, t0, ty = 28.0, 3.0, 48.0, 204.0
    cells = []
    for n, (tok, pid) in enumerate(zip(tokens, ids)):
        x = t0 + n * (tw + gap) + tw / 2
        cells.append(d.box(x, ty, tw, 20, tok, "mask" if tok == "[M]" else "data", size=FS_SMALL, rounding=2))
        if pid:
            d.text(x, ty + 19, pid, ha="center")
    tend = t0 + len(tokens) * (tw + gap) - gap
    d.text(t0 - 6, ty + 19, "$s$ =", ha="right")
    d.arrow((cells[4].cx, score.y1), (cells[4].cx, ty - 10))
    d.text(tend + 12, ty + 5, "masking, as BERT: 2 of the 10 context\n"
           "positions (20 %), never $h$; each gets the\n"
           "[MASK] vector $\\mathbf{m}$ (80 %), a random item\n"
           "(10 %) or stays (10 %); targets: the originals")

    # ---- node input --------------------------------------------------------------------------------
    n0 = 240.0
    d.frame(8, n0, 532, n0 + 138)
    d.text(24, n0 + 10, "node input, at every position $s = 0 \\ldots K$", size=FS, color=INK, weight="bold")
    ry = (n0 + 38, n0 + 70)
    mods = [d.box(112, ry[0], 168, 26, "title: MiniLM embedding, 384-d", "data", size=FS_SMALL),
            d.box(112, ry[1], 168, 26, "genres (18) + decade (8), 26-d", "data", size=FS_SMALL)]
    lins = [d.box(238, y, 60, 26, f"$\\mathbf{{W}}_{m + 1}$ → 128", "linear", size=FS_SMALL)
            for m, y in enumerate(ry)]
    gate = d.box(408, n0 + 54, 236, 60, "fusion gate over the modalities present\n"
                 "$a_m = \\mathrm{softmax}_m(\\mathbf{q}^{\\top}\\tanh(\\mathbf{G}\\mathbf{h}_m))$\n"
                 "$\\mathbf{e} = \\Sigma_m\\, a_m\\, \\mathbf{h}_m$; no modality: a learned $\\mathbf{e}$",
                 "mix", size=FS_SMALL)
    for a, b in zip(mods, lins):
        d.arrow(a.right, b.left)
        d.arrow(b.right, (gate.x0, b.cy))
    lx = 15.0  # every id's raw features
    d.line(cells[0].left, (lx, ty), (lx, ry[0]))
    d.dot(lx, ry[0])
    d.arrow((lx, ry[0]), mods[0].left)
    d.arrow((lx, ry[0]), (lx, ry[1]), mods[1].left)
    x0 = d.box(mx, n0 + 112, 276, 34, "$\\mathbf{x}^{(0)}_s = \\mathrm{LayerNorm}(\\mathbf{e}_s + \\mathbf{p}_s)$, "
               "no dropout\n$\\mathbf{e}_s$ replaced by $\\mathbf{m}$ at the [M] drawn for it (80 %)", "norm",
               size=FS_SMALL)
    d.arrow(gate.bottom, (gate.cx, x0.y0))
    pos = d.box(78, n0 + 112, 116, 34, "position emb. $\\mathbf{p}_s$\n0: centre, 1 … $K$: rank", "data",
                size=FS_SMALL)
    d.arrow(pos.right, x0.left)

    # ---- the Transformer ---------------------------------------------------------------------------
    b0 = n0 + 148
    d.frame(8, b0, 532, b0 + 174, "block  × 2, post-norm (BERT's layout)")
    d.text(525, b0 + 10, "2 heads, hidden 128", ha="right")
    tap1, tap2 = b0 + 20, b0 + 104
    d.line(x0.bottom, (mx, tap1))
    d.dot(mx, tap1)
    attn = d.box(mx, b0 + 52, 340, 38, "diversity-promoting attention, padded keys blocked, $\\mathbf{W}^O$\n"
                 "$(1-\\alpha)\\,\\mathrm{softmax}(\\mathbf{Q}\\mathbf{K}^{\\top}/\\sqrt{d}) + "
                 "\\alpha\\,\\mathrm{softmax}(1 - \\cos(\\mathbf{x}_i, \\mathbf{x}_j) + \\mathbf{I})$",
                 "mix", size=FS_SMALL)
    d.arrow((mx, tap1), attn.top)
    d.text(16, attn.cy, "$\\alpha = 0.2$;\n$\\alpha = 0$: plain\nattention;\n$\\mathbf{x}$: the block's\ninput")
    add1 = d.box(mx, b0 + 90, 130, 20, "add & LayerNorm", "norm", size=FS_SMALL)
    d.arrow(attn.bottom, add1.top)
    d.line((mx, tap1), (rail, tap1), (rail, add1.cy))
    d.arrow((rail, add1.cy), add1.right)
    ffn = d.box(mx, b0 + 126, 240, 22, "feed-forward 128 → 64 → 128, GELU", "linear", size=FS_SMALL)
    d.dot(mx, tap2)
    d.arrow(add1.bottom, ffn.top)
    add2 = d.box(mx, b0 + 158, 130, 20, "add & LayerNorm", "norm", size=FS_SMALL)
    d.arrow(ffn.bottom, add2.top)
    d.line((mx, tap2), (rail, tap2), (rail, add2.cy))
    d.arrow((rail, add2.cy), add2.right)

    # ---- the two pre-training losses ---------------------------------------------------------------
    oy = b0 + 190
    d.line(add2.bottom, (mx, oy))
    d.dot(mx, oy)
    d.text(mx + 6, oy - 10, "$\\mathbf{x}^{(L)}_0 \\ldots \\mathbf{x}^{(L)}_K$", color=INK)
    ls = d.box(139, oy + 38, 254, 50, "$L_s$ (BCE) on pooled $\\mathbf{z}_v = \\mathbf{W}_p \\mathbf{x}^{(L)}_0 + "
               "\\mathbf{b}_p$\n"
               "$\\sigma(\\cos(\\mathbf{z}_c, \\mathbf{z}_p))$ → 1, $p$: a neighbour (∝ $w'$)\n"
               "$\\sigma(\\cos(\\mathbf{z}_c, \\mathbf{z}_n))$ → 0, $n$: a non-neighbour", "loss",
               size=FS_SMALL)
    lf = d.box(403, oy + 38, 254, 50, "masked node-feature reconstruction $L_f$:\n"
               "$\\|\\mathbf{W}'_m\\mathbf{x}^{(L)}_s - \\mathbf{x}_m(s)\\|^2 / d_m$ per modality present,\n"
               "at the masked positions $s$ only", "loss", size=FS_SMALL)
    for b in (ls, lf):
        d.arrow((mx, oy), (b.cx, oy), b.top)
    total = d.box(270, oy + 86, 520, 22, "$L = L_s + L_f$ over the sequences of $c$, $p$ and $n$ (each a centre);  "
                  "AdamW, lr $10^{-3}$, 20 epochs", "loss", size=FS_SMALL)
    for b in (ls, lf):
        d.arrow(b.bottom, (b.cx, total.y0))

    # ---- export and the downstream recommenders ----------------------------------------------------
    ey = oy + 138
    export = d.box(120, ey, 224, 46, "export: eval mode, a fixed-seed context,\n"
                   "nothing masked → unit-length $\\mathbf{z}_v$, 128-d\n"
                   "(switch: the official code still masks)", "data", size=FS_SMALL)
    d.arrow((export.cx, total.y1), export.top)
    d.text(export.cx + 6, (total.y1 + export.y0) / 2, "after pre-training", color=INK)
    pca = d.box(300, ey, 96, 40, "PCA to $d = 64$,\nrescaled", "linear", size=FS_SMALL)
    down = d.box(446, ey, 164, 46, "item table of NCF-MLP or\nNeuMF (both BPR) or SASRec,\n"
                 "trained on the later half", "data", size=FS_SMALL)
    d.arrow(export.right, pca.left)
    d.arrow(pca.right, down.left)
    by = ey + 48
    raw = d.box(120, by, 224, 24, "baseline: raw features, concatenated", "data", size=FS_SMALL)
    rnd = d.box(446, by, 164, 24, "baseline: random $\\mathcal{N}(0, \\sigma^2)$", "data", size=FS_SMALL)
    d.arrow(raw.right, (pca.cx, by), pca.bottom)
    d.arrow(rnd.top, down.bottom)
    for x, entries in ((8, [("data", "vectors, features"), ("linear", "learned map")]),
                       (190, [("norm", "normalisation"), ("mix", "sampling, gate, attention")]),
                       (372, [("mask", "masked position"), ("loss", "score, loss")])):
        d.legend(x, by + 28, entries, title=None)
    return d


FIGURES = {
    "sasrec_architecture.svg": sasrec,
    "distillation_architecture.svg": distillation,
    "capsnet_architecture.svg": capsnet,
    "interest_routing_architecture.svg": interest_routing,
    "routing_iteration.svg": routing_iteration,
    "mmrec_architecture.svg": mmrec,
    "attention_nan.svg": attention_nan,
    "evaluation_protocols.svg": evaluation_protocols,
    "ranking_distillation.svg": ranking_distillation,
    "capsule_vs_neuron.svg": capsule_vs_neuron,
    "mgnm_architecture.svg": mgnm,
    "pmgt_architecture.svg": pmgt,
}


def main(names: list[str]) -> int:
    problems = []
    for name, draw in FIGURES.items():
        if names and not {name, name.removesuffix(".svg"), draw.__name__} & set(names):
            continue
        problems += draw().save(name)
        print(f"wrote {OUT / name}")
    for p in problems:
        print("layout:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
