"""Writes docs/models.md and docs/vocabulary.md from the code, and the API reference with pdoc.

    make docs                              # the same as the next line
    python scripts/make_docs.py            # docs/models.md, docs/vocabulary.md, then build/docs/
    python scripts/make_docs.py --no-api   # the two pages only
    python scripts/make_docs.py --no-params  # skip building the presets (no parameter counts)
    python scripts/make_docs.py --params-from build/preset_params.json   # reuse the last counts

For every name of `ar_keras.models.names()` the page lists its class, its paper and data
(`PAPERS` below), its presets with their parameter counts (each preset built and counted with
``model.count_params()``), and the figures measured on the embedded data with the command that
measured them (`FIGURES` below), plus what the model provides beyond the shared contract
(`NOTES`).  docs/vocabulary.md is the table of `ar_keras.core.vocabulary`'s docstring and its
`RENAMED` arguments.  A preset that takes longer than ``--build-timeout`` seconds to build (a paper
preset whose constructor's forward pass runs hundreds of sequential steps on a CPU) is listed
without a count, with a note saying so.

Presets are built in a worker process (``--worker``) that prints one line per preset; the
parent kills a worker that is stuck on one preset and starts another from the next preset.

The API reference: ``pdoc ar_keras <every submodule> -o build/docs --docformat google``
(``pip install -e ".[docs]"`` installs pdoc).
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: registry name -> (paper, data).  A name missing here falls back to the class docstring's
#: first line; add the paper here when adding a model (docs/adding_a_model.md).
PAPERS = {
    "nade": ("Larochelle & Murray, AISTATS 2011", "discrete vectors / images"),
    "rnade": ("Uria, Murray & Larochelle, NIPS 2013", "continuous vectors"),
    "made": ("Germain et al., ICML 2015", "discrete vectors / images"),
    "maf": ("Papamakarios et al., NIPS 2017", "continuous vectors"),
    "iaf": ("Kingma et al., NIPS 2016 (the flow)", "continuous vectors"),
    "iaf_vae": ("Kingma et al., NIPS 2016 (ResNet VAE, IAF posterior)", "images"),
    "spatial_lstm": ("Theis & Bethge, NeurIPS 2015 (RIDE)", "images"),
    "pixelrnn": ("van den Oord et al., ICML 2016 (Diagonal BiLSTM, Row LSTM, PixelCNN)", "images"),
    "gated_pixelcnn": ("van den Oord et al., NIPS 2016", "images"),
    "pixelcnn_pp": ("Salimans et al., ICLR 2017", "images"),
    "pixelsnail": ("Chen et al., ICML 2018", "images"),
    "pixelvae": ("Gulrajani et al., ICLR 2017", "images"),
    "image_transformer": ("Parmar et al., ICML 2018 (local 1-D / 2-D attention)", "images"),
    "sparse_transformer": (
        "Child et al. 2019 (strided / fixed attention)",
        "images (`image_shape=`), bytes and audio (`max_length=`)",
    ),
    "sparse_transformer_sequence": (
        "Child et al. 2019: the sequence form of `sparse_transformer` (`max_length=`)",
        "bytes, audio",
    ),
    "multiscale": ("Reed et al., ICML 2017 (parallel multiscale, O(log N) sampling)", "images"),
    "subscale": ("Menick & Kalchbrenner, ICLR 2019 (slices, depth upscaling)", "images"),
    "vpn": ("Kalchbrenner et al., ICML 2017 (Video Pixel Networks)", "video"),
    "bytenet": ("Kalchbrenner et al. 2016", "bytes, translation"),
    "wavenet": ("van den Oord et al. 2016; Paine et al. 2016 (fast generation)", "audio"),
    "samplernn": ("Mehri et al., ICLR 2017", "audio"),
    "wavernn": ("Kalchbrenner et al., ICML 2018", "audio"),
    "trajectory_rnade": ("Uria et al., ICASSP 2015", "acoustic feature trajectories"),
}

_DIGITS_PROTOCOL = (
    "each model at its `digits` preset, Adam 1e-3, batch 64, at most 60 epochs with early stopping "
    "(patience 5) on validation bits/dim; test split: the fixed 250 held-out digits"
)

#: registry name -> [(figure, command, conditions)], measured on a 2-core CPU before these docs were
#: generated (docs/benchmarks.md has the full outputs).  The factorised baseline on the digits
#: (independent pixels, a 17-way categorical per pixel) is 2.433 test bits/dim.
FIGURES = {
    "nade": [("2.043 test bits/dim (digits)", "python benchmarks/digits_bits_per_dim.py", _DIGITS_PROTOCOL)],
    "made": [
        (
            "2.203 test bits/dim (digits, one mask)",
            "python benchmarks/digits_bits_per_dim.py",
            _DIGITS_PROTOCOL,
        ),
        (
            "2.129 test bits/dim (digits, 16-mask order-agnostic ensemble, `ensemble_log_prob`)",
            "python benchmarks/digits_bits_per_dim.py",
            _DIGITS_PROTOCOL,
        ),
    ],
    "gated_pixelcnn": [
        ("1.791 test bits/dim (digits)", "python benchmarks/digits_bits_per_dim.py", _DIGITS_PROTOCOL)
    ],
    "pixelcnn_pp": [
        (
            "1.816 test bits/dim (digits; `tfd.PixelCNN` 1.853 under the same budget)",
            "python benchmarks/pixel_models.py --budget 60",
            "60 s of training, early stopping patience 10 epochs, 2 CPU cores shared with other jobs",
        )
    ],
    "image_transformer": [
        (
            "1.780 test bits/dim (digits, local 1-D); 1.811 (local 2-D)",
            "python benchmarks/digits_bits_per_dim.py --models image_transformer --epochs 60",
            _DIGITS_PROTOCOL,
        )
    ],
    "sparse_transformer": [
        (
            "1.812 test bits/dim (digits)",
            "python -m train --model sparse_transformer --dataset digits --epochs 60 --patience 5",
            "early-stopped at epoch 45",
        ),
        ("1.771 bits/byte (text)", "", "the command was not recorded"),
    ],
    "pixelvae": [
        (
            "importance-weighted bound 1.746 test bits/dim, ELBO 1.807 (digits)",
            "python benchmarks/pixelvae_digits.py",
            "early stopping, 130 epochs, 211 s, on a machine shared with other jobs: not converged",
        )
    ],
    "spatial_lstm": [
        (
            "2.066 test bits/dim (digits)",
            "python benchmarks/spatial_lstm_digits.py --budget 270",
            "270 s budget, on a machine shared with other jobs: not converged",
        )
    ],
    "pixelrnn": [
        (
            "1.874 (Diagonal BiLSTM) / 1.902 (Row LSTM) / 1.896 (PixelCNN) test bits/dim (digits)",
            "python benchmarks/pixelrnn_digits.py --epochs 20",
            "20 epochs, all three still improving; 104 s, 35 s and 12 s of training on an idle machine",
        )
    ],
    "multiscale": [
        (
            "1.858 test bits/dim (digits)",
            "python -m train --model multiscale --dataset digits --epochs 15",
            "15 epochs, on a machine shared with other jobs: not converged",
        )
    ],
    "subscale": [
        (
            "1.849 test bits/dim (digits)",
            "python -m train --model subscale --dataset digits --epochs 60",
            "early-stopped at epoch ~29",
        )
    ],
    "iaf_vae": [
        (
            "ELBO (100 samples) 2.043 test bits/dim, importance-weighted bound (1,000 samples) "
            "1.952 (digits)",
            "python benchmarks/iaf_vae_digits.py --epochs 400 --patience 25",
            "digits preset, 264 epochs, 314 s",
        )
    ],
    "maf": [
        (
            "82.80 nats test log-likelihood on `digits_continuous` (TFP's stock 5-layer MAF: 68.01); "
            "76.09 with one fixed dequantization (TFP 63.76)",
            "python benchmarks/maf_vs_tfp.py",
            "30 s of training each, best validation epoch kept",
        )
    ],
    "vpn": [
        (
            "0.973 bits/dim (172.7 nats/frame) on `moving_digits` after 3 epochs; 164.8 nats/frame after 9",
            "python -m train --model vpn --dataset moving_digits --epochs 3 --batch-size 32",
            "706 s on a shared CPU; far from converged",
        )
    ],
    "wavenet": [
        (
            "3.55 test bits/dim on `speech` (uniform: 8); 5.40 bits/sample on the spoken part "
            "(best context-free histogram 7.63)",
            "python -m train --model wavenet --dataset speech --batch-size 8 --epochs 30 "
            "--learning-rate 3e-3 --logdir runs/wavenet-speech",
            "377 s on 2 CPU cores",
        )
    ],
    "samplernn": [
        (
            "3.801 test bits/sample on `speech` after 8 epochs of `fit_tbptt` (chunks of 1,024)",
            "python benchmarks/samplernn_speech.py --epochs 8 --tbptt 1024",
            "",
        )
    ],
    "bytenet": [
        (
            "1.807 test bits/byte on `text` after 4 minutes",
            "python benchmarks/bytenet_text.py --minutes 4 --lengths 256,1024",
            "text preset",
        )
    ],
    "trajectory_rnade": [
        (
            "18.68 test nats/frame on `speech_features`, label-conditional (unconditional 20.65; "
            "a unit Gaussian per feature 36.9)",
            "python -m train --model trajectory_rnade --dataset speech_features --conditional "
            "--epochs 30 --batch-size 16",
            "speech preset",
        )
    ],
}

#: registry name -> what the model provides beyond the shared contract (its class docstring
#: has the rest).
NOTES = {
    "nade": (
        "The shared-weight O(DH) pass: every pre-activation `a_d = c + sum_{i<d} W[i, x_i]` as one "
        "lower-triangular matmul in `[D, B, H]` layout (blocks of `sqrt(D)` beyond D = 128) and the D "
        "heads as one batched matmul; K-level softmax outputs (Bernoulli for K = 2); a sampling cache "
        "that adds one row per step (O(HK) per element)."
    ),
    "made": (
        "Any number of hidden layers; natural / reversed / random / user orderings; the direct "
        "input-to-output connection; order- and connectivity-agnostic training over `num_masks` mask "
        "sets (cycled one per step); `ensemble_log_prob`, the paper's test-time ensemble (probabilities "
        "averaged over masks, a normalised mixture); a cache that keeps the first layer's pre-activation."
    ),
    "gated_pixelcnn": (
        "Vertical and horizontal stacks with no blind spot, gated units with a class bias, residual "
        "horizontal stack, mask A then B with R -> G -> B channel groups; exact cached sampling (row "
        "buffers for the convolutions)."
    ),
    "pixelcnn_pp": (
        "Shifted convolutions (causal by construction), u and ul streams, gated ResNet blocks with "
        "concat_elu, up/down passes with stride-2 shifted (transposed) convolutions and shortcuts, "
        "dropout, optional `num_classes`. Head: `ark.distributions.DiscretizedLogisticMixture` (edge bins, "
        "R -> G -> B coupling, each channel's conditional exact), equal to `tfd.PixelCNN`'s likelihood on "
        "the same parameters (tested). `paper`: the CIFAR-10 run (5 ResNet layers per block, 3 "
        "resolutions, 160 filters, 10 logistics, dropout 0.5). Exact cached sampling."
    ),
    "pixelsnail": (
        "Down-right-shifted gated ResNets interleaved with causal self-attention (keys/values from "
        "[x, ul, background], queries from [ul, background]); the attention is "
        '`PatternAttention(pattern="dense", strict=True)`; `paper`: the reference `h12_noup_smallkey` '
        "run. Exact key/value-cached sampling."
    ),
    "pixelrnn": (
        '`variant="diagonal_bilstm" | "row_lstm" | "pixelcnn"`: 7x7 mask-A input, residual LSTM '
        "layers, R -> G -> B masks, K-way softmax (Bernoulli for K = 2). `layers/skew.py` skews with one "
        "pad and two reshapes; `layers/diagonal_bilstm.py` shifts the right-to-left map down one row "
        "before adding it (`shift_backward=False` rebuilds the leak of a public port, and the causality "
        "check fails on it, tested). Dependencies measured on 8x8 by gradients, equal pair by pair to the "
        "sets derived in the docstrings: Diagonal BiLSTM 1,988 of 2,016 earlier pixels (the 28 missing "
        "pairs come from the 7x7 mask-A input convolution; an input kernel of at least 2W - 1 sees all "
        "2,016, tested), Row LSTM 1,860 (its triangle), PixelCNN 1,583 (its blind spot). Cached sampling "
        "carries the LSTM states pixel by pixel: O(HW) steps."
    ),
    "spatial_lstm": (
        "RIDE: the 2-D LSTM over anti-diagonals (`layers/spatial_lstm.py`), the causal window "
        '(`layers/causal_neighbourhood.py`), a K-level softmax head (default) or `head="mcgsm"` '
        "(`distributions/mcgsm.py`, normalised by quadrature in the tests) with RIDE's whitening (its "
        "log-Jacobian included) and `ride_log_likelihood` over the reachable pixels. With the paper's "
        "5-pixel window the recurrence reaches 1,596 of the 2,016 earlier pixels on 8x8 (tested as the "
        "exact set); with a full-width window all 2,016. `with_image_shape` moves the weights to any "
        "image size. XLA cannot compile its training step (a dynamic transpose in the while-loop "
        "gradient): `python -m train --jit-compile` is refused for it."
    ),
    "pixelvae": (
        "Convolutional encoder, latent z, the shared Gated PixelCNN block biased by z in every gate; "
        "`num_latent_layers=2` adds a latent map with a PixelCNN prior under a top latent vector. KL "
        "warm-up (the training loss only; the reported loss is the true negative ELBO). "
        "`log_prob(x, num_samples=k)` is the importance-weighted bound: on a model small enough to "
        "integrate exactly it rises with k = 1, 10, 100 and stays below the exact log p(x) (tested)."
    ),
    "iaf_vae": (
        "`elbo(x)` and an importance-weighted `log_prob(x, num_samples=)`; computes in float32 under "
        "every dtype policy."
    ),
    "image_transformer": (
        "One position per channel (3HW for RGB) with per-channel value embeddings and (row, column, "
        'channel) positions (sinusoidal or learned); `attention="local_1d"` or `"local_2d"` (blocks in '
        'block-raster order, which is also the sampling order); categorical or `head="dmol"`; class '
        "labels; super-resolution from a low-resolution image (`low_resolution=`); key/value cache."
    ),
    "sparse_transformer": (
        "Pre-norm blocks, GELU, output projections scaled by 1/sqrt(2N), zero logits, factorised "
        'positions; `attention="strided" | "fixed" | "dense"`, the CIFAR model\'s interleaving (one '
        "strided layer, three local), `recompute=True` (`tf.recompute_grad`). Images take `image_shape=`; "
        "bytes and audio take `max_length=T` (`[B, T]` ints, any T up to it). Attention patterns: "
        "`ar_keras/layers/attention/patterns.py` (each computed block by block, never an n x n tensor for "
        "the sparse patterns, tested); key/value cache."
    ),
    "sparse_transformer_sequence": (
        'The class `ark.models.get("sparse_transformer", max_length=T)` builds, registered under its '
        "own name so that the sequence contract suite runs on it."
    ),
    "multiscale": (
        "A base image of `base_size` from a small PixelCNN, then for each doubling of the side the 2x2 "
        "block's upper-right, lower-left and lower-right corners as groups; `model.groups` lists them; "
        "`sample` runs one network evaluation per group, `b^2 C + 3C log2(side/b)` in all "
        "(`MultiscalePixelCNN.network_evaluations`, checked against the sampler's counter). The "
        "causality check is group-aware."
    ),
    "subscale": (
        "S^2 slices `x[a::S, b::S]` in raster order of their offsets, raster inside each (`slice_image` / "
        "`unslice_image` / `ordering`); a conditioning network over the earlier slices biases a gated "
        "PixelCNN slice decoder; S = 1 is a plain raster decoder (tested). `depth_upscaling=True`: the 3 "
        "most significant bits first, then the rest, `log p(x) = log p(msb) + log p(lsb | msb)` exactly "
        "(tested by enumeration). Per-slice cache."
    ),
    "vpn": (
        "Video `[T, H, W, C]` ints (`video_shape=`): Residual Multiplicative Blocks per frame "
        "(`layers/multiplicative.py`), a ConvLSTM over time (`layers/conv_lstm.py`), a masked RMB decoder "
        "per frame. `sample(n, conditional=context)` continues a video from its first frames; "
        '`head="sigmoid_xent"` is the paper\'s Moving MNIST loss, with `entropy_lower_bound`. `paper` '
        "(Moving MNIST, 10 + 10 frames at 64x64) is not reproduced here (no data, no GPU)."
    ),
    "bytenet": (
        "Residual blocks of dilated causal convolutions (dilations 1..16 repeated, RMB or ReLU blocks), "
        "receptive field `1 + (k - 1) sum(d)` measured by flipping inputs; a byte language model, or with "
        "`source_levels=` an encoder-decoder (dynamic unfolding to `a|s| + b`). Parallel data: "
        "`ark.data.parallel`."
    ),
    "wavenet": (
        "256-level mu-law codes `[B, T]` of any length, global (speaker id) and local (feature sequence) "
        "conditioning; Fast WaveNet queues: O(layers) per sample in one XLA-compiled `tf.while_loop`, "
        "equal to the full recompute for a seed; `ark.export.tflite_step` streams one step per call "
        "(state in, state out).\n\n"
        "```python\n"
        'train = ark.data.load("speech", "train")  # int32 [10240] mu-law codes, 16 kHz\n'
        'model = ark.models.get("wavenet", preset="speech")\n'
        "model.compile(optimizer=keras.optimizers.Adam(3e-3))\n"
        'valid = ark.data.load("speech", "validation")\n'
        "model.fit(train.shuffle(64).batch(8), epochs=30, validation_data=valid.batch(8),\n"
        '          callbacks=[ark.callbacks.SampleLogger("runs/wavenet")])\n'
        "codes = model.sample(4, length=16000, seed=0)  # [4, 16000]: one second each\n"
        'ark.data.write_wav("speech.wav", ark.data.mu_law_decode(codes)[0].numpy(), 16000)\n'
        "```"
    ),
    "wavernn": (
        "16-bit audio as coarse and fine bytes under a dual softmax (`ark.distributions.DualSoftmax`); "
        "a GRU whose input matrix is masked so that the current coarse value feeds only the fine half "
        "(`layers/dual_gru.py`, tested); `ark.pruning.BlockSparsity` (16x1 or 4x4 blocks on the paper's "
        "cubic schedule, masks as kernel x mask); subscale generation (`subscale=B, horizon=F`), equal to "
        "one-at-a-time generation in its order (tested); a TFLite streaming step. `paper` is WaveRNN-896."
    ),
    "samplernn": (
        "2 or more tiers, `frame_sizes` top tier first (`(8, 2)`: the 3-tier model); GRU tiers with a "
        "learned initial state, learned upsampling, a sample-level MLP over the previous `frame_size` "
        "samples; `chunked_conditional_log_probs` equals one-shot scoring; `fit_tbptt` trains with "
        "truncated BPTT. No TFLite export (`tf.scan` over frames)."
    ),
    "trajectory_rnade": (
        "RNADE over windows of W feature frames; `log_prob` is the normalised chain rule over frames, "
        "each given its W - 1 predecessors (integrates to 1 on a grid, tested); data: `speech_features`."
    ),
    "rnade": "NADE weight sharing with mixture-of-Gaussian conditionals; exact `conditional_log_probs`.",
    "maf": (
        "Gaussian or MADE-MoG base; one pass per density, D passes per sample. Built on `ark.flows`: "
        "`ark.flows.MADE` is a Keras 3 layer (masks applied in `call`, every weight tracked) that drops "
        "into `tfb.MaskedAutoregressiveFlow` as `shift_and_log_scale_fn`; `ark.flows.maf(...)` and "
        "`ark.flows.iaf(...)` return `tfb.Bijector` stacks with order reversals or permutations and an "
        "optional batch normalisation whose statistics live in Keras 3 weights:\n\n"
        "```python\n"
        "mades = [ark.flows.MADE(params=2, hidden_units=[64, 64], event_size=2) for _ in range(5)]\n"
        "dist = tfd.TransformedDistribution(\n"
        '    tfd.Sample(tfd.Normal(0.0, 1.0), [2]), ark.flows.maf(mades, permutation="reverse")\n'
        ")\n"
        "# the weights live in the Keras 3 MADE layers (TFP's bijector.trainable_variables is empty)\n"
        "```"
    ),
    "iaf": "Built on `ark.flows.iaf`: one pass per sample, D passes per density.",
}


#: registry name -> what its paper presets are, and the paper's own size or figure where it gives one.
PAPER_PRESETS = {
    "nade": "`paper`: 500 hidden units on binarized MNIST.",
    "made": "`paper`: 2 x 8000 hidden units with 32 masks on binarized MNIST.",
    "gated_pixelcnn": "`paper`: 20 layers of 384 maps on CIFAR-10.",
    "pixelcnn_pp": "`paper`: the CIFAR-10 run of 2.92 bits/dim (the paper's model has about 53M parameters).",
    "pixelsnail": "`paper`: the CIFAR-10 run of 2.85 bits/dim (about 46M parameters in the paper).",
    "pixelrnn": (
        "`paper`: binarized MNIST, Diagonal BiLSTM, 7 layers, h = 16 (the paper's 79.20 nats); `cifar10`: "
        "12 layers, h = 128 (our reading of the paper)."
    ),
    "spatial_lstm": "`paper`: 2 x 64 units, 5-pixel window, MCGSM 32 x 4 x 32, grey 22x22 images.",
    "pixelvae": (
        "`paper`: binarized MNIST, 12 layers, filter 5, 16 maps, latent 16; `imagenet64`: the two-level "
        "model."
    ),
    "image_transformer": (
        "`paper`: CIFAR-10, 12 layers, width 512, 4 heads, feed-forward 2048, 1-D blocks of 256 (about "
        "38M parameters in the paper)."
    ),
    "sparse_transformer": (
        "`paper`: CIFAR-10, 128 layers, width 256, 2 heads, stride 96 (59M in the paper); `enwik8`: 30 "
        "layers, width 512, 8 heads, fixed attention, l = 128, c = 32 (95M in the paper)."
    ),
    "vpn": "`paper`: Moving MNIST, 10 + 10 frames at 64x64 (the paper's 87.6 nats/frame, lower bound 86.3).",
    "wavernn": "`paper`: WaveRNN-896.",
}


# ------------------------------------------------------------------ worker: counting presets
def worker(pairs):
    """Builds each ``name:preset`` and prints ``{"name", "preset", "params", "seconds"}`` lines."""
    import gc

    import keras

    import ar_keras as ark

    for pair in pairs:
        name, preset = pair.split(":")
        start = time.time()
        try:
            model = ark.models.get(name, preset=preset)
            record = {"params": int(model.count_params())}
            del model
        except Exception as error:  # noqa: BLE001 - reported on the page, not hidden
            record = {"error": f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"}
        record.update(name=name, preset=preset, seconds=round(time.time() - start, 1))
        print("RESULT " + json.dumps(record), flush=True)
        keras.backend.clear_session()
        gc.collect()


def count_presets(pairs, timeout):
    """``{(name, preset): record}``; a preset over ``timeout`` seconds gets ``{"timeout": s}``."""
    results, todo = {}, list(pairs)
    while todo:
        proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--worker", *todo],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        lines = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(l) for l in proc.stdout] + [lines.put(None)], daemon=True
        ).start()
        deadline = time.time() + timeout + 120  # the first preset also pays for importing TensorFlow
        while todo:
            try:
                line = lines.get(timeout=max(deadline - time.time(), 0.1))
            except queue.Empty:
                name, preset = todo.pop(0).split(":")
                results[(name, preset)] = {"timeout": timeout}
                print(f"  {name}:{preset}: not built within {timeout} s, skipped", flush=True)
                proc.kill()
                proc.wait()
                break
            if line is None:  # the worker died: report the preset it was on
                name, preset = todo.pop(0).split(":")
                results[(name, preset)] = {"error": f"worker exited with status {proc.wait()}"}
                break
            if not line.startswith("RESULT "):
                continue
            record = json.loads(line[len("RESULT ") :])
            todo.remove(f"{record['name']}:{record['preset']}")
            results[(record["name"], record["preset"])] = record
            print(f"  {record['name']}:{record['preset']}: {record}", flush=True)
            deadline = time.time() + timeout
        else:
            proc.wait()
    return results


# ------------------------------------------------------------------------------ the page
def _preset_cell(preset, record):
    if record is None:
        return f"`{preset}`"
    if "params" in record:
        return f"`{preset}` {record['params']:,}"
    if "timeout" in record:
        return f"`{preset}` (not built: over {record['timeout']:.0f} s on a CPU)"
    return f"`{preset}` (not built: {record['error']})"


def models_page(counts):
    import ar_keras as ark

    names = ark.models.names()
    out = [
        "# Models",
        "",
        "<!-- Generated by scripts/make_docs.py (make docs) from the model registry: edit the script, "
        "not this page. -->",
        "",
        f"{len(names)} registered names (`ark.models.names()`). Build any of them with "
        "`ark.models.get(name, preset=..., **overrides)`; every model has the presets `tiny` (a few "
        "thousand parameters, for tests), one for the embedded data (`digits`, `speech` or `text`: good "
        "in minutes on a CPU) and `paper` (the network behind the paper's headline result, cited in the "
        "model's source). Parameter counts are `model.count_params()` of each preset as built. "
        "Constructor arguments: "
        "[the vocabulary](vocabulary.md); the full reference is each class's docstring "
        "(`make docs` writes it to `build/docs/`).",
        "",
        "Figures were measured before on a 2-core CPU; [benchmarks.md](benchmarks.md) has the full "
        "outputs. On the digits, independent pixels (a 17-way categorical per pixel) score 2.433 test "
        "bits/dim.",
        "",
        "| name | class | paper | data |",
        "|---|---|---|---|",
    ]
    for name in names:
        cls = ark.models.model_class(name)
        paper, data = PAPERS.get(name, ((cls.__doc__ or "").strip().splitlines()[0], "see the class"))
        out.append(f"| [`{name}`](#{name}) | `{cls.__module__}.{cls.__name__}` | {paper} | {data} |")
    for name in names:
        cls = ark.models.model_class(name)
        paper, data = PAPERS.get(name, ((cls.__doc__ or "").strip().splitlines()[0], "see the class"))
        out += ["", f"## {name}", "", f"`{cls.__module__}.{cls.__name__}`: {paper}. Data: {data}.", ""]
        cells = [_preset_cell(p, counts.get((name, p))) for p in ark.models.presets(name)]
        out.append("Presets (parameters): " + " · ".join(cells) + ".")
        if name in PAPER_PRESETS:
            out += ["", PAPER_PRESETS[name]]
        if name in NOTES:
            out += ["", NOTES[name]]
        if FIGURES.get(name):
            out += ["", "| figure | command | conditions |", "|---|---|---|"]
            for figure, command, conditions in FIGURES[name]:
                out.append(f"| {figure} | {f'`{command}`' if command else '—'} | {conditions or '—'} |")
    return "\n".join(out) + "\n"


def _rst_table(doc):
    """The first reStructuredText simple table of ``doc`` -> ``[(concept, name)]`` rows."""
    lines = doc.splitlines()
    rules = [i for i, line in enumerate(lines) if line.strip().startswith("====")]
    start, end = rules[1], rules[2]
    split = lines[rules[0]].index(" =") + 1  # where the second column starts
    rows = []
    for line in lines[start + 1 : end]:
        left, right = line[:split].strip(), line[split:].strip()
        if left or not rows:
            rows.append([left, right])
        else:  # a continuation line of the row above
            rows[-1][1] += " " + right
    return [(left, right.replace("``", "`")) for left, right in rows]


def vocabulary_page():
    import ar_keras as ark
    from ar_keras.core import vocabulary

    out = [
        "# The constructor vocabulary",
        "",
        "<!-- Generated by scripts/make_docs.py (make docs) from ar_keras/core/vocabulary.py: edit "
        "that module, not this page. -->",
        "",
        "Every model's constructor uses the same word for the same quantity, after keras-hub "
        "(`hidden_dim`, `intermediate_dim`, `num_heads`, `key_dim`) and TensorFlow Probability "
        "(`hidden_units`, a list of layer widths). Paper terms stay only where a paper names distinct "
        "quantities: WaveNet's residual, gate and skip channels, PixelCNN++'s hierarchies, ByteNet's "
        "unfolding factors.",
        "",
        "| concept | name |",
        "|---|---|",
    ]
    out += [f"| {concept} | {name} |" for concept, name in _rst_table(vocabulary.__doc__)]
    out += [
        "",
        "## Renamed arguments",
        "",
        "The names each model's constructor used to take. An old name is an error that names the new "
        "one; no aliases are kept:",
        "",
        "```python",
        '>>> ark.models.get("gated_pixelcnn", preset="digits", num_filters=64)',
        "TypeError: gated_pixelcnn takes hidden_dim=, not num_filters= (renamed: pass hidden_dim=64).",
        "```",
        "",
        "| model | old -> new |",
        "|---|---|",
    ]
    for name in sorted(vocabulary.RENAMED):
        renamed = vocabulary.RENAMED[name]
        cell = ", ".join(f"`{old}` -> `{new}`" for old, new in renamed.items()) or "(none)"
        registered = "" if name in ark.models.names() else " (not registered)"
        out.append(f"| `{name}`{registered} | {cell} |")
    return "\n".join(out) + "\n"


def api_modules():
    """``ar_keras`` and every module under it.

    pdoc documents only the submodules a package's ``__all__`` names; naming every module
    documents all of them (`ar_keras.core`, each model's module, ...).
    """
    import pkgutil

    import ar_keras

    found = pkgutil.walk_packages(ar_keras.__path__, prefix="ar_keras.")
    return ["ar_keras"] + sorted(info.name for info in found)


def build_api(out_dir):
    """``pdoc ar_keras ... -o out_dir --docformat google``; False when pdoc is not installed."""
    try:
        import pdoc  # noqa: F401
    except ImportError:
        print('pdoc is not installed: pip install -e ".[docs]" (skipping the API reference)', file=sys.stderr)
        return False
    done = subprocess.run(
        [sys.executable, "-m", "pdoc", *api_modules(), "-o", out_dir, "--docformat", "google"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"},
        stderr=subprocess.PIPE,
        text=True,
    )
    # A module named here that an earlier name's package already listed is reported as a repeat:
    # expected, since every module is named.
    for line in done.stderr.splitlines():
        if "but a module with this name has already been added" not in line:
            print(line, file=sys.stderr)
    done.check_returncode()
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "models.md"))
    parser.add_argument("--api-dir", default=os.path.join(ROOT, "build", "docs"))
    parser.add_argument("--no-api", action="store_true", help="skip the pdoc API reference")
    parser.add_argument("--no-params", action="store_true", help="skip building presets")
    parser.add_argument(
        "--params-from",
        help="a JSON list of preset records written by an earlier run (build/preset_params.json) "
        "instead of building the presets",
    )
    parser.add_argument(
        "--build-timeout", type=float, default=180.0, help="seconds one preset may take to build"
    )
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(args.worker)
        return 0
    sys.path.insert(0, ROOT)
    import ar_keras as ark

    counts = {}
    if args.params_from:
        with open(args.params_from) as f:
            counts = {(r["name"], r["preset"]): r for r in json.load(f)}
    elif not args.no_params:
        pairs = [f"{n}:{p}" for n in ark.models.names() for p in ark.models.presets(n)]
        print(f"building {len(pairs)} presets to count their parameters", flush=True)
        counts = count_presets(pairs, args.build_timeout)
        cache = os.path.join(ROOT, "build", "preset_params.json")
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        with open(cache, "w") as f:
            json.dump([{"name": n, "preset": p, **r} for (n, p), r in sorted(counts.items())], f, indent=1)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(models_page(counts))
    print(f"wrote {args.out}")
    vocabulary_out = os.path.join(os.path.dirname(args.out), "vocabulary.md")
    with open(vocabulary_out, "w") as f:
        f.write(vocabulary_page())
    print(f"wrote {vocabulary_out}")
    if not args.no_api and build_api(args.api_dir):
        print(f"wrote the API reference to {args.api_dir}/ (open {args.api_dir}/ar_keras.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
