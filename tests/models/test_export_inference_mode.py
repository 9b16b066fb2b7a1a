"""A SavedModel scores in inference mode: dropout off, batch norm on its moving statistics.

No tiny preset has dropout or batch normalisation, so the export suite (tests/test_export.py)
cannot tell a SavedModel that scores in training mode from one that does not.  Here the tiny
presets get ``dropout`` (image, sequence) or ``batch_norm`` (MAF), and the exported
``serving_default`` must equal the Keras model's `log_prob`, which must itself differ from the
training-mode score (so the check can fail).
The SavedModels are loaded with `tf.saved_model.load` only (no ar_keras class is used).
"""

import harness
import keras
import numpy as np
import pytest
import tensorflow as tf

import ar_keras as ark
from ar_keras import export

# registry name -> what puts a training-only layer in its tiny preset.
CASES = {
    "pixelcnn_pp": {"dropout": 0.5},
    "image_transformer": {"dropout": 0.5},
    "bytenet": {"dropout": 0.5},
    "maf": {"batch_norm": True},
}


def _data(model, batch=4, seed=0):
    length = 7 if harness.suite_for(type(model)) == "sequence" else None
    return model.event.random(batch, length, seed)


@pytest.mark.parametrize("name", CASES)
def test_saved_model_log_prob_is_the_inference_mode_score(name, tmp_path):
    model = ark.models.get(name, preset="tiny", **CASES[name])
    x = _data(model)
    if name == "maf":
        # One fit step moves the moving statistics away from their initial (0, 1).
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(
            tf.data.Dataset.from_tensor_slices(_data(model, 16, seed=1) * 2.0 + 1.0).batch(16), verbose=0
        )
    inference = model.log_prob(x).numpy()
    loaded = tf.saved_model.load(export.saved_model(model, str(tmp_path / name / "1")))
    serve = loaded.signatures["serving_default"]
    for _ in range(2):  # a training-mode graph would also differ between calls (dropout)
        np.testing.assert_allclose(
            serve(x=tf.constant(x))["log_prob"].numpy(), inference, rtol=1e-5, atol=1e-4
        )
    if "conditional_log_probs" in loaded.signatures:
        np.testing.assert_allclose(
            loaded.signatures["conditional_log_probs"](x=tf.constant(x))["conditional_log_probs"].numpy(),
            model.conditional_log_probs(x).numpy(),
            rtol=1e-5,
            atol=1e-4,
        )
    # Last: a training-mode call also moves batch norm's moving statistics.
    training = model(x, training=True).numpy()[:, 1]  # (objective, log-likelihood)
    assert not np.allclose(training, inference, rtol=1e-4, atol=1e-4), (
        f"{name} with {CASES[name]} scores the same in training mode: the check above could not fail"
    )
