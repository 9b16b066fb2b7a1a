"""Masked and causal building blocks, one concept per file."""

from ar_keras.layers import attention, masking
from ar_keras.layers.attention import CausalSelfAttention, PatternAttention
from ar_keras.layers.bytenet_block import ByteNetBlock
from ar_keras.layers.causal_conv1d import CausalConv1D
from ar_keras.layers.causal_neighbourhood import CausalNeighbourhood
from ar_keras.layers.channel_masked_conv2d import ChannelMaskedConv2D
from ar_keras.layers.conv_lstm import ConvLSTM
from ar_keras.layers.diagonal_bilstm import DiagonalBiLSTM
from ar_keras.layers.dual_gru import DualGRU
from ar_keras.layers.gated import GatedActivation
from ar_keras.layers.gated_pixelcnn_block import GatedPixelCNNBlock
from ar_keras.layers.gated_pixelcnn_stack import GatedPixelCNNStack
from ar_keras.layers.gated_resnet import GatedResNet
from ar_keras.layers.learned_state_gru import LearnedStateGRU
from ar_keras.layers.lstm_cell import lstm_cell
from ar_keras.layers.made import MADELayer
from ar_keras.layers.masked_conv2d import MaskedConv2D
from ar_keras.layers.masked_dense import MaskedDense
from ar_keras.layers.multiplicative import MultiplicativeUnit, ResidualMultiplicativeBlock
from ar_keras.layers.row_lstm import RowLSTM
from ar_keras.layers.shifted_conv import (
    DownRightShiftedConv2D,
    DownRightShiftedConv2DTranspose,
    DownShiftedConv2D,
    DownShiftedConv2DTranspose,
)
from ar_keras.layers.skew import skew, unskew
from ar_keras.layers.sparse_transformer_block import SparseTransformerBlock
from ar_keras.layers.spatial_lstm import SpatialLSTM
from ar_keras.layers.upsample1d import Upsample1D
from ar_keras.layers.wavenet_block import WaveNetBlock

__all__ = [
    "attention",
    "masking",
    "CausalSelfAttention",
    "PatternAttention",
    "GatedActivation",
    "GatedPixelCNNBlock",
    "GatedPixelCNNStack",
    "GatedResNet",
    "DownShiftedConv2D",
    "DownRightShiftedConv2D",
    "DownShiftedConv2DTranspose",
    "DownRightShiftedConv2DTranspose",
    "MaskedConv2D",
    "ChannelMaskedConv2D",
    "MaskedDense",
    "MADELayer",
    "CausalConv1D",
    "Upsample1D",
    "DualGRU",
    "WaveNetBlock",
    "skew",
    "unskew",
    "lstm_cell",
    "RowLSTM",
    "DiagonalBiLSTM",
    "CausalNeighbourhood",
    "SpatialLSTM",
    "SparseTransformerBlock",
    "LearnedStateGRU",
    "ByteNetBlock",
    "ConvLSTM",
    "MultiplicativeUnit",
    "ResidualMultiplicativeBlock",
]
