# jupyter smoke (master): /api/status refuses a request without the token (403) and
# answers one with it (200); the token is passed to curl on its standard input, never on
# a command line or in the output. PySpark importable when spark is deployed.
set -euo pipefail
: "${DISCO_HOME:?}" "${DISCO_COMPONENTS:?}"
cd /

token_file=$DISCO_HOME/jupyter/token
url=http://127.0.0.1:8888/api/status

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url" || true)
if [ "$code" != 403 ]; then
  echo "jupyter: /api/status without a token answered $code, expected 403" >&2
  exit 1
fi

deadline=$(($(date +%s) + 120))
while true; do
  code=$({ printf 'header = "Authorization: token '; cat "$token_file"; printf '"\n'; } \
    | curl -s -o /dev/null -w '%{http_code}' --max-time 10 -K - "$url" || true)
  [ "$code" = 200 ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "jupyter: /api/status with the token answered $code, expected 200" >&2
    exit 1
  fi
  sleep 3
done
echo "jupyter: /api/status with the token: 200"

case " $DISCO_COMPONENTS " in
  *" spark "*)
    : "${DISCO_PARAM_SPARK_VERSION:?}"
    got=$(runuser -u jupyter -- "$DISCO_HOME/jupyter/venv/bin/python" -c 'import pyspark; print(pyspark.__version__)')
    if [ "$got" != "$DISCO_PARAM_SPARK_VERSION" ]; then
      echo "jupyter: pyspark $got in the venv, expected $DISCO_PARAM_SPARK_VERSION" >&2
      exit 1
    fi
    echo "jupyter: pyspark $got importable"
    ;;
esac
