"""crossmedia's shared embedding space: encoders, the Chroma index, ingestion and evaluation."""
