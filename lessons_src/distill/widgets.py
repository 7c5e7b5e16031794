"""What distillation transfers, drawn: softened distributions, class similarity, the loss terms.

Every widget here is pre-rendered (see :mod:`lessons_src.viz.static_widgets`), so its sliders
work in the HTML book without a kernel as well as in a live notebook.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from ..viz.plots import heatmap
from ..viz.static_widgets import figure_png, html_bars, linked_stack, png_tag
from .losses import distillation_loss, soften

DIGITS = [str(d) for d in range(10)]


def entropy_bits(probabilities: Tensor) -> Tensor:
    """H(p) = −Σ_i p_i log₂ p_i over the last axis, in bits (0 for a one-hot, log₂ C for uniform)."""
    p = probabilities.clamp_min(1e-30)
    return -(probabilities * p.log2()).sum(-1)


def digit_png(image: Tensor | np.ndarray, label: str) -> bytes:
    """A small grey image of one MNIST digit."""
    fig, ax = plt.subplots(figsize=(1.4, 1.4))
    ax.imshow(np.asarray(image), cmap="gray_r")
    ax.set_title(label, fontsize=9)
    ax.axis("off")
    return figure_png(fig, dpi=90)


def temperature_explorer(logits: Tensor, images: Tensor, labels: Tensor, indices: Sequence[int],
                         temperatures: Sequence[float] = (1, 2, 3, 5, 8, 12, 20, 40)):
    """Two sliders (test image, temperature) → the teacher's softmax(v/T) as bars, with its entropy."""
    import ipywidgets as widgets

    temperature_labels = [f"T = {t:g}" for t in temperatures]
    per_image, temperature_sliders = [], []
    for index in indices:
        v = logits[index].float()
        pages = []
        for t in temperatures:
            p = soften(v, float(t))
            title = (f"softmax(v / {t:g}) — entropy {entropy_bits(p):.2f} bits "
                     f"(max {np.log2(len(p)):.2f}); predicted {int(v.argmax())}")
            pages.append(html_bars(p.tolist(), DIGITS, title, highlight=int(labels[index]), vmax=1.0, fmt="{:.2f}"))
        slider, stack = linked_stack(pages, temperature_labels, "temperature")
        temperature_sliders.append(slider)
        picture = widgets.HTML(png_tag(digit_png(images[index], f"test image {index}, label {int(labels[index])}"),
                                       120, f"test digit {index}"))
        per_image.append(widgets.HBox([picture, stack]))
    # one visible temperature slider drives every image's stack
    for other in temperature_sliders[1:]:
        widgets.jslink((temperature_sliders[0], "index"), (other, "index"))
    image_slider, image_stack = linked_stack(per_image, [f"#{i} ({int(labels[i])})" for i in indices], "test image")
    return widgets.VBox([widgets.HBox([image_slider, temperature_sliders[0]]), image_stack])


def class_similarity(logits: Tensor, labels: Tensor, temperature: float, n_classes: int = 10) -> Tensor:
    """S[a, b] = mean over test images of class a of softmax(v/T)_b: (C, C), rows sum to one."""
    p = soften(logits.float(), temperature)  # (N, C)
    out = torch.zeros(n_classes, n_classes)
    out.index_add_(0, labels.cpu(), p.cpu())
    return out / torch.bincount(labels.cpu(), minlength=n_classes).clamp_min(1)[:, None]


def plot_class_similarity(similarity: Tensor, temperature: float, ax=None, vmax: float | None = None):
    """Heatmap of the off-diagonal mass: which wrong digits the teacher finds alike.

    ``vmax`` fixes the top of the colour scale, so that panels for several temperatures share one
    scale; by default each panel is scaled to its own largest off-diagonal value.
    """
    matrix = similarity.clone().numpy()
    np.fill_diagonal(matrix, np.nan)  # the right class dwarfs everything else
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.4), constrained_layout=True)
    heatmap(matrix, ax=ax, row_labels=DIGITS, col_labels=DIGITS, vmin=0.0, vmax=vmax, cmap="magma_r",
            colorbar="mean probability")
    ax.set_xlabel("class b the teacher also gives probability to")
    ax.set_ylabel("true class a")
    ax.set_title(f"mean softmax(v/T) off the diagonal, T = {temperature:g}", fontsize=10)
    return ax


def most_similar_pairs(similarity: Tensor, top: int = 5) -> list[tuple[int, int, float]]:
    """The ``top`` unordered digit pairs with the largest symmetrised off-diagonal mass."""
    symmetric = (similarity + similarity.T) / 2
    pairs = [(a, b, float(symmetric[a, b])) for a in range(10) for b in range(a + 1, 10)]
    return sorted(pairs, key=lambda pair: -pair[2])[:top]


def loss_terms(student_logits: Tensor, teacher_logits: Tensor, labels: Tensor, temperature: float) -> dict:
    """Soft term T²·KL, hard term CE, and the size of each one's gradient w.r.t. the student logits."""
    z = student_logits.detach().clone().requires_grad_(True)
    _, soft, hard = distillation_loss(z, teacher_logits, labels, temperature, 0.5, return_parts=True)
    (soft_grad,) = torch.autograd.grad(soft, z, retain_graph=True)
    (hard_grad,) = torch.autograd.grad(hard, z)
    return {"soft": soft.item(), "hard": hard.item(),
            "soft_grad": float(soft_grad.norm()), "hard_grad": float(hard_grad.norm())}


def loss_explorer(student_logits: Tensor, teacher_logits: Tensor, labels: Tensor,
                  alphas: Sequence[float] = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0),
                  temperatures: Sequence[float] = (1, 2, 4, 8, 20), start: tuple[float, float] = (0.9, 20)):
    """Sliders α and T → how much each term contributes to the loss and to its gradient; opens on
    ``start`` = (α, T), Hinton et al.'s setting (the one the chapter trains with)."""
    import ipywidgets as widgets

    alpha_labels = [f"α = {a:g}" for a in alphas]
    start_alpha = list(alphas).index(start[0]) if start[0] in alphas else 0
    start_t = list(temperatures).index(start[1]) if start[1] in temperatures else 0
    per_temperature, alpha_sliders = [], []
    for t in temperatures:
        terms = loss_terms(student_logits, teacher_logits, labels, float(t))
        pages = []
        for a in alphas:
            values = [a * terms["soft"], (1 - a) * terms["hard"], a * terms["soft_grad"], (1 - a) * terms["hard_grad"]]
            title = (f"T = {t:g}, α = {a:g}: loss = {values[0] + values[1]:.3f}; "
                     f"unweighted T²·KL = {terms['soft']:.3f}, CE = {terms['hard']:.3f}")
            pages.append(html_bars(values, ["α·T²·KL", "(1−α)·CE", "‖∇ soft‖", "‖∇ hard‖"], title, width=96,
                                   vmax=max(terms["soft"], terms["hard"], terms["soft_grad"], terms["hard_grad"])))
        slider, stack = linked_stack(pages, alpha_labels, "weight α", start=start_alpha)
        alpha_sliders.append(slider)
        per_temperature.append(stack)
    for other in alpha_sliders[1:]:
        widgets.jslink((alpha_sliders[0], "index"), (other, "index"))
    t_slider, t_stack = linked_stack(per_temperature, [f"T = {t:g}" for t in temperatures], "temperature",
                                     start=start_t)
    return widgets.VBox([widgets.HBox([t_slider, alpha_sliders[0]]), t_stack])


def plot_temperature_sweep(student_logits: Tensor, teacher_logits: Tensor, labels: Tensor,
                           temperatures: Sequence[float] = (1, 2, 3, 5, 8, 12, 20, 30, 50)):
    """The soft term's gradient with and without the T² factor, against T (log axes)."""
    with_t2 = np.array([loss_terms(student_logits, teacher_logits, labels, float(t))["soft_grad"] for t in temperatures])
    without = with_t2 / np.square(np.asarray(temperatures, dtype=float))
    hard = loss_terms(student_logits, teacher_logits, labels, 1.0)["hard_grad"]
    fig, ax = plt.subplots(figsize=(6, 3.6), constrained_layout=True)
    ax.loglog(temperatures, with_t2, "o-", label="T²·KL (Hinton et al.)")
    ax.loglog(temperatures, without, "s--", label="KL alone (T² forgotten)")
    ax.axhline(hard, color="grey", linestyle=":", label="hard CE term")
    ax.set_xlabel("temperature T")
    ax.set_ylabel("‖∂ loss / ∂ student logits‖")
    ax.set_title("Why the loss is multiplied by T²", fontsize=10)
    ax.legend(fontsize=8)
    return fig
