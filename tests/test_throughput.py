"""Training throughput settings: the CLI's flags and XLA training of every model.

``python -m train`` compiles with ``steps_per_execution`` (default 20) and XLA
(default on where the model's ``supports_jit_training`` holds).  These only
change speed, so: every registered model's ``tiny`` preset (one model of every
contract kind in the default run, the rest marked slow) takes the same steps under
``jit_compile=True, steps_per_execution=2`` (three batches: one full execution and a
partial one) as under Keras' plain defaults; the flags parse, refuse bad values and reach
``compile``.
"""

import cli_case
import harness
import keras
import numpy as np
import pytest
import tensorflow as tf

import ar_keras as ark
from train import cli


def _data(model, batch, seed=0):
    length = 6 if model.event.free_length else None
    x = model.event.zeros(batch, length)
    if model.event.discrete:
        x = tf.random.stateless_uniform(x.shape, [seed, 1], 0, model.num_levels, tf.int32)
    c = model.example_conditional(batch, length)
    return x if c is None else (x, c)


def _fit(name, jit, steps_per_execution, batches=3, batch=4):
    keras.utils.set_random_seed(0)
    model = ark.models.get(name, preset="tiny")
    data = tf.data.Dataset.from_tensor_slices(_data(model, batches * batch)).batch(batch)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), jit_compile=jit, steps_per_execution=steps_per_execution
    )
    history = model.fit(data, epochs=1, verbose=0)
    return model, history.history["loss"][0]


#: Kept in the default run: made and nade, and one model of every other contract kind
#: (tests/harness.py); the others are slow (an XLA compile per model, ~20 min for the registry
#: on 2 busy cores): `pytest -m slow tests/test_throughput.py`.
FAST = ("made", "nade", "wavenet", "rnade", "iaf_vae", "trajectory_rnade", "vpn")


def test_the_default_run_trains_one_model_of_every_kind():
    kinds = {harness.suite_for(ark.models.model_class(n)) for n in FAST}
    assert kinds == set(harness.SUITES), f"no model of kinds {set(harness.SUITES) - kinds} in FAST"
    assert all(ark.models.model_class(n).supports_jit_training for n in FAST)


@pytest.mark.parametrize(
    "name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in ark.models.names()]
)
def test_xla_multi_step_training_equals_plain(name):
    cls = ark.models.model_class(name)
    if not cls.supports_jit_training:
        # The opt-out must say why, and the CLI must refuse to force XLA on the model.
        assert cls.jit_training_note, f"{name}: supports_jit_training=False needs jit_training_note"
        model = ark.models.get(name, preset="tiny")
        args = cli.build_parser().parse_args(["--model", name, "--jit-compile"])
        with pytest.raises(ValueError, match="cannot be trained under XLA"):
            cli.compile_options(model, args)
        assert not cli.compile_options(model, cli.build_parser().parse_args(["--model", name]))["jit_compile"]
        return
    plain, plain_loss = _fit(name, jit=False, steps_per_execution=1)
    fast, fast_loss = _fit(name, jit=True, steps_per_execution=2)
    assert fast.jit_compile, f"{name}: Keras turned XLA off (a layer with supports_jit=False?)"
    assert np.isfinite(fast_loss)
    if issubclass(cls, ark.models.LatentVariableModel):
        # The posterior noise is the same Philox stream, but XLA turns its bits into normals
        # by another transform than TF's CPU kernel: an equally valid draw, not the same one.
        # So: the same objective to within the noise, and every weight trained.
        np.testing.assert_allclose(fast_loss, plain_loss, rtol=0.05)
        keras.utils.set_random_seed(0)
        initial = ark.models.get(name, preset="tiny")  # same seed: the weights before fit
        for a, b in zip(fast.trainable_weights, initial.trainable_weights):
            assert not np.array_equal(a.numpy(), b.numpy()), f"{name}: {a.path} not trained under XLA"
        return
    np.testing.assert_allclose(fast_loss, plain_loss, rtol=1e-3, atol=1e-3)
    for a, b in zip(fast.trainable_weights, plain.trainable_weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4, err_msg=f"{name}: {a.path}")


def test_cli_parses_throughput_flags():
    parser = cli.build_parser()
    args = parser.parse_args(["--model", "nade"])
    assert args.steps_per_execution is None and args.jit_compile is None
    args = parser.parse_args(["--model", "nade", "--steps-per-execution", "5", "--no-jit-compile"])
    assert args.steps_per_execution == 5 and args.jit_compile is False
    assert parser.parse_args(["--model", "nade", "--jit-compile"]).jit_compile is True


def test_compile_options_defaults_and_opt_out(monkeypatch):
    model = ark.models.get("nade", preset="tiny")
    parse = cli.build_parser().parse_args
    # A model whose step XLA compiles but where it does not pay (in XLA_SLOWER_ON_CPU):
    # off by default, on when asked for.
    monkeypatch.setattr(cli, "XLA_SLOWER_ON_CPU", frozenset({"nade"}))
    assert cli.compile_options(model, parse(["--model", "nade"])) == {
        "steps_per_execution": cli.DEFAULT_STEPS_PER_EXECUTION,
        "jit_compile": False,
    }
    assert cli.compile_options(model, parse(["--model", "nade", "--jit-compile"]))["jit_compile"] is True
    model = ark.models.get("made", preset="tiny")
    assert cli.compile_options(model, parse(["--model", "made"])) == {
        "steps_per_execution": cli.DEFAULT_STEPS_PER_EXECUTION,
        "jit_compile": True,
    }
    assert cli.compile_options(model, parse(["--model", "made", "--no-jit-compile"]))["jit_compile"] is False
    # Keras' own rule: no XLA under a tf.distribute strategy unless asked for.
    assert (
        cli.compile_options(model, parse(["--model", "made", "--strategy", "mirrored"]))["jit_compile"]
        is False
    )
    with pytest.raises(ValueError, match="steps-per-execution"):
        cli.compile_options(model, parse(["--model", "made", "--steps-per-execution", "0"]))
    model.supports_jit_training, model.jit_training_note = False, "an op XLA lacks"
    assert cli.compile_options(model, parse(["--model", "made"]))["jit_compile"] is False
    with pytest.raises(ValueError, match="an op XLA lacks"):
        cli.compile_options(model, parse(["--model", "made", "--jit-compile"]))


class _Compiled(Exception):
    pass


@pytest.mark.parametrize(
    "flags, expected",
    [
        ([], {"steps_per_execution": cli.DEFAULT_STEPS_PER_EXECUTION, "jit_compile": True}),
        (
            ["--steps-per-execution", "3", "--no-jit-compile"],
            {"steps_per_execution": 3, "jit_compile": False},
        ),
    ],
)
def test_cli_compile_receives_the_flags(flags, expected, monkeypatch, tmp_path):
    seen = {}

    def compile(self, *args, **kwargs):
        seen.update(kwargs)
        raise _Compiled  # stop the run here: only what compile receives is under test

    monkeypatch.setattr(ark.models.BaseModel, "compile", compile)
    with pytest.raises(_Compiled):
        cli.main([*cli_case.train_flags("made", "binary_digits", logdir=tmp_path), *flags])
    assert {k: seen[k] for k in expected} == expected


def test_cli_refuses_bad_steps_per_execution(tmp_path, capsys):
    assert (
        cli.main(
            [
                *cli_case.train_flags("nade", "binary_digits", logdir=tmp_path, steps_per_execution=0),
            ]
        )
        == 2
    )
    assert "--steps-per-execution must be >= 1" in capsys.readouterr().err


def test_execution_plan_evens_executions_over_a_pass():
    # digits: 21 batches of 64 per pass; 20 steps per execution asked for
    assert cli.execution_plan(21, 20) == (11, 22)
    assert cli.execution_plan(40, 20) == (20, 40)
    assert cli.execution_plan(11, 2) == (2, 12)
    assert cli.execution_plan(5, 20) == (5, 5)
    assert cli.execution_plan(7, 1) == (1, 7)
    for batches in range(1, 200):
        for spe in (1, 2, 7, 20, 64):
            size, steps = cli.execution_plan(batches, spe)
            executions = steps // size
            assert size <= spe and steps % size == 0 and steps >= batches
            assert steps - batches < executions  # less than a step per execution over
            assert executions == -(-batches // spe)  # as few executions as cover the pass


def test_multiworker_runs_one_step_per_execution():
    model = ark.models.get("nade", preset="tiny")
    parse = cli.build_parser().parse_args
    options = cli.compile_options(model, parse(["--model", "nade", "--strategy", "multiworker"]))
    assert options == {"steps_per_execution": 1, "jit_compile": False}
    with pytest.raises(ValueError, match="steps-per-execution 1"):
        cli.compile_options(
            model, parse(cli_case.flags(model="nade", strategy="multiworker", steps_per_execution=20))
        )
