"""Matplotlib set up for writing plot files (no display), shared by the bench scripts."""

from __future__ import annotations


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
