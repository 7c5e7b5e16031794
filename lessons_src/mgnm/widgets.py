"""What MGNM computes for one user, drawn kernel-free (:mod:`lessons_src.viz.static_widgets`):

- ``graph_explorer``: per user, the learned item graph A over the history and, per level l, how
  alike the history items have become after l convolutions (cosine of the rows of X⁽ˡ⁾);
- ``level_routing_explorer``: per user and level, which history items route to which interest.

Both take ``inspect(model, history, user)``'s arrays, so the notebook computes once and draws twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..training.device import evaluating
from ..viz.static_widgets import html_heatmap, linked_grid
from .model import MGNM


@torch.no_grad()
def inspect(model: MGNM, history: Sequence[int], user: int) -> dict[str, np.ndarray]:
    """One user's history (oldest first, ≤ maxlen items) → A (L, L), the cosine similarity of the
    items at every level (levels + 1, L, L) and the couplings (levels + 1, L, K).

    Routing starts from the model's fixed serving draw of the initial logits, so the picture is
    the one the recommendations come from."""
    if not 1 <= len(history) <= model.config.maxlen:
        raise ValueError(f"history: expected 1..{model.config.maxlen} items, got {len(history)}")
    device = next(model.parameters()).device
    items = torch.as_tensor(np.asarray(history, dtype=np.int64), device=device)[None]  # (1, L)
    users = torch.tensor([user], device=device)
    with evaluating(model):
        adjacency, graph = model.graph(items, users)
        levels = model.gcn(model.item_embedding(items), graph, items != 0)
        _, couplings, _ = model(items, users)
    unit = [F.normalize(x[0], dim=-1) for x in levels]  # (L, d) each
    similarity = torch.stack([u @ u.T for u in unit])  # (levels + 1, L, L)
    return {"adjacency": adjacency[0].cpu().numpy(), "similarity": similarity.cpu().numpy(),
            "couplings": couplings[0].cpu().numpy(), "history": np.asarray(history)}


def _labels(history: np.ndarray, item_label: Callable[[int], str] | None) -> list[str]:
    item_label = item_label or (lambda item: f"item {item}")
    return [f"{position + 1}. {item_label(int(item))}" for position, item in enumerate(history)]


def graph_explorer(views: Sequence[dict], names: Sequence[str], item_label: Callable[[int], str] | None = None):
    """Dropdown (user) × slider (what to show: the graph A, then level 0 … L) → a heatmap page."""
    import ipywidgets as widgets

    n_levels = views[0]["similarity"].shape[0]
    options = ["edge weights A_ij"] + [f"level {level}: cos(x_i, x_j)" for level in range(n_levels)]
    pages = {}
    for u, view in enumerate(views):
        labels = _labels(view["history"], item_label)
        short = [str(p + 1) for p in range(len(labels))]
        pages[(u, 0)] = html_heatmap(view["adjacency"], labels, short,
                                     f"{names[u]}: learned edge weights A_ij = σ(Σ_k e_ik e_jk p_uk)", cell=30)
        for level in range(n_levels):
            pages[(u, level + 1)] = html_heatmap(
                view["similarity"][level], labels, short,
                f"{names[u]}: cosine of history items after {level} convolution(s)", vmin=-1.0, cell=30)
    user = widgets.Dropdown(options=list(names), description="user")
    what = widgets.SelectionSlider(options=options, description="show", style={"description_width": "initial"})
    return widgets.VBox([widgets.HBox([user, what]), linked_grid(pages, [user, what])])


def level_routing_explorer(views: Sequence[dict], names: Sequence[str],
                           item_label: Callable[[int], str] | None = None):
    """Dropdown (user) × slider (level) → coupling heatmap: rows = history items, columns = interests."""
    import ipywidgets as widgets

    n_levels, _, k = views[0]["couplings"].shape
    pages = {}
    for u, view in enumerate(views):
        labels = _labels(view["history"], item_label)
        for level in range(n_levels):
            pages[(u, level)] = html_heatmap(
                view["couplings"][level], labels, [f"interest {j + 1}" for j in range(k)],
                f"{names[u]}, level {level}: coupling c_ij (rows sum to 1)", cell=64)
    user = widgets.Dropdown(options=list(names), description="user")
    level = widgets.SelectionSlider(options=[f"level {level}" for level in range(n_levels)], description="level")
    return widgets.VBox([widgets.HBox([user, level]), linked_grid(pages, [user, level])])


@torch.no_grad()
def mean_level_cosine(model: MGNM, histories: torch.Tensor, users: torch.Tensor) -> np.ndarray:
    """How alike two different items of one history are at each level: the mean cosine of x_i and
    x_j (i ≠ j, both real) over the batch, per level. histories (B, L) left-padded, users (B,)
    → (levels + 1,). Values near 1 mean the level has smoothed the history into one vector."""
    real = histories != 0
    with evaluating(model):
        _, graph = model.graph(histories, users)
        levels = model.gcn(model.item_embedding(histories), graph, real)
    pairs = (real.unsqueeze(2) & real.unsqueeze(1)) & ~torch.eye(histories.shape[1], dtype=torch.bool,
                                                                  device=histories.device)
    means = []
    for x in levels:
        unit = F.normalize(x, dim=-1)
        cosine = unit @ unit.transpose(1, 2)  # (B, L, L)
        means.append(float(cosine[pairs].mean()))
    return np.array(means)
