# zeppelin configure (master): the admin password (the parameter, or one generated once,
# kept root-only in $DISCO_HOME/zeppelin/password), shiro.ini requiring a login for all
# but /api/version, and zeppelin-env.sh: port 8090 on all addresses, SPARK_HOME and the
# Spark master (spark://<master>:7077, or yarn when hadoop is deployed).
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_COMPONENTS:?}" "${DISCO_HOME:?}" "${DISCO_LOG_DIR:?}"
: "${PARAM_PASSWORD?}"
cd /

zeppelin_home=$DISCO_HOME/zeppelin/current
conf=$zeppelin_home/conf
[ -d "$conf" ] || { echo "zeppelin: $conf is missing; did install run?" >&2; exit 2; }

java_home=$(disco_java_home) || { echo "zeppelin: no OpenJDK 11 or 17 found" >&2; exit 3; }

on_yarn=false
case " $DISCO_COMPONENTS " in *" hadoop "*) on_yarn=true ;; esac
if [ "$on_yarn" = true ]; then
  spark_master=yarn
else
  spark_master=spark://$DISCO_MASTER_ADDRESS:7077
fi

# --- the admin password, never printed ---
password_file=$DISCO_HOME/zeppelin/password
disco_secret_file "$password_file" "$PARAM_PASSWORD"

# shiro.ini: readable by zeppelin only, since it holds the password (created under umask
# 077, so it is never readable by others).
umask 077
{
  echo "# Written by DISCO at every deployment: edits are overwritten."
  echo "[users]"
  printf 'admin = %s, admin\n' "$(cat "$password_file")"
  echo
  echo "[main]"
  echo "sessionManager = org.apache.shiro.web.session.mgt.DefaultWebSessionManager"
  echo "securityManager.sessionManager = \$sessionManager"
  echo "securityManager.sessionManager.globalSessionTimeout = 86400000"
  echo "shiro.loginUrl = /api/login"
  echo
  echo "[roles]"
  echo "admin = *"
  echo
  echo "[urls]"
  echo "/api/version = anon"
  echo "/api/interpreter/** = authc, roles[admin]"
  echo "/api/configurations/** = authc, roles[admin]"
  echo "/api/credential/** = authc, roles[admin]"
  echo "/api/admin/** = authc, roles[admin]"
  echo "/** = authc"
} >"$conf/shiro.ini.tmp"
chown zeppelin:zeppelin "$conf/shiro.ini.tmp"
chmod 0600 "$conf/shiro.ini.tmp"
mv "$conf/shiro.ini.tmp" "$conf/shiro.ini"
umask 022

{
  echo "# Written by DISCO at every deployment: edits are overwritten."
  echo "export JAVA_HOME=$java_home"
  echo "export ZEPPELIN_ADDR=0.0.0.0"
  echo "export ZEPPELIN_PORT=8090"
  echo "export ZEPPELIN_LOG_DIR=$DISCO_LOG_DIR/zeppelin"
  echo "export ZEPPELIN_NOTEBOOK_DIR=/var/lib/zeppelin/notebook"
  echo "export SPARK_HOME=$DISCO_HOME/spark"
  echo "export SPARK_MASTER=$spark_master"
  echo "export PYSPARK_PYTHON=python3"
  if [ "$on_yarn" = true ]; then
    echo "export HADOOP_CONF_DIR=$DISCO_HOME/hadoop/etc/hadoop"
  fi
} >"$conf/zeppelin-env.sh.tmp"
chown zeppelin:zeppelin "$conf/zeppelin-env.sh.tmp"
chmod 0644 "$conf/zeppelin-env.sh.tmp"
mv "$conf/zeppelin-env.sh.tmp" "$conf/zeppelin-env.sh"

if [ "$on_yarn" = true ]; then
  hdfs=$DISCO_HOME/hadoop/bin/hdfs
  disco_wait_tcp "$DISCO_MASTER_ADDRESS" 8020 600
  timeout 600 runuser -u hadoop -- "$hdfs" dfsadmin -safemode wait
  runuser -u hadoop -- "$hdfs" dfs -mkdir -p /user/zeppelin
  runuser -u hadoop -- "$hdfs" dfs -chown zeppelin:zeppelin /user/zeppelin
fi
echo "zeppelin: configured for Spark master $spark_master"
