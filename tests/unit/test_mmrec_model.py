"""MM-Rec's claims as tests: padding changes nothing, attention weights are distributions over the
other modality, the four pairings are what §2 says, and the fast batch encoder changes no score."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from lessons_src.mmrec.model import MMRec, MMRecConfig, candidate_aware_attention
from lessons_src.mmrec.samples import ClickExamples

L, R, S, VOCAB = 6, 4, 8, 30


@dataclass
class FakeNews:  # the fields of mmrec.features.NewsFeatures that the model reads
    title_ids: torch.Tensor
    title_mask: torch.Tensor
    regions: torch.Tensor
    boxes: torch.Tensor
    region_mask: torch.Tensor


def fake_news(n=12, seed=0) -> FakeNews:
    g = torch.Generator().manual_seed(seed)
    words = torch.randint(1, L + 1, (n,), generator=g)  # real words per title
    regions = torch.randint(1, R + 1, (n,), generator=g)
    title_mask = torch.arange(L)[None] < words[:, None]
    region_mask = torch.arange(R)[None] < regions[:, None]
    title_mask[0], region_mask[0] = False, False  # row 0: the padding news
    title_ids = torch.randint(2, VOCAB, (n, L), generator=g) * title_mask
    corners = torch.rand(n, R, 2, generator=g) * 0.5
    boxes = torch.cat([corners, corners + 0.5], -1) * region_mask[..., None]
    crops = torch.rand(n, R, 3, S, S, generator=g) * region_mask[..., None, None, None]
    return FakeNews(title_ids, title_mask, crops, boxes, region_mask)


def model_for(**options) -> MMRec:
    torch.manual_seed(0)
    return MMRec(MMRecConfig(vocab_size=VOCAB, hidden=16, heads=2, crop_size=S, **options)).eval()


def garble_padding(news: FakeNews) -> FakeNews:
    """Random content in every padded word and region: a correct model must not notice."""
    g = torch.Generator().manual_seed(9)
    title_ids = torch.where(news.title_mask, news.title_ids, torch.randint(2, VOCAB, news.title_ids.shape, generator=g))
    regions = torch.where(news.region_mask[..., None, None, None], news.regions, torch.rand(news.regions.shape, generator=g))
    boxes = torch.where(news.region_mask[..., None], news.boxes, torch.rand(news.boxes.shape, generator=g))
    return FakeNews(title_ids, news.title_mask, regions, boxes, news.region_mask)


@pytest.mark.parametrize("options", [{}, {"co_attention": False}, {"modalities": "text"}, {"modalities": "image"},
                                     {"user_attention": "pooling"}])
def test_padded_words_and_regions_change_nothing(options):
    model, news = model_for(**options), fake_news()
    history, candidates = torch.tensor([[0, 3, 4, 5]]), torch.tensor([[6, 7, 8]])
    with torch.no_grad():
        assert torch.allclose(model(news, history, candidates), model(garble_padding(news), history, candidates), atol=1e-6)


def test_public_code_masks_let_padding_in():
    model, news = model_for(public_code_masks=True), fake_news()
    history, candidates = torch.tensor([[0, 3, 4, 5]]), torch.tensor([[6, 7, 8]])
    with torch.no_grad():
        assert not torch.allclose(model(news, history, candidates), model(garble_padding(news), history, candidates), atol=1e-4)


@pytest.mark.parametrize("public", [False, True])
def test_padded_history_changes_nothing_unless_the_public_bug_is_on(public):
    model, news = model_for(public_code_masks=public), fake_news()
    candidates = torch.tensor([[6, 7, 8]])
    with torch.no_grad():
        short = model(news, torch.tensor([[3, 4]]), candidates)
        padded = model(news, torch.tensor([[0, 0, 0, 3, 4]]), candidates)
    assert torch.allclose(short, padded, atol=1e-6) != public


def test_without_co_attention_the_streams_never_meet():
    model, news = model_for(co_attention=False, co_layers=2), fake_news()
    index = torch.arange(1, 12)
    other = FakeNews(news.title_ids, news.title_mask, torch.rand(news.regions.shape), torch.rand(news.boxes.shape),
                     news.region_mask)
    with torch.no_grad():
        assert torch.allclose(model.encode_news(news, index).t, model.encode_news(other, index).t, atol=1e-6)
        with_co = model_for(co_layers=2)
        assert not torch.allclose(with_co.encode_news(news, index).t, with_co.encode_news(other, index).t, atol=1e-4)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in with_co.parameters())


def test_co_attention_weights_are_distributions_over_the_other_modality():
    model, news = model_for(co_layers=2), fake_news()
    index = torch.arange(1, 12)
    with torch.no_grad():
        vectors = model.encode_news(news, index)
    word_mask, region_mask = news.title_mask[index], news.region_mask[index]
    for w2r, r2w in zip(vectors.word_to_region, vectors.region_to_word):
        assert w2r.shape == (11, 2, L, R) and r2w.shape == (11, 2, R, L)
        assert torch.allclose(w2r.sum(-1), torch.ones(11, 2, L), atol=1e-6)  # each word over regions
        assert torch.allclose(r2w.sum(-1), torch.ones(11, 2, R), atol=1e-6)  # each region over words
        assert (w2r * ~region_mask[:, None, None, :]).abs().max() == 0  # no weight on padded regions
        assert (r2w * ~word_mask[:, None, None, :]).abs().max() == 0


def test_four_pairings_match_a_loop_over_the_paper_equations():
    g = torch.Generator().manual_seed(1)
    B, C, H, d = 2, 3, 5, 4
    cand = {"t": torch.randn(B, C, d, generator=g), "v": torch.randn(B, C, d, generator=g)}
    clicked = {"t": torch.randn(B, H, d, generator=g), "v": torch.randn(B, H, d, generator=g)}
    mask = torch.tensor([[False, True, True, True, True], [False, False, False, True, True]])
    user, weights = candidate_aware_attention(cand, clicked, mask)
    for b in range(B):
        real = [i for i in range(H) if mask[b, i]]
        for c in range(C):
            want = torch.zeros(d)
            for x in "tv":
                for y in "tv":
                    logits = torch.tensor([float(cand[x][b, c] @ clicked[y][b, i]) / d ** 0.5 for i in real])
                    alpha = torch.softmax(logits, 0)  # α^{x→y}_i = softmax_i(x_c · y_i / √d)
                    want += sum(a * clicked[y][b, i] for a, i in zip(alpha, real))
                    assert torch.allclose(weights[f"{x}→{y}"][b, c, real], alpha, atol=1e-6)
            assert torch.allclose(user[b, c], want, atol=1e-5)


def test_an_uninformative_candidate_reduces_to_mean_pooling():
    g = torch.Generator().manual_seed(2)
    clicked = {"t": torch.randn(1, 4, 3, generator=g), "v": torch.randn(1, 4, 3, generator=g)}
    mask = torch.tensor([[False, True, True, True]])
    zero = {"t": torch.zeros(1, 2, 3), "v": torch.zeros(1, 2, 3)}
    user, _ = candidate_aware_attention(zero, clicked, mask)
    mean = 2 * (clicked["t"][0, 1:].mean(0) + clicked["v"][0, 1:].mean(0))  # two x's see each y
    assert torch.allclose(user[0, 0], mean, atol=1e-6) and torch.allclose(user[0, 1], mean, atol=1e-6)


def test_batch_encoding_equals_scoring_from_all_news_vectors():
    model, news = model_for(), fake_news()
    history, candidates = torch.tensor([[0, 3, 4, 5], [1, 2, 2, 9]]), torch.tensor([[6, 7, 3], [11, 1, 0]])
    with torch.no_grad():
        table = model.encode_all(news, batch_size=5)
        assert torch.allclose(model(news, history, candidates), model.score_vectors(table, history, candidates), atol=1e-5)


def test_gradients_reach_both_streams():
    model, news = model_for(), fake_news()
    model.train()
    model(news, torch.tensor([[0, 3, 4, 5]]), torch.tensor([[6, 7, 8]])).sum().backward()
    assert model.news_encoder.title.words.weight.grad.abs().sum() > 0
    assert model.news_encoder.regions.cnn[0].weight.grad.abs().sum() > 0


def test_bad_input_names_the_argument():
    model, news = model_for(), fake_news()
    with pytest.raises(ValueError, match="history"):
        model(news, torch.tensor([[0, 99]]), torch.tensor([[1]]))
    with pytest.raises(ValueError, match="candidates"):
        model(news, torch.tensor([[1]]), torch.tensor([1]))
    with pytest.raises(ValueError, match="divisible"):
        MMRecConfig(vocab_size=5, hidden=10, heads=4)
    with pytest.raises(ValueError, match="modalities"):
        MMRecConfig(vocab_size=5, modalities="audio")


def test_click_examples_put_the_click_first_with_non_clicks_of_its_impression():
    candidates = torch.tensor([[5, 6, 7, 8, 9, 0], [1, 2, 3, 0, 0, 0]])
    labels = torch.tensor([[0, 1, 0, 0, 1, -1], [1, 0, 0, -1, -1, -1]]).float()
    history = torch.tensor([[1, 2], [0, 4]])
    examples = ClickExamples(history, candidates, labels, negatives=3, seed=0)
    assert len(examples) == 3
    hist, shown = examples.epoch()
    for h, row in zip(hist, shown):
        impression = 0 if row[0] in (6, 9) else 1
        assert (h == history[impression].numpy()).all()
        non_clicks = {5, 7, 8} if impression == 0 else {2, 3}
        assert set(row[1:]) <= non_clicks and 0 not in row
        if impression == 0:
            assert len(set(row[1:])) == 3  # enough non-clicks: drawn without replacement
    public = ClickExamples(history, candidates, labels, negatives=3, seed=0, public_code_negatives=True)
    _, shown = public.epoch()
    short = [row for row in shown if row[0] == 1][0]
    assert sorted(short[1:].tolist()) == [0, 2, 3]  # the padding news counted as a negative
