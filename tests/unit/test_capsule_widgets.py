"""Chapter 3's figures: routing snapshot, grouped coefficients, perturbations, heatmaps."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from lessons_src.capsules import CapsNet, CapsNetConfig  # noqa: E402
from lessons_src.capsules import widgets as cw  # noqa: E402
from lessons_src.capsules.snapshot import load_snapshot, routing_snapshot, save_snapshot  # noqa: E402
from lessons_src.viz.static_widgets import html_heatmap  # noqa: E402

SMALL = CapsNetConfig(conv_channels=8, primary_types=4, primary_dim=4, digit_dim=6, decoder_hidden=(16, 32))


@pytest.fixture(scope="module")
def snapshot_and_model():
    torch.manual_seed(0)
    model = CapsNet(SMALL)
    images, labels = torch.rand(3, 28, 28), torch.tensor([1, 7, 3])
    return routing_snapshot(model, images, labels), model


def test_snapshot_matches_the_model_and_lengths_grow_from_uniform(snapshot_and_model):
    snapshot, model = snapshot_and_model
    iterations = SMALL.routing_iterations
    assert snapshot["coefficients"].shape == (iterations, 3, SMALL.n_primary, 10)
    assert torch.allclose(snapshot["coefficients"][0], torch.full_like(snapshot["coefficients"][0], 0.1))
    with torch.no_grad():
        out = model.eval()(snapshot["images"])
    # the last iteration's lengths are the model's output lengths
    assert torch.allclose(snapshot["lengths_by_iteration"][-1], out.lengths, atol=1e-6)
    assert torch.allclose(snapshot["digit_capsules"], out.digit_capsules, atol=1e-6)


def test_snapshot_round_trip_in_float16(snapshot_and_model, tmp_path):
    snapshot, model = snapshot_and_model
    path = save_snapshot(model, snapshot["images"], snapshot["labels"], tmp_path / "snap.pt")
    config, loaded, decoder_state = load_snapshot(path)
    assert config["primary_types"] == 4
    assert torch.allclose(loaded["coefficients"], snapshot["coefficients"], atol=1e-3)
    decoder = cw.decoder_from_state(decoder_state, digit_dim=6, hidden=(16, 32))
    capsules = snapshot["digit_capsules"][0]
    digit = int(capsules.norm(dim=-1).argmax())
    unchanged = cw.perturbed_reconstructions(decoder, capsules, digit, [0.0])[0, 0]
    with torch.no_grad():
        expected = model.reconstruct(capsules[None], torch.tensor([digit]))[0].view(28, 28)
    assert torch.allclose(unchanged, expected, atol=5e-3)  # float16 decoder weights


def test_perturbation_moves_exactly_one_dimension():
    decoder = torch.nn.Sequential(torch.nn.Identity(), torch.nn.Linear(160, 784))
    decoder[1].weight.data.zero_()
    decoder[1].bias.data.zero_()
    decoder[1].weight.data[:160, :] = torch.eye(160)  # pixel p copies input p: we can read the input back
    captured = cw.perturbed_reconstructions(decoder, torch.arange(160.0).view(10, 16) / 100, 2, [-0.5, 0.5])
    flat = captured.view(16, 2, 784)[:, :, :160].view(16, 2, 10, 16)
    assert (flat[:, :, [0, 1, 3, 4, 5, 6, 7, 8, 9]] == 0).all()  # other capsules masked
    base = torch.arange(32.0, 48.0) / 100
    for d in range(16):
        moved = flat[d, 1, 2] - base
        assert torch.allclose(moved[d], torch.tensor(0.5)) and moved.abs().sum() == pytest.approx(0.5, abs=1e-5)


def test_coefficients_by_type_averages_grid_positions_of_each_type():
    c = torch.zeros(1, 8, 2)  # 2 types × 4 positions, 2 outputs, type-major order
    c[0, :4, 0], c[0, :4, 1] = 1.0, 0.0
    c[0, 4:, 0], c[0, 4:, 1] = torch.tensor([0.0, 0.5, 0.5, 1.0]), torch.tensor([1.0, 0.5, 0.5, 0.0])
    grouped = cw.coefficients_by_type(c, 2)
    assert torch.allclose(grouped, torch.tensor([[[1.0, 0.0], [0.5, 0.5]]]))
    with pytest.raises(ValueError, match="types"):
        cw.coefficients_by_type(c, 3)


def test_widgets_prerender_every_state(snapshot_and_model):
    snapshot, model = snapshot_and_model
    box = cw.routing_explorer(snapshot, n_types=4, images=[0, 2])
    assert len(box.children[1].children) == 2
    assert len(box.children[1].children[0].children[1].children) == SMALL.routing_iterations
    explorer = cw.perturbation_explorer(model.decoder, snapshot, 0, offsets=(-0.1, 0.0, 0.1))
    dimension_stack = explorer.children[2].children[1]
    assert len(dimension_stack.children) == SMALL.digit_dim
    assert len(dimension_stack.children[0].children) == 3
    ax = cw.plot_length_growth(snapshot)
    assert ax.get_xlabel() == "routing iteration"
    fig = cw.plot_perturbation_grid(model.decoder, snapshot, 1, [0, 3], offsets=(-0.1, 0.1))
    assert len(fig.axes) == 4


def test_html_heatmap_and_interest_view():
    page = html_heatmap(np.array([[0.0, 1.0]]), ["a"], ["x", "y"], "t")
    assert "rgb(255,255,255)" in page and "rgb(8,48,107)" in page
    with pytest.raises(ValueError, match="labels"):
        html_heatmap(np.zeros((2, 2)), ["a"], ["x", "y"])
    view = cw.interest_routing_view([np.full((3, 2), 0.5)], [np.array([4, 5, 6])], ["user 1"])
    assert "item 5" in view.children[1].children[0].value
    titled = cw.interest_routing_view([np.full((2, 2), 0.5)], [np.array([4, 5])], ["user 1"],
                                      item_label={4: "Toy Story (1995)", 5: "Heat (1995)"}.get)
    assert "Heat (1995)" in titled.children[1].children[0].value
    with pytest.raises(ValueError, match="2 history items but 3 rows"):
        cw.interest_routing_view([np.full((3, 2), 0.5)], [np.array([4, 5])], ["user 1"])


def test_widgets_open_on_the_state_the_text_discusses(snapshot_and_model):
    from lessons_src.viz.static_widgets import linked_stack

    slider, stack = linked_stack(["<p>a</p>", "<p>b</p>", "<p>c</p>"], ["a", "b", "c"], "page", start=2)
    assert slider.index == stack.selected_index == 2
    with pytest.raises(ValueError, match="start"):
        linked_stack(["<p>a</p>"], ["a"], "page", start=1)
    snapshot, _ = snapshot_and_model
    box = cw.routing_explorer(snapshot, n_types=4, images=[0, 2])
    iteration_slider = box.children[0].children[1]
    assert iteration_slider.index == SMALL.routing_iterations - 1  # the last iteration, not the uniform first
