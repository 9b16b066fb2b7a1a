"""Mixed precision: every model under ``mixed_bfloat16`` and ``mixed_float16``.

A model built under a mixed Keras dtype policy computes its network in bfloat16/float16 with
float32 variables; `BaseModel` guarantees float32 heads, log-probs, objective and loss
(`BaseModel.precision_scope`, `compute_loss`).  Checked here, with the float32 model's weights
copied into the mixed one so that only the arithmetic differs:

(a) ``log_prob`` under the policy is within a stated tolerance of float32;
(b) ``log_prob`` / ``conditional_log_probs`` / the loss are float32 (and samples keep their dtype);
(c) normalisation by enumeration still holds: every conditional is a softmax taken in float32
    (the heads cast the network's output), so the law sums to one to float32 round-off whatever
    the precision of the logits -- the same ``atol`` as the float32 suites;
(d) ``fit`` under the policy gives a finite loss and changes the weights.

Tolerance of (a).  bfloat16 keeps 8 significant bits (relative rounding 2^-9 ~ 0.2 %,
"~3 significant digits"); float16 keeps 11 (2^-12 ~ 0.025 %).  A log-probability is a sum of D
per-element log-softmaxes of logits that went through a few rounded layers, so its error
scales with its magnitude: we allow ``|lp - lp32| <= RTOL |lp32| + ATOL`` with RTOL = 1e-2,
ATOL = 0.05 nats for bfloat16 (about 5 roundings' worth; measured worst case on the tiny
presets: 3.4e-3 relative, bytenet) and RTOL = 2e-3, ATOL = 0.01 nats for float16 (measured
worst: 5.3e-4).  ``float32_only`` models (flows, continuous densities, VAEs) build in float32
under any policy and must agree exactly.

float16 on the CPU: every op the models use has a CPU half kernel in TF 2.21 (all 23 models
run log_prob, sampling and fit under mixed_float16 here); the CPU runs them slower than
float32 (scripts/mixed_precision_throughput.py).  Dynamic loss scaling starts at 2^15 and
skips the steps whose scaled gradients overflow, so (d) under float16 runs several steps.
"""

import cli_case
import harness
import keras
import numpy as np
import pytest
import sequence_case as sc
import tensorflow as tf
import test_case as tc

import ar_keras as ark

#: (name, preset): every registered model's test presets (tests/harness.py).
CASES = harness.cases()
TOLERANCE = {"mixed_bfloat16": (1e-2, 0.05), "mixed_float16": (2e-3, 0.01)}

#: One model per event kind (each kind's suite, tests/harness.py) for the full checks.
PER_KIND = {
    "image": "gated_pixelcnn",
    "sequence": "wavenet",
    "vector": "maf",
    "latent": "iaf_vae",
    "float_sequence": "trajectory_rnade",
    "video": "vpn",
}


@pytest.fixture
def policy():
    """Sets a dtype policy for the test; float32 again afterwards, even when the test fails."""
    previous = keras.mixed_precision.dtype_policy()

    def set_policy(name):
        keras.mixed_precision.set_dtype_policy(name)

    yield set_policy
    keras.mixed_precision.set_dtype_policy(previous)


def _data(model, batch=4, length=6, seed=0):
    """Valid data for any event kind, with its conditional and free length."""
    ev = model.event
    L = length if ev.free_length else None
    x = ev.random(batch, L, seed=seed)
    c = model.example_conditional(batch, L) if model.num_classes else None
    return x, c, L


def _mixed_copy(name, reference, preset="tiny", **overrides):
    """``name``'s preset ``preset`` built under the current policy (or ``dtype=`` among the
    overrides), with ``reference``'s weights."""
    mixed = ark.models.get(name, preset=preset, **overrides)
    assert len(mixed.weights) == len(reference.weights)
    for w, ref in zip(mixed.weights, reference.weights):
        assert w.dtype == ref.dtype, f"{w.path}: {w.dtype} (variables stay float32)"
        w.assign(ref)
    return mixed


def _check_policy(model, name):
    if model.float32_only:
        assert model.compute_dtype == "float32"
    else:
        assert model.dtype_policy.name == name, model.dtype_policy.name
        assert model.compute_dtype in ("bfloat16", "float16")
        assert model.variable_dtype == "float32"


def _check_close(lp, lp32, precision, exact):
    if exact:
        np.testing.assert_array_equal(lp, lp32)
        return
    rtol, atol = TOLERANCE[precision]
    bound = rtol * np.abs(lp32) + atol
    assert np.all(np.abs(lp - lp32) <= bound), (
        f"{precision} log_prob off float32 by {np.max(np.abs(lp - lp32)):.4g} nats "
        f"(allowed {rtol} |lp| + {atol}): {lp} vs {lp32}"
    )


def _fit(model, x, c, steps):
    """``steps`` fit steps on copies of one batch: the loss is finite and some weight moved."""
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    if model.dtype_policy.name == "mixed_float16":
        # Keras wraps the optimizer itself for mixed_float16 (trainer.compile): no double wrap.
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert not isinstance(model.optimizer.inner_optimizer, keras.optimizers.LossScaleOptimizer)
    data = x if c is None else (x, c)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(len(x)).repeat(steps)
    history = model.fit(ds, epochs=1, verbose=0)
    loss = history.history["loss"][0]
    assert np.isfinite(loss), f"loss {loss}"
    assert np.isfinite(history.history["bits_per_dim"][0])
    changed = [not np.array_equal(w.numpy(), b) for w, b in zip(model.trainable_weights, before)]
    assert any(changed), "no weight changed"
    return changed


# ------------------------------------------------------------------- every model, bfloat16
def _registry_pair(policy, name, preset):
    policy("float32")
    keras.utils.set_random_seed(0)
    reference = ark.models.get(name, preset=preset)
    policy("mixed_bfloat16")
    model = _mixed_copy(name, reference, preset)
    _check_policy(model, "mixed_bfloat16")
    return reference, model


@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_every_model_log_prob_under_bfloat16(policy, name, preset):
    """Smoke test over the registry: (a) and (b) for log_prob, the model's output and the loss."""
    reference, model = _registry_pair(policy, name, preset)
    x, c, _ = _data(model)
    lp = model.log_prob(x, c)
    assert lp.dtype == tf.float32
    _check_close(lp.numpy(), reference.log_prob(x, c).numpy(), "mixed_bfloat16", model.float32_only)
    y_pred = model((x,) if c is None else (x, c))
    assert y_pred.dtype == tf.float32
    assert model.compute_loss(x=(x,) if c is None else (x, c), y_pred=y_pred).dtype == tf.float32
    if model.float32_only:
        return
    # Keras' own ``dtype=`` argument under the float32 global policy builds the same model.
    policy("float32")
    by_argument = _mixed_copy(name, reference, preset, dtype="mixed_bfloat16")
    assert [layer.dtype_policy.name for layer in by_argument._flatten_layers()] == [
        layer.dtype_policy.name for layer in model._flatten_layers()
    ]
    np.testing.assert_array_equal(by_argument.log_prob(x, c).numpy(), lp.numpy())


@pytest.mark.slow
@pytest.mark.parametrize("name,preset", CASES, ids=harness.case_ids(CASES))
def test_every_model_one_fit_step_under_bfloat16(policy, name, preset):
    """(d) over the registry: one bfloat16 step changes every weight (slow: 23 traced train
    steps; the default run fits one model per kind under both policies below)."""
    policy("float32")
    keras.utils.set_random_seed(0)
    reference = ark.models.get(name, preset=preset)
    policy("mixed_bfloat16")
    model = _mixed_copy(name, reference, preset)
    x, c, _ = _data(model)
    changed = _fit(model, x, c, steps=1)
    assert all(changed), "one bfloat16 step left weights unchanged: " + ", ".join(
        w.path for w, ch in zip(model.trainable_weights, changed) if not ch
    )


# --------------------------------------------------------------- one model per kind, both
@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("kind", sorted(PER_KIND))
def test_per_kind_log_prob_outputs_sampling_and_fit(policy, kind, precision):
    name = PER_KIND[kind]
    assert harness.suite_for(ark.models.model_class(name)) == kind
    policy("float32")
    keras.utils.set_random_seed(0)
    reference = ark.models.get(name, preset="tiny")
    tc.sharpen(reference, 1.5)
    policy(precision)
    model = _mixed_copy(name, reference)
    _check_policy(model, precision)
    x, c, L = _data(model, batch=6)
    # (a) + (b)
    lp = model.log_prob(x, c)
    assert lp.dtype == tf.float32
    _check_close(lp.numpy(), reference.log_prob(x, c).numpy(), precision, model.float32_only)
    if model.exact_conditionals:
        clp = model.conditional_log_probs(x, c)
        assert clp.dtype == tf.float32 and clp.shape == x.shape
        np.testing.assert_allclose(
            tf.reduce_sum(tf.reshape(clp, [len(x), -1]), 1).numpy(), lp.numpy(), rtol=1e-5, atol=1e-4
        )
    # Sampling keeps its dtypes: int32 levels, float32 values.
    sc_ = None if not model.num_classes else model.example_conditional(3, L)
    samples = model.sample(3, seed=1, length=L, conditional=sc_)
    assert samples.dtype == (tf.int32 if model.event.discrete else tf.float32)
    assert np.all(np.isfinite(np.asarray(model.log_prob(samples, sc_))))
    # (d) the loss is float32 and finite, the weights move.
    y_pred = model((x,) if c is None else (x, c))
    assert model.compute_loss(x=(x,) if c is None else (x, c), y_pred=y_pred).dtype == tf.float32
    _fit(model, x, c, steps=1 if precision == "mixed_bfloat16" else 12)


# ------------------------------------------------------------------------ (c) normalisation
@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_normalization_image_under_policy(policy, precision):
    policy(precision)
    keras.utils.set_random_seed(0)
    model = ark.models.get("gated_pixelcnn", preset="tiny", image_shape=(2, 2, 1), num_levels=4)
    tc.sharpen(model, 1.5)
    assert model.compute_dtype != "float32"
    tc.check_normalization(model)


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_normalization_sequence_under_policy(policy, precision):
    policy(precision)
    keras.utils.set_random_seed(0)
    model = ark.models.get("wavenet", preset="tiny", num_levels=4)
    tc.sharpen(model, 1.5)
    assert model.compute_dtype != "float32"
    sc.check_normalization(model, length=4)


def test_normalization_video_under_bfloat16(policy):
    policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    model = ark.models.get("vpn", preset="tiny", video_shape=(2, 1, 2, 1), num_levels=2, hidden_dim=2)
    assert model.compute_dtype == "bfloat16"
    tc.check_normalization(model)


def test_attention_model_normalization_under_bfloat16(policy):
    """Attention (softmax over keys, taken in float32) and a transformer's position table."""
    policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    model = ark.models.get("image_transformer", preset="tiny", image_shape=(2, 2, 1), num_levels=3)
    assert model.compute_dtype == "bfloat16"
    tc.check_normalization(model)


def test_float32_only_models_ignore_the_policy(policy):
    """Flows/densities/VAEs: every layer float32 under a mixed policy (class docstring)."""
    policy("mixed_bfloat16")
    for name in ("maf", "iaf", "rnade", "iaf_vae", "pixelvae", "trajectory_rnade"):
        model = ark.models.get(name, preset="tiny")
        assert model.float32_only
        policies = {layer.dtype_policy.name for layer in model._flatten_layers()}
        assert policies == {"float32"}, (name, policies)
    # ... and the global policy is left as it was.
    assert keras.mixed_precision.dtype_policy().name == "mixed_bfloat16"


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_dtype_argument_is_the_models_policy(policy, precision, tmp_path):
    """``dtype=`` gives every layer the policy without touching the global one, survives
    saving, and drives Keras' loss scaling; a float32-only model refuses a mixed one."""
    policy("float32")
    model = ark.models.get("gated_pixelcnn", preset="tiny", dtype=precision)
    _check_policy(model, precision)
    assert {layer.dtype_policy.name for layer in model._flatten_layers()} == {precision}
    assert keras.mixed_precision.dtype_policy().name == "float32"
    x, c, _ = _data(model)
    _fit(model, x, c, steps=1 if precision == "mixed_bfloat16" else 12)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert {layer.dtype_policy.name for layer in loaded._flatten_layers()} == {precision}
    np.testing.assert_array_equal(loaded.log_prob(x).numpy(), model.log_prob(x).numpy())
    with pytest.raises(ValueError, match="float32 only.*dtype='float32'"):
        ark.models.get("maf", preset="tiny", dtype=precision)
    assert ark.models.get("maf", preset="tiny", dtype="float32").compute_dtype == "float32"


def test_float32_only_constructor_error_restores_the_policy(policy):
    policy("mixed_bfloat16")
    with pytest.raises(ValueError):
        ark.models.get("maf", preset="tiny", event_size=0)
    assert keras.mixed_precision.dtype_policy().name == "mixed_bfloat16"


def test_cli_precision_flag(policy, tmp_path):
    """``python -m train --precision mixed_bfloat16`` trains (one short epoch) and restores float32."""
    from train import cli

    policy("float32")
    rc = cli.main(
        [
            *cli_case.train_flags(
                "nade",
                "binary_digits",
                epochs=1,
                precision="mixed_bfloat16",
                verbose=0,
                num_samples=4,
                logdir=tmp_path / "run",
            ),
        ]
    )
    assert rc == 0
    import json

    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["precision"] == "mixed_bfloat16"
    assert np.isfinite(result["test_bits_per_dim"])
