#!/usr/bin/env bash
# Install (if needed) and run the main job: build the book. `taskspace book` executes every
# notebook with papermill (each asks the core for task spaces: committed reference results
# in results/<preset> are loaded, anything else is loaded from the run store or computed,
# pretraining the checkpoints first) and renders the HTML with Jupyter Book. The default
# `cpu` renders the committed reference results without training anything; PRESET=tiny
# computes everything on three small models; PRESET=ci checks the pipeline in minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/taskspace data
.venv/bin/taskspace book --preset "${PRESET:-cpu}"
