"""ExactVectors: an in-memory copy of one collection's vectors for exact cosine search.

Below a few hundred thousand vectors, one matrix-vector product is both faster and more
accurate than an HNSW graph (bench/index_speed.py: ~10 ms and recall 1.0 at 100k 384-d vectors,
where Chroma's HNSW needs a wide beam to pass 0.9 and on random data stays far below).
Chroma stays the store of record; this copy is rebuilt from it whenever the collection's
revision or count disagrees (another process wrote), so it can never hold anything Chroma does
not.

Large copies are scanned in two steps: a half-precision matrix-vector product (torch's fp16
kernel reads half the memory: ~3 ms instead of ~14 ms at 100k x 384 on 2 cores) shortlists
candidates, which are then re-scored exactly in float32, so results stay exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

HALF_PRECISION_FROM = 20_000  # rows; below this one float32 product is already fast
SHORTLIST = 64


class ExactVectors:
    """Ids and unit vectors in one growing matrix; ``top`` returns the exact nearest ids."""

    def __init__(self, dim: int, half_precision_from: int = HALF_PRECISION_FROM):
        self.dim = dim
        self.half_precision_from = half_precision_from
        self.ids: list[str] = []
        self.position: dict[str, int] = {}
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._half: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def replace_all(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Reset to exactly these ids and vectors."""
        self.ids = list(ids)
        self.position = {item_id: row for row, item_id in enumerate(self.ids)}
        self._matrix = np.asarray(vectors, dtype=np.float32).reshape(len(self.ids), self.dim).copy()
        self._half = None

    def snapshot(self) -> tuple[list[str], np.ndarray]:
        """A copy of every id and its vector."""
        return list(self.ids), self._matrix.copy()

    def upsert(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add new ids and overwrite known ones."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), self.dim)
        fresh_rows = []
        for item_id, vector in zip(ids, vectors, strict=True):
            row = self.position.get(item_id)
            if row is None:
                self.position[item_id] = len(self.ids)
                self.ids.append(item_id)
                fresh_rows.append(vector)
            else:
                self._matrix[row] = vector
        if fresh_rows:
            self._matrix = np.concatenate([self._matrix, np.stack(fresh_rows)])
        self._half = None

    def delete(self, ids: Sequence[str]) -> None:
        """Forget these ids (unknown ones are ignored)."""
        doomed = {self.position[i] for i in ids if i in self.position}
        if not doomed:
            return
        keep = [row for row in range(len(self.ids)) if row not in doomed]
        self.replace_all([self.ids[row] for row in keep], self._matrix[keep])

    def top(self, query: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The k ids with the highest cosine similarity to ``query`` (unit vectors), best first."""
        if not self.ids:
            return []
        query = np.asarray(query, dtype=np.float32).reshape(self.dim)
        k = min(k, len(self.ids))
        if len(self.ids) >= self.half_precision_from and k <= SHORTLIST:
            candidates = self._shortlist(query, SHORTLIST)
        else:
            candidates = np.arange(len(self.ids))
        scores = (
            self._matrix[candidates] @ query
            if len(candidates) < len(self.ids)
            else self._matrix @ query
        )
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best])]
        return [(self.ids[candidates[row]], float(scores[row])) for row in best]

    def _shortlist(self, query: np.ndarray, size: int) -> np.ndarray:
        """Rows of the ``size`` best half-precision scores."""
        if self._half is None:
            self._half = torch.from_numpy(self._matrix).to(torch.float16)
        with torch.inference_mode():
            scores = torch.mv(self._half, torch.from_numpy(query).to(torch.float16))
            return torch.topk(scores, min(size, len(self.ids))).indices.numpy()
