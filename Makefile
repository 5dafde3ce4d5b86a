# Two entry points for a newcomer: `make leaderboard` (the main job) and `make test`.
# Each creates .venv when it is missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SITE_DIR ?= leaderboard/site

.PHONY: leaderboard test test-container test-slurm image install-core install-dev install-container install-board install-submissions clean

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

# What `make leaderboard` scores with: the light core, the Docker SDK (an image submission is built and run
# in the sandbox where a Docker engine answers) and every static package submission (submissions/<id>/ with
# `estimator: static`), each pinned by its own pyproject.toml. No torch. Re-run when a package changes.
SUBMISSION_PACKAGES := $(wildcard submissions/*/pyproject.toml)
$(VENV)/.board-installed: pyproject.toml $(SUBMISSION_PACKAGES) | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[container]'
	$(BIN)/joulebench submit packages --estimator static submissions | xargs -r -n1 $(BIN)/pip install --quiet -e
	touch $@ $(VENV)/.core-installed

# The package submissions' own pinned dependencies (ecologits, zeus) for their tests; the adapters themselves
# are installed by the tests into a folder of their own (tests/submission_packages.py).
$(VENV)/.submission-pins-installed: $(SUBMISSION_PACKAGES) $(VENV)/.dev-installed
	$(BIN)/joulebench submit packages --requirements submissions | xargs -r $(BIN)/pip install --quiet
	touch $@

install-core: $(VENV)/.core-installed
install-dev: $(VENV)/.dev-installed
install-container: $(VENV)/.container-installed
install-board: $(VENV)/.board-installed

# Every package submission, live ones too (Zeus: pandas, scikit-learn; no torch), for
# `joulebench run --live-estimator zeus` and `joulebench estimators list`.
install-submissions: install-board
	$(BIN)/joulebench submit packages --estimator all submissions | xargs -r -n1 $(BIN)/pip install --quiet -e

# PREVIOUS=old-site/data/scores.json: each estimator page shows how it moved against that earlier summary.
PREVIOUS ?=
leaderboard: install-board
	$(BIN)/joulebench leaderboard build --runs results --out $(SITE_DIR) $(if $(PREVIOUS),--previous $(PREVIOUS))

test: install-dev install-container $(VENV)/.submission-pins-installed
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
