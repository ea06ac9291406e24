"""crossmedia ui."""
