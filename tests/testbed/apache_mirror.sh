#!/usr/bin/env bash
# An Apache archive mirror for the test bed's node hosts, with the one release that can be
# had here: Spark, assembled from the `pyspark` package of the same version on PyPI (the
# only registry this machine reaches besides Debian's, crates.io and npm).
#
#   tests/testbed/apache_mirror.sh build [VERSION]   # assemble (cached; seconds when done)
#   tests/testbed/apache_mirror.sh check [VERSION]   # run the assembled Spark: SparkPi, local[2]
#   tests/testbed/apache_mirror.sh path              # the mirror's root directory
#
# The mirror has the layout of https://archive.apache.org/dist, so a node's
# `disco_install_apache_release spark/spark-V/spark-V-bin-hadoop3.tgz` (heat-templates/
# node-lib.sh) downloads and verifies it exactly as it would from Apache:
#   MIRROR/spark/spark-V/spark-V-bin-hadoop3.tgz          the release archive
#   MIRROR/spark/spark-V/spark-V-bin-hadoop3.tgz.sha512   "HEX  NAME", as Apache publishes it
#
# What the archive holds, and how it differs from Apache's own spark-V-bin-hadoop3.tgz:
# - bin/, sbin/, jars/ (Spark's and Hadoop 3's client jars, Scala 2.12), data/, licenses/
#   and examples/src/: the `deps/` of the pyspark source distribution, which are copied
#   from Apache's build of the same release. Apache's sbin/ has start-master.sh and the
#   like; pyspark's has only spark-config.sh, spark-daemon.sh and the history server's
#   scripts. DISCO's node scripts use bin/spark-class and bin/spark-submit only.
# - python/lib/pyspark.zip and python/lib/py4j-*-src.zip, zipped here from the pyspark and
#   py4j packages (Apache's archive ships the same two zips).
# - examples/jars/spark-examples_2.12-V.jar: NOT Apache's (pyspark does not carry it). It
#   holds one class, org.apache.spark.examples.SparkPi, compiled here with the JDK from
#   SparkPi.java beside this script, which estimates pi and prints "Pi is roughly ..." as
#   Apache's example does; the spark component's smoke test runs exactly that class.
# - conf/ is empty; RELEASE says where the archive came from (bin/spark-class reads the
#   jars from jars/ when RELEASE exists, as in a release).
# Hadoop and Zeppelin releases have no such source here: the mirror has none, and their
# node scripts keep their static checks only (README.md, "Node hosts").
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_DIR=${DISCO_TESTBED_DIR:-/var/tmp/disco-testbed}
MIRROR=$TB_DIR/mirror               # kept across `up`s, like venv/
PY=${DISCO_TESTBED_PYTHON:-/usr/bin/python3}
DEFAULT_VERSION=3.5.3

T0=$(date +%s.%N)
log() { printf '[%5.1fs] %s\n' "$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN{print a-b}')" "$*" >&2; }
die() { echo "apache_mirror.sh: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

version_of() {
  local version=${1:-$DEFAULT_VERSION}
  [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "a Spark version looks like 3.5.3, got '$version'"
  printf '%s\n' "$version"
}

# The JDK compiles SparkPi; Debian's openjdk-17-jdk-headless has javac and jar.
ensure_jdk() {
  if command -v javac >/dev/null 2>&1 && command -v jar >/dev/null 2>&1; then
    return 0
  fi
  log "installing openjdk-17-jdk-headless (javac, jar)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq openjdk-17-jdk-headless >/dev/null
}

cmd_build() {
  local version build dir archive work
  version=$(version_of "${1:-}")
  build=spark-$version-bin-hadoop3
  dir=$MIRROR/spark/spark-$version
  archive=$dir/$build.tgz
  if [ -s "$archive" ] && [ -s "$archive.sha512" ]; then
    log "mirror has $build.tgz already ($dir)"
    return 0
  fi
  ensure_jdk
  work=$(mktemp -d "${TMPDIR:-/tmp}/disco-mirror.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" EXIT

  log "downloading pyspark $version and py4j (source distributions) from PyPI"
  "$PY" -m venv "$work/venv"
  "$work/venv/bin/pip" download -q --no-deps --no-binary :all: -d "$work/dl" "pyspark==$version"
  tar -xzf "$work/dl/pyspark-$version.tar.gz" -C "$work"
  local src=$work/pyspark-$version py4j
  # pyspark's setup.py names the py4j it was built with: fetch that one.
  py4j=$(sed -n "s/.*[\"']py4j==\([0-9.]*\)[\"'].*/\1/p" "$src/setup.py" | head -n 1)
  [ -n "$py4j" ] || die "pyspark $version's setup.py names no py4j version"
  "$work/venv/bin/pip" download -q --no-deps -d "$work/dl" "py4j==$py4j"

  log "assembling $build"
  local out=$work/$build
  mkdir -p "$out/python/lib" "$out/examples/jars" "$out/conf"
  local part
  for part in bin sbin jars data licenses examples; do
    [ -d "$src/deps/$part" ] || die "pyspark $version has no deps/$part"
    cp -a "$src/deps/$part/." "$out/$part/"
  done
  # The two zips bin/pyspark and spark-submit put on PYTHONPATH.
  "$work/venv/bin/pip" install -q --no-deps --target "$work/py4j" "$work/dl/py4j-$py4j"-*.whl
  "$PY" - "$src" "$work/py4j" "$out/python/lib" "$py4j" <<'ZIP'
import os, sys, zipfile
src, py4j_dir, lib, py4j = sys.argv[1:]
def pack(root, package, name):
    with zipfile.ZipFile(os.path.join(lib, name), "w", zipfile.ZIP_DEFLATED) as z:
        for base, dirs, files in os.walk(os.path.join(root, package)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for f in sorted(files):
                path = os.path.join(base, f)
                z.write(path, os.path.relpath(path, root))
pack(src, "pyspark", "pyspark.zip")
pack(py4j_dir, "py4j", "py4j-%s-src.zip" % py4j)
ZIP

  log "compiling the examples jar (org.apache.spark.examples.SparkPi, SparkPi.java)"
  mkdir -p "$work/classes"
  javac -quiet -nowarn -source 8 -target 8 -cp "$out/jars/*" -d "$work/classes" "$HERE/SparkPi.java" 2>/dev/null ||
    javac -cp "$out/jars/*" -d "$work/classes" "$HERE/SparkPi.java"
  jar --create --file "$out/examples/jars/spark-examples_2.12-$version.jar" -C "$work/classes" .

  cat >"$out/RELEASE" <<RELEASE
Spark $version built for Hadoop 3 (DISCO test bed: assembled from PyPI's pyspark $version
source distribution and py4j $py4j by tests/testbed/apache_mirror.sh; the examples jar holds
only org.apache.spark.examples.SparkPi, compiled from tests/testbed/SparkPi.java)
RELEASE

  mkdir -p "$dir"
  tar -czf "$work/$build.tgz" --owner=0 --group=0 -C "$work" "$build"
  (cd "$work" && sha512sum "$build.tgz") >"$work/$build.tgz.sha512"
  mv "$work/$build.tgz" "$archive.part"
  mv "$work/$build.tgz.sha512" "$archive.sha512"
  mv "$archive.part" "$archive"
  log "mirror: $archive ($(du -h "$archive" | cut -f1)) and its .sha512"
}

# Unpacks the archive through node-lib.sh's own download-and-verify path (served over
# HTTP on loopback, as a node would fetch it) and runs SparkPi on it.
cmd_check() {
  local version build work port pid
  version=$(version_of "${1:-}")
  build=spark-$version-bin-hadoop3
  [ -s "$MIRROR/spark/spark-$version/$build.tgz" ] || die "no $build.tgz in $MIRROR: run build first"
  command -v java >/dev/null 2>&1 || die "java is needed to run Spark"
  work=$(mktemp -d "${TMPDIR:-/tmp}/disco-mirror-check.XXXXXX")
  "$PY" -m http.server --bind 127.0.0.1 --directory "$MIRROR" 0 >"$work/http.log" 2>&1 &
  pid=$!
  # shellcheck disable=SC2064
  trap "kill $pid 2>/dev/null || true; rm -rf '$work'" EXIT
  port=""
  for _ in $(seq 50); do
    port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$work/http.log" | head -n 1)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || die "the mirror's HTTP server did not start: $(cat "$work/http.log")"

  log "installing $build from http://127.0.0.1:$port with node-lib.sh"
  (
    DISCO_HOME=$work/home DISCO_LOG_DIR=$work/log DISCO_APACHE_MIRROR=http://127.0.0.1:$port
    export DISCO_HOME DISCO_LOG_DIR DISCO_APACHE_MIRROR
    set +u
    # shellcheck disable=SC1091
    . "$HERE/../../heat-templates/node-lib.sh"
    set -u
    disco_install_apache_release "spark/spark-$version/$build.tgz" "$work/spark" >/dev/null
  )
  log "running SparkPi on local[2]"
  local out
  out=$(SPARK_HOME=$work/spark "$work/spark/bin/spark-submit" --master 'local[2]' \
    --class org.apache.spark.examples.SparkPi --driver-memory 512m \
    "$work/spark/examples/jars/spark-examples_2.12-$version.jar" 4 2>"$work/driver.log") || {
    tail -n 30 "$work/driver.log" >&2
    die "SparkPi failed"
  }
  local pi
  pi=$(printf '%s\n' "$out" | sed -n 's/^Pi is roughly \([0-9.]*\).*/\1/p' | head -n 1)
  awk -v p="${pi:-0}" 'BEGIN { exit !(p > 3.0 && p < 3.3) }' || die "SparkPi printed '$out'"
  log "check passed: $build from the mirror says pi is roughly $pi"
}

case ${1:-} in
  build) shift; cmd_build "$@" ;;
  check) shift; cmd_check "$@" ;;
  path) printf '%s\n' "$MIRROR" ;;
  *) sed -n '2,8p' "$0" >&2; exit 2 ;;
esac
