"""Convolutional and attention pixel models: Gated PixelCNN, PixelCNN++, PixelSNAIL."""
