# spark install: Java from apt, the spark system user, and the Spark release (hadoop3
# build) from the Apache archive (or the apache_mirror parameter's mirror), checked against
# the SHA-512 published beside it.
# On YARN (hadoop deployed) the slaves need no Spark: YARN ships it with each application.
set -euo pipefail
: "${PARAM_VERSION:?}" "${PARAM_APACHE_MIRROR?}" "${DISCO_HOME:?}" "${DISCO_LOG_DIR:?}"
: "${DISCO_NODE_GROUP:?}" "${DISCO_COMPONENTS:?}"
cd /

on_yarn=false
case " $DISCO_COMPONENTS " in *" hadoop "*) on_yarn=true ;; esac
if [ "$DISCO_NODE_GROUP" = slaves ] && [ "$on_yarn" = true ]; then
  echo "spark: runs on YARN: nothing to install on a slave"
  exit 0
fi

version=$PARAM_VERSION
if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "spark: version must look like 3.5.3, got '$version'" >&2
  exit 2
fi

# --- Java ---
disco_ensure_java
echo "spark: Java at $(disco_java_home)"

# --- user ---
disco_ensure_user spark /var/lib/spark
install -d -o spark -g spark -m 0755 "$DISCO_LOG_DIR/spark"

# --- Spark itself ---
build=spark-$version-bin-hadoop3
dest=$DISCO_HOME/$build
DISCO_APACHE_MIRROR=$PARAM_APACHE_MIRROR
disco_install_apache_release "spark/spark-$version/$build.tgz" "$dest"
ln -sfn "$dest" "$DISCO_HOME/spark"

cat >/etc/profile.d/disco-spark.sh <<PROFILE
export SPARK_HOME=$DISCO_HOME/spark
export PATH=\$PATH:$DISCO_HOME/spark/bin
PROFILE
echo "spark: $version installed in $dest"
