"""Models and the registry: `ark.models.get(name, preset=...)`, `ark.models.names()`."""

from ar_keras.models.base import AutoregressiveModel
from ar_keras.models.registry import get, model_class, names, presets, register

# Importing a model module registers it.
from ar_keras.models.density.nade import NADE  # noqa: E402
from ar_keras.models.density.made import MADE  # noqa: E402
from ar_keras.models.pixel.gated_pixelcnn import GatedPixelCNN  # noqa: E402
from ar_keras.models.pixel.pixelcnn_pp import PixelCNNPP  # noqa: E402
from ar_keras.models.pixel.pixelsnail import PixelSNAIL  # noqa: E402
from ar_keras.models.sequence import SequenceModel  # noqa: E402
from ar_keras.models.audio.wavenet import WaveNet  # noqa: E402

__all__ = ["AutoregressiveModel", "get", "model_class", "names", "presets", "register",
           "NADE", "MADE", "GatedPixelCNN", "PixelCNNPP", "PixelSNAIL",
           "SequenceModel", "WaveNet"]

# Densities of continuous vectors (and latent-variable image models): not
# AutoregressiveModel subclasses; see ar_keras/models/continuous.py.
from ar_keras.models.continuous import ContinuousModel, DensityModel  # noqa: E402
from ar_keras.models.density.maf import MAF  # noqa: E402
from ar_keras.models.density.iaf import IAF  # noqa: E402
from ar_keras.models.density.rnade import RNADE  # noqa: E402
from ar_keras.models.latent.iaf_vae import IAFVAE  # noqa: E402

__all__ += ["DensityModel", "ContinuousModel", "MAF", "IAF", "RNADE", "IAFVAE"]
