"""Models and the registry: `ark.models.get(name, preset=...)`, `ark.models.names()`."""

from ar_keras.models.base import AutoregressiveModel
from ar_keras.models.registry import get, model_class, names, presets, register

# Importing a model module registers it.
from ar_keras.models.nade import NADE  # noqa: E402
from ar_keras.models.made import MADE  # noqa: E402
from ar_keras.models.gated_pixelcnn import GatedPixelCNN  # noqa: E402

__all__ = ["AutoregressiveModel", "get", "model_class", "names", "presets", "register",
           "NADE", "MADE", "GatedPixelCNN"]
