# dask install (master and slaves): python3-venv from apt, the dask system user, and a
# root-owned venv in $DISCO_HOME/dask/venv with dask[complete] and distributed of the
# requested version (the same on every node: client, scheduler and workers must match).
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_HOME:?}"
cd /

spec=$PARAM_VERSION
if [[ $spec =~ ^[0-9][0-9A-Za-z.]*$ ]]; then
  spec="==$spec"
elif [[ ! $spec =~ ^(==|>=|<=|~=|!=|<|>)[0-9][0-9A-Za-z.*]*$ ]]; then
  echo "dask: version must be a release like 2025.12.0 or a specifier like >=2025.1, got '$PARAM_VERSION'" >&2
  exit 2
fi

disco_apt_install python3-venv ca-certificates

if ! id -u dask >/dev/null 2>&1; then
  if getent group dask >/dev/null; then
    useradd --system --gid dask --home-dir /var/lib/dask --shell /usr/sbin/nologin dask
  else
    useradd --system --user-group --home-dir /var/lib/dask --shell /usr/sbin/nologin dask
  fi
fi
install -d -o dask -g dask -m 0750 /var/lib/dask /var/lib/dask/worker

venv=$DISCO_HOME/dask/venv
install -d -m 0755 "$DISCO_HOME/dask"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "dask[complete]$spec" "distributed$spec"
echo "dask: installed $("$venv/bin/python" -c 'import distributed; print(distributed.__version__)') in $venv"
