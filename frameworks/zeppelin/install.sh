# zeppelin install (master): the zeppelin system user and the Zeppelin
# release (-bin-netinst: Spark interpreter included) from the Apache archive (or the
# apache_mirror parameter's mirror), checked against the SHA-512 published beside it. The
# installation belongs to zeppelin, which writes its interpreter settings, local
# repository and web app cache inside it.
set -euo pipefail
: "${PARAM_VERSION:?}" "${PARAM_APACHE_MIRROR?}" "${DISCO_HOME:?}" "${DISCO_LOG_DIR:?}"
cd /

version=$PARAM_VERSION
if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "zeppelin: version must look like 0.11.2, got '$version'" >&2
  exit 2
fi

# --- Java: spark's install (a dependency, run before) has normally brought it ---
disco_ensure_java
echo "zeppelin: Java at $(disco_java_home)"

# --- user and directories ---
if ! id -u zeppelin >/dev/null 2>&1; then
  if getent group zeppelin >/dev/null; then
    useradd --system --gid zeppelin --home-dir /var/lib/zeppelin --shell /bin/bash zeppelin
  else
    useradd --system --user-group --home-dir /var/lib/zeppelin --shell /bin/bash zeppelin
  fi
fi
install -d -o zeppelin -g zeppelin -m 0750 /var/lib/zeppelin /var/lib/zeppelin/notebook
install -d -o zeppelin -g zeppelin -m 0755 "$DISCO_LOG_DIR/zeppelin"

# --- Zeppelin itself ---
# $DISCO_HOME/zeppelin (root's) holds the releases, current -> the one in use, and the
# root-only password file (configure.sh).
install -d -o root -g root -m 0755 "$DISCO_HOME/zeppelin"
build=zeppelin-$version-bin-netinst
dest=$DISCO_HOME/zeppelin/$build
DISCO_APACHE_MIRROR=$PARAM_APACHE_MIRROR
disco_install_apache_release --owner zeppelin "zeppelin/zeppelin-$version/$build.tgz" "$dest"
ln -sfn "$dest" "$DISCO_HOME/zeppelin/current"
echo "zeppelin: $version installed in $dest"
