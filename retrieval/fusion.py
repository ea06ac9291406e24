"""Fusing several modality vectors of one thing into one vector (torch modules).

Inputs are (batch, modalities, dim) unit vectors with a boolean mask (batch, modalities) that
marks which modalities are present (an item without a caption, a query without an image).
Used for items (image + caption [+ transcript]) and for composed queries (image + text
modifier). Both return the fused unit vector and the per-modality weights they used, so a
caller can show what the fusion leaned on.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if not mask.any(dim=1).all():
        raise ValueError("every row needs at least one present modality")
    return F.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)


class AttentionFusion(nn.Module):
    """A learned query attends over the present modalities (scaled dot-product attention);
    the output is the attention-weighted sum of the projected values, normalised.

    >>> fusion = AttentionFusion(dim=4)
    >>> x = F.normalize(torch.randn(2, 3, 4), dim=-1)
    >>> fused, weights = fusion(x, torch.tensor([[True, True, False], [True, False, False]]))
    >>> fused.shape, bool(weights[1, 0] == 1.0), bool(weights[0, 2] == 0.0)
    (torch.Size([2, 4]), True, True)
    """

    def __init__(self, dim: int, n_modalities: int = 3):
        super().__init__()
        self.query = nn.Parameter(torch.zeros(dim))
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim, bias=False)
        self.modality_embedding = nn.Parameter(torch.zeros(n_modalities, dim))
        nn.init.eye_(self.value.weight)  # starts as a plain (masked) mean of the inputs
        nn.init.normal_(self.key.weight, std=0.02)

    def forward(
        self, vectors: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys = self.key(vectors + self.modality_embedding[: vectors.shape[1]])
        scores = keys @ self.query / math.sqrt(vectors.shape[-1])
        weights = _masked_softmax(scores, mask)
        fused = (weights.unsqueeze(-1) * self.value(vectors)).sum(dim=1)
        return F.normalize(fused, dim=-1), weights


class GatedFusion(nn.Module):
    """Each present modality gets an input-dependent gate sigmoid(w_m . x_m + b_m); the output
    is the gate-weighted mean, normalised. A caption such as "IMG_2031" can learn a low gate.

    >>> fusion = GatedFusion(dim=4, n_modalities=2)
    >>> x = F.normalize(torch.randn(5, 2, 4), dim=-1)
    >>> fused, weights = fusion(x, torch.ones(5, 2, dtype=torch.bool))
    >>> fused.shape, bool(torch.allclose(weights.sum(dim=1), torch.ones(5)))
    (torch.Size([5, 4]), True)
    """

    def __init__(self, dim: int, n_modalities: int = 3):
        super().__init__()
        self.gates = nn.ModuleList(nn.Linear(dim, 1) for _ in range(n_modalities))
        for gate in self.gates:
            nn.init.zeros_(gate.weight)
            nn.init.zeros_(gate.bias)

    def forward(
        self, vectors: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not mask.any(dim=1).all():
            raise ValueError("every row needs at least one present modality")
        logits = torch.cat(
            [gate(vectors[:, m]) for m, gate in enumerate(self.gates[: vectors.shape[1]])], dim=1
        )
        gates = torch.sigmoid(logits) * mask
        weights = gates / gates.sum(dim=1, keepdim=True).clamp(min=1e-8)
        fused = (weights.unsqueeze(-1) * vectors).sum(dim=1)
        return F.normalize(fused, dim=-1), weights
