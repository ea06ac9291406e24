"""Projection heads on frozen towers (LiT-style): a residual correction on top of a base vector.

``ResidualHead`` returns normalise(base + MLP(features)). Its last layer starts at zero, so an
untrained head reproduces the base exactly (for images the ConSE vector, for texts the sentence
embedding): training can only move away from a working space, never start from noise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ResidualHead(nn.Module):
    """normalise(base + MLP(features)); ``features`` may be the tower's pooled features,
    the base itself, or both concatenated.

    >>> head = ResidualHead(feature_dim=6, dim=4)
    >>> base = F.normalize(torch.randn(2, 4), dim=-1)
    >>> torch.allclose(head(torch.randn(2, 6), base), base)
    True
    """

    def __init__(self, feature_dim: int, dim: int, hidden: int = 512, dropout: float = 0.1):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.LayerNorm(feature_dim),
            nn.Linear(feature_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        return F.normalize(base + self.mlp(features), dim=-1)
