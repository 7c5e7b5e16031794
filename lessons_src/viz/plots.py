"""Plots and tables shared by the chapters: seaborn heatmaps, training curves, results over seeds.

Tables are pandas DataFrames (the book renders them as HTML tables); ``metrics_table`` keeps a
fixed-width text form for terminals and logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns


def heatmap(matrix, ax=None, row_labels: Sequence[str] | None = None, col_labels: Sequence[str] | None = None,
            vmin: float | None = None, vmax: float | None = None, cmap: str = "viridis", colorbar: str | None = None,
            max_ticks: int = 20, annotate: bool = False, fmt: str = ".2f"):
    """One seaborn heatmap with readable ticks: at most ``max_ticks`` labels per axis.

    ``matrix`` (R, C); NaN cells are left blank (e.g. a masked diagonal). Returns the axes.
    """
    matrix = np.asarray(matrix, dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(1.0 + 0.35 * matrix.shape[1], 8), min(1.0 + 0.3 * matrix.shape[0], 7)),
                             constrained_layout=True)

    def thinned(labels, n):
        if labels is None:
            return False
        step = max(1, int(np.ceil(n / max_ticks)))
        return [label if i % step == 0 else "" for i, label in enumerate(labels)]

    sns.heatmap(matrix, ax=ax, vmin=vmin, vmax=vmax, cmap=cmap, square=False, annot=annotate, fmt=fmt,
                xticklabels=thinned(col_labels, matrix.shape[1]), yticklabels=thinned(row_labels, matrix.shape[0]),
                cbar=colorbar is not None, cbar_kws={"label": colorbar} if colorbar else None, linewidths=0)
    ax.tick_params(axis="both", labelsize=8)
    ax.tick_params(axis="y", labelrotation=0)
    return ax


def plot_training(history: Sequence[dict], metric: str = "NDCG@10", axes=None, label: str = ""):
    """Training loss per epoch and the validation ``metric`` at every evaluation, side by side."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.2), constrained_layout=True)
    ax_loss, ax_valid = axes
    ax_loss.plot([r["epoch"] for r in history], [r["loss"] for r in history], label=label or None)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_title("training loss")
    evaluated = [r for r in history if "valid" in r]
    ax_valid.plot([r["epoch"] for r in evaluated], [r["valid"][metric] for r in evaluated], marker="o",
                  label=label or None)
    ax_valid.set_xlabel("epoch")
    ax_valid.set_ylabel(f"validation {metric}")
    ax_valid.set_title(f"validation {metric}")
    if label:
        ax_valid.legend()
    return axes


def metrics_frame(rows: Sequence[tuple[str, str, Mapping]], metrics: Sequence[str] = ("HR@10", "NDCG@10"),
                  digits: int = 4) -> pd.DataFrame:
    """A results table: one row per (model, protocol), one column per metric; missing → NaN."""
    records = [{"model": name, "protocol": protocol,
                **{m: (round(float(values[m]), digits) if values.get(m) is not None else np.nan) for m in metrics}}
               for name, protocol, values in rows]
    return pd.DataFrame.from_records(records, columns=["model", "protocol", *metrics])


def metrics_table(rows: Sequence[tuple[str, str, dict]], metrics: Sequence[str] = ("HR@10", "NDCG@10")) -> str:
    """Fixed-width text table: rows of (model, protocol, metrics dict); a missing metric prints —."""
    width = max(len(name) for name, _, _ in rows) + 2
    lines = [f"{'model':{width}s}{'protocol':10s}" + "".join(f"{m:>10s}" for m in metrics)]
    for name, protocol, values in rows:
        cells = (f"{values[m]:10.4f}" if values.get(m) is not None else f"{'—':>10s}" for m in metrics)
        lines.append(f"{name:{width}s}{protocol:10s}" + "".join(cells))
    return "\n".join(lines)


def over_seeds(runs: Mapping[str, Sequence[Mapping]], metrics: Sequence[str]) -> pd.DataFrame:
    """Long table of results over seeds: ``runs[name]`` is a list of metric dicts, one per seed.

    Returns columns (model, seed index, metric, value), the form seaborn's point plots take.
    """
    records = [{"model": name, "seed": i, "metric": m, "value": float(result[m])}
               for name, results in runs.items() for i, result in enumerate(results) for m in metrics]
    return pd.DataFrame.from_records(records)


def summary_over_seeds(frame: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """mean ± sample standard deviation (and n) per model and metric, from :func:`over_seeds`."""
    grouped = frame.groupby(["model", "metric"], sort=False)["value"]
    table = grouped.agg(mean="mean", std="std", n="count", low="min", high="max").reset_index()
    return table.round({"mean": digits, "std": digits, "low": digits, "high": digits})


def plot_over_seeds(frame: pd.DataFrame, metric: str, ax=None, title: str = ""):
    """Point plot of one metric per model: the mean with a bar from the lowest to the highest seed,
    and every seed as a dot (few seeds: show them all rather than a normal-theory interval)."""
    data = frame[frame["metric"] == metric]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.5 + 0.45 * data["model"].nunique()), constrained_layout=True)
    sns.stripplot(data=data, x="value", y="model", ax=ax, color="0.55", size=5, jitter=False)
    sns.pointplot(data=data, x="value", y="model", ax=ax, errorbar=("pi", 100), linestyle="none",
                  color="C0", markers="D", capsize=0.2)
    ax.set_xlabel(f"{metric} ({data.groupby('model')['seed'].nunique().min()} seeds: mean, range, each seed)")
    ax.set_ylabel("")
    if title:
        ax.set_title(title, fontsize=10)
    return ax
