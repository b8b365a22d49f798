#!/usr/bin/env bash
# Create .venv (Python 3.11) and install taskspace with its dev extra, once per change of
# pyproject.toml or constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.taskspace-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    # torch first, exactly: here pip takes the CPU wheel on disk; asked for through a range by
    # another package first, it would fetch a multi-GB CUDA build.
    .venv/bin/python -m pip install --quiet torch==2.13.0
    # then everything else at the versions the reference results were computed with
    .venv/bin/python -m pip install --quiet -c constraints.txt -e '.[dev]'
    echo "$want" > "$stamp"
fi
