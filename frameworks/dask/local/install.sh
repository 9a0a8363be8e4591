# dask install (local): dask[distributed] of the requested version and bokeh (for the
# dashboard) from PyPI into a virtual environment shared by every local cluster. The
# client, scheduler and workers of a cluster all use it, so their versions match.
set -euo pipefail
: "${PARAM_VERSION:?}"

spec=$PARAM_VERSION
if [[ $spec =~ ^[0-9][0-9A-Za-z.]*$ ]]; then
  spec="==$spec"
elif [[ ! $spec =~ ^(==|>=|<=|~=|!=|<|>)[0-9][0-9A-Za-z.*]*$ ]]; then
  echo "dask: version must be a release like 2025.12.0 or a specifier like >=2025.1, got '$PARAM_VERSION'" >&2
  exit 2
fi
disco_venv dask "$PARAM_VERSION" "dask[distributed]$spec" "distributed$spec" "bokeh>=3.1"
echo "dask: distributed $("$DISCO_VENV/bin/python" -c 'import distributed; print(distributed.__version__)') in $DISCO_VENV"
