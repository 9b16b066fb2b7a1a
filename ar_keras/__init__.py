"""ar_keras: autoregressive generative models for TensorFlow 2 / Keras 3.

Example:
    >>> import ar_keras as ark
    >>> ds = ark.data.load("digits", split="train")
    >>> model = ark.models.get("gated_pixelcnn", preset="digits")
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ds.batch(64), epochs=20)
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ar_keras import (  # noqa: E402
    callbacks,
    checks,
    data,
    distribute,
    distributions,
    export,
    flows,
    layers,
    models,
    sampling,
    visualize,
)

__version__ = "0.1.0"

__all__ = [
    "callbacks",
    "checks",
    "data",
    "distribute",
    "distributions",
    "export",
    "flows",
    "layers",
    "models",
    "sampling",
    "visualize",
]
