"""What MM-Rec computes, shown: co-attention between words and image regions, and the candidate-
aware attention over a user's clicks next to the interests the user was generated with.

Both widgets are pre-rendered (:mod:`lessons_src.viz.static_widgets`): every control works in the
HTML book without a kernel.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..training.device import evaluating
from ..viz.static_widgets import html_heatmap, linked_grid, png_tag
from .mind import read_image

BOX_COLOUR = (217, 95, 2)  # the accent colour of the book's widgets


def tokens_of(news, index: int) -> list[str]:
    """The tokens the model read for news ``index``: MiniLM word pieces or vocabulary words."""
    if news.title_tokens is not None:
        return list(news.title_tokens[index])
    ids = news.title_ids[index][news.title_mask[index]]
    return [news.vocabulary[i] for i in ids.tolist()]


def region_names(news, index: int) -> list[str]:
    """"whole image", then each detected region by its box label (or "region r")."""
    names = []
    for r in range(int(news.region_mask[index].sum())):
        label = int(news.region_labels[index, r]) if news.region_labels is not None else -1
        names.append("whole image" if r == 0 else (news.box_labels[label] if label >= 0 else f"region {r}"))
    return names


def boxes_png(image: np.ndarray, boxes: np.ndarray, weights: np.ndarray, scale: int = 4) -> bytes:
    """The picture enlarged ``scale``×, each region's box drawn with a line as thick as its weight
    (weights in [0, 1]) and the weight written in its corner. Region 0 (the whole image) gets a frame."""
    picture = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(picture)
    width, height = picture.size
    for r, (box, weight) in enumerate(zip(boxes, weights)):
        x0, y0, x1, y1 = box[0] * width, box[1] * height, box[2] * width - 1, box[3] * height - 1
        line = 1 + int(round(7 * float(weight)))
        draw.rectangle([x0, y0, x1, y1], outline=BOX_COLOUR, width=line)
        draw.text((x0 + line + 1, y0 + line), f"{weight:.2f}", fill=(0, 0, 0) if r else (255, 255, 255))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@torch.no_grad()
def coattention_maps(model, news, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Last co-attention layer of news ``index``, averaged over heads: words → regions (L, R) and
    regions → words (R, L), real tokens only. Each row sums to 1."""
    with evaluating(model):
        vectors = model.encode_news(news, torch.tensor([index], device=news.title_ids.device))
    if not vectors.word_to_region:
        raise ValueError("the model has no co-attention layer (co_attention=False or a single modality)")
    words, regions = int(news.title_mask[index].sum()), int(news.region_mask[index].sum())
    to_regions = vectors.word_to_region[-1][0].mean(0)[:words, :regions].cpu().numpy()  # (L, R)
    to_words = vectors.region_to_word[-1][0].mean(0)[:regions, :words].cpu().numpy()  # (R, L)
    return to_regions, to_words


def coattention_explorer(model, news, folder: str | Path, indices: Sequence[int]):
    """Dropdown (news item) × slider (a word position) → the picture with its regions framed as
    thick as that word's attention to them, and the words × regions and regions × words maps.

    One slider serves every news item (so it works without a kernel), so the titles of ``indices``
    must have the same number of tokens."""
    import ipywidgets as widgets

    folder = Path(folder)
    lengths = {len(tokens_of(news, i)) for i in indices}
    if len(lengths) != 1:
        raise ValueError(f"indices: the titles must have the same number of tokens, got lengths {sorted(lengths)}")
    n_words = lengths.pop()
    choose = widgets.Dropdown(options=[f"{news.news_ids[i]}: {news.titles[i][:60]}" for i in indices],
                              description="news", layout=widgets.Layout(width="620px"))
    slider = widgets.SelectionSlider(options=[f"word {w + 1}" for w in range(n_words)], description="word",
                                     style={"description_width": "initial"}, layout=widgets.Layout(width="520px"))
    pages = {}
    for n, index in enumerate(indices):
        to_regions, to_words = coattention_maps(model, news, index)
        tokens, names = tokens_of(news, index), region_names(news, index)
        image = read_image(folder / "images", news.news_ids[index])
        boxes = news.boxes[index, : len(names)].cpu().numpy()
        maps = (html_heatmap(to_regions, tokens, names, "each word's attention over the regions (rows sum to 1)",
                             vmax=1.0, cell=56)
                + html_heatmap(to_words, names, tokens, "each region's attention over the words (rows sum to 1)",
                               vmax=1.0, cell=34))
        for w, token in enumerate(tokens):
            picture = png_tag(boxes_png(image, boxes, to_regions[w]), 256, f"regions weighted by '{token}'")
            caption = (f'<div style="font-size:13px;margin-bottom:4px">word {w + 1}, <b>{html.escape(token)}</b>, '
                       f'attends to: {", ".join(f"{n} {p:.2f}" for n, p in zip(names, to_regions[w]))}</div>')
            pages[(n, w)] = (f'{caption}<div style="display:flex;gap:18px;align-items:flex-start;flex-wrap:wrap">'
                             f'{picture}<div>{maps}</div></div>')
    return widgets.VBox([choose, slider, linked_grid(pages, [choose, slider])])


def news_facts(news, truth: dict, index: int) -> tuple[str, list[str]]:
    facts = truth["news"].get(news.news_ids[index], {})
    return facts.get("category", "?"), list(facts.get("concepts", []))


def matched_interests(interests: list[dict], category: str, concepts: list[str]) -> list[int]:
    """Which of the user's true interests (1-based) a news item matches."""
    return [k + 1 for k, i in enumerate(interests)
            if (i["kind"] == "textual" and i["target"] == category) or (i["kind"] == "visual" and i["target"] in concepts)]


@torch.no_grad()
def user_attention_explorer(model, news, impressions, truth: dict, users: Sequence[str], rows: Sequence[int]):
    """Dropdown (a user's impression) × slider (a candidate) → the four pairings' weights over the
    user's clicks, each click with its category, concepts and the true interests it matches.
    The impressions ``rows`` must show the same number of candidates (one slider serves them all)."""
    import ipywidgets as widgets

    shown = {int((impressions.candidates[row] != 0).sum()) for row in rows}
    if len(shown) != 1:
        raise ValueError(f"rows: the impressions must show the same number of candidates, got {sorted(shown)}")
    n_candidates = shown.pop()
    device = news.title_ids.device
    with evaluating(model):
        table = model.encode_all(news)
    pages, labels = {}, []
    for u, row in enumerate(rows):
        history = impressions.history[row:row + 1].to(device)
        candidates = impressions.candidates[row:row + 1].to(device)
        scores, weights = model.score_vectors(table, history, candidates, return_weights=True)
        scores = scores[0].cpu().numpy()
        user_id = users[int(impressions.user[row])]
        interests = truth["users"][user_id]
        clicked = [int(i) for i in impressions.history[row].tolist() if i != 0]
        real = (impressions.history[row] != 0).numpy()
        described = "; ".join(f"{k + 1}: {i['kind']} — {i['target']}" for k, i in enumerate(interests))
        heading = f'<div style="font-size:13px;margin-bottom:6px"><b>{html.escape(user_id)}</b> was generated with ' \
                  f'the interests {html.escape(described)}</div>'
        click_rows = []
        for position, index in enumerate(clicked, start=1):
            category, concepts = news_facts(news, truth, index)
            match = matched_interests(interests, category, concepts)
            click_rows.append(f'<tr><td>{position}</td><td>{html.escape(category)}</td>'
                              f'<td>{html.escape(", ".join(concepts))}</td>'
                              f'<td>{", ".join(map(str, match)) or "—"}</td>'
                              f'<td style="max-width:380px">{html.escape(news.titles[index])}</td></tr>')
        clicks = ('<table style="font-size:11px;border-collapse:collapse"><tr><th>click</th><th>category</th>'
                  '<th>picture shows</th><th>matches interest</th><th>title</th></tr>' + "".join(click_rows) + "</table>")
        for c, index in enumerate(candidates[0].tolist()[:n_candidates]):
            label = int(impressions.labels[row, c])
            category, concepts = news_facts(news, truth, index)
            match = matched_interests(interests, category, concepts)
            pairings = np.stack([weights[p][0, c].cpu().numpy()[real] for p in weights])  # (pairings, clicks)
            heat = html_heatmap(pairings, list(weights), [str(k) for k in range(1, len(clicked) + 1)],
                                "attention of the candidate over the clicks, per pairing (rows sum to 1; "
                                "colours from the smallest to the largest weight shown)",
                                vmin=float(pairings.min()), vmax=float(pairings.max()), fmt="{:.2f}", cell=30)
            about = (f'<div style="font-size:13px;margin:6px 0">candidate {c + 1}: '
                     f'<b>{"clicked" if label == 1 else "not clicked"}</b>, score {scores[c]:.2f} · '
                     f'{html.escape(category)} · picture: {html.escape(", ".join(concepts))} · '
                     f'matches interest {", ".join(map(str, match)) or "none"}<br>'
                     f'<i>{html.escape(news.titles[index])}</i></div>')
            pages[(u, c)] = heading + about + heat + '<div style="margin-top:8px"></div>' + clicks
        labels.append(f"{user_id} (test impression)")
    choose = widgets.Dropdown(options=labels, description="user")
    slider = widgets.SelectionSlider(options=[f"candidate {c + 1}" for c in range(n_candidates)],
                                     description="candidate", style={"description_width": "initial"},
                                     layout=widgets.Layout(width="520px"))
    return widgets.VBox([choose, slider, linked_grid(pages, [choose, slider])])


@torch.no_grad()
def attention_agreement(model, news, impressions, truth: dict, users: Sequence[str], rows: Sequence[int],
                        pairing: str) -> tuple[float, float]:
    """How often the click a candidate attends to most (in ``pairing``, e.g. "v→v") shares the one
    true interest the candidate matches — and how often a click drawn at random does (chance).
    Candidates matching no interest or both are left out."""
    device = news.title_ids.device
    with evaluating(model):
        table = model.encode_all(news)
    hits = chance = total = 0
    for row in rows:
        history, candidates = impressions.history[row:row + 1].to(device), impressions.candidates[row:row + 1].to(device)
        _, weights = model.score_vectors(table, history, candidates, return_weights=True)
        interests = truth["users"][users[int(impressions.user[row])]]
        clicks = impressions.history[row].tolist()
        for c, index in enumerate(impressions.candidates[row].tolist()):
            liked = matched_interests(interests, *news_facts(news, truth, index))
            if index == 0 or len(liked) != 1:
                continue
            shares = [liked[0] in matched_interests(interests, *news_facts(news, truth, i)) for i in clicks if i]
            top = clicks[int(weights[pairing][0, c].argmax())]
            hits += liked[0] in matched_interests(interests, *news_facts(news, truth, top))
            chance += float(np.mean(shares))
            total += 1
    if total == 0:
        raise ValueError("rows: no candidate matches exactly one of its user's interests")
    return hits / total, chance / total
