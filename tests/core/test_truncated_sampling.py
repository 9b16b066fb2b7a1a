"""Top-k / top-p sampling on every model: no draw outside the kept set of its conditional.

For each registered case whose head is discrete (every exact autoregressive model), with
weights perturbed away from their (often tied) initial values: ``sample(top_k=2)`` and
``sample(top_p=0.6)`` at temperature 0.7 (the latter cached and by full recompute).  The
conditionals of the drawn sample are the full network's on that sample (``element_params``:
causal, so element d's parameters see only the elements drawn before it), so every drawn
element must lie in the kept set of its tempered conditional (`Truncation.kept`; the dual
softmax's coarse and fine parts each).  The cached path draws what full recompute draws, a
truncation that keeps every level changes no sample, ``top_k=1`` draws one sample for every
key, and the other models (continuous heads, latent variables) refuse ``top_k`` / ``top_p``
with an error that says why.
"""

import contract
import harness
import numpy as np
import pytest
import tensorflow as tf

import ar_keras as ark
from ar_keras.core import sampler
from ar_keras.distributions import Bernoulli, DiscretizedLogisticMixture, DualSoftmax, SigmoidCrossEntropy
from ar_keras.distributions.truncation import Truncation

CASES = harness.cases()
#: The default run's cases: every kind of discrete head and of sampling order (categorical
#: raster, Bernoulli, the logistic mixture, the dual softmax, sequences, multiscale groups,
#: subscale slices, video after its context frames) and one refusal of each kind (a flow, a
#: continuous density, a latent-variable model, a trajectory model); the whole registry
#: runs with the slow checks.
DEFAULT = {
    "gated_pixelcnn",
    "made",
    "pixelcnn_pp",
    "wavernn",
    "wavenet",
    "multiscale",
    "subscale",
    "vpn",
    "maf",
    "rnade",
    "pixelvae",
    "trajectory_rnade",
}
PARAMS = [
    pytest.param(name, preset, marks=() if name in DEFAULT else pytest.mark.slow, id=case_id)
    for (name, preset), case_id in zip(CASES, harness.case_ids(CASES))
]
N, TEMPERATURE = 8, 0.7


def _level_kept(head, params, values, truncation):
    """Whether each drawn value ``[n, D]`` lies in the kept set of its conditional ``params
    [n, D, P]`` (the head's tempered level logits; the dual softmax's two parts)."""
    if isinstance(head, DualSoftmax):
        c, f = values // head.num_fine, values % head.num_fine
        coarse = truncation.kept(head._coarse_logits(params) / TEMPERATURE)
        fine = truncation.kept(head._fine_logits(params, c) / TEMPERATURE)
        return tf.gather(coarse, c, batch_dims=2) & tf.gather(fine, f, batch_dims=2)
    if isinstance(head, Bernoulli | SigmoidCrossEntropy):
        logit = tf.cast(params, tf.float32)[..., 0] / TEMPERATURE
        logits = tf.stack([tf.zeros_like(logit), logit], -1)
        values = tf.cast(values > 0, tf.int32)  # level 0 or the upper level
    elif isinstance(head, DiscretizedLogisticMixture):
        logits = head.level_log_probs(params) / TEMPERATURE
    else:
        logits = tf.cast(params, tf.float32) / TEMPERATURE
    return tf.gather(truncation.kept(logits), values, batch_dims=2)


@pytest.mark.parametrize("name,preset", PARAMS)
def test_truncated_draws_stay_in_the_kept_set(name, preset):
    model = ark.models.get(name, preset=preset)
    x0 = contract.examples(model, N)
    length = contract.length_of(model)
    c = None if len(x0) == 1 else x0[1]
    if not model.supports_truncation:
        with pytest.raises(ValueError, match="top_k / top_p truncate a discrete conditional"):
            model.sample(
                2, conditional=c if c is None else contract.take(c, slice(0, 2)), top_k=2, length=length
            )
        return
    _check_truncated_sampling(model, model.check_conditional(c, batch=N, length=length), length)


#: Configurations that draw in ways the tiny presets do not: subscale's two passes of depth
#: upscaling (msb, then lsb given msb; no single network to read the conditionals from)
#: and WaveRNN's staggered subscale groups with its coarse-then-fine staged draw.
OTHER = {
    "subscale-depth": ("subscale", {"depth_upscaling": True, "num_levels": 8, "msb_bits": 1}, None),
    "wavernn-subscale": ("wavernn", {"num_levels": 16, "subscale": 2, "horizon": 1}, 8),
}


@pytest.mark.parametrize("case", sorted(OTHER))
def test_truncated_sampling_of_other_draws(case):
    name, overrides, length = OTHER[case]
    model = ark.models.get(name, preset="tiny", **overrides)
    _check_truncated_sampling(model, None, length, conditionals=not getattr(model, "depth_upscaling", False))


def _check_truncated_sampling(model, c, length, conditionals=True):
    """Everything kept changes nothing, greedy draws one sample, cached equals full
    recompute, and (``conditionals``) every drawn element lies in the kept set of its
    conditional."""
    contract.perturb(model, 0.5)
    untruncated = model.sample(N, conditional=c, seed=4, temperature=TEMPERATURE, length=length)
    everything = model.sample(
        N, conditional=c, seed=4, temperature=TEMPERATURE, length=length, top_k=model.num_levels, top_p=1.0
    )
    np.testing.assert_array_equal(everything.numpy(), untruncated.numpy())
    if c is None:  # greedy (top_k = 1, no ties after the perturbation): one sample for every seed
        greedy = model.sample(N, seed=6, temperature=TEMPERATURE, length=length, top_k=1).numpy()
        assert (greedy == greedy[:1]).all(), "top_k=1 drew different samples"
    for truncation, cache in ((Truncation(top_k=2), True), (Truncation(top_p=0.6), False)):
        kwargs = {"top_k": truncation.top_k, "top_p": truncation.top_p}
        x = model.sample(N, conditional=c, seed=5, temperature=TEMPERATURE, length=length, **kwargs)
        if not cache:  # one truncation each way: cached against full recompute
            full = model.sample(
                N, conditional=c, seed=5, temperature=TEMPERATURE, length=length, cache=False, **kwargs
            )
            np.testing.assert_array_equal(x.numpy(), full.numpy())
        if not conditionals:
            continue
        flat = tf.reshape(x, [N, -1])  # [n, *event] -> [n, D]
        D = flat.shape[1]
        with model.precision_scope():
            params = model.element_params(flat, c)  # [n, D, P]
        kept = _level_kept(model.head, params, flat, truncation).numpy()  # [n, D]
        prefix, start = model.sampling_prefix(N, D, c)
        drawn = sampler.element_steps(model.sampling_groups(D), D).numpy() >= (
            start if prefix is not None else 0
        )
        outside = np.argwhere(~kept[:, drawn])
        assert not len(outside), f"{len(outside)} draws outside the {truncation} set, e.g. {outside[:3]}"
