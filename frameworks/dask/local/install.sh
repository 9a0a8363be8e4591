# dask install (local): dask[distributed] of the requested version and bokeh (for the
# dashboard) from PyPI into a virtual environment shared by every local cluster. The
# client, scheduler and workers of a cluster all use it, so their versions match.
#
# Loopback is shared by every user of the machine, and a Dask scheduler runs whatever
# code it is sent as this user: scheduler, workers and clients speak TLS with mutual
# authentication, with a key and certificate made once for the cluster in
# $DISCO_SHARED_DIR/dask, readable by this user only. The Dask configuration there
# (DASK_CONFIG=$DISCO_SHARED_DIR/dask/config) makes `Client("tls://<master>:8786")`
# use them; the daemons read the same.
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_SHARED_DIR:?}" "${DISCO_CLUSTER_ID:?}"

spec=$PARAM_VERSION
if [[ $spec =~ ^[0-9][0-9A-Za-z.]*$ ]]; then
  spec="==$spec"
elif [[ ! $spec =~ ^(==|>=|<=|~=|!=|<|>)[0-9][0-9A-Za-z.*]*$ ]]; then
  echo "dask: version must be a release like 2025.12.0 or a specifier like >=2025.1, got '$PARAM_VERSION'" >&2
  exit 2
fi
if ! command -v openssl >/dev/null; then
  echo "dask: no openssl on PATH: the local provider makes each cluster's TLS certificate with it (Debian: apt install openssl)" >&2
  exit 2
fi
disco_venv dask "$PARAM_VERSION" "dask[distributed]$spec" "distributed$spec" "bokeh>=3.1"

umask 077
tls=$DISCO_SHARED_DIR/dask
mkdir -p "$tls/config"
# Every node installs at once: the first to take the lock makes the certificate.
(
  flock 9
  if [ ! -s "$tls/cert.pem" ]; then
    if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -days 3650 -subj "/CN=disco-$DISCO_CLUSTER_ID" \
      -keyout "$tls/key.pem.tmp" -out "$tls/cert.pem.tmp" 2>"$tls/openssl.err"; then
      cat "$tls/openssl.err" >&2
      exit 1
    fi
    mv "$tls/key.pem.tmp" "$tls/key.pem"
    mv "$tls/cert.pem.tmp" "$tls/cert.pem"
  fi
  cat >"$tls/config/disco.yaml.tmp" <<YAML
distributed:
  comm:
    default-scheme: tls
    require-encryption: true
    tls:
      ca-file: "$tls/cert.pem"
      scheduler: {cert: "$tls/cert.pem", key: "$tls/key.pem"}
      worker: {cert: "$tls/cert.pem", key: "$tls/key.pem"}
      client: {cert: "$tls/cert.pem", key: "$tls/key.pem"}
YAML
  mv "$tls/config/disco.yaml.tmp" "$tls/config/disco.yaml"
) 9>"$tls/.lock"
echo "dask: distributed $("$DISCO_VENV/bin/python" -c 'import distributed; print(distributed.__version__)') in $DISCO_VENV"
