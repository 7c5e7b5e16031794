"""Chapter 2's figures and kernel-free widgets compute what their captions say."""

from __future__ import annotations

import math

import ipywidgets as widgets
import matplotlib
import pytest
import torch

matplotlib.use("Agg")

from lessons_src.viz.static_widgets import html_bars, linked_stack  # noqa: E402
from lessons_src.distill import widgets as dw  # noqa: E402


def test_entropy_is_zero_for_one_hot_and_log2_c_for_uniform():
    assert dw.entropy_bits(torch.tensor([0.0, 1.0, 0.0])).item() == pytest.approx(0.0, abs=1e-6)
    assert dw.entropy_bits(torch.full((10,), 0.1)).item() == pytest.approx(math.log2(10))


def test_class_similarity_rows_are_mean_soft_targets_per_class():
    logits = torch.tensor([[4.0, 0.0, 2.0], [2.0, 0.0, 4.0], [0.0, 3.0, 0.0]])
    labels = torch.tensor([0, 0, 1])
    s = dw.class_similarity(logits, labels, 2.0, n_classes=3)
    expected_row0 = (torch.softmax(logits[0] / 2, 0) + torch.softmax(logits[1] / 2, 0)) / 2
    assert torch.allclose(s[0], expected_row0)
    assert torch.allclose(s[1], torch.softmax(logits[2] / 2, 0))
    assert torch.equal(s[2], torch.zeros(3))  # no image of class 2


def test_most_similar_pairs_symmetrises():
    s = torch.zeros(10, 10)
    s[3, 5], s[5, 3], s[4, 9] = 0.2, 0.1, 0.12
    assert dw.most_similar_pairs(s, top=2) == [(3, 5, pytest.approx(0.15)), (4, 9, pytest.approx(0.06))]


def test_loss_terms_scale_with_t_squared_as_the_chapter_claims():
    generator = torch.Generator().manual_seed(0)
    z, v = torch.randn(64, 10, generator=generator), 3 * torch.randn(64, 10, generator=generator)
    y = torch.randint(0, 10, (64,), generator=generator)
    small, large = dw.loss_terms(z, v, y, 4.0), dw.loss_terms(z, v, y, 40.0)
    # with T² the soft gradient keeps its order of magnitude from T = 4 to T = 40
    assert 0.2 < large["soft_grad"] / small["soft_grad"] < 5
    assert small["hard"] == large["hard"]


def test_html_bars_and_linked_stack():
    page = html_bars([0.25, 0.75], ["a", "b"], "title <x>", highlight=1)
    assert "title &lt;x&gt;" in page and "0.750" in page and page.count("background:") == 2
    with pytest.raises(ValueError, match="labels"):
        html_bars([1.0], ["a", "b"])
    slider, stack = linked_stack(["<b>1</b>", "<b>2</b>"], ["one", "two"], "pick")
    assert isinstance(stack, widgets.Stack) and stack.selected_index == 0
    assert slider.options == ("one", "two")
    with pytest.raises(ValueError, match="label"):
        linked_stack(["<b>1</b>"], ["a", "b"], "pick")


def test_explorers_prerender_every_state():
    generator = torch.Generator().manual_seed(1)
    logits = 4 * torch.randn(6, 10, generator=generator)
    images, labels = torch.rand(6, 28, 28, generator=generator), torch.arange(6)
    box = dw.temperature_explorer(logits, images, labels, indices=[0, 2], temperatures=(1, 5))
    image_stack = box.children[1]
    assert len(image_stack.children) == 2  # one page per test image …
    inner = image_stack.children[0].children[1]
    assert len(inner.children) == 2  # … each with one page per temperature
    assert "T" in box.children[0].children[1].description or "temperature" in box.children[0].children[1].description
    explorer = dw.loss_explorer(logits, logits.flip(1), labels, alphas=(0.0, 1.0), temperatures=(1, 4, 8))
    assert len(explorer.children[1].children) == 3
    fig = dw.plot_temperature_sweep(logits, logits.flip(1), labels, temperatures=(1, 10))
    assert fig.axes[0].get_xlabel() == "temperature T"
