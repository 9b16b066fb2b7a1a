"""ark.flows.affine: the one affine (and gated) autoregressive step."""

import numpy as np
import pytest
import tensorflow as tf

from ar_keras.flows import affine

rng = np.random.RandomState(0)
Z, SHIFT, LOG_SCALE = (tf.constant(rng.standard_normal((5, 3)).astype(np.float32)) for _ in range(3))


@pytest.mark.parametrize("gated", [False, True])
def test_forward_inverse_log_dets_and_bijector_agree(gated):
    x, log_det = affine.forward(Z, SHIFT, LOG_SCALE, gated)
    z, inv_log_det = affine.inverse(x, SHIFT, LOG_SCALE, gated)
    np.testing.assert_allclose(z.numpy(), Z.numpy(), atol=1e-5)
    np.testing.assert_allclose(inv_log_det.numpy(), -log_det.numpy(), rtol=1e-6)
    np.testing.assert_allclose(log_det.numpy(), affine.log_det(LOG_SCALE, gated).numpy(), rtol=1e-6)
    with tf.GradientTape() as tape:  # elementwise: diagonal Jacobian
        tape.watch(Z)
        out = affine.forward(Z, SHIFT, LOG_SCALE, gated)[0]
    np.testing.assert_allclose(np.log(tape.gradient(out, Z).numpy()), log_det.numpy(), atol=1e-5)
    step = affine.bijector(SHIFT, LOG_SCALE, gated)
    np.testing.assert_allclose(step.forward(Z).numpy(), x.numpy(), atol=1e-5)
    np.testing.assert_allclose(
        step.forward_log_det_jacobian(Z, event_ndims=0).numpy(), log_det.numpy(), atol=1e-6
    )


def test_gated_step_is_kingma_et_al_eq_14():
    sigma = tf.sigmoid(LOG_SCALE + affine.GATE_BIAS).numpy()
    x, log_det = affine.forward(Z, SHIFT, LOG_SCALE, gated=True)
    np.testing.assert_allclose(x.numpy(), sigma * Z.numpy() + (1 - sigma) * SHIFT.numpy(), atol=1e-6)
    np.testing.assert_allclose(log_det.numpy(), np.log(sigma), atol=1e-6)
    plain = affine.forward(Z, SHIFT, LOG_SCALE)[0].numpy()
    np.testing.assert_allclose(plain, Z.numpy() * np.exp(LOG_SCALE.numpy()) + SHIFT.numpy(), rtol=1e-6)
