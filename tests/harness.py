"""Which property suite holds a registered model: chosen by its event kind and base, never by name.

A suite holds cases ``(name, preset)``: a registered name and one of its test presets
(``tiny``, and ``tiny_<kind>`` for a model of several event kinds, such as
``sparse_transformer``'s ``tiny_sequence``).  The event kind of a case is what the
class's ``event_kind_of`` says of the preset's arguments (the kind of the class's
``event_class``, for a class of one kind), so that a case is classified without building
its model.

Registering a model is all it takes to put it under test:
`tests/models/test_every_model.py` runs the training contract (`.keras` round trip, one fit
step, MirroredStrategy: tests/contract.py, written once for every kind, with data from the
model's event and conditioning specs) on every case of `cases()`; each kind's suite
parametrises over `cases(suite)` for the kind's own properties;
`tests/models/test_cache_contract.py` compares every cached model's ``step`` with its full
network; tests/test_export.py exports every case and serves it without ar_keras; and
`tests/models/test_registry_coverage.py` fails when a registered model falls under no suite.

=============  ===========================================  =====================================
suite          models                                       module
=============  ===========================================  =====================================
``image``      exact autoregressive, event kind ``image``   tests/models/test_contract.py
``sequence``   exact autoregressive, event kind ``sequence`` tests/models/test_sequence_contract.py
``vector``     continuous densities (`ContinuousModel`)     tests/models/test_continuous_contract.py
``latent``     latent-variable models                       tests/models/test_latent_contract.py
``float_sequence`` float trajectories ``[T, F]`` (event kind  tests/models/test_float_sequence_contract.py
               ``float_sequence``: trajectory_rnade)
``video``      exact autoregressive, event kind ``video``   tests/models/test_video_contract.py
=============  ===========================================  =====================================
"""

import ar_keras as ark

SUITES = ("image", "sequence", "vector", "latent", "float_sequence", "video")


def suite_presets(name):
    """The presets of ``name`` the suites run: ``tiny`` and every ``tiny_<kind>``."""
    return [p for p in ark.models.presets(name) if p == "tiny" or p.startswith("tiny_")]


def event_kind(cls, preset="tiny"):
    """The event kind that preset ``preset`` of model class ``cls`` builds."""
    return cls.event_kind_of(cls.PRESETS.get(preset, {}))


def suite_for(cls, preset="tiny"):
    """The contract suite of preset ``preset`` of a model class, or None when none fits."""
    kind = event_kind(cls, preset)
    if issubclass(cls, ark.models.LatentVariableModel):
        return "latent"
    if issubclass(cls, ark.models.BaseModel) and kind == "float_sequence":
        return "float_sequence"
    if issubclass(cls, ark.models.ContinuousModel):
        return "vector" if kind == "vector" else None
    if issubclass(cls, ark.models.AutoregressiveModel) and kind in ("image", "sequence", "video"):
        return kind
    return None


def cases(suite=None):
    """``(name, preset)`` of every registered model's test presets, those of ``suite`` only
    when it is given; the parametrisation of the suites."""
    return [
        (name, preset)
        for name in ark.models.names()
        for preset in suite_presets(name)
        if suite is None or suite_for(ark.models.model_class(name), preset) == suite
    ]


def names_for(suite):
    """Registered model names with a case in ``suite``."""
    return sorted({name for name, _ in cases(suite)})


def case_ids(cases):
    """Short test ids of ``cases``: the name, with the preset where it is not ``tiny``."""
    return [name if preset == "tiny" else f"{name}-{preset}" for name, preset in cases]
