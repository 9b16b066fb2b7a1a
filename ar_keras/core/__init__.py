"""The contract, written once: base model, event specs, autoregressive and density models, the sampler.

Example:
    >>> from ar_keras.core import AutoregressiveModel, ImageEvent
"""

from ar_keras.core import noise, sampler
from ar_keras.core.autoregressive import AutoregressiveModel, no_autograph
from ar_keras.core.base import BaseModel, unpack_inputs
from ar_keras.core.density import AutoregressiveDensity, ContinuousModel, LatentVariableModel
from ar_keras.core.events import EventSpec, FloatSequence, ImageEvent, SequenceEvent, VectorEvent, VideoEvent

__all__ = [
    "EventSpec",
    "ImageEvent",
    "SequenceEvent",
    "VectorEvent",
    "FloatSequence",
    "VideoEvent",
    "BaseModel",
    "unpack_inputs",
    "AutoregressiveModel",
    "no_autograph",
    "AutoregressiveDensity",
    "ContinuousModel",
    "LatentVariableModel",
    "noise",
    "sampler",
]
