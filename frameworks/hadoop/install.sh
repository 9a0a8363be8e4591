# hadoop install (master and slaves): Java from apt, the hadoop system user, and the
# Hadoop release from the Apache archive (or the apache_mirror parameter's mirror), checked
# against the SHA-512 published beside it.
set -euo pipefail
: "${PARAM_VERSION:?}" "${PARAM_APACHE_MIRROR?}" "${DISCO_HOME:?}" "${DISCO_LOG_DIR:?}"
cd /

version=$PARAM_VERSION
if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "hadoop: version must look like 3.4.1, got '$version'" >&2
  exit 2
fi

# --- Java ---
disco_ensure_java
echo "hadoop: Java at $(disco_java_home)"

# --- user and directories ---
disco_ensure_user hadoop /var/lib/hadoop
install -d -o hadoop -g hadoop -m 0755 "$DISCO_LOG_DIR/hadoop"

# --- Hadoop itself ---
dest=$DISCO_HOME/hadoop-$version
DISCO_APACHE_MIRROR=$PARAM_APACHE_MIRROR
# Owned by root whatever the archive says; the bundled documentation is left out.
disco_install_apache_release --exclude '*/share/doc' \
  "hadoop/common/hadoop-$version/hadoop-$version.tar.gz" "$dest"
ln -sfn "$dest" "$DISCO_HOME/hadoop"

# For people who log in: hadoop, hdfs, yarn on the PATH.
cat >/etc/profile.d/disco-hadoop.sh <<PROFILE
export HADOOP_HOME=$DISCO_HOME/hadoop
export HADOOP_CONF_DIR=$DISCO_HOME/hadoop/etc/hadoop
export PATH=\$PATH:$DISCO_HOME/hadoop/bin
PROFILE
echo "hadoop: $version installed in $dest"
