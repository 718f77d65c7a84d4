#!/usr/bin/env bash
# CI step for the documentation site: install headless Chromium (Debian packages), the docs extra,
# build the site from the notebooks (python tools/docs.py build) and check it in the browser
# (python tools/docs_browser_test.py); then, with the demo extra (JupyterLab), run the demo notebook in JupyterLab
# in the same browser and use its app (python tools/demo_browser_test.py). Run inside the project's virtual environment:
#   bash tools/docs_ci.sh
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
if ! python -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)' 2>/dev/null; then
  echo "docs: activate the project's virtual environment first (python is $(command -v python))" >&2; exit 2
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
echo "docs: chromium $(chromium --version 2>/dev/null | awk '{print $2}'), chromedriver $(chromedriver --version | awk '{print $2}') ($(( $(date +%s) - start )) s)"
python -m pip install -q -e ".[docs,demo]" 2>&1 | grep -v "is ignored" || true
echo "docs: tools installed ($(( $(date +%s) - start )) s)"
export MPLBACKEND=Agg
python tools/docs.py build
python tools/docs_browser_test.py
python tools/demo_browser_test.py
echo "docs step: $(( $(date +%s) - start )) s"
