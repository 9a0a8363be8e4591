# swarm install (master and slaves): Docker from Ubuntu's docker.io package, enabled and
# running.
set -euo pipefail
cd /

if ! command -v docker >/dev/null 2>&1; then
  disco_apt_install docker.io ca-certificates curl
fi
systemctl enable --now docker.service

deadline=$(($(date +%s) + 120))
until docker info >/dev/null 2>&1; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "swarm: the Docker daemon does not answer" >&2
    exit 1
  fi
  sleep 2
done
echo "swarm: Docker $(docker version --format '{{.Server.Version}}') running"
