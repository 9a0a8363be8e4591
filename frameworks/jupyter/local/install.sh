# jupyter install (local): JupyterLab of the requested version from PyPI into a virtual
# environment shared by every local cluster.
set -euo pipefail
: "${PARAM_VERSION:?}"

if [[ ! $PARAM_VERSION =~ ^4\.[0-9]+\.[0-9]+$ ]]; then
  echo "jupyter: version must be a JupyterLab 4 release like 4.5.11, got '$PARAM_VERSION'" >&2
  exit 2
fi
disco_venv jupyter "$PARAM_VERSION" "jupyterlab==$PARAM_VERSION"
echo "jupyter: JupyterLab $("$DISCO_VENV/bin/jupyter-lab" --version) in $DISCO_VENV"
