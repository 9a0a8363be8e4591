# jupyter install (local): JupyterLab of the requested version from PyPI into a virtual
# environment shared by every local cluster; with a used cluster's Spark or Dask
# (icclab.disco.uses), the environment of that release too (the used cluster has
# normally made it already), so that notebooks drive it with the same version.
set -euo pipefail
: "${PARAM_VERSION:?}"

if [[ ! $PARAM_VERSION =~ ^4\.[0-9]+\.[0-9]+$ ]]; then
  echo "jupyter: version must be a JupyterLab 4 release like 4.5.11, got '$PARAM_VERSION'" >&2
  exit 2
fi
if [ -n "${DISCO_USES_SPARK_VERSION:-}" ]; then
  if [[ ! $DISCO_USES_SPARK_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    echo "jupyter: the used cluster's Spark version '$DISCO_USES_SPARK_VERSION' is not a release number" >&2
    exit 2
  fi
  disco_venv spark "$DISCO_USES_SPARK_VERSION" "pyspark==$DISCO_USES_SPARK_VERSION"
fi
if [ -n "${DISCO_USES_DASK_VERSION:-}" ]; then
  spec=$DISCO_USES_DASK_VERSION
  [[ $spec =~ ^[0-9][0-9A-Za-z.]*$ ]] && spec="==$spec"
  if [[ ! $spec =~ ^(==|>=|<=|~=|!=|<|>)[0-9][0-9A-Za-z.*]*$ ]]; then
    echo "jupyter: the used cluster's Dask version '$DISCO_USES_DASK_VERSION' is not a release or specifier" >&2
    exit 2
  fi
  disco_venv dask "$DISCO_USES_DASK_VERSION" "dask[distributed]$spec" "distributed$spec" "bokeh>=3.1"
fi
disco_venv jupyter "$PARAM_VERSION" "jupyterlab==$PARAM_VERSION"
echo "jupyter: JupyterLab $("$DISCO_VENV/bin/jupyter-lab" --version) in $DISCO_VENV"
