"""The frozen encoders: MiniLM's token vectors know topics, the concept CNN names the boxes it was
pretrained on, and the model reads the vectors with the same masking guarantees."""

from dataclasses import replace

import pytest
import torch

from lessons_src.mmrec.features import build_features
from lessons_src.mmrec.model import MMRec, MMRecConfig
from lessons_src.mmrec.pretrained import title_token_vectors, with_pretrained
from lessons_src.mmrec.world import WorldConfig, generate_world

WORLD = WorldConfig(n_users=60, articles_per_category=16, history_min=3, history_max=6, impressions_per_user=3, seed=4)


@pytest.fixture(scope="module")
def news(tmp_path_factory):
    folder = generate_world(WORLD, tmp_path_factory.mktemp("world") / "w")
    news, _, _ = build_features(folder, crop_size=16, cache=False)
    return news


def mean_token(vectors, mask):
    v = (vectors.float() * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    return torch.nn.functional.normalize(v, dim=-1)


def test_minilm_token_vectors_separate_topics_and_are_cached(isolated_data_env):
    titles = ["Shares slide as bank profits fall", "Stock markets drop on weak earnings", "Striker scores twice in cup final"]
    vectors, mask, tokens = title_token_vectors(titles)
    assert vectors.shape == (3, 16, 384) and [len(t) for t in tokens] == mask.sum(1).tolist()
    assert not vectors[~mask].any()  # padding slots hold zeros
    v = mean_token(vectors, mask)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1  # two finance titles are nearer than finance and football
    again, _, _ = title_token_vectors(titles)  # from the cache
    assert torch.equal(vectors, again)
    assert list((isolated_data_env / "mmrec").glob("minilm-*.pt"))


def test_concept_features_name_the_boxes(news):
    pretrained, notes = with_pretrained(news, text=False, seed=0)
    assert notes["concept_accuracy"] > 0.9
    probabilities = pretrained.region_vectors  # (N+1, R, K)
    assert probabilities.shape == (*news.region_mask.shape, len(news.box_labels))
    real = news.region_mask
    assert torch.allclose(probabilities[real].sum(-1), torch.ones(int(real.sum())), atol=1e-2)
    assert not probabilities[~real].any()
    labelled = news.region_labels >= 0
    named = probabilities[labelled].argmax(-1)
    assert (named == news.region_labels[labelled]).float().mean() > 0.9


def test_the_model_reads_pretrained_vectors_and_ignores_their_padding(news):
    g = torch.Generator().manual_seed(0)
    title_vectors = torch.randn(*news.title_ids.shape, 8, generator=g) * news.title_mask[..., None]
    region_vectors = torch.rand(*news.region_mask.shape, 5, generator=g) * news.region_mask[..., None]
    news = replace(news, title_vectors=title_vectors, region_vectors=region_vectors)
    torch.manual_seed(0)
    model = MMRec(MMRecConfig(vocab_size=len(news.vocabulary), hidden=16, heads=2, word_features=8, region_features=5)).eval()
    garbled = replace(news, title_vectors=torch.where(news.title_mask[..., None], title_vectors, 7.0),
                      region_vectors=torch.where(news.region_mask[..., None], region_vectors, 7.0))
    history, candidates = torch.tensor([[0, 3, 4, 5]]), torch.tensor([[6, 7, 8]])
    with torch.no_grad():
        scores = model(news, history, candidates)
        assert torch.allclose(scores, model(garbled, history, candidates), atol=1e-6)
        shifted = replace(news, title_vectors=title_vectors + news.title_mask[..., None])  # real tokens changed
        assert not torch.allclose(scores, model(shifted, history, candidates), atol=1e-4)
