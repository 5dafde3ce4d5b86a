# Two entry points for a newcomer: `make leaderboard` (the main job) and `make test`.
# Each creates .venv when it is missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SITE_DIR ?= leaderboard/site

.PHONY: leaderboard test test-container test-slurm image install-core install-dev install-container clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.core-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[run,dev,estimators]'
	touch $@ $(VENV)/.core-installed

$(VENV)/.container-installed: pyproject.toml $(VENV)/.dev-installed
	$(BIN)/pip install --quiet -e '.[run,dev,estimators,container]'
	touch $@

install-core: $(VENV)/.core-installed
install-dev: $(VENV)/.dev-installed
install-container: $(VENV)/.container-installed

leaderboard: install-core
	$(BIN)/joulebench leaderboard build --runs results --out $(SITE_DIR)

test: install-dev install-container
	$(BIN)/python -m pytest -q --ignore=tests/container --ignore=tests/slurm
	$(MAKE) test-container
	$(MAKE) test-slurm

# Against a real Docker engine: the image built from this Dockerfile on a local
# Debian base, the smoke track inside it, the estimator sandbox (tests/container/).
test-container: install-container
	$(BIN)/python -m pytest -q tests/container

# Against a real two-node Slurm cluster started on this machine (tests/slurm/cluster.py: Debian's
# slurm-wlm, slurmdbd, munge and MariaDB; a synthetic energy source per node, a test double): the
# smoke track as a job array, Slurm's energy claim scored, requeue and resume, a two-node torchrun
# window. Needs root; without it (or the packages) the tests skip and say why, unless
# JOULEBENCH_REQUIRE_SLURM=1 (CI), which makes that a failure. About 3 minutes.
test-slurm: install-dev
	timeout 1200 $(BIN)/python -m pytest -q -m slurm tests/slurm

# The image for real sites, on the CUDA/PyTorch base the Dockerfile pins.
IMAGE ?= joulebench
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' suite/joulebench/__init__.py)
REVISION := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
SOURCE ?= unknown
image:
	docker build $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) \
		--build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg SOURCE=$(SOURCE) \
		-t $(IMAGE):$(VERSION) .

clean:
	rm -rf $(VENV) $(SITE_DIR) .pytest_cache
