#!/usr/bin/env bash
# Removes the stack deployed by up.sh: its services, its secrets, every function container its
# workers left on this engine (workers remove their own when drained; this catches the rest),
# and leaves the swarm when up.sh created it. The Azurite volume (the trial's data) is kept
# unless RINGFAAS_DOWN_VOLUMES=1. Same variables as up.sh (RINGFAAS_STACK,
# RINGFAAS_SWARM_DATA_DIR). Other nodes: their workers drain on the stack's removal; a
# worker's leftovers are removed when a worker with the same id starts again.
set -euo pipefail
stack="${RINGFAAS_STACK:-ringfaas}"
data_dir="${RINGFAAS_SWARM_DATA_DIR:-/var/lib/ringfaas/$stack}"
log() { echo "down.sh: $*" >&2; }

if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = "active" ]; then
  if docker stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$stack"; then
    log "removing stack $stack"
    docker stack rm "$stack" >&2
  fi
  # Wait for the tasks' containers to stop (workers drain within their stop grace period).
  for _ in $(seq 1 150); do
    [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ] && break
    sleep 1
  done
  left="$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")"
  [ -n "$left" ] && docker rm -f $left >/dev/null
  for s in api_keys cluster_key storage_connection_string; do
    docker secret rm "${stack}_$s" >/dev/null 2>&1 || true
  done
fi

# Function containers of this stack's workers (worker ids are <stack>-<node id>).
fc="$(docker ps -a --filter label=ringfaas.worker --format '{{.ID}} {{.Label "ringfaas.worker"}}' | awk -v p="$stack-" 'index($2, p) == 1 { print $1 }')"
if [ -n "$fc" ]; then
  log "removing $(wc -w <<<"$fc") function container(s)"
  docker rm -f $fc >/dev/null
fi

if [ "${RINGFAAS_DOWN_VOLUMES:-0}" = "1" ]; then
  for _ in $(seq 1 30); do
    docker volume rm "${stack}_azurite-data" >/dev/null 2>&1 && break
    docker volume inspect "${stack}_azurite-data" >/dev/null 2>&1 || break
    sleep 1
  done
fi

if [ -f "$data_dir/swarm-created-by-up" ]; then
  log "leaving the swarm up.sh created"
  docker swarm leave --force >/dev/null
  rm -f "$data_dir/swarm-created-by-up"
fi
if [ "${RINGFAAS_DOWN_VOLUMES:-0}" = "1" ]; then rm -rf "$data_dir"; fi
log "done"
