# swarm start (master): `docker swarm init` advertising the master's private address
# (skipped when already a manager), then the worker join token published for the slaves:
# a file served by python3's http.server, bound to the private address on port 2378, as
# the systemd service disco-swarm-token running as the unprivileged user disco-swarm;
# and the attachable overlay network PARAM_OVERLAY_NETWORK.
# Port 2378 is not public, so only the cluster's own nodes (its security group) can
# fetch the token: no ssh needed.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}" "${DISCO_HOME:?}" "${PARAM_OVERLAY_NETWORK:?}"
cd /

master=$DISCO_MASTER_ADDRESS
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
case $state in
  active)
    if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
      echo "swarm: this node is in a swarm but not a manager" >&2
      exit 1
    fi
    echo "swarm: already a swarm manager"
    ;;
  inactive)
    docker swarm init --advertise-addr "$master"
    ;;
  *)
    echo "swarm: Docker reports swarm state '$state'; expected inactive or active" >&2
    exit 1
    ;;
esac

# The attachable overlay network, made once (it outlives a rerun of this step).
if ! docker network inspect "$PARAM_OVERLAY_NETWORK" >/dev/null 2>&1; then
  docker network create --driver overlay --attachable "$PARAM_OVERLAY_NETWORK"
fi

www=$DISCO_HOME/swarm/www
install -d -m 0755 "$DISCO_HOME/swarm" "$www"
docker swarm join-token --quiet worker >"$www/worker-token.tmp"
chmod 0644 "$www/worker-token.tmp"
mv "$www/worker-token.tmp" "$www/worker-token"

if ! id -u disco-swarm >/dev/null 2>&1; then
  if getent group disco-swarm >/dev/null; then
    useradd --system --gid disco-swarm --home-dir /nonexistent --shell /usr/sbin/nologin disco-swarm
  else
    useradd --system --user-group --home-dir /nonexistent --shell /usr/sbin/nologin disco-swarm
  fi
fi
disco_service swarm-token disco-swarm "/usr/bin/python3 -m http.server 2378 --bind $master --directory $www"
disco_wait_http "http://$master:2378/worker-token" 120
echo "swarm: manager at $master:2377, worker token served on $master:2378"
