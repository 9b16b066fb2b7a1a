"""Models that generate an image in an order other than raster.

Parallel Multiscale and the Subscale Pixel Network.
"""
