# hadoop install (master and slaves): Java from apt, the hadoop system user, and the
# Hadoop release from the Apache archive, checked against the SHA-512 published beside it.
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_HOME:?}" "${DISCO_LOG_DIR:?}"
cd /

version=$PARAM_VERSION
if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "hadoop: version must look like 3.4.1, got '$version'" >&2
  exit 2
fi

# --- Java ---
if ! disco_java_home >/dev/null; then
  disco_apt_install ca-certificates curl
  java_package=
  for candidate in openjdk-11-jre-headless openjdk-17-jre-headless; do
    policy=$(apt-cache policy "$candidate" 2>/dev/null || true)
    if [[ $policy =~ Candidate:\ [0-9] ]]; then
      java_package=$candidate
      break
    fi
  done
  if [ -z "$java_package" ]; then
    echo "hadoop: neither openjdk-11-jre-headless nor openjdk-17-jre-headless is available" >&2
    exit 3
  fi
  disco_apt_install "$java_package"
fi
echo "hadoop: Java at $(disco_java_home)"

# --- user and directories ---
disco_ensure_user hadoop /var/lib/hadoop
install -d -o hadoop -g hadoop -m 0755 "$DISCO_LOG_DIR/hadoop"

# --- Hadoop itself ---
dest=$DISCO_HOME/hadoop-$version
if [ ! -f "$dest/.disco-installed" ]; then
  downloads=$DISCO_HOME/downloads
  tarball=hadoop-$version.tar.gz
  install -d -m 0755 "$downloads"
  disco_fetch_verified "https://archive.apache.org/dist/hadoop/common/hadoop-$version/$tarball" "$downloads/$tarball"
  rm -rf "$dest.partial"
  mkdir -p "$dest.partial"
  # Owned by root whatever the archive says; the bundled documentation is left out.
  tar -xzf "$downloads/$tarball" -C "$dest.partial" --strip-components=1 \
    --no-same-owner --exclude='*/share/doc'
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
  touch "$dest/.disco-installed"
  rm -f "$downloads/$tarball"
fi
ln -sfn "$dest" "$DISCO_HOME/hadoop"

# For people who log in: hadoop, hdfs, yarn on the PATH.
cat >/etc/profile.d/disco-hadoop.sh <<PROFILE
export HADOOP_HOME=$DISCO_HOME/hadoop
export HADOOP_CONF_DIR=$DISCO_HOME/hadoop/etc/hadoop
export PATH=\$PATH:$DISCO_HOME/hadoop/bin
PROFILE
echo "hadoop: $version installed in $dest"
