"""Encoders into the shared space, behind one protocol, loaded by name."""

from retrieval.encoders.base import Encoder, l2_normalise
from retrieval.encoders.registry import load_encoder

__all__ = ["Encoder", "l2_normalise", "load_encoder"]
