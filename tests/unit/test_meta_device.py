"""Every model of the book takes one training step on torch's ``meta`` device: GPU readiness, no GPU.

CI has no GPU, and a model can pass every CPU test yet die at the first step of a GPU run: a tensor
made inside ``forward`` or a loss without ``device=`` (``torch.arange(n)``, ``torch.tensor(...)``, a
mask, a random draw) lands on the CPU, and combining it with the model's CUDA tensors raises. A meta
tensor has a shape, a dtype and a device but no values, and plays the GPU here: each case moves a
small model to ``meta`` with ``.to("meta")`` (as training moves it with ``model.to(device)``: a
tensor kept as a plain attribute rather than a buffer stays behind, as it would on a GPU), builds
its batch on ``meta``, and runs the forward pass, the loss the package trains it with,
``loss.backward()`` and one ``torch.optim.Adam`` step. Combining a CPU tensor (other than a 0-dim
scalar, which CUDA accepts too) with a meta tensor raises, so a stray CPU tensor fails the test as
it would fail the GPU run, in milliseconds.

What meta cannot do is read a value: ``.item()``, ``int(t)``, ``bool(t)``, ``.cpu()``, ``.tolist()``
and ``torch.unique`` raise. Boolean indexing (``x[mask]``, ``nonzero``) has a value-dependent size;
this file lets torch assume every element is selected (``meta_nonzero_assume_all_nonzero``), the
size does not matter here. Input checks that read values are switched off as the training loop
does (``check_inputs = False``) or made to pass (``checks_pass``). The few steps that cannot run
without values are ``xfail(strict=True, raises=NeedsValues)``: they must fail, and only because a
value was read; a device mismatch there fails the test.

The training scripts' fused Adam (``sasrec.train``: ``fused=True``) does not accept meta tensors; the
plain Adam used here does. Meta is more lenient than CUDA in places (an embedding lookup takes CPU
indices into a meta table), so this catches most device bugs, not all, and it checks no numbers.
"""

from __future__ import annotations

import types
from contextlib import contextmanager

import pytest
import torch
import torch.fx.experimental._config as fx_config
import torch.nn.functional as F
from synthetic import synthetic_digits
from test_capsnet import tiny_capsnet
from test_interests import HISTORIES as INTEREST_HISTORIES
from test_interests import make_model as tiny_interest_model
from test_mgnm_model import HISTORIES as MGNM_HISTORIES
from test_mgnm_model import USERS as MGNM_USERS
from test_mgnm_model import model as tiny_mgnm
from test_mmrec_model import fake_news, model_for
from test_pmgt_model import tiny_model as tiny_pmgt
from test_pmgt_model import two_cliques

from lessons_src.capsules import losses as capsule_losses
from lessons_src.capsules.losses import capsnet_loss
from lessons_src.distill.losses import distillation_loss, logit_matching_loss, study_notes_loss
from lessons_src.distill.models import MLP, jitter
from lessons_src.distill.ranking import RankingDistillation
from lessons_src.mmrec.model import softmax_click_loss
from lessons_src.mmrec.pretrained import ConceptCNN
from lessons_src.pmgt.losses import feature_loss, in_context_pairs, structure_loss
from lessons_src.pmgt.masking import mask_context
from lessons_src.pmgt.ncf import NCF
from lessons_src.pmgt.pretrain import PretrainConfig, pretraining_loss
from lessons_src.pmgt.sampling import ContextSampler
from lessons_src.sasrec.model import sasrec_loss
from lessons_src.sasrec.train import embedding_l2

META = torch.device("meta")


class NeedsValues(Exception):
    """The step read a value of a meta tensor, which has none: a limit of meta, not a device bug."""


# what torch says when a meta tensor is asked for a value (.item(), .cpu(), torch.unique)
VALUE_ERRORS = ("cannot be called on meta tensors", "Cannot copy out of meta tensor", "no fake impl or Meta kernel")


@contextmanager
def values_read_raise_needs_values():
    try:
        yield
    except (RuntimeError, NotImplementedError) as error:
        if any(text in str(error) for text in VALUE_ERRORS):
            raise NeedsValues(str(error)) from error
        raise  # a device mismatch, or anything else: a real failure


def needs_values(reason: str):
    return pytest.mark.xfail(strict=True, raises=NeedsValues, reason=reason)


@pytest.fixture(autouse=True)
def boolean_indexing_on_meta():
    """``x[mask]`` on meta: assume every element selected (the output size is all that depends on it)."""
    with fx_config.patch(meta_nonzero_assume_all_nonzero=True):
        yield


@pytest.fixture
def checks_pass(monkeypatch):
    """Input checks such as ``int(ids.min()) < 1`` read values: ``int()`` of a meta tensor gives 1, a
    valid id, so they pass and the rest of the library's own forward runs."""
    original = torch.Tensor.__int__
    monkeypatch.setattr(torch.Tensor, "__int__", lambda self: 1 if self.is_meta else original(self))


def on_meta(model: torch.nn.Module) -> torch.nn.Module:
    return model.to(META).train()


def meta(*tensors: torch.Tensor):
    moved = tuple(t.to(META) for t in tensors)
    return moved if len(moved) > 1 else moved[0]


def train_step(model: torch.nn.Module, loss_fn) -> None:
    """loss_fn() → a scalar; backward and one Adam step, all on meta."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    with values_read_raise_needs_values():
        loss = loss_fn()
        assert loss.device == META and loss.dim() == 0
        loss.backward()
        optimizer.step()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(g.device == META for g in grads)
    assert all(p.device == META for p in model.parameters())
    assert all(s["exp_avg"].device == META for s in optimizer.state.values())


def ids(shape, high: int, low: int = 0, seed: int = 0) -> torch.Tensor:
    """Random int64 ids in low..high − 1, on meta."""
    return meta(torch.randint(low, high, shape, generator=torch.Generator().manual_seed(seed)))


# ------------------------------------------------------------------------ chapter 1: SASRec

SASREC = [
    pytest.param(dict(block_layout=layout, fast=fast), id=f"{layout}-{'fast' if fast else 'plain'}")
    for layout in ("official", "port", "pre_ln")
    for fast in (True, False)
] + [pytest.param(dict(mask_padding_keys=False), id="padding-keys-unmasked")]


@pytest.mark.parametrize("variant", SASREC)
def test_sasrec(model_factory, variant):
    model = on_meta(model_factory(**variant))  # n_items 20, maxlen 8
    model.check_inputs = False  # as train_loop does: its validate() reads int(seq.min())
    seq, pos, neg = ids((4, 8), 21), ids((4, 8), 21, seed=1), ids((4, 8), 21, low=1, seed=2)

    def loss():  # sasrec.train.fit's loss, with its l2_emb term
        pos_logits, neg_logits = model(seq, pos, neg)
        return sasrec_loss(pos_logits, neg_logits, pos) + embedding_l2(model, 1e-3)

    train_step(model, loss)


# ------------------------------------------------------------------------ chapter 2: distillation

def mnist_batch(n: int = 6):
    images, labels = synthetic_digits(n, 0)
    return meta(images, labels)


def test_distillation_teacher_cross_entropy_on_jittered_images():
    torch.manual_seed(0)
    teacher = on_meta(MLP([784, 32, 32, 10], dropout=0.5, input_dropout=0.2))
    images, labels = mnist_batch()
    train_step(teacher, lambda: F.cross_entropy(teacher(jitter(images, 2)), labels))


@pytest.mark.parametrize("loss_fn", [distillation_loss, study_notes_loss], ids=lambda f: f.__name__)
def test_distillation_student(loss_fn):
    torch.manual_seed(0)
    student, teacher = on_meta(MLP([784, 16, 10])), on_meta(MLP([784, 32, 32, 10], dropout=0.5)).eval()
    images, labels = mnist_batch()
    with torch.no_grad():
        teacher_logits = teacher(images)
    train_step(student, lambda: loss_fn(student(images), teacher_logits, labels, temperature=4.0, alpha=0.9))


def test_logit_matching():
    torch.manual_seed(0)
    student, images = on_meta(MLP([784, 16, 10])), mnist_batch()[0]
    train_step(student, lambda: logit_matching_loss(student(images), meta(torch.randn(6, 10))))


@pytest.mark.parametrize("weighting", ["position", "hybrid"])
def test_ranking_distillation(model_factory, weighting):
    student = on_meta(model_factory(hidden=8, n_heads=1, dropout=0.2))  # n_items 20, maxlen 8
    student.check_inputs = False
    top_k = ids((5, 8, 3), 21, low=1)  # the teacher's lists: (U, L, K), on the training device
    # generator=None: meta has no generator (rank_experiment passes one on the training device)
    loss_fn = RankingDistillation(top_k, n_items=20, weighting=weighting, rank_samples=7)
    users, seq, pos, neg = ids((4,), 5), ids((4, 8), 21), ids((4, 8), 21, seed=1), ids((4, 8), 21, low=1, seed=2)
    train_step(student, lambda: loss_fn(student, users, seq, pos, neg))


# ------------------------------------------------------------------------ chapter 3: capsules

@pytest.fixture
def labels_not_range_checked(monkeypatch):
    """margin_loss checks the labels' range with .tolist(): keep only the shape and dtype check."""
    def check_labels(labels, batch, n_classes):
        assert labels.shape == (batch,) and labels.dtype == torch.int64

    monkeypatch.setattr(capsule_losses, "check_labels", check_labels)


@pytest.mark.parametrize("options", [{}, {"routing_iterations": 1}], ids=["3-iterations", "1-iteration"])
def test_capsnet_margin_and_reconstruction_loss(labels_not_range_checked, options):
    model = on_meta(tiny_capsnet(**options))
    images, labels = mnist_batch(4)
    images = jitter(images, 2)  # as capsules.mnist_train feeds it

    def loss():
        output = model(images, labels)
        return capsnet_loss(output, images, labels, model.config.recon_weight).total

    train_step(model, loss)


@needs_values("margin_loss checks the labels' range with .tolist(), a value meta does not have")
def test_capsnet_loss_with_its_label_check():
    model, (images, labels) = on_meta(tiny_capsnet()), mnist_batch(4)
    train_step(model, lambda: capsnet_loss(model(images, labels), images, labels).total)


INTERESTS = [
    pytest.param(dict(bilinear="shared", logits_init="random"), id="MIND"),
    pytest.param(dict(bilinear="per_position", logits_init="zero"), id="ComiRec-DR"),
    pytest.param(dict(bilinear="shared", logits_init="zero"), id="shared-zero"),
    pytest.param(dict(bilinear="per_position", logits_init="random", detach_routing=False), id="random-no-detach"),
]


@pytest.mark.parametrize("variant", INTERESTS)
def test_multi_interest_model(variant):
    model = on_meta(tiny_interest_model(**variant))  # n_items 20, maxlen 8
    model.check_inputs = False  # as train_loop does: validate() reads int(histories.min())
    histories, targets = meta(INTEREST_HISTORIES), ids((4,), 21, low=1)
    # interest_train passes a generator on the training device; meta has none (None: the default one)
    train_step(model, lambda: model.loss(histories, targets, generator=None))


# ------------------------------------------------------------------------ chapter 4: MM-Rec

MMREC = [
    pytest.param({}, id="full"),
    pytest.param({"co_attention": False}, id="no-coattention"),
    pytest.param({"modalities": "text", "text_layers": 1}, id="text"),
    pytest.param({"modalities": "image", "image_layers": 1}, id="image"),
    pytest.param({"user_attention": "pooling"}, id="pooling"),
    pytest.param({"public_code_masks": True}, id="public-code-masks"),
    pytest.param({"word_features": 5, "region_features": 7}, id="pretrained-vectors"),
]


def news_on_meta():
    """test_mmrec_model's fake news table, plus pretrained token and region vectors, on meta."""
    news = fake_news()
    g = torch.Generator().manual_seed(1)
    n, length, regions = news.title_ids.shape[0], news.title_ids.shape[1], news.regions.shape[1]
    fields = dict(vars(news), title_vectors=torch.randn(n, length, 5, generator=g),
                  region_vectors=torch.randn(n, regions, 7, generator=g))
    return types.SimpleNamespace(**{name: meta(value) for name, value in fields.items()})


@pytest.mark.parametrize("options", MMREC)
def test_mmrec_news_encoder_and_click_loss(options):
    """MMRec.forward minus its torch.unique (which needs values): every news of the table is encoded,
    so the rows are the news ids themselves."""
    model, news = on_meta(model_for(**options)), news_on_meta()
    history, candidates = meta(torch.tensor([[0, 3, 4, 5], [0, 0, 1, 2]]), torch.tensor([[6, 7, 8], [9, 10, 11]]))

    def loss():
        table = model.encode_news(news, torch.arange(len(news.title_ids), device=META)).by_modality()
        return softmax_click_loss(model.score_vectors(table, history, candidates))

    train_step(model, loss)


@needs_values("MMRec.forward checks the ids' range (bool(ids.min() < 0)) and encodes each distinct news "
              "once (torch.unique)")
def test_mmrec_forward():
    model, news = on_meta(model_for()), news_on_meta()
    history, candidates = meta(torch.tensor([[0, 3, 4, 5]]), torch.tensor([[6, 7, 8]]))
    train_step(model, lambda: softmax_click_loss(model(news, history, candidates)))


def test_mmrec_concept_cnn():
    torch.manual_seed(0)
    model = on_meta(ConceptCNN(n_labels=5, crop_size=8))
    crops, labels = meta(torch.rand(6, 3, 8, 8)), ids((6,), 5)
    train_step(model, lambda: F.cross_entropy(model(crops), labels))  # pretrain_concept_cnn's loss


# ------------------------------------------------------------------------ chapter 5: MGNM

MGNM = [
    pytest.param({"time_order": False}, id="no-time-order"),
    pytest.param({"public_code_reshape": True}, id="public-code-bilstm"),
    pytest.param({"time_order": False, "edge_form": "plain", "iterative_gcn": False, "shared_gcn_weights": True},
                 id="public-code-graph"),
    pytest.param({"time_order": False, "keep_per_row": 2, "readout": "hard"}, id="sparse-hard-readout"),
    pytest.param({"time_order": False, "readout_power": 2.0, "levels": 0}, id="no-levels-power-readout"),
    pytest.param({}, id="default-packed-bilstm", marks=needs_values(
        "the BiLSTM packs each history by its length: lengths.cpu() and a check that no row is empty")),
]


@pytest.mark.parametrize("options", MGNM)
def test_mgnm(checks_pass, options):
    model = on_meta(tiny_mgnm(**options))  # n_items 20, n_users 5, maxlen 6
    histories, users = meta(MGNM_HISTORIES, MGNM_USERS)
    targets, negatives = ids((2,), 21, low=1), ids((2, 5), 21, low=1, seed=1)
    # mgnm.train draws the negatives and the routing logits with a generator on the device; meta has none
    train_step(model, lambda: model.loss(histories, users, targets, negatives, generator=None))


# ------------------------------------------------------------------------ chapter 6: PMGT and NCF

def pmgt_batch(in_context: bool = False):
    """What pretraining_loss feeds the model: 3B sequences sampled and masked on the CPU, then moved."""
    sampler = ContextSampler(two_cliques(), context_size=4)  # 12 items, as tiny_pmgt
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([0, 1, 6, 7])
    nodes = centres if in_context else torch.cat([centres, torch.tensor([2, 3, 8, 9, 6, 7, 0, 1])])
    sequences = torch.cat([nodes[:, None], sampler.sample(nodes, generator).items], 1)
    return sampler, mask_context(sequences, sampler.n_items, 0.5, generator)


@pytest.mark.parametrize("alpha", [0.2, 0.0], ids=["diversity", "plain-attention"])
def test_pmgt_structure_loss(alpha):
    model = on_meta(tiny_pmgt(alpha=alpha, dropout=0.1))
    _, batch = pmgt_batch()
    has_negative = meta(torch.tensor([True, True, False, True]))

    def loss():
        z, _ = model.item_vectors(meta(batch.inputs), meta(batch.use_mask_token))
        return structure_loss(*z.split(4), has_negative)

    train_step(model, loss)


@needs_values("feature_loss skips absent modalities with `if keep.any()` and counts them with int()")
def test_pmgt_feature_loss():
    model = on_meta(tiny_pmgt())
    _, batch = pmgt_batch()
    targets = meta(batch.targets)

    def loss():
        _, outputs = model.item_vectors(meta(batch.inputs), meta(batch.use_mask_token))
        raw, present = model.raw_features(targets.clamp_min(0))
        return feature_loss(outputs, meta(batch.masked), raw, present, model.reconstruct)

    train_step(model, loss)


@needs_values("in_context_pairs keeps the centres that have context: int(keep.sum())")
def test_pmgt_in_context_pairs():
    model = on_meta(tiny_pmgt())
    _, batch = pmgt_batch(in_context=True)

    def loss():
        _, outputs = model.item_vectors(meta(batch.inputs), meta(batch.use_mask_token))
        centre, positive, negative, has_negative = in_context_pairs(outputs, meta(batch.targets))
        return structure_loss(*(model.pooler(v) for v in (centre, positive, negative)), has_negative)

    train_step(model, loss)


@needs_values("pretraining_loss returns its tally of the loss terms with .cpu()")
def test_pmgt_pretraining_loss():
    """The whole loss as pre-training calls it (sampling and masking on the CPU, moved to the device),
    without the feature term, which needs values (above)."""
    model = on_meta(tiny_pmgt())
    sampler, _ = pmgt_batch()
    config = PretrainConfig(batch_size=4, feature_weight=0.0)
    train_step(model, lambda: pretraining_loss(model, sampler, torch.tensor([0, 1, 6, 7]), config,
                                               torch.Generator().manual_seed(0))[0])


NCF_VARIANTS = [
    pytest.param(kind, factorised, id=f"{kind}-{'factorised' if factorised else 'literal'}")
    for kind in ("mlp", "neumf") for factorised in (True, False)
]


@pytest.mark.parametrize("kind, factorised", NCF_VARIANTS)
def test_ncf_bpr(kind, factorised):
    """downstream.train_ncf's BPR loss; 8 users × 2 items ≥ 11 rows of the item table, so the
    factorised model takes its whole-table path (a smaller batch takes torch.unique, below)."""
    torch.manual_seed(0)
    model = on_meta(NCF(n_users=5, n_items=10, dim=8, kind=kind, factorised=factorised))
    users, items = ids((8,), 6, low=1), ids((8, 2), 11, low=1)

    def loss():
        scores = model(users, items)  # (B, 2): positive, negative
        return -F.logsigmoid(scores[:, 0] - scores[:, 1]).mean()

    train_step(model, loss)


@needs_values("a factorised NCF looks each distinct item of a small batch up once: torch.unique")
def test_ncf_factorised_small_batch():
    model = on_meta(NCF(n_users=5, n_items=10, dim=8, kind="neumf"))
    users, items = ids((2,), 6, low=1), ids((2, 2), 11, low=1)
    train_step(model, lambda: model(users, items).sum())
