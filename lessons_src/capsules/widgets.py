"""What routing computes, drawn: coupling coefficients, capsule lengths, the decoder, user interests.

The widgets are pre-rendered (:mod:`lessons_src.viz.static_widgets`): their sliders work in the
HTML book without a kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor, nn

from ..viz.static_widgets import array_png, html_bars, html_heatmap, linked_stack, png_tag

DIGITS = [str(d) for d in range(10)]


def coefficients_by_type(coefficients: Tensor, n_types: int) -> Tensor:
    """Mean c_ij over the grid positions of each primary-capsule type.

    ``coefficients`` (..., n_primary, n_out) with primary capsules ordered type-major (as
    ``PrimaryCaps`` lays them out: index = type · H·W + position) → (..., n_types, n_out).
    """
    *lead, n_primary, n_out = coefficients.shape
    if n_primary % n_types:
        raise ValueError(f"{n_primary} primary capsules do not split into {n_types} types")
    return coefficients.reshape(*lead, n_types, n_primary // n_types, n_out).mean(-2)


def routing_explorer(snapshot: dict, n_types: int, images: Sequence[int] | None = None):
    """Sliders (test image, iteration) → coupling heatmap (capsule types × digits) and digit lengths."""
    import ipywidgets as widgets

    coefficients = snapshot["coefficients"]  # (R, n, n_primary, 10)
    lengths = snapshot["lengths_by_iteration"]  # (R, n, 10)
    iterations = coefficients.shape[0]
    images = list(images if images is not None else range(coefficients.shape[1]))
    grouped = coefficients_by_type(coefficients, n_types)  # (R, n, types, 10)
    per_image, iteration_sliders = [], []
    for index in images:
        label = int(snapshot["labels"][index])
        pages = []
        for r in range(iterations):
            winner = int(lengths[r, index].argmax())
            heat = html_heatmap(grouped[r, index].numpy(), [f"type {t}" for t in range(n_types)], DIGITS,
                                f"iteration {r + 1}: mean c_ij per primary-capsule type (rows sum to 1)",
                                vmin=0.0, vmax=max(0.5, float(grouped[:, index].max())), fmt="{:.2f}", cell=30)
            bars = html_bars(lengths[r, index].tolist(), DIGITS,
                             f"|v_j| after iteration {r + 1}: longest = {winner} (label {label})",
                             highlight=label, vmax=1.0, fmt="{:.2f}", width=30)
            pages.append(f'<div style="display:flex;gap:18px;align-items:flex-start">{heat}{bars}</div>')
        # opens on the last iteration: what routing ends with (iteration 1 is uniform by construction)
        slider, stack = linked_stack(pages, [f"iteration {r + 1}" for r in range(iterations)], "routing",
                                     start=iterations - 1)
        iteration_sliders.append(slider)
        picture = widgets.HTML(png_tag(array_png(snapshot["images"][index].numpy()), 84, f"test image {index}"))
        per_image.append(widgets.HBox([picture, stack]))
    for other in iteration_sliders[1:]:
        widgets.jslink((iteration_sliders[0], "index"), (other, "index"))
    image_slider, image_stack = linked_stack(
        per_image, [f"#{i}: {int(snapshot['labels'][i])}" for i in images], "test image")
    return widgets.VBox([widgets.HBox([image_slider, iteration_sliders[0]]), image_stack])


def plot_length_growth(snapshot: dict, ax=None):
    """The label's capsule length and the longest other capsule's, at every routing iteration."""
    lengths = snapshot["lengths_by_iteration"]  # (R, n, 10)
    labels = snapshot["labels"]
    iterations = np.arange(1, lengths.shape[0] + 1)
    rows = torch.arange(lengths.shape[1])
    right = lengths[:, rows, labels].numpy()  # (R, n)
    others = lengths.clone()
    others[:, rows, labels] = -1
    best_other = others.amax(-1).numpy()  # (R, n)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6), constrained_layout=True)
    ax.plot(iterations, right, "-", color="tab:orange", alpha=0.6)
    ax.plot(iterations, best_other, "--", color="tab:blue", alpha=0.6)
    ax.plot([], [], "-", color="tab:orange", label="capsule of the true digit")
    ax.plot([], [], "--", color="tab:blue", label="longest other capsule")
    ax.set_xticks(iterations)
    ax.set_xlabel("routing iteration")
    ax.set_ylabel("capsule length |v_j|")
    ax.set_ylim(0, 1)
    ax.set_title("Routing by agreement sharpens the decision", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def decoder_from_state(state: dict, n_classes: int = 10, digit_dim: int = 16,
                       hidden: Sequence[int] = (512, 1024), image_size: int = 28) -> nn.Sequential:
    """Rebuild CapsNet's decoder (Linear-ReLU-Linear-ReLU-Linear-Sigmoid) from saved weights."""
    decoder = nn.Sequential(nn.Linear(n_classes * digit_dim, hidden[0]), nn.ReLU(),
                            nn.Linear(hidden[0], hidden[1]), nn.ReLU(),
                            nn.Linear(hidden[1], image_size ** 2), nn.Sigmoid())
    decoder.load_state_dict(state)
    return decoder.eval()


@torch.no_grad()
def perturbed_reconstructions(decoder: nn.Module, capsules: Tensor, digit: int,
                              offsets: Sequence[float]) -> Tensor:
    """Paper Fig. 4: add each offset to each dimension of capsule ``digit`` and decode.

    ``capsules`` (10, 16) of one image → (16, len(offsets), 28, 28); all other capsules masked to 0.
    """
    n_classes, dim = capsules.shape
    offsets = torch.as_tensor(offsets, dtype=capsules.dtype)
    tweaked = capsules[digit].repeat(dim, len(offsets), 1)  # (16, S, 16)
    tweaked[torch.arange(dim), :, torch.arange(dim)] += offsets  # dimension d of row d moves
    masked = torch.zeros(dim, len(offsets), n_classes, dim)
    masked[:, :, digit] = tweaked
    pixels = decoder(masked.flatten(2))  # (16, S, 784)
    side = int(round(pixels.shape[-1] ** 0.5))
    return pixels.view(dim, len(offsets), side, side)


def perturbation_explorer(decoder: nn.Module, snapshot: dict, index: int,
                          offsets: Sequence[float] = (-0.25, -0.2, -0.15, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2, 0.25)):
    """Sliders (dimension, offset) → the reconstruction of test image ``index`` with one dimension moved."""
    import ipywidgets as widgets

    capsules = snapshot["digit_capsules"][index]  # (10, 16)
    digit = int(capsules.norm(dim=-1).argmax())
    images = perturbed_reconstructions(decoder, capsules, digit, offsets)  # (16, S, 28, 28)
    per_dimension, offset_sliders = [], []
    for d in range(images.shape[0]):
        pages = [png_tag(array_png(images[d, s].numpy(), 4), 112, f"dimension {d}, offset {o:+.2f}")
                 for s, o in enumerate(offsets)]
        slider, stack = linked_stack(pages, [f"{o:+.2f}" for o in offsets], "offset")
        slider.index = len(offsets) // 2
        offset_sliders.append(slider)
        per_dimension.append(stack)
    for other in offset_sliders[1:]:
        widgets.jslink((offset_sliders[0], "index"), (other, "index"))
    dim_slider, dim_stack = linked_stack(per_dimension, [str(d) for d in range(images.shape[0])], "dimension")
    original = widgets.HTML(png_tag(array_png(snapshot["images"][index].numpy(), 4), 112, "input image"))
    caption = widgets.HTML(f"input (left) and the decoder's reconstruction from capsule {digit} (right)")
    return widgets.VBox([widgets.HBox([dim_slider, offset_sliders[0]]), caption, widgets.HBox([original, dim_stack])])


def plot_perturbation_grid(decoder: nn.Module, snapshot: dict, index: int, dimensions: Sequence[int],
                           offsets: Sequence[float] = (-0.25, -0.15, -0.05, 0.05, 0.15, 0.25)):
    """A static Fig. 4: rows = capsule dimensions, columns = offsets."""
    capsules = snapshot["digit_capsules"][index]
    digit = int(capsules.norm(dim=-1).argmax())
    images = perturbed_reconstructions(decoder, capsules, digit, offsets)
    fig, axes = plt.subplots(len(dimensions), len(offsets), figsize=(1.2 * len(offsets), 1.25 * len(dimensions)),
                             squeeze=False, constrained_layout=True)
    for row, d in enumerate(dimensions):
        for col, offset in enumerate(offsets):
            ax = axes[row, col]
            ax.imshow(images[d, col].numpy(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"{offset:+.2f}", fontsize=8)
            if col == 0:
                ax.set_ylabel(f"dim {d}", fontsize=8)
    fig.suptitle(f"Capsule {digit}: one dimension moved at a time", fontsize=10)
    return fig


def interest_routing_view(tables: Sequence[np.ndarray], histories: Sequence[np.ndarray], names: Sequence[str],
                          item_label: Callable[[int], str] | None = None):
    """Slider over users → heatmap of which history items (rows, oldest first) route to which interest.

    ``item_label(item)`` names a row (default ``"item <id>"``; e.g. a movie title on MovieLens)."""
    item_label = item_label or (lambda item: f"item {item}")
    pages = []
    for table, history, name in zip(tables, histories, names):
        k = table.shape[1]
        if len(history) != len(table):
            raise ValueError(f"{name}: {len(history)} history items but {len(table)} rows of couplings")
        pages.append(html_heatmap(table, [item_label(int(i)) for i in history], [f"interest {j + 1}" for j in range(k)],
                                  f"{name}: coupling c_ij of each history item (rows sum to 1)", cell=64))
    slider, stack = linked_stack(pages, list(names), "user")
    import ipywidgets as widgets

    return widgets.VBox([slider, stack])
