"""The WaveNet residual block: dilated causal conv, gated unit, residual and skip outputs.

van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio",
sec. 2.3-2.5 and Fig. 4.  With ``x [B, T, R]`` the block input (residual
channels R), ``h`` a global conditioning id and ``y [B, T, E]`` a local
conditioning sequence already at the audio rate::

    a = W_{f,g} *_d x  +  V_{f,g}[h]  +  U_{f,g} y             [B, T, 2G]   (eq. 2, 3)
    z = tanh(a_f) * sigmoid(a_g)                                [B, T, G]
    skip     = W_s z + b_s                                      [B, T, S]
    residual = x + W_r z + b_r                                  [B, T, R]

``*_d`` is the dilated causal convolution (`CausalConv1D`), ``V[h]`` a
learned per-class bias (the paper's ``V^T h`` with ``h`` one-hot: an
embedding), ``U`` a 1x1 convolution.  Neither conditioning term reads any
audio sample, so the block stays causal.  The last block of a network has no
one to pass its residual to: build it with ``residual_output=False`` (else
``W_r`` would never get a gradient).

**Streaming** (Paine et al. 2016): `step` maps ``x_t [B, R]`` and the
convolution's queue to ``(residual_t, skip_t, queue)``; everything but the
convolution is pointwise in time, so the block's whole state is that queue.

Example:
    >>> import tensorflow as tf
    >>> from ar_keras.layers import WaveNetBlock
    >>> block = WaveNetBlock(residual_channels=16, gate_channels=16, skip_channels=32,
    ...                      dilation_rate=8)
    >>> residual, skip = block(tf.random.normal([2, 100, 16]))    # [2, 100, 16], [2, 100, 32]
    >>> queue = block.init_cache(2)                                # [2, 8, 16]
    >>> r_t, s_t, queue = block.step(tf.random.normal([2, 16]), queue)
"""

import keras
import tensorflow as tf

from ar_keras.layers.causal_conv1d import CausalConv1D
from ar_keras.layers.gated import GatedActivation

__all__ = ["WaveNetBlock"]


@keras.saving.register_keras_serializable(package="ar_keras")
class WaveNetBlock(keras.layers.Layer):
    """Gated residual block with skip output and optional global / local conditioning.

    Args:
        residual_channels: R, channels of the block's input and residual output.
        gate_channels: G, channels of ``z`` (the convolution makes ``2G``).
        skip_channels: S, channels of the skip output.
        kernel_size: taps of the dilated convolution (2 in the paper's figures).
        dilation_rate: d.
        residual_output: compute the residual output (False in the last block).
        num_classes: global conditioning on an id in ``[0, num_classes)``, or None.
        local_channels: E, channels of the (upsampled) local conditioning, or None.

    Call arguments:
        inputs: ``[B, T, R]``.
        global_ids: int ``[B]``, required iff ``num_classes``.
        local: ``[B, T, E]``, required iff ``local_channels``.

    Returns:
        ``(residual [B, T, R] or None, skip [B, T, S])``.
    """

    def __init__(
        self,
        residual_channels,
        gate_channels,
        skip_channels,
        kernel_size=2,
        dilation_rate=1,
        residual_output=True,
        num_classes=None,
        local_channels=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.residual_channels = int(residual_channels)
        self.gate_channels = int(gate_channels)
        self.skip_channels = int(skip_channels)
        self.kernel_size = int(kernel_size)
        self.dilation_rate = int(dilation_rate)
        self.residual_output = bool(residual_output)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.local_channels = None if local_channels is None else int(local_channels)
        G, policy = self.gate_channels, self.dtype_policy
        self.conv = CausalConv1D(
            2 * G, self.kernel_size, self.dilation_rate, dtype=policy, name="dilated_conv"
        )
        self.gate = GatedActivation(dtype=policy, name="gate")
        self.skip = keras.layers.Dense(self.skip_channels, dtype=policy, name="skip")
        self.residual = (
            keras.layers.Dense(self.residual_channels, dtype=policy, name="residual")
            if self.residual_output
            else None
        )
        self.global_bias = (
            keras.layers.Embedding(self.num_classes, 2 * G, dtype=policy, name="global_bias")
            if self.num_classes
            else None
        )
        self.local_projection = (
            keras.layers.Dense(2 * G, use_bias=False, dtype=policy, name="local_projection")
            if self.local_channels
            else None
        )

    def build(self, inputs_shape, global_ids_shape=None, local_shape=None):
        R, G = self.residual_channels, self.gate_channels
        self.conv.build((None, None, R))
        self.skip.build((None, G))
        if self.residual is not None:
            self.residual.build((None, G))
        if self.global_bias is not None:
            self.global_bias.build((None,))
        if self.local_projection is not None:
            self.local_projection.build((None, self.local_channels))

    @property
    def queue_length(self):
        return self.conv.queue_length

    def init_cache(self, batch, dtype=None):
        """Zeros ``[batch, d (k-1), R]``: the state before the first step."""
        return self.conv.init_cache(batch, self.residual_channels, dtype)

    def _conditioning(self, global_ids, local):
        """The conditioning bias (``[B, 2G]`` or ``[B, T, 2G]``), or None."""
        bias = None
        if self.global_bias is not None:
            if global_ids is None:
                raise ValueError(f"{self.name} is globally conditioned: pass global_ids [B].")
            bias = self.global_bias(global_ids)  # [B, 2G]
        if self.local_projection is not None:
            if local is None:
                raise ValueError(f"{self.name} is locally conditioned: pass local [B, T, E].")
            projected = self.local_projection(local)  # [B, (T,) 2G]
            if bias is not None and projected.shape.rank == 3:
                bias = bias[:, None, :]  # [B, 2G] -> [B, 1, 2G]
            bias = projected if bias is None else projected + bias
        return bias

    def _finish(self, x, a, bias):
        if bias is not None:
            if a.shape.rank == 3 and bias.shape.rank == 2:
                bias = bias[:, None, :]  # [B, 2G] -> [B, 1, 2G]
            a = a + bias
        z = self.gate(a)  # [.., G]
        skip = self.skip(z)  # [.., S]
        residual = x + self.residual(z) if self.residual is not None else None
        return residual, skip

    def call(self, inputs, global_ids=None, local=None):
        inputs = tf.cast(inputs, self.compute_dtype)
        a = self.conv(inputs)  # [B, T, 2G]
        return self._finish(inputs, a, self._conditioning(global_ids, local))

    def step(self, x_t, queue, global_ids=None, local_t=None):
        """One time step: ``x_t [B, R]``, ``local_t [B, E]`` -> ``(residual_t, skip_t, queue)``."""
        x_t = tf.cast(x_t, self.compute_dtype)
        a, queue = self.conv.step(x_t, queue)  # [B, 2G]
        residual, skip = self._finish(x_t, a, self._conditioning(global_ids, local_t))
        return residual, skip, queue

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "residual_channels": self.residual_channels,
                "gate_channels": self.gate_channels,
                "skip_channels": self.skip_channels,
                "kernel_size": self.kernel_size,
                "dilation_rate": self.dilation_rate,
                "residual_output": self.residual_output,
                "num_classes": self.num_classes,
                "local_channels": self.local_channels,
            }
        )
        return config
