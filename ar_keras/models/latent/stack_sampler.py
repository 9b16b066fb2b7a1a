"""The sampler protocol over a Gated PixelCNN stack: PixelVAE's pixel decoder and latent prior.

`ar_keras.core.sampler.run` draws an autoregressive variable through an object
with ``sampling_groups``, ``element_params``, ``init_cache`` and ``step``.  For a
`GatedPixelCNNStack` (van den Oord et al., "Conditional Image Generation with
PixelCNN Decoders", NIPS 2016) conditioned on a vector or an aligned map, the
full pass is ``output(stack(scale(x), conditioning))`` and a step streams the
stack's blocks (``O(layers)`` per element); both read the same keyed noise and
give the same samples.  PixelVAE (Gulrajani et al., ICLR 2017) uses one over the
pixels (a step per channel) and one over its latent map (a step per position,
the map's channels drawn together).

Example:
    >>> import tensorflow as tf
    >>> from ar_keras.distributions import Categorical
    >>> from ar_keras.layers import GatedPixelCNNStack
    >>> stack = GatedPixelCNNStack(4, 2, 3)
    >>> output = lambda h: tf.reshape(h, [-1, h.shape[1], h.shape[2], 1, 4])  # [B, H, W, F] -> [.., 1, K]
    >>> pixels = GatedStackSampler(stack, output, (3, 3, 1), Categorical(4), tf.identity, per_position=False)
    >>> pixels.element_params(tf.zeros([2, 9])).shape                          # [B, D, K]
    TensorShape([2, 9, 4])
"""

import numpy as np
import tensorflow as tf

from ar_keras.core import sampler

__all__ = ["GatedStackSampler"]


class GatedStackSampler:
    """The sampler protocol (`ar_keras.core.sampler.run`) over a `GatedPixelCNNStack`.

    A plain object made on the fly (Keras tracks the layers through the model,
    not through this).  ``shape = (H, W, C)`` of the autoregressive variable;
    ``per_position``: one sampler step per position drawing its C elements at
    once (the latent map) instead of one per channel (the pixels);
    ``scale(x)`` maps the variable to the stack's input; ``output(h)``
    maps the last horizontal stack to head parameters ``[B, H', W', C, P]``.
    The ``conditional`` of the protocol is the stack's conditioning (a vector
    or a map aligned with the variable).
    """

    def __init__(self, stack, output, shape, head, scale, per_position):
        self.stack, self.output, self.shape = stack, output, tuple(shape)
        self.head, self.scale, self.per_position = head, scale, per_position

    @property
    def num_elements(self):
        return int(np.prod(self.shape))

    def sampling_groups(self, num_elements):
        H, W, C = self.shape
        order = tf.range(num_elements, dtype=tf.int32)
        if self.per_position:
            return tf.reshape(order, [H * W, C])  # [D] -> [HW, C]
        return sampler.raster_groups(order)  # [D] -> [D, 1]

    def network(self, x, cond):
        """``x [B, H, W, C]`` -> head parameters ``[B, H, W, C, P]`` (causal in x)."""
        return self.output(self.stack(self.scale(x), conditioning=cond))

    def element_params(self, x_flat, cond=None):
        H, W, C = self.shape
        x = tf.reshape(x_flat, [-1, H, W, C])  # [B, D] -> [B, H, W, C]
        params = self.network(x, cond)
        return tf.reshape(params, [-1, H * W * C, params.shape[-1]])  # [B, H, W, C, P] -> [B, D, P]

    def init_cache(self, batch, cond=None):
        return self.stack.init_cache(batch, self.shape[1])

    def step(self, x_flat, cache, index, cond=None):
        H, W, C = self.shape
        x = self.scale(tf.reshape(x_flat, [-1, H, W, C]))  # [B, D] -> [B, H, W, C]
        if self.per_position:
            pixel, channel = index, tf.constant(0)
        else:
            pixel, channel = index // C, index % C
        r, c = pixel // W, pixel % W
        h, cache = self.stack.step(x, cache, r, c, channel, conditioning=cond)  # [B, 1, 1, F]
        params = self.output(h)  # [B, 1, 1, C, P]
        params = tf.reshape(params, [-1, C, params.shape[-1]])  # -> [B, C, P]
        if self.per_position:
            return params, cache  # [B, G=C, P]
        return tf.gather(params, channel, axis=1), cache  # [B, P]
