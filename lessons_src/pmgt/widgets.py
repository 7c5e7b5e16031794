"""What PMGT computes for one item, rendered in advance so that the HTML book needs no kernel.

For each chosen item: its MCNSampling context drawn as a graph (rings by hop, colour by hop, node
size by the centre's attention), the attention of the centre over [itself, its context], and its
nearest neighbours in the PMGT embedding next to those in the raw-feature space.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..training.device import evaluating
from ..viz.static_widgets import figure_png, html_bars, linked_stack, png_tag
from .model import PMGT
from .pretrain import sequences_of
from .sampling import ContextSampler

HOP_COLOURS = {0: "#d95f02", 1: "#1b9e77", 2: "#7570b3", 3: "#e7298a"}


def inspect_item(model: PMGT, sampler: ContextSampler, item: int, seed: int = 0) -> dict:
    """The context of ``item`` (seeded draw), its hops and scores, the centre's attention in the last
    block (mean over heads, over [centre, context…]) and the graph weights among those nodes."""
    contexts = sampler.sample(torch.tensor([item]), torch.Generator().manual_seed(seed))
    real = contexts.items[0] >= 0
    ids = sequences_of(torch.tensor([item]), contexts.items)[:, :1 + int(real.sum())]  # (1, S)
    with evaluating(model):
        attention = model.attention_maps(ids.to(next(model.parameters()).device))[-1][0].mean(0)[0]  # (S,)
    nodes = ids[0].tolist()
    weights = np.zeros((len(nodes), len(nodes)))
    graph = sampler.indptr.numpy(), sampler.indices.numpy(), np.diff(sampler.cumulative0.numpy())
    for a, u in enumerate(nodes):
        row = slice(graph[0][u], graph[0][u + 1])
        lookup = dict(zip(graph[1][row].tolist(), graph[2][row].tolist()))
        for b, v in enumerate(nodes):
            weights[a, b] = lookup.get(v, 0.0)
    return {"nodes": nodes, "hops": [0] + contexts.hops[0, real].tolist(),
            "scores": [0.0] + contexts.scores[0, real].tolist(), "attention": attention.cpu().numpy(),
            "weights": weights}


def nearest(vectors: torch.Tensor, item: int, k: int = 5) -> list[int]:
    """The k items of largest cosine to ``item`` (itself and the padding row 0 excluded)."""
    unit = F.normalize(vectors.float(), dim=-1)
    cosine = unit @ unit[item]
    cosine[item] = cosine[0] = -float("inf")
    return cosine.topk(k).indices.tolist()


def neighbourhood_png(view: dict, label: Callable[[int], str], title: str) -> bytes:
    """The context as a graph: the centre in the middle, hop h on the ring of radius h."""
    import matplotlib.pyplot as plt

    nodes, hops, attention = view["nodes"], view["hops"], view["attention"]
    angle = np.linspace(0, 2 * np.pi, len(nodes), endpoint=False) + 0.3
    radius = np.array(hops, dtype=float)
    xy = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    top = max(view["weights"].max(), 1e-12)
    for a in range(len(nodes)):
        for b in range(a + 1, len(nodes)):
            if view["weights"][a, b] > 0:
                ax.plot(*xy[[a, b]].T, color="0.6", lw=0.4 + 2.0 * view["weights"][a, b] / top, zorder=1)
    sizes = 120 + 1800 * attention / max(attention.max(), 1e-12)
    ax.scatter(*xy.T, s=sizes, c=[HOP_COLOURS.get(h, "0.5") for h in hops], zorder=2, edgecolors="white")
    for (x, y), node in zip(xy, nodes):
        ax.annotate(label(node)[:28], (x, y), xytext=(0, -14), textcoords="offset points", ha="center",
                    fontsize=8)
    for hop, colour in HOP_COLOURS.items():
        if hop in hops:
            ax.scatter([], [], c=colour, label="centre" if hop == 0 else f"first drawn at hop {hop}")
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
    ax.axis("off")
    return figure_png(fig, dpi=80, colours=64)


def _neighbour_table(pmgt: list[int], raw: list[int], label: Callable[[int], str]) -> str:
    rows = "".join(f"<tr><td>{i + 1}</td><td>{html.escape(label(a))}</td><td>{html.escape(label(b))}</td></tr>"
                   for i, (a, b) in enumerate(zip(pmgt, raw)))
    return ('<table style="font-size:12px;border-collapse:collapse"><tr><th></th><th>PMGT embedding</th>'
            f"<th>raw features</th></tr>{rows}</table>")


def item_explorer(views: Sequence[dict], pmgt_vectors: torch.Tensor, raw_vectors: torch.Tensor,
                  label: Callable[[int], str], k: int = 5):
    """A slider over the items of ``views`` → graph, attention bars and nearest neighbours."""
    import ipywidgets as widgets

    pages, names = [], []
    for view in views:
        centre = view["nodes"][0]
        picture = png_tag(neighbourhood_png(view, label, f"context of {label(centre)}"), 480,
                          f"context graph of {label(centre)}")
        bars = html_bars(view["attention"], [str(i) for i in range(len(view["nodes"]))],
                         "centre's attention over [centre (0), context 1 … K] — last block, mean of heads",
                         highlight=0, width=34)
        table = _neighbour_table(nearest(pmgt_vectors, centre, k), nearest(raw_vectors, centre, k), label)
        pages.append(f'<div style="display:flex;gap:16px;flex-wrap:wrap"><div>{picture}</div>'
                     f"<div>{bars}<div style='margin-top:12px'>{table}</div></div></div>")
        names.append(label(centre)[:40])
    slider, stack = linked_stack(pages, names, "item")
    return widgets.VBox([slider, stack])
