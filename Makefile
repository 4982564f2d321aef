# Two commands on a fresh clone (Python >= 3.11 and a Debian-like system):
#   make demo   set everything up in .venv, then train the AG-Net demo
#   make test   set everything up in .venv, then run the test suite
# Neither needs root: Fashion-MNIST is unpacked from its Debian package into
# the cache (or read from $FASHION_MNIST_DIR).

VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: setup demo test fashion-mnist

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	# foolbox: only its 20 ImageNet sample photos are used (the Lite0 weights test)
	$(BIN)/python -m pip install -q --no-deps foolbox==3.3.4
	# the toolkit itself, editable, with its console scripts (agnet-train, ...)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

setup: $(STAMP) fashion-mnist

# Not fatal: without Fashion-MNIST the demo falls back to the digits and the
# tests that need it say what is missing.
fashion-mnist: $(STAMP)
	-$(BIN)/python -m common.data.fashion_mnist

# The first demo (or one interrupted before it finished) writes runs/agnet-demo,
# the folder the README's next commands read; later ones a new runs/agnet-<time>.
demo: setup
	$(BIN)/agnet-train $(if $(wildcard runs/agnet-demo/model.keras),,--output runs/agnet-demo)

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup
