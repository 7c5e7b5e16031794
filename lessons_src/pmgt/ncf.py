"""The downstream recommenders of the paper's §4.3: NCF (He et al. 2017) trained with BPR.

* ``mlp``   — ŷ_ui = hᵀ MLP([p_u ; q_i]), a tower 2d → d → d/2 with ReLU;
* ``neumf`` — ŷ_ui = hᵀ [p_u^G ⊙ q_i^G ; MLP([p_u^M ; q_i^M])], GMF and MLP side by side.

Item embeddings q_i start from one of three initialisations of the same size and scale:
``random`` (N(0, σ²)), ``raw`` (the items' raw features, projected) and ``pmgt`` (the exported PMGT
embeddings, projected); the projection is PCA to d dimensions rescaled to standard deviation σ, so
that only the *directions* differ between the three. Row 0 is the padding id.

Speed (``factorised=True``, the default): the tower's first layer on [p_u ; q_i] is W [p_u ; q_i] + b
= (W_u p_u + b) + W_i q_i, so W_i q_i is computed once per *item* and looked up for every pair,
instead of a (2d → d) product per (user, candidate) pair — 5× fewer multiplications when a user's
candidates are the whole catalogue. ``factorised=False`` is the literal form; a test proves that the
two give the same scores.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

INITS = ("random", "raw", "pmgt")
KINDS = ("mlp", "neumf")


def project_to(vectors: Tensor, dim: int, std: float) -> Tensor:
    """vectors (n + 1, D), row 0 padding → (n + 1, dim): PCA of rows 1 … n, scaled to std, row 0 = 0."""
    rows = vectors[1:].double()
    centred = rows - rows.mean(0)
    if dim > min(centred.shape):
        raise ValueError(f"cannot project {tuple(centred.shape)} vectors to {dim} dimensions")
    _, _, vt = torch.linalg.svd(centred, full_matrices=False)
    components = vt[:dim]
    # fix each component's sign (the largest-magnitude coordinate positive): the same on every machine
    signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    projected = centred @ (components * signs).T  # (n, dim)
    projected = projected * (std / projected.std().clamp_min(1e-12))
    return torch.cat([torch.zeros(1, dim, dtype=projected.dtype), projected]).float()


def raw_feature_matrix(features: list[Tensor], present: Tensor) -> Tensor:
    """Concatenate the modalities, each scaled to unit norm per item (absent: zeros): (n + 1, ΣD)."""
    parts = []
    for m, table in enumerate(features):
        unit = table / table.norm(dim=1, keepdim=True).clamp_min(1e-12)
        parts.append(unit * present[:, m:m + 1])
    return torch.cat(parts, 1)


class NCF(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int = 64, kind: str = "mlp",
                 item_init: Tensor | None = None, std: float = 0.1, factorised: bool = True):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        assert dim % 2 == 0, f"dim must be even (the tower halves it), got {dim}"
        self.kind, self.factorised = kind, factorised
        self.users_mlp, self.items_mlp = nn.Embedding(n_users + 1, dim), nn.Embedding(n_items + 1, dim)
        self.tower = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, dim // 2),
                                   nn.ReLU(inplace=True))
        width = dim // 2
        if kind == "neumf":
            self.users_gmf, self.items_gmf = nn.Embedding(n_users + 1, dim), nn.Embedding(n_items + 1, dim)
            width += dim
        self.output = nn.Linear(width, 1)
        for table in self.embeddings():
            nn.init.normal_(table.weight, std=std)
        if item_init is not None:
            if item_init.shape != self.items_mlp.weight.shape:
                raise ValueError(f"item_init must be {tuple(self.items_mlp.weight.shape)}, got {tuple(item_init.shape)}")
            with torch.no_grad():
                self.items_mlp.weight.copy_(item_init)
                if kind == "neumf":
                    self.items_gmf.weight.copy_(item_init)

    def embeddings(self):
        tables = [self.users_mlp, self.items_mlp]
        return tables + ([self.users_gmf, self.items_gmf] if self.kind == "neumf" else [])

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """users (B,), items (B, C) → scores ŷ (B, C)."""
        C, first, rest = items.shape[1], self.tower[0], self.tower[1:]
        if self.factorised:  # W [p_u ; q_i] + b = (W_u p_u + b) + W_i q_i
            d = self.users_mlp.embedding_dim
            user_part = self.users_mlp(users) @ first.weight[:, :d].T + first.bias  # (B, d)
            if items.numel() >= self.items_mlp.num_embeddings:  # many candidates: the whole table once
                item_part, where = self.items_mlp.weight @ first.weight[:, d:].T, items  # (n_items + 1, d)
            else:  # a training batch: each of its items once
                distinct, where = items.unique(return_inverse=True)
                item_part = self.items_mlp(distinct) @ first.weight[:, d:].T  # (U, d)
            hidden = rest(F.embedding(where, item_part).add_(user_part.unsqueeze(1)))  # (B, C, d/2)
        else:
            p = self.users_mlp(users).unsqueeze(1).expand(-1, C, -1)  # (B, C, d)
            hidden = self.tower(torch.cat([p, self.items_mlp(items)], -1))  # (B, C, d/2)
        if self.kind == "neumf":
            gmf = self.users_gmf(users).unsqueeze(1) * self.items_gmf(items)  # (B, C, d): p_u ⊙ q_i
            hidden = torch.cat([gmf, hidden], -1)
        return self.output(hidden).squeeze(-1)
