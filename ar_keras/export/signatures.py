"""The export signatures of every model, built from its event and conditioning specs.

`ar_keras.export` writes them; a model reaches them through
``model.export_signatures()`` and ``model.tflite_signatures()``, which a model with more to
serve extends (the VAE's ``elbo``, the video model's context frames).  Every input is named
after the event (``x``, ``seeds``, ``noise``) or a conditioning part (`ar_keras.core.conditioning`),
so a client needs no model's dict layout.

Example:
    >>> import ar_keras as ark
    >>> from ar_keras.export import signatures
    >>> model = ark.models.get("nade", preset="tiny")
    >>> [name for name, _, _ in signatures.saved_model_signatures(model)]
    ['serving_default', 'conditional_log_probs', 'sample']
"""

import tensorflow as tf

from ar_keras import checks
from ar_keras.core import noise as noise_lib

__all__ = ["saved_model_signatures", "tflite_signatures", "stream_signatures", "named_conditional"]


def named_conditional(model, specs, values):
    """The signature's conditioning inputs ``values`` (one per spec of ``specs``) -> ``conditional``."""
    return model.make_conditional({s.name: v for s, v in zip(specs, values)}) if specs else None


def saved_model_signatures(model):
    """``[(name, function, input_signature)]`` of ``model``'s SavedModel (`ar_keras.export.saved_model`).

    ``serving_default``: x (+ conditioning) -> ``{"log_prob": [B]}``;
    ``conditional_log_probs`` where exact; ``sample``: ``seeds`` int64
    ``[n]``, ``temperature`` float32 ``[]`` (+ ``length`` int32 ``[]`` for
    free-length events) (+ conditioning) -> ``{"samples": ...}``, sample
    ``j`` keyed ``(seeds[j], 0)`` = ``model.sample(1, seed=seeds[j])``.
    """
    c_specs = model.conditional_specs()
    x_spec = model.event.tensor_spec()

    def log_prob(x, *c):
        return {"log_prob": model.log_prob(x, named_conditional(model, c_specs, c))}

    def conditional_log_probs(x, *c):
        return {"conditional_log_probs": model.conditional_log_probs(x, named_conditional(model, c_specs, c))}

    free = model.event.free_length
    sample_specs = [
        tf.TensorSpec([None], tf.int64, name="seeds"),
        tf.TensorSpec([], tf.float32, name="temperature"),
    ]
    if free:
        sample_specs.append(tf.TensorSpec([], tf.int32, name="length"))

    def sample(seeds, temperature, *rest):
        length, c = (rest[0], rest[1:]) if free else (None, rest)
        if free:
            with tf.control_dependencies(
                [tf.debugging.assert_positive(length, message="length must be a positive number of steps")]
            ):
                length = tf.identity(length)
        checked = []
        for spec, value in zip(c_specs, c):
            with tf.control_dependencies(
                [
                    tf.debugging.assert_equal(
                        tf.shape(value)[0],
                        tf.size(seeds),
                        message=f"{spec.name} must hold one "
                        f"{'label' if spec.name == 'conditional' else 'row'} per seed",
                    )
                ]
            ):
                checked.append(tf.identity(value))
        conditional = named_conditional(model, c_specs, checked)
        if conditional is not None:
            conditional = model.check_conditional(conditional, batch=None, length=length)
        keys = tf.stack([seeds, tf.zeros_like(seeds)], axis=1)  # [n] -> [n, 2]
        noise = noise_lib.KeyedNoise(keys, model.noise_depth)
        t = checks.check_temperature_tensor(temperature)
        with model.precision_scope():
            return {"samples": model._sample_graph(noise, tf.size(seeds), length, conditional, t, True)}

    sigs = [("serving_default", log_prob, [x_spec] + c_specs)]
    if model.exact_conditionals:
        sigs.append(("conditional_log_probs", conditional_log_probs, [x_spec] + c_specs))
    sigs.append(("sample", sample, sample_specs + c_specs))
    return sigs


def tflite_signatures(model, batch_size=None, num_samples=None):
    """``{name: tf.function}`` of ``model``'s TFLite file (`ar_keras.export.tflite`; builtin ops only).

    ``log_prob``: x (+ conditioning) -> ``{"log_prob": [B]}``, **without**
    value checks (TFLite cannot run `tf.debugging` assertions);
    ``sample_from_noise``: ``noise`` float32 ``[n, D, depth]``,
    ``temperature`` (+ conditioning) -> ``{"samples": ...}``, equal to
    `sample_from_noise`.
    """
    lp_specs = model.conditional_specs(batch_size)
    s_specs = model.conditional_specs(num_samples)
    noise_spec = tf.TensorSpec([num_samples, model.event_size, model.noise_depth], tf.float32, name="noise")
    t_spec = tf.TensorSpec([], tf.float32, name="temperature")

    @tf.function(input_signature=[model.event.tensor_spec(batch_size)] + lp_specs, autograph=False)
    def log_prob(x, *c):
        x, c = model._check(x, named_conditional(model, lp_specs, c), validate_values=False)
        with model.precision_scope():
            return {"log_prob": tf.cast(model._log_prob(x, c), tf.float32)}

    @tf.function(input_signature=[noise_spec, t_spec] + s_specs, autograph=False)
    def sample_from_noise(noise, temperature, *c):
        length = tf.shape(noise)[1] if model.event.free_length else None
        with model.precision_scope():
            x = model._sample_graph(
                noise_lib.GivenNoise(noise),
                tf.shape(noise)[0],
                length,
                named_conditional(model, s_specs, c),
                temperature,
                True,
            )
        return {"samples": x}

    return {"log_prob": log_prob, "sample_from_noise": sample_from_noise}


def stream_signatures(model, num_samples, state_specs, step):
    """``{name: tf.function}`` of an audio model's streaming TFLite file (`ar_keras.export.tflite_step`).

    ``step``: ``x_prev`` int32 ``[n]``, ``index`` int32 ``[]``, ``noise [n, noise_depth]``,
    ``temperature`` (+ ``conditional [n]`` with labels) (+ ``local [n, E']`` with local
    features), then ``state_specs`` -> the dict ``step(x_prev, index, noise, temperature,
    labels, local, states)`` returns.  With local features also ``upsample``: ``features
    [n, T / hop, E] -> {"local": [n, T, E']}`` (`upsample_features`).

    Args:
        model: a model of audio with ``num_classes``, ``local_channels`` and ``upsample``.
        num_samples: n, the static batch of the file.
        state_specs: the `tf.TensorSpec` of each state tensor.
        step: the step as a function of tensors (the model's ``stream_step`` and its draw).
    """
    n = num_samples
    extra = [] if model.num_classes is None else [tf.TensorSpec([n], tf.int32, name="conditional")]
    if model.local_channels:
        width = model.upsample.output_channels(model.local_channels)
        extra.append(tf.TensorSpec([n, width], tf.float32, name="local"))
    inputs = [
        tf.TensorSpec([n], tf.int32, name="x_prev"),
        tf.TensorSpec([], tf.int32, name="index"),
        tf.TensorSpec([n, model.noise_depth], tf.float32, name="noise"),
        tf.TensorSpec([], tf.float32, name="temperature"),
    ]

    @tf.function(input_signature=inputs + extra + list(state_specs), autograph=False)
    def step_signature(x_prev, index, noise, temperature, *rest):
        named = {spec.name: value for spec, value in zip(extra, rest[: len(extra)])}
        states = list(rest[len(extra) :])
        return step(x_prev, index, noise, temperature, named.get("conditional"), named.get("local"), states)

    functions = {"step": step_signature}
    if model.local_channels:

        @tf.function(
            input_signature=[tf.TensorSpec([n, None, model.local_channels], tf.float32, name="features")],
            autograph=False,
        )
        def upsample(features):
            return {"local": model.upsample_features(features)}  # [n, T, E']

        functions["upsample"] = upsample
    return functions
