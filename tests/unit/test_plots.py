"""Results tables and plots over seeds (lessons_src.viz.plots)."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from lessons_src.viz.plots import heatmap, metrics_frame, over_seeds, plot_over_seeds, summary_over_seeds


def test_summary_over_seeds_is_mean_sample_std_and_range_per_model_and_metric():
    runs = {"a": [{"x": 0.1, "y": 1.0}, {"x": 0.2, "y": 3.0}, {"x": 0.3, "y": 2.0}], "b": [{"x": 0.5, "y": 0.0}]}
    frame = over_seeds(runs, ["x", "y"])
    assert len(frame) == 3 * 2 + 2
    summary = summary_over_seeds(frame).set_index(["model", "metric"])
    assert summary.loc[("a", "x"), "mean"] == pytest.approx(0.2)
    assert summary.loc[("a", "y"), "std"] == pytest.approx(np.std([1.0, 3.0, 2.0], ddof=1), abs=1e-4)
    assert (summary.loc[("a", "y"), "low"], summary.loc[("a", "y"), "high"]) == (1.0, 3.0)
    assert summary.loc[("b", "x"), "n"] == 1 and math.isnan(summary.loc[("b", "x"), "std"])


def test_metrics_frame_keeps_row_order_rounds_and_marks_missing_metrics():
    frame = metrics_frame([("pop", "sampled", {"HR@10": 0.123456, "NDCG@10": 0.5}), ("port", "sampled", {"NDCG@10": 0.53})])
    assert frame["model"].tolist() == ["pop", "port"]
    assert frame.loc[0, "HR@10"] == 0.1235 and math.isnan(frame.loc[1, "HR@10"])


def test_plots_draw_every_model_and_thin_the_tick_labels():
    frame = over_seeds({"a": [{"x": 0.1}, {"x": 0.2}], "b": [{"x": 0.3}, {"x": 0.4}]}, ["x"])
    ax = plot_over_seeds(frame, "x")
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    labels = [str(i) for i in range(40)]
    ax = heatmap(np.random.default_rng(0).random((40, 40)), row_labels=labels, col_labels=labels, max_ticks=10)
    shown = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert 1 < len(shown) <= 10 and shown[0] == "0"
