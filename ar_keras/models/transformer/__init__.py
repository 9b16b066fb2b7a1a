"""Attention models: the Sparse Transformer (strided and fixed sparse attention)."""
