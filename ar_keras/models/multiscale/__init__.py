"""Models that generate many elements per network evaluation: the Parallel Multiscale PixelCNN."""
