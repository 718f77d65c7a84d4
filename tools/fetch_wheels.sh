#!/usr/bin/env bash
# Download, on this machine, the wheels that the GPU machine lacks, into .whl/ of the project root.
#
# The GPU machine (Python 3.12, torch, numpy, scipy, numba, scikit-learn, matplotlib, pandas, safetensors, einops,
# accelerate ...) has no fastai, librosa or soundfile and reaches no package registry. Each wheel is pinned to the
# version installed in the Python environment that runs this script -- the one the test suite runs in (CI's) --
# except fastprogress, pinned to 1.0.3: newer releases import python-fasthtml, which the GPU machine lacks.
# A name missing from this environment, or a wheel that cannot be downloaded, stops the script with an error.
#
# Usage (from anywhere):  bash tools/fetch_wheels.sh          (then `python tools/gpu_train.py --check-carry`)
set -euo pipefail
cd "$(dirname "$0")/.."
NAMES=(fastai fastcore fastdownload fasttransform plum-dispatch beartype
       librosa soundfile soxr audioread pooch platformdirs decorator cffi pycparser)
PINNED=(fastprogress==1.0.3)
# The separation benchmark's peers (gpu_train --bench-separate runs Open-Unmix and HT-Demucs beside our model; the GPU
# machine has torchaudio): carried when installed here, else that benchmark reports them as missing.
PEERS=(openunmix demucs julius)
PY=${PYTHON:-python3}
pins=()
for name in "${NAMES[@]}"; do
  version=$("$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name" 2>/dev/null) \
    || { echo "fetch_wheels: $name is not installed in $("$PY" -c 'import sys; print(sys.prefix)'): cannot pin it" >&2; exit 1; }
  pins+=("$name==$version")
done
pins+=("${PINNED[@]}")
for name in "${PEERS[@]}"; do
  if version=$("$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name" 2>/dev/null); then
    pins+=("$name==$version")
  else echo "fetch_wheels: $name (a benchmark peer) is not installed here: not carried" >&2; fi
done
exclude=$(git rev-parse --git-path info/exclude); mkdir -p "$(dirname "$exclude")"
grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"      # never committed, carried by the device call
rm -rf .whl && mkdir -p .whl
if ! "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
     --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${pins[@]}" > .whl/.download.log 2>&1; then
  grep -v "is ignored" .whl/.download.log >&2; echo "fetch_wheels: wheel download FAILED (see above)" >&2; exit 1
fi
for pin in "${pins[@]}"; do        # one wheel per pin, of exactly that version
  name=${pin%%==*}; version=${pin##*==}; norm=$(echo "$name" | tr '-' '_')
  ls .whl/ | grep -qi "^${norm}-${version}-.*\.whl$" || { echo "fetch_wheels: no wheel for $pin in .whl/" >&2; exit 1; }
done
[ "$(ls .whl/*.whl | wc -l)" -eq "${#pins[@]}" ] || { echo "fetch_wheels: expected ${#pins[@]} wheels:" >&2; ls .whl >&2; exit 1; }
printf '%s\n' "${pins[@]}" > .whl/PINS
echo "$(ls .whl/*.whl | wc -l) wheels, $(du -cb .whl/*.whl | tail -1 | cut -f1) bytes in .whl/:"; printf '  %s\n' "${pins[@]}"
cat <<'PRE'
Start each device command with:
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit;
PRE
