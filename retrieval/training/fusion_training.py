"""Training item fusion: one vector per item from its image and caption vectors, learned so a
text query finds the item, with a share of the captions made uninformative ("IMG_2031", empty)
the way real libraries look, so the fusion learns when to lean on the image.

    python -m retrieval.training.fusion_training --heads DIR   # writes DIR/fusion.pt

trains a gated fusion on the Tux Paint TRAIN split (grouped protocol; item caption = the stamp's
file name, query = its one-line description) on top of the heads in DIR, seeded.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from retrieval.datasets.pairs import PairSet
from retrieval.encoders.base import Encoder
from retrieval.fusion import GatedFusion
from retrieval.items import label_from_filename
from retrieval.metrics import relevance_matrix
from retrieval.training.losses import InfoNCELoss

log = logging.getLogger(__name__)
FUSION_FILE = "fusion.pt"
UNINFORMATIVE_SHARE = 0.5


@dataclass(frozen=True)
class FusionItems:
    """Per item its modality vectors (items, modalities, dim), which are present, and the
    queries (captions) with the items each should find."""

    vectors: np.ndarray
    present: np.ndarray
    queries: np.ndarray
    relevant: list[list[int]]

    def relevance_matrix(self) -> np.ndarray:
        """Boolean (queries, items) matrix of correct matches."""
        return relevance_matrix(self.relevant, len(self.vectors))


def uninformative_captions(
    captions: Sequence[str], share: float, seed: int
) -> tuple[list[str], np.ndarray]:
    """Replace a seeded ``share`` of captions by camera-style file names or nothing; returns the
    new captions and a mask of the replaced ones."""
    rng = np.random.default_rng(seed)
    replaced = rng.random(len(captions)) < share
    out = []
    for caption, swap in zip(captions, replaced, strict=True):
        if not swap:
            out.append(caption)
            continue
        style = rng.integers(3)
        number = int(rng.integers(1, 10_000))
        out.append(("", f"IMG_{number:04d}", f"DSC{number:05d}")[style])
    return out, replaced


def file_titles(image_paths: Sequence[str | Path]) -> list[str]:
    """Item captions as a library without descriptions has them: the file name as words."""
    return [label_from_filename(Path(p)) for p in image_paths]


def fused_vectors(fusion: nn.Module, items: FusionItems) -> tuple[np.ndarray, np.ndarray]:
    """Fused item vectors and the per-modality weights the fusion used."""
    fusion.eval()
    with torch.no_grad():
        fused, weights = fusion(torch.from_numpy(items.vectors), torch.from_numpy(items.present))
    return fused.numpy(), weights.numpy()


def train_fusion(
    fusion: nn.Module, items: FusionItems, epochs: int = 20, seed: int = 0, progress: bool = True
) -> list[float]:
    """Symmetric InfoNCE between each query and its fused item; returns the loss per epoch.
    Runs through accelerate like the heads' trainer (GPU where present)."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    set_seed(seed)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    loss_fn = InfoNCELoss()
    optimiser = torch.optim.AdamW([*fusion.parameters(), *loss_fn.parameters()], lr=1e-2)
    fusion, loss_fn, optimiser = accelerator.prepare(fusion, loss_fn, optimiser)
    pairs = np.array([(q, i) for q, rel in enumerate(items.relevant) for i in rel])
    vectors, present = torch.from_numpy(items.vectors), torch.from_numpy(items.present)
    queries = torch.from_numpy(items.queries)
    generator = np.random.default_rng(seed)
    history = []
    for _ in tqdm(range(epochs), desc="training fusion", unit="epoch", disable=not progress):
        fusion.train()
        losses = []
        order = generator.permutation(len(pairs))
        for start in range(0, len(order), 128):
            batch = pairs[order[start : start + 128]]
            device = accelerator.device
            index = torch.from_numpy(batch[:, 1])
            fused, _ = fusion(vectors[index].to(device), present[index].to(device))
            loss = loss_fn(fused, queries[torch.from_numpy(batch[:, 0])].to(device))
            optimiser.zero_grad()
            accelerator.backward(loss)
            optimiser.step()
            losses.append(float(loss.detach()))
        history.append(round(float(np.mean(losses)), 5))
    return history


def load_fusion(directory: str | Path) -> GatedFusion | None:
    """The gated item fusion stored beside trained heads, or None when there is none."""
    path = Path(directory) / FUSION_FILE
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    fusion = GatedFusion(dim=state["gates.0.weight"].shape[1], n_modalities=len(state) // 2)
    fusion.load_state_dict({k: v.float() for k, v in state.items()})
    return fusion.eval()


def main(argv: Sequence[str] | None = None) -> None:
    """Train the packaged gated item fusion on top of a heads folder."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--heads", required=True, help="folder of trained heads")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    from retrieval.datasets.tuxpaint import load_tuxpaint
    from retrieval.encoders.registry import default_cache_dir, load_encoder

    encoder = load_encoder(f"trained:{args.heads}", default_cache_dir())
    items, _ = tuxpaint_fusion_items(encoder, load_tuxpaint("train", grouping="folder"), args.seed)
    fusion = GatedFusion(encoder.dim, n_modalities=2)
    history = train_fusion(fusion, items, args.epochs, args.seed)
    torch.save(
        {k: v.half() for k, v in fusion.state_dict().items()}, Path(args.heads) / FUSION_FILE
    )
    log.info("fusion trained (loss %.3f -> %.3f), saved in %s", history[0], history[-1], args.heads)


def tuxpaint_fusion_items(
    encoder: Encoder, pairs: PairSet, seed: int, share: float = UNINFORMATIVE_SHARE
) -> tuple[FusionItems, np.ndarray]:
    """FusionItems of a Tux Paint split: image + file-name caption (a ``share`` made
    uninformative, seeded) per item, descriptions as queries. Returns (items, replaced mask)."""
    from retrieval.evaluate import RetrievalEvaluator

    images, kept = RetrievalEvaluator(pairs, progress=False).encode_images(encoder)
    titles, replaced = uninformative_captions(
        file_titles([pairs.images[i] for i in kept]), share, seed
    )
    title_vectors = encoder.encode_texts([t or "-" for t in titles])
    present = np.array([[True, bool(t)] for t in titles])
    return FusionItems(
        vectors=np.stack([images, title_vectors], axis=1).astype(np.float32),
        present=present,
        queries=encoder.encode_texts(pairs.captions).astype(np.float32),
        relevant=pairs.relevant_among(kept),
    ), replaced


if __name__ == "__main__":
    main()
