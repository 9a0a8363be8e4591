# swarm start (slaves): waits for the master to publish the worker join token on its
# cluster-internal port 2378, fetches it and joins the swarm as a worker (skipped when
# already in a swarm). The token is never printed.
set -euo pipefail
: "${DISCO_MASTER_ADDRESS:?}"
cd /

master=$DISCO_MASTER_ADDRESS
self=$(disco_node_address)

state=$(docker info --format '{{.Swarm.LocalNodeState}}')
if [ "$state" = active ]; then
  echo "swarm: already in a swarm"
  exit 0
fi

disco_wait_tcp "$master" 2378 1800
disco_wait_tcp "$master" 2377 300
token=$(curl -fsS --retry 10 --retry-delay 3 --retry-connrefused --max-time 10 \
  "http://$master:2378/worker-token")
token=${token//[[:space:]]/}
if [[ ! $token =~ ^SWMTKN-1-[0-9a-z]+-[0-9a-z]+$ ]]; then
  echo "swarm: the master served something that is not a swarm join token" >&2
  exit 1
fi

if [ "$state" = pending ] || [ "$state" = error ]; then
  # An earlier join that did not complete: start over.
  docker swarm leave --force || true
fi
docker swarm join --token "$token" --advertise-addr "$self" "$master:2377"
echo "swarm: joined the swarm managed by $master"
