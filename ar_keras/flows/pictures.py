"""Pictures of a continuous model's samples, for `ar_keras.callbacks.SampleLogger`.

Continuous models (`maf`, `iaf`, `rnade`) draw float vectors ``[n, D]``:

* D a square of at least 16 (``digits_continuous``: 64 = 8 x 8): each
  sample is shown as a ``sqrt(D) x sqrt(D)`` grey image, values clipped to
  ``[0, 1]`` (the dequantized pixel scale);
* otherwise a scatter plot of the first two dimensions (2-d toys), of at
  least 2,000 samples, on a 256 x 256 canvas spanning the 1st-99th
  percentile range (with a margin); one dimension is plotted against the
  sample index.

Pure numpy: no plotting library.

Example:
    >>> import os, tempfile
    >>> import ar_keras as ark
    >>> from ar_keras.flows.pictures import sample_picture
    >>> model = ark.models.get("rnade", preset="tiny")
    >>> grid = sample_picture(model, num_samples=16, seed=0)    # uint8 [H, W, 3]
    >>> grid.dtype, grid.shape[-1]
    (dtype('uint8'), 3)
    >>> path = ark.visualize.save_png(grid, os.path.join(tempfile.mkdtemp(), "samples.png"))
"""

import math

import numpy as np

from ar_keras.visualize import image_grid

__all__ = ["sample_picture", "scatter_picture", "SCATTER_SAMPLES"]

#: Points drawn for a scatter picture.
SCATTER_SAMPLES = 2000
_CANVAS = 256


def scatter_picture(points, size=_CANVAS):
    """``points [n, 2]`` -> uint8 ``[size, size, 3]``: dark dots on white, first axis horizontal."""
    points = np.asarray(points, np.float64)
    points = points[np.isfinite(points).all(axis=1)]
    canvas = np.full((size, size, 3), 255, np.uint8)
    if not len(points):
        return canvas
    low, high = np.percentile(points, 1, axis=0), np.percentile(points, 99, axis=0)
    margin = 0.15 * np.maximum(high - low, 1e-6)
    low, high = low - margin, high + margin
    cells = ((points - low) / (high - low) * (size - 1)).round().astype(np.int64)  # [n, 2]
    inside = ((cells >= 0) & (cells < size)).all(axis=1)
    cols, rows = cells[inside, 0], size - 1 - cells[inside, 1]  # y axis up
    for dr in (0, 1):  # 2 x 2 dots
        for dc in (0, 1):
            canvas[np.minimum(rows + dr, size - 1), np.minimum(cols + dc, size - 1)] = (30, 60, 160)
    return canvas


def sample_picture(model, num_samples=16, seed=0, temperature=1.0):
    """Samples ``model`` and returns its picture, uint8 ``[H, W, 3]``.

    Class-conditional models get labels ``0, 1, 2, ...`` cycled over the samples.
    """
    D = int(model.event_size)
    side = int(math.isqrt(D))
    square = side * side == D and D >= 16
    n = int(num_samples) if square else max(int(num_samples), SCATTER_SAMPLES)
    labels = None
    if getattr(model, "num_classes", None):
        labels = np.arange(n, dtype=np.int32) % model.num_classes
    x = np.asarray(model.sample(n, conditional=labels, seed=seed, temperature=temperature))
    if square:
        levels = np.rint(np.clip(x, 0.0, 1.0) * 255).astype(np.int32)
        return image_grid(levels.reshape(n, side, side, 1), 256)  # [n, D] -> [n, s, s, 1]
    if D == 1:
        x = np.stack([np.arange(n, dtype=np.float64), x[:, 0]], axis=1)
    return scatter_picture(x[:, :2])
