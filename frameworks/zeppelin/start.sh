# zeppelin start (master): Zeppelin as a systemd service running as zeppelin, then its
# Spark interpreter setting pointed at the cluster's Spark through the REST API (logged in
# as admin; the password goes to curl from its file, never on a command line).
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_COMPONENTS:?}" "${DISCO_HOME:?}"
cd /

zeppelin_home=$DISCO_HOME/zeppelin/current
spark_home=$DISCO_HOME/spark
password_file=$DISCO_HOME/zeppelin/password
api=http://127.0.0.1:8090/api
case " $DISCO_COMPONENTS " in
  *" hadoop "*) spark_master=yarn ;;
  *) spark_master=spark://$DISCO_MASTER_ADDRESS:7077 ;;
esac

disco_service zeppelin zeppelin "$zeppelin_home/bin/zeppelin.sh" \
  "ZEPPELIN_HOME=$zeppelin_home" "HOME=/var/lib/zeppelin"
disco_wait_http "$api/version" 600

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -c "$work/cookies" \
  --data-urlencode userName=admin --data-urlencode "password@$password_file" "$api/login" || true)
if [ "$code" != 200 ]; then
  echo "zeppelin: login as admin answered $code" >&2
  exit 1
fi

# The interpreter settings are created from the bundled defaults at first start; the
# Spark one gets the cluster's master and SPARK_HOME. Unchanged settings are not written
# again (an update restarts the interpreter).
deadline=$(($(date +%s) + 300))
until curl -fsS --max-time 30 -b "$work/cookies" -o "$work/settings.json" "$api/interpreter/setting"; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "zeppelin: could not read the interpreter settings" >&2
    exit 1
  fi
  sleep 5
done
setting_id=$(python3 - "$work/settings.json" "$work/update.json" "$spark_master" "$spark_home" <<'PY'
import json
import sys

source, target, master, spark_home = sys.argv[1:5]
with open(source) as f:
    settings = json.load(f)["body"]
spark = [s for s in settings if s.get("name") == "spark"]
if not spark:
    sys.exit("zeppelin: no interpreter setting named spark")
setting = spark[0]
properties = setting.setdefault("properties", {})
wanted = {"spark.master": master, "SPARK_HOME": spark_home}
if master == "yarn":
    wanted["spark.submit.deployMode"] = "client"
changed = False
for name, value in wanted.items():
    prop = properties.get(name)
    if not isinstance(prop, dict):
        prop = {"name": name, "type": "string"}
        properties[name] = prop
    if prop.get("value") != value:
        prop["name"] = name
        prop["value"] = value
        changed = True
if changed:
    with open(target, "w") as f:
        json.dump(setting, f)
print(setting["id"])
PY
)
if [ -f "$work/update.json" ]; then
  curl -fsS --max-time 120 -b "$work/cookies" -X PUT -H 'Content-Type: application/json' \
    --data-binary "@$work/update.json" -o /dev/null "$api/interpreter/setting/$setting_id"
  echo "zeppelin: Spark interpreter set to $spark_master"
else
  echo "zeppelin: Spark interpreter already set to $spark_master"
fi
echo "zeppelin: running on port 8090"
