"""Sample grids: int images -> one uint8 RGB picture, and PNG files.

Example:
    >>> import os, tempfile
    >>> import ar_keras as ark
    >>> from ar_keras.visualize import image_grid, save_png
    >>> model = ark.models.get("gated_pixelcnn", preset="tiny")
    >>> grid = image_grid(model.sample(16, seed=0), num_levels=model.num_levels)   # [H', W', 3] uint8
    >>> grid.dtype, grid.shape[-1]
    (dtype('uint8'), 3)
    >>> path = save_png(grid, os.path.join(tempfile.mkdtemp(), "samples.png"))
"""

import os

import numpy as np

__all__ = ["image_grid", "save_png"]


def image_grid(images, num_levels, columns=None, scale=4, pad=1):
    """Tiles ``images [n, H, W, C]`` (ints in ``[0, K)``) into one RGB picture.

    Levels are mapped linearly to 0..255; one channel becomes grey, three stay
    RGB, any other count shows its first channel.  Each pixel is repeated
    ``scale`` times so that 8x8 digits are visible.

    Returns:
        uint8 ``[rows * (H*scale + pad) + pad, cols * (W*scale + pad) + pad, 3]``.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]  # [n, H, W] -> [n, H, W, 1]
    if images.ndim != 4:
        raise ValueError(f"images must be [n, H, W, C], got shape {images.shape}.")
    n, h, w, c = images.shape
    pixels = np.clip(images.astype(np.float64) * (255.0 / (num_levels - 1)), 0, 255).astype(np.uint8)
    if c == 3:
        rgb = pixels
    else:
        rgb = np.repeat(pixels[..., :1], 3, axis=-1)  # [n, H, W, 1] -> [n, H, W, 3]
    rgb = rgb.repeat(scale, axis=1).repeat(scale, axis=2)  # [n, H*s, W*s, 3]
    columns = columns or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    hh, ww = h * scale, w * scale
    grid = np.full((rows * (hh + pad) + pad, columns * (ww + pad) + pad, 3), 128, np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = pad + r * (hh + pad), pad + col * (ww + pad)
        grid[top : top + hh, left : left + ww] = rgb[i]
    return grid


def save_png(grid, path):
    """Writes a uint8 ``[H, W, 3]`` picture as PNG; returns the path."""
    from PIL import Image

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    Image.fromarray(np.asarray(grid, np.uint8)).save(path)
    return path
