"""Losses, gradient reversal, heads and fusion modules, checked by hand and by training."""

import doctest
import math

import pytest
import torch
import torch.nn.functional as F

import retrieval.fusion
import retrieval.training.heads
import retrieval.training.losses
from retrieval.fusion import AttentionFusion, GatedFusion
from retrieval.training.heads import ResidualHead
from retrieval.training.losses import (
    AdversarialAlignmentLoss,
    DistillationLoss,
    GradientReversal,
    InfoNCELoss,
    MaxViolationTripletLoss,
)


@pytest.mark.parametrize(
    "module", [retrieval.training.losses, retrieval.fusion, retrieval.training.heads]
)
def test_docstring_examples_run(module):
    assert doctest.testmod(module).failed == 0


def test_infonce_matches_a_hand_computation_and_has_gradients():
    loss = InfoNCELoss(initial_temperature=1.0)
    images = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    texts = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    value = loss(images, texts)
    # logits (scale 1): [[1, 0.6], [0, 0.8]]; rows and columns both give CE for the diagonal
    row = (
        -math.log(math.e / (math.e + math.exp(0.6))) - math.log(math.exp(0.8) / (1 + math.exp(0.8)))
    ) / 2
    col = (
        -math.log(math.e / (math.e + 1)) - math.log(math.exp(0.8) / (math.exp(0.6) + math.exp(0.8)))
    ) / 2
    assert value.item() == pytest.approx((row + col) / 2, rel=1e-5)
    value.backward()
    assert images.grad is not None and loss.logit_scale.grad is not None
    assert loss.temperature == pytest.approx(1.0)


def test_max_violation_counts_only_the_hardest_negative():
    images = torch.eye(3)
    texts = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.9, 0.0, 0.1]])
    texts = F.normalize(texts, dim=-1)
    hardest = MaxViolationTripletLoss(margin=0.2)(images, texts)
    summed = MaxViolationTripletLoss(margin=0.2, hardest=False)(images, texts)
    scores = images @ texts.T
    # only pair 2's text (close to image 0) and image 0 (close to text 2) violate the margin
    expected = (
        max(0, 0.2 - scores[0, 0] + scores[0, 2])  # image 0: hardest text is text 2
        + max(0, 0.2 - scores[2, 2] + scores[0, 2])  # text 2: hardest image is image 0
        + max(0, 0.2 - scores[2, 2] + scores[2, 0])  # image 2: hardest text is text 0
        + max(0, 0.2 - scores[0, 0] + scores[2, 0])  # text 0: hardest image is image 2
    ) / 3
    assert float(hardest) == pytest.approx(float(expected), rel=1e-5)
    assert float(summed) >= float(hardest) > 0


def test_distillation_is_zero_for_the_teacher_and_positive_otherwise():
    teacher = torch.randn(5, 5)
    loss = DistillationLoss(temperature=0.5)
    assert float(loss(teacher, teacher)) < 1e-6
    student = torch.randn(5, 5, requires_grad=True)
    value = loss(student, teacher)
    value.backward()
    assert value.item() > 0 and student.grad.abs().sum() > 0


def test_gradient_reversal_flips_the_sign():
    x = torch.randn(3, 4, requires_grad=True)
    (GradientReversal(strength=2.0)(x) * 3).sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, -6.0))


def test_adversarial_alignment_closes_the_modality_gap():
    torch.manual_seed(0)
    images_raw = torch.randn(64, 8) + torch.tensor([3.0] + [0.0] * 7)
    texts_raw = torch.randn(64, 8) - torch.tensor([3.0] + [0.0] * 7)
    shift = torch.nn.Linear(8, 8)
    loss = AdversarialAlignmentLoss(dim=8, hidden=16, strength=2.0)
    optimiser = torch.optim.Adam([*shift.parameters(), *loss.parameters()], lr=0.005)

    def gap() -> float:
        with torch.no_grad():
            return float((shift(images_raw).mean(0) - texts_raw.mean(0)).norm())

    before = gap()
    for _ in range(600):
        optimiser.zero_grad()
        loss(shift(images_raw), texts_raw).backward()
        optimiser.step()
    assert gap() < 0.5 * before
    assert loss.accuracy(shift(images_raw).detach(), texts_raw) < 0.7  # near chance (0.5)


def test_residual_head_starts_at_the_base_and_learns():
    torch.manual_seed(0)
    base = F.normalize(torch.randn(32, 8), dim=-1)
    target = F.normalize(base @ torch.randn(8, 8), dim=-1)
    head = ResidualHead(feature_dim=8, dim=8, hidden=32, dropout=0.0)
    assert torch.allclose(head(base, base), base)
    loss = InfoNCELoss()
    optimiser = torch.optim.Adam([*head.parameters(), *loss.parameters()], lr=0.01)

    def recall_at_1() -> float:
        with torch.no_grad():
            return float(
                ((head(base, base) @ target.T).argmax(1) == torch.arange(32)).float().mean()
            )

    start = recall_at_1()
    for _ in range(200):
        optimiser.zero_grad()
        loss(head(base, base), target).backward()
        optimiser.step()
    assert recall_at_1() > start + 0.3


def test_fusion_respects_the_mask_and_refuses_empty_rows():
    x = F.normalize(torch.randn(2, 3, 4), dim=-1)
    mask = torch.tensor([[True, False, False], [True, True, True]])
    for fusion in (AttentionFusion(4), GatedFusion(4)):
        fused, weights = fusion(x, mask)
        assert torch.allclose(fused[0], x[0, 0], atol=1e-5)  # one present modality: itself
        assert weights[0, 1] == 0 and weights[0, 2] == 0
        assert torch.allclose(fused.norm(dim=-1), torch.ones(2))
        with pytest.raises(ValueError, match="at least one"):
            fusion(x, torch.zeros(2, 3, dtype=torch.bool))


def test_gated_fusion_learns_to_ignore_an_uninformative_caption():
    """Half the captions are noise (file names): the gate must learn to lean on the image."""
    torch.manual_seed(0)
    n, dim = 256, 8
    truth = F.normalize(torch.randn(n, dim), dim=-1)
    image = F.normalize(truth + 0.3 * torch.randn(n, dim), dim=-1)
    noise_direction = F.normalize(torch.randn(dim), dim=0)
    caption = truth.clone()
    useless = torch.rand(n) < 0.5
    caption[useless] = F.normalize(
        noise_direction + 0.05 * torch.randn(int(useless.sum()), dim), dim=-1
    )
    vectors = torch.stack([image, caption], dim=1)
    mask = torch.ones(n, 2, dtype=torch.bool)
    fusion = GatedFusion(dim, n_modalities=2)
    optimiser = torch.optim.Adam(fusion.parameters(), lr=0.05)
    for _ in range(300):
        optimiser.zero_grad()
        fused, _ = fusion(vectors, mask)
        (1 - (fused * truth).sum(-1)).mean().backward()
        optimiser.step()
    _, weights = fusion(vectors, mask)
    assert weights[useless, 0].mean() > 0.8  # image weight where the caption is noise
    assert weights[~useless, 1].mean() > 0.4  # the informative caption still counts
