#!/usr/bin/env bash
# Deploys ringfaas as a Docker Swarm stack on this engine, creating what is missing:
#   - a swarm (docker swarm init --advertise-addr $RINGFAAS_SWARM_ADVERTISE_ADDR, default
#     127.0.0.1: a one-node trial); down.sh leaves it again only if this script created it;
#   - the images (npx ringfaas image build), unless RINGFAAS_PLATFORM_IMAGE and
#     RINGFAAS_RUNTIME_IMAGE name existing ones; on a multi-node swarm every node needs them
#     (a registry, or docker save | docker load: docs/operations.md);
#   - the secrets <stack>_api_keys (RINGFAAS_API_KEYS, else one generated admin key),
#     <stack>_cluster_key (RINGFAAS_CLUSTER_KEY, else generated), and
#     <stack>_storage_connection_string (RINGFAAS_STORAGE_CONNECTION_STRING, else an Azurite
#     service in the stack); existing secrets are kept (Swarm secrets are immutable);
# then deploys, waits until every router sees a worker on every node, and prints the first
# router's URL on stdout (everything else goes to stderr). Generated secrets are written to
# $RINGFAAS_SWARM_DATA_DIR/secrets (mode 0600), so the operator can read the API key.
#
# Variables: RINGFAAS_STACK (ringfaas), RINGFAAS_PORT (8080: the first router; replica n on
# RINGFAAS_PORT+n-1), RINGFAAS_ROUTERS (2), RINGFAAS_WORKER_PORT (8090),
# RINGFAAS_AZURITE_BLOB_PORT (10000), RINGFAAS_AZURITE_TABLE_PORT (10002),
# RINGFAAS_SWARM_DATA_DIR (/var/lib/ringfaas/<stack>), RINGFAAS_READY_TIMEOUT_S (180).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
log() { echo "up.sh: $*" >&2; }

export RINGFAAS_STACK="${RINGFAAS_STACK:-ringfaas}"
export RINGFAAS_PORT="${RINGFAAS_PORT:-8080}"
export RINGFAAS_ROUTERS="${RINGFAAS_ROUTERS:-2}"
export RINGFAAS_WORKER_PORT="${RINGFAAS_WORKER_PORT:-8090}"
export RINGFAAS_AZURITE_BLOB_PORT="${RINGFAAS_AZURITE_BLOB_PORT:-10000}"
export RINGFAAS_AZURITE_TABLE_PORT="${RINGFAAS_AZURITE_TABLE_PORT:-10002}"
export RINGFAAS_SWARM_DATA_DIR="${RINGFAAS_SWARM_DATA_DIR:-/var/lib/ringfaas/$RINGFAAS_STACK}"
ready_timeout="${RINGFAAS_READY_TIMEOUT_S:-180}"
stack="$RINGFAAS_STACK"
secrets_dir="$RINGFAAS_SWARM_DATA_DIR/secrets"

mkdir -p "$RINGFAAS_SWARM_DATA_DIR/tmp"
chmod 0700 "$RINGFAAS_SWARM_DATA_DIR"
mkdir -p -m 0700 "$secrets_dir"

# 1. The swarm.
state="$(docker info --format '{{.Swarm.LocalNodeState}}')"
if [ "$state" != "active" ]; then
  addr="${RINGFAAS_SWARM_ADVERTISE_ADDR:-127.0.0.1}"
  log "creating a swarm (advertise address $addr)"
  docker swarm init --advertise-addr "$addr" >/dev/null
  touch "$RINGFAAS_SWARM_DATA_DIR/swarm-created-by-up"
fi
node_addr="$(docker info --format '{{.Swarm.NodeAddr}}')"

# 2. The images.
if [ -z "${RINGFAAS_PLATFORM_IMAGE:-}" ] || [ -z "${RINGFAAS_RUNTIME_IMAGE:-}" ] \
  || ! docker image inspect "$RINGFAAS_PLATFORM_IMAGE" >/dev/null 2>&1 \
  || ! docker image inspect "$RINGFAAS_RUNTIME_IMAGE" >/dev/null 2>&1; then
  log "building the images (npx ringfaas image build)"
  args=()
  [ -n "${RINGFAAS_RUNTIME_IMAGE:-}" ] && args+=(--name "$RINGFAAS_RUNTIME_IMAGE")
  [ -n "${RINGFAAS_PLATFORM_IMAGE:-}" ] && args+=(--platform-name "$RINGFAAS_PLATFORM_IMAGE")
  names="$(node "$repo/bin/ringfaas.js" image build "${args[@]}")"
  RINGFAAS_RUNTIME_IMAGE="$(sed -n 1p <<<"$names")"
  RINGFAAS_PLATFORM_IMAGE="$(sed -n 2p <<<"$names")"
fi
export RINGFAAS_PLATFORM_IMAGE RINGFAAS_RUNTIME_IMAGE

# 3. The secrets.
secret_exists() { docker secret inspect "$1" >/dev/null 2>&1; }
make_secret() { # name value
  if secret_exists "$1"; then return 0; fi
  printf '%s' "$2" | docker secret create --label "ringfaas.stack=$stack" "$1" - >/dev/null
}
random_key() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

if ! secret_exists "${stack}_api_keys"; then
  keys="${RINGFAAS_API_KEYS:-}"
  if [ -z "$keys" ]; then
    keys="rf-$(random_key)"
    (umask 077; printf '%s\n' "$keys" >"$secrets_dir/api_keys")
    log "generated an admin API key: $secrets_dir/api_keys"
  fi
  make_secret "${stack}_api_keys" "$keys"
fi
if ! secret_exists "${stack}_cluster_key"; then
  ck="${RINGFAAS_CLUSTER_KEY:-$(random_key)}"
  make_secret "${stack}_cluster_key" "$ck"
fi
compose=(-c "$here/stack.yml")
if [ -n "${RINGFAAS_STORAGE_CONNECTION_STRING:-}" ]; then
  make_secret "${stack}_storage_connection_string" "$RINGFAAS_STORAGE_CONNECTION_STRING"
else
  # The Azurite service of stack.azurite.yml, reached at the manager's Swarm address.
  compose+=(-c "$here/stack.azurite.yml")
  h="$node_addr"
  account="devstoreaccount1"
  # Azurite's well-known development key (public, documented by Microsoft; not a secret).
  key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
  make_secret "${stack}_storage_connection_string" \
    "DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;BlobEndpoint=http://$h:$RINGFAAS_AZURITE_BLOB_PORT/$account;TableEndpoint=http://$h:$RINGFAAS_AZURITE_TABLE_PORT/$account;"
fi

# 4. Deploy.
log "deploying stack $stack (platform $RINGFAAS_PLATFORM_IMAGE, runtime $RINGFAAS_RUNTIME_IMAGE)"
docker stack deploy --prune "${compose[@]}" "$stack" >&2

# 5. Wait until every router lists a worker on every node. Router replica n listens on
#    RINGFAAS_PORT + n - 1 on the node its task runs on.
url="http://$node_addr:$RINGFAAS_PORT"
[ "$node_addr" = "0.0.0.0" ] && url="http://127.0.0.1:$RINGFAAS_PORT"
api_key="${RINGFAAS_API_KEYS:-}"
api_key="${api_key%%,*}"; api_key="${api_key%%:*}"
[ -z "$api_key" ] && [ -f "$secrets_dir/api_keys" ] && { api_key="$(head -1 "$secrets_dir/api_keys")"; api_key="${api_key%%,*}"; api_key="${api_key%%:*}"; }
nodes="$(docker node ls --filter role=manager -q | wc -l)"
nodes=$(( nodes + $(docker node ls --filter role=worker -q | wc -l) ))
deadline=$(( $(date +%s) + ready_timeout ))
# A node's address as routers and the operator reach it (a manager may report 0.0.0.0).
node_address() { # node id
  local a
  a="$(docker node inspect --format '{{.Status.Addr}}' "$1" 2>/dev/null || true)"
  if [ -z "$a" ] || [ "$a" = "0.0.0.0" ]; then
    a="$(docker node inspect --format '{{if .ManagerStatus}}{{.ManagerStatus.Addr}}{{end}}' "$1" 2>/dev/null || true)"
    a="${a%:*}"
  fi
  [ -z "$a" ] || [ "$a" = "0.0.0.0" ] && a="127.0.0.1"
  echo "$a"
}
# The URL of every running router task, one a line.
router_urls() {
  local task slot node
  for task in $(docker service ps -q --filter desired-state=running "${stack}_router" 2>/dev/null); do
    read -r slot node < <(docker inspect --format '{{.Slot}} {{.NodeID}}' "$task" 2>/dev/null || echo "")
    [ -n "${slot:-}" ] && [ -n "${node:-}" ] || continue
    echo "http://$(node_address "$node"):$(( RINGFAAS_PORT + slot - 1 ))"
  done
}
# How many active workers a router lists (0 when it does not answer).
workers_seen() { # router URL
  { curl -fsS -m 5 -H "authorization: Bearer $api_key" "$1/workers" 2>/dev/null || true; } \
    | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const b=JSON.parse(s);const l=Array.isArray(b)?b:b.workers;console.log(Array.isArray(l)?l.filter(w=>(w.state??"active")==="active").length:0)}catch{console.log(0)}})'
}
log "waiting for $RINGFAAS_ROUTERS router(s) to see $nodes worker(s) (first router $url)"
while :; do
  ready=0; status=""
  urls="$(router_urls)"
  for u in $urls; do
    seen="$(workers_seen "$u")"
    status="$status $u:$seen"
    [ "$seen" -ge "$nodes" ] && ready=$(( ready + 1 ))
  done
  [ "$ready" -ge "$RINGFAAS_ROUTERS" ] && [ "$(workers_seen "$url")" -ge "$nodes" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "timed out after ${ready_timeout}s: routers (URL:workers seen)${status:- none running}, $nodes node(s)"
    docker stack ps "$stack" --no-trunc >&2 || true
    for svc in router worker; do
      log "last lines of ${stack}_$svc:"
      docker service logs --raw --tail 15 "${stack}_$svc" 2>&1 | cut -c1-400 >&2 || true
    done
    exit 1
  fi
  sleep 1
done
log "ready: $nodes worker(s) on the ring"
echo "$url"
