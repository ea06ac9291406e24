"""crossmedia recsys."""
