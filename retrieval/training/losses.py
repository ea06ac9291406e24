"""Losses for learning the shared image/text space, one small documented class each.

All take L2-normalised embeddings of matched pairs: row i of ``images`` belongs with row i of
``texts``; every other row in the batch is a negative.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class InfoNCELoss(nn.Module):
    """Symmetric InfoNCE with a learnable temperature, as in CLIP (Radford et al., 2021).

    loss = (CE(s * I T^T, diag) + CE(s * T I^T, diag)) / 2, with s = exp(logit_scale) capped at 100.

    >>> loss = InfoNCELoss()
    >>> x = F.normalize(torch.randn(4, 8), dim=-1)
    >>> bool(loss(x, x) < loss(x, x.roll(1, 0)))
    True
    """

    def __init__(self, initial_temperature: float = 0.07, max_scale: float = 100.0):
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / initial_temperature)))
        self.max_scale = max_scale

    @property
    def temperature(self) -> float:
        return float(1 / self.logit_scale.detach().exp().clamp(max=self.max_scale))

    def forward(self, images: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        scale = self.logit_scale.exp().clamp(max=self.max_scale)
        logits = scale * images @ texts.T
        targets = torch.arange(len(images), device=images.device)
        return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


class TargetSetInfoNCELoss(nn.Module):
    """InfoNCE against a fixed set of target vectors (every distinct teacher sentence), not the
    batch: row i should be nearest ``targets[labels[i]]``. Several rows may share a target
    (one English sentence and its translations), which in-batch negatives would count against
    each other. Fixed temperature; inputs L2-normalised.

    >>> loss = TargetSetInfoNCELoss(temperature=0.1)
    >>> bank = F.normalize(torch.randn(5, 8), dim=-1)
    >>> labels = torch.tensor([0, 0, 3])
    >>> bool(loss(bank[labels], bank, labels) < loss(bank[[1, 2, 4]], bank, labels))
    True
    """

    def __init__(self, temperature: float = 0.05):
        super().__init__()
        self.temperature = temperature

    def forward(
        self, outputs: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor
    ) -> torch.Tensor:
        return F.cross_entropy(outputs @ targets.T / self.temperature, labels)


class MaxViolationTripletLoss(nn.Module):
    """VSE++ hinge triplet loss with the hardest negative (Faghri et al., 2018).

    For each positive pair (i, i) only the most violating negative in the batch counts, in both
    directions: sum_i [m - s(i,i) + max_{j!=i} s(i,j)]_+ + [m - s(i,i) + max_{j!=i} s(j,i)]_+,
    averaged over the batch. ``hardest=False`` sums over all negatives (VSE0).

    >>> loss = MaxViolationTripletLoss(margin=0.2)
    >>> x = torch.eye(3)
    >>> float(loss(x, x))  # perfectly separated: no violation
    0.0
    """

    def __init__(self, margin: float = 0.2, hardest: bool = True):
        super().__init__()
        self.margin = margin
        self.hardest = hardest

    def forward(self, images: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        scores = images @ texts.T
        positive = scores.diag().view(-1, 1)
        mask = torch.eye(len(scores), dtype=torch.bool, device=scores.device)
        cost_text = (
            (self.margin + scores - positive).clamp(min=0).masked_fill(mask, 0)
        )  # image -> texts
        cost_image = (
            (self.margin + scores - positive.T).clamp(min=0).masked_fill(mask, 0)
        )  # text -> images
        if self.hardest:
            return (cost_text.max(dim=1).values + cost_image.max(dim=0).values).mean()
        return (cost_text.sum(dim=1) + cost_image.sum(dim=0)).mean()


class DistillationLoss(nn.Module):
    """KL divergence between a teacher's and the student's in-batch similarity distributions
    (Hinton et al., 2015, applied to retrieval): each row's softmax over the batch.

    ``teacher_similarity`` is any (N, N) score matrix for the same batch, e.g. MiniLM
    caption-caption similarities or ConSE image-text scores. Symmetric over rows and columns.

    >>> loss = DistillationLoss(temperature=0.1)
    >>> s = torch.randn(4, 4)
    >>> float(loss(s, s)) < 1e-6
    True
    """

    def __init__(self, temperature: float = 0.1):
        super().__init__()
        self.temperature = temperature

    def forward(
        self, student_similarity: torch.Tensor, teacher_similarity: torch.Tensor
    ) -> torch.Tensor:
        t = self.temperature
        loss = 0.0
        for student, teacher in (
            (student_similarity, teacher_similarity),
            (student_similarity.T, teacher_similarity.T),
        ):
            target = F.softmax(teacher.detach() / t, dim=1)
            loss = loss + F.kl_div(F.log_softmax(student / t, dim=1), target, reduction="batchmean")
        return loss / 2


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, strength: float) -> torch.Tensor:
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.strength * grad, None


class GradientReversal(nn.Module):
    """Identity forward, gradient multiplied by -strength backward (Ganin & Lempitsky, 2015)."""

    def __init__(self, strength: float = 1.0):
        super().__init__()
        self.strength = strength

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ReverseGradient.apply(x, self.strength)


class AdversarialAlignmentLoss(nn.Module):
    """A modality discriminator behind a gradient-reversal layer.

    The discriminator learns to tell image vectors from text vectors; the reversed gradient
    pushes the encoders to make them indistinguishable, closing the modality gap. Returns the
    discriminator's binary cross-entropy (images labelled 1, texts 0); minimising it trains the
    discriminator and, through the reversal, confuses it.
    """

    def __init__(self, dim: int, hidden: int = 256, strength: float = 1.0):
        super().__init__()
        self.reverse = GradientReversal(strength)
        self.discriminator = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, images: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        vectors = self.reverse(torch.cat([images, texts]))
        labels = torch.cat([torch.ones(len(images)), torch.zeros(len(texts))]).to(vectors.device)
        return F.binary_cross_entropy_with_logits(self.discriminator(vectors).squeeze(-1), labels)

    @torch.no_grad()
    def accuracy(self, images: torch.Tensor, texts: torch.Tensor) -> float:
        """How often the discriminator tells the modalities apart (0.5 = not at all)."""
        logits = self.discriminator(torch.cat([images, texts])).squeeze(-1)
        labels = torch.cat([torch.ones(len(images)), torch.zeros(len(texts))]).to(logits.device)
        return float(((logits > 0).float() == labels).float().mean())
