"""Chapter 2's figures and kernel-free widgets compute what their captions say."""

from __future__ import annotations

import math
import re

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


BAR_NUMBER = re.compile(r'<span style="font-size:10px">([^<]*)</span>')
HIGHLIGHTED = re.compile(r'background:#d95f02"></div><span style="font-size:12px;white-space:nowrap">([^<]*)</span>')


def shown_numbers(page: widgets.HTML) -> list[str]:
    """The numbers printed above the bars of a pre-rendered page, left to right."""
    return BAR_NUMBER.findall(page.value)


def test_temperature_explorer_prerenders_softmax_v_over_t_for_every_image_and_temperature():
    generator = torch.Generator().manual_seed(1)
    logits = 4 * torch.randn(6, 10, generator=generator)
    images, labels = torch.rand(6, 28, 28, generator=generator), torch.tensor([3, 1, 7, 0, 2, 9])
    box = dw.temperature_explorer(logits, images, labels, indices=[0, 2], temperatures=(1, 5))
    image_slider, temperature_slider = box.children[0].children
    assert image_slider.options == ("#0 (3)", "#2 (7)")
    assert temperature_slider.options == ("T = 1", "T = 5")
    image_stack = box.children[1]
    assert len(image_stack.children) == 2  # one page per test image …
    for index, page in zip([0, 2], image_stack.children):
        temperature_stack = page.children[1]
        assert len(temperature_stack.children) == 2  # … each with one page per temperature
        shown = []
        for t, state in zip((1, 5), temperature_stack.children):
            exps = [math.exp(x / t) for x in logits[index].tolist()]
            p = [e / sum(exps) for e in exps]  # softmax(v / T), by hand
            entropy = -sum(q * math.log2(q) for q in p)
            numbers = shown_numbers(state)
            assert numbers == [f"{q:.2f}" for q in p]
            assert f"softmax(v / {t}) — entropy {entropy:.2f} bits" in state.value
            assert f"predicted {max(range(10), key=p.__getitem__)}" in state.value
            assert HIGHLIGHTED.findall(state.value) == [str(int(labels[index]))]  # the true digit is marked
            shown.append(numbers)
        assert shown[0] != shown[1]  # the temperature changes what is drawn
        # and a higher temperature spreads the mass: the top bar shrinks
        assert max(map(float, shown[1])) < max(map(float, shown[0]))


def loss_terms_by_hand(z: torch.Tensor, v: torch.Tensor, y: torch.Tensor, t: float) -> dict:
    """T²·KL(softmax(v/T) ‖ softmax(z/T)) and CE(z, y), batch means, and their gradients' norms w.r.t. z."""
    z = z.clone().requires_grad_(True)
    log_q, log_p = torch.log_softmax(z / t, dim=1), torch.log_softmax(v / t, dim=1)
    soft = t * t * (log_p.exp() * (log_p - log_q)).sum(dim=1).mean()
    hard = -torch.log_softmax(z, dim=1)[torch.arange(len(y)), y].mean()
    (soft_grad,) = torch.autograd.grad(soft, z, retain_graph=True)
    (hard_grad,) = torch.autograd.grad(hard, z)
    return {"soft": soft.item(), "hard": hard.item(), "soft_grad": soft_grad.norm().item(),
            "hard_grad": hard_grad.norm().item()}


def test_loss_terms_are_t_squared_kl_and_ce_with_their_gradient_norms():
    generator = torch.Generator().manual_seed(0)
    z, v = torch.randn(16, 10, generator=generator), 3 * torch.randn(16, 10, generator=generator)
    y = torch.randint(0, 10, (16,), generator=generator)
    for t in (1.0, 4.0):
        assert dw.loss_terms(z, v, y, t) == pytest.approx(loss_terms_by_hand(z, v, y, t), rel=1e-5)


def test_loss_explorer_prerenders_the_weighted_terms_for_every_alpha_and_temperature():
    generator = torch.Generator().manual_seed(2)
    z, v = torch.randn(8, 10, generator=generator), 3 * torch.randn(8, 10, generator=generator)
    y = torch.randint(0, 10, (8,), generator=generator)
    alphas, temperatures = (0.0, 0.3, 1.0), (1, 4)
    explorer = dw.loss_explorer(z, v, y, alphas=alphas, temperatures=temperatures)
    t_slider, alpha_slider = explorer.children[0].children
    assert t_slider.options == ("T = 1", "T = 4") and alpha_slider.options == ("α = 0", "α = 0.3", "α = 1")
    t_stack = explorer.children[1]
    assert len(t_stack.children) == 2
    states = []
    for t, alpha_stack in zip(temperatures, t_stack.children):
        terms = loss_terms_by_hand(z, v, y, float(t))
        assert len(alpha_stack.children) == 3
        for a, state in zip(alphas, alpha_stack.children):
            expected = [a * terms["soft"], (1 - a) * terms["hard"], a * terms["soft_grad"], (1 - a) * terms["hard_grad"]]
            assert shown_numbers(state) == [f"{x:.3f}" for x in expected]
            assert f"T = {t}, α = {a:g}: loss = {expected[0] + expected[1]:.3f}" in state.value
            states.append(state.value)
    assert len(set(states)) == len(states)  # every (T, α) shows something different


def test_temperature_sweep_plots_the_soft_gradient_with_and_without_t_squared():
    generator = torch.Generator().manual_seed(3)
    z, v = torch.randn(8, 10, generator=generator), 3 * torch.randn(8, 10, generator=generator)
    y = torch.randint(0, 10, (8,), generator=generator)
    fig = dw.plot_temperature_sweep(z, v, y, temperatures=(1, 10))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "temperature T"
    with_t2, without = ax.get_lines()[0].get_ydata(), ax.get_lines()[1].get_ydata()
    expected = [loss_terms_by_hand(z, v, y, float(t))["soft_grad"] for t in (1, 10)]
    assert list(with_t2) == pytest.approx(expected, rel=1e-5)
    assert list(without) == pytest.approx([expected[0], expected[1] / 100], rel=1e-5)
