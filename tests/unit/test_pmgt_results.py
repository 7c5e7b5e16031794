"""Chapter 6's results loader: file names → arms, mean ± sd over seeds, the separation criterion."""

import json

import pytest

from lessons_src.pmgt.results import load_runs, separates, summarise


def write_run(folder, name, ndcg, recall=0.1, pretraining=True):
    test = {protocol: {"Recall@10": recall, "NDCG@10": ndcg * scale,
                       "by_popularity": {"cold (<5)": {"Recall@10": 0.0}, "head (≥50)": {"Recall@10": recall}}}
            for protocol, scale in (("1000 negatives", 1.0), ("full ranking", 0.5))}
    report = {"test": test, "best": {"epoch": 3}, "wall_seconds": 12.5}
    if pretraining:
        geometry = {"mean cosine": 0.1, "effective dimension": 4.5, "graph precision@10": 0.5}
        report["pretraining"] = {"history": [{"structure": 1.5, "feature": 0.2}, {"structure": 1.2, "feature": 0.1}],
                                 "geometry": {"pmgt": geometry, "raw": {k: 2 * v for k, v in geometry.items()},
                                              "graph density": 0.25}}
    (folder / name).write_text(json.dumps(report))


def test_runs_are_read_by_name_and_summarised_over_seeds(tmp_path):
    for seed, value in enumerate((0.10, 0.12, 0.14)):
        write_run(tmp_path, f"ml-100k_sasrec_pmgt-alpha0_seed{seed}.json", value)
        write_run(tmp_path, f"toys_mlp_random_seed{seed}.json", value / 2, pretraining=False)
    (tmp_path / "quick_ml-100k_mlp_pmgt_seed0.json").write_text("{}")  # another kind of file: ignored
    runs = load_runs(tmp_path)
    assert len(runs) == 12  # 6 runs × 2 protocols
    first = runs[(runs.dataset == "ml-100k") & (runs.protocol == "full ranking")].iloc[0]
    assert (first.model, first.init, first.variant, first.seed) == ("sasrec", "pmgt", "alpha0", 0)
    assert first["NDCG@10"] == pytest.approx(0.05) and first["final L_s"] == 1.2
    assert first["head (≥50) Recall@10"] == 0.1 and first["best epoch"] == 3
    assert (first["effective dimension"], first["raw effective dimension"], first["graph density"]) == (4.5, 9.0, 0.25)
    assert runs[runs.init == "random"]["mean cosine"].isna().all()  # no pre-training, no geometry
    table = summarise(runs)
    row = table.loc[("ml-100k", "sasrec", "pmgt", "alpha0", "1000 negatives")]
    assert row["NDCG@10"] == "0.1200 ± 0.0200" and row["seeds"] == 3
    assert table.loc[("toys", "mlp", "random", "", "full ranking"), "NDCG@10"] == "0.0300 ± 0.0050"


def test_separation_needs_every_seed_above_every_seed(tmp_path):
    for seed, (a, b) in enumerate(((0.20, 0.10), (0.21, 0.19), (0.22, 0.15))):
        write_run(tmp_path, f"ml-100k_mlp_raw_seed{seed}.json", a)
        write_run(tmp_path, f"ml-100k_mlp_random_seed{seed}.json", b)
    runs = load_runs(tmp_path)
    raw, random = {"init": "raw", "protocol": "1000 negatives"}, {"init": "random", "protocol": "1000 negatives"}
    assert separates(runs, raw, random) and not separates(runs, random, raw)
    write_run(tmp_path, "ml-100k_mlp_random_seed3.json", 0.205)  # one random seed inside raw's range
    assert not separates(load_runs(tmp_path), raw, random)
    with pytest.raises(ValueError, match="no runs match"):
        separates(runs, {"init": "pmgt"}, random)


def test_an_empty_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_runs(tmp_path)
