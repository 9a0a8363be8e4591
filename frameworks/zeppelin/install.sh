# zeppelin install (master): the zeppelin system user and the Zeppelin
# release (-bin-netinst: Spark interpreter included) from the Apache archive, checked
# against the SHA-512 published beside it. The installation belongs to zeppelin, which
# writes its interpreter settings, local repository and web app cache inside it.
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_HOME:?}" "${DISCO_LOG_DIR:?}"
cd /

version=$PARAM_VERSION
if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "zeppelin: version must look like 0.11.2, got '$version'" >&2
  exit 2
fi

# --- helpers (node-lib.sh has no checksum-verified download) ---

# --- Java: spark (a dependency, installed before) brought OpenJDK 11, or 17 ---
java_home=
for dir in /usr/lib/jvm/java-11-openjdk-* /usr/lib/jvm/java-17-openjdk-*; do
  if [ -x "$dir/bin/java" ]; then java_home=$dir; break; fi
done
[ -n "$java_home" ] || { echo "zeppelin: no OpenJDK 11 or 17: spark's install should have brought one" >&2; exit 3; }
echo "zeppelin: Java at $java_home"

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
if [ ! -f "$dest/.disco-installed" ]; then
  downloads=$DISCO_HOME/downloads
  install -d -m 0755 "$downloads"
  disco_fetch_verified "https://archive.apache.org/dist/zeppelin/zeppelin-$version/$build.tgz" "$downloads/$build.tgz"
  rm -rf "$dest.partial"
  mkdir -p "$dest.partial"
  tar -xzf "$downloads/$build.tgz" -C "$dest.partial" --strip-components=1 --no-same-owner
  chown -R zeppelin:zeppelin "$dest.partial"
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
  touch "$dest/.disco-installed"
  rm -f "$downloads/$build.tgz"
fi
ln -sfn "$dest" "$DISCO_HOME/zeppelin/current"
echo "zeppelin: $version installed in $dest"
