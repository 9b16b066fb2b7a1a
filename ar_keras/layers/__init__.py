"""Masked and causal building blocks, one concept per file."""

from ar_keras.layers import masking
from ar_keras.layers.gated import GatedActivation
from ar_keras.layers.masked_conv2d import MaskedConv2D
from ar_keras.layers.masked_dense import MaskedDense

__all__ = ["masking", "GatedActivation", "MaskedConv2D", "MaskedDense"]
