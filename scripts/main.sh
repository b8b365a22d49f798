#!/usr/bin/env bash
# Install (if needed) and run the main job. For now: the `tiny` pipeline as far as it exists:
# validate BLiMP, pretrain the three tiny models (resumes if interrupted), score the final
# checkpoint of each on the BLiMP test split, and compute the task space of the largest.
# Everything is cached: a second run only reloads. PRESET=cpu bash scripts/main.sh for more.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PRESET=${PRESET:-tiny}
TS=.venv/bin/taskspace
$TS data
$TS pretrain --preset "$PRESET"
mkdir -p "runs/$PRESET/scores"
for model_dir in runs/"$PRESET"/models/*/; do
    size=$(basename "$model_dir")
    final="$model_dir$(cd "$model_dir" && ls -d epoch-* | sort -t- -k2 -g | tail -n 1)"
    echo "== $PRESET/$size: scoring $final"
    $TS score --model "$final" --out "runs/$PRESET/scores/$size.csv"
done
$TS space --preset "$PRESET"
