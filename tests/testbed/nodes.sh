#!/usr/bin/env bash
# Node hosts for the test bed: a cached Debian 12 root file system, and system containers
# (systemd-nspawn --boot) booted from copy-on-write overlays of it on the bridge that
# plays the cluster network, with an HTTP proxy (tinyproxy) as their only way out.
#
#   tests/testbed/nodes.sh image            # debootstrap the image once (cached)
#   tests/testbed/nodes.sh net-up|net-down  # bridge discobr0 10.251.0.1/16 + proxy on it
#   tests/testbed/nodes.sh smoke            # two nodes, user data, proxy, teardown checks
#   tests/testbed/nodes.sh down             # every node container, the proxy, the bridge
#
# openstack.sh calls these as `nodes-image`, `nodes-smoke`; containers themselves are
# started and stopped by node_host.py. See README.md ("Node hosts").
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TB_DIR=${DISCO_TESTBED_DIR:-/var/tmp/disco-testbed}
NODES=$TB_DIR/nodes               # kept across `up`s, like venv/
ROOTFS=$NODES/rootfs
MIRROR=${DISCO_TESTBED_DEBIAN_MIRROR:-http://deb.debian.org/debian}
NICE=${DISCO_TESTBED_NODES_NICE:-10}
# What the node scripts assume of a cloud image (heat-templates/node-lib.sh,
# frameworks/*/install.sh): systemd, curl with CA certificates, python3, sudo, sshd,
# useradd (passwd, essential), tar; iproute2 and ping for the network checks.
IMAGE_PKGS=(systemd systemd-sysv dbus iproute2 iputils-ping ca-certificates curl python3 sudo
            openssh-server procps)
IMAGE_VERSION=1   # bump when the image's contents or set-up change

die() { echo "nodes.sh: $*" >&2; exit 1; }
image_stamp() { echo "bookworm $IMAGE_VERSION ${IMAGE_PKGS[*]}"; }

cmd_image() {
  if [ "$(cat "$ROOTFS/.disco-image-stamp" 2>/dev/null)" = "$(image_stamp)" ]; then
    echo "node image ready: $ROOTFS"; return 0
  fi
  command -v debootstrap >/dev/null && command -v systemd-nspawn >/dev/null && command -v tinyproxy >/dev/null || {
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then  # no system-wide tinyproxy started by the package
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    fi
    nice -n "$NICE" apt-get update -qq
    nice -n "$NICE" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      debootstrap systemd-container tinyproxy >/dev/null
    [ $made_policy = 0 ] || rm -f /usr/sbin/policy-rc.d
  }
  local t0=$SECONDS tmp=$NODES/rootfs.new
  mkdir -p "$NODES"; rm -rf "$tmp"
  echo "debootstrap bookworm into $tmp (${IMAGE_PKGS[*]})"
  nice -n "$NICE" debootstrap --variant=minbase --include="$(IFS=,; echo "${IMAGE_PKGS[*]}")" \
    bookworm "$tmp" "$MIRROR" > "$NODES/debootstrap.log" 2>&1 \
    || { tail -n 20 "$NODES/debootstrap.log" >&2; die "debootstrap failed (log: $NODES/debootstrap.log)"; }
  configure_image "$tmp"
  rm -rf "$tmp/var/cache/apt/archives/"*.deb "$tmp/var/lib/apt/lists/"*_Packages
  image_stamp > "$tmp/.disco-image-stamp"
  rm -rf "$ROOTFS"; mv "$tmp" "$ROOTFS"
  echo "node image built in $((SECONDS - t0)) s: $ROOTFS ($(du -sh "$ROOTFS" | cut -f1))"
}

# What a cloud image has and debootstrap does not: a user-data runner as cloud-init's with
# user_data_format RAW, networking from a file the node host writes, a quiet console.
configure_image() {
  local r=$1
  install -d "$r/var/lib/cloud/instance" "$r/usr/local/sbin"
  cat > "$r/usr/local/sbin/disco-run-user-data" <<'EOF'
#!/bin/sh
# As cloud-init with user_data_format RAW: run the instance's user data once, at the first
# boot, if it is a script (starts with "#!"); its output goes to cloud-init-output.log.
ud=/var/lib/cloud/instance/user-data.txt
done=/var/lib/cloud/instance/boot-finished
[ -e "$done" ] && exit 0
if [ -s "$ud" ] && [ "$(head -c 2 "$ud")" = '#!' ]; then
  chmod 700 "$ud"
  echo "user data started $(date -u +%FT%T.%NZ)" >> /var/log/cloud-init-output.log
  "$ud" >> /var/log/cloud-init-output.log 2>&1; rc=$?
  echo "user data finished $(date -u +%FT%T.%NZ) rc=$rc" >> /var/log/cloud-init-output.log
else
  echo "user data: none, or not a script" >> /var/log/cloud-init-output.log
fi
date -u +%FT%T.%NZ > "$done"
EOF
  chmod 755 "$r/usr/local/sbin/disco-run-user-data"
  cat > "$r/etc/systemd/system/disco-user-data.service" <<'EOF'
[Unit]
Description=Run the instance's user data once (as cloud-init, user_data_format RAW)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
EnvironmentFile=-/etc/environment
ExecStart=/usr/local/sbin/disco-run-user-data
RemainAfterExit=yes
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
  chroot "$r" systemctl enable disco-user-data.service systemd-networkd.service systemd-networkd-wait-online.service >/dev/null 2>&1
  # The node host writes /etc/systemd/network/host0.network (address, no gateway), the
  # proxy settings, the hostname and the user data into each node's overlay.
  chroot "$r" systemctl mask console-getty.service getty@.service systemd-resolved.service \
    apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
  echo 'root:*' | chroot "$r" chpasswd -e
  : > "$r/etc/machine-id"
}

case "${1:-}" in
  image) cmd_image ;;
  *) echo "usage: $0 image" >&2; exit 2 ;;
esac
