"""Exports of every registered model, run without ar_keras.

Every ``(name, preset)`` case of `harness.cases()`, and one class-conditional case per
contract suite (the suite's first model that takes ``num_classes``), and the configurations of
`SHAPES` (RGB and non-square images, ...) are exported once with
Keras' ``model.export(path)`` (a SavedModel with the model's `export_signatures`) and, where
``model.supports_tflite``, ``model.export(path + ".tflite", format="litert")``; one fixed-batch
TFLite file (`FIXED`) is written too.  ONE subprocess that never imports ar_keras (`_LOADER`)
loads every artifact with `tf.saved_model.load` and LiteRT's `Interpreter`, makes the calls each
case's plan lists (`_plan`: inputs from the model's event and conditioning specs) and writes the
outputs, signatures and error messages to files.  The tests compare them with the Keras models
in this process:

* SavedModel: the signatures and their inputs (``serving_default`` = log_prob,
  ``conditional_log_probs`` where exact, ``sample`` with ``seeds``, ``temperature`` and
  ``length`` for free-length events, ``elbo`` for latent models, ``log_prob_given_<part>`` /
  ``sample_given_<part>`` for an optional conditioning part such as vpn's context frames);
  their outputs equal ``log_prob``, ``conditional_log_probs``, ``elbo`` and seeded ``sample``
  at two temperatures; bad input raises inside the graph with the eager message;
* TFLite: ``log_prob`` and ``sample_from_noise`` (dynamic batch, and fixed for `FIXED`) equal
  the model's, and the seeded noise gives ``model.sample(n, seed=...)``;
* a model without a TFLite export says so (``supports_tflite``) and refuses it clearly.
"""

import inspect
import os
import textwrap
import zlib

import contract
import export_case
import harness
import keras
import numpy as np
import pytest
import tensorflow as tf

import ar_keras as ark
from ar_keras import export
from ar_keras.core.conditioning import ContextFrames


def _takes_labels(name, preset):
    """Whether the model builds class-conditional (vpn refuses labels: its conditional is
    context frames)."""
    if "num_classes" not in inspect.signature(ark.models.model_class(name).__init__).parameters:
        return False
    try:
        ark.models.get(name, preset=preset, num_classes=3)
    except ValueError as e:
        if "num_classes" not in str(e):
            raise
        return False
    return True


def _conditional_cases():
    """One class-conditional case per suite: its first case whose model takes class labels."""
    out = []
    for suite in harness.SUITES:
        for name, preset in harness.cases(suite):
            if _takes_labels(name, preset):
                out.append((name, preset, (("num_classes", 3),)))
                break
    return out


#: Configurations the tiny presets do not reach: RGB channel order and non-square images, a
#: mixture base, no permutation, a trajectory window of 3 with factored contexts.
SHAPES = [
    ("pixelcnn_pp", "tiny", (("image_shape", (3, 2, 3)),)),
    ("pixelsnail", "tiny", (("image_shape", (2, 3, 3)),)),
    ("spatial_lstm", "tiny", (("image_shape", (2, 3, 3)),)),
    ("image_transformer", "tiny", (("image_shape", (2, 2, 3)),)),
    ("sparse_transformer", "tiny", (("image_shape", (2, 2, 2)),)),
    ("maf", "tiny", (("base", "mog"), ("num_classes", 3), ("num_mixtures", 2))),
    ("iaf", "tiny", (("permutation", "none"),)),
    ("trajectory_rnade", "tiny", (("context_factors", (2, 3)), ("num_classes", 6), ("window", 3))),
]


def _case_id(case_id, overrides):
    """A case's test id: the harness's, with its overrides."""
    if not overrides:
        return case_id
    if dict(overrides) == {"num_classes": 3}:
        return case_id + "-labels"
    return case_id + "-" + "-".join(f"{k}={v}" for k, v in overrides).replace(" ", "")


#: ``(name, preset, overrides)``: every case of the harness, the conditional ones, then `SHAPES`;
#: ``overrides`` a tuple of ``(argument, value)`` pairs (cases are hashable).
CASES = [(name, preset, ()) for name, preset in harness.cases()] + _conditional_cases() + SHAPES
IDS = [_case_id(i, c[2]) for i, c in zip(harness.case_ids([c[:2] for c in CASES]), CASES)]
FIXED = ("nade", "tiny", ())  # also exported to TFLite with fixed batch sizes (2, 2)
BATCH = 3  # examples per log_prob call
SEEDS = [5, 123, 2024]  # seeds of the SavedModel `sample` calls
NOISE_SEED = 11  # the TFLite sampler's noise is `seeded_noise(NOISE_SEED, BATCH, D, depth)`


def _supports_tflite(case):
    return ark.models.model_class(case[0]).supports_tflite


TFLITE_CASES = [c for c in CASES if _supports_tflite(c)]
NO_TFLITE_CASES = [c for c in CASES if not _supports_tflite(c)]


def _ids(cases):
    return [IDS[CASES.index(c)] for c in cases]


# Runs in a fresh interpreter: TensorFlow and LiteRT only, never ar_keras.  Each entry's
# "calls" name a signature, its inputs (keys of the entry's .npz) and the output to keep;
# a call with "error" must raise, and its message is kept.
_LOADER = textwrap.dedent(r"""
    import json, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)

    manifest = json.load(open(sys.argv[1]))
    for entry in manifest["models"]:
        inp = dict(np.load(entry["inputs"]))
        out, info = {}, {"errors": {}, "tflite": {}}
        sigs = tf.saved_model.load(entry["saved_model"]).signatures
        info["signatures"] = {
            k: {"inputs": sorted(f.structured_input_signature[1]), "outputs": sorted(f.structured_outputs)}
            for k, f in sigs.items()}
        for call in entry["calls"]:
            args = {k: tf.constant(inp[v]) for k, v in call["args"].items()}
            if call.get("error"):
                try:
                    sigs[call["signature"]](**args)
                    info["errors"][call["out"]] = None
                except tf.errors.InvalidArgumentError as e:
                    info["errors"][call["out"]] = e.message
            else:
                out[call["out"]] = sigs[call["signature"]](**args)[call["output"]].numpy()
        for tag, path in entry["tflite"].items():
            interp = Interpreter(model_path=path, num_threads=1)
            info["tflite"][tag] = {
                k: {"inputs": sorted(v["inputs"]), "outputs": sorted(v["outputs"]),
                    "shapes": {n: d["shape_signature"].tolist()
                               for n, d in interp.get_signature_runner(k).get_input_details().items()}}
                for k, v in interp.get_signature_list().items()}
            for call in entry["lite_calls"][tag]:
                runner = interp.get_signature_runner(call["signature"])
                out[call["out"]] = runner(**{k: inp[v] for k, v in call["args"].items()})[call["output"]]
        np.savez(entry["outputs"], **out)
        json.dump(info, open(entry["info"], "w"))

    json.dump({"ar_keras_imported": "ar_keras" in sys.modules,
               "modules": sorted(m for m in sys.modules if m.startswith("ar_keras"))},
              open(manifest["done"], "w"))
    assert "ar_keras" not in sys.modules
""")


def build(case):
    """The case's model, its weights from its own seed (whatever ran before) moved off the init."""
    name, preset, overrides = case
    # The seed of a case's weights: its key, with a labels-only case keyed by its label count.
    named = dict(overrides)
    key = (name, preset, named.get("num_classes") if set(named) <= {"num_classes"} else overrides)
    seed = zlib.crc32(repr(key).encode()) % 2**31
    keras.utils.set_random_seed(seed)
    model = ark.models.get(name, preset=preset, **dict(overrides))
    contract.perturb(model, 0.3, seed=seed)
    return model


def temperature_of(model):
    """The second temperature of the `sample` calls, far enough from 1 to change the samples:
    a much sharper law."""
    return 0.05 if model.event.discrete else 0.3


def _required(model, conditional):
    """``{export name: value}`` of the required conditioning parts of ``conditional``."""
    names = {s.name for s in model.conditional_specs()}
    return {k: v for k, v in model.conditioning.to_named(conditional).items() if k in names}


def _labels_name(model):
    part = model.conditioning.part("labels")
    return None if part is None else part.export_name


def _inputs(model):
    """Every input array of one case's calls (a .npz), and T of a free-length model."""
    T = contract.length_of(model)
    x, c = contract.examples(model, BATCH, T, seed=1)
    inp = {
        "x": x,
        "seeds": np.array(SEEDS, np.int64),
        "t_one": np.float32(1.0),
        "t": np.float32(temperature_of(model)),
        "t_zero": np.float32(0.0),
    }
    bad = x.copy()
    if model.event.discrete:
        bad.reshape(BATCH, -1)[0, -1] = model.num_levels  # one level == K
        inp["x_negative"] = -bad
    else:
        bad.reshape(BATCH, -1)[0, 0] = np.nan
    inp["x_bad"] = bad
    if T is not None:
        inp["length"], inp["length_zero"] = np.int32(T), np.int32(0)
        if model.min_length > 1:
            inp["length_short"] = np.int32(model.min_length - 1)
            inp["x_short"] = x[:, : model.min_length - 1]
    sample_c = model.conditioning.random(len(SEEDS), T, seed=7)
    noise_c = model.conditioning.random(BATCH, T, seed=9)
    for key, value in _required(model, c).items():
        inp["c_" + key] = value
    for key, value in _required(model, sample_c).items():
        inp["sc_" + key] = value
    for key, value in _required(model, noise_c).items():
        inp["nc_" + key] = value
    labels = _labels_name(model)
    if labels is not None:
        inp["c_bad_" + labels] = np.full([BATCH], model.num_classes, np.int32)
        inp["sc_short_" + labels] = inp["sc_" + labels][:1]
    for part in model.conditioning.parts:
        if not part.required:
            value = part.random(BATCH, None, seed=3)
            if isinstance(part, ContextFrames):
                value = contract.context_of(part, x)
            inp["opt_" + part.export_name] = value
    D = model.event.num_elements(T)
    inp["noise"] = ark.sampling.seeded_noise(NOISE_SEED, BATCH, D, model.noise_depth).numpy()
    return inp, T


def expected_signatures(model):
    """``{signature: (inputs, outputs)}`` that the model's SavedModel must have, from its specs."""
    cond = sorted(s.name for s in model.conditional_specs())
    sample_in = ["seeds", "temperature"] + (["length"] if model.event.free_length else [])
    sigs = {
        "serving_default": (sorted(cond + ["x"]), ["log_prob"]),
        "sample": (sorted(cond + sample_in), ["samples"]),
    }
    if model.exact_conditionals:
        sigs["conditional_log_probs"] = (sorted(cond + ["x"]), ["conditional_log_probs"])
    if isinstance(model, ark.models.LatentVariableModel):
        sigs["elbo"] = (["x"], ["elbo"])
    for part in model.conditioning.parts:
        if not part.required:
            sigs["log_prob_given_" + part.key] = (sorted([part.export_name, "x"]), ["log_prob"])
            sigs["sample_given_" + part.key] = (
                sorted([part.export_name, "seeds", "temperature"]),
                ["samples"],
            )
    return sigs


def _plan(model, inp, tflite_tags):
    """The SavedModel and TFLite calls of one case (see `_LOADER`)."""
    sigs = expected_signatures(model)
    c = {k[2:]: k for k in inp if k.startswith("c_") and not k.startswith("c_bad_")}
    sc = {k[3:]: k for k in inp if k.startswith("sc_") and not k.startswith("sc_short_")}
    nc = {k[3:]: k for k in inp if k.startswith("nc_")}
    length = {"length": "length"} if "length" in inp else {}
    sample = dict(seeds="seeds", **length, **sc)
    calls = [
        {
            "out": "sm_log_prob",
            "signature": "serving_default",
            "args": dict(x="x", **c),
            "output": "log_prob",
        },
        {
            "out": "sm_samples",
            "signature": "sample",
            "args": dict(temperature="t_one", **sample),
            "output": "samples",
        },
        {
            "out": "sm_samples_t",
            "signature": "sample",
            "args": dict(temperature="t", **sample),
            "output": "samples",
        },
    ]
    if "conditional_log_probs" in sigs:
        calls.append(
            {
                "out": "sm_conditional_log_probs",
                "signature": "conditional_log_probs",
                "args": dict(x="x", **c),
                "output": "conditional_log_probs",
            }
        )
    if "elbo" in sigs:
        calls.append({"out": "sm_elbo", "signature": "elbo", "args": {"x": "x"}, "output": "elbo"})
    for part in model.conditioning.parts:
        if not part.required:
            opt = {part.export_name: "opt_" + part.export_name}
            calls.append(
                {
                    "out": "sm_log_prob_given_" + part.key,
                    "signature": "log_prob_given_" + part.key,
                    "args": dict(x="x", **opt),
                    "output": "log_prob",
                }
            )
            inp["opt_sample_" + part.export_name] = inp["opt_" + part.export_name][: len(SEEDS)]
            calls.append(
                {
                    "out": "sm_sample_given_" + part.key,
                    "signature": "sample_given_" + part.key,
                    "args": {
                        "seeds": "seeds",
                        "temperature": "t_one",
                        part.export_name: "opt_sample_" + part.export_name,
                    },
                    "output": "samples",
                }
            )
    errors = {
        "x_bad": ("serving_default", dict(x="x_bad", **c)),
        "temperature_zero": ("sample", dict(temperature="t_zero", **sample)),
    }
    if "x_negative" in inp:
        score = "conditional_log_probs" if "conditional_log_probs" in sigs else "serving_default"
        errors["x_negative"] = (score, dict(x="x_negative", **c))
    labels = _labels_name(model)
    if labels is not None:
        errors["label_out_of_range"] = ("serving_default", dict(x="x", **{**c, labels: "c_bad_" + labels}))
        errors["label_count"] = (
            "sample",
            dict(temperature="t_one", **{**sample, labels: "sc_short_" + labels}),
        )
    if length:
        errors["length_zero"] = ("sample", dict(temperature="t_one", **{**sample, "length": "length_zero"}))
    if "x_short" in inp:
        errors["x_short"] = ("serving_default", dict(x="x_short", **c))
        errors["length_short"] = ("sample", dict(temperature="t_one", **{**sample, "length": "length_short"}))
    for name, (signature, args) in errors.items():
        calls.append({"out": name, "signature": signature, "args": args, "error": True})

    lite_calls = {}
    for tag in tflite_tags:
        if tag == "fixed":
            for key, value in list(inp.items()):
                if key in ("x", "noise") or key.startswith(("c_", "nc_")):
                    if not key.startswith("c_bad_"):
                        inp["fixed_" + key] = value[:2]
        p = "fixed_" if tag == "fixed" else ""
        lc = {k: p + v for k, v in c.items()}
        lnc = {k: p + v for k, v in nc.items()}
        lite_calls[tag] = [
            {
                "out": f"tfl_{tag}_log_prob",
                "signature": "log_prob",
                "args": dict(x=p + "x", **lc),
                "output": "log_prob",
            },
            {
                "out": f"tfl_{tag}_samples",
                "signature": "sample_from_noise",
                "args": dict(noise=p + "noise", temperature="t_one", **lnc),
                "output": "samples",
            },
            {
                "out": f"tfl_{tag}_samples_t",
                "signature": "sample_from_noise",
                "args": dict(noise=p + "noise", temperature="t", **lnc),
                "output": "samples",
            },
        ]
    return calls, lite_calls


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    models, entries = {}, []
    for case, case_id in zip(CASES, IDS):
        model = build(case)
        sm_dir = os.path.join(root, "saved_models", case_id, "1")  # parents do not exist yet
        model.export(sm_dir, verbose=False)
        tflite = {}
        if model.supports_tflite:
            tflite["dynamic"] = os.path.join(root, case_id + ".tflite")
            model.export(tflite["dynamic"], format="litert", verbose=False)
        if case == FIXED:
            tflite["fixed"] = os.path.join(root, case_id + "_fixed.tflite")
            assert export.tflite(model, tflite["fixed"], batch_size=2, num_samples=2) == tflite["fixed"]
        inp, T = _inputs(model)
        calls, lite_calls = _plan(model, inp, list(tflite))
        entries.append(
            export_case.entry(
                root, case_id, saved_model=sm_dir, tflite=tflite, calls=calls, lite_calls=lite_calls
            )
        )
        np.savez(entries[-1]["inputs"], **inp)
        models[case_id] = (model, T)
    results, done = export_case.serve(_LOADER, root, entries, timeout=600, single_thread=True)
    return {"models": models, "results": results, "done": done}


def _get(exported, case):
    case_id = IDS[CASES.index(case)]
    model, T = exported["models"][case_id]
    return model, T, exported["results"][case_id]


def _conditional(model, inp, prefix, rows=None):
    """The Keras ``conditional`` of the inputs named ``prefix + export name`` (rows ``rows``)."""
    named = {
        s.name: tf.constant(inp[prefix + s.name][rows] if rows is not None else inp[prefix + s.name])
        for s in model.conditional_specs()
    }
    return model.make_conditional(named) if named else None


def _assert_close(model, got, want, **tol):
    """Exact for integer samples, to ``tol`` for floats."""
    if model.event.discrete:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, **tol)


# ------------------------------------------------------------------ SavedModel
def test_every_registered_name_is_exported():
    assert {c[0] for c in CASES} == set(ark.models.names())
    assert FIXED in TFLITE_CASES


def test_loader_never_imported_ar_keras(exported):
    assert not exported["done"]["ar_keras_imported"], exported["done"]["modules"]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_saved_model_signatures(exported, case):
    model, _, r = _get(exported, case)
    sigs = r["info"]["signatures"]
    want = expected_signatures(model)
    assert set(sigs) == set(want)
    for name, (inputs, outputs) in want.items():
        assert sigs[name] == {"inputs": inputs, "outputs": outputs}, name
    # TF Serving reads <base>/<version>: nothing but the SavedModel itself in it.
    entries = set(os.listdir(r["saved_model"]))
    assert (
        {"saved_model.pb", "variables"}
        <= entries
        <= {"saved_model.pb", "variables", "assets", "fingerprint.pb"}
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_saved_model_scores_match_the_model(exported, case):
    model, _, r = _get(exported, case)
    inp, out = r["inp"], r["out"]
    c = _conditional(model, inp, "c_")
    want = model.log_prob(inp["x"], c).numpy()
    assert out["sm_log_prob"].shape == (BATCH,) and out["sm_log_prob"].dtype == np.float32
    np.testing.assert_allclose(out["sm_log_prob"], want, rtol=1e-4, atol=1e-4)
    if model.exact_conditionals:
        want = model.conditional_log_probs(inp["x"], c).numpy()
        assert out["sm_conditional_log_probs"].shape == inp["x"].shape
        np.testing.assert_allclose(out["sm_conditional_log_probs"], want, rtol=1e-4, atol=1e-4)
    if isinstance(model, ark.models.LatentVariableModel):
        np.testing.assert_allclose(out["sm_elbo"], model.elbo(inp["x"]).numpy(), rtol=1e-4, atol=1e-4)
    for part in model.conditioning.parts:
        if not part.required:
            given = inp["opt_" + part.export_name]
            got = out["sm_log_prob_given_" + part.key]
            np.testing.assert_allclose(got, model.log_prob(inp["x"], given).numpy(), rtol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_saved_model_sample_matches_model_sample(exported, case):
    model, T, r = _get(exported, case)
    inp, out = r["inp"], r["out"]
    assert out["sm_samples"].shape == (len(SEEDS),) + model.event.event_shape(T)
    assert out["sm_samples"].dtype == model.event.dtype.as_numpy_dtype
    for j, seed in enumerate(SEEDS):
        sc = _conditional(model, inp, "sc_", slice(j, j + 1))
        # sample(seeds=[s])[j] == model.sample(1, seed=s)[0]: both use the key (s, 0).
        for key, t in (("sm_samples", 1.0), ("sm_samples_t", temperature_of(model))):
            want = model.sample(1, conditional=sc, seed=seed, temperature=t, length=T).numpy()[0]
            _assert_close(model, out[key][j], want, rtol=1e-4, atol=1e-4)
    for part in model.conditioning.parts:
        if not part.required:
            given = inp["opt_sample_" + part.export_name]
            for j, seed in enumerate(SEEDS):
                want = model.sample(1, conditional=given[j : j + 1], seed=seed).numpy()[0]
                _assert_close(model, out["sm_sample_given_" + part.key][j], want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_saved_model_rejects_bad_input(exported, case):
    model, _, r = _get(exported, case)
    errors = r["info"]["errors"]
    for name, message in errors.items():
        assert message is not None, f"{name}: the SavedModel answered instead of raising"
    expected = {"x_bad", "temperature_zero"}
    if model.event.discrete:
        expected.add("x_negative")
        levels = f"x must hold values in [0, {model.num_levels})"
        assert levels in errors["x_bad"] and levels in errors["x_negative"]
    else:
        assert "x must be finite" in errors["x_bad"]
    assert "temperature must be a finite number > 0" in errors["temperature_zero"]
    if model.conditioning.part("labels") is not None:
        expected |= {"label_out_of_range", "label_count"}
        assert f"class ids in [0, {model.num_classes})" in errors["label_out_of_range"]
        assert "one label per seed" in errors["label_count"]
    if model.event.free_length:
        expected.add("length_zero")
        assert "length must be a positive number of steps" in errors["length_zero"]
        if model.min_length > 1:
            expected |= {"x_short", "length_short"}
            shortest = f"at least window={model.window} frames" if hasattr(model, "window") else "at least"
            assert shortest in errors["x_short"] and shortest in errors["length_short"]
    assert set(errors) == expected


# ---------------------------------------------------------------------- TFLite
@pytest.mark.parametrize("case", TFLITE_CASES, ids=_ids(TFLITE_CASES))
def test_tflite_signatures(exported, case):
    model, T, r = _get(exported, case)
    lite = r["info"]["tflite"]
    cond = sorted(s.name for s in model.conditional_specs())
    D = model.event.num_elements(T)
    for tag, (b, n) in {"dynamic": (-1, -1), "fixed": (2, 2)}.items():
        if tag not in lite:
            continue
        sigs = lite[tag]
        assert set(sigs) == {"log_prob", "sample_from_noise"}
        assert sigs["log_prob"]["inputs"] == sorted(cond + ["x"])
        assert sigs["log_prob"]["outputs"] == ["log_prob"]
        assert sigs["sample_from_noise"]["inputs"] == sorted(cond + ["noise", "temperature"])
        assert sigs["sample_from_noise"]["outputs"] == ["samples"]
        x_shape = [b] + [-1 if s is None else s for s in model.event.shape]
        assert sigs["log_prob"]["shapes"]["x"] == x_shape
        noise = sigs["sample_from_noise"]["shapes"]["noise"]
        assert noise == [n, -1 if model.event.free_length else D, model.noise_depth]
    assert ("fixed" in lite) == (case == FIXED)


@pytest.mark.parametrize("case", TFLITE_CASES, ids=_ids(TFLITE_CASES))
def test_tflite_log_prob(exported, case):
    model, _, r = _get(exported, case)
    inp, out = r["inp"], r["out"]
    want = model.log_prob(inp["x"], _conditional(model, inp, "c_")).numpy()
    atol = 1e-4 if model.event.discrete else 1e-3
    np.testing.assert_allclose(out["tfl_dynamic_log_prob"], want, rtol=1e-4, atol=atol)
    if case == FIXED:
        np.testing.assert_allclose(out["tfl_fixed_log_prob"], want[:2], rtol=1e-4, atol=atol)


@pytest.mark.parametrize("case", TFLITE_CASES, ids=_ids(TFLITE_CASES))
def test_tflite_sample_from_noise(exported, case):
    model, T, r = _get(exported, case)
    inp, out = r["inp"], r["out"]
    nc = _conditional(model, inp, "nc_")
    want = model.sample_from_noise(inp["noise"], nc).numpy()
    assert out["tfl_dynamic_samples"].dtype == model.event.dtype.as_numpy_dtype
    _assert_close(model, out["tfl_dynamic_samples"], want, rtol=1e-4, atol=1e-4)
    want_t = model.sample_from_noise(inp["noise"], nc, temperature=temperature_of(model)).numpy()
    _assert_close(model, out["tfl_dynamic_samples_t"], want_t, rtol=1e-4, atol=1e-4)
    # The seeded noise is the noise of `sample(n, seed)`: a device reproduces a seeded sample.
    seeded = model.sample(BATCH, conditional=nc, seed=NOISE_SEED, length=T).numpy()
    _assert_close(model, want, seeded, rtol=1e-5, atol=1e-6)  # floats: the two graphs round apart
    if case == FIXED:
        np.testing.assert_array_equal(out["tfl_fixed_samples"], want[:2])


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_temperature_changes_samples(exported, case):
    # Guards the temperature checks above against passing vacuously.
    _, _, r = _get(exported, case)
    out = r["out"]
    assert not np.allclose(out["sm_samples"], out["sm_samples_t"])
    if "tfl_dynamic_samples" in out:
        assert not np.allclose(out["tfl_dynamic_samples"], out["tfl_dynamic_samples_t"])


@pytest.mark.parametrize("case", NO_TFLITE_CASES, ids=_ids(NO_TFLITE_CASES))
def test_a_model_without_tflite_refuses_it_clearly(case, tmp_path):
    model = ark.models.get(case[0], preset=case[1])
    path = str(tmp_path / "m.tflite")
    with pytest.raises((TypeError, ValueError), match="SavedModel"):
        model.export(path, format="litert", verbose=False)
    assert not os.path.exists(path)


# ---------------------------------------------------------------------- errors
def test_rejects_non_ar_keras_models(tmp_path):
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(TypeError, match="expects an ar_keras model"):
        export.saved_model(plain, str(tmp_path / "m" / "1"))
    with pytest.raises(TypeError, match="expects an ar_keras model"):
        export.tflite("not a model", str(tmp_path / "m.tflite"))
    assert not (tmp_path / "m").exists()


def test_tflite_refuses_large_models_and_bad_batch(tmp_path, monkeypatch):
    model = ark.models.get("nade", preset="tiny")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        export.tflite(model, str(tmp_path / "m.tflite"), batch_size=0)
    monkeypatch.setattr(export, "TFLITE_MAX_PARAMS", model.count_params() - 1)
    with pytest.raises(ValueError, match="parameters.*SavedModel"):
        export.tflite(model, str(tmp_path / "m.tflite"))
    assert not (tmp_path / "m.tflite").exists()


def test_export_refuses_other_formats_and_signatures(tmp_path):
    model = ark.models.get("nade", preset="tiny")
    with pytest.raises(ValueError, match="tf_saved_model' or 'litert"):
        model.export(str(tmp_path / "m.onnx"), format="onnx")
    with pytest.raises(ValueError, match="without input_signature"):
        model.export(str(tmp_path / "m"), input_signature=[tf.TensorSpec([None, 4])])
