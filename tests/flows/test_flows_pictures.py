"""Sample pictures of continuous models, and SampleLogger's continuous branch."""

import numpy as np

import ar_keras as ark
from ar_keras.flows import pictures


def test_scatter_for_2d_and_image_grid_for_square_dimensions(tmp_path):
    flat = ark.models.get("rnade", preset="tiny")
    scatter = pictures.sample_picture(flat, num_samples=16, seed=0)
    assert scatter.shape == (256, 256, 3) and scatter.dtype == np.uint8
    assert (scatter != 255).any(axis=-1).sum() > 500  # >= 2,000 points drawn
    square = ark.models.get("rnade", preset="tiny", event_size=16, num_classes=2)
    grid = pictures.sample_picture(square, num_samples=4, seed=0)
    assert grid.shape == (2 * (4 * 4 + 1) + 1, 2 * (4 * 4 + 1) + 1, 3)

    logger = ark.callbacks.SampleLogger(str(tmp_path), num_samples=4)
    logger.set_model(flat)
    np.testing.assert_array_equal(logger.draw(), scatter)
    assert (tmp_path / "samples.png").exists() is False
    assert logger.write_final(str(tmp_path / "samples")).endswith("samples.png")
    assert (tmp_path / "samples.png").exists()
