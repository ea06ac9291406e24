"""crossmedia assistant."""
