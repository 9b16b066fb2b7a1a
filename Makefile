# ar_keras: `make demo` and `make test` do all the set-up on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-all bench clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# Trains the Gated PixelCNN on the embedded digits (a few minutes on 2 CPU cores),
# prints test bits/dim, and writes TensorBoard logs, a PNG of samples, a SavedModel and a TFLite file.
demo: $(STAMP)
	$(PY) -m train --model gated_pixelcnn --dataset digits --epochs 60 --patience 5 \
		--logdir runs/demo --export saved_models

# Lint, format, import layering (.importlinter), the docstring examples, then the tests.
test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider -n 2 --doctest-modules ar_keras train
	$(PY) -m pytest -q -n 2 --durations=15

# Includes the checks marked slow.
test-all: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "" --durations=15

bench: $(STAMP)
	$(PY) tests/benchmarks/digits_bits_per_dim.py
	$(PY) tests/benchmarks/maf_vs_tfp.py
	$(PY) tests/benchmarks/iaf_vae_digits.py
	$(PY) tests/benchmarks/pixelvae_digits.py
	$(PY) tests/benchmarks/pixel_models.py
	$(PY) tests/benchmarks/pixelrnn_digits.py
	$(PY) tests/benchmarks/wavenet_generation.py
	$(PY) tests/benchmarks/wavernn_generation.py
	$(PY) tests/benchmarks/sampling_cost.py
	$(PY) tests/benchmarks/spatial_lstm_digits.py
	$(PY) tests/benchmarks/attention_scaling.py
	$(PY) tests/benchmarks/transformer_sampling.py
	$(PY) tests/benchmarks/image_transformer_sampling.py
	$(PY) tests/benchmarks/samplernn_speech.py
	$(PY) tests/benchmarks/multiscale_sampling.py
	$(PY) tests/benchmarks/tflite_table.py --presets tiny,digits,speech,text
	$(PY) scripts/mixed_precision_throughput.py --models made,gated_pixelcnn,wavenet --presets digits,speech --seconds 3
	$(PY) tests/benchmarks/train_throughput.py

clean:
	rm -rf runs build *.egg-info .pytest_cache
