# The joulebench image: the pinned suite, its hash-locked dependencies and the
# `joulebench` command, on a CUDA/PyTorch runtime base pinned by digest. This
# image is the suite's promise that a workload runs the same way on every site.
#
#   make image                          # joulebench:<version>, labelled with the commit
#   joulebench run --container joulebench@sha256:<digest> --track gpu-v1 ...
#
# BASE_IMAGE must bring CPython 3.11 (requirements.lock is locked for it; the
# build checks) and, for the GPU tracks, torch and torchvision built for its
# CUDA. The digest below is the one that many independent public projects pin
# for this tag; this repository's CI cannot reach a registry to pull it, so
# confirm it before a release:
#   docker buildx imagetools inspect pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime
# CI builds this same file on a local Debian base (scripts/build_base_image.sh)
# with --build-arg BASE_IMAGE=... EXTRA_LOCK=torch-cpu.lock WHEELS_ONLY=1.
ARG BASE_IMAGE=pytorch/pytorch:2.13.0-cuda12.6-cudnn9-runtime@sha256:6acf597eeb8e376a96580dde4952f37cc017fef732bb40bfc73f28f25e3f64b4

# --------------------------------------------------------------------------- dependencies
# A separate stage, so wheels copied in for the install never reach the image's layers.
FROM ${BASE_IMAGE} AS deps

# A lock in container-image/ for what the base lacks (CI's bare Debian base has no torch).
ARG EXTRA_LOCK=
# 1: install only from container-image/wheels/, never from an index (CI reaches no registry).
ARG WHEELS_ONLY=0

ENV VIRTUAL_ENV=/opt/joulebench/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# --system-site-packages: the base's torch and torchvision (built for its CUDA) stay visible.
RUN python3 -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 11) else "requirements.lock is locked for CPython 3.11; BASE_IMAGE has %d.%d" % v)' \
 && python3 -m venv --system-site-packages "$VIRTUAL_ENV"

COPY requirements.lock /opt/joulebench/build/
COPY container-image/*.lock /opt/joulebench/build/container-image/
COPY container-image/wheels/ /opt/joulebench/build/container-image/wheels/

# --require-hashes: every file pip installs must match a hash in the lock, and
# every package it needs must be in the lock; anything else fails the build.
RUN set -eu; \
    cd /opt/joulebench/build; \
    source=""; if [ "$WHEELS_ONLY" = 1 ]; then source="--no-index"; fi; \
    "$VIRTUAL_ENV/bin/pip" install $source --find-links container-image/wheels --require-hashes -r requirements.lock; \
    if [ -n "$EXTRA_LOCK" ]; then \
        "$VIRTUAL_ENV/bin/pip" install $source --find-links container-image/wheels --require-hashes -r "container-image/$EXTRA_LOCK"; \
    fi

# --------------------------------------------------------------------------- the image
FROM ${BASE_IMAGE}

ARG BASE_IMAGE
# Passed by `make image`; the build checks VERSION against the package.
ARG VERSION=
ARG REVISION=unknown
ARG SOURCE=unknown

LABEL org.opencontainers.image.title="joulebench" \
      org.opencontainers.image.description="Reference benchmark for AI energy estimators: pinned workloads, metered runs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# HF_HUB_OFFLINE: nothing is downloaded, models are built from configs with
# random weights. NVIDIA_DRIVER_CAPABILITIES: NVML (the energy counter) needs
# the driver's utility libraries mounted, whatever the base sets.
ENV VIRTUAL_ENV=/opt/joulebench/venv \
    PATH=/opt/joulebench/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

COPY --from=deps /opt/joulebench/venv /opt/joulebench/venv

# A regular (not editable) install: workloads, profiles and templates are
# package data, so the installed package needs nothing from the source tree.
WORKDIR /opt/joulebench/src
COPY pyproject.toml README.md ./
COPY suite/ suite/
RUN pip install --no-index --no-deps --no-build-isolation --no-cache-dir --disable-pip-version-check --quiet . \
 && cd / && rm -rf /opt/joulebench/src \
 && found="$(joulebench --version)" \
 && if [ "$found" != "joulebench ${VERSION}" ]; then \
        echo "the label would say version '${VERSION}' but the suite is '$found': build with make image (or --build-arg VERSION=...)" >&2; exit 1; \
    fi \
 && groupadd --gid 10001 joulebench \
 && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin joulebench

# The suite is root-owned and read-only to the user that runs it.
WORKDIR /home/joulebench
USER 10001:10001
ENTRYPOINT ["joulebench"]
CMD ["--help"]
