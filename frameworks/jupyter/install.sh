# jupyter install (master): python3-venv from apt, the jupyter system user, and a venv
# owned by it with JupyterLab (and PySpark of the cluster's Spark version when spark is
# deployed). The venv belongs to jupyter so notebooks can %pip install into it.
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_HOME:?}" "${DISCO_COMPONENTS:?}"
cd /

if [[ ! $PARAM_VERSION =~ ^[0-9]+(\.[0-9]+)*([a-z]+[0-9]*)?$ ]]; then
  echo "jupyter: version must be a JupyterLab release like 4.5.11, got '$PARAM_VERSION'" >&2
  exit 2
fi
packages=("jupyterlab==$PARAM_VERSION" ipykernel)
case " $DISCO_COMPONENTS " in
  *" spark "*)
    : "${DISCO_PARAM_SPARK_VERSION:?}"
    if [[ ! $DISCO_PARAM_SPARK_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
      echo "jupyter: spark version '$DISCO_PARAM_SPARK_VERSION' is not a release number" >&2
      exit 2
    fi
    packages+=("pyspark==$DISCO_PARAM_SPARK_VERSION")
    ;;
  *)
    # A used cluster's Spark (icclab.disco.uses): PySpark of its release, and the Java a
    # driver needs.
    if [ -n "${DISCO_USES_SPARK_VERSION:-}" ]; then
      if [[ ! $DISCO_USES_SPARK_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
        echo "jupyter: the used cluster's Spark version '$DISCO_USES_SPARK_VERSION' is not a release number" >&2
        exit 2
      fi
      packages+=("pyspark==$DISCO_USES_SPARK_VERSION")
      disco_ensure_java
    fi
    ;;
esac
# A used cluster's Dask: the client of its version.
if [ -n "${DISCO_USES_DASK_VERSION:-}" ]; then
  spec=$DISCO_USES_DASK_VERSION
  [[ $spec =~ ^[0-9][0-9A-Za-z.]*$ ]] && spec="==$spec"
  if [[ ! $spec =~ ^(==|>=|<=|~=|!=|<|>)[0-9][0-9A-Za-z.*]*$ ]]; then
    echo "jupyter: the used cluster's Dask version '$DISCO_USES_DASK_VERSION' is not a release or specifier" >&2
    exit 2
  fi
  packages+=("dask[distributed]$spec" "distributed$spec")
fi

disco_apt_install python3-venv ca-certificates curl

if ! id -u jupyter >/dev/null 2>&1; then
  if getent group jupyter >/dev/null; then
    useradd --system --gid jupyter --home-dir /var/lib/jupyter --shell /bin/bash jupyter
  else
    useradd --system --user-group --home-dir /var/lib/jupyter --shell /bin/bash jupyter
  fi
fi
install -d -o jupyter -g jupyter -m 0750 /var/lib/jupyter /var/lib/jupyter/notebooks
install -d -o root -g root -m 0755 "$DISCO_HOME/jupyter"
venv=$DISCO_HOME/jupyter/venv
install -d -o jupyter -g jupyter -m 0755 "$venv"

as_jupyter() {
  runuser -u jupyter -- env HOME=/var/lib/jupyter "$@"
}
if [ ! -x "$venv/bin/python" ]; then
  as_jupyter python3 -m venv "$venv"
fi
as_jupyter "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
as_jupyter "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${packages[@]}"
echo "jupyter: installed ${packages[*]} in $venv"
