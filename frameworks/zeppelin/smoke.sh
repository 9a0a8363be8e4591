# zeppelin smoke (master): /api/version answers 200, the admin login works, and the
# Spark interpreter setting names the cluster's Spark master.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_COMPONENTS:?}" "${DISCO_HOME:?}"
cd /

api=http://127.0.0.1:8090/api
password_file=$DISCO_HOME/zeppelin/password
case " $DISCO_COMPONENTS " in
  *" hadoop "*) spark_master=yarn ;;
  *) spark_master=spark://$DISCO_MASTER_ADDRESS:7077 ;;
esac

disco_wait_http "$api/version" 120
echo "zeppelin: /api/version: 200"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -c "$work/cookies" \
  --data-urlencode userName=admin --data-urlencode "password@$password_file" "$api/login" || true)
if [ "$code" != 200 ]; then
  echo "zeppelin: login as admin answered $code" >&2
  exit 1
fi
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$api/interpreter/setting" || true)
if [ "$code" = 200 ]; then
  echo "zeppelin: the interpreter settings are readable without a login" >&2
  exit 1
fi

curl -fsS --max-time 30 -b "$work/cookies" -o "$work/settings.json" "$api/interpreter/setting"
configured=$(python3 - "$work/settings.json" <<'PY'
import json
import sys

with open(sys.argv[1]) as f:
    settings = json.load(f)["body"]
for setting in settings:
    if setting.get("name") == "spark":
        print(setting.get("properties", {}).get("spark.master", {}).get("value", ""))
        break
PY
)
if [ "$configured" != "$spark_master" ]; then
  echo "zeppelin: the Spark interpreter's master is '$configured', expected '$spark_master'" >&2
  exit 1
fi
echo "zeppelin: login works, Spark interpreter on $spark_master"
