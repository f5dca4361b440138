#!/usr/bin/env bash
# The compare benchmark with the router and workers run from the built images, next to the
# usual process layout (`npm start`'s: node --import tsx from source), on the same machine, in
# one run with alternated rounds:
#
#   deploy/bench/compare-images.sh [extra `ringfaas bench compare` flags]
#
# 1. builds the images (npx ringfaas image build) unless RINGFAAS_PLATFORM_IMAGE and
#    RINGFAAS_RUNTIME_IMAGE name existing ones;
# 2. starts, as containers of the platform image on the host network (as the Swarm stack runs
#    them), an Azurite, RINGFAAS_BENCH_WORKERS (2) workers (the Docker socket mounted, root: see
#    docs/operations.md) and one router on loopback, with the bench's own worker settings
#    (2048 MB, cold pool 2, docker runtime, log level warn);
# 3. runs `ringfaas bench compare --targets ringfaas,url=<that router>`: the `ringfaas` target
#    is the process layout the bench starts itself, the `url=` target the images; rounds
#    alternate between them. Results go to RINGFAAS_BENCH_RESULTS (default
#    /tmp/ringfaas-compare-images/results), not to bench/results, and docs/benchmarks.md is left
#    alone (--no-docs): the figures are copied by hand into bench/analysis.md;
# 4. removes every container it started (a trap, also on failure or Ctrl-C) and the function
#    containers of its workers.
#
# The image platform's processes are not in the bench's CPU accounting (they are not its
# children): compare throughput and latency only.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
log() { echo "compare-images: $*" >&2; }

run_id="rfimg$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
workers="${RINGFAAS_BENCH_WORKERS:-2}"
worker_memory="${RINGFAAS_BENCH_WORKER_MEMORY_MB:-2048}"
cold_pool="${RINGFAAS_BENCH_COLD_POOL:-2}"
results="${RINGFAAS_BENCH_RESULTS:-/tmp/ringfaas-compare-images/results}"
# The per-container folders: the same path inside the worker containers and on the host.
data_dir="/tmp/ringfaas-compare-images/$run_id"

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

containers=()
cleanup() {
  local status=$?
  if [ "${#containers[@]}" -gt 0 ]; then
    log "stopping ${#containers[@]} container(s)"
    # Workers drain on SIGTERM and remove their function containers.
    docker stop -t 60 "${containers[@]}" >/dev/null 2>&1 || true
    docker rm -f "${containers[@]}" >/dev/null 2>&1 || true
  fi
  local left
  left="$(docker ps -a --filter "label=ringfaas.worker" --format '{{.ID}} {{.Label "ringfaas.worker"}}' | awk -v p="$run_id-" 'index($2, p) == 1 { print $1 }')"
  [ -n "$left" ] && docker rm -f $left >/dev/null 2>&1
  rm -rf "$data_dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The images.
if [ -z "${RINGFAAS_PLATFORM_IMAGE:-}" ] || [ -z "${RINGFAAS_RUNTIME_IMAGE:-}" ]; then
  log "building the images (npx ringfaas image build)"
  names="$(node "$repo/bin/ringfaas.js" image build)"
  RINGFAAS_RUNTIME_IMAGE="$(sed -n 1p <<<"$names")"
  RINGFAAS_PLATFORM_IMAGE="$(sed -n 2p <<<"$names")"
fi
log "platform $RINGFAAS_PLATFORM_IMAGE, runtime $RINGFAAS_RUNTIME_IMAGE"

mkdir -p -m 0700 "$data_dir/tmp"
blob="$(free_port)"; table="$(free_port)"
while [ "$table" = "$blob" ]; do table="$(free_port)"; done
account=devstoreaccount1
# Azurite's well-known development key (public, documented by Microsoft; not a secret).
key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
storage="DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$blob/$account;TableEndpoint=http://127.0.0.1:$table/$account;"

start() { # name args...
  local name="$1"; shift
  docker run -d --name "$name" --label "ringfaas.bench=$run_id" --network host \
    --log-opt max-size=10m --log-opt max-file=1 "$@" >/dev/null
  containers+=("$name")
}

# 2. Azurite, the workers, the router.
start "$run_id-azurite" --mount type=tmpfs,destination=/data,tmpfs-mode=1777 \
  -e RINGFAAS_AZURITE_HOST=127.0.0.1 -e RINGFAAS_AZURITE_BLOB_PORT="$blob" -e RINGFAAS_AZURITE_TABLE_PORT="$table" \
  -e RINGFAAS_AZURITE_START_TIMEOUT_MS=900000 \
  "$RINGFAAS_PLATFORM_IMAGE" azurite
# Azurite logs "azurite listening" once Blob and Table answer (minutes on a loaded machine).
for _ in $(seq 1 900); do
  docker logs "$run_id-azurite" 2>&1 | grep -q 'azurite listening' && break
  if [ "$(docker inspect --format '{{.State.Running}}' "$run_id-azurite")" != "true" ]; then
    log "Azurite exited:"; docker logs --tail 5 "$run_id-azurite" >&2 2>&1; exit 1
  fi
  sleep 1
done

for i in $(seq 1 "$workers"); do
  port="$(free_port)"
  start "$run_id-worker-$i" --user 0:0 \
    -v /var/run/docker.sock:/var/run/docker.sock -v "$data_dir:$data_dir" \
    -e TMPDIR="$data_dir/tmp" \
    -e RINGFAAS_WORKER_ID="$run_id-$i" -e RINGFAAS_WORKER_HOST=127.0.0.1 -e RINGFAAS_WORKER_PORT="$port" \
    -e RINGFAAS_WORKER_MEMORY_MB="$worker_memory" -e RINGFAAS_COLD_POOL_SIZE="$cold_pool" \
    -e RINGFAAS_RUNTIME=docker -e RINGFAAS_RUNTIME_IMAGE="$RINGFAAS_RUNTIME_IMAGE" \
    -e RINGFAAS_STORAGE_CONNECTION_STRING="$storage" -e RINGFAAS_LOG_LEVEL=warn \
    "$RINGFAAS_PLATFORM_IMAGE" worker
done

router_port="$(free_port)"
start "$run_id-router" \
  -e RINGFAAS_HOST=127.0.0.1 -e RINGFAAS_PORT="$router_port" -e RINGFAAS_ROUTER_ID="$run_id-router" \
  -e RINGFAAS_STORAGE_CONNECTION_STRING="$storage" -e RINGFAAS_LOG_LEVEL=warn \
  "$RINGFAAS_PLATFORM_IMAGE" router
url="http://127.0.0.1:$router_port"
log "waiting for $url to list $workers worker(s)"
deadline=$(( $(date +%s) + ${RINGFAAS_READY_TIMEOUT_S:-300} ))
while :; do
  seen="$({ curl -fsS -m 5 "$url/workers" 2>/dev/null || true; } | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const b=JSON.parse(s);console.log((b.workers??b).filter(w=>w.inRing!==false).length)}catch{console.log(0)}})')"
  [ "$seen" -ge "$workers" ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "timed out: $url lists $seen of $workers workers"
    for c in "${containers[@]}"; do docker logs --tail 20 "$c" >&2 2>&1 || true; done
    exit 1
  fi
  sleep 1
done

# 3. The benchmark: the process layout (`ringfaas`) against the images (`url=`).
log "images ready at $url; running the compare benchmark"
mkdir -p "$results"
node "$repo/bin/ringfaas.js" bench compare --targets "ringfaas,url=$url" \
  --workers "$workers" --worker-memory-mb "$worker_memory" --cold-pool "$cold_pool" --runtime docker \
  --results-dir "$results" --no-docs "$@"
