# swarm smoke (master): `docker node ls` shows the master and a node per slave Ready (bounded
# wait).
set -euo pipefail
: "${DISCO_SLAVE_COUNT:?}"
cd /

deadline=$(($(date +%s) + 600))
while true; do
  # The master and the slaves the cluster runs on now (DISCO may give up on one).
  expected=$(($(disco_expected_slaves) + 1))
  statuses=$(docker node ls --format '{{.Status}}' 2>/dev/null || true)
  ready=0
  while IFS= read -r status; do
    if [ "$status" = Ready ]; then ready=$((ready + 1)); fi
  done <<<"$statuses"
  if [ "$ready" -ge "$expected" ]; then
    break
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "swarm: $ready nodes Ready, expected $expected:" >&2
    docker node ls >&2 || true
    exit 1
  fi
  sleep 5
done
docker node ls
echo "swarm: $ready nodes Ready"
