#!/usr/bin/env bash
# Run every notebook as a test (nbdev-test); GPU-only and slow cells are skipped unless asked for:
#   bash tools/test.sh                # what CI runs
#   bash tools/test.sh --flags "slow" # also the slow cells
set -euo pipefail
cd "$(dirname "$0")/.."
nbdev-export
if [ -n "$(git status --porcelain -- frame_transformer 2>/dev/null)" ]; then
  echo "frame_transformer/ differs from what the notebooks export (run nbdev-export and commit):"
  git status --porcelain -- frame_transformer; exit 1
fi
# One thread per notebook process: nbdev-test runs notebooks in parallel, and torch's default of one thread per core
# then oversubscribes the CPU (measured: the tiny model's training step takes 0.05 s with 1 thread, 0.3-0.7 s with 2
# threads while another notebook runs).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
python tools/readme.py --check
# The notebooks' temporary files (toy songs, runs, separations: hundreds of MB) go to one folder, deleted at the end
# whatever happens, so that test runs never fill the disk they share with the user's own data.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ft-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
n=$(find nbs -name '*.ipynb' -not -path '*/.*' -not -name '_*' | wc -l)
start=$(date +%s)
TMPDIR="$scratch" nbdev-test --n-workers "${FT_TEST_WORKERS:-2}" --timing "$@"
echo "notebooks: $n passed, 0 failed ($(( $(date +%s) - start )) s); temporary files: $(du -sh "$scratch" | cut -f1) (deleted)"
