"""Domain services built once in the lifespan: selection, posting, legacy import."""
