#!/usr/bin/env bash
# Install (if needed) and run the main job: build the book. `taskspace book` executes every
# notebook with papermill (each asks the core for task spaces: cached ones are loaded,
# missing ones computed, pretraining the checkpoints first) and renders the HTML with
# Jupyter Book. PRESET=ci bash scripts/main.sh checks the pipeline in a few minutes;
# the default `tiny` computes all 67 paradigms on three small models (see README for times).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/taskspace data
.venv/bin/taskspace book --preset "${PRESET:-tiny}"
