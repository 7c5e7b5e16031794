"""Chapter 1's attention explorer works without a kernel: every state is drawn, labelled and reachable."""

from __future__ import annotations

import base64
import re

import ipywidgets as widgets
from ipywidgets.widgets.widget import _instances as live_widgets
from ipywidgets.widgets.widget_link import Link
import matplotlib
import numpy as np
import pytest
import torch

matplotlib.use("Agg")

from lessons_src.sasrec.model import SASRec, SASRecConfig  # noqa: E402
from lessons_src.sasrec.widgets import attention_explorer  # noqa: E402
from lessons_src.viz.static_widgets import linked_grid  # noqa: E402

ALT = re.compile(r'alt="([^"]*)"')
PNG = re.compile(r'src="data:image/png;base64,([^"]*)"')


class TinySplit:
    """The one method of ``Split`` the explorer uses."""

    def __init__(self, histories: dict[int, np.ndarray]):
        self.histories = histories

    def history(self, user: int, stage: str) -> np.ndarray:
        assert stage == "test"
        return self.histories[user]


def tiny_model(seed: int, n_blocks: int = 2) -> SASRec:
    torch.manual_seed(seed)
    return SASRec(SASRecConfig(n_items=30, maxlen=12, hidden=8, n_blocks=n_blocks, dropout=0.0)).eval()


def links_between(source_widgets, target_widgets) -> int:
    """How many live jslinks copy ``index`` of one of ``source_widgets`` into ``selected_index`` of a target."""
    sources, targets = {id(w) for w in source_widgets}, {id(w) for w in target_widgets}
    return sum(1 for w in list(live_widgets.values())
               if isinstance(w, Link) and id(w.source[0]) in sources and w.source[1] == "index"
               and id(w.target[0]) in targets and w.target[1] == "selected_index")


def pages_at(stack: widgets.Stack, depth: int) -> list:
    """The stacks ``depth`` levels below ``stack`` (depth 0: the stack itself), outermost first."""
    level = [stack]
    for _ in range(depth):
        level = [child for s in level for child in s.children]
    return level


@pytest.fixture(scope="module")
def explorer():
    models = {"trained": tiny_model(0), "quick": tiny_model(1), "untrained": tiny_model(2)}
    rng = np.random.default_rng(0)
    users = [3, 5, 8, 13, 21, 34]
    split = TinySplit({u: rng.integers(1, 31, size=6 + i) for i, u in enumerate(users)})
    return attention_explorer(models, split, users), list(models), users


def test_every_model_user_block_state_is_prerendered_distinct_and_labelled(explorer):
    box, names, users = explorer
    outer = box.children[1]
    leaves = pages_at(outer, 3)
    assert len(leaves) == 3 * 6 * 2 and all(isinstance(leaf, widgets.HTML) for leaf in leaves)
    images = []
    for leaf, (m, u, b) in zip(leaves, np.ndindex(3, 6, 2)):
        assert ALT.findall(leaf.value) == [f"{names[m]} · user {users[u]} · block {b + 1}"]
        png = base64.b64decode(PNG.search(leaf.value).group(1))
        assert png.startswith(b"\x89PNG") and len(png) < 25_000  # the notebook stays small
        images.append(png)
    assert len(set(images)) == len(images)  # 36 different pictures, not one drawn 36 times


def test_every_control_is_jslinked_to_every_stack_of_its_level(explorer):
    box, names, users = explorer
    which, who, depth = box.children[0].children
    assert which.options == tuple(names) and len(who.options) == 6 and depth.options == ("block 1", "block 2")
    outer = box.children[1]
    assert links_between([which], pages_at(outer, 0)) == 1
    assert links_between([who], pages_at(outer, 1)) == 3  # one user stack per model
    assert links_between([depth], pages_at(outer, 2)) == 18  # one block stack per (model, user)
    assert links_between([which, who, depth], [outer] + pages_at(outer, 1) + pages_at(outer, 2)) == 22


def test_opens_on_the_first_model_and_user_at_the_last_block(explorer):
    box, names, users = explorer
    which, who, depth = box.children[0].children
    assert (which.index, who.index, depth.index) == (0, 0, 1)
    outer = box.children[1]
    assert all(s.selected_index == 0 for s in pages_at(outer, 0) + pages_at(outer, 1))
    assert all(s.selected_index == 1 for s in pages_at(outer, 2))
    shown = outer.children[0].children[0].children[1]
    assert f"{names[0]} · user {users[0]} · block 2" in shown.value


def test_a_model_with_fewer_blocks_shows_its_last_block():
    split = TinySplit({1: np.arange(1, 9)})
    box = attention_explorer({"two": tiny_model(0), "one": tiny_model(1, n_blocks=1)}, split, [1], block=1)
    assert box.children[0].children[2].index == 0
    one_block = box.children[1].children[1].children[0]
    assert "block 2 (the model has 1: block 1 shown)" in one_block.children[1].value
    with pytest.raises(ValueError, match="block"):
        attention_explorer(tiny_model(0), split, [1], block=3)


def test_linked_grid_needs_every_key():
    a = widgets.Dropdown(options=["x", "y"])
    b = widgets.SelectionSlider(options=["1", "2", "3"])
    grid = linked_grid({(i, j): f"<b>{i}{j}</b>" for i in range(2) for j in range(3)}, [a, b])
    assert [leaf.value for leaf in pages_at(grid, 2)] == [f"<b>{i}{j}</b>" for i in range(2) for j in range(3)]
    with pytest.raises(ValueError, match="one page per key"):
        linked_grid({(0, 0): "only one"}, [a, b])
