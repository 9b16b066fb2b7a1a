"""Models and the registry: `ark.models.get(name, preset=...)`, `ark.models.names()`.

Models live in family folders (density, pixel, latent, transformer, multiscale, video, text,
audio); importing a model module registers it.  Their bases are in `ar_keras.core`.
"""

from ar_keras.core import AutoregressiveModel, BaseModel, ContinuousModel, LatentVariableModel
from ar_keras.models.audio.samplernn import SampleRNN  # noqa: E402
from ar_keras.models.audio.trajectory_rnade import TrajectoryRNADE  # noqa: E402
from ar_keras.models.audio.wavenet import WaveNet  # noqa: E402
from ar_keras.models.audio.wavernn import WaveRNN  # noqa: E402
from ar_keras.models.density.iaf import IAF  # noqa: E402
from ar_keras.models.density.made import MADE  # noqa: E402
from ar_keras.models.density.maf import MAF  # noqa: E402
from ar_keras.models.density.nade import NADE  # noqa: E402
from ar_keras.models.density.rnade import RNADE  # noqa: E402
from ar_keras.models.latent.iaf_vae import IAFVAE  # noqa: E402
from ar_keras.models.latent.pixelvae import PixelVAE  # noqa: E402
from ar_keras.models.multiscale.multiscale import MultiscalePixelCNN  # noqa: E402
from ar_keras.models.multiscale.subscale import Subscale  # noqa: E402
from ar_keras.models.pixel.gated_pixelcnn import GatedPixelCNN  # noqa: E402
from ar_keras.models.pixel.pixelcnn_pp import PixelCNNPP  # noqa: E402
from ar_keras.models.pixel.pixelrnn import PixelRNN  # noqa: E402
from ar_keras.models.pixel.pixelsnail import PixelSNAIL  # noqa: E402
from ar_keras.models.pixel.spatial_lstm import RIDE  # noqa: E402
from ar_keras.models.registry import get, model_class, names, presets, register
from ar_keras.models.text.bytenet import ByteNet  # noqa: E402
from ar_keras.models.transformer.image_transformer import ImageTransformer  # noqa: E402
from ar_keras.models.transformer.sparse_transformer import SparseTransformer  # noqa: E402
from ar_keras.models.video.vpn import VideoPixelNetwork  # noqa: E402

# The bases and registry functions, then every registered model class (one list to keep).
__all__ = [
    "BaseModel",
    "AutoregressiveModel",
    "ContinuousModel",
    "LatentVariableModel",
    "get",
    "model_class",
    "names",
    "presets",
    "register",
] + sorted({model_class(_name).__name__ for _name in names()})
