"""Video Pixel Network: a video factorised over time, rows, columns and channels.

Kalchbrenner, van den Oord, Simonyan, Danihelka, Vinyals, Graves &
Kavukcuoglu, "Video Pixel Networks", ICML 2017.

A video ``x [T, H, W, C]`` of levels in ``[0, K)`` is modelled as::

    p(x) = prod_t prod_{i, j} prod_c p(x_{t,i,j,c} | x_{<t}, x_{t,<(i,j)}, x_{t,i,j,<c})

Three parts (paper sec. 3-4):

* a **resolution-preserving encoder** per frame: a 3x3 convolution to 2c
  features, then Residual Multiplicative Blocks (`ResidualMultiplicativeBlock`,
  dilations ``encoder_dilations``: (1, 2, 4, 8) twice in the paper), no
  pooling or stride, so an ``[H, W]`` frame gives ``[H, W, 2c]`` features;
* a **convolutional LSTM** over time (`ar_keras.layers.ConvLSTM`) on the
  encoded frames: ``s_t = ConvLSTM(enc(x_0), ..., enc(x_{t-1}))``, the state
  after the frames *before* t (``s_0`` = zeros);
* a **PixelCNN decoder** per frame: a masked 'A' convolution of frame t, then
  ``num_decoder_blocks`` masked RMBs (mask 'B', R -> G -> B channel groups, no
  dilation), each fed ``s_t`` through a 1x1 convolution added to its input,
  and a masked 1x1 convolution to the head's parameters.

Frame t's conditionals therefore see the earlier frames (through ``s_t``)
and the elements of frame t before them in raster order (through the masks),
nothing else.  Heads (``head``):

* ``"categorical"`` (default): a K-way softmax per element, an exact
  normalised likelihood (the paper's 256-way softmax, robot pushing);
* ``"sigmoid_xent"``: the paper's Moving MNIST score, sigmoid cross-entropy
  on the intensities ``x / (K - 1)`` (`ar_keras.distributions.SigmoidCrossEntropy`);
  not normalised over K > 2 levels; `entropy_lower_bound` gives the paper's
  lower bound (the targets' own entropy, 86.3 nats/frame on Moving MNIST
  against the paper's 87.6).

Context (the conditional)
-------------------------
``conditional`` is the **context frames**, int ``[B, T0, H, W, C]`` with
``1 <= T0 < T``: the first frames of the video, given.

* ``sample(n, conditional=context)`` returns whole videos ``[n, T, H, W, C]``
  whose first T0 frames are the context and whose later frames are drawn
  from ``p(x_{T0:} | context)``; element d still draws the noise keyed
  ``(seed, i, d)``, so the continuation's noise does not depend on T0.
* ``log_prob(x, conditional=context)`` takes the whole video ``x`` (which must
  begin with the context: a `ValueError` otherwise) and returns
  ``log p(x_{T0:} | x_{<T0})``, the sum of the conditionals of frames
  ``>= T0``; `conditional_log_probs` gives 0 on the context frames.
* Without a conditional both concern the whole video.

Training (``fit``) scores whole videos; the exports are unconditional plus
``log_prob_given_context`` / ``sample_given_context`` signatures.

Cached sampling (exact)
-----------------------
The context frames are the sample's prefix (`sampling_prefix`): the shared
sampler keeps them and draws from element ``T0 E`` on; ``fill_cache`` runs the
encoder and ConvLSTM over the context frames but the last; at the first
element of each new frame t the step encodes frame t - 1 (now complete) and
advances the ConvLSTM once; at every element the decoder runs on frame t alone
(the partial frame: the masks hide what is not drawn yet) with ``s_t``. A step
costs one decoder pass over one frame instead of the whole network over T
frames, and gives the parameters of the full pass.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("vpn", preset="digits")          # moving_digits: [8, 16, 16, 1]
    >>> model.compile(optimizer="adam")
    >>> # model.fit(ark.data.load("moving_digits", "train").batch(32), epochs=10)
    >>> context = ark.data.as_numpy("moving_digits", "test")[:2, :6]   # 6 frames given
    >>> videos = model.sample(2, conditional=context, seed=0)
    >>> videos.shape
    TensorShape([2, 8, 16, 16, 1])
    >>> bool((videos[:, :6].numpy() == context).all())                 # the context is kept
    True
    >>> model.log_prob(videos, conditional=context).shape              # nats of frames 6, 7
    TensorShape([2])
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, conditioning, no_autograph
from ar_keras.core import noise as noise_lib
from ar_keras.core.events import VideoEvent
from ar_keras.distributions import Categorical, SigmoidCrossEntropy
from ar_keras.layers import ConvLSTM, MaskedConv2D, ResidualMultiplicativeBlock
from ar_keras.models.registry import register

__all__ = ["VideoPixelNetwork"]

_HEADS = ("categorical", "sigmoid_xent")


@register("vpn")
class VideoPixelNetwork(AutoregressiveModel):
    """Video Pixel Network (Kalchbrenner et al., ICML 2017).

    Args:
        video_shape: ``(T, H, W, C)``, T >= 2.
        num_levels: K; data are ints in ``[0, K)``.
        hidden_dim: c, the paper's c; the encoder, decoder and RMBs carry 2c features.
        encoder_dilations: one encoder RMB per entry, with that dilation.
        num_decoder_blocks: masked RMBs in the decoder.
        lstm_dim: features of the ConvLSTM state.
        kernel_size: k of every spatial convolution (odd).
        head: ``"categorical"`` (K-way softmax) or ``"sigmoid_xent"``.
    """

    event_class = VideoEvent

    def __init__(
        self,
        video_shape=(8, 16, 16, 1),
        num_levels=17,
        hidden_dim=16,
        encoder_dilations=(1, 2, 4, 8),
        num_decoder_blocks=3,
        lstm_dim=32,
        kernel_size=3,
        head="categorical",
        num_classes=None,
        **kwargs,
    ):
        if num_classes is not None:
            raise ValueError(
                "vpn takes no class labels (num_classes must be None): its conditional is the context frames."
            )
        super().__init__(event=VideoEvent(video_shape, num_levels), **kwargs)
        self.conditioning = conditioning.ConditioningSpec(
            [conditioning.ContextFrames(self.video_shape, self.num_levels)], owner="vpn"
        )
        T, H, W, C = self.video_shape
        if T < 2:
            raise ValueError(f"video_shape must have T >= 2 frames, got {tuple(video_shape)}.")
        checks.check_choice(head, "head", _HEADS)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}.")
        if num_decoder_blocks < 1:
            raise ValueError(f"num_decoder_blocks must be >= 1, got {num_decoder_blocks}.")
        if hidden_dim < C:
            raise ValueError(
                f"hidden_dim ({hidden_dim}) must be at least the channel count {C}: the "
                "masked blocks keep one feature group per channel."
            )
        self.hidden_dim = int(hidden_dim)
        self.encoder_dilations = tuple(int(d) for d in encoder_dilations)
        self.num_decoder_blocks = int(num_decoder_blocks)
        self.lstm_dim = int(lstm_dim)
        self.kernel_size = int(kernel_size)
        self.head_name = head
        self.head = (
            Categorical(self.num_levels) if head == "categorical" else SigmoidCrossEntropy(self.num_levels)
        )
        width, k = 2 * self.hidden_dim, self.kernel_size
        # Encoder: resolution preserving ('same' padding, no stride, no pooling).
        self.encoder_in = keras.layers.Conv2D(width, k, padding="same", name="encoder_in")
        self.encoder = [
            ResidualMultiplicativeBlock(self.hidden_dim, k, dilation=d, name=f"encoder_rmb_{i}")
            for i, d in enumerate(self.encoder_dilations)
        ]
        self.lstm = ConvLSTM(self.lstm_dim, k, name="conv_lstm")
        # Decoder: masked over the frame's raster order and R -> G -> B channels.
        self.decoder_in = MaskedConv2D(width, k, mask_type="A", data_channels=C, name="decoder_in")
        self.context_proj = [
            keras.layers.Conv2D(width, 1, name=f"context_{i}") for i in range(self.num_decoder_blocks)
        ]
        self.decoder = [
            ResidualMultiplicativeBlock(
                self.hidden_dim, k, mask_type="B", data_channels=C, name=f"decoder_rmb_{i}"
            )
            for i in range(self.num_decoder_blocks)
        ]
        self.decoder_out = MaskedConv2D(
            C * self.head.num_params, 1, mask_type="B", data_channels=C, name="decoder_out"
        )
        self._finish_init()

    # ------------------------------------------------------------------ facts
    @property
    def video_shape(self):
        """``(T, H, W, C)``."""
        return self.event.shape

    @property
    def frame_size(self):
        """Elements of one frame, ``H * W * C``."""
        return int(np.prod(self.video_shape[1:]))

    @property
    def exact_conditionals(self):
        """The softmax gives exact conditionals; sigmoid cross-entropy only for K = 2."""
        return self.head_name == "categorical" or self.num_levels == 2

    # ------------------------------------------------------------- conditional
    def _check(self, x, conditional, validate_values=True):
        x, c = super()._check(x, conditional, validate_values)
        if c is None or not validate_values:
            return x, c
        message = "x must begin with the context frames given as conditional (x[:, :T0] == conditional)"
        same = tf.reduce_all(tf.equal(x[:, : tf.shape(c)[1]], c))
        if tf.executing_eagerly():
            if not bool(same):
                raise ValueError(message + ".")
            return x, c
        with tf.control_dependencies([tf.debugging.Assert(same, [message])]):
            return tf.identity(x), c

    # ----------------------------------------------------------------- network
    def _scaled(self, x):
        return tf.cast(x, self.compute_dtype) * (2.0 / (self.num_levels - 1)) - 1.0

    def encode(self, frames):
        """Frames ``[N, H, W, C]`` (int levels) -> features ``[N, H, W, 2c]`` (same resolution)."""
        h = self.encoder_in(self._scaled(frames))
        for block in self.encoder:
            h = block(h)
        return h

    def _decode(self, frames, state):
        """Frames ``[N, H, W, C]`` (partial: masked) and ConvLSTM states ``[N, H, W, F]`` -> head
        parameters ``[N, H, W, C, P]``."""
        _, H, W, C = self.video_shape
        h = self.decoder_in(self._scaled(frames))
        for proj, block in zip(self.context_proj, self.decoder):
            h = block(h + proj(state))
        out = self.decoder_out(tf.nn.relu(h))  # [N, H, W, C P]
        return tf.reshape(out, [-1, H, W, C, self.head.num_params])  # -> [N, H, W, C, P]

    @no_autograph
    def network(self, x, conditional=None, training=False):
        """``x [B, T, H, W, C]`` -> params ``[B, T, H, W, C, P]``; context comes through ``x``."""
        del conditional  # x holds the context frames (checked in _check)
        batch = tf.shape(x)[0]
        T, H, W, C = self.video_shape
        F = self.lstm_dim
        # [B, T-1, H, W, C] -> [B (T-1), H, W, C]: the frames before the last, each encoded alone.
        earlier = tf.reshape(x[:, : T - 1], [-1, H, W, C])
        encoded = self.encode(earlier)
        encoded = tf.reshape(encoded, [batch, T - 1, H, W, 2 * self.hidden_dim])  # -> [B, T-1, H, W, 2c]
        states = self.lstm(encoded)  # [B, T-1, H, W, F]: s_1 .. s_{T-1}
        states = tf.concat([tf.zeros_like(states[:, :1]), states], 1)  # s_0 = 0: [B, T, H, W, F]
        params = self._decode(
            tf.reshape(x, [-1, H, W, C]),  # [B, T, H, W, C] -> [B T, H, W, C]
            tf.reshape(states, [-1, H, W, F]),
        )  # [B, T, H, W, F] -> [B T, H, W, F]
        return tf.reshape(params, [batch, T, H, W, C, self.head.num_params])  # -> [B, T, H, W, C, P]

    def _conditional_log_probs(self, x, conditional, training=False):
        lp = self.head.log_prob(self.network(x, training=training), x)  # [B, T, H, W, C]
        if conditional is None:
            return lp
        predicted = tf.range(self.video_shape[0]) >= tf.shape(conditional)[1]  # [T]
        predicted = tf.reshape(predicted, [1, -1, 1, 1, 1])  # [T] -> [1, T, 1, 1, 1]
        return tf.where(predicted, lp, tf.zeros_like(lp))

    # ------------------------------------------------------------- the paper's score
    def predicted_frames(self, conditional=None):
        """Frames scored by `log_prob`: T, or T - T0 with a context of T0 frames."""
        T = self.video_shape[0]
        return T if conditional is None else T - int(np.shape(conditional)[1])

    def nats_per_frame(self, x, conditional=None):
        """``-log_prob(x | context) / predicted frames``: ``[B]`` (the paper's unit)."""
        return -self.log_prob(x, conditional) / float(self.predicted_frames(conditional))

    def entropy_lower_bound(self, x, conditional=None):
        """The paper's lower bound on the sigmoid cross-entropy, ``[B]`` nats per predicted frame.

        ``sum H(z)`` over the predicted frames' elements, ``z = x / (K - 1)``:
        no logit scores better (Gibbs), so ``nats_per_frame(x) >= this``.
        Needs ``head="sigmoid_xent"``.
        """
        if self.head_name != "sigmoid_xent":
            raise ValueError(
                "entropy_lower_bound is the bound of the sigmoid cross-entropy: build "
                "the model with head='sigmoid_xent'."
            )
        x, c = self._check(x, conditional)
        neg_h = self.head.entropy_bound(x)  # [B, T, H, W, C]
        if c is not None:
            neg_h = neg_h[:, c.shape[1] :]
        neg_h = tf.reshape(neg_h, [tf.shape(x)[0], -1])  # [B, t, H, W, C] -> [B, t HWC]
        total = -tf.reduce_sum(neg_h, 1)
        return total / float(self.predicted_frames(conditional))

    # ---------------------------------------------------------------- sampling
    def _advance(self, frame, cache):
        """One completed frame ``[n, H, W, C]`` through the encoder and one ConvLSTM step."""
        _, cache = self.lstm.step(self.encode(frame), cache)
        return cache

    @no_autograph
    def init_cache(self, batch, conditional=None):
        """ConvLSTM state ``{"h", "c"}`` before the first frame (``s_0 = 0``).

        Context frames are a prefix of the sample (`sampling_prefix`); `fill_cache`
        reads them."""
        del conditional  # the context frames come as the sample's prefix
        _, H, W, _ = self.video_shape
        return self.lstm.init_cache(batch, H, W)

    @no_autograph
    def fill_cache(self, x, start, conditional=None):
        """The ConvLSTM state before element ``start`` of ``x [n, D]``: the encoder and one
        ConvLSTM step per frame it has read, frames ``0 .. ceil(start / E) - 2`` (the step at
        the first element of frame t reads frame t - 1 itself)."""
        E = self.frame_size
        cache = self.init_cache(tf.shape(x)[0])
        read = tf.maximum((start + E - 1) // E - 1, 0)  # frames the state has read

        def body(i, cache):
            return [i + 1, self._advance(self._frame(x, i), cache)]

        _, cache = tf.while_loop(lambda i, _: i < read, body, [tf.constant(0), cache])
        return cache

    def _frame(self, x, t):
        """Frame t of the partial sample ``x [n, D]``: ``[n, H, W, C]``."""
        _, H, W, C = self.video_shape
        frames = tf.reshape(x, [-1, self.video_shape[0], H, W, C])  # [n, D] -> [n, T, H, W, C]
        return tf.gather(frames, t, axis=1)

    @no_autograph
    def step(self, x, cache, index, conditional=None):
        """Params ``[n, P]`` of element ``index`` from the partial sample ``x [n, D]``."""
        E = self.frame_size
        t, within = index // E, index % E
        new_frame = tf.logical_and(tf.equal(within, 0), t > 0)
        cache = tf.cond(new_frame, lambda: self._advance(self._frame(x, t - 1), cache), lambda: dict(cache))
        params = self._decode(self._frame(x, t), cache["h"])  # [n, H, W, C, P]
        params = tf.reshape(params, [-1, E, self.head.num_params])  # -> [n, E, P]
        return tf.gather(params, within, axis=1), cache  # [n, P]

    def sampling_prefix(self, num_samples, num_elements, conditional=None):
        """The context frames ``[n, T0, H, W, C]`` as the prefix of the sample: ``([n, D], T0 E)``;
        ``(None, 0)`` without a context."""
        if conditional is None:
            return None, 0
        context = tf.reshape(conditional, [num_samples, -1])  # [n, T0, H, W, C] -> [n, T0 E]
        start = tf.shape(context)[1]
        return tf.pad(context, [[0, 0], [0, num_elements - start]]), start  # -> [n, D]

    # ------------------------------------------------------------------ export
    def export_signatures(self):
        """The base signatures (whole videos) plus ``log_prob_given_context`` (x, context ->
        log_prob of frames >= T0) and ``sample_given_context`` (seeds, temperature, context ->
        whole videos starting with the context)."""
        sigs = super().export_signatures()
        T, H, W, C = self.video_shape
        context_spec = self.conditioning.part("context").tensor_spec()
        seeds_spec = tf.TensorSpec([None], tf.int64, name="seeds")
        t_spec = tf.TensorSpec([], tf.float32, name="temperature")

        def log_prob_given_context(x, context):
            return {"log_prob": self.log_prob(x, context)}

        def sample_given_context(seeds, temperature, context):
            with tf.control_dependencies(
                [
                    tf.debugging.assert_equal(
                        tf.shape(context)[0], tf.size(seeds), message="context must hold one video per seed"
                    )
                ]
            ):
                context = tf.identity(self.check_conditional(context))
            keys = tf.stack([seeds, tf.zeros_like(seeds)], axis=1)  # [n] -> [n, 2]
            noise = noise_lib.KeyedNoise(keys, self.noise_depth)
            t = checks.check_temperature_tensor(temperature)
            return {"samples": self._sample_graph(noise, tf.size(seeds), None, context, t, True)}

        sigs.append(
            ("log_prob_given_context", log_prob_given_context, [self.event.tensor_spec(), context_spec])
        )
        sigs.append(("sample_given_context", sample_given_context, [seeds_spec, t_spec, context_spec]))
        return sigs
