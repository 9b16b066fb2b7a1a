"""Sample grids: layout, scaling and PNG output."""

import numpy as np
import pytest
from PIL import Image

from ar_keras.visualize import image_grid, save_png


def test_grid_layout_and_levels(tmp_path):
    images = np.zeros((5, 2, 3, 1), np.int32)
    images[1] = 16  # the second tile is white
    grid = image_grid(images, num_levels=17, scale=2, pad=1)
    # 5 tiles -> 3 columns, 2 rows of (2*2 + 1) + 1 by (3*2 + 1) + 1.
    assert grid.shape == (2 * 5 + 1, 3 * 7 + 1, 3) and grid.dtype == np.uint8
    assert np.all(grid[1:5, 8:14] == 255) and np.all(grid[1:5, 1:7] == 0)
    path = save_png(grid, str(tmp_path / "g" / "grid.png"))
    assert np.array_equal(np.asarray(Image.open(path)), grid)


def test_rgb_kept_and_bad_shape():
    rgb = np.zeros((1, 1, 1, 3), np.int32)
    rgb[..., 0] = 3
    grid = image_grid(rgb, num_levels=4, scale=1, pad=0)
    assert grid[0, 0].tolist() == [255, 0, 0]
    with pytest.raises(ValueError, match="n, H, W, C"):
        image_grid(np.zeros((2, 2)), 2)
