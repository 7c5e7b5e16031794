# Run: .venv/bin/python tools/build_notebook_06.py   (writes book/notebooks/06_pmgt.ipynb, unexecuted)
#      .venv/bin/python tools/build_notebook_06.py --fill-texts   (refresh the prose of the executed one)
"""Chapter 6's notebook from its cells, so that the prose can be edited as text and diffed.

Execute it afterwards (``jupyter nbconvert --to notebook --execute --inplace``); the committed
notebook carries its outputs. The results-dependent prose lives in ``notebook_06_texts.md``.
"""

from __future__ import annotations

from pathlib import Path

from notebook_cells import COLAB_SETUP, IMPORTS, NotebookBuilder

HERE = Path(__file__).resolve().parent
book = NotebookBuilder(HERE.parent / "book" / "notebooks" / "06_pmgt.ipynb", HERE / "notebook_06_texts.md")
md, code = book.md, book.code


md("pmgt-title", r"""
# 6. PMGT: pre-training a graph transformer on item side information

The recommenders of chapters 1–5 learn an item only from the people who interacted with it: an
item's embedding is a row of a table, and a row that few users touched stays close to its random
start. Yet most catalogues know a lot about their items before anyone clicks — a title, a
description, a picture, a category, a year: **side information**. And items that are bought or
watched by the same people are related whatever their features say. **PMGT** (*Pre-training Graph
Transformer*, Liu, Yang, Lei, Wang, Tang, Zhang, Sun and Miao, ACM MM 2021 {cite}`c6-liu2021pmgt`)
puts the two together *before* any recommender is trained:

1. build an **item graph** — items are nodes, and two items are joined when enough users
   interacted with both;
2. for every item (the *centre*), sample a small, ordered set of related items from the graph, its
   **context neighbours** (MCNSampling);
3. describe each node by its **multimodal features** (one vector per modality, fused by a learned
   gate) plus a **position id**, and run a **Transformer** over [centre, context];
4. pre-train it *self-supervised* — no labels, only the graph and the features — with two
   objectives, summed: reconstruct the **graph structure** (the centre should look like its
   neighbours and unlike a random item) and reconstruct the **features of masked neighbours**
   (as BERT reconstructs masked words);
5. export one vector per item and use it to **initialise** the item embeddings of a downstream
   recommender (NCF, SASRec, …).

The paper reports large gains from the pre-trained initialisation on three Amazon data sets (for
NCF on Video Games, Recall@10 0.1698 → 0.2588). This chapter builds every step, tests each against
its equation, runs it on two real data sets — MovieLens-100k and an Amazon category — with
protocols that keep the test period out of pre-training, and measures how much of the gain
survives.

**Questions this chapter answers**

- What is PMGT's motivation: what does multimodal, self-supervised pre-training add, and why does it
  need a sampling algorithm of its own? (this page, §6.1)
- What are PMGT's four components? (the figure below)
- What are an item's *context neighbours*, why do they enrich its representation, and how does
  MCNSampling choose them efficiently for a batch? (§6.2, §6.3)
- How are the node embeddings initialised: why concatenate the centre with its *ordered* context,
  and what does the position id remember? (§6.4)
- What does the Transformer encoder model between a node and its neighbours, and what does the
  diversity term in its attention change? (§6.5)
- How does one pre-training step go — sampling from a mini-batch, masking 20 % of the context —
  and what are the two targets and their losses, and why are they simply added? (§6.6)
- Does the pre-trained initialisation help a recommender here, for which items, and do the paper's
  gains hold? (§6.7)
- What does the public code do differently, and does it matter? (§6.9)

**What you will learn**

- a co-interaction item graph with degree-normalised edge weights, built from one period only;
- MCNSampling: weighted random walks of three hops, scored by hop, the top $K$ kept — vectorised
  for a whole batch;
- a softmax gate over the modalities an item has, and what to do with an item that lacks one;
- attention mixed with a diversity prior, $(1-\alpha)\,\mathrm{softmax}(QK^\top/\sqrt d) +
  \alpha\,\mathrm{softmax}(1 - \cos + I)$;
- BERT-style masking (80 / 10 / 10) and two self-supervised losses;
- how to compare three initialisations of the same recommender honestly: the same scale, a
  time-ordered split, model selection on validation, full ranking next to 1,000 sampled negatives,
  and results split by item popularity;
- how to tell a pre-trained table that carries information from one that has *collapsed*: three
  numbers that describe a table of vectors, and a one-pass shortcut whose loss looks fine while its
  vectors are all the same.

The code is in `lessons_src/pmgt/` (`graph.py`, `sampling.py`, `model.py`, `masking.py`,
`losses.py`, `pretrain.py`, `data.py`, `ncf.py`, `downstream.py`, `geometry.py`, `results.py`,
`widgets.py`, `exercises.py`), with
the training loop from `lessons_src/training/loop.py`, the time-ordered split from
`lessons_src/data/split.py`, the evaluation from `lessons_src/evaluation/instances.py` and SASRec
from chapter 1.
""")

code("pmgt-colab", COLAB_SETUP, tags=["hide-output"])

code("pmgt-imports", IMPORTS, tags=["nbval-ignore-output"])

md("pmgt-figure", r"""
```{figure} ../images/pmgt_architecture.svg
:name: fig-pmgt-architecture
:width: 100%
:alt: Block diagram of PMGT: the early-period item graph, MCNSampling of a centre's context, fused modality features plus position ids, BERT-style masking, a Transformer with diversity-promoting attention, the structure and feature losses, and the export of item embeddings to a downstream recommender

PMGT as `lessons_src.pmgt` computes it. Its four components: **context-neighbour sampling**
(MCNSampling over the item graph), **node-embedding initialisation** (fused modality features plus a
position id), the **Transformer encoder** (with the diversity term in its attention) and **graph
reconstruction** (the structure loss, with the masked feature loss beside it). After pre-training,
one vector per item initialises a downstream recommender.
```
""")

md("pmgt-motivation", r"""
## 6.1 Why pre-train on side information, and the data

**Motivation.** A recommender's item table is learned from interactions alone, so its quality
follows the item's popularity: a film watched by 300 users has a well-placed row, a film watched by
three has noise. Side information exists for every item, popular or not, and so does the
co-interaction graph of a *past* period. PMGT learns, **without labels** (self-supervised: the
targets are parts of the input itself), a function from "an item's features and its graph
neighbourhood" to a vector, and hands those vectors to the recommender as a starting point. It is
*multimodal* because an item's description comes in several kinds (*modalities*: text, image, tags),
each with its own encoder. And real item graphs are large, with degrees from one to
thousands, so a full graph convolution over every neighbour of every node is expensive;
MCNSampling (§6.3) gives each node a *fixed-size* context, so that a mini-batch costs the same
whatever the degrees.

**The honest setup here.** The paper uses three Amazon-2018 categories with product images
(Inception-v4 features) and descriptions (BERT features). No item images can be had in this book's
environment, so this chapter uses *real* side information of two real data sets, and says so.

**MovieLens-100k** {cite}`c6-harper2015movielens`, with two modalities:

- **title** — the sentence embedding of the film's title by all-MiniLM-L6-v2
  {cite}`c6-reimers2019sbert` (384-d, the same frozen encoder as chapter 4, installed as a wheel);
- **genres and year** — the 18 genre flags and a one-hot decade (26-d).

Time decides what each stage may see. The ratings are cut at their **median timestamp**: the item
graph and pre-training use the *early* half only; the recommenders train, validate and test on the
*later* half, split per user in time order (the last 20 % of each user's later interactions are the
test, the 10 % before them validation, the rest training). Nothing of the test period leaks into
pre-training — the official code builds its graph from reviews before 2015 but then splits the
downstream data at random (§6.9).

**Amazon Toys and Games**, as S3-Rec {cite}`c6-zhou2020s3rec` preprocessed it (one of the paper's
three categories, an older crawl), with one modality:

- **attributes** — the item's brand and categories as attribute ids, multi-hot (1,027-d).

Its files keep each user's order but no timestamps, so no single moment can cut them. Instead the
users are split once, at random: **half of them build the item graph**, the **other half** are the
downstream users (the same 70 / 10 / 20 split of each sequence). No interaction of a downstream
user reaches pre-training; what remains possible is that a graph user's review was written after
some downstream test interaction. Half of 19,412 users is a small graph period, so an edge needs 2
common users here instead of the paper's 3 (with 3, fewer than a quarter of the items would have a
neighbour).
""")

code("pmgt-data", r'''
from lessons_src.pmgt.data import load_movielens, load_toys

data = load_movielens()          # early half → graph; later half → time-ordered split; features
toys = load_toys()               # half of the users → graph; the other half → downstream
graph = data.graph


def describe_data(name, d):
    degrees = d.graph.degrees[d.graph.degrees > 0]
    return {"data set": name, "graph interactions": f"{d.graph_interactions:,}",
            "graph edges": f"{d.graph.weights.nnz // 2:,}",
            "items with a neighbour": f"{len(degrees):,} of {d.n_items:,}", "median degree": int(np.median(degrees)),
            "downstream users": f"{d.split.n_users:,}",
            "training / validation / test interactions": " / ".join(f"{n:,}" for n in (
                d.split.train_end.sum(), (d.split.valid_end - d.split.train_end).sum(),
                sum(len(q) for q in d.split.sequences) - d.split.valid_end.sum())),
            "modalities (raw size)": ", ".join(f"{m} ({f.shape[1]})" for m, f in zip(d.modalities, d.features)),
            "items lacking a modality": ", ".join(f"{m}: {n}" for m, n in d.missing().items())}


pd.DataFrame([describe_data("MovieLens-100k", data), describe_data("Amazon Toys (S3-Rec)", toys)]).set_index("data set").T
''')

md("pmgt-missing", r"""
**Missing modalities.** One film (id 267) has no usable title — it is called "unknown" — and no
genres or year either; every other film has both modalities, and every Toys item has at least one
attribute. The two graphs could hardly differ more: MovieLens' early half joins a film to half of
the catalogue (median degree 597 of 1,233), Toys' graph is sparse (median degree 4), as the paper's
Amazon graphs are. In the paper's Video Games set only 502 of 7,252 items had an
image, and the official code gives an item without a modality **random N(0, 1) noise** as that
modality's features — so the "visual" input of 93 % of the items is noise the model is asked to
reconstruct. Here a missing modality is *left out of the gate* (its weight is 0, the others share
the softmax), it is never a reconstruction target, and an item with no modality at all gets a learned
"no features" vector (`ModalityFusion` in `model.py`; tests in `test_pmgt_model.py`).
""")

md("pmgt-graph", r"""
## 6.2 The item graph, and what context neighbours are

Let $w_{uv}$ be the number of users who interacted with both items $u$ and $v$ in the early period.
Pairs with $w_{uv} \geq 3$ become edges (fewer co-interactions are mostly chance); the degree
$\deg_u$ is the number of neighbours $u$ keeps. The official code weights an edge by

$$
w'_{uv} = \frac{\log w_{uv} + 1}{\log \sqrt{\deg_u \deg_v} + 1},
$$

which grows with the co-interaction count but slowly (the log), and divides by the geometric mean
of the two degrees: two blockbusters that everyone watched share many users *because* they are
popular, and the denominator keeps them from dominating every item's neighbourhood.

An item's **context neighbours** are the items the graph says are related to it — its neighbours, and
their neighbours. They help because they carry information the item itself lacks: a film with a
vague title and a common genre is placed by the company it keeps (the other films of its audience),
and a neighbour's features are a second, third, … description of the same taste. The small graph
below has two groups of items joined by one bridge; the weights follow the formula.
""")

code("pmgt-graph-demo", r'''
from lessons_src.pmgt.graph import build_item_graph

# users → the items they interacted with: items 1–4 share an audience, items 5–7 another,
# and three users join 4 and 5 (the bridge)
baskets = {0: [1, 2, 3, 4], 1: [1, 2, 3, 4], 2: [1, 2, 3, 4], 3: [1, 2, 3], 4: [4, 5], 5: [4, 5],
           6: [4, 5, 6, 7], 7: [5, 6, 7], 8: [5, 6, 7]}
users = np.concatenate([[u] * len(items) for u, items in baskets.items()])
items = np.concatenate(list(baskets.values()))
toy = build_item_graph(users, items, n_items=8, min_users=3)
print("degrees (items 0–7; 0 is the padding id):", toy.degrees.astype(int))
weights = pd.DataFrame(toy.weights.toarray()[1:, 1:], index=range(1, 8), columns=range(1, 8)).round(3)
weights
''')

md("pmgt-graph-real", r"""
The pairs among items 1–3 have four common users (weight 1.137). Every edge of item 4 — inside its
group or across the bridge to item 5 — has three, and item 4's degree of 4 damps them all to 0.936;
the edges of items 6 and 7, of degree 2, keep more of their three common users (1.107–1.239). On
MovieLens the graph is dense and its degrees very
uneven — the popular films are joined to most of the catalogue:
""")

code("pmgt-degrees", r'''
fig, ax = plt.subplots(figsize=(7.5, 3.2))
sns.histplot(graph.degrees[graph.degrees > 0], bins=40, ax=ax, color="#3d6fa8")
ax.set_xlabel("degree (neighbours with ≥ 3 common users in the early period)")
ax.set_ylabel("items")
ax.set_title("MovieLens-100k, early period: the item graph's degree distribution")
plt.tight_layout()
plt.show()
print("median degree:", int(np.median(graph.degrees[graph.degrees > 0])), "· largest:", int(graph.degrees.max()))
''')

md("pmgt-sampling", r"""
## 6.3 MCNSampling: a fixed-size, ordered context for every item

Aggregating *all* neighbours of every node (a full graph convolution) costs $O(\text{edges})$ per
layer and gives each node an input of a different size. MCNSampling (the paper's sampler of
*contextual neighbours*: in effect a few weighted random walks, counted) gives every node
the same number $K$ of context neighbours, ordered by relevance, for a whole mini-batch at once:

1. **hop 1**: from the centre $h$, draw 10 neighbours at random, each with probability proportional
   to its edge weight $w'$ (with replacement — a strong neighbour is drawn several times);
2. **hop 2**: from each item drawn at hop 1, draw 5 of *its* neighbours; **hop 3**: from each of
   those, 2 — so $10 + 50 + 100$ draws in all;
3. score every item reached by $\text{score}(v) = \sum_{t=1}^{3} \beta_t \cdot
   \#\{\text{draws of } v \text{ at hop } t\}$ with $\beta = (3, 2, 1)$: near and often-reached
   items score highest;
4. keep the $K = 10$ highest-scoring items, **excluding the centre** (a walk often returns to it;
   the official code does not exclude it, §6.9), ties broken by the smaller item id so the order is
   the same on every machine.

The context is **ordered** by score: position 1 holds the most relevant neighbour, position 10 the
tenth. `ContextSampler` in `sampling.py` draws all of this for a batch of centres with tensor
operations (a cumulative-weight search per row of the graph's CSR arrays), no Python loop over
nodes. On the toy graph, item 2's context — only 6 other items exist, so fewer than $K$ are found
and the rest is padding ($-1$):
""")

code("pmgt-sampling-demo", r'''
from lessons_src.pmgt.sampling import ContextSampler

toy_sampler = ContextSampler(toy, context_size=4)
g = torch.Generator().manual_seed(0)
ctx = toy_sampler.sample(torch.tensor([2, 6]), g)
print("centres 2 and 6 → contexts\n", ctx.items, "\nscores\n", ctx.scores, "\nfirst reached at hop\n", ctx.hops)
# over many draws, how often is each item in item 2's context, and at which rank?
draws = toy_sampler.sample(torch.full((2000,), 2), torch.Generator().manual_seed(1)).items
share = pd.DataFrame({f"rank {r + 1}": pd.Series(draws[:, r].numpy()).value_counts(normalize=True)
                      for r in range(4)}).fillna(0).sort_index().round(3)
share.index.name = "item"
share
''')

md("pmgt-sampling-text", r"""
Item 2's own group (items 1, 3, 4) fills the first three ranks — which of the three comes first
varies from draw to draw — and the fourth slot always goes to item 5, reached only through the
bridge at hop 2; items 6 and 7, three hops away, never make the cut of four.
The centre itself never appears. That
the hop weighting works *as stated* — an item's expected score is $\sum_t \beta_t$ times its
expected number of draws at hop $t$ — is checked in `test_pmgt_graph_sampling.py` against exact
walk probabilities on a hand-made graph.
""")

md("pmgt-sampling-source", r"""
The book's page shows the source of `ContextSampler.hop_scores` and `ContextSampler.sample` here;
in Jupyter, `ContextSampler.hop_scores??` and `ContextSampler.sample??` do. In `hop_scores` each hop
draws `draws` neighbours of every frontier node with probability proportional to $w'$
(`draw_neighbours`), and `scatter_add_` adds $\beta_t$ for each draw, which sums to
$\text{score}(v)$; `sample` sets the centre's score to 0, and `topk` over an integer `key` (larger
score first, then the smaller id) keeps the $K$ best in that order.

```{literalinclude} ../../lessons_src/pmgt/sampling.py
:pyobject: ContextSampler.hop_scores
:language: python
:caption: lessons_src/pmgt/sampling.py — ContextSampler.hop_scores
```

```{literalinclude} ../../lessons_src/pmgt/sampling.py
:pyobject: ContextSampler.sample
:language: python
:caption: lessons_src/pmgt/sampling.py — ContextSampler.sample
```
""")

md("pmgt-inputs", r"""
## 6.4 Node inputs: fused modalities plus a position id

Each of the $S = 1 + K$ positions of the sequence [centre, context$_1$, …, context$_K$] becomes a
vector in two steps.

**Fusing the modalities.** Item $v$ has raw features $\mathbf x_{v,m}$ for each modality $m$ it has
(here $m \in$ {title, genres and year}). A linear map per modality brings them to the hidden size
$h = 128$, and a *gate* — a softmax attention over the modalities, scored by a learned query
$\mathbf q$ — decides how much each contributes:

$$
\mathbf h_{v,m} = W_m \mathbf x_{v,m}, \qquad
a_{v,m} = \frac{\exp\big(\mathbf q^\top \tanh(G\,\mathbf h_{v,m})\big)}
               {\sum_{m' \in \mathcal M_v} \exp\big(\mathbf q^\top \tanh(G\,\mathbf h_{v,m'})\big)},
$$

$$
\mathbf e_v = \sum_{m \in \mathcal M_v} a_{v,m}\, \mathbf h_{v,m},
$$

where $\mathcal M_v$ is the set of modalities item $v$ actually has (§6.1).

**The position id.** The Transformer's attention is *permutation-invariant*: without further input
it would treat [centre, most relevant, …, least relevant] as an unordered set and could not tell
the centre from its neighbours. A learned **position embedding** $\mathbf p_s$ is added at each
position $s$: $\mathbf p_0$ marks the centre, $\mathbf p_1 \dots \mathbf p_K$ the context by rank,
so the model *remembers* which node is the one being described and how relevant (by MCNSampling's
order) each neighbour is: $\mathbf x^{(0)}_s = \mathrm{LayerNorm}(\mathbf e_{v_s} + \mathbf p_s)$.
That is why the centre is *concatenated* with an *ordered* context rather than pooled with it: the
sequence keeps both who is who and in which order.
""")

code("pmgt-inputs-demo", r'''
from lessons_src.pmgt.model import PMGT, PMGTConfig

torch.manual_seed(0)
untrained = PMGT(PMGTConfig(feature_sizes=[f.shape[1] for f in data.features]), data.features, data.present)
lacking = torch.nonzero(~data.present[1:].all(1))[:, 0] + 1          # items missing a modality
shown = [1, 50, 181, *lacking.tolist()]
feats, present = untrained.raw_features(torch.tensor(shown))
_, gate = untrained.fusion(feats, present)
table = pd.DataFrame(gate.detach().numpy().round(3), columns=[f"gate: {m}" for m in data.modalities],
                     index=[f"{i}: {data.titles[i]}" for i in shown])
table["modalities present"] = present.sum(1).numpy()
table
''')

md("pmgt-inputs-text", r"""
Before training the gate splits roughly evenly between the two modalities. The one item that lacks
a modality, id 267, lacks both: its title is "unknown" and it has neither a genre nor a year, so
its gate is all zeros and its input is the learned "no features" vector — the model can still place
it through its position and its context. (Had it kept one modality, that modality would take the
whole gate.)
""")

md("pmgt-attention", r"""
## 6.5 The Transformer encoder, and attention that looks for diversity

A Transformer block (chapter 1, §1.3) lets every position attend to every other: the centre's new
vector is a weighted mixture of all nodes' vectors, the weights learned from how each pair
relates. Over [centre, context] this models the **relations between a node and its context
neighbours** — and between the neighbours themselves — at a cost of $S^2 = 121$ pairs per item
instead of a pass over the whole graph. PMGT's blocks are BERT's (post-norm, GELU), with 2 blocks, 2
heads, $h = 128$ and a feed-forward width of 64, and one change in the attention.

Plain attention favours the neighbours most *similar* to the query, so the centre's summary tends
to copy its closest neighbour and ignore the others. PMGT mixes in a second distribution that
favours nodes *unlike* each other:

$$
A = (1 - \alpha)\; \mathrm{softmax}\!\Big(\frac{Q K^\top}{\sqrt{d}}\Big)
  \;+\; \alpha\; \mathrm{softmax}\big(\mathbf 1 - \cos(D_i, D_j) + I\big),
$$

with $\alpha = 0.2$, $D$ the block's input vectors, $\cos(D_i, D_j)$ their cosine similarity, and $I$ the identity
(so a node keeps some attention on itself, where $1 - \cos = 0$). Each row of $A$ still sums to 1
(a convex combination of two softmax rows), padding keys get weight 0, and $\alpha = 0$ is plain
attention — both checked in `test_pmgt_model.py`. On the untrained model, for one real context:
""")

code("pmgt-attention-demo", r'''
sampler = ContextSampler(graph)
ids = torch.cat([torch.tensor([[50]]), sampler.sample(torch.tensor([50]), torch.Generator().manual_seed(0)).items], 1)
untrained.eval()
with torch.no_grad():
    x = untrained.node_inputs(ids)
    block = untrained.blocks[0].attention
    mixed = block.weights(x, ids >= 0)[0, 0, 0]             # head 0, the centre's row
    block.alpha = 0.0
    plain = block.weights(x, ids >= 0)[0, 0, 0]
    block.alpha = 0.2
diversity = (mixed - 0.8 * plain) / 0.2                      # the second softmax on its own
rows = pd.DataFrame({"plain softmax (α = 0)": plain.numpy(), "diversity term alone": diversity.numpy(),
                     "mixed, α = 0.2": mixed.numpy()},
                    index=["centre"] + [f"context {r}" for r in range(1, ids.shape[1])]).round(3)
rows
''')

md("pmgt-attention-text", r"""
On its own the diversity term is nearly uniform here (0.08–0.10): in an untrained model the nodes
of one context are about equally unlike each other, and the $+I$ on the diagonal only makes up for
the centre's zero distance to itself. Mixed in at $\alpha = 0.2$ it pulls the plain attention a
fifth of the way towards that flat distribution: the strongest neighbour (context 1) loses some
weight, the weakest gain some. How much that matters downstream is an ablation of §6.7.
""")

md("pmgt-attention-source", r"""
The book's page shows the source of `DiversityAttention.weights` here; in Jupyter, `block.weights??`
does (`block` is the attention of the cell above). `attention` is
$\mathrm{softmax}(Q K^\top / \sqrt d)$ per head, `diversity` is
$\mathbf 1 - \cos(D_i, D_j) + I$ from the unit-length block inputs `x`, shared by the heads, padding
keys go to $-\infty$ in both softmaxes, and the returned mixture is $A$ with weight $\alpha$ on the
diversity term.

```{literalinclude} ../../lessons_src/pmgt/model.py
:pyobject: DiversityAttention.weights
:language: python
:caption: lessons_src/pmgt/model.py — DiversityAttention.weights
```
""")

md("pmgt-objectives", r"""
## 6.6 Pre-training: masking and the two objectives

One pre-training step takes a mini-batch of 64 centres, draws their contexts afresh (a new sample
every epoch, so the model sees many neighbourhoods of each item), and masks them.

**Masking (as BERT {cite}`c6-devlin2019bert`).** In each sequence, 20 % of the real context positions are *picked* — 2 of 10;
the centre never. A picked node is replaced by a learned [MASK] vector with probability 0.8, by a
random item with probability 0.1, and left unchanged with probability 0.1 — so that the model
cannot learn that "an unmasked node is always the true one". The targets are read **before** the
replacement (`masking.py`).

**Graph-structure reconstruction.** Every item $v$ gets one vector: its own sequence
[$v$, $v$'s context] goes through the blocks, and a linear *pooler* maps the output at position 0 to
$\mathbf z_v = W_p \mathbf x^{(L)}_0 + \mathbf b_p$ (as in both public codes). For each centre $c$ of
the batch, draw a **positive** $p$ — one of $c$'s graph neighbours, with probability proportional to
the edge weight — and a **negative** $n$ — an item of the graph that is neither $c$ nor one of its
neighbours, uniformly (`ContextSampler.draw_non_neighbours`, exact, without rejection). Each of the
three is encoded *as a centre of its own sequence*, and

$$
\mathcal L_s = -\log \sigma\big(\cos(\mathbf z_c, \mathbf z_p)\big)
               - \log\big(1 - \sigma(\cos(\mathbf z_c, \mathbf z_n))\big),
$$

one positive and one negative per centre, as in the official code. It teaches the model the graph:
items that the graph joins must come out alike, and the vectors it shapes are exactly those the
export writes. A batch of 64 centres is therefore 192 sequences, all masked, in one pass.

**Masked node-feature reconstruction.** At each *picked* position $s$, a linear head per modality
predicts the original item's raw features; the loss is the mean squared error over picked positions
and the modalities that item has:

$$
\mathcal L_f = \frac{1}{|\mathcal P|}\sum_{(s, m) \in \mathcal P}
               \frac{1}{d_m}\,\big\lVert W^{\text{rec}}_m \mathbf z_s - \mathbf x_{v_s, m} \big\rVert^2 .
$$

To fill in a hidden neighbour's title and genres from the centre and the other neighbours, the
model has to learn what the features of related items have in common.

**The total.** $\mathcal L = \mathcal L_s + \mathcal L_f$ — simply added, as the paper does: the two
tasks are meant to shape the same vectors, one from the graph and one from the features, and
neither is privileged. Their values differ (about 1.4 and 0.04 on MovieLens), but what matters is
their gradients; weights $\lambda_s, \lambda_f$ are switches of `PretrainConfig`, and the ablations
set one of them to 0. Pre-training runs through the book's training loop
(`lessons_src/training/loop.py`), with AdamW at $10^{-3}$ and no dropout (the official setting). The
quick run below is the committed runs' pre-training, 20 epochs (about 40 s on two CPU cores).
""")

code("pmgt-pretrain", r'''
from lessons_src.pmgt.downstream import pretrained_model
from lessons_src.pmgt.pretrain import PretrainConfig, export_embeddings

began = time.perf_counter()
pmgt_model, sampler, log = pretrained_model(data, PretrainConfig(epochs=20, seed=0, progress=False), device=device)
embeddings = export_embeddings(pmgt_model, sampler, seed=0)           # (n_items + 1, 128), nothing masked
print(f"pre-training: {time.perf_counter() - began:.0f} s on {describe_hardware(device)}")
history = pd.DataFrame(log["history"])
print(history[["epoch", "structure", "feature"]].iloc[[0, 4, 9, 19]].round(3).to_string(index=False))
''', tags=["nbval-ignore-output"])

code("pmgt-pretrain-check", r'''
# the committed run's pre-training (same command and seed): the mean losses of the last 5 epochs must
# agree within 0.03 (structure) and 0.005 (features) — another CPU or thread count takes other kernels
committed = load_result("pmgt/quick_ml-100k_mlp_pmgt_seed0.json")
print("command:", committed["command"])
ours, theirs = history.iloc[-5:].mean(), pd.DataFrame(committed["pretraining"]["history"]).iloc[-5:].mean()
close = abs(ours["structure"] - theirs["structure"]) < 0.03 and abs(ours["feature"] - theirs["feature"]) < 0.005
print("losses of the last 5 epochs within tolerance of the committed run:", close)
assert close, (ours, theirs)
falls = history["structure"].iloc[-1] < history["structure"].iloc[0] and \
    history["feature"].iloc[-1] < history["feature"].iloc[0]
print("both losses fall over the 20 epochs:", falls)
assert falls
''')

code("pmgt-pretrain-plot", r'''
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, column, name in zip(axes, ("structure", "feature"), ("$\\mathcal{L}_s$ structure", "$\\mathcal{L}_f$ masked features")):
    ax.plot(history["epoch"], history[column], marker="o", ms=3, color="#6b4ca0")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss")
    ax.set_title(name)
plt.tight_layout()
plt.show()
''', tags=["nbval-ignore-output"])

md("pmgt-pretrain-text", r"""
PRETRAIN_TEXT
""")

md("pmgt-losses-source", r"""
The book's page shows the source of `structure_loss` and `feature_loss` here; in Jupyter,
`structure_loss??` and `feature_loss??` do after
`from lessons_src.pmgt.losses import structure_loss, feature_loss`. In `structure_loss` the cosines
$\cos(\mathbf z_c, \mathbf z_p)$ and $\cos(\mathbf z_c, \mathbf z_n)$ are the logits of a binary
cross-entropy with targets 1 and 0, i.e. the two terms of $\mathcal L_s$; in `feature_loss`, `chosen`
holds the picked positions $\mathcal P$, each modality's head $W^{\text{rec}}_m$ is compared with
the raw features only where the item has modality $m$ (`.mean(-1)` is the $1/d_m$), and the sum is
divided by the number of (position, modality) pairs.

```{literalinclude} ../../lessons_src/pmgt/losses.py
:pyobject: structure_loss
:language: python
:caption: lessons_src/pmgt/losses.py — structure_loss
```

```{literalinclude} ../../lessons_src/pmgt/losses.py
:pyobject: feature_loss
:language: python
:caption: lessons_src/pmgt/losses.py — feature_loss
```
""")

md("pmgt-shortcut", r"""
**A shortcut that fails.** Encoding the positive and the negative as sequences of their own triples
the cost of a step. A first version of this chapter's code saved it: it took the positive from the
centre's *own* sequence — the output at one of its context positions — and the negative from the
centre of *another* sequence of the batch, so that one pass gave everything. Its structure loss
fell from 1.66 to 1.30, comfortably below $2 \log 2$; yet the vectors it exported were nearly all
the same, a mean cosine of 0.998 between two different films. What went wrong is worth seeing, because the loss curve gave no
warning. That version trained with dropout 0.1; the cell below pre-trains it again
(`PretrainConfig(in_context_positive=True)`, kept as a switch for this purpose) and compares the
mean cosine of 512 centres' vectors with dropout on (training mode) and off (evaluation mode, as
they are exported):
""")

code("pmgt-shortcut-demo", r'''
from lessons_src.pmgt.geometry import mean_cosine
from lessons_src.pmgt.pretrain import sequences_of

torch.manual_seed(0)
shortcut, _, shortcut_log = pretrained_model(
    data, PretrainConfig(epochs=20, seed=0, progress=False, in_context_positive=True), dropout=0.1, device=device)
graph_items = np.flatnonzero(graph.degrees > 0)
centres = torch.from_numpy(graph_items[:512])
ids = sequences_of(centres, sampler.sample(centres, torch.Generator().manual_seed(0)).items).to(device)
cosines = {}
for name, model in (("one-pass shortcut, dropout 0.1", shortcut), ("PMGT as built here", pmgt_model)):
    for mode, training in (("training mode", True), ("evaluation mode", False)):
        model.train(training)
        with torch.no_grad():
            cosines.setdefault(name, {})[f"mean cosine, {mode}"] = mean_cosine(model.item_vectors(ids)[0])
    model.eval()
cosines["one-pass shortcut, dropout 0.1"]["final L_s"] = shortcut_log["history"][-1]["structure"]
cosines["PMGT as built here"]["final L_s"] = log["history"][-1]["structure"]
shortcut_table = pd.DataFrame(cosines).T
shortcut_table.round(2)
''', tags=["nbval-ignore-output"])

code("pmgt-shortcut-check", r'''
# the claims of the text below; tolerances wide enough for any CPU
short = shortcut_table.loc["one-pass shortcut, dropout 0.1"]
ours = shortcut_table.loc["PMGT as built here"]
claims = {"the shortcut's loss ends below 2 log 2": short["final L_s"] < 2 * np.log(2),
          "its vectors differ in training mode (mean cosine < 0.6)": short["mean cosine, training mode"] < 0.6,
          "and are one vector in evaluation mode (> 0.95)": short["mean cosine, evaluation mode"] > 0.95,
          "PMGT's vectors differ in evaluation mode (< 0.5)": ours["mean cosine, evaluation mode"] < 0.5}
for claim, holds in claims.items():
    print(f"{claim}: {holds}")
assert all(claims.values())
''')

md("pmgt-shortcut-text", r"""
SHORTCUT_TEXT
""")

md("pmgt-downstream", r"""
## 6.7 Downstream: does the pre-trained initialisation help?

**Three initialisations of the same recommender.** Each recommender is trained three times on the
later period, with its item table $Q$ started from

- **random**: $\mathcal N(0, \sigma^2)$ with $\sigma = 0.1$, the usual start;
- **raw**: the items' raw features (each modality scaled to unit length, concatenated), projected by
  PCA to the embedding size $d = 64$;
- **PMGT**: the exported PMGT vectors, projected the same way.

The projection is rescaled to the same standard deviation $\sigma$ as the random start, so the three
differ only in the *directions* of the item vectors, not their scale — a larger start can change
how fast a model trains, and that would be credited to the pre-training. The "raw" arm is the
control the paper lacks: it asks whether the graph and the Transformer add anything to simply
starting from the features.

**The recommenders.** NCF {cite}`c6-he2017ncf` in two forms, trained with BPR
($-\log\sigma(\hat y_{ui} - \hat y_{uj})$ for a training item $i$ and a random item $j$ the user did
not interact with): *NCF-MLP*, $\hat y_{ui} = \mathbf w^\top \mathrm{MLP}([\mathbf p_u;
\mathbf q_i])$ (the paper's choice), and *NeuMF*, which adds a GMF path $\mathbf p_u \odot
\mathbf q_i$; and chapter 1's SASRec {cite}`c6-kang2018sasrec`, whose item table is started the
same way. On MovieLens all three are trained; on Toys NCF-MLP and SASRec (40 epochs there: an
epoch over its 9,706 users takes about 20 s on one core). The model is selected on **validation**
NDCG@10 (every validation interaction ranked against 1,000 items the user never interacted with, all
different), with early stopping after 5 epochs without improvement (20 for the 100-epoch SASRec
runs on MovieLens, 10 for SASRec on Toys).

**Two test protocols side by side.** The official protocol ranks the test item against **1,000
sampled negatives**; with 1,682 items that is most of the catalogue, but sampled metrics can still
order models differently from the full ranking {cite}`c6-krichene2020sampled`, so every run also
ranks the test item against **every** item the user has not interacted with (on Toys' 11,924 items
the 1,000 negatives are a twelfth of the catalogue). Recall@10 of one test item is HIT@10. Both are also split by the test item's **popularity** in the training part:
*cold* (< 5 training interactions), *tail* (5–49) and *head* (≥ 50) — side information should
matter most for the cold and tail items.

The quick run trains NCF-MLP from the PMGT vectors above for 5 epochs (about 20 s on two CPU
cores); the committed runs train up to 30 (`bash tools/pmgt_runs.sh main`, one CLI call per run):

```
python -m lessons_src.pmgt.downstream --init pmgt --model mlp --seed 0 \
    --output results/pmgt/ml-100k_mlp_pmgt_seed0.json
```
""")

code("pmgt-quick-ncf", r'''
from lessons_src.pmgt.downstream import NCFConfig, item_init, train_ncf

began = time.perf_counter()
init = item_init(data, "pmgt", dim=64, std=0.1, embeddings=embeddings)
quick = train_ncf(data, init, NCFConfig(kind="mlp", epochs=5, progress=False), seed=0, device=device)
print(f"NCF-MLP from PMGT, 5 epochs: {time.perf_counter() - began:.0f} s")
print("best epoch", quick["best"]["epoch"], "validation", {k: round(v, 4) for k, v in quick["best"]["valid"].items()})
print("test:", {p: {k: round(m[k], 4) for k in ("Recall@10", "NDCG@10")} for p, m in quick["test"].items()})
''', tags=["nbval-ignore-output"])

code("pmgt-quick-ncf-check", r'''
gap = abs(quick["best"]["valid"]["NDCG@10"] - committed["best"]["valid"]["NDCG@10"])
print("validation NDCG@10 within 0.005 of the committed quick run:", gap < 0.005)
assert gap < 0.005, gap
''')

md("pmgt-results", r"""
**The committed runs.** Three seeds per arm (PMGT pre-trained with the same seed as the
recommender); test metrics of the state with the best validation NDCG@10; mean ± standard deviation
over the seeds. `lessons_src.pmgt.results` reads the results files (`python -m
lessons_src.pmgt.results` prints the same summaries in a terminal).
""")

code("pmgt-results-table", r'''
from lessons_src.pmgt.results import GEOMETRY, PROTOCOLS, load_runs, separates, summarise

runs = load_runs()
DATASETS = {"ml-100k": "MovieLens-100k", "toys": "Amazon Toys"}
MODELS = {"mlp": "NCF-MLP", "neumf": "NeuMF", "sasrec": "SASRec"}
INITS = {"random": "random", "raw": "raw features", "pmgt": "PMGT"}
LENGTHS = {"": "", "100ep": ", 100 ep."}
main = runs[runs["variant"].isin(list(LENGTHS))].copy()          # the three initialisations, no ablation
main["data set"] = pd.Categorical(main["dataset"].map(DATASETS), list(DATASETS.values()))
order = [m + length for m in MODELS.values() for length in LENGTHS.values()]
main["recommender"] = pd.Categorical(main["model"].map(MODELS) + main["variant"].map(LENGTHS), order)
main["item table from"] = pd.Categorical(main["init"].map(INITS), list(INITS.values()))
main = main.sort_values(["data set", "recommender", "item table from", "seed"])
table = summarise(main, by=("data set", "recommender", "item table from", "protocol"))
shown = table.drop(columns="seeds").unstack("protocol")
shown = shown.swaplevel(axis=1)[[(p, m) for p in PROTOCOLS for m in ("Recall@10", "NDCG@10")]]
shown[("", "seeds")] = table["seeds"].unstack("protocol").iloc[:, 0]
shown
''')

code("pmgt-results-plot", r'''
palette = {"random": "#8c959f", "raw features": "#3d6fa8", "PMGT": "#d95f02"}
panels = [(d, p) for d in DATASETS.values() for p in PROTOCOLS]
fig, axes = plt.subplots(2, 2, figsize=(11, 7))
for ax, (dataset, protocol) in zip(axes.flat, panels):
    part = main[(main["data set"] == dataset) & (main["protocol"] == protocol)].copy()
    part["recommender"] = part["recommender"].cat.remove_unused_categories()   # this data set's only
    sns.stripplot(data=part, x="recommender", y="NDCG@10", hue="item table from", dodge=True, ax=ax, size=5,
                  jitter=False, palette=palette)
    ax.set_title(f"{dataset}, {protocol}", fontsize=10)
    ax.set_xlabel("")
    ax.set_ylabel("test NDCG@10 (dots: seeds)")
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(title="item table from", fontsize=7, title_fontsize=7, loc="upper left")
plt.tight_layout()
plt.show()
''', tags=["nbval-ignore-output"])

code("pmgt-popularity", r'''
# Recall@10 of the test items by their popularity in the training part (full ranking), mean over seeds
groups = ["cold (<5) Recall@10", "tail (5–49) Recall@10", "head (≥50) Recall@10"]
full = main[main["protocol"] == "full ranking"]
by_group = full.groupby(["data set", "recommender", "item table from"], sort=False, observed=True)[groups].mean().round(4)
share = {}
for dataset, name in DATASETS.items():
    counts = load_result(f"pmgt/{dataset}_mlp_random_seed0.json")["test"]["full ranking"]["by_popularity"]
    total = sum(g["instances"] for g in counts.values())
    share[name] = ", ".join(f"{g} {c['instances'] / total:.0%}" for g, c in counts.items())
print("share of the test instances:", share)
by_group.columns = [c.removesuffix(" Recall@10") for c in by_group.columns]
by_group
''')

code("pmgt-claims", r'''
# the claims of the text below, checked on the committed runs: "A above B" means every seed of A lies
# above every seed of B (test NDCG@10, in that protocol)
arms = [(d, r) for d, r in main[["data set", "recommender"]].drop_duplicates().itertuples(index=False)]
pairs = (("PMGT", "random"), ("raw features", "random"), ("PMGT", "raw features"), ("raw features", "PMGT"),
         ("random", "PMGT"))
verdicts = pd.DataFrame({
    (d, r, p): {f"{a} above {b}": separates(main, {"data set": d, "recommender": r, "item table from": a, "protocol": p},
                                            {"data set": d, "recommender": r, "item table from": b, "protocol": p})
                for a, b in pairs}
    for d, r in arms for p in PROTOCOLS}).T
verdicts.index.names = ["data set", "recommender", "protocol"]
display(verdicts)
verdicts = verdicts.sort_index()   # sorted for the look-ups below


def holds(dataset, recommender, claim, protocols=PROTOCOLS):
    """The claim 'A above B' holds in every listed protocol."""
    return all(verdicts.loc[(dataset, recommender, p), claim] for p in protocols)


ML, TOYS = DATASETS.values()
# MovieLens: PMGT and the raw features lift SASRec after 30 epochs; after 100 only the raw features do
assert holds(ML, "SASRec", "PMGT above random") and holds(ML, "SASRec", "raw features above random")
assert holds(ML, "SASRec, 100 ep.", "raw features above random") and holds(ML, "SASRec, 100 ep.", "raw features above PMGT")
assert not verdicts.loc[(ML, "SASRec, 100 ep."), "PMGT above random"].any()
# MovieLens: NCF-MLP from PMGT ends below every random seed; NeuMF's seeds separate nothing
assert holds(ML, "NCF-MLP", "random above PMGT")
assert not verdicts.loc[(ML, "NeuMF")].to_numpy().any()
# Toys: PMGT lifts NCF-MLP, and with 1,000 negatives the raw features lift it further
assert holds(TOYS, "NCF-MLP", "PMGT above random") and holds(TOYS, "NCF-MLP", "raw features above random")
assert verdicts.loc[(TOYS, "NCF-MLP", "1000 negatives"), "raw features above PMGT"]
# Toys: the raw features lift SASRec above random and PMGT; PMGT does not lift it
assert holds(TOYS, "SASRec", "raw features above random") and holds(TOYS, "SASRec", "raw features above PMGT")
assert not verdicts.loc[(TOYS, "SASRec"), "PMGT above random"].any()
# the cold items: on MovieLens SASRec (100 epochs) reaches the most of them from the raw features
cold = by_group["cold (<5)"]
assert cold[(ML, "SASRec, 100 ep.", "raw features")] > max(cold[(ML, "SASRec, 100 ep.", init)] for init in ("random", "PMGT"))
print("every claim of the text holds on the committed runs")
''')

md("pmgt-claims-text", r"""
CLAIMS_TEXT
""")

md("pmgt-ablations", r"""
**Ablations of pre-training.** SASRec (100 epochs) on MovieLens from PMGT vectors pre-trained five
other ways, seeds 0–2 (`bash tools/pmgt_runs.sh ablations`): without the diversity term
($\alpha = 0$), without the structure loss, without the feature loss, with the official code's
sampling that leaves the centre in its own context, and with the one-pass shortcut of §6.6. SASRec
is the recommender whose start matters here (§6.7). The last columns describe the exported vectors
by three numbers that §6.8 defines and discusses: the **mean cosine** between two items' vectors
(near 1: they all point nearly the same way), the **effective dimension** (how many directions the
centred vectors really vary along) and the **graph precision@10** (the share of an item's 10 nearest
items that are its graph neighbours).
""")

code("pmgt-ablation-table", r'''
ABLATIONS = {"100ep": "PMGT", "100ep-alpha0": "α = 0", "100ep-no-structure": "no structure loss",
             "100ep-no-feature": "no feature loss", "100ep-keep-centre": "centre kept in its context",
             "100ep-in-context": "one-pass shortcut"}
chosen = runs[(runs["dataset"] == "ml-100k") & (runs["model"] == "sasrec") & (runs["init"] == "pmgt")
              & runs["variant"].isin(list(ABLATIONS))].copy()
chosen["pre-training"] = chosen["variant"].map(ABLATIONS)
ablations = summarise(chosen, by=("pre-training", "protocol"), metrics=("NDCG@10",)).drop(columns="seeds")
ablations = ablations["NDCG@10"].unstack("protocol").rename(columns=lambda p: f"NDCG@10, {p}")
# the pre-training's final losses and the exported vectors' geometry, means over the seeds
pretraining = chosen[chosen["protocol"] == PROTOCOLS[0]].groupby("pre-training")[["final L_s", "final L_f", *GEOMETRY]].mean()
pretraining.loc["no structure loss", "final L_s"] = pretraining.loc["no feature loss", "final L_f"] = np.nan  # off
ablations = ablations.join(pretraining.round(3)).loc[list(ABLATIONS.values())]
random_ndcg = summarise(main[(main["data set"] == "MovieLens-100k") & (main["recommender"] == "SASRec, 100 ep.")
                             & (main["item table from"] == "random")], by=("protocol",), metrics=("NDCG@10",))
print("SASRec, 100 ep., from random:", "; ".join(f"{p}: {random_ndcg.loc[p, 'NDCG@10']}" for p in PROTOCOLS))
# the claims of the text below: the raw features stay above every variant, no variant falls below PMGT
for variant in ABLATIONS:
    for protocol in PROTOCOLS:
        where = {"dataset": "ml-100k", "model": "sasrec", "protocol": protocol}
        assert separates(runs, {**where, "init": "raw", "variant": "100ep"}, {**where, "init": "pmgt", "variant": variant})
        assert not separates(runs, {**where, "init": "pmgt", "variant": "100ep"}, {**where, "init": "pmgt", "variant": variant})
print("in both protocols every raw-feature seed is above every seed of every variant; no variant is below PMGT")
ablations
''')

md("pmgt-ablation-text", r"""
ABLATION_TEXT
""")

md("pmgt-widgets", r"""
## 6.8 What the model computes

For a few films, the pre-trained model's view: the context MCNSampling draws (the centre in the
middle, the nodes on rings by the hop at which the walk first reached them, edges drawn with their
graph weight, node size by the centre's attention), the centre's attention over [itself, its
context] in the last block, and the film's five nearest neighbours by cosine in the PMGT embedding
next to those in the raw-feature space. The slider chooses the film; everything is rendered in
advance, so it works in the HTML book without a kernel.
""")

code("pmgt-widget", r'''
from lessons_src.pmgt.ncf import raw_feature_matrix
from lessons_src.pmgt.widgets import inspect_item, item_explorer, nearest

graph_items = np.flatnonzero(graph.degrees > 0)
fewest = graph_items[np.argsort(graph.degrees[graph_items], kind="stable")[:2]]   # two of the least connected
FILMS = [50, 1, 127, 98, 313, 100, *fewest.tolist()]
print("films:", [data.titles[i] for i in FILMS])
raw_vectors = raw_feature_matrix(data.features, data.present)
views = [inspect_item(pmgt_model, sampler, item, seed=0) for item in FILMS]
short = lambda i: data.titles[i][:32]
item_explorer(views, embeddings, raw_vectors, short)
''', tags=["nbval-ignore-output"])

code("pmgt-widget-numbers", r'''
# the same views over many films: the centre's attention by position (300 films whose context is full),
# and how many of an item's 10 nearest PMGT neighbours are raw-feature neighbours or in its own context
full_context = [int(i) for i in graph_items[:400]
                if (sampler.sample(torch.tensor([int(i)]), torch.Generator().manual_seed(0)).items[0] >= 0).all()][:300]
attention = np.array([inspect_item(pmgt_model, sampler, item, seed=0)["attention"] for item in full_context])
by_position = pd.DataFrame({"mean": attention.mean(0), "sd over films": attention.std(0)},
                           index=["centre"] + [f"context {k}" for k in range(1, attention.shape[1])])
display(by_position.round(2))
shared = np.mean([len(set(nearest(embeddings, i, 10)) & set(nearest(raw_vectors, i, 10))) for i in graph_items])
contexts = sampler.sample(torch.from_numpy(graph_items[:300]), torch.Generator().manual_seed(0)).items
in_context = np.mean([len(set(nearest(embeddings, int(i), 10)) & set(row.tolist()))
                      for i, row in zip(graph_items[:300], contexts)])
print(f"of an item's 10 nearest PMGT neighbours, {shared:.1f} are among its 10 nearest raw-feature ones"
      f" and {in_context:.1f} in its own sampled context")
assert shared < 5 and in_context < 1, (shared, in_context)
''', tags=["nbval-ignore-output"])

md("pmgt-geometry", r"""
**Three numbers for a table of vectors** (`geometry.py`). Whether a pre-trained table can help a
recommender depends on what is in it, and three numbers say a good deal: the **mean cosine** of two
different items (near 1: every vector points nearly the same way, the table is *collapsed* onto
a common part — which the centring of §6.7's PCA removes before a recommender sees the table); the
**effective dimension**, $(\sum_k \lambda_k)^2 / \sum_k \lambda_k^2$ over the eigenvalues
$\lambda_k$ of the centred vectors' covariance (1 when all the variation left after centring lies
along one direction, $d$ when it is spread evenly over $d$); and the **graph precision@10**, the share of an item's 10
nearest items (by cosine) that are its graph neighbours — to be read against the graph's
**density**, the share a random choice would get. Each pre-training run records them for the PMGT
vectors and for the raw features (means over seeds 0–2; the live model's numbers first):
""")

code("pmgt-geometry-table", r'''
from lessons_src.pmgt.geometry import describe

# the live model (§6.6) against the committed seed-0 run; the tolerances are those of a seed-to-seed
# change, since another CPU or thread count trains along another path
pretrained = runs[(runs["model"] == "mlp") & (runs["init"] == "pmgt") & (runs["variant"] == "")
                  & (runs["protocol"] == PROTOCOLS[0])]
live = describe(embeddings, graph_items, graph.weights)
committed_geometry = pretrained[(pretrained["dataset"] == "ml-100k") & (pretrained["seed"] == 0)].iloc[0]
close = all(abs(live[k] - committed_geometry[k]) < tolerance
            for k, tolerance in zip(GEOMETRY, (0.2, 2.0, 0.02)))
print("the live model's numbers are within tolerance of the committed seed-0 run:", close)
assert close, (live, committed_geometry[list(GEOMETRY)])
rows = {}
for dataset, name in DATASETS.items():
    mean = pretrained[pretrained["dataset"] == dataset].mean(numeric_only=True)
    rows[(name, "PMGT")] = mean[[*GEOMETRY, "graph density"]]
    rows[(name, "raw features")] = mean[[f"raw {k}" for k in GEOMETRY] + ["graph density"]].set_axis([*GEOMETRY, "graph density"])
pd.DataFrame(rows).T.round({"mean cosine": 3, "effective dimension": 2, "graph precision@10": 3,
                            "graph density": 4})
''')

md("pmgt-widget-text", r"""
WIDGET_TEXT
""")

md("pmgt-pitfalls", r"""
## 6.9 Pitfalls: what the public code does

The official implementation (stephenliu0423/PMGT) and a PyTorch port (uoo723/PMGT) differ from the
paper, or from a sound protocol, in the ways below; where the book's code offers the public code's
behaviour as a switch, the switch is named, and three of them are measured after the list.

- **It does not run as shipped**: it imports a package that does not exist.
- **The diversity term is computed on a learned projection.** The official attention takes the
  cosines of a per-head linear map of the block's input (a "distance" layer); this chapter uses the
  block's input itself, as the equation of §6.5 is written. Both push attention towards unlike
  nodes; the projection lets the model learn what "unlike" means.
- **The structure loss receives a tuple.** The cosine helper returns a tuple, which the loss then
  treats as its logits. `losses.py` computes $\sigma(\cos)$ of the two vectors and tests the value
  against the formula, term by term.
- **The centre is not excluded from its own context.** A walk can return to its start at hops 2 and
  3, so the centre can take one of its own 10 slots — measured below. Switch:
  `ContextSampler(exclude_centre=False)` and `--keep-centre` (an ablation above).
- **Embeddings are exported with neighbours still masked**: 2 of every 10 neighbours are [MASK]
  or random items when the vectors are written, so the vector of an item depends on that draw. Switch: `export_embeddings(mask_rate=0.2)`; measured
  below.
- **The last epoch is never saved, and the warm-up outlasts the run**: the weights of the final
  epoch are not written, and on Video Games the learning-rate warm-up is longer than the whole run,
  so the model never trains at its nominal rate. Here the loop keeps the final state and uses a
  constant AdamW rate.
- **Test negatives are drawn with replacement.** "1,000 negatives" are fewer different items; with
  replacement from about 1,600 candidates, more than a quarter of the draws repeat. Switch:
  `InstanceEvaluator(distinct=False)`; measured below.
- **Model selection on the test set, and a random downstream split.** The reported numbers are the
  best test epoch, and the downstream interactions are split at random, so a user's "future" items
  train the model that is tested on their past. Here: a time-ordered split, selection on validation.
- **The "visual" modality is mostly noise.** Only 502 of 7,252 Video Games items had an image, and
  the others get N(0, 1) features — which the feature loss then asks the model to reconstruct. Here
  a missing modality is skipped (§6.1).
""")

code("pmgt-pitfall-numbers", r'''
from lessons_src.evaluation.instances import InstanceEvaluator

# 1. the centre in its own context, as the official sampling leaves it
centres = torch.from_numpy(graph_items)
kept = ContextSampler(graph, exclude_centre=False).sample(centres, torch.Generator().manual_seed(0)).items
own = (kept == centres[:, None])
print(f"official sampling: the centre is in its own top-10 for {own.any(1).float().mean():.0%} of the items"
      f" (at rank 1 for {own[:, 0].float().mean():.0%})")
# 2. exporting with 20 % of every context masked, as the official code does
masked = export_embeddings(pmgt_model, sampler, seed=0, mask_rate=0.2)
cosine = torch.nn.functional.cosine_similarity(masked[graph_items], embeddings[graph_items], dim=-1)
moved = np.mean([len(set(nearest(masked, i, 10)) & set(nearest(embeddings, i, 10))) for i in graph_items[:300]])
print(f"masked export vs ours: cosine of an item's two vectors {cosine.mean():.3f} (min {cosine.min():.3f});"
      f" of the 10 nearest, {moved:.1f} the same")
# 3. 1,000 test negatives drawn with replacement: how many are different?
drawn = InstanceEvaluator(data.split, "test", n_negatives=1000, distinct=False, k=10, seed=1)
different = [len(set(row[1:].tolist())) for row in drawn.candidates]
print(f"with replacement: {np.mean(different):.0f} different items among 1,000 negatives on average")
''', tags=["nbval-ignore-output"])

md("pmgt-pitfall-text", r"""
PITFALL_TEXT
""")

md("pmgt-answers", r"""
## 6.10 The questions, answered

ANSWERS_TEXT
""")

md("pmgt-exercises", r"""
## Exercises

Each exercise has a checker in `lessons_src.pmgt.exercises`; it says what is wrong. Write your
function in the cell with `raise NotImplementedError`.

**Exercise 1 — edge weights.** Write `my_edge_weight(counts, deg_u, deg_v)` for three NumPy arrays
of the same shape — co-interaction counts $w_{uv} \geq 1$ and the two endpoints' degrees — returning
$w'_{uv} = (\log w_{uv} + 1)/(\log\sqrt{\deg_u \deg_v} + 1)$ (natural logarithm).
""")

code("exercises-import", r'''
from lessons_src.pmgt import exercises
''')

book.exercise("pmgt", 1, "my_edge_weight(counts, deg_u, deg_v)", r'''
return (np.log(counts) + 1.0) / (np.log(np.sqrt(deg_u * deg_v)) + 1.0)
''', "check_edge_weight", 2)

md("pmgt-ex2", r"""
**Exercise 2 — the ordered context.** Write `my_context(hop_draws, hop_weights, centre, k)`:
`hop_draws` is a list of 1-D integer arrays, the items drawn at hop 1, 2, 3 (with repeats; $-1$
means "no item"), `hop_weights` the $\beta_t$. Return the context as a list of at most `k` item ids:
the items with the highest $\sum_t \beta_t \cdot \#\{\text{draws at hop } t\}$, the centre and $-1$
left out, ties broken by the smaller id.
""")

book.exercise("pmgt", 2, "my_context(hop_draws, hop_weights, centre, k)", r'''
score = {}
for draws, weight in zip(hop_draws, hop_weights):
    for item in np.asarray(draws).tolist():
        if item >= 0 and item != centre:
            score[item] = score.get(item, 0.0) + weight
return sorted(score, key=lambda item: (-score[item], item))[:k]
''', "check_context", 2)

md("pmgt-ex3", r"""
**Exercise 3 — attention with a diversity term.** Write `my_diversity_attention(q, k, x, alpha)`
for one head and no padding: `q`, `k` (S, d) queries and keys, `x` (S, D) the block's inputs, `alpha`
a float. Return the (S, S) weights $(1-\alpha)\,\mathrm{softmax}(q k^\top/\sqrt d) +
\alpha\,\mathrm{softmax}(1 - \cos(x_i, x_j) + I)$, both softmaxes over each row.
""")

book.exercise("pmgt", 3, "my_diversity_attention(q, k, x, alpha)", r'''
plain = torch.softmax(q @ k.T / q.shape[-1] ** 0.5, dim=-1)              # (S, S)
unit = torch.nn.functional.normalize(x, dim=-1)
diverse = torch.softmax(1.0 - unit @ unit.T + torch.eye(len(x), dtype=x.dtype), dim=-1)
return (1.0 - alpha) * plain + alpha * diverse
''', "check_diversity_attention", 3)

md("pmgt-ex4", r"""
**Exercise 4 (open).** (a) *Where side information should help.* Make the later period's cold items
colder: train NCF-MLP from random, raw and PMGT initialisations after dropping, from the training
part, all but one interaction of a random half of the items (a subclass or a copy of `PMGTData` with
a new `split`), seeds 0–2, and report Recall@10 on the test items of that half. (b) *Longer
pre-training.* Pre-train 100 and 200 epochs (`--pretrain-epochs`) and plot the downstream NDCG@10
against the final structure loss: does a lower pre-training loss mean a better initialisation?
(c) *Freeze or fine-tune.* Keep the PMGT item table frozen during NCF training (only users and the
tower learn) and compare with the fine-tuned runs of §6.7. (d) *A sharper objective.* The structure
loss feeds a cosine in $[-1, 1]$ to $\sigma$, so it can never be confident; divide the cosines by a
temperature $\tau = 0.1$ (a change to `losses.structure_loss`) and say what happens to the effective
dimension and the graph precision of the exported vectors (§6.8) and to SASRec on MovieLens.
""")

md("open-exercise-rubric", r"""
**Rubric for Exercise 4 (4 points, graded by hand — instructor edition only).**

- **1 point — (a).** The split change is correct (no test or validation item removed, the held-out
  half chosen before training), three initialisations × three seeds, Recall@10 on the affected items
  with its spread, and a conclusion that says whether PMGT or raw features beat random beyond it.
- **1 point — (b).** At least three pre-training lengths, the final $\mathcal L_s$ and $\mathcal L_f$
  next to the downstream metric, and a reading that does not mistake one seed's noise for a trend.
- **1 point — (c).** Frozen and fine-tuned tables compared on the same seeds and protocols; explains
  why a frozen table tests the pre-trained vectors more directly than a fine-tuned one.
- **(d) as a substitute** for (a), (b) or (c): the temperature in one place with a test of the new
  loss against its formula, the three numbers of §6.8 for $\tau = 1$ and $0.1$, and SASRec's
  NDCG@10 over three seeds next to the committed runs.
- **1 point — the reading.** Relates every number to the seed spread and to both test protocols,
  and to the published gains (direction and size).

Full marks need evidence the student's own code produced (a table or figure, not a recollection),
at least 3 seeds with their spread wherever a run fits on the CPU, and a conclusion that says which
differences are larger than that spread. Take one point off an otherwise complete answer that chose
a model or a setting on test data.
""", tags=["remove-cell"], nbgrader={"grade": True, "grade_id": "open_exercise", "locked": False, "points": 4,
                                     "schema_version": 3, "solution": True})

book.references("c6-")



if __name__ == "__main__":
    import sys

    book.main(sys.argv[1:])
