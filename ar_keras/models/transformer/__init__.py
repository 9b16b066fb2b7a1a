"""Attention models: the Image Transformer and the Sparse Transformer."""
