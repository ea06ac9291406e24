"""AlignedHeads: the trainable part of the shared space, on top of the frozen towers."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from retrieval.errors import EncoderError
from retrieval.training.heads import ResidualHead

WEIGHTS_FILE = "heads.pt"
CONFIG_FILE = "heads.json"


@dataclass(frozen=True)
class HeadsConfig:
    dim: int = 384
    image_feature_dim: int = 1280
    hidden: int = 512
    dropout: float = 0.1


class AlignedHeads(nn.Module):
    """An image head (tower features + ConSE vector -> space) and a text head (sentence
    embedding -> space); both residual, so untrained heads reproduce ConSE exactly."""

    def __init__(self, config: HeadsConfig = HeadsConfig()):
        super().__init__()
        self.config = config
        c = config
        self.image_head = ResidualHead(c.image_feature_dim + c.dim, c.dim, c.hidden, c.dropout)
        self.text_head = ResidualHead(c.dim, c.dim, c.hidden, c.dropout)

    def images(self, features: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        return self.image_head(torch.cat([features, base], dim=-1), base)

    def texts(self, base: torch.Tensor) -> torch.Tensor:
        return self.text_head(base, base)

    def save(self, directory: str | Path, half: bool = False) -> None:
        """Write ``heads.pt`` (weights, float16 when ``half``) and ``heads.json`` (shape)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = self.state_dict()
        if half:
            state = {k: v.half() for k, v in state.items()}
        torch.save(state, directory / WEIGHTS_FILE)
        (directory / CONFIG_FILE).write_text(json.dumps(asdict(self.config)))

    @classmethod
    def load(cls, directory: str | Path) -> AlignedHeads:
        """Read heads written by ``save``."""
        directory = Path(directory)
        try:
            config = HeadsConfig(**json.loads((directory / CONFIG_FILE).read_text()))
            heads = cls(config)
            state = torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True)
            heads.load_state_dict({k: v.float() for k, v in state.items()})
        except (OSError, ValueError, TypeError, RuntimeError) as exc:
            raise EncoderError(f"{directory} holds no trained heads ({exc})") from exc
        return heads.eval()
