"""What a perfect reader of the generated world could score: the yardsticks of the chapter's results.

Two scorers that cheat by reading ``truth.json`` (no model can do better without cheating too):

* ``true_utility``: the generator's own utility s_u(n) = Σ_i w_i · match(i, n) + β log pop(n)
  with the user's true interests — the best any scorer can do on average;
* ``content_profile``: knows each news item's true category and concepts, but not the user's
  interests: it estimates them from the clicked news, score(c) = mean_i f(n_i) · f(c) with f the
  one-hot category and / or multi-hot concepts — what a content model could reach if its news
  encoder recognised categories and concepts perfectly.
"""

from __future__ import annotations

import torch


def truth_features(news, truth: dict) -> dict[str, torch.Tensor]:
    """{"text": (N+1, categories) one-hot, "image": (N+1, concepts) multi-hot, "log_pop": (N+1,)}."""
    concepts, categories = truth["concepts"], truth["categories"]
    text = torch.zeros(len(news.news_ids), len(categories))
    image = torch.zeros(len(news.news_ids), len(concepts))
    log_pop = torch.zeros(len(news.news_ids))
    for row, news_id in enumerate(news.news_ids):
        facts = truth["news"].get(news_id)
        if facts is None:  # the padding row
            continue
        text[row, categories.index(facts["category"])] = 1
        for concept in facts["concepts"]:
            image[row, concepts.index(concept)] = 1
        log_pop[row] = facts["log_popularity"]
    return {"text": text, "image": image, "log_pop": log_pop}


def content_profile(news, impressions, truth: dict, modalities=("text", "image")) -> torch.Tensor:
    """(M, C) scores: the candidate's true features against the mean over the clicked news."""
    features = truth_features(news, truth)
    real = (impressions.history != 0).float()[..., None]  # (M, H, 1)
    scores = 0.0
    for name in modalities:
        f = features[name]
        profile = (f[impressions.history] * real).sum(1) / real.sum(1).clamp(min=1)  # (M, F)
        scores = scores + (profile[:, None, :] * f[impressions.candidates]).sum(-1)  # (M, C)
    return scores


def true_utility(news, impressions, truth: dict, users: list[str]) -> torch.Tensor:
    """(M, C) the generator's utility of each candidate for the impression's user."""
    features = truth_features(news, truth)
    beta = truth["config"].popularity  # load_truth gives the WorldConfig
    categories, concepts = truth["categories"], truth["concepts"]
    scores = beta * features["log_pop"][impressions.candidates]  # (M, C)
    for m, user in enumerate(impressions.user.tolist()):
        for interest in truth["users"][users[user]]:
            if interest["kind"] == "textual":
                column = features["text"][:, categories.index(interest["target"])]
            else:
                column = features["image"][:, concepts.index(interest["target"])]
            scores[m] += interest["weight"] * column[impressions.candidates[m]]
    return scores
