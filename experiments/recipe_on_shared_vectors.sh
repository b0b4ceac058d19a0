#!/usr/bin/env bash
# Run `textrnn recipe` on the word2vec vectors of finished runs, so a run differs from its source only
# in the options given (issue 10's paired comparisons). The vectors (the run's and each network's)
# are copied in, the recipe skips pretraining when vectors exist, and shared-embedding.txt records
# the source and the seconds its pretraining took (experiments/recipe_runs.py adds them to the wall).
#
#   TEXTRNN_DATA=... bash experiments/recipe_on_shared_vectors.sh SOURCE_ROOT OUT_ROOT "0 1 2" OPTIONS...
#   e.g. ... runs/recipe-own4 runs/recipe-elr "0 1 2" --dim 128 --units 128 --maxlen 800 \
#            --networks 4 --own-word2vec --embedding-lr 0.00025
set -euo pipefail
source_root=$1 out_root=$2 seeds=$3
shift 3
for seed in $seeds; do
  src=$source_root/seed-$seed dst=$out_root/seed-$seed
  mkdir -p "$dst"
  [ -d "$dst/embedding" ] || cp -r "$src/embedding" "$dst/embedding"
  for net in "$src"/networks/*/; do
    k=$(basename "$net")
    mkdir -p "$dst/networks/$k"
    [ -d "$dst/networks/$k/embedding" ] || cp -r "$net/embedding" "$dst/networks/$k/embedding"
  done
  seconds=$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['seconds']['pretrain'])" "$src/recipe.json")
  echo "word2vec vectors copied from $src (pretrain seconds there: $seconds)" > "$dst/shared-embedding.txt"
  textrnn recipe --data imdb --seed "$seed" --out "$dst" -q "$@"
done
