"""Trajectory-RNADE: an RNADE over windows of consecutive acoustic feature frames.

Uria, Murray, Renals, Valentini-Botinhao & Bridle, "Modelling acoustic feature
dependencies with artificial neural networks: Trajectory-RNADE", ICASSP 2015.

**What could be confirmed of the paper** (its text was not available to us, only
its abstract and citations): a probabilistic neural model of *trajectories* of
acoustic feature frames, built on RNADE (Uria, Murray & Larochelle, NIPS 2013),
whose point is to capture the dependencies between acoustic features (across
dimensions and across neighbouring frames) that frame-wise neural acoustic models
ignore, conditioned on linguistic context.  **Everything below is our choice**
(the window size, the ordering, the factorisation of a whole trajectory, the
context mechanism, the preset sizes), not a quoted configuration.

**The window density.**  One RNADE (weight-shared NADE hidden layer, a mixture of
C Gaussians per conditional) over a window of W consecutive frames of F features,
flattened frame-major to ``D_w = W F`` dimensions and autoregressive in that
order (frame 0's features 0..F-1, then frame 1's, ...)::

    y = [x_{s}, x_{s+1}, ..., x_{s+W-1}]               (a window, [W, F] -> [W F])
    a_1 = c + sum_k E_k[context_k],  a_{d+1} = a_d + y_d W_d      (one [W F, H] matrix)
    h_d = act(rho_d a_d),  [logits, mu, log sigma]_d = h_d V_d + b_d
    q(y_d | y_<d, context) = sum_c pi_c N(y_d; mu_c, sigma_c)

The context is a class label (one embedding) or, with ``context_factors``, a
mixed-radix label ``l = sum_k l_k prod_{j>k} n_j`` whose components ``l_k`` in
``[0, n_k)`` get one embedding each (``speech_features``: ``l = 10 speaker +
word``, ``context_factors=(5, 10)``), so an unseen (speaker, word) pair still has
a meaningful hidden bias.  Neighbouring (past) frames are the other context: they
are the window's earlier positions.

**The trajectory density (what `log_prob` returns).**  The product of the
overlapping windows' densities (a product of experts) is not normalised; we use
instead the chain rule over frames, each frame modelled by the window RNADE's
conditionals of the window position it occupies::

    log p(x_{0:T}) = sum_{t < W-1}  log q_{pos t}(x_t | x_{0:t})            (the first window)
                   + sum_{t >= W-1} log q_{pos W-1}(x_t | x_{t-W+1:t})      (sliding windows)

where ``log q_{pos p}(x | prev) = sum_f log q(y_{pF+f} | y_{<pF+f})`` with the
window's first ``p`` frames set to ``prev``.  Every factor is a normalised
conditional density of one frame (RNADE's conditionals are normalised for any
values of the earlier dimensions), so ``p`` is a proper density on ``R^{T F}``:
a W-1'th-order Markov chain of frames whose transition is the window RNADE's
last-frame conditional, started by the window RNADE's marginal of its first W-1
frames (exact: RNADE's marginal of a prefix of its ordering is the product of its
first conditionals).  ``log_prob`` is in nats per trajectory; nats/frame is
``log_prob / T``.  ``T >= W`` is required (``ValueError`` otherwise), so that
every trajectory holds at least one whole window.

**Sampling (the deterministic rule).**  Ancestral, one feature at a time in the
order ``(t, f)`` row-major, by ``ar_keras.core.sampler.run``: frame ``t < W``
is drawn at window position ``t`` given frames ``0..t-1``; frame ``t >= W-1`` at
position ``W-1`` given the ``W-1`` frames before it, i.e. exactly the
conditionals `log_prob` multiplies, with element ``t F + f``'s noise keyed
``(seed, sample, t F + f)`` (so a longer sample extends a shorter one).
``cache=True`` keeps the running pre-activation ``a`` within a frame (O(H) per
feature) and rebuilds it from the previous ``W-1`` frames at each frame start
(O(W F H)); ``cache=False`` recomputes every conditional of the partial trajectory
at every step.  Both use the same summation order and return the same samples.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("trajectory_rnade", preset="tiny")     # F = 2, W = 2
    >>> x = model.sample(4, length=10, seed=0)                         # float32 [4, 10, 2]
    >>> model.log_prob(x).shape                                        # nats per trajectory
    TensorShape([4])
    >>> model.conditional_log_probs(x).shape                           # one per feature
    TensorShape([4, 10, 2])

Training on the embedded speech's MFCC + delta trajectories (`ar_keras.data.speech_features`,
F = 26, segments of T = 20 frames), conditioned on (speaker, word)::

    python -m train --model trajectory_rnade --dataset speech_features --conditional \
        --epochs 30 --batch-size 16

(``speech`` preset, 245,818 parameters, early-stopped after 25 epochs on 59 training
segments: test 18.68 nats/frame = 373.6 nats per 20-frame segment; 20.65 nats/frame
without ``--conditional``; a unit Gaussian per feature would score 36.9.)
"""

import keras
import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import sampler
from ar_keras.core.base import BaseModel
from ar_keras.core.events import FloatSequence
from ar_keras.distributions import GaussianMixture
from ar_keras.models.density.rnade import add_nade_mixture_weights
from ar_keras.models.registry import register

__all__ = ["TrajectoryRNADE"]


@register("trajectory_rnade")
class TrajectoryRNADE(sampler.SamplingProtocol, BaseModel):
    """Trajectory-RNADE over ``[B, T, F]`` feature trajectories (see the module docstring).

    Args:
        num_features: F, features per frame.
        window: W >= 1, frames per window (the Markov order is W - 1).
        hidden_dim: H, units of the NADE hidden layer that every conditional shares.
        num_mixtures: C, Gaussians in the mixture of every conditional.
        activation: hidden activation (RNADE: sigmoid in the 2013 paper, ReLU in its
            follow-ups; ReLU here).
        log_scale_bound: soft clamp of the component log-scales (`GaussianMixture`).
        num_classes: context labels, or None for an unconditional model.
        context_factors: None, or the sizes ``(n_0, n_1, ...)`` of a mixed-radix label
            (their product must be ``num_classes``): one embedding per component.
            Ignored when ``num_classes`` is None.
    """

    event_class = FloatSequence
    noise_depth = 2
    #: A density of float trajectories: float32 whatever the dtype policy (BaseModel docstring).
    float32_only = True

    def __init__(
        self,
        num_features=2,
        window=2,
        hidden_dim=50,
        num_mixtures=5,
        activation="relu",
        log_scale_bound=7.0,
        num_classes=None,
        context_factors=None,
        **kwargs,
    ):
        super().__init__(FloatSequence(num_features), num_classes, **kwargs)
        self.num_features = int(num_features)
        self.window = checks.check_positive_int(window, "window")
        self.hidden_dim = checks.check_positive_int(hidden_dim, "hidden_dim")
        self.num_mixtures = checks.check_positive_int(num_mixtures, "num_mixtures")
        self.activation_name = activation
        self.activation = keras.activations.get(activation)
        self.log_scale_bound = None if log_scale_bound is None else float(log_scale_bound)
        self.context_factors = None if context_factors is None else [int(n) for n in context_factors]
        if self.num_classes is not None and self.context_factors is not None:
            if (
                any(n < 1 for n in self.context_factors)
                or int(np.prod(self.context_factors)) != self.num_classes
            ):
                raise ValueError(
                    f"context_factors {self.context_factors} must be positive sizes whose product "
                    f"is num_classes={self.num_classes}."
                )
        self.example_length = self.window
        F, H = self.num_features, self.hidden_dim
        D = self.window * F
        self.head = GaussianMixture(self.num_mixtures, self.log_scale_bound)
        P = self.head.num_params
        self.w, self.c, self.rho, self.v, self.b = add_nade_mixture_weights(self, D, H, P)
        self.context_embeddings = []
        if self.num_classes is not None:
            sizes = self.context_factors or [self.num_classes]
            for k, n in enumerate(sizes):
                layer = keras.layers.Embedding(n, H, name=f"context_{k}")
                layer.build((None,))
                self.context_embeddings.append(layer)
        self._finish_init()

    # ------------------------------------------------------------------ facts
    @property
    def ordering(self):
        """Within a window: ``[W F]``, frame-major (dimension ``p F + f`` at step ``p F + f``)."""
        return np.arange(self.window * self.num_features)

    @property
    def exact_conditionals(self):
        return True

    # ------------------------------------------------------------------ checks
    @property
    def min_length(self):
        """The shortest trajectory: one window (``T >= W``)."""
        return self.window

    def _check_sample_size(self, n, length):
        if length is not None:
            self._check_length(length)  # the window's own message first
        super()._check_sample_size(n, length)

    def _check_length(self, length):
        if isinstance(length, int) and length < self.window:
            raise ValueError(
                f"trajectories must hold at least window={self.window} frames (T >= W), got T={length}."
            )

    def _check(self, x, conditional, validate_values=True):
        x, c = super()._check(x, conditional, validate_values)
        T = x.shape[1]
        if T is not None:
            self._check_length(int(T))
        elif validate_values:
            with tf.control_dependencies(
                [
                    tf.debugging.assert_greater_equal(
                        tf.shape(x)[1],
                        self.window,
                        message=f"trajectories must hold at least window={self.window} frames",
                    )
                ]
            ):
                x = tf.identity(x)
        return x, c

    def _check_sample_args(self, num_samples, conditional, temperature, length):
        out = super()._check_sample_args(num_samples, conditional, temperature, length)
        self._check_length(out[3])
        return out

    # ------------------------------------------------------------------ network
    def _initial(self, batch, c):
        """``a_1 = c + sum_k E_k[context_k]``: ``[B, H]``."""
        a = tf.broadcast_to(self.c, [batch, self.hidden_dim])
        if c is None or not self.context_embeddings:
            return a
        if self.context_factors is None:
            return a + self.context_embeddings[0](c)
        rest = c
        for layer, n in zip(reversed(self.context_embeddings), reversed(self.context_factors)):
            a = a + layer(tf.math.floormod(rest, n))  # mixed radix, last factor first
            rest = tf.math.floordiv(rest, n)
        return a

    def _window_params(self, y, a1):
        """Windows ``y [B, N, W F]``, ``a_1 [B, H]`` -> params of every position ``[B, N, W F, P]``.

        ``a_d = ((a_1 + y_0 W_0) + y_1 W_1) + ...``: a cumulative sum whose first term
        is ``a_1``, the association the cached sampler reproduces.
        """
        n = tf.shape(y)[1]
        a1 = tf.tile(
            tf.reshape(a1, [-1, 1, 1, self.hidden_dim]), tf.stack([1, n, 1, 1])
        )  # [B, H] -> [B, N, 1, H]
        # (tf.expand_dims rather than [..., None]: TFLite lacks new-axis strided slices.)
        contributions = tf.expand_dims(y[:, :, :-1], -1) * self.w[:-1]  # [B, N, WF-1, H]
        a = tf.cumsum(tf.concat([a1, contributions], axis=2), axis=2)  # [B, N, WF, H]
        h = self.activation(tf.expand_dims(self.rho, -1) * a)  # rho [WF] -> [WF, 1]
        return tf.einsum("bndh,dhp->bndp", h, self.v) + self.b

    def _frame_params(self, x, c):
        """``x [B, T, F]`` -> the params of every feature's conditional ``[B, T, F, P]``."""
        W, F = self.window, self.num_features
        batch = tf.shape(x)[0]
        a1 = self._initial(batch, c)
        windows = tf.signal.frame(x, W, 1, axis=1)  # [B, T-W+1, W, F]
        y = tf.reshape(windows, tf.stack([batch, tf.shape(windows)[1], W * F]))  # [B, N, W, F] -> [B, N, W F]
        params = self._window_params(y, a1)  # [B, N, W F, P]
        P = self.head.num_params
        first = tf.reshape(
            params[:, 0, : (W - 1) * F], [batch, W - 1, F, P]
        )  # [B, (W-1)F, P] -> [B, W-1, F, P]
        last = params[:, :, (W - 1) * F :]  # [B, N, F, P]
        return tf.concat([first, last], axis=1)  # [B, T, F, P]

    def _conditional_log_probs(self, x, c, training=False):
        params = self._frame_params(x, c)  # [B, T, F, P]
        # The head on one flat axis (TFLite converts its x[..., None] only there).
        flat = self.head.log_prob(
            tf.reshape(params, [-1, self.head.num_params]),  # [B, T, F, P] -> [B T F, P]
            tf.reshape(x, [-1]),
        )  # [B, T, F] -> [B T F]
        return tf.reshape(flat, tf.shape(x))  # [B T F] -> [B, T, F]

    def _log_prob(self, x, c, training=False):
        return tf.reduce_sum(self._conditional_log_probs(x, c), axis=[1, 2])

    # ----------------------------------------------------------------- sampling
    # `ar_keras.core.sampler.run` over the flattened trajectory [n, T F], element t F + f.
    def sampling_groups(self, num_elements):
        return sampler.raster_groups(tf.range(num_elements))

    def element_params(self, x, conditional=None):
        """``x [n, T F]`` -> ``[n, T F, P]``: every conditional recomputed from the partial sample."""
        n, F = tf.shape(x)[0], self.num_features
        frames = tf.reshape(x, tf.stack([n, -1, F]))  # [n, T F] -> [n, T, F]
        params = self._frame_params(frames, conditional)  # [n, T, F, P]
        return tf.reshape(params, tf.stack([n, -1, self.head.num_params]))  # [n, T, F, P] -> [n, T F, P]

    def init_cache(self, batch, conditional=None):
        """``(a_1, a)``: the context's pre-activation and the running one, both ``[n, H]``."""
        a1 = self._initial(batch, conditional)
        return (a1, a1)

    def _window_start(self, x, t, a1):
        """``a`` at the first feature of frame ``t``: ``a_1`` plus the previous ``min(t, W-1)``
        frames' rows, summed in the order of `_window_params`' cumsum."""
        W, F = self.window, self.num_features
        start = tf.maximum(t - (W - 1), 0)
        previous = x[:, start * F : t * F]  # [n, pos F]
        count = tf.shape(previous)[1]
        contributions = tf.expand_dims(previous, -1) * self.w[:count]  # [n, pos F, H]
        a = tf.cumsum(tf.concat([tf.expand_dims(a1, 1), contributions], axis=1), axis=1)  # [n, pos F + 1, H]
        return a[:, -1]

    def step(self, x, a1_and_a, index, conditional=None):
        """Params of element ``index = t F + f``: ``a`` rebuilt at ``f = 0``, else one row added."""
        a1, a = a1_and_a
        W, F = self.window, self.num_features
        t, f = index // F, index % F
        pos = tf.minimum(t, W - 1)
        d = pos * F + f  # window dimension
        a = tf.cond(
            f == 0,
            lambda: self._window_start(x, t, a1),
            lambda: a + tf.expand_dims(tf.gather(x, index - 1, axis=1), -1) * tf.gather(self.w, d - 1),
        )
        h = self.activation(tf.gather(self.rho, d) * a)
        return tf.matmul(h, tf.gather(self.v, d)) + tf.gather(self.b, d), (a1, a)

    def _sample_graph(self, noise, num_samples, length, conditional, temperature, cache):
        F = self.num_features
        if not isinstance(length, int):
            with tf.control_dependencies(
                [
                    tf.debugging.assert_greater_equal(
                        length, self.window, message=f"length must be at least window={self.window} frames"
                    )
                ]
            ):
                length = tf.identity(length)
        flat = sampler.run(
            self, noise, num_samples, length * F, conditional, temperature, cache=bool(cache)
        )  # [n, T F]
        return tf.reshape(flat, tf.stack([num_samples, length, F]))  # [n, T F] -> [n, T, F]

    def sample_from_noise(self, noise, conditional=None, temperature=1.0, cache=True):
        """Samples from uniforms ``noise [n, T F, 2]`` (element ``t F + f``): ``[n, T, F]``."""
        noise, c, temperature, length = self._check_noise(
            noise, conditional, temperature, None, per_step=self.num_features
        )
        self._check_length(length)
        if noise.shape[0] == 0:
            return tf.zeros((0, length, self.num_features), tf.float32)
        return self._finite_samples(
            self._run_sampler(noise, True, c, temperature, cache, length), temperature
        )

    def tflite_signatures(self, batch_size=None, num_samples=None):
        """The base's ``log_prob``; ``sample_from_noise`` takes ``noise [n, T F, 2]``."""
        sigs = super().tflite_signatures(batch_size, num_samples)
        from ar_keras.core import noise as noise_lib

        s_specs = self.conditional_specs(num_samples)
        noise_spec = tf.TensorSpec([num_samples, None, self.noise_depth], tf.float32, name="noise")
        t_spec = tf.TensorSpec([], tf.float32, name="temperature")

        @tf.function(input_signature=[noise_spec, t_spec] + s_specs, autograph=False)
        def sample_from_noise(noise, temperature, *c):
            length = tf.shape(noise)[1] // self.num_features
            x = self._sample_graph(
                noise_lib.GivenNoise(noise),
                tf.shape(noise)[0],
                length,
                self._named(s_specs, c),
                temperature,
                True,
            )
            return {"samples": x}

        sigs["sample_from_noise"] = sample_from_noise
        return sigs
