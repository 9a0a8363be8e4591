# spark install: Java from apt, the spark system user, and the Spark release (hadoop3
# build) from the Apache archive, checked against the SHA-512 published beside it.
# On YARN (hadoop deployed) the slaves need no Spark: YARN ships it with each application.
set -euo pipefail
: "${PARAM_VERSION:?}" "${DISCO_HOME:?}" "${DISCO_LOG_DIR:?}" "${DISCO_NODE_GROUP:?}" "${DISCO_COMPONENTS:?}"
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

# --- helpers (node-lib.sh has no checksum-verified download or Java selection) ---

# java_home_dir: the installed JDK/JRE to use, OpenJDK 11 first, then 17.
java_home_dir() {
  local dir
  for dir in /usr/lib/jvm/java-11-openjdk-* /usr/lib/jvm/java-17-openjdk-*; do
    if [ -x "$dir/bin/java" ]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done
  return 1
}

# sha512_from FILE: the SHA-512 in an Apache .sha512 file, in any of the three layouts
# the projects have published: "HEX  name", "SHA512 (name) = HEX", "name: HE X..." (gpg).
sha512_from() {
  local text
  text=$(tr -d '\r' <"$1")
  text=${text#"${text%%[![:space:]]*}"}
  case $text in
    *=*) text=${text##*=} ;;
    *:*) text=${text#*:} ;;
    *) text=${text%%[[:space:]]*} ;;
  esac
  text=$(printf '%s' "$text" | tr -d '[:space:]' | tr 'A-F' 'a-f')
  if [[ ! $text =~ ^[0-9a-f]{128}$ ]]; then
    echo "no SHA-512 found in $1" >&2
    return 1
  fi
  printf '%s\n' "$text"
}

# fetch_verified URL DEST: DEST is URL's content, checked against URL.sha512. A DEST
# already present with the right checksum is kept (reruns do not download again).
fetch_verified() {
  local url=$1 dest=$2 expected actual
  disco_download "$url.sha512" "$dest.sha512"
  expected=$(sha512_from "$dest.sha512")
  if [ -f "$dest" ]; then
    actual=$(sha512sum "$dest" | cut -d' ' -f1)
    if [ "$actual" = "$expected" ]; then
      return 0
    fi
  fi
  disco_download "$url" "$dest.part"
  actual=$(sha512sum "$dest.part" | cut -d' ' -f1)
  if [ "$actual" != "$expected" ]; then
    rm -f "$dest.part"
    echo "checksum mismatch for $url: expected $expected, got $actual" >&2
    return 1
  fi
  mv "$dest.part" "$dest"
}

# ensure_user NAME HOME: a system user with its own group and home, created once.
ensure_user() {
  if ! id -u "$1" >/dev/null 2>&1; then
    if getent group "$1" >/dev/null; then
      useradd --system --gid "$1" --home-dir "$2" --shell /bin/bash "$1"
    else
      useradd --system --user-group --home-dir "$2" --shell /bin/bash "$1"
    fi
  fi
  install -d -o "$1" -g "$1" -m 0755 "$2"
}

# --- Java ---
if ! java_home_dir >/dev/null; then
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
    echo "spark: neither openjdk-11-jre-headless nor openjdk-17-jre-headless is available" >&2
    exit 3
  fi
  disco_apt_install "$java_package"
fi
echo "spark: Java at $(java_home_dir)"

# --- user ---
ensure_user spark /var/lib/spark
install -d -o spark -g spark -m 0755 "$DISCO_LOG_DIR/spark"

# --- Spark itself ---
build=spark-$version-bin-hadoop3
dest=$DISCO_HOME/$build
if [ ! -f "$dest/.disco-installed" ]; then
  downloads=$DISCO_HOME/downloads
  install -d -m 0755 "$downloads"
  fetch_verified "https://archive.apache.org/dist/spark/spark-$version/$build.tgz" "$downloads/$build.tgz"
  rm -rf "$dest.partial"
  mkdir -p "$dest.partial"
  tar -xzf "$downloads/$build.tgz" -C "$dest.partial" --strip-components=1 --no-same-owner
  rm -rf "$dest"
  mv "$dest.partial" "$dest"
  touch "$dest/.disco-installed"
  rm -f "$downloads/$build.tgz"
fi
ln -sfn "$dest" "$DISCO_HOME/spark"

cat >/etc/profile.d/disco-spark.sh <<PROFILE
export SPARK_HOME=$DISCO_HOME/spark
export PATH=\$PATH:$DISCO_HOME/spark/bin
PROFILE
echo "spark: $version installed in $dest"
