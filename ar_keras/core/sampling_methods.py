"""The sampling entry points of every model: ``sample``, ``sample_from_keys``, ``sample_from_noise``.

A model implements one graph function, ``_sample_graph(noise, n, length, conditional,
temperature, cache)`` (the sampler of `ar_keras.core.sampler` for the autoregressive
models), that draws ``n`` examples from a noise source (`ar_keras.core.noise`).  This mixin
checks the arguments once, keys sample ``i`` of a seed ``(seed, i)``, and compiles one
`tf.function` per (path, shape), under XLA where the model asks for it: the same seed gives
the same samples for any ``n``, and the cached path the same samples as full recompute.

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("nade", preset="tiny")
    >>> x = model.sample(3, seed=0)                      # [3, 2, 2, 1] int32
    >>> bool((model.sample_from_keys([[0, 1]]) == x[1:2]).numpy().all())
    True
"""

import numpy as np
import tensorflow as tf

from ar_keras import checks
from ar_keras.core import noise as noise_lib
from ar_keras.distributions import truncation as truncation_lib

__all__ = ["SamplingMethods"]


class SamplingMethods:
    """The public sampling API over a model's ``_sample_graph`` (module docstring)."""

    #: Compile the cached sampler with XLA: True, False, or "auto" (when an example has
    #: at least `jit_min_steps` sampling steps, where compiling repays itself).
    jit_sampling = False
    jit_min_steps = 256
    #: The most elements (``num_samples`` x elements per example) one `sample` call may
    #: draw: a larger request is a ValueError before anything is allocated.
    max_sample_elements = 2**28
    #: The shortest and the longest sequence a free-length model takes (``length`` of
    #: `sample`, T of x); None: no upper bound.
    min_length = 1
    max_length = None
    #: Whether ``sample`` takes ``top_k`` / ``top_p`` (a model whose head is discrete).
    supports_truncation = False

    def _sample_graph(self, noise, num_samples, length, conditional, temperature, cache):
        """``n`` examples ``[n, *event_shape(length)]`` from a noise source (graph code)."""
        raise NotImplementedError

    def _use_jit(self, cache, length):
        if not cache or self.jit_sampling is False:
            return False
        if self.jit_sampling is True:
            return True
        steps = self.event.num_elements(length)
        return steps is not None and steps >= self.jit_min_steps

    def _compiled(self, key, fn, jit=False):
        """A `tf.function` of ``fn`` cached under ``key`` (out of Keras' tracking)."""
        key = (key, bool(jit))
        if key not in self._functions.functions:
            # The loops are explicit tf.while_loops: nothing for AutoGraph to convert.
            fn = tf.autograph.experimental.do_not_convert(fn)
            self._functions.functions[key] = tf.function(
                fn, jit_compile=bool(jit) or None, reduce_retracing=True
            )
        return self._functions.functions[key]

    def _run_sampler(self, source, given, conditional, temperature, cache, length, truncation=None):
        """Samples from keys ``[n, 2]`` (``given=False``) or a noise tensor (``given=True``);
        ``truncation``: None, or the checked top-k / top-p `Truncation` of every draw."""
        cache = bool(cache)
        jit = self._use_jit(cache, length)
        depth = self.noise_depth
        truncated = {} if truncation is None else {"truncation": truncation}

        def run(src, c, t):
            noise = noise_lib.GivenNoise(src) if given else noise_lib.KeyedNoise(src, depth)
            with self.precision_scope():
                return self._sample_graph(noise, tf.shape(src)[0], length, c, t, cache, **truncated)

        t = tf.convert_to_tensor(temperature, tf.float32)
        if not tf.executing_eagerly():
            return run(source, conditional, t)
        fn = self._compiled(("sample", given, cache, conditional is None, length, truncation), run, jit)
        return fn(source, conditional, t)

    def _check_truncation(self, top_k, top_p):
        """The checked `Truncation` of ``top_k`` / ``top_p`` (None for neither); a model whose
        head has no levels to truncate refuses them."""
        truncation = truncation_lib.truncation(top_k, top_p)
        if truncation is not None and not self.supports_truncation:
            name = getattr(self, "registry_name", type(self).__name__)
            head = type(getattr(self, "head", None)).__name__
            raise ValueError(
                f"top_k / top_p truncate a discrete conditional (categorical, Bernoulli, dual "
                f"softmax, discretised logistic mixture); {name} draws from a {head} head or "
                "through latent variables, where they have no meaning: leave them out and use "
                "temperature."
            )
        return truncation

    def _check_sample_args(self, num_samples, conditional, temperature, length):
        n = checks.check_positive_int(num_samples, "num_samples")
        length = self.event.check_length(length)
        self._check_sample_size(n, length)
        temperature = checks.check_temperature(temperature)
        c = self.check_conditional(conditional, batch=n, length=length)
        return n, c, temperature, length

    def _check_sample_size(self, n, length):
        """Refuses lengths below `min_length` and requests of more than `max_sample_elements`."""
        name = getattr(self, "registry_name", type(self).__name__)
        if length is not None and length < self.min_length:
            raise ValueError(f"length must be at least {self.min_length} for {name}, got {length}.")
        self._within_max_length(length)
        elements = n * self.event.num_elements(length)
        if elements > self.max_sample_elements:
            raise ValueError(
                f"num_samples x elements per example = {n} x {elements // n} = {elements} is more "
                f"than one call may draw (max_sample_elements = {self.max_sample_elements}): "
                "num_samples and length must be smaller; draw the samples in several calls "
                "(sample_from_keys takes any (seed, index) keys)."
            )

    def sample(
        self,
        num_samples,
        conditional=None,
        seed=None,
        temperature=1.0,
        cache=True,
        length=None,
        top_k=None,
        top_p=None,
    ):
        """Draws ``num_samples`` examples: ``[n, *event_shape]`` (int32 levels or float32).

        Sample ``i`` draws its noise from the key ``(seed, i)``
        (`ar_keras.core.noise`): the same seed gives the same samples for any
        ``n``, and ``cache=True`` (the model's fastest exact path) gives the
        same samples as ``cache=False`` (full recompute).

        Args:
            num_samples: n >= 1.
            conditional: conditioning for the n samples (class labels ``[n]``).
            seed: int; None draws a fresh one.
            temperature: > 0 (discrete heads divide the logits; continuous
                models scale the base noise).
            cache: use the model's cached path when it has one.
            length: T >= 1 for models of sequences of any length; None otherwise.
            top_k: None, or draw each element from its ``top_k`` most probable levels
                (`ar_keras.distributions.truncation`; discrete heads only).
            top_p: None, or draw each element from its nucleus of mass ``top_p`` in
                ``(0, 1]``; both act on the conditional after ``temperature``.
        """
        n, c, temperature, length = self._check_sample_args(num_samples, conditional, temperature, length)
        truncation = self._check_truncation(top_k, top_p)
        seed = checks.check_seed(seed)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
        keys = noise_lib.sample_keys(seed, n)  # [n, 2]
        return self._finite_samples(
            self._run_sampler(keys, False, c, temperature, cache, length, truncation), temperature
        )

    def _finite_samples(self, x, temperature):
        """Float samples that overflowed (a huge temperature) are an error, not silent inf/NaN."""
        if x.dtype.is_floating and tf.executing_eagerly() and not np.isfinite(x.numpy()).all():
            raise ValueError(
                f"sampling at temperature={temperature} gave non-finite values (float32 overflow): "
                "the temperature must be smaller."
            )
        return x

    def sample_from_keys(
        self, keys, conditional=None, temperature=1.0, cache=True, length=None, top_k=None, top_p=None
    ):
        """One example per stateless key ``keys [n, 2]`` (``(seed, i)``: sample i of seed);
        ``top_k`` / ``top_p`` as for `sample`."""
        keys = checks.to_tensor(keys, "keys")
        if not keys.dtype.is_integer or keys.shape.rank != 2 or keys.shape[1] != 2:
            raise ValueError(
                f"keys must be integer (seed, index) pairs of shape [n, 2], got "
                f"{keys.dtype.name} {keys.shape.as_list()}."
            )
        n = keys.shape[0]
        length = self.event.check_length(length)
        self._check_sample_size(max(n, 1), length)
        temperature = checks.check_temperature(temperature)
        truncation = self._check_truncation(top_k, top_p)
        c = self.check_conditional(conditional, batch=n, length=length)
        if n == 0:
            return tf.zeros((0,) + self.event.event_shape(length), self.event.dtype)
        return self._finite_samples(
            self._run_sampler(tf.cast(keys, tf.int64), False, c, temperature, cache, length, truncation),
            temperature,
        )

    def _check_noise(self, noise, conditional, temperature, elements, per_step=None):
        """Checks ``sample_from_noise``'s arguments -> ``(noise, conditional, temperature, length)``.

        ``elements``: the noise's second axis (None where the length is free);
        ``per_step``: elements per step of a free length (length = axis / per_step).
        """
        depth = self.noise_depth
        expected = f"[n, {elements or ('T' if per_step in (None, 1) else f'T * {per_step}')}, {depth}]"

        def check_sizes(u):
            size = u.shape[1]
            if (
                u.shape[-1] != depth
                or (elements is not None and size != elements)
                or (elements is None and size is not None and (size == 0 or size % (per_step or 1)))
            ):
                raise ValueError(f"noise must have shape {expected}, got {u.shape.as_list()}.")

        noise = checks.check_uniforms(noise, expected, check_sizes=check_sizes)
        size = noise.shape[1]
        length = None
        if self.event.free_length:
            length = size // (per_step or 1)
            self._check_sample_size(max(noise.shape[0] or 0, 1), length)
        temperature = checks.check_temperature(temperature)
        c = self.check_conditional(conditional, batch=noise.shape[0], length=length)
        return noise, c, temperature, length

    def sample_from_noise(self, noise, conditional=None, temperature=1.0, cache=True):
        """Samples from given uniforms ``noise [n, D, noise_depth]`` (the TFLite path).

        ``noise[i, d]`` is element ``d``'s noise in sample ``i``, in the
        flattened row-major order of the event; ``seeded_noise(seed, n, D,
        depth)`` is the noise of ``sample(n, seed=seed)``.
        """
        noise, c, temperature, length = self._check_noise(noise, conditional, temperature, self.event_size)
        if noise.shape[0] == 0:
            return tf.zeros((0,) + self.event.event_shape(length), self.event.dtype)
        return self._finite_samples(
            self._run_sampler(noise, True, c, temperature, cache, length), temperature
        )
