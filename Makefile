# ar_keras: `make demo` and `make test` do all the set-up on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: install demo test test-all bench docs clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

$(DOCS_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[docs]"
	touch $(DOCS_STAMP)

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

# Runs every benchmark (it takes long; scripts/bench.py holds the list) and writes
# docs/benchmarks.md with the outputs, the date and the machine.
bench: $(STAMP)
	$(PY) scripts/bench.py

# docs/models.md and docs/vocabulary.md from the code, and the API reference in build/docs (pdoc).
docs: $(DOCS_STAMP)
	$(PY) scripts/make_docs.py

clean:
	rm -rf runs build *.egg-info .pytest_cache
