"""Chapter 3's models against the papers' equations, written out as plain loops.

Every reference below works on Python floats or 1-D tensors only, with its own squash and softmax,
and indexes capsules one at a time, so that it reads like the paper and shares no reshape, einsum
or broadcasting with the library. The library must agree with it to ~1e-5 (float64 throughout):

* CapsNet (Sabour, Frosst & Hinton 2017, §2 and §4): Conv1 + ReLU → PrimaryCaps → û_j|i = W_ij u_i
  → routing by agreement → lengths, the decoder's masking and the margin loss.
* ComiRec-DR (Cen et al. 2020) and MIND (Li et al. 2019) as the library configures them, values and
  gradients: the stop-gradient on the routing logits only shows in the gradients.
"""

from __future__ import annotations

import math

import pytest
import torch

from lessons_src.capsules import CapsNet, CapsNetConfig, capsnet_loss, margin_loss
from lessons_src.capsules.interests import InterestConfig, MultiInterestModel

TOLERANCE = dict(atol=1e-5, rtol=1e-5)


@pytest.fixture(autouse=True)
def float64():
    """Build and run everything in float64, so that 1e-5 measures the maths, not rounding."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


# ------------------------------------------------------------------- squash and softmax, by hand


def squash_list(s: list[float]) -> list[float]:
    """Eq. 1 on a list: v = |s|² / (1 + |s|²) · s / |s|."""
    norm2 = sum(x * x for x in s)
    if norm2 == 0:
        return [0.0] * len(s)
    scale = norm2 / (1 + norm2) / math.sqrt(norm2)
    return [scale * x for x in s]


def softmax_list(b: list[float]) -> list[float]:
    top = max(b)
    exps = [math.exp(x - top) for x in b]
    total = sum(exps)
    return [e / total for e in exps]


def dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def squash_vector(s: torch.Tensor) -> torch.Tensor:
    """Eq. 1 on one 1-D tensor, differentiable."""
    norm2 = (s * s).sum()
    return norm2 / (1 + norm2) * s / torch.sqrt(norm2)


def softmax_vector(b: torch.Tensor) -> torch.Tensor:
    exps = torch.exp(b - b.max())
    return exps / exps.sum()


# ---------------------------------------------------------------------------- CapsNet, by hand

# 10×10 images → Conv1 3×3 (8×8) → PrimaryCaps 3×3 stride 2 (3×3 grid) × 2 types of 4-D capsules = 18
# primary capsules → 3 digit capsules of 5 dimensions; 3 routing iterations
TINY = CapsNetConfig(image_size=10, conv_channels=3, conv_kernel=3, primary_types=2, primary_dim=4,
                     primary_kernel=3, primary_stride=2, n_classes=3, digit_dim=5, decoder_hidden=(6, 7),
                     routing_iterations=3, init_std=1.0)  # long enough capsules for the margins to matter


def tiny_model(seed: int = 0, config: CapsNetConfig = TINY) -> CapsNet:
    torch.manual_seed(seed)
    model = CapsNet(config).double()
    with torch.no_grad():  # PyTorch's default init leaves primary capsules short (≈ 0.4): lengthen them,
        model.primary.conv.weight.mul_(4.0)  # so that squash is far from the identity on length
    return model


def tiny_images(n: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, TINY.image_size, TINY.image_size, generator=torch.Generator().manual_seed(seed),
                      dtype=torch.float64)


def conv_by_hand(image: list, weight: list, bias: list, stride: int) -> list:
    """out[o][y][x] = bias_o + Σ_c Σ_dy Σ_dx w[o][c][dy][dx] · image[c][stride·y + dy][stride·x + dx]."""
    channels, height, k = len(image), len(image[0]), len(weight[0][0])
    side = (height - k) // stride + 1
    return [[[bias[o] + sum(weight[o][c][dy][dx] * image[c][stride * y + dy][stride * x + dx]
                            for c in range(channels) for dy in range(k) for dx in range(k))
              for x in range(side)] for y in range(side)] for o in range(len(weight))]


def primary_capsules_by_hand(model: CapsNet, image: torch.Tensor, squashed: bool = True) -> list[list[float]]:
    """PrimaryCaps of one image (1, H, W), in the library's convention:

    convolution channel t·dim + d is component d of the capsules of type t, and the capsules are
    numbered type by type, each type's grid row by row: i = t·G² + y·G + x.
    """
    config = model.config
    h = conv_by_hand(image.tolist(), model.conv1.weight.tolist(), model.conv1.bias.tolist(), 1)
    h = [[[max(0.0, x) for x in row] for row in plane] for plane in h]  # ReLU
    conv = model.primary.conv
    out = conv_by_hand(h, conv.weight.tolist(), conv.bias.tolist(), config.primary_stride)
    G, capsules = config.primary_grid, []
    for t in range(config.primary_types):
        for y in range(G):
            for x in range(G):
                s = [out[t * config.primary_dim + d][y][x] for d in range(config.primary_dim)]
                capsules.append(squash_list(s) if squashed else s)
    return capsules


def capsnet_by_hand(model: CapsNet, image: torch.Tensor):
    """One image through §4's network: (digit capsules v_j, their lengths, c_ij at every iteration)."""
    config = model.config
    u = primary_capsules_by_hand(model, image)
    W = model.W.tolist()  # (n_primary, n_classes, digit_dim, primary_dim)
    n_in, n_out = len(u), config.n_classes
    # û_j|i = W_ij u_i
    u_hat = [[[dot(W[i][j][d], u[i]) for d in range(config.digit_dim)] for j in range(n_out)] for i in range(n_in)]
    b = [[0.0] * n_out for _ in range(n_in)]
    coefficients = []
    for _ in range(config.routing_iterations):
        c = [softmax_list(b[i]) for i in range(n_in)]  # over the output capsules j
        coefficients.append(c)
        v = []
        for j in range(n_out):
            s_j = [sum(c[i][j] * u_hat[i][j][d] for i in range(n_in)) for d in range(config.digit_dim)]
            v.append(squash_list(s_j))
        for i in range(n_in):
            for j in range(n_out):
                b[i][j] += dot(u_hat[i][j], v[j])
    lengths = [math.sqrt(dot(v_j, v_j)) for v_j in v]
    return v, lengths, coefficients


def decode_by_hand(model: CapsNet, v: list[list[float]], keep: int) -> list[float]:
    """Zero every digit capsule but ``keep``, concatenate them class by class, run the MLP."""
    D = model.config.digit_dim
    x = [v[k][d] if k == keep else 0.0 for k in range(len(v)) for d in range(D)]
    layers = [m for m in model.decoder if isinstance(m, torch.nn.Linear)]
    for number, layer in enumerate(layers):
        pre = [bias + dot(row, x) for row, bias in zip(layer.weight.tolist(), layer.bias.tolist())]
        last = number == len(layers) - 1
        x = [1 / (1 + math.exp(-p)) for p in pre] if last else [max(0.0, p) for p in pre]
    return x


def margin_loss_by_hand(lengths: list[list[float]], labels: list[int]) -> float:
    """Eq. 4 with m⁺ = 0.9, m⁻ = 0.1, λ = 0.5, summed over classes, averaged over images."""
    total = 0.0
    for row, label in zip(lengths, labels):
        for k, length in enumerate(row):
            if k == label:
                total += max(0.0, 0.9 - length) ** 2
            else:
                total += 0.5 * max(0.0, length - 0.1) ** 2
    return total / len(labels)


def test_primary_capsules_group_channels_type_by_type_and_are_squashed():
    """Channel t·dim + d is component d of type t; capsule i = t·G² + (grid position); lengths < 1."""
    model = tiny_model()
    config = model.config
    with torch.no_grad():
        model.primary.conv.weight.zero_()
        model.primary.conv.bias.copy_(torch.arange(1.0, config.primary_types * config.primary_dim + 1))
        u = model.primary(torch.rand(1, config.conv_channels, 8, 8, dtype=torch.float64))[0]
    G2 = config.primary_grid ** 2
    assert u.shape == (config.n_primary, config.primary_dim)
    for t in range(config.primary_types):
        raw = [float(t * config.primary_dim + d + 1) for d in range(config.primary_dim)]  # the biases of type t
        for position in range(G2):
            torch.testing.assert_close(u[t * G2 + position], torch.tensor(squash_list(raw)), **TOLERANCE)


def test_primary_capsules_match_the_convolutions_written_as_loops():
    model = tiny_model()
    images = tiny_images()
    with torch.no_grad():
        u = model.primary(torch.relu(model.conv1(images)))
    for b in range(len(images)):
        expected = torch.tensor(primary_capsules_by_hand(model, images[b]))
        torch.testing.assert_close(u[b], expected, **TOLERANCE)


def test_primary_capsules_are_squashed_not_raw_convolution_outputs():
    """Without squash the primary capsules would be the raw convolution outputs, lengths ≫ 1."""
    model = tiny_model()
    images = tiny_images()
    with torch.no_grad():
        u = model.primary(torch.relu(model.conv1(images)))
    raw = torch.tensor([primary_capsules_by_hand(model, image, squashed=False) for image in images])
    raw_lengths = raw.norm(dim=-1)
    assert raw_lengths.max() > 1.5  # the test would see a missing squash
    lengths = u.norm(dim=-1)
    assert (lengths < 1).all()
    torch.testing.assert_close(lengths, raw_lengths ** 2 / (1 + raw_lengths ** 2), **TOLERANCE)


def test_capsnet_forward_matches_the_paper_written_as_loops():
    model = tiny_model().eval()
    images = tiny_images()
    with torch.no_grad():
        out = model(images)
    for b in range(len(images)):
        v, lengths, coefficients = capsnet_by_hand(model, images[b])
        torch.testing.assert_close(out.digit_capsules[b], torch.tensor(v), **TOLERANCE)
        torch.testing.assert_close(out.lengths[b], torch.tensor(lengths), **TOLERANCE)
        torch.testing.assert_close(out.coefficients[:, b], torch.tensor(coefficients), **TOLERANCE)
    # the configuration is one where routing matters: the couplings moved away from uniform
    assert (out.coefficients[-1] - out.coefficients[0]).abs().max() > 0.05


def test_decoder_masks_the_label_in_training_and_the_longest_capsule_at_test():
    model = tiny_model()
    images = tiny_images(3, seed=1)
    references = [capsnet_by_hand(model, image) for image in images]
    longest = [max(range(TINY.n_classes), key=lambda k: ref[1][k]) for ref in references]
    labels = torch.tensor([(k + 1) % TINY.n_classes for k in longest])  # never the longest capsule
    with torch.no_grad():
        trained = model.train()(images, labels)
        tested = model.eval()(images, labels)
    for b, (v, _, _) in enumerate(references):
        torch.testing.assert_close(trained.reconstruction[b], torch.tensor(decode_by_hand(model, v, int(labels[b]))),
                                   **TOLERANCE)
        torch.testing.assert_close(tested.reconstruction[b], torch.tensor(decode_by_hand(model, v, longest[b])),
                                   **TOLERANCE)
    assert not torch.allclose(trained.reconstruction, tested.reconstruction, atol=1e-4)


def test_margin_and_total_loss_match_a_hand_computation_on_the_network_output():
    model = tiny_model().train()
    images = tiny_images(3, seed=2)
    labels = torch.tensor([0, 2, 1])
    with torch.no_grad():
        out = model(images, labels)
    references = [capsnet_by_hand(model, image) for image in images]
    lengths = [ref[1] for ref in references]
    # both terms of Eq. 4 are active: some present capsule below m⁺, some absent one above m⁻
    flat = [(k == label, length) for row, label in zip(lengths, labels.tolist()) for k, length in enumerate(row)]
    assert any(present and length < 0.9 for present, length in flat)
    assert any(not present and length > 0.1 for present, length in flat)
    expected_margin = margin_loss_by_hand(lengths, labels.tolist())
    torch.testing.assert_close(margin_loss(out.lengths, labels), torch.tensor(expected_margin), **TOLERANCE)
    pixels = images.flatten(1).tolist()
    expected_reconstruction = sum(
        sum((r - p) ** 2 for r, p in zip(decode_by_hand(model, ref[0], int(label)), row))
        for ref, label, row in zip(references, labels, pixels)) / len(images)
    loss = capsnet_loss(out, images, labels, recon_weight=0.0005)
    torch.testing.assert_close(loss.reconstruction, torch.tensor(expected_reconstruction), **TOLERANCE)
    torch.testing.assert_close(loss.total, torch.tensor(expected_margin + 0.0005 * expected_reconstruction),
                               **TOLERANCE)


# ---------------------------------------------------------------------- MIND and ComiRec-DR, by hand

# left-padded, width maxlen = 6; row 1 is full, row 2 has a single item
HISTORIES = torch.tensor([
    [0, 0, 3, 7, 1, 9],
    [4, 8, 2, 5, 6, 10],
    [0, 0, 0, 0, 0, 11],
])
COMIREC = dict(bilinear="per_position", logits_init="zero")
MIND = dict(bilinear="shared", logits_init="random", logits_std=1.0)


def interest_model(variant: dict, **overrides) -> MultiInterestModel:
    options = dict(n_items=12, maxlen=6, hidden=4, n_interests=3, routing_iterations=3, seed=0, **variant)
    options.update(overrides)
    return MultiInterestModel(InterestConfig(**options))


def interests_by_hand(model: MultiInterestModel, history: torch.Tensor, b: torch.Tensor,
                      stop_gradient: bool = True) -> tuple[list[torch.Tensor], torch.Tensor]:
    """One user: behaviour capsules e_i → K interest capsules, one (i, j) at a time.

    û_{j|i} = S e_i (MIND, one S) or S_ij e_i (ComiRec-DR, the map of the i-th position counted
    back from the most recent behaviour). In the iterations before the last, the couplings and the
    logits' update see a stop-gradient copy of û: the gradient reaches û only through the last
    s_j = Σ_i c_ij û_{j|i}. Padding positions take no part (c_ij = 0), whatever their embedding.
    """
    config = model.config
    length, K = b.shape
    embeddings = model.item_embedding.weight
    maps = model.router.maps
    u_hat = []
    for i in range(length):
        e_i = embeddings[int(history[i])]
        row = []
        for j in range(K):
            S = maps if config.bilinear == "shared" else maps[config.maxlen - length + i, j]
            row.append(torch.stack([S[o] @ e_i for o in range(config.hidden)]))  # (S e_i)_o = Σ_k S_ok e_ik
        u_hat.append(row)
    b = [[b[i, j] for j in range(K)] for i in range(length)]
    real = [int(item) != 0 for item in history]
    for iteration in range(config.routing_iterations):
        last = iteration == config.routing_iterations - 1
        u = u_hat if (last or not stop_gradient) else [[x.detach() for x in row] for row in u_hat]
        c = [softmax_vector(torch.stack(b[i])) if real[i] else torch.zeros(K) for i in range(length)]
        v = []
        for j in range(K):
            s_j = sum(c[i][j] * u[i][j] for i in range(length) if real[i])
            v.append(squash_vector(s_j))
        if not last:
            for i in range(length):
                for j in range(K):
                    b[i][j] = b[i][j] + u[i][j] @ v[j]
    return v, torch.stack(c)


def outputs_and_gradients(model, interests, weights):
    """A scalar of the output, Σ w·v, and its gradient w.r.t. the embeddings and the bilinear maps."""
    scalar = (interests * weights).sum()
    return torch.autograd.grad(scalar, [model.item_embedding.weight, model.router.maps])


def reference_batch(model, histories, logits, stop_gradient=True):
    rows = [interests_by_hand(model, histories[r], logits[r], stop_gradient) for r in range(len(histories))]
    return torch.stack([torch.stack(v) for v, _ in rows]), torch.stack([c for _, c in rows])


def with_nonzero_padding_embedding(model: MultiInterestModel) -> MultiInterestModel:
    """Padding must be masked in the routing, not merely rely on its embedding being 0."""
    with torch.no_grad():
        model.item_embedding.weight[0] = torch.linspace(-1.0, 1.0, model.config.hidden)
    return model


@pytest.mark.parametrize("variant", [COMIREC, MIND], ids=["comirec", "mind"])
def test_one_routing_step_matches_the_papers_values_and_gradients(variant):
    model = with_nonzero_padding_embedding(interest_model(variant).train())
    B, L, K = len(HISTORIES), HISTORIES.shape[1], model.config.n_interests
    # the initial logits as the library draws them: 0 for ComiRec-DR, N(0, σ²) afresh per forward for MIND
    if variant["logits_init"] == "zero":
        logits = torch.zeros(B, L, K)
    else:
        logits = torch.randn(B, L, K, generator=torch.Generator().manual_seed(5)) * variant["logits_std"]
    interests, coupling = model(HISTORIES, generator=torch.Generator().manual_seed(5))
    expected_v, expected_c = reference_batch(model, HISTORIES, logits)
    torch.testing.assert_close(interests, expected_v, **TOLERANCE)
    torch.testing.assert_close(coupling, expected_c, **TOLERANCE)

    weights = torch.randn(interests.shape, generator=torch.Generator().manual_seed(6))
    got = outputs_and_gradients(model, interests, weights)
    expected = outputs_and_gradients(model, expected_v, weights)
    for name, g, e in zip(["item embeddings", "bilinear maps"], got, expected):
        assert g.abs().max() > 1e-3, name  # the gradient is there …
        torch.testing.assert_close(g, e, **TOLERANCE, msg=lambda m: f"{name}: {m}")
    # … and the stop-gradient is visible in it: differentiating through the routing gives another one
    full_v, _ = reference_batch(model, HISTORIES, logits, stop_gradient=False)
    torch.testing.assert_close(full_v, expected_v, **TOLERANCE)  # same values
    through = outputs_and_gradients(model, full_v, weights)
    for g, t in zip(got, through):
        assert (g - t).abs().max() > 1e-3


def test_serving_uses_the_fixed_draw_counted_back_from_the_most_recent_behaviour():
    model = interest_model(MIND).eval()
    short = HISTORIES[:, 2:]  # width 4 < maxlen
    with torch.no_grad():
        interests, coupling = model(short)
        logits = model.serving_logits[-4:].expand(len(short), 4, model.config.n_interests)
        expected_v, expected_c = reference_batch(model, short, logits)
    torch.testing.assert_close(interests, expected_v, **TOLERANCE)
    torch.testing.assert_close(coupling, expected_c, **TOLERANCE)


def test_comirec_starts_from_zero_logits_and_mind_from_a_fresh_draw():
    comirec, mind = interest_model(COMIREC).train(), interest_model(MIND, logits_std=0.5).train()
    assert torch.equal(comirec.initial_logits(HISTORIES), torch.zeros(3, 6, 3))
    drawn = mind.initial_logits(HISTORIES, torch.Generator().manual_seed(9))
    torch.testing.assert_close(drawn, 0.5 * torch.randn(3, 6, 3, generator=torch.Generator().manual_seed(9)))


def test_without_the_stop_gradient_the_gradient_flows_through_every_iteration():
    """``detach_routing=False`` is Procedure 1 as written: same values, the full gradient."""
    model = with_nonzero_padding_embedding(interest_model(COMIREC, detach_routing=False).train())
    logits = torch.zeros(len(HISTORIES), HISTORIES.shape[1], model.config.n_interests)
    interests, _ = model(HISTORIES)
    expected_v, _ = reference_batch(model, HISTORIES, logits, stop_gradient=False)
    torch.testing.assert_close(interests, expected_v, **TOLERANCE)
    weights = torch.randn(interests.shape, generator=torch.Generator().manual_seed(6))
    got = outputs_and_gradients(model, interests, weights)
    for g, e in zip(got, outputs_and_gradients(model, expected_v, weights)):
        torch.testing.assert_close(g, e, **TOLERANCE)
