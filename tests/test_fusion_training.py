"""Item fusion trained with the real trainer, saved and loaded, and used by the index."""

import numpy as np
import torch

from retrieval.fusion import GatedFusion
from retrieval.training.fusion_training import (
    FUSION_FILE,
    FusionItems,
    fused_vectors,
    load_fusion,
    train_fusion,
    uninformative_captions,
)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def synthetic_items(n: int, seed: int, dim: int = 8) -> tuple[FusionItems, np.ndarray]:
    """Queries near the truth; images noisy views of it; captions exact for half the items and
    a file-name-like constant direction (or missing) for the rest."""
    rng = np.random.default_rng(seed)
    truth = unit(rng.standard_normal((n, dim)))
    image = unit(truth + 0.6 * rng.standard_normal((n, dim)))
    useless = rng.random(n) < 0.5
    caption = truth.copy()
    caption[useless] = unit(np.ones(dim) + 0.05 * rng.standard_normal((int(useless.sum()), dim)))
    present = np.ones((n, 2), dtype=bool)
    present[useless & (rng.random(n) < 0.3), 1] = False
    items = FusionItems(
        vectors=np.stack([image, caption], axis=1),
        present=present,
        queries=unit(truth + 0.1 * rng.standard_normal((n, dim))),
        relevant=[[i] for i in range(n)],
    )
    return items, useless


def recall_at_1(items: FusionItems, vectors: np.ndarray) -> float:
    return float(((items.queries @ vectors.T).argmax(1) == np.arange(len(vectors))).mean())


def test_uninformative_captions_replace_a_seeded_share():
    captions = [f"thing {i}" for i in range(1000)]
    out, replaced = uninformative_captions(captions, 0.5, seed=3)
    assert 0.45 < replaced.mean() < 0.55
    assert all(o == c for o, c, r in zip(out, captions, replaced, strict=True) if not r)
    swapped = {o[:3] for o, r in zip(out, replaced, strict=True) if r}
    assert swapped == {"", "IMG", "DSC"}
    assert uninformative_captions(captions, 0.5, seed=3)[0] == out


def test_trained_gate_leans_on_the_image_where_the_caption_is_noise(tmp_path):
    train, _ = synthetic_items(600, 0)
    test, useless = synthetic_items(300, 1)
    fusion = GatedFusion(8, n_modalities=2)
    before = recall_at_1(test, fused_vectors(fusion, test)[0])  # untrained gate = plain mean
    history = train_fusion(fusion, train, epochs=15, progress=False)
    assert history[-1] < history[0]
    fused, weights = fused_vectors(fusion, test)
    assert recall_at_1(test, fused) > before + 0.05
    assert weights[useless, 0].mean() > weights[~useless, 0].mean() + 0.2

    torch.save(fusion.state_dict(), tmp_path / FUSION_FILE)
    loaded = load_fusion(tmp_path)
    assert loaded is not None
    assert np.allclose(fused_vectors(loaded, test)[0], fused, atol=1e-6)
    assert load_fusion(tmp_path / "elsewhere") is None
