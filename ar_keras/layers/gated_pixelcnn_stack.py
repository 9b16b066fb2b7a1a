"""A stack of Gated PixelCNN blocks over an image, with its raster-order streaming.

van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu,
"Conditional Image Generation with PixelCNN Decoders", NIPS 2016 (sec. 2.1-2.3).

``L`` `GatedPixelCNNBlock` layers, the first masked A (the pixel's own channel
hidden) and the later ones masked B, both stacks of layer 0 reading the input
``x [B, H, W, C]``::

    v_0 = h_0 = x
    (v_l, h_l) = block_l(v_{l-1}, h_{l-1}, c)          l = 1 .. L
    output = h_L                                       [B, H, W, F]

The output at pixel ``(i, j)`` channel group ``g`` depends on the pixels before
``(i, j)`` in raster order and on the channels ``< g`` of ``(i, j)`` only.  The
optional conditioning ``c`` biases every gate of every layer (eq. 4 and 5 of the
paper): a vector ``[B, E]`` (a class one-hot, a latent vector) or a map
``[B, H, W, E]`` aligned with the image (a per-position bias).

**Streaming** (exact; ``O(L)`` per element plus ``O(L W)`` once per row).  With
``x`` the partial sample in raster order (the elements not drawn yet may hold
anything), `step` at pixel ``(i, j)`` and channel ``c``:

* at the pixel's first channel of a new row (``j = 0, c = 0, i >= 1``) feeds
  row ``i - 1`` of ``x`` through every vertical stack (each block's vertical
  output row is the next block's vertical input row; `GatedPixelCNNBlock.step_row`);
* hands row ``i`` of ``x`` to the first block whole (its earlier pixels were
  completed after their own steps; `GatedPixelCNNBlock.set_horizontal_row`);
* feeds pixel ``(i, j)`` through every horizontal stack
  (`GatedPixelCNNBlock.step`) and returns ``h_L`` there.

The cache is ``{"block_<l>": that block's cache}``.

Example:
    >>> import tensorflow as tf
    >>> from ar_keras.layers import GatedPixelCNNStack
    >>> stack = GatedPixelCNNStack(filters=8, num_layers=3, kernel_size=3, data_channels=1)
    >>> x = tf.random.normal([2, 4, 5, 1])
    >>> stack(x).shape                                        # h_L
    TensorShape([2, 4, 5, 8])
    >>> cache = stack.init_cache(2, width=5)
    >>> h, cache = stack.step(x, cache, row=0, column=0)      # h_L at pixel (0, 0)
    >>> h.shape
    TensorShape([2, 1, 1, 8])
"""

import keras
import tensorflow as tf

from ar_keras.layers.gated_pixelcnn_block import GatedPixelCNNBlock

__all__ = ["GatedPixelCNNStack"]


@keras.saving.register_keras_serializable(package="ar_keras")
class GatedPixelCNNStack(keras.layers.Layer):
    """``num_layers`` Gated PixelCNN blocks over an image, its full pass and its streaming.

    Args:
        filters: F, features of each block's vertical and horizontal stacks
            (at least ``data_channels``).
        num_layers: L >= 1, the blocks.
        kernel_size: k (odd) of the blocks after the first.
        first_kernel_size: k (odd) of the first block; ``kernel_size`` when None.
        data_channels: C, the R -> G -> B channel groups of the input.
        conditional: every gate takes a learned projection of ``conditioning``.

    Call arguments:
        inputs: ``[B, H, W, C_in]`` float, the image (scaled).
        conditioning: required iff ``conditional``: ``[B, E]`` or a map
            ``[B, H, W, E]``.

    Returns:
        ``h_L [B, H, W, F]``, the last block's horizontal stack.
    """

    def __init__(
        self,
        filters,
        num_layers,
        kernel_size,
        first_kernel_size=None,
        data_channels=1,
        conditional=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.num_layers = int(num_layers)
        self.kernel_size = int(kernel_size)
        self.first_kernel_size = self.kernel_size if first_kernel_size is None else int(first_kernel_size)
        self.data_channels = int(data_channels)
        self.conditional = bool(conditional)
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
        if self.data_channels < 1 or self.filters < self.data_channels:
            raise ValueError(
                f"filters ({filters}) must be at least data_channels ({data_channels}) and "
                "data_channels at least 1: every channel group needs features of its own."
            )
        self.blocks = [
            GatedPixelCNNBlock(
                self.filters,
                self.first_kernel_size if i == 0 else self.kernel_size,
                data_channels=self.data_channels,
                first=(i == 0),
                vertical_output=(i < self.num_layers - 1),
                conditional=self.conditional,
                dtype=self.dtype_policy,
                name=f"block_{i}",
            )
            for i in range(self.num_layers)
        ]

    def build(self, inputs_shape, conditioning_shape=None):
        hidden = (inputs_shape[0], inputs_shape[1], inputs_shape[2], self.filters)  # [B, H, W, F]
        for i, block in enumerate(self.blocks):
            shape = inputs_shape if i == 0 else hidden
            block.build(shape, shape, conditioning_shape)

    def _conditioning(self, conditioning):
        if conditioning is None:
            if self.conditional:
                raise ValueError(
                    f"{self.name} is conditional: pass conditioning=[B, E] or a map [B, H, W, E]."
                )
            return None
        if not self.conditional:
            raise ValueError(f"{self.name} is unconditional (conditional=False): pass no conditioning.")
        conditioning = tf.convert_to_tensor(conditioning)
        if conditioning.shape.rank not in (2, 4):
            raise ValueError(
                "conditioning must be [B, E] (a vector) or a map [B, H, W, E], "
                f"got shape {conditioning.shape.as_list()}."
            )
        if conditioning.dtype.is_floating:
            conditioning = tf.cast(conditioning, self.compute_dtype)
        return conditioning

    def call(self, inputs, conditioning=None):
        cond = self._conditioning(conditioning)
        v = h = tf.cast(inputs, self.compute_dtype)  # [B, H, W, C_in]
        for block in self.blocks:
            v, h = block(v, h, conditioning=cond)
        return h  # [B, H, W, F]

    # ------------------------------------------------------------- streaming
    def init_cache(self, batch, width, dtype=None):
        """Every block's state before pixel ``(0, 0)`` of ``batch`` images ``width`` wide.

        The stack must be built (called once, or `build`).  Returns
        ``{"block_<l>": GatedPixelCNNBlock.init_cache}``.
        """
        if not self.built:
            raise ValueError(f"{self.name}: build or call the stack before init_cache.")
        return {block.name: block.init_cache(batch, width, dtype) for block in self.blocks}

    @staticmethod
    def _at(cond, row, column=None):
        """The conditioning of one row (``column`` None) or one pixel of a map; a vector as is."""
        if cond is None or cond.shape.rank == 2:
            return cond
        cond = tf.gather(cond, tf.reshape(row, [1]), axis=1)  # [B, 1, W, E]
        if column is not None:
            cond = tf.gather(cond, tf.reshape(column, [1]), axis=2)  # [B, 1, 1, E]
        return cond

    def enter_row(self, inputs, cache, row, conditioning=None):
        """Row ``row - 1`` of ``inputs`` through every vertical stack, at the start of row ``row >= 1``.

        Args:
            inputs: ``[B, H, W, C_in]``, the partial input (rows ``< row`` complete).
            cache: from `init_cache` or the last step.
            row: scalar int ``i >= 1``.
            conditioning: as in `call` (a map is read at row ``i - 1``).

        Returns:
            The cache, each block's ``"v_to_h"`` now that of row ``i``.
        """
        cond = self._at(self._conditioning(conditioning), row - 1)
        x = tf.gather(
            tf.cast(inputs, self.compute_dtype), tf.reshape(row - 1, [1]), axis=1
        )  # [B, 1, W, C_in]
        cache = dict(cache)
        for block in self.blocks:
            x, cache[block.name] = block.step_row(x, cache[block.name], cond)
        return cache

    def step(self, inputs, cache, row, column, channel=0, conditioning=None):
        """``h_L`` at pixel ``(row, column)`` given the input drawn so far.

        Args:
            inputs: ``[B, H, W, C_in]``, the partial input in raster order: the
                pixels before ``(row, column)`` complete, the pixel's channels
                ``< channel`` drawn (the others, and later pixels, may hold
                anything: the masks hide them).
            cache: from `init_cache` or the last step.
            row, column: scalar ints, the pixel.
            channel: scalar int, the pixel's channel drawn at this step; the
                row is entered (`enter_row`) at the first channel of its first
                pixel.  A step per pixel (every channel at once) passes 0.
            conditioning: as in `call` (a map is read at the pixel).

        Returns:
            ``(h_L [B, 1, 1, F], cache)``; equal to ``call(inputs)`` at the pixel.
        """
        cond = self._conditioning(conditioning)
        x = tf.cast(inputs, self.compute_dtype)  # [B, H, W, C_in]
        new_row = tf.logical_and(tf.logical_and(tf.equal(column, 0), tf.equal(channel, 0)), row > 0)
        cache = tf.cond(new_row, lambda: self.enter_row(x, cache, row, cond), lambda: dict(cache))
        # The first block gets the current input row whole: its earlier pixels were
        # completed after their own steps (the later channels of each pixel).
        x_row = tf.gather(x, tf.reshape(row, [1]), axis=1)  # [B, 1, W, C_in]
        first = self.blocks[0]
        cache[first.name] = first.set_horizontal_row(x_row, cache[first.name])
        h = tf.gather(x_row, tf.reshape(column, [1]), axis=2)  # [B, 1, 1, C_in]
        pixel_cond = self._at(cond, row, column)
        for block in self.blocks:
            h, cache[block.name] = block.step(h, cache[block.name], column, pixel_cond)
        return h, cache

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "num_layers": self.num_layers,
                "kernel_size": self.kernel_size,
                "first_kernel_size": self.first_kernel_size,
                "data_channels": self.data_channels,
                "conditional": self.conditional,
            }
        )
        return config
