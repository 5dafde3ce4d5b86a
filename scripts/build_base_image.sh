#!/usr/bin/env bash
# Build the base image the container tests use in place of the CUDA/PyTorch
# base: no registry is reachable from CI, so nothing can be pulled. We
# debootstrap a minimal Debian with Python 3.11 (the Python requirements.lock
# is locked for) and `docker import` it.
#
#   scripts/build_base_image.sh [TAG]       (default: joulebench-ci-base:bookworm-py311)
#
# The root filesystem is cached as a tarball under $JOULEBENCH_CACHE
# (default /var/cache/joulebench), outside the clone, so only the first run
# on a machine pays for debootstrap (about a minute); later runs only import.
# Needs root, debootstrap, a running Docker engine, and Debian's archive.
set -euo pipefail

TAG="${1:-joulebench-ci-base:bookworm-py311}"
CACHE="${JOULEBENCH_CACHE:-/var/cache/joulebench}"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=python3,python3-venv,python3-pip
# The tarball's name carries what went into it, so a change makes a new one.
KEY="$(printf '%s\n' "$SUITE" "$PACKAGES" minbase v1 | sha256sum | cut -c1-12)"
TARBALL="$CACHE/debian-$SUITE-python3-$KEY.tar"

log() { printf 'build_base_image: %s\n' "$*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "debootstrap and docker import need root"; exit 1
fi

if docker image inspect "$TAG" >/dev/null 2>&1 \
   && [ "$(docker image inspect -f '{{ index .Config.Labels "org.joulebench.base-key" }}' "$TAG")" = "$KEY" ]; then
    log "$TAG is already imported (key $KEY)"
    echo "$TAG"
    exit 0
fi

if [ ! -s "$TARBALL" ]; then
    command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
    mkdir -p "$CACHE"
    work="$(mktemp -d "$CACHE/.rootfs.XXXXXX")"
    trap 'rm -rf "$work"' EXIT
    log "debootstrap $SUITE ($PACKAGES) into $work"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
        || { tail -n 30 "$work/debootstrap.log" >&2; log "debootstrap failed"; exit 1; }
    # Package caches and lists are not part of the image.
    rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"* "$work/root/debootstrap"
    # Written aside and renamed: an interrupted run never leaves a truncated tarball.
    tar --numeric-owner -C "$work/root" -cf "$work/rootfs.tar" .
    mv "$work/rootfs.tar" "$TARBALL"
    log "cached $TARBALL ($(du -h "$TARBALL" | cut -f1))"
fi

log "importing $TARBALL as $TAG"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.joulebench.base-key=$KEY" \
    --change 'CMD ["/bin/bash"]' \
    "$TARBALL" "$TAG" >/dev/null
echo "$TAG"
