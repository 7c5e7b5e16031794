"""Figures and widgets that show what SASRec's attention computes.

``plot_attention`` draws, for one user, the allowed-mask (causal ∧ not padding) next to the learned
attention weights of one block. ``attention_explorer`` pre-renders it for every model × user × block
into ipywidgets that work without a kernel (in the HTML book too); ``attention_grid`` draws several
users × blocks at once as one static figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..training.device import evaluating
from ..evaluation.ranking import left_pad
from ..viz.plots import heatmap
from .model import SASRec, attention_mask


@torch.no_grad()
def attention_for(model: SASRec, history: np.ndarray, window: int | None = None):
    """Last ``window`` steps of ``history`` → (items (W,), allowed (W, W), weights [blocks] (H, W, W))."""
    window = window or model.config.maxlen
    items = left_pad([history], window)  # (1, W)
    seq = torch.as_tensor(items, device=next(model.parameters()).device)
    with evaluating(model):
        _, weights = model.encode(seq, return_weights=True)
    allowed = attention_mask(seq, model.config.mask_padding_keys)[0].cpu().numpy()
    return items[0], allowed, [w[0].cpu().numpy() for w in weights]


def _trim(items: np.ndarray, show_padding: int) -> slice:
    """Show the real items plus ``show_padding`` padding positions before them."""
    first_real = int(np.argmax(items != 0)) if (items != 0).any() else len(items)
    return slice(max(0, first_real - show_padding), len(items))


def plot_attention(model, history, block=0, head=0, window=None, show_padding=3, axes=None, title=""):
    """Two heatmaps: where attention is allowed, and the learned weights of ``block``/``head``."""
    items, allowed, weights = attention_for(model, history, window)
    keep = _trim(items, show_padding)
    labels = [str(i) if i else "pad" for i in items[keep]]
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    panels = [(allowed[keep, keep].astype(float), "allowed: causal ∧ (real key ∨ self)", "Greys", None),
              (weights[block][head][keep, keep], f"attention weights, block {block + 1}", "viridis", "weight")]
    for ax, (matrix, name, cmap, colorbar) in zip(axes, panels):
        heatmap(matrix, ax=ax, row_labels=labels, col_labels=labels, vmin=0, vmax=1, cmap=cmap,
                colorbar=colorbar, max_ticks=15)
        ax.set_title(f"{title}{name}", fontsize=10)
        ax.set_xlabel("key: item attended to")
        ax.set_ylabel("query: position (item id)")
    return axes


def attention_grid(model, histories: Sequence[np.ndarray], names: Sequence[str], window=None, show_padding=2):
    """Static small multiples: one row per user, one column per block (head 0), one colour scale."""
    n_blocks = model.config.n_blocks
    fig, axes = plt.subplots(len(histories), n_blocks, figsize=(3.9 * n_blocks, 3.4 * len(histories)),
                             squeeze=False, constrained_layout=True)
    for row, (history, name) in enumerate(zip(histories, names)):
        items, _, weights = attention_for(model, history, window)
        keep = _trim(items, show_padding)
        for block in range(n_blocks):
            ax = axes[row, block]
            heatmap(weights[block][0][keep, keep], ax=ax, vmin=0, vmax=1, colorbar="attention weight")
            ax.set_title(f"{name} — block {block + 1}", fontsize=9)
            ax.set_xlabel("key position")
            ax.set_ylabel("query position")
    return fig


def attention_explorer(models, split, users: Sequence[int], stage: str = "test", *, block: int | None = None,
                       dpi: int = 80, width: int = 640):
    """Pick a model, a user and a block; see the mask and the weights — in the HTML book too (no kernel).

    ``models`` is one SASRec or a dict name → SASRec (e.g. a fully trained, an early and an untrained
    checkpoint). Every (model, user, block) state is drawn in advance by :func:`plot_attention` into a
    64-colour PNG (``dpi``, shown ``width`` px wide: ~10 kB) and the three controls pick the page of a
    nested ``Stack`` in the browser (:func:`~lessons_src.viz.static_widgets.linked_grid`). It opens on the first model,
    the first user and ``block`` (1-based; default the last block, whose weights are the sharpest).
    A model with fewer blocks than the others shows its last block for the missing ones.
    """
    import ipywidgets as widgets

    from ..viz.static_widgets import figure_png, linked_grid, png_tag

    models = models if isinstance(models, dict) else {"model": models}
    users = [int(u) for u in users]
    if not models or not users:
        raise ValueError(f"need at least one model and one user, got {len(models)} models and {len(users)} users")
    n_blocks = max(m.config.n_blocks for m in models.values())
    block = n_blocks if block is None else block
    if not 1 <= block <= n_blocks:
        raise ValueError(f"block must lie in 1..{n_blocks}, got {block}")
    histories = [split.history(u, stage) for u in users]
    wide = {"description_width": "initial"}
    which = widgets.Dropdown(options=list(models), index=0, description="model", style=wide)
    who = widgets.Dropdown(options=[f"user {u} ({len(h)} items)" for u, h in zip(users, histories)], index=0,
                           description="user", style=wide)
    depth = widgets.SelectionSlider(options=[f"block {b + 1}" for b in range(n_blocks)], index=block - 1,
                                    description="block", continuous_update=True, style=wide)
    pages = {}
    for m, (name, model) in enumerate(models.items()):
        for u, (user, history) in enumerate(zip(users, histories)):
            for b in range(n_blocks):
                shown = min(b, model.config.n_blocks - 1)
                label = f"{name} · user {user} · block {b + 1}"
                if shown != b:
                    label += f" (the model has {model.config.n_blocks}: block {shown + 1} shown)"
                fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.5), constrained_layout=True)
                plot_attention(model, history, block=shown, axes=axes)
                fig.suptitle(label, fontsize=11)
                pages[m, u, b] = png_tag(figure_png(fig, dpi=dpi, colours=64), width, label)
    shown_page = linked_grid(pages, [which, who, depth])
    return widgets.VBox([widgets.HBox([which, who, depth], layout=widgets.Layout(flex_flow="row wrap")),
                         shown_page])


@torch.no_grad()
def attention_by_distance(model: SASRec, histories: Sequence[np.ndarray], max_distance: int = 15, window=None):
    """Mean attention weight a query gives to the item ``d`` steps back, per block.

    Returns (weights (n_blocks, max_distance + 1), uniform (max_distance + 1,)) where ``uniform`` is
    what attention spread evenly over the allowed keys would give at the same (query, key) pairs.
    Only real queries and real keys count; heads are averaged.
    """
    window = window or model.config.maxlen
    device = next(model.parameters()).device
    seq = torch.as_tensor(left_pad(histories, window), device=device)  # (U, W)
    with evaluating(model):
        _, weights = model.encode(seq, return_weights=True)
    real = seq != 0
    allowed = attention_mask(seq, model.config.mask_padding_keys) & real[:, :, None] & real[:, None, :]
    positions = torch.arange(window, device=device)
    distance = (positions[:, None] - positions[None, :]).expand_as(allowed)  # query − key: (U, W, W)
    uniform = 1.0 / allowed.sum(-1, keepdim=True).clamp(min=1)  # (U, W, 1) → per allowed key
    out = np.zeros((len(weights), max_distance + 1))
    even = np.zeros(max_distance + 1)
    for d in range(max_distance + 1):
        pick = allowed & (distance == d)
        if pick.any():
            even[d] = uniform.expand_as(allowed)[pick].mean().item()
            for block, w in enumerate(weights):
                out[block, d] = w.mean(1)[pick].mean().item()  # mean over heads, then pairs
    return out, even
