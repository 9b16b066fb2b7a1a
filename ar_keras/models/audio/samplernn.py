"""SampleRNN: a hierarchy of frame-level GRUs over a sample-level MLP.

Mehri, Kumar, Gulrajani, Kumar, Jain, Sotelo, Courville & Bengio, "SampleRNN:
An Unconditional End-to-End Neural Audio Generation Model", ICLR 2017.  Facts
from the paper and its official code (soroushmehr/sampleRNN_ICLR2017: the
upsampling by per-position linear maps, the sliding window of the sample-level
MLP, the learned initial states, frames scaled to [-2, 2]); the code is new.

Audio ``x [B, T]`` is a sequence of ints in ``[0, K)`` (the dataset quantises:
the embedded ``speech`` gives 256 mu-law codes) and::

    p(x) = prod_t softmax(MLP(E[x_{t-F}], ..., E[x_{t-1}], c_t))[x_t]

**Tiers.**  ``frame_sizes = (F_1, ..., F_k)``, top tier first, are the frame
sizes *in samples* of the k frame-level tiers (the paper's FS^(k)); each must
divide the one above (ratios ``r_i = F_i / F_{i+1} >= 2``).  The top frame is
``F_1`` samples; the sample-level MLP reads the last ``F_k`` samples.  So
``frame_sizes=(16,)`` is the paper's best 2-tier model (a frame tier of 16
samples over the MLP) and ``frame_sizes=(8, 2)`` its 3-tier one (8-sample
frames, upsampled x4 to 2-sample frames, upsampled x2 to samples); the top
frame is 8 samples, ``r_1 r_2 = 8/2 x 2/1``, as the official ``BIG_FRAME_SIZE
8, FRAME_SIZE 2``.

**Alignment** (every sample is predicted; the first frames see a pad frame).
Write ``x_j`` for ``j < 0`` as *pad*: amplitude 0 in the frame tiers, a learned
pad embedding (index K) in the MLP.  Frame ``m`` of tier i covers samples
``m F_i .. (m+1) F_i - 1``; at that frame the tier::

    input_i[m] = A (amp(x_{(m-1) F_i}), ..., amp(x_{m F_i - 1}))     the PREVIOUS frame
                 + u_{i-1}[m]                                       (tiers below the top)
                 + V[label]                                         (top tier, num_classes)
    h_i[m]     = GRU_i(input_i[m], h_i[m-1]),   h_i[-1] = learned h0_i
    u_i[m r_i + p] = (L_i h_i[m])[p]       p = 0 .. r_i - 1         learned upsampling: a
                                                                      linear map to r_i vectors

and the sample-level MLP for ``x_t`` (``m = floor(t / F_k)``, ``p = t mod F_k``)::

    a_t  = sum_{j=1..F_k} W_j E[x_{t-j}] + u_k[t]      (the sliding window of the previous
                                                         F_k samples: a 1-D conv, no bias)
    logits_t = W_3 relu(W_2 relu(W_1 a_t + b_1) + b_2) + b_3            [K]

so the conditional of ``x_t`` sees the samples before its own top frame through
the top GRU (frame j of the top tier sees ``x_{(j-1)F_1} .. x_{jF_1-1}``, frame
0 the pad frame and ``h0``), those before its tier-i frame through tier i, and
exactly ``x_{t-F_k} .. x_{t-1}`` through the window: never ``x_t`` or later,
always ``x_{t-1}``.  This is the official alignment (target ``B + i``'s window
``seq[B-F+i : B+i]``, the top frame's input ``seq[:, :-B]``) with one pad frame
of ``B = F_1`` samples in front, so that the first ``B`` samples are scored
too.  ``amp`` maps a level to an amplitude in ``[-2, 2]`` as the official code
scales its frames: ``quantization="linear"`` (``4 x / (K - 1) - 2``, the
paper's 256 linear levels) or ``"mu_law"`` (``2 mu_law_decode(x)``, the
embedded speech); the MLP embeds the level itself either way.

**Any length T.**  `log_prob` and `sample` take any ``T >= 1``: the network pads
the sequence on the right to a multiple of the top frame and drops what the
padding scored (causal, so it cannot change the first T conditionals).  Only
the chunked paths need whole top frames: a chunk length shorter than the top
frame, or not a multiple of it, is a ValueError.

**Quantisation.**  The dataset supplies the levels; the model only needs K
(``num_levels``) and how to read a level as an amplitude (``quantization``).
`decode` inverts it for listening; note that ``python -m train``'s
`SampleLogger` writes WAVs through `mu_law_decode`, right for the embedded
speech (mu-law), not for a ``quantization="linear"`` model.

**Truncated BPTT and chunked scoring.**  ``state = init_state(B)`` is the
learned ``h0`` of every GRU and a pad frame of history;
``forward_chunk(x, state) -> (logits, state)`` scores a chunk whose length is a
multiple of the top frame, carrying the GRU states and the last ``F_1``
samples, so `chunked_conditional_log_probs` (any chunk length that is a
multiple of the top frame) equals the one-shot `conditional_log_probs`.
`fit_tbptt` trains that way (gradients stop at chunk boundaries, one optimiser
step per chunk, the states carried; the paper's recipe: reset per clip).
Plain `fit` (what ``python -m train`` runs) is full BPTT over each example.

**Sampling.**  ``sample(cache=False)`` reruns the network on the whole prefix
every step.  The cache (``init_cache`` / ``step``) holds every tier's GRU
states and its upsampled outputs ``u_i`` for the current frame; at sample t,
each tier with ``t mod F_i == 0`` takes one GRU step (top first), and the MLP
reads the last ``F_k`` samples from the partial sample: O(1) work per sample
(a top-tier GRU step every ``F_1`` samples).  Both paths draw the same noise, so
they give the same samples.

Example:
    >>> import ar_keras as ark, keras
    >>> model = ark.models.get("samplernn", preset="speech")     # 3 tiers, frames (16, 4)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> # model.fit(ark.data.load("speech", "train").batch(8), epochs=20)
    >>> # model.fit_tbptt(ark.data.as_numpy("speech", "train"), chunk_length=1024, epochs=20)
    >>> audio = model.sample(1, length=1600, seed=0)               # mu-law codes, 0.1 s at 16 kHz
    >>> audio.shape
    TensorShape([1, 1600])
    >>> wave = model.decode(audio)                                 # floats in [-1, 1]
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import AutoregressiveModel, SequenceEvent
from ar_keras.data.mu_law import mu_law_decode
from ar_keras.distributions import Categorical
from ar_keras.layers.learned_state_gru import LearnedStateGRU
from ar_keras.models.audio.samplernn_chunks import ChunkedTraining
from ar_keras.models.registry import register

__all__ = ["SampleRNN", "QUANTIZATIONS"]

QUANTIZATIONS = ("linear", "mu_law")


def check_frame_sizes(frame_sizes):
    """``frame_sizes`` -> a tuple of ints, each dividing the one before, strictly smaller."""
    sizes = tuple(np.atleast_1d(frame_sizes).tolist()) if frame_sizes is not None else ()
    if not sizes or any(isinstance(f, bool) or int(f) != f or f < 1 for f in sizes):
        raise ValueError(
            f"frame_sizes must be a non-empty list of positive integers (frame "
            f"sizes in samples, top tier first), got {frame_sizes!r}."
        )
    sizes = tuple(int(f) for f in sizes)
    for above, below in zip(sizes, sizes[1:]):
        if below >= above or above % below:
            raise ValueError(
                f"frame_sizes must each divide the frame size above and be "
                f"smaller (upsampling ratio >= 2): {below} does not divide {above} "
                f"in {sizes}."
            )
    return sizes


@register("samplernn")
class SampleRNN(ChunkedTraining, AutoregressiveModel):
    """SampleRNN over quantised audio, 2 or more tiers (module docstring).

    Args:
        num_levels: K, quantisation levels of the data (256 in the paper).
        frame_sizes: frame sizes in samples of the frame tiers, top first;
            ``(16,)`` is 2-tier, ``(8, 2)`` 3-tier (top frame 8).
        hidden_dim: H, the GRU width of every frame tier (1024 in the paper; the
            official code's ``DIM``).
        num_layers: stacked GRUs per frame tier (1 for the paper's 3-tier).
        embedding_dim: E, the sample-level embedding (256 in the paper).
        intermediate_dim: width of the sample-level MLP, of its window and of the
            lowest tier's upsampled vectors (default ``hidden_dim``).
        quantization: ``"linear"`` or ``"mu_law"``: how a level maps to the
            amplitude the frame tiers read (and `decode`).
        sample_rate: Hz (metadata for WAV files; the maths does not use it).

    Call arguments:
        inputs: ``x`` or ``(x, labels)``; returns ``[B, 2]`` (log p(x) twice).
    """

    event_class = SequenceEvent
    #: tf.scan over frames does not convert to TFLite's builtin ops (TensorArrays with a
    #: dynamic batch); the SavedModel carries every signature.
    supports_tflite = False

    def __init__(
        self,
        num_levels=256,
        frame_sizes=(16,),
        hidden_dim=256,
        num_layers=1,
        embedding_dim=64,
        intermediate_dim=None,
        quantization="mu_law",
        sample_rate=16000,
        num_classes=None,
        **kwargs,
    ):
        super().__init__(num_classes=num_classes, event=SequenceEvent(num_levels, sample_rate), **kwargs)
        self.frame_sizes = check_frame_sizes(frame_sizes)
        self.hidden_dim = checks.check_positive_int(hidden_dim, "hidden_dim")
        self.num_layers = checks.check_positive_int(num_layers, "num_layers")
        self.embedding_dim = checks.check_positive_int(embedding_dim, "embedding_dim")
        self.intermediate_dim = checks.check_positive_int(intermediate_dim or hidden_dim, "intermediate_dim")
        self.sample_rate = self.event.sample_rate
        checks.check_choice(quantization, "quantization", QUANTIZATIONS)
        self.quantization = quantization
        K = self.num_levels
        self.head = Categorical(K)
        # Amplitudes of the levels, and 0 for the pad index K: [K + 1].
        if quantization == "linear":
            amp = 4.0 * np.arange(K) / (K - 1) - 2.0
        else:
            amp = 2.0 * mu_law_decode(np.arange(K), K, tf.float64).numpy()
        self._amplitudes = np.concatenate([amp, [0.0]]).astype(np.float32)

        F, H = self.frame_sizes, self.hidden_dim
        self.frame_inputs, self.grus, self.upsamplers = [], [], []
        for i in range(len(F)):
            ratio = F[i] // F[i + 1] if i + 1 < len(F) else F[i]
            width = H if i + 1 < len(F) else self.intermediate_dim
            self.frame_inputs.append(keras.layers.Dense(H, name=f"tier{i}_input"))
            grus = [LearnedStateGRU(H, name=f"tier{i}_gru{j}") for j in range(self.num_layers)]
            for gru in grus:
                gru.build((None, None, H))  # init_state reads h0 before any call
            self.grus.append(grus)
            self.upsamplers.append(keras.layers.Dense(ratio * width, name=f"tier{i}_upsample"))
        self.label_embedding = (
            None
            if self.num_classes is None
            else keras.layers.Embedding(self.num_classes, H, name="label_embedding")
        )
        # Index K is the pad before the first sample.
        self.embedding = keras.layers.Embedding(K + 1, self.embedding_dim, name="embedding")
        self.window = keras.layers.Conv1D(self.intermediate_dim, F[-1], use_bias=False, name="window")
        self.mlp_1 = keras.layers.Dense(self.intermediate_dim, name="mlp_1")
        self.mlp_2 = keras.layers.Dense(self.intermediate_dim, name="mlp_2")
        self.mlp_out = keras.layers.Dense(K, name="mlp_out")
        self.example_length = F[0]
        self._finish_init()

    # ----------------------------------------------------------------- structure
    @property
    def top_frame(self):
        """``F_1``: samples per top-tier frame (the chunk lengths must be multiples of it)."""
        return self.frame_sizes[0]

    @property
    def num_tiers(self):
        """Frame tiers + the sample-level MLP."""
        return len(self.frame_sizes) + 1

    @property
    def ratios(self):
        """``r_i``: samples (tier-below frames) per frame of tier i."""
        F = self.frame_sizes
        return [F[i] // F[i + 1] for i in range(len(F) - 1)] + [F[-1]]

    def decode(self, codes):
        """Levels ``[..]`` -> amplitudes in ``[-1, 1]`` (the inverse of the quantisation)."""
        codes = tf.convert_to_tensor(codes)
        if self.quantization == "mu_law":
            return mu_law_decode(codes, self.num_levels)
        return 2.0 * tf.cast(codes, tf.float32) / (self.num_levels - 1) - 1.0

    # ------------------------------------------------------------------- helpers
    def _pad_index(self, x):
        """Levels with -1 for pad -> embedding indices (pad = K)."""
        return tf.where(x < 0, self.num_levels, x)

    def _amplitude(self, x):
        """Levels with -1 for pad -> amplitudes in [-2, 2] (pad 0)."""
        return tf.gather(tf.constant(self._amplitudes), self._pad_index(x))

    def _labels(self, conditional):
        if self.label_embedding is None or conditional is None:
            return None
        return self.label_embedding(conditional)  # [B, H]

    def _mlp(self, a):
        """``a [.., intermediate_dim]`` (window + conditioning) -> logits ``[.., K]``."""
        # relu as max(x, 0): see wavenet.py (grappler fusing MatMul + BiasAdd + Relu in loops).
        h = tf.maximum(self.mlp_1(a), 0.0)
        h = tf.maximum(self.mlp_2(h), 0.0)
        return self.mlp_out(h)

    def _tier_step(self, i, frame, upper, states, label):
        """Tier i on one frame: ``frame [n, F_i]`` amplitudes, ``upper [n, H]`` or None ->
        (upsampled ``[n, r_i, width]``, new states)."""
        h = self.frame_inputs[i](frame)  # [n, H]
        if upper is not None:
            h = h + upper
        if i == 0 and label is not None:
            h = h + label
        new_states = []
        for gru, state in zip(self.grus[i], states):
            h = gru.step(h, state)
            new_states.append(h)
        up = self.upsamplers[i](h)  # [n, r_i width]
        r = self.ratios[i]
        return tf.reshape(up, [tf.shape(up)[0], r, up.shape[-1] // r]), new_states  # -> [n, r_i, width]

    # ------------------------------------------------------------------- network
    def init_state(self, batch):
        """The state before the first chunk: learned ``h0`` of every GRU, a pad history.

        ``{"states": [[h [batch, H] per GRU] per tier], "history": int32 [batch, F_1]}``
        (-1 = pad).
        """
        return {
            "states": [[gru.init_cache(batch) for gru in grus] for grus in self.grus],
            "history": tf.fill(tf.stack([batch, self.top_frame]), -1),
        }

    def forward_chunk(self, x, state, conditional=None, training=False):
        """Logits of a chunk, carrying the state (truncated BPTT / chunked scoring).

        Args:
            x: int32 ``[B, L]``, L a multiple of the top frame (not checked here:
                `chunked_conditional_log_probs` and `fit_tbptt` check it).
            state: `init_state` or the state a previous chunk returned.
            conditional: checked labels ``[B]`` or None.

        Returns:
            ``(logits [B, L, K], state after the chunk)``.
        """
        del training
        B = self.top_frame
        batch, L = tf.shape(x)[0], tf.shape(x)[1]
        xe = tf.concat([state["history"], x], axis=1)  # [b, F_1 + L]
        label = self._labels(conditional)
        upper, new_states = None, []
        for i, f in enumerate(self.frame_sizes):
            prev = xe[:, B - f : B - f + L]  # x_{t-f}, t = 0..L-1
            frames = tf.reshape(self._amplitude(prev), [batch, L // f, f])  # [b, L] -> [b, L/f, f]
            h = self.frame_inputs[i](frames)  # [b, L/f, H]
            if upper is not None:
                h = h + upper
            if i == 0 and label is not None:
                h = h + label[:, None]
            tier_states = []
            for gru, s in zip(self.grus[i], state["states"][i]):
                h, last = gru(h, s)  # [b, L/f, H]
                tier_states.append(last)
            new_states.append(tier_states)
            up = self.upsamplers[i](h)  # [b, L/f, r_i width]
            upper = tf.reshape(up, [batch, -1, up.shape[-1] // self.ratios[i]])  # -> [b, L/f r_i, width]
        F = self.frame_sizes[-1]
        tokens = self._pad_index(xe[:, B - F : B + L - 1])  # x_{t-F} .. x_{L-2}
        window = self.window(self.embedding(tokens))  # [b, L + F - 1, E] -> [b, L, mlp]
        logits = self._mlp(window + upper)  # [b, L, K]
        return logits, {"states": new_states, "history": xe[:, L:]}

    def network(self, x, conditional=None, training=False):
        """``x [B, T]`` (any T) -> logits ``[B, T, K]``; row t sees ``x_0 .. x_{t-1}``."""
        B = self.top_frame
        T = tf.shape(x)[1]
        padded = -(-T // B) * B
        x_pad = tf.pad(x, [[0, 0], [0, padded - T]])  # [B, T] -> [B, T']
        logits, _ = self.forward_chunk(x_pad, self.init_state(tf.shape(x)[0]), conditional, training)
        return logits[:, :T]  # [B, T', K] -> [B, T, K]

    # ----------------------------------------------------- cache (fast generation)
    def init_cache(self, batch, conditional=None):
        widths = [self.hidden_dim] * (len(self.frame_sizes) - 1) + [self.intermediate_dim]
        return {
            "states": [[gru.init_cache(batch) for gru in grus] for grus in self.grus],
            "upsampled": [
                tf.zeros(tf.stack([batch, r, w]), self.compute_dtype) for r, w in zip(self.ratios, widths)
            ],
        }

    @staticmethod
    def _window_at(x, index, size):
        """``x_{t-size} .. x_{t-1}`` of the partial sample ``x [n, T]`` at t = index, -1 for
        t < 0: ``[n, size]``."""
        positions = index - size + tf.range(size)  # [size]
        values = tf.gather(x, tf.maximum(positions, 0), axis=1)  # [n, size]
        return tf.where(positions[None] >= 0, values, -1)

    def step(self, x, cache, index, conditional=None):
        label = self._labels(conditional)
        states, upsampled = list(cache["states"]), list(cache["upsampled"])
        upper = None
        for i, f in enumerate(self.frame_sizes):
            if i > 0:
                # This tier's frame number within the frame above: (t / F_i) mod r_{i-1}.
                upper = tf.gather(upsampled[i - 1], (index // f) % self.ratios[i - 1], axis=1)

            def run(i=i, f=f, upper=upper):
                frame = self._amplitude(self._window_at(x, index, f))  # [n, F_i]
                return self._tier_step(i, frame, upper, states[i], label)

            def keep(i=i):
                return upsampled[i], states[i]

            upsampled[i], states[i] = tf.cond(tf.equal(index % f, 0), run, keep)
        F = self.frame_sizes[-1]
        window = self.embedding(self._pad_index(self._window_at(x, index, F)))  # [n, F, E]
        a = self.window(window)[:, 0]  # [n, 1, mlp] -> [n, mlp]
        a = a + tf.gather(upsampled[-1], index % F, axis=1)  # [n, mlp]
        return self._mlp(a), {"states": states, "upsampled": upsampled}
