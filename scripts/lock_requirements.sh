#!/usr/bin/env bash
# Regenerate the image's lock files (hashes of every file of every pinned
# release) after a change to container-image/requirements.in or container-image/torch-cpu.in:
#
#   scripts/lock_requirements.sh
#
# pip-tools runs from a throwaway virtualenv: it is a tool for this step only,
# not a dependency of joulebench. CPython 3.11 only (the image's Python).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "lock with CPython 3.11, the image'"'"'s Python")'
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
"$PY" -m venv "$tools"
"$tools/bin/pip" install --quiet 'pip-tools>=7.4,<8'
compile=("$tools/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras
         --no-emit-index-url --no-emit-find-links --no-header)
"${compile[@]}" --output-file=requirements.lock container-image/requirements.in
# Constrained by the main lock, so the packages both install agree.
"${compile[@]}" --constraint=requirements.lock --output-file=container-image/torch-cpu.lock container-image/torch-cpu.in
echo "wrote requirements.lock and container-image/torch-cpu.lock"
