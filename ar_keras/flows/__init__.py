"""Autoregressive flows: MAF / IAF as TFP bijectors on the one Keras 3 MADE layer.

TFP's own ``tfb.AutoregressiveNetwork`` is a Keras 2 (``tf_keras``) layer:
inside a Keras 3 model its weights are not tracked, saved or trained.  Here
every weight lives in a Keras 3 layer (`MADE`, which is
`ar_keras.layers.MADELayer`, and `BatchNorm`), the affine step is written once
(`ar_keras.flows.affine`), and TFP supplies only the bijector algebra::

    made = ark.flows.MADE(params=2, hidden_units=[64, 64], event_size=D)
    tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)   # works as is
    ark.flows.maf([made_1, ..., made_K], permutation="reverse", batch_norm=[...])
    ark.flows.iaf([made_1, ..., made_K])

Cost asymmetry: MAF evaluates densities in one pass and samples in D; IAF
samples in one pass and evaluates outside densities in D.

References: Germain et al., ICML 2015 (MADE); Papamakarios et al., NIPS 2017
(MAF); Kingma et al., NIPS 2016 (IAF).
"""

import keras

from ar_keras.flows import affine
from ar_keras.flows.batch_norm import BatchNorm, BatchNormBijector
from ar_keras.flows.iaf import iaf, iaf_layer
from ar_keras.flows.maf import conditional_kwargs, made_stack, maf, maf_layer
from ar_keras.flows.permutation import PERMUTATIONS, layer_permutations
from ar_keras.layers.made import MADELayer as MADE

# `.keras` files written before the one MADE layer name the flows' MADE "ar_keras>FlowMADE";
# its config keys are a subset of MADELayer's with the same meanings and defaults.
keras.saving.get_custom_objects().setdefault("ar_keras>FlowMADE", MADE)

__all__ = [
    "MADE",
    "affine",
    "BatchNorm",
    "BatchNormBijector",
    "maf",
    "maf_layer",
    "iaf",
    "iaf_layer",
    "made_stack",
    "conditional_kwargs",
    "layer_permutations",
    "PERMUTATIONS",
]
