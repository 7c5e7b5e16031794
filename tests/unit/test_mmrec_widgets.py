"""Chapter 4's widgets pre-render every state, draw what they claim, and the ceilings rank as they must."""

import io

import numpy as np
import pytest
import torch
from PIL import Image

from lessons_src.evaluation.impressions import impression_metrics
from lessons_src.mmrec.ceilings import content_profile, true_utility
from lessons_src.mmrec.features import build_features
from lessons_src.mmrec.model import MMRec, MMRecConfig
from lessons_src.mmrec.widgets import boxes_png, coattention_explorer, coattention_maps, user_attention_explorer
from lessons_src.mmrec.world import WorldConfig, generate_world, load_truth

WORLD = WorldConfig(n_users=150, articles_per_category=24, history_min=4, history_max=8, impressions_per_user=3, seed=5)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = generate_world(WORLD, tmp_path_factory.mktemp("world") / "w")
    news, splits, users = build_features(folder, crop_size=16, cache=False)
    torch.manual_seed(0)
    model = MMRec(MMRecConfig(vocab_size=len(news.vocabulary), hidden=16, heads=2, crop_size=16)).eval()
    return folder, news, splits, users, load_truth(folder), model


def same_length_news(news, count=3):
    from lessons_src.mmrec.widgets import tokens_of
    by_length = {}
    for i in range(1, len(news.news_ids)):
        by_length.setdefault(len(tokens_of(news, i)), []).append(i)
    return max(by_length.values(), key=len)[:count]


def test_coattention_explorer_has_a_page_per_news_and_word(world):
    folder, news, _, _, _, model = world
    indices = same_length_news(news)
    choose, slider, grid = coattention_explorer(model, news, folder, indices).children
    words = int(news.title_mask[indices[0]].sum())
    assert len(choose.options) == len(grid.children) == 3
    assert len(slider.options) == words and all(len(stack.children) == words for stack in grid.children)
    first, last = grid.children[0].children[0].value, grid.children[0].children[-1].value
    assert first != last or words == 1
    with pytest.raises(ValueError, match="same number of tokens"):
        coattention_explorer(model, news, folder, [indices[0]] + [i for i in range(1, 40) if int(news.title_mask[i].sum()) != words][:1])


def test_coattention_maps_are_row_distributions(world):
    _, news, _, _, _, model = world
    to_regions, to_words = coattention_maps(model, news, 2)
    assert to_regions.shape == (int(news.title_mask[2].sum()), int(news.region_mask[2].sum()))
    assert np.allclose(to_regions.sum(1), 1, atol=1e-5) and np.allclose(to_words.sum(1), 1, atol=1e-5)


def test_boxes_are_drawn_as_thick_as_their_weight():
    image = np.full((16, 16, 3), 128, dtype=np.uint8)
    boxes = np.array([[0, 0, 1, 1], [0.25, 0.25, 0.75, 0.75]])
    thin = np.asarray(Image.open(io.BytesIO(boxes_png(image, boxes, np.array([0.0, 0.0])))).convert("RGB"))
    thick = np.asarray(Image.open(io.BytesIO(boxes_png(image, boxes, np.array([0.0, 1.0])))).convert("RGB"))
    orange = lambda a: int((np.abs(a.astype(int) - [217, 95, 2]).sum(-1) < 30).sum())
    assert thin.shape == (64, 64, 3) and orange(thick) > 2 * orange(thin)


def test_user_explorer_has_a_page_per_user_and_candidate(world):
    _, news, splits, users, truth, model = world
    choose, slider, grid = user_attention_explorer(model, news, splits["test"], truth, users, [0, 1]).children
    shown = int((splits["test"].candidates[0] != 0).sum())
    assert len(choose.options) == len(grid.children) == 2
    assert len(slider.options) == shown and len(grid.children[0].children) == shown
    page = grid.children[0].children[0].value
    assert "t→v" in page and users[int(splits["test"].user[0])] in page


def test_ceilings_rank_as_knowledge_grows(world):
    _, news, splits, users, truth, _ = world
    test = splits["test"]
    auc = lambda scores: impression_metrics(scores, test.labels)["AUC"]
    both = auc(content_profile(news, test, truth, ("text", "image")))
    assert auc(true_utility(news, test, truth, users)) > both > 0.55
    assert both > auc(content_profile(news, test, truth, ("text",)))
    assert both > auc(content_profile(news, test, truth, ("image",)))


def test_attention_agreement_is_a_share_and_checks_its_rows(world):
    from lessons_src.mmrec.widgets import attention_agreement

    _, news, splits, users, truth, model = world
    hits, chance = attention_agreement(model, news, splits["test"], truth, users, range(len(splits["test"])), "t→t")
    assert 0 <= hits <= 1 and 0 < chance < 1
    with pytest.raises(ValueError, match="rows"):
        attention_agreement(model, news, splits["test"], truth, users, [], "t→t")


def test_the_model_checks_its_news_table_once(world):
    _, news, _, _, _, model = world
    from dataclasses import replace
    with pytest.raises(ValueError, match="crop_size"):
        model.check_news(replace(news, regions=news.regions[..., :8, :8]))
