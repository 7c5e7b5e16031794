"""What a trained CapsNet computes on a few test images, saved small enough to commit.

The full model (millions of weights) stays out of the repository; the chapter's widgets need only
the routing of a handful of images and the decoder (for the perturbation figure, paper Fig. 4).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

from ..training.checkpoint import load_checkpoint, save_checkpoint
from ..training.device import evaluating
from .capsnet import CapsNet
from .routing import dynamic_routing, squash


@torch.no_grad()
def routing_snapshot(model: CapsNet, images: Tensor, labels: Tensor) -> dict:
    """Routing of ``images`` (n, 28, 28): coefficients and capsule lengths at every iteration.

    Returns tensors: ``coefficients`` (iterations, n, n_primary, 10), ``lengths_by_iteration``
    (iterations, n, 10) — the lengths |squash(Σ_i c_ij û_j|i)| computed with each iteration's c —
    ``digit_capsules`` (n, 10, 16) after the last iteration, and the ``images`` and ``labels``.
    """
    with evaluating(model):
        u_hat = model.predictions(images.unsqueeze(1))  # (n, 1152, 10, 16)
        routing = dynamic_routing(u_hat, model.config.routing_iterations)
        # s_j^(r) = Σ_i c_ij^(r) û_j|i for each iteration r, then v = squash(s)
        s = torch.einsum("rbij,bijd->rbjd", routing.coefficients, u_hat)  # (iterations, n, 10, 16)
        lengths = torch.linalg.vector_norm(squash(s), dim=-1)  # (iterations, n, 10)
    return {"images": images.cpu(), "labels": labels.cpu(), "coefficients": routing.coefficients.cpu(),
            "lengths_by_iteration": lengths.cpu(), "digit_capsules": routing.v.cpu()}


def save_snapshot(model: CapsNet, images: Tensor, labels: Tensor, path: str | Path) -> Path:
    """The snapshot, the decoder's weights and the model config, in float16, atomically."""
    snapshot = routing_snapshot(model, images, labels)
    half = {k: v.half() if v.is_floating_point() else v for k, v in snapshot.items()}
    decoder = {k: v.detach().cpu().half() for k, v in model.decoder.state_dict().items()}
    return save_checkpoint({"config": asdict(model.config), "snapshot": half, "decoder": decoder}, path)


def load_snapshot(path: str | Path) -> tuple[dict, dict, dict]:
    """(config, snapshot tensors in float32, decoder state dict in float32); ``weights_only`` loading."""
    saved = load_checkpoint(path)
    snapshot = {k: v.float() if v.is_floating_point() else v for k, v in saved["snapshot"].items()}
    decoder = {k: v.float() for k, v in saved["decoder"].items()}
    return saved["config"], snapshot, decoder
