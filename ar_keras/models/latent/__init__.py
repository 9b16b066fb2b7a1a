"""Latent-variable image models: the IAF-VAE and PixelVAE."""
