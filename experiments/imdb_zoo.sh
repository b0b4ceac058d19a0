#!/usr/bin/env bash
# The lecture's models on the real IMDB data, 3 seeds. Each seed is one `textrnn compare`
# (same data and seed for every model); finished runs are reused, interrupted ones resumed.
#   TEXTRNN_DATA=/path/to/aclImdb_v1.tar.gz experiments/imdb_zoo.sh [MODELS...]
# Then: python experiments/summarize_zoo.py runs/imdb-zoo > table.md
set -euo pipefail
models=("${@:-simple-rnn lstm stacked-lstm bi-lstm gru bi-gru}")
for seed in 0 1 2; do
  textrnn -q compare ${models[*]} --data imdb --epochs 10 --patience 2 --seed "$seed" \
    --out "runs/imdb-zoo/seed-$seed"
done
