"""PMGT downstream: the NCF models, the initialisations, and the CLI's reproducibility."""

import numpy as np
import pytest
import torch
from test_cli_reproducible import run_twice

from lessons_src.data.sequences import Interactions
from lessons_src.data.split import time_ordered_split
from lessons_src.pmgt import downstream
from lessons_src.pmgt.data import PMGTData
from lessons_src.pmgt.graph import build_item_graph
from lessons_src.pmgt.ncf import NCF, project_to, raw_feature_matrix


def synthetic_data(n_users=40, n_items=30, seed=0) -> PMGTData:
    rng = np.random.default_rng(seed)
    early_users = rng.integers(0, n_users, 600)
    early_items = rng.integers(1, n_items + 1, 600)
    graph = build_item_graph(early_users, early_items, n_items + 1, min_users=3)
    sequences = [np.zeros(0, dtype=np.int64)] + [rng.choice(np.arange(1, n_items + 1), 12, replace=False)
                                                 for _ in range(n_users)]
    split = time_ordered_split(Interactions("synthetic", sequences, n_items))
    generator = torch.Generator().manual_seed(seed)
    features = [torch.randn(n_items + 1, 8, generator=generator), torch.rand(n_items + 1, 5, generator=generator)]
    present = torch.ones(n_items + 1, 2, dtype=torch.bool)
    present[0] = False
    present[3, 0] = False
    return PMGTData(graph=graph, split=split, features=features, present=present,
                    titles=[f"item {i}" for i in range(n_items + 1)], graph_cut=0, graph_interactions=600)


def test_projection_keeps_the_principal_directions_at_the_given_scale():
    torch.manual_seed(0)
    basis = torch.randn(2, 10)
    vectors = torch.cat([torch.zeros(1, 10), torch.randn(200, 2) * torch.tensor([5.0, 1.0]) @ basis])
    projected = project_to(vectors, 2, std=0.1)
    assert torch.equal(projected[0], torch.zeros(2))
    assert projected[1:].std().item() == pytest.approx(0.1, rel=1e-4)
    # two components carry everything: distances between items keep their ratios
    d_in = torch.cdist(vectors[1:20], vectors[1:20])
    d_out = torch.cdist(projected[1:20].double(), projected[1:20].double()).float()
    ratio = d_out[d_in > 0] / d_in[d_in > 0]
    assert ratio.std() / ratio.mean() < 1e-3
    assert torch.equal(projected, project_to(vectors, 2, std=0.1))
    with pytest.raises(ValueError, match="dimensions"):
        project_to(vectors[:3], 5, 0.1)


def test_raw_features_of_a_missing_modality_are_zero():
    data = synthetic_data()
    matrix = raw_feature_matrix(data.features, data.present)
    assert torch.equal(matrix[3, :8], torch.zeros(8)) and matrix[3, 8:].norm() == pytest.approx(1.0)
    assert matrix[5, :8].norm() == pytest.approx(1.0)


@pytest.mark.parametrize("factorised", [True, False])
def test_ncf_scores_by_hand(factorised):
    torch.manual_seed(0)
    init = torch.randn(11, 4)
    for kind in ("mlp", "neumf"):
        model = NCF(n_users=5, n_items=10, dim=4, kind=kind, item_init=init, factorised=factorised)
        assert torch.equal(model.items_mlp.weight, init)
        users, items = torch.tensor([2, 4]), torch.tensor([[1, 7, 3], [9, 9, 2]])
        scores = model(users, items)
        for b in range(2):
            for c in range(3):
                p, q = model.users_mlp.weight[users[b]], model.items_mlp.weight[items[b, c]]
                hidden = model.tower(torch.cat([p, q]))
                if kind == "neumf":
                    gmf = model.users_gmf.weight[users[b]] * model.items_gmf.weight[items[b, c]]
                    hidden = torch.cat([gmf, hidden])
                assert torch.allclose(scores[b, c], model.output(hidden).squeeze(), atol=1e-6)
    with pytest.raises(ValueError, match="item_init"):
        NCF(5, 10, dim=4, item_init=torch.zeros(10, 4))


@pytest.mark.parametrize("kind", ["mlp", "neumf"])
def test_the_factorised_first_layer_changes_neither_scores_nor_gradients(kind):
    torch.manual_seed(0)
    fast = NCF(n_users=20, n_items=50, dim=8, kind=kind, factorised=True)
    literal = NCF(n_users=20, n_items=50, dim=8, kind=kind, factorised=False)
    literal.load_state_dict(fast.state_dict())
    users, items = torch.randint(0, 21, (6,)), torch.randint(0, 51, (6, 9))
    a, b = fast(users, items), literal(users, items)
    assert torch.allclose(a, b, atol=1e-6)
    a.square().sum().backward()
    b.square().sum().backward()
    for (name, x), y in zip(fast.named_parameters(), literal.parameters()):
        assert torch.allclose(x.grad, y.grad, atol=1e-6), name


@pytest.mark.parametrize("init, model, dataset", [("raw", "mlp", "ml-100k"), ("pmgt", "neumf", "ml-100k"),
                                                   ("pmgt", "sasrec", "toys")])
def test_downstream_cli_is_reproducible(monkeypatch, tmp_path, init, model, dataset):
    data = synthetic_data()
    monkeypatch.setitem(downstream.LOADERS, dataset, lambda: data)
    argv = ["--dataset", dataset, "--init", init, "--model", model, "--epochs", "2", "--pretrain-epochs", "2", "--seed", "3", "--dim", "8", "--negatives", "10", "--no-progress"]
    first, second = run_twice(downstream.main, argv, tmp_path)
    assert first == second
    assert first["best"]["epoch"] in (1, 2) and 0 <= first["test"]["full ranking"]["NDCG@10"] <= 1


def test_pmgt_initialisation_changes_the_item_embeddings():
    data = synthetic_data()
    embeddings, log = downstream.pmgt_embeddings(
        data, downstream.PretrainConfig(epochs=2, seed=0, progress=False))
    assert embeddings.shape == (31, 128) and len(log["history"]) == 2
    pmgt = downstream.item_init(data, "pmgt", 8, 0.1, embeddings)
    raw = downstream.item_init(data, "raw", 8, 0.1, None)
    assert downstream.item_init(data, "random", 8, 0.1, None) is None
    assert pmgt.shape == raw.shape == (31, 8) and not torch.allclose(pmgt, raw)


def test_movielens_graph_sees_only_the_early_period(real_data_dir, monkeypatch, tmp_path):
    """Nothing the recommenders are trained, validated or tested on reaches the item graph."""
    if not (real_data_dir / "ml-100k" / "u.data").is_file():
        pytest.skip("ml-100k is not in the data mirror")
    monkeypatch.setenv("LESSONS_DATA_DIR", str(real_data_dir))
    from lessons_src.pmgt.data import load_movielens

    data = load_movielens(graph_share=0.5)
    table = np.loadtxt(real_data_dir / "ml-100k" / "u.data", dtype=np.int64)
    early = table[table[:, 3] < data.graph_cut]
    assert len(early) == data.graph_interactions and 0.45 < len(early) / len(table) < 0.55
    # the graph's co-interaction counts, recounted from the early ratings with Python sets
    seen_by = {}
    for user, item, _, _ in early:
        seen_by.setdefault(item, set()).add(user)
    counts = data.graph.counts
    for u, v in [(1, 50), (50, 181), (100, 258), (7, 1000)]:
        shared = len(seen_by.get(u, set()) & seen_by.get(v, set()))
        assert counts[u, v] == (shared if shared >= 3 else 0)
    # every later-period interaction happened at or after the cut
    later = {(int(u), int(i)) for u, i, _, t in table if t >= data.graph_cut}
    user_ids = np.unique(table[table[:, 3] >= data.graph_cut, 0])
    for row, sequence in enumerate(data.split.sequences[1:]):
        assert all((int(user_ids[row]), int(item)) in later for item in sequence)
    assert data.missing() == {"title": 1, "genres and year": 1}


def test_toys_graph_users_and_downstream_users_are_disjoint(real_data_dir, monkeypatch, tmp_path):
    """Toys has no timestamps: the graph is built from one half of the users, the recommenders see
    only the other half, each of their sequences whole and in file order."""
    folder = real_data_dir / "s3rec"
    if not (folder / "Toys_and_Games.txt").is_file():
        pytest.skip("the S3-Rec files are not in the data mirror")
    monkeypatch.setenv("LESSONS_DATA_DIR", str(real_data_dir))
    from lessons_src.pmgt.data import load_toys

    data = load_toys(graph_share=0.5, min_users=2)
    from collections import Counter

    lines = [list(map(int, line.split())) for line in (folder / "Toys_and_Games.txt").read_text().splitlines()]
    everyone = Counter(tuple(line[1:]) for line in lines)  # a multiset: some users share a sequence
    downstream = Counter(tuple(s.tolist()) for s in data.split.sequences[1:])
    graph_part = everyone - downstream  # the graph users' sequences
    assert sum(downstream.values()) == data.split.n_users and not downstream - everyone
    assert abs(sum(graph_part.values()) - len(lines) / 2) <= 1
    assert data.graph_interactions == sum(len(s) * n for s, n in graph_part.items())
    # co-interaction counts recounted from the graph users with Python sets
    seen_by, user = {}, 0
    for sequence, copies in graph_part.items():
        for _ in range(copies):
            user += 1
            for item in sequence:
                seen_by.setdefault(item, set()).add(user)
    rows, cols = data.graph.counts.nonzero()
    for u, v in list(zip(rows[:5], cols[:5])) + [(1, 2), (10, 500)]:
        shared = len(seen_by.get(u, set()) & seen_by.get(v, set()))
        assert data.graph.counts[u, v] == (shared if shared >= 2 else 0)
    # the attribute modality is the multi-hot of the JSON file
    import json
    table = json.loads((folder / "Toys_and_Games_item2attributes.json").read_text())
    for item in (1, 100, 5000):
        assert torch.nonzero(data.features[0][item])[:, 0].add(1).tolist() == sorted(set(table[str(item)]))
    assert data.missing() == {"attributes": sum(str(i) not in table or not table[str(i)]
                                                for i in range(1, data.n_items + 1))}
