"""Which property suite holds a registered model: chosen by its event kind and base, never by name.

Registering a model is all it takes to put it under test: each contract suite
parametrises over `names_for(suite)`, and `tests/models/test_registry_coverage.py`
fails when a registered model falls under no suite or no export suite.

=============  ===========================================  =====================================
suite          models                                       module
=============  ===========================================  =====================================
``image``      exact autoregressive, event kind ``image``   tests/models/test_contract.py
``sequence``   exact autoregressive, event kind ``sequence`` tests/models/test_sequence_contract.py
``vector``     continuous densities (`ContinuousModel`)     tests/models/test_continuous_contract.py
``latent``     latent-variable models                       tests/models/test_latent_contract.py
=============  ===========================================  =====================================
"""

import ar_keras as ark

SUITES = ("image", "sequence", "vector", "latent")


def suite_for(cls):
    """The contract suite of a model class, or None when none fits."""
    if issubclass(cls, ark.models.LatentVariableModel):
        return "latent"
    if issubclass(cls, ark.models.ContinuousModel):
        return "vector" if cls.event_kind == "vector" else None
    if issubclass(cls, ark.models.AutoregressiveModel) and cls.event_kind in ("image", "sequence"):
        return cls.event_kind
    return None


def names_for(suite):
    """Registered model names whose contract suite is ``suite``."""
    return [n for n in ark.models.names() if suite_for(ark.models.model_class(n)) == suite]
