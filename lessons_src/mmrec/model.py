"""MM-Rec, multimodal news recommendation (Wu et al., SIGIR 2022), in the order of the paper's §2.

A news item n has a title of words w_1 … w_L and an image with regions (ROIs) r_1 … r_R (region 1
is the whole image). For a user who clicked news n_1 … n_H and a candidate news c:

    E^w = WordEmb(w) + PosEmb,  E^r = RegionCNN(crop) + LocEmb(box)         token embeddings
    E^w ← TRM_text(E^w),  E^r ← TRM_image(E^r)                              each stream alone
    E^w ← LN(E^w + softmax(Q_w K_rᵀ / √d_h) V_r) → FFN                      co-attention (ViLBERT):
    E^r ← LN(E^r + softmax(Q_r K_wᵀ / √d_h) V_w) → FFN                      each stream asks the other
    t = Σ_i softmax_i(q_wᵀ tanh(W_w E^w_i)) E^w_i,  v = same over regions   word / region attention pooling

    α^{x→y}_i = softmax_i( x_c · y_i / √d )  x, y ∈ {t, v}: candidate modality x, clicked modality y
    u^{x→y}   = Σ_i α^{x→y}_i y_i            four user vectors, one per pairing (t→t, t→v, v→t, v→v)
    ŷ(u, c)   = (t_c + v_c) · Σ_{x,y} u^{x→y}                                 click score

The cross pairings are the paper's point: a clicked news whose *image* matches the candidate's
*title* still counts. Training is NRMS-style: softmax over 1 clicked + K non-clicked candidates of
an impression. Every padding position — title words, image regions, history news — is masked out;
``public_code_masks=True`` reproduces the public code, which masks none of them (see the chapter).

Switches for the experiments: ``modalities`` ("both", "text": NRMS-like, "image"),
``co_attention`` (False: each co-attention layer becomes a self-attention layer in each stream,
same depth and size, so the streams never meet) and ``user_attention`` ("candidate": the four
pairings above; "pooling": a learned attention pooling over clicked news, blind to the candidate).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import product

import torch
from torch import nn

from ..training.loop import check_int

MODALITIES = ("both", "text", "image")
USER_ATTENTION = ("candidate", "pooling")
MASKED = -1e9  # logit of a masked key: exp underflows to exactly 0 next to any real key


@dataclass
class MMRecConfig:
    vocab_size: int  # word ids 0 (padding) … vocab_size − 1
    hidden: int = 64  # d, of words, regions, news and users
    heads: int = 4
    text_layers: int = 0  # self-attention layers of the text stream before co-attention
    image_layers: int = 0  # (pretrained token vectors are contextual already: 0 by default)
    co_layers: int = 1  # co-attention layers (ViLBERT's co-TRM)
    crop_size: int = 16  # S: each region crop is a (3, S, S) image
    word_features: int = 0  # F_t > 0: read frozen pretrained token vectors (news.title_vectors) instead of word ids
    region_features: int = 0  # F_v > 0: read frozen pretrained region vectors (news.region_vectors) instead of pixels
    dropout: float = 0.1
    modalities: str = "both"
    co_attention: bool = True
    user_attention: str = "candidate"
    public_code_masks: bool = False  # the public code's bugs: no padding is masked anywhere

    def __post_init__(self):
        for name in ("vocab_size", "hidden", "heads", "crop_size"):
            check_int(name, getattr(self, name), 1)
        for name in ("text_layers", "image_layers", "co_layers", "word_features", "region_features"):
            check_int(name, getattr(self, name), 0)
        if self.hidden % self.heads != 0:
            raise ValueError(f"hidden {self.hidden} must be divisible by heads {self.heads}")
        if self.crop_size % 4 != 0:
            raise ValueError(f"crop_size must be a multiple of 4 (two stride-2 convolutions), got {self.crop_size}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.modalities not in MODALITIES:
            raise ValueError(f"modalities must be one of {MODALITIES}, got {self.modalities!r}")
        if self.user_attention not in USER_ATTENTION:
            raise ValueError(f"user_attention must be one of {USER_ATTENTION}, got {self.user_attention!r}")

    @property
    def streams(self) -> tuple[str, ...]:
        """The modalities the model reads: ("t", "v"), ("t",) or ("v",)."""
        return {"both": ("t", "v"), "text": ("t",), "image": ("v",)}[self.modalities]

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- attention, the one primitive

class MultiHeadAttention(nn.Module):
    """softmax(Q Kᵀ / √d_h) V with Q from ``queries`` and K, V from ``keys``; keys where
    ``key_mask`` is False get weight 0. Returns the output and the weights (B, heads, Lq, Lk)."""

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.head_dim = heads, hidden // heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.output = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.head_dim).transpose(1, 2)  # (B, h, L, d_h)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, key_mask: torch.Tensor):
        q, k, v = self._split(self.query(queries)), self._split(self.key(keys)), self._split(self.value(keys))
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (B, h, Lq, Lk)
        logits = logits.masked_fill(~key_mask[:, None, None, :], MASKED)
        weights = logits.softmax(-1)  # each query's weights sum to 1 over the real keys
        out = self.dropout(weights) @ v  # (B, h, Lq, d_h)
        batch, _, length, _ = out.shape
        return self.output(out.transpose(1, 2).reshape(batch, length, -1)), weights


class TransformerLayer(nn.Module):
    """BERT's post-LN layer: x ← LN(x + Attn(x, y)); x ← LN(x + FFN(x)).

    With y = x it is self-attention (TRM); with y = the other modality's tokens it is one stream
    of ViLBERT's co-attention layer (co-TRM)."""

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        self.attention = MultiHeadAttention(hidden, heads, dropout)
        self.feed_forward = nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden))
        self.norm_attention, self.norm_feed_forward = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor):
        attended, weights = self.attention(x, context, context_mask)
        x = self.norm_attention(x + self.dropout(attended))
        x = self.norm_feed_forward(x + self.dropout(self.feed_forward(x)))
        return x, weights


class CoAttentionLayer(nn.Module):
    """ViLBERT's co-TRM: words query the regions, regions query the words, both from the same inputs.

    ``cross=False`` (the ablation, or a single modality) makes each stream attend to itself
    instead: the same layer, minus the exchange."""

    def __init__(self, hidden: int, heads: int, dropout: float, streams: tuple[str, ...], cross: bool):
        super().__init__()
        self.cross = cross
        self.text = TransformerLayer(hidden, heads, dropout) if "t" in streams else None
        self.image = TransformerLayer(hidden, heads, dropout) if "v" in streams else None

    def forward(self, words, word_mask, regions, region_mask):
        """Returns the new words (B, L, d), regions (B, R, d) and the attention weights of each
        stream: (B, h, L, R) and (B, h, R, L) when ``cross``, else (B, h, L, L) and (B, h, R, R)."""
        text_weights = image_weights = None
        new_words, new_regions = words, regions
        if self.text is not None:
            context, context_mask = (regions, region_mask) if self.cross else (words, word_mask)
            new_words, text_weights = self.text(words, context, context_mask)
        if self.image is not None:
            context, context_mask = (words, word_mask) if self.cross else (regions, region_mask)
            new_regions, image_weights = self.image(regions, context, context_mask)
        return new_words, new_regions, text_weights, image_weights


class AttentionPooling(nn.Module):
    """a_i = qᵀ tanh(W h_i + b),  α = softmax over the real i,  r = Σ_i α_i h_i   (NRMS's additive attention)."""

    def __init__(self, hidden: int):
        super().__init__()
        self.project = nn.Linear(hidden, hidden)
        self.query = nn.Parameter(torch.empty(hidden).normal_(0, 0.1))

    def forward(self, h: torch.Tensor, mask: torch.Tensor):
        logits = torch.tanh(self.project(h)) @ self.query  # (B, L)
        weights = logits.masked_fill(~mask, MASKED).softmax(-1)  # (B, L)
        return (weights.unsqueeze(-1) * h).sum(1), weights  # (B, d), (B, L)


# ---------------------------------------------------------------- token embeddings of the two streams

class TitleEmbedding(nn.Module):
    """E^w = WordEmb(w) + PosEmb(position), layer-normalised: (B, L) word ids → (B, L, d).

    With ``word_features`` = F the words arrive as frozen pretrained token vectors (B, L, F) and
    WordEmb is a learned projection W_t ∈ R^{F×d} (as MM-Rec fine-tunes on top of ViLBERT)."""

    def __init__(self, config: MMRecConfig, max_len: int = 64):
        super().__init__()
        if config.word_features:
            self.words = nn.Linear(config.word_features, config.hidden)
        else:
            self.words = nn.Embedding(config.vocab_size, config.hidden, padding_idx=0)
        self.positions = nn.Embedding(max_len, config.hidden)
        self.norm, self.dropout = nn.LayerNorm(config.hidden), nn.Dropout(config.dropout)

    def forward(self, title: torch.Tensor) -> torch.Tensor:
        if title.shape[1] > self.positions.num_embeddings:
            raise ValueError(f"titles of {title.shape[1]} tokens; at most {self.positions.num_embeddings}")
        positions = torch.arange(title.shape[1], device=title.device)
        return self.dropout(self.norm(self.words(title) + self.positions(positions)))


class RegionEmbedding(nn.Module):
    """E^r = CNN(crop) + W_loc [x0, y0, x1, y1, area]: (B, R, 3, S, S), (B, R, 4) → (B, R, d).

    It stands in for the paper's frozen ResNet feature of each Mask R-CNN region, plus ViLBERT's
    5-d location embedding of the box. Either a small CNN on the crops (B, R, 3, S, S), trained
    with the recommender, or (``region_features`` = F) a learned projection of frozen pretrained
    region vectors (B, R, F), as the paper reads frozen ResNet features."""

    def __init__(self, config: MMRecConfig):
        super().__init__()
        if config.region_features:
            self.cnn = nn.Linear(config.region_features, config.hidden)
        else:
            side = config.crop_size // 4
            self.cnn = nn.Sequential(
                nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.ReLU(),  # (3, S, S) → (16, S/2, S/2)
                nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),  # → (32, S/4, S/4)
                nn.Flatten(), nn.Linear(32 * side * side, config.hidden),
            )
        self.location = nn.Linear(5, config.hidden)
        self.norm, self.dropout = nn.LayerNorm(config.hidden), nn.Dropout(config.dropout)

    def forward(self, crops: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        batch, regions = crops.shape[:2]
        if crops.dim() == 3:  # pretrained region vectors (B, R, F)
            features = self.cnn(crops)  # (B, R, d)
        else:
            features = self.cnn(crops.flatten(0, 1)).view(batch, regions, -1)  # (B, R, d)
        area = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])  # (B, R)
        location = self.location(torch.cat([boxes, area.unsqueeze(-1)], -1))  # (B, R, d)
        return self.dropout(self.norm(features + location))


# ---------------------------------------------------------------- news encoder

@dataclass
class NewsVectors:
    """What the news encoder says of B news: one vector per modality and the weights behind them."""

    t: torch.Tensor | None  # (B, d) title vector
    v: torch.Tensor | None  # (B, d) image vector
    word_weights: torch.Tensor | None = None  # (B, L) word attention pooling
    region_weights: torch.Tensor | None = None  # (B, R) region attention pooling
    word_to_region: list[torch.Tensor] | None = None  # per co-attention layer, (B, heads, L, R)
    region_to_word: list[torch.Tensor] | None = None  # per co-attention layer, (B, heads, R, L)

    def by_modality(self) -> dict[str, torch.Tensor]:
        return {name: value for name, value in (("t", self.t), ("v", self.v)) if value is not None}


class NewsEncoder(nn.Module):
    def __init__(self, config: MMRecConfig):
        super().__init__()
        self.config = config
        d, h, p = config.hidden, config.heads, config.dropout
        uses = config.streams
        self.title = TitleEmbedding(config) if "t" in uses else None
        self.text_layers = nn.ModuleList(TransformerLayer(d, h, p) for _ in range(config.text_layers * ("t" in uses)))
        self.word_pooling = AttentionPooling(d) if "t" in uses else None
        self.regions = RegionEmbedding(config) if "v" in uses else None
        self.image_layers = nn.ModuleList(TransformerLayer(d, h, p) for _ in range(config.image_layers * ("v" in uses)))
        self.region_pooling = AttentionPooling(d) if "v" in uses else None
        cross = config.co_attention and uses == ("t", "v")
        self.co_layers = nn.ModuleList(CoAttentionLayer(d, h, p, uses, cross) for _ in range(config.co_layers))

    def forward(self, title_ids, title_mask, crops, boxes, region_mask) -> NewsVectors:
        """title_ids, title_mask: (B, L); crops: (B, R, 3, S, S); boxes: (B, R, 4); region_mask: (B, R)."""
        if self.config.public_code_masks:  # the public code hands its masks to the wrong argument
            title_mask, region_mask = torch.ones_like(title_mask), torch.ones_like(region_mask)
        words = regions = None
        if self.title is not None:
            words = self.title(title_ids)  # (B, L, d)
            for layer in self.text_layers:
                words, _ = layer(words, words, title_mask)
        if self.regions is not None:
            regions = self.regions(crops, boxes)  # (B, R, d)
            for layer in self.image_layers:
                regions, _ = layer(regions, regions, region_mask)
        word_to_region, region_to_word = [], []
        for layer in self.co_layers:
            words, regions, text_weights, image_weights = layer(words, title_mask, regions, region_mask)
            if layer.cross:
                word_to_region.append(text_weights)
                region_to_word.append(image_weights)
        t, word_weights = self.word_pooling(words, title_mask) if words is not None else (None, None)
        v, region_weights = self.region_pooling(regions, region_mask) if regions is not None else (None, None)
        return NewsVectors(t, v, word_weights, region_weights, word_to_region or None, region_to_word or None)


# ---------------------------------------------------------------- user: candidate-aware attention

def candidate_aware_attention(candidate: dict[str, torch.Tensor], clicked: dict[str, torch.Tensor],
                              history_mask: torch.Tensor):
    """The four pairings: α^{x→y}_i = softmax_i(x_c · y_i / √d), u^{x→y} = Σ_i α^{x→y}_i y_i.

    candidate[x]: (B, C, d); clicked[y]: (B, H, d); history_mask: (B, H), True at real clicks.
    Returns the user vector Σ_{x,y} u^{x→y} per candidate, (B, C, d), and the weights
    {"x→y": (B, C, H)}. Parameter-free: the news encoder alone decides what is relevant. The
    1/√d keeps the softmax from saturating at initialisation (dot products of d-dim layer-normed
    vectors are O(d)); it sped up learning here (the public code divides by nothing)."""
    user, weights = 0.0, {}
    for x, y in product(candidate, clicked):
        scale = 1.0 / math.sqrt(candidate[x].shape[-1])
        logits = candidate[x] @ clicked[y].transpose(1, 2) * scale  # (B, C, H): x_c · y_i / √d
        alpha = logits.masked_fill(~history_mask[:, None, :], MASKED).softmax(-1)
        user = user + alpha @ clicked[y]  # (B, C, d)
        weights[f"{x}→{y}"] = alpha
    return user, weights


class MMRec(nn.Module):
    def __init__(self, config: MMRecConfig):
        super().__init__()
        self.config = config
        self.news_encoder = NewsEncoder(config)
        if config.user_attention == "pooling":
            self.history_pooling = nn.ModuleDict({y: AttentionPooling(config.hidden) for y in config.streams})

    def encode_news(self, news, index: torch.Tensor) -> NewsVectors:
        """Vectors of the news ``index`` (any shape of indices into ``news``, a NewsFeatures)."""
        flat = index.reshape(-1)
        title = news.title_vectors if self.config.word_features else news.title_ids
        regions = news.region_vectors if self.config.region_features else news.regions
        return self.news_encoder(title[flat], news.title_mask[flat], regions[flat], news.boxes[flat],
                                 news.region_mask[flat])

    def user_vectors(self, candidate: dict, clicked: dict, history_mask: torch.Tensor):
        """(B, C, d) user vector for each candidate, and the attention weights behind it."""
        if self.config.public_code_masks:  # the history mask never reaches the user attention
            history_mask = torch.ones_like(history_mask)
        if self.config.user_attention == "candidate":
            return candidate_aware_attention(candidate, clicked, history_mask)
        user, weights = 0.0, {}
        for y, pooling in self.history_pooling.items():
            pooled, weights[y] = pooling(clicked[y], history_mask)  # (B, d), (B, H)
            user = user + pooled
        n_candidates = next(iter(candidate.values())).shape[1]
        return user.unsqueeze(1).expand(-1, n_candidates, -1), weights

    def score_vectors(self, table: dict[str, torch.Tensor], history: torch.Tensor, candidates: torch.Tensor,
                      history_mask: torch.Tensor | None = None, return_weights: bool = False):
        """Click scores (B, C) from news vectors ``table[x]`` (N, d) and rows of it: history (B, H),
        candidates (B, C). ``history_mask`` (B, H) defaults to ``history != 0`` (row 0 = padding)."""
        clicked = {y: table[y][history] for y in table}  # (B, H, d)
        candidate = {x: table[x][candidates] for x in table}  # (B, C, d)
        user, weights = self.user_vectors(candidate, clicked, history != 0 if history_mask is None else history_mask)
        scores = (sum(candidate.values()) * user).sum(-1)  # ŷ = (t_c + v_c) · u
        return (scores, weights) if return_weights else scores

    def forward(self, news, history: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """Scores (B, C) of ``candidates`` for users who clicked ``history`` (B, H; 0 = padding)."""
        self.validate(news, history, candidates)
        ids = torch.cat([history.reshape(-1), candidates.reshape(-1)])
        unique, rows = torch.unique(ids, return_inverse=True)  # encode each distinct news once
        table = self.encode_news(news, unique).by_modality()  # (U, d) per modality
        history_rows = rows[: history.numel()].view_as(history)
        candidate_rows = rows[history.numel():].view_as(candidates)
        return self.score_vectors(table, history_rows, candidate_rows, history_mask=history != 0)

    @torch.no_grad()
    def encode_all(self, news, batch_size: int = 512) -> dict[str, torch.Tensor]:
        """{"t": (N, d), "v": (N, d)} for every news of ``news`` (row 0 = padding), in eval mode."""
        self.check_news(news)
        parts: dict[str, list] = {}
        for start in range(0, len(news.title_ids), batch_size):
            index = torch.arange(start, min(start + batch_size, len(news.title_ids)), device=news.title_ids.device)
            for name, value in self.encode_news(news, index).by_modality().items():
                parts.setdefault(name, []).append(value)
        return {name: torch.cat(values) for name, values in parts.items()}

    def validate(self, news, history: torch.Tensor, candidates: torch.Tensor) -> None:
        n_news = len(news.title_ids)
        for name, ids in (("history", history), ("candidates", candidates)):
            if ids.dim() != 2 or ids.dtype != torch.long:
                raise ValueError(f"{name} must be a (batch, length) tensor of news indices (int64), got "
                                 f"{tuple(ids.shape)} {ids.dtype}")
            if ids.numel() and (ids.min() < 0 or ids.max() >= n_news):
                raise ValueError(f"{name} holds news indices outside 0 … {n_news - 1}")
        if history.shape[0] != candidates.shape[0]:
            raise ValueError(f"history has {history.shape[0]} rows but candidates {candidates.shape[0]}")

    def check_news(self, news) -> None:
        """Does the news table fit this model? Once per table (the trainer and ``encode_all`` call it),
        not per batch."""
        if self.config.word_features:
            if news.title_vectors is None or news.title_vectors.shape[-1] != self.config.word_features:
                raise ValueError(f"the model reads {self.config.word_features}-d title token vectors; news has "
                                 f"{None if news.title_vectors is None else news.title_vectors.shape[-1]}")
        elif int(news.title_ids.max()) >= self.config.vocab_size:
            raise ValueError(f"titles use word id {int(news.title_ids.max())}; vocab_size is {self.config.vocab_size}")
        if self.config.region_features:
            if news.region_vectors is None or news.region_vectors.shape[-1] != self.config.region_features:
                raise ValueError(f"the model reads {self.config.region_features}-d region vectors; news has "
                                 f"{None if news.region_vectors is None else news.region_vectors.shape[-1]}")
        elif news.regions.shape[-1] != self.config.crop_size:
            raise ValueError(f"region crops are {news.regions.shape[-1]} px; the model expects crop_size "
                             f"{self.config.crop_size}")


def softmax_click_loss(scores: torch.Tensor) -> torch.Tensor:
    """NRMS's training loss: −log softmax over 1 clicked (column 0) + K non-clicked candidates, mean over B."""
    return nn.functional.cross_entropy(scores, torch.zeros(len(scores), dtype=torch.long, device=scores.device))
