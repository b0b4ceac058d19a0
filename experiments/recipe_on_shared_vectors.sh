#!/usr/bin/env bash
# Run `textrnn recipe` on the word2vec vectors of finished runs, so a run differs from its source only
# in the options given (the goal's paired comparisons). The vectors (the run's and each network's)
# are copied in, the recipe skips pretraining when vectors exist, and shared-embedding.txt names the
# copied folders, as experiments/recipe_ablation.py does (recipe_runs.py then adds the time_s of
# each copied card.json to the run's wall time).
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
  echo "$src/embedding" > "$dst/shared-embedding.txt"
  for net in "$src"/networks/*/; do
    k=$(basename "$net")
    mkdir -p "$dst/networks/$k"
    [ -d "$dst/networks/$k/embedding" ] || cp -r "$net/embedding" "$dst/networks/$k/embedding"
    echo "${net%/}/embedding" >> "$dst/shared-embedding.txt"
  done
  textrnn recipe --data imdb --seed "$seed" --out "$dst" -q "$@"
done
