"""The gated ResNet block of PixelCNN++ and PixelSNAIL, with concat_elu.

Salimans et al., "PixelCNN++", ICLR 2017, sec. 2.3-2.4 (Fig. 2);
Chen, Mishra, Rohaninejad & Abbeel, "PixelSNAIL", ICML 2018 (same block).

For an input ``x [B, H, W, F]``, an optional auxiliary input ``a`` (the u
stream, or a skip connection) and an optional conditioning vector ``h``::

    c1 = conv1(f(x)) + nin(f(a))                 # F features
    c1 = dropout(f(c1))
    c2 = conv2(c1) + V h                         # 2F features
    y  = x + c2[..., :F] * sigmoid(c2[..., F:])  # gated residual

with ``f`` = concat_elu ``elu([x, -x])`` (doubles the features; PixelCNN++),
``elu`` (PixelSNAIL's reference runs) or ``relu``.  ``conv`` is a
`DownShiftedConv2D` (2x3, u stream), a `DownRightShiftedConv2D` (2x2, ul
stream) or ``nin`` (a 1x1 convolution, a `Dense` on the feature axis).  The
conditioning term ``V h`` depends on no pixel, so it never breaks causality;
nor does ``nin(f(a))`` when ``a`` is itself causal at each position.

`step` runs the block on one new row or one new pixel for the cached samplers
(`ar_keras.layers.shifted_conv` streaming buffers; no dropout at sampling).

Example:
    >>> block = GatedResNet(conv="down_right_shifted", auxiliary=True)
    >>> y = block(tf.zeros([2, 8, 8, 16]), aux=tf.zeros([2, 8, 8, 16]))   # [2, 8, 8, 16]
"""

import keras
import tensorflow as tf

from ar_keras import checks
from ar_keras.layers.shifted_conv import DownRightShiftedConv2D, DownShiftedConv2D

__all__ = ["GatedResNet", "concat_elu", "get_nonlinearity"]

_CONVS = ("down_shifted", "down_right_shifted", "nin")
_NONLINEARITIES = ("concat_elu", "elu", "relu")


def concat_elu(x):
    """``elu([x, -x])`` on the last axis (Shang et al. 2016's CReLU with ELU): F -> 2F."""
    return tf.nn.elu(tf.concat([x, -x], axis=-1))


def get_nonlinearity(name):
    """The activation named ``name``: concat_elu, elu or relu."""
    checks.check_choice(name, "nonlinearity", _NONLINEARITIES)
    return {"concat_elu": concat_elu, "elu": tf.nn.elu, "relu": tf.nn.relu}[name]


@keras.saving.register_keras_serializable(package="ar_keras")
class GatedResNet(keras.layers.Layer):
    """Gated residual block (PixelCNN++ Fig. 2, "gated_resnet").

    Args:
        conv: ``"down_shifted"`` (2x3), ``"down_right_shifted"`` (2x2) or
            ``"nin"`` (1x1).
        nonlinearity: ``"concat_elu"`` (default), ``"elu"`` or ``"relu"``.
        dropout: dropout rate on ``c1`` during training (PixelCNN++: 0.5 on CIFAR-10).
        auxiliary: the block takes an auxiliary input ``aux`` (any width).
        conditional: the block takes ``conditioning [B, E]`` (class one-hot).

    Call arguments:
        x: ``[B, H, W, F]``.
        aux: ``[B, H, W, A]`` iff ``auxiliary``.
        conditioning: ``[B, E]`` iff ``conditional``.
        training: enables dropout.

    Returns:
        ``[B, H, W, F]``.
    """

    def __init__(
        self,
        conv="down_shifted",
        nonlinearity="concat_elu",
        dropout=0.0,
        auxiliary=False,
        conditional=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        checks.check_choice(conv, "conv", _CONVS)
        checks.check_choice(nonlinearity, "nonlinearity", _NONLINEARITIES)
        checks.check_rate(dropout, "dropout")
        self.conv = conv
        self.nonlinearity = nonlinearity
        self.dropout = float(dropout)
        self.auxiliary = bool(auxiliary)
        self.conditional = bool(conditional)
        self._f = get_nonlinearity(nonlinearity)

    def _make_conv(self, filters, name, initializer):
        kwargs = dict(kernel_initializer=initializer, dtype=self.dtype_policy, name=name)
        if self.conv == "down_shifted":
            return DownShiftedConv2D(filters, (2, 3), **kwargs)
        if self.conv == "down_right_shifted":
            return DownRightShiftedConv2D(filters, (2, 2), **kwargs)
        return keras.layers.Dense(filters, **kwargs)

    def build(self, x_shape, aux_shape=None, conditioning_shape=None):
        features = int(x_shape[-1])
        self.features = features
        widen = 2 if self.nonlinearity == "concat_elu" else 1
        lead = list(x_shape[:-1])
        self.conv1 = self._make_conv(features, "conv1", "glorot_uniform")
        self.conv1.build(lead + [widen * features])
        # PixelCNN++ starts the residual branch small (init_scale 0.1) so that
        # a deep stack begins close to the identity.
        small = keras.initializers.VarianceScaling(0.1, "fan_avg", "uniform")
        self.conv2 = self._make_conv(2 * features, "conv2", small)
        self.conv2.build(lead + [widen * features])
        self.aux_proj = None
        if self.auxiliary:
            self.aux_proj = keras.layers.Dense(features, dtype=self.dtype_policy, name="aux_proj")
            if aux_shape is not None:
                self.aux_proj.build(list(aux_shape[:-1]) + [widen * int(aux_shape[-1])])
        self.cond_proj = None
        if self.conditional:
            self.cond_proj = keras.layers.Dense(
                2 * features, use_bias=False, dtype=self.dtype_policy, name="cond_proj"
            )
            if conditioning_shape is not None:
                self.cond_proj.build(conditioning_shape)
        self.drop = (
            keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="dropout")
            if self.dropout > 0
            else None
        )

    def _check_inputs(self, aux, conditioning):
        if self.auxiliary and aux is None:
            raise ValueError(f"{self.name} was built with auxiliary=True: pass aux=.")
        if not self.auxiliary and aux is not None:
            raise ValueError(f"{self.name} has no auxiliary input (auxiliary=False).")
        if self.conditional and conditioning is None:
            raise ValueError(f"{self.name} is conditional: pass conditioning=[B, E].")

    def _conditioning_bias(self, conditioning):
        bias = self.cond_proj(conditioning)  # [B, 2F]
        return bias[:, None, None, :]  # [B, 2F] -> [B, 1, 1, 2F]

    def _gate(self, x, c2, conditioning):
        if self.conditional:
            c2 = c2 + self._conditioning_bias(conditioning)
        a, b = tf.split(c2, 2, axis=-1)
        return x + a * tf.sigmoid(b)

    def _compute(self, *values):
        """Float inputs (or None) in the compute dtype: `step` is called outside ``__call__``."""
        return [None if v is None else tf.cast(v, self.compute_dtype) for v in values]

    def call(self, x, aux=None, conditioning=None, training=False):
        self._check_inputs(aux, conditioning)
        x, aux = self._compute(x, aux)
        c1 = self.conv1(self._f(x))
        if self.auxiliary:
            c1 = c1 + self.aux_proj(self._f(aux))
        c1 = self._f(c1)
        if self.drop is not None:
            c1 = self.drop(c1, training=training)
        return self._gate(x, self.conv2(c1), conditioning)

    # --------------------------------------------------------------- streaming
    def init_cache(self, batch, width):
        """Row buffers of ``f(x)`` and ``f(c1)`` for a map ``width`` wide (empty for nin)."""
        if self.conv == "nin":
            return {}
        channels = self.conv1.kernel.shape[2]
        return {
            "in": self.conv1.init_buffer(batch, width, channels),
            "mid": self.conv2.init_buffer(batch, width, channels),
        }

    def start_row(self, state):
        """Opens a new (empty) row in pixel-by-pixel mode."""
        if self.conv == "nin":
            return state
        return {"in": self.conv1.start_row(state["in"]), "mid": self.conv2.start_row(state["mid"])}

    def step(self, x, state, column=None, aux=None, conditioning=None):
        """The block on a new row (``column=None``) or on one new pixel of the current row.

        Args:
            x: ``[B, 1, W, F]`` (a row) or ``[B, 1, 1, F]`` (the pixel at ``column``).
            state: from `init_cache` (and `start_row` before a row's first pixel).
            column: int32 scalar, or None for row mode.
            aux, conditioning: as in `call`, for the same positions.

        Returns:
            ``(y, state)``, y shaped like x.  Equals `call` (without dropout) at
            those positions once every position above / to the left went through.
        """
        self._check_inputs(aux, conditioning)
        x, aux = self._compute(x, aux)
        if column is not None and self.conv == "down_shifted":
            raise ValueError(
                "a down-shifted block reads column j + 1 of the current row, which "
                "pixel-by-pixel streaming has not written yet: stream it row by row "
                "(column=None)."
            )
        if self.conv == "nin":
            c1 = self.conv1(self._f(x))
            if self.auxiliary:
                c1 = c1 + self.aux_proj(self._f(aux))
            return self._gate(x, self.conv2(self._f(c1)), conditioning), state
        if column is None:
            buf_in = self.conv1.push_row(state["in"], self._f(x))
            c1 = self.conv1.row_output(buf_in)
        else:
            buf_in = self.conv1.write_column(state["in"], column, self._f(x))
            c1 = self.conv1.position_output(buf_in, column)
        if self.auxiliary:
            c1 = c1 + self.aux_proj(self._f(aux))
        c1 = self._f(c1)
        if column is None:
            buf_mid = self.conv2.push_row(state["mid"], c1)
            c2 = self.conv2.row_output(buf_mid)
        else:
            buf_mid = self.conv2.write_column(state["mid"], column, c1)
            c2 = self.conv2.position_output(buf_mid, column)
        return self._gate(x, c2, conditioning), {"in": buf_in, "mid": buf_mid}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "conv": self.conv,
                "nonlinearity": self.nonlinearity,
                "dropout": self.dropout,
                "auxiliary": self.auxiliary,
                "conditional": self.conditional,
            }
        )
        return config
