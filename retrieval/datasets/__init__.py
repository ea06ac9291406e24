"""Image-caption pair datasets for training and evaluation."""

from retrieval.datasets.pairs import PairSet, load_pairs_jsonl

__all__ = ["PairSet", "load_pairs_jsonl"]
