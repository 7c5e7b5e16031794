"""Training examples from impressions, NRMS-style: each click with K non-clicks shown beside it.

An impression that showed a user C news, P of them clicked, gives P examples per epoch:
(history, [clicked, K non-clicks of the same impression]), the clicked one in column 0. The K
are drawn without replacement; an impression with fewer than K non-clicks repeats some (drawn
with replacement). The public MM-Rec code instead fills the missing slots with the padding news,
which the model then learns to rank below the click: ``public_code_negatives=True``.
"""

from __future__ import annotations

import numpy as np
import torch


class ClickExamples:
    def __init__(self, history: torch.Tensor, candidates: torch.Tensor, labels: torch.Tensor, negatives: int,
                 seed: int = 0, public_code_negatives: bool = False):
        """history (M, H), candidates (M, C), labels (M, C) with 1 / 0 / −1 (padding slot)."""
        if not isinstance(negatives, int) or negatives < 1:
            raise ValueError(f"negatives must be an integer ≥ 1, got {negatives!r}")
        labels = labels.cpu().numpy()
        self.history, self.candidates = history.cpu().numpy(), candidates.cpu().numpy()
        self.impression, self.slot = np.nonzero(labels == 1)  # one example per click
        if len(self.impression) == 0:
            raise ValueError("the impressions hold no click to learn from")
        self.non_click = labels == 0  # (M, C)
        self.negatives = negatives
        self.public_code_negatives = public_code_negatives
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.impression)

    def epoch(self) -> tuple[np.ndarray, np.ndarray]:
        """histories (E, H) and candidates (E, 1 + K), clicked first, in a random order."""
        order = self.rng.permutation(len(self.impression))
        impression, slot = self.impression[order], self.slot[order]
        allowed = self.non_click[impression]  # (E, C)
        keys = np.where(allowed, self.rng.random(allowed.shape), -1.0)
        chosen = np.argsort(-keys, axis=1, kind="stable")[:, : self.negatives]  # (E, K) a random subset
        valid = np.take_along_axis(allowed, chosen, 1)  # False where the impression ran out of non-clicks
        shown = self.candidates[impression]  # (E, C)
        negatives = np.take_along_axis(shown, chosen, 1)
        if not valid.all():
            if self.public_code_negatives:
                negatives = np.where(valid, negatives, 0)  # the padding news becomes a "negative"
            else:
                counts = allowed.sum(1, keepdims=True)  # (E, 1)
                if (counts == 0).any():
                    raise ValueError("an impression with a click has no non-click; drop it or lower negatives")
                repeat = np.take_along_axis(negatives, self.rng.integers(0, counts, valid.shape), 1)
                negatives = np.where(valid, negatives, repeat)  # redraw with replacement among its own
        clicked = shown[np.arange(len(slot)), slot][:, None]
        return self.history[impression], np.concatenate([clicked, negatives], 1)
