"""Training the heads on cached tower features with accelerate (CPU here, GPU and mixed
precision where present, same code): seeded, checkpointed every epoch, resumable, with a
progress bar, dev-set model selection and a training-curve plot."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from retrieval.metrics import answerable_metrics, rsum
from retrieval.training.features import PairFeatures
from retrieval.training.losses import (
    AdversarialAlignmentLoss,
    DistillationLoss,
    InfoNCELoss,
    MaxViolationTripletLoss,
)
from retrieval.training.model import AlignedHeads, HeadsConfig

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    loss: Literal["infonce", "vsepp"] = "vsepp"
    epochs: int = 40
    batch_size: int = 128
    learning_rate: float = 1e-4
    weight_decay: float = 1e-2
    margin: float = 0.2
    distill_weight: float = 0.0
    distill_temperature: float = 0.05
    adversarial_weight: float = 0.0
    seed: int = 0


def _pairs(features: PairFeatures) -> np.ndarray:
    """(caption, image) index pairs, one per relevant link."""
    return np.array(
        [(c, i) for c, images in enumerate(features.relevant) for i in images], dtype=np.int64
    )


def embed_features(heads: AlignedHeads, features: PairFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Image and text vectors of a feature set through the heads (no gradients)."""
    heads.eval()
    with torch.no_grad():
        images = heads.images(
            torch.from_numpy(features.image_features), torch.from_numpy(features.image_base)
        )
        texts = heads.texts(torch.from_numpy(features.text_base))
    return images.numpy(), texts.numpy()


def evaluate_embeddings(images: np.ndarray, texts: np.ndarray, features: PairFeatures) -> dict:
    """Bidirectional retrieval metrics of vectors aligned with a feature set (captions whose
    images could not be read are left out)."""
    return answerable_metrics(texts @ images.T, features.relevance_matrix())


def evaluate_heads(heads: AlignedHeads, features: PairFeatures) -> dict:
    """Bidirectional retrieval metrics of the heads on a feature set."""
    return evaluate_embeddings(*embed_features(heads, features), features)


def train_heads(
    train: PairFeatures,
    config: TrainConfig,
    out_dir: str | Path,
    dev: PairFeatures | None = None,
    progress: bool = True,
    init: AlignedHeads | None = None,
    half: bool = False,
) -> tuple[AlignedHeads, list[dict]]:
    """Train heads (from ``init`` when given: few-shot adaptation of trained heads); keeps the
    epoch with the best dev rsum (or the last one without dev).

    Writes ``out_dir``: the chosen heads (float16 when ``half``: half the size, for packaging),
    ``history.json``, ``curve.png`` and a checkpoint that a rerun with the same ``out_dir``
    resumes from."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    set_seed(config.seed)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    heads = AlignedHeads(
        HeadsConfig(dim=train.text_base.shape[1], image_feature_dim=train.image_features.shape[1])
    )
    if init is not None:
        heads.load_state_dict(init.state_dict())
    main_loss = (
        InfoNCELoss() if config.loss == "infonce" else MaxViolationTripletLoss(config.margin)
    )
    distill = DistillationLoss(config.distill_temperature)
    adversarial = AdversarialAlignmentLoss(heads.config.dim)
    parameters = [*heads.parameters(), *main_loss.parameters(), *adversarial.parameters()]
    optimiser = torch.optim.AdamW(
        parameters, lr=config.learning_rate, weight_decay=config.weight_decay
    )
    heads, main_loss, adversarial, optimiser = accelerator.prepare(
        heads, main_loss, adversarial, optimiser
    )

    tensors = {
        "features": torch.from_numpy(train.image_features),
        "image_base": torch.from_numpy(train.image_base),
        "text_base": torch.from_numpy(train.text_base),
    }
    pairs = _pairs(train)
    history: list[dict] = []
    start_epoch, best = 0, (-1.0, None)
    checkpoint = out_dir / CHECKPOINT
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        accelerator.unwrap_model(heads).load_state_dict(state["heads"])
        optimiser.load_state_dict(state["optimiser"])
        history, start_epoch = state["history"], state["epoch"] + 1
        best = (state["best_score"], state["best_heads"])
        log.info("resuming from epoch %d", start_epoch)
    if init is not None and dev is not None and start_epoch == 0:
        best = (rsum(evaluate_heads(heads, dev)), init.state_dict())  # adapting must beat it
    generator = np.random.default_rng(config.seed)
    for _ in range(start_epoch):
        generator.permutation(len(pairs))  # keep the shuffles of a resumed run identical
    for epoch in tqdm(
        range(start_epoch, config.epochs),
        desc="training",
        unit="epoch",
        disable=not progress,
        initial=start_epoch,
        total=config.epochs,
    ):
        heads.train()
        order = generator.permutation(len(pairs))
        losses = []
        for start in range(0, len(order), config.batch_size):
            batch = pairs[order[start : start + config.batch_size]]
            captions, images = torch.from_numpy(batch[:, 0]), torch.from_numpy(batch[:, 1])
            device = accelerator.device
            image_out = heads.images(
                tensors["features"][images].to(device), tensors["image_base"][images].to(device)
            )
            text_base = tensors["text_base"][captions].to(device)
            text_out = heads.texts(text_base)
            loss = main_loss(image_out, text_out)
            if config.distill_weight:
                loss = loss + config.distill_weight * distill(
                    image_out @ text_out.T, text_base @ text_base.T
                )
            if config.adversarial_weight:
                loss = loss + config.adversarial_weight * adversarial(image_out, text_out)
            optimiser.zero_grad()
            accelerator.backward(loss)
            optimiser.step()
            losses.append(float(loss.detach()))
        record = {"epoch": epoch, "loss": round(float(np.mean(losses)), 5)}
        unwrapped = accelerator.unwrap_model(heads)
        if dev is not None:
            metrics = evaluate_heads(unwrapped, dev)
            record["dev_t2i_R@10"] = metrics["text_to_image"]["R@10"]
            record["dev_rsum"] = rsum(metrics)
            score = record["dev_rsum"]
        else:
            score = float(epoch)
        if score > best[0]:
            best = (score, {k: v.detach().cpu().clone() for k, v in unwrapped.state_dict().items()})
        history.append(record)
        torch.save(
            {
                "heads": unwrapped.state_dict(),
                "optimiser": optimiser.state_dict(),
                "history": history,
                "epoch": epoch,
                "best_score": best[0],
                "best_heads": best[1],
            },
            checkpoint,
        )
    final = AlignedHeads(accelerator.unwrap_model(heads).config)
    final.load_state_dict(best[1])
    final.eval().save(out_dir, half=half)
    (out_dir / "history.json").write_text(
        json.dumps({"config": asdict(config), "history": history}, indent=2)
    )
    _plot(history, out_dir / "curve.png")
    return final, history


def _plot(history: list[dict], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib is not installed: no training-curve plot")
        return
    fig, left = plt.subplots(figsize=(7, 4))
    epochs = [h["epoch"] for h in history]
    left.plot(epochs, [h["loss"] for h in history], label="training loss", color="tab:blue")
    left.set_xlabel("epoch")
    left.set_ylabel("loss")
    if history and "dev_t2i_R@10" in history[0]:
        right = left.twinx()
        right.plot(
            epochs,
            [h["dev_t2i_R@10"] for h in history],
            label="dev text->image R@10",
            color="tab:green",
        )
        right.set_ylabel("dev R@10 (%)")
    fig.legend(loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
