"""`AutoregressiveModel`: a network, a head and an ordering, on the one base.

A model is three things (docs/architecture.md, section 5):

* a **network** ``network(x, conditional, training) -> params [B, *event, P]``:
  one parallel pass over the whole example, shifted or masked so that the
  parameters of element d depend on the elements before d only;
* a **head** (`ar_keras.distributions`, the attribute ``self.head`` a subclass
  sets in ``__init__``): params -> per-element distribution,
  with ``log_prob`` (float32), ``sample`` and its ``sample_dtype``;
* an **ordering**: ``sampling_groups(D) -> [S, G]``, the elements generated at
  each of S steps (groups of one in raster order by default).

From those::

    log p(x) = sum_d log p(x_d | x_<d)                    (log_prob, [B] nats)
    conditional_log_probs(x)[..., d] = log p(x_d | x_<d)  (x's shape)
    sample(n, seed=s)        `ar_keras.core.sampler.run`: full recompute, or
                             the cache protocol init_cache / step

The cache protocol (optional): ``init_cache(n, conditional) -> cache`` and
``step(x, cache, s, conditional) -> (params, cache)``, where ``x [n, D]`` is
the partial sample (flattened; the elements of earlier groups drawn, the rest
zero) and ``params`` are the parameters of group s (``[n, P]`` for a group of
one).  `previous_value` reads the element drawn at the step before.

Subclasses set their layers in ``__init__`` and end it with
``self._finish_init()``, which builds every weight with one forward pass, so
that a model is complete once constructed (and `.keras` files reload without a
build step).

Example:
    >>> import ar_keras as ark
    >>> model = ark.models.get("gated_pixelcnn", preset="tiny")
    >>> x = model.sample(4, seed=0)                          # int32 [4, 3, 3, 1]
    >>> model.conditional_log_probs(x).shape
    TensorShape([4, 3, 3, 1])
"""

import numpy as np
import tensorflow as tf

from ar_keras.core import sampler
from ar_keras.core.base import BaseModel
from ar_keras.core.events import ImageEvent

__all__ = ["AutoregressiveModel", "no_autograph"]

#: Decorator for a network or cache step written with explicit TF control flow
#: only (``tf.cond``, Python loops over layers): keeping AutoGraph from
#: rewriting it makes tracing the samplers several times faster (about 5x for
#: PixelCNN++).
no_autograph = tf.autograph.experimental.do_not_convert


class AutoregressiveModel(sampler.SamplingProtocol, BaseModel):
    """Base class of the exact autoregressive models.

    Args:
        image_shape: for image models, ``(H, W, C)`` (or ``(D,)`` for vectors);
            elements are generated in raster order, channels innermost, unless
            a model defines another ordering.
        num_levels: K; data are ints in ``[0, K)``.
        num_classes: number of class labels to condition on, or None.
        event: an event spec instead of ``image_shape`` / ``num_levels``
            (sequences, video).
    """

    jit_sampling = "auto"

    def __init__(self, image_shape=None, num_levels=None, num_classes=None, event=None, **kwargs):
        if event is None:
            event = ImageEvent(image_shape, num_levels)
        super().__init__(event, num_classes, **kwargs)

    # ----------------------------------------------------------------- structure
    @property
    def image_shape(self):
        """The event shape (``(None,)`` for sequences of any length)."""
        return self.event.shape

    @property
    def ordering(self):
        """``[D]`` int array: ``ordering[t]`` is the element generated at step t."""
        if self.event.free_length:
            raise AttributeError(
                f"{type(self).__name__} models sequences of any length; its generation order for "
                "T elements is sampling_groups(T) (left to right)."
            )
        return np.arange(self.event_size)

    @classmethod
    def contract_shape(cls, shape):
        """The image shape the shared contract suite (tests/models/test_contract.py) uses when
        it asks for ``shape`` on this class's tiny preset: ``shape`` itself by default.

        A model that cannot take some shapes (a subscale factor or a base size
        that must divide the sides) returns the nearest shape it takes, so the
        suite runs every check on it instead of skipping it.
        """
        return tuple(shape)

    def sampling_groups(self, num_elements):
        """``[S, G]`` int32: the elements generated at each step (groups of one by default;
        sequences of any length left to right)."""
        if self.event.free_length:
            return sampler.raster_groups(tf.range(num_elements))
        return super().sampling_groups(num_elements)

    def _use_jit(self, cache, length):
        return self.supports_cache and super()._use_jit(cache, length)

    event_class = ImageEvent

    # ---------------------------------------------------------------- protocol
    def network(self, x, conditional=None, training=False):
        """``x [B, *event]`` int32 -> head parameters ``[B, *event, P]``."""
        raise NotImplementedError

    # ------------------------------------------------------------------- density
    def element_params(self, x_flat, conditional=None, training=False):
        """Flattened view of `network`: ``x [B, D]`` -> params ``[B, D, P]``."""
        batch = tf.shape(x_flat)[0]
        if self.event.free_length and len(self.event.shape) == 1:
            return self.network(x_flat, conditional, training=training)  # already [B, T, P]
        shape = self.event.shape if not self.event.free_length else [-1] + list(self.event.shape[1:])
        x = tf.reshape(x_flat, tf.concat([[batch], shape], 0))  # [B, D] -> [B, *event]
        params = self.network(x, conditional, training=training)
        return tf.reshape(params, tf.stack([batch, tf.shape(x_flat)[1], -1]))  # -> [B, D, P]

    def _conditional_log_probs(self, x, conditional, training=False):
        params = self.network(x, conditional, training=training)  # [B, *event, P]
        return self.head.log_prob(params, x)  # [B, *event]

    def _log_prob(self, x, conditional, training=False):
        lp = self._conditional_log_probs(x, conditional, training=training)
        return tf.reduce_sum(tf.reshape(lp, [tf.shape(lp)[0], -1]), axis=1)  # [B, *event] -> [B, D] -> [B]

    # ------------------------------------------------------------------ sampling
    def sampling_prefix(self, num_samples, num_elements, conditional=None):
        """The observed part every sample begins with: ``(prefix [n, D] or None, start)``.

        `sample` keeps the elements of the groups before ``start`` and draws the
        rest (`ar_keras.core.sampler.run`).  None by default; a model whose
        conditional is the beginning of the example itself (vpn's context frames)
        returns it here.
        """
        del num_samples, num_elements, conditional
        return None, 0

    @property
    def supports_truncation(self):
        """Whether ``sample`` takes ``top_k`` / ``top_p``: the head is discrete."""
        return bool(getattr(self.head, "truncatable", False))

    def _sample_graph(self, noise, num_samples, length, conditional, temperature, cache, truncation=None):
        length = self._within_max_length(length)  # a tensor T (the exports' length input)
        D = self.event.num_elements(length)
        prefix, start = self.sampling_prefix(num_samples, D, conditional)
        given = {} if prefix is None else {"prefix": prefix, "start": start}
        x = self.sample_elements(
            noise, num_samples, D, conditional, temperature, cache, truncation=truncation, **given
        )  # [n, D]
        shape = [length if s is None else s for s in self.event.shape]
        return tf.reshape(x, tf.concat([[num_samples], tf.stack(shape)], 0))  # [n, D] -> [n, *event]
