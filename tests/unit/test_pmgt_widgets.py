"""PMGT widgets: the inspected context, the attention row, nearest neighbours, the kernel-free page."""

import numpy as np
import torch

from lessons_src.pmgt.model import PMGT, PMGTConfig
from lessons_src.pmgt.sampling import ContextSampler
from lessons_src.pmgt.widgets import inspect_item, item_explorer, nearest
from test_pmgt_model import two_cliques


def model_and_sampler():
    torch.manual_seed(0)
    model = PMGT(PMGTConfig(feature_sizes=[5], hidden=8, heads=2, context_size=4, dropout=0.0),
                 [torch.randn(12, 5)], torch.ones(12, 1, dtype=torch.bool))
    return model, ContextSampler(two_cliques(), context_size=4)


def test_inspected_context_matches_the_sampler_and_the_graph():
    model, sampler = model_and_sampler()
    view = inspect_item(model, sampler, 2, seed=1)
    drawn = sampler.sample(torch.tensor([2]), torch.Generator().manual_seed(1)).items[0].tolist()
    assert view["nodes"] == [2] + [i for i in drawn if i >= 0] and view["hops"][0] == 0
    assert np.isclose(view["attention"].sum(), 1.0) and (view["attention"] > 0).all()
    graph = two_cliques().weights.toarray()
    nodes = view["nodes"]
    assert np.allclose(view["weights"], graph[np.ix_(nodes, nodes)])
    assert all(n < 6 for n in nodes)  # a clique-0 item's context stays in clique 0


def test_nearest_excludes_the_item_and_padding_and_orders_by_cosine():
    vectors = torch.tensor([[9.0, 9.0], [1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [-1.0, 0.0], [1.0, 0.5]])
    assert nearest(vectors, 1, k=4) == [2, 5, 3, 4]


def test_explorer_has_one_page_per_item_and_no_kernel_dependence():
    model, sampler = model_and_sampler()
    views = [inspect_item(model, sampler, item) for item in (1, 7)]
    widget = item_explorer(views, torch.randn(12, 8), torch.randn(12, 5), lambda i: f"item {i}", k=3)
    slider, stack = widget.children
    assert len(slider.options) == len(stack.children) == 2
    assert "<img" in stack.children[0].value and "item 7" in stack.children[1].value
