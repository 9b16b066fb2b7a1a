"""Video models: the Video Pixel Network."""
