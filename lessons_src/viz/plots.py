"""Plots and text tables shared by the chapters."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt


def plot_training(history: Sequence[dict], metric: str = "NDCG@10", axes=None, label: str = ""):
    """Training loss per epoch and the validation ``metric`` at every evaluation, side by side."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.2), constrained_layout=True)
    ax_loss, ax_valid = axes
    ax_loss.plot([r["epoch"] for r in history], [r["loss"] for r in history], label=label or None)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("training loss (BCE)")
    ax_loss.set_title("training loss")
    evaluated = [r for r in history if "valid" in r]
    ax_valid.plot([r["epoch"] for r in evaluated], [r["valid"][metric] for r in evaluated], marker="o",
                  label=label or None)
    ax_valid.set_xlabel("epoch")
    ax_valid.set_ylabel(f"validation {metric}")
    ax_valid.set_title(f"validation {metric} (100 sampled negatives)")
    if label:
        ax_valid.legend()
    return axes


def metrics_table(rows: Sequence[tuple[str, str, dict]], metrics: Sequence[str] = ("HR@10", "NDCG@10")) -> str:
    """Fixed-width text table: rows of (model, protocol, metrics dict); a missing metric prints —."""
    width = max(len(name) for name, _, _ in rows) + 2
    lines = [f"{'model':{width}s}{'protocol':10s}" + "".join(f"{m:>10s}" for m in metrics)]
    for name, protocol, values in rows:
        cells = (f"{values[m]:10.4f}" if values.get(m) is not None else f"{'—':>10s}" for m in metrics)
        lines.append(f"{name:{width}s}{protocol:10s}" + "".join(cells))
    return "\n".join(lines)
