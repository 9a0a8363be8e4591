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
    echo "spark: neither openjdk-11-jre-headless nor openjdk-17-jre-headless is available" >&2
    exit 3
  fi
  disco_apt_install "$java_package"
fi
echo "spark: Java at $(disco_java_home)"

# --- user ---
disco_ensure_user spark /var/lib/spark
install -d -o spark -g spark -m 0755 "$DISCO_LOG_DIR/spark"

# --- Spark itself ---
build=spark-$version-bin-hadoop3
dest=$DISCO_HOME/$build
if [ ! -f "$dest/.disco-installed" ]; then
  downloads=$DISCO_HOME/downloads
  install -d -m 0755 "$downloads"
  disco_fetch_verified "https://archive.apache.org/dist/spark/spark-$version/$build.tgz" "$downloads/$build.tgz"
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
