#!/usr/bin/env bash
# Local Redis Cluster (`make cluster-up` / `make cluster-down`): 6 redis-server processes
# (3 masters + 3 replicas, AOF on, a short cluster-node-timeout) on 127.0.0.1, created with
# `redis-cli --cluster create`. The integration tests start their own clusters the same
# way (src/testkit/cluster.rs).
#
#   cluster.sh up BASEPORT DIR        start nodes on BASEPORT..BASEPORT+5, create the cluster,
#                                     wait (with deadlines) until it is fully usable
#   cluster.sh down DIR               stop every node started from DIR (SIGTERM, then SIGKILL)
#   cluster.sh start-node DIR PORT    (re)start one node with its existing config (after a kill)
#   cluster.sh wait DIR               wait until cluster_state:ok everywhere and replicas are in sync
#   cluster.sh status DIR             print CLUSTER NODES as seen by the first reachable node
#
# Environment:
#   CLUSTER_TLS_CERTS=CERTDIR   run the nodes TLS-only (port 0, tls-port P, tls-cluster and
#                               tls-replication yes) using CERTDIR/{ca,server,client}.{crt,key}
#                               as produced by tls-certs.sh
#   CLUSTER_NODE_TIMEOUT=ms     cluster-node-timeout (default 2000)
#   UP_DEADLINE=seconds         overall deadline for `up`/`wait` readiness (default 60)
#
# Ports: BASEPORT+5 must be <= 55535 (the cluster bus uses port+10000). Best keep both out of
# the ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, usually 32768-60999):
# BASEPORT <= 22762.
set -euo pipefail

die() { echo "cluster.sh: $*" >&2; exit 1; }

node_timeout=${CLUSTER_NODE_TIMEOUT:-2000}
deadline_s=${UP_DEADLINE:-60}

tls_server_args=()
tls_cli_args=()
if [[ -n "${CLUSTER_TLS_CERTS:-}" ]]; then
  c=$(cd "$CLUSTER_TLS_CERTS" && pwd)
  tls_server_args=(--tls-cert-file "$c/server.crt" --tls-key-file "$c/server.key"
    --tls-ca-cert-file "$c/ca.crt" --tls-cluster yes --tls-replication yes)
  tls_cli_args=(--tls --cacert "$c/ca.crt" --cert "$c/client.crt" --key "$c/client.key")
fi

rcli() { # port args...
  local port=$1; shift
  redis-cli -h 127.0.0.1 -p "$port" "${tls_cli_args[@]}" "$@"
}

ports_of() { # dir -> ports, one per line
  [[ -f "$1/ports" ]] || die "$1/ports not found (not a cluster dir?)"
  cat "$1/ports"
}

# PID of the redis-server started for PORT in DIR, only if it is alive AND is a redis-server
# (guards against a stale pidfile whose PID was reused by an unrelated process).
live_pid() { # dir port
  local pf="$1/$2/redis.pid" pid
  [[ -f "$pf" ]] || return 1
  pid=$(cat "$pf" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "redis-server .*:$2\b" || return 1
  echo "$pid"
}

start_node() { # dir port
  local dir=$1 port=$2 ndir="$1/$2" port_args
  mkdir -p "$ndir"
  if pid=$(live_pid "$dir" "$port"); then die "node $port already running (pid $pid)"; fi
  if [[ ${#tls_server_args[@]} -gt 0 ]]; then
    port_args=(--port 0 --tls-port "$port")
  else
    port_args=(--port "$port")
  fi
  # cluster-config-file is relative to --dir, so each node keeps its own nodes-P.conf.
  redis-server "${port_args[@]}" --bind 127.0.0.1 "${tls_server_args[@]}" \
    --cluster-enabled yes --cluster-config-file "nodes-$port.conf" \
    --cluster-node-timeout "$node_timeout" --appendonly yes --save '' \
    --maxmemory-policy noeviction --enable-debug-command local \
    --dir "$ndir" --daemonize yes --pidfile "$ndir/redis.pid" --logfile "$ndir/redis.log" \
    >/dev/null
  # The daemonized child writes the pidfile a moment later; wait for it so that `down` always
  # knows every PID it has to stop.
  local dl=$(( $(date +%s) + 5 ))
  until live_pid "$dir" "$port" >/dev/null; do
    (( $(date +%s) < dl )) || { cat "$ndir/redis.log" >&2 2>/dev/null; die "node $port did not start"; }
    sleep 0.02
  done
}

wait_ping() { # port deadline_epoch
  until [[ "$(rcli "$1" ping 2>/dev/null)" == PONG ]]; do
    (( $(date +%s) < $2 )) || die "node $1 did not answer PING in time"
    sleep 0.05
  done
}

info_field() { # port section field
  rcli "$1" info "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p"
}

# Ready = every node: cluster_state:ok, 16384 slots ok, knows all N nodes; every replica's link up.
wait_ready() { # dir deadline_epoch
  local dir=$1 dl=$2 n p ok
  n=$(ports_of "$dir" | wc -l)
  while :; do
    ok=1
    for p in $(ports_of "$dir"); do
      local ci
      ci=$(rcli "$p" cluster info 2>/dev/null | tr -d '\r') || { ok=0; break; }
      grep -qx 'cluster_state:ok' <<<"$ci" || { ok=0; break; }
      grep -qx 'cluster_slots_ok:16384' <<<"$ci" || { ok=0; break; }
      grep -qx "cluster_known_nodes:$n" <<<"$ci" || { ok=0; break; }
      if [[ "$(info_field "$p" replication role)" == slave ]]; then
        [[ "$(info_field "$p" replication master_link_status)" == up ]] || { ok=0; break; }
      fi
      # CLUSTER SLOTS omits a replica until its replication offset has been gossiped (right
      # after creation / a restart); clients that discover replicas need all N node ids listed.
      [[ $(rcli "$p" cluster slots 2>/dev/null | grep -cE '^[0-9a-f]{40}$') -eq $n ]] || { ok=0; break; }
    done
    (( ok )) && return 0
    (( $(date +%s) < dl )) || { status "$dir" >&2 || true; die "cluster not ready before deadline"; }
    sleep 0.1
  done
}

status() { # dir
  local p
  for p in $(ports_of "$1"); do
    if rcli "$p" cluster nodes 2>/dev/null; then return 0; fi
  done
  echo "no node reachable" >&2
  return 1
}

down() { # dir
  local dir=$1 p pid pids=() dl
  [[ -f "$dir/ports" ]] || { echo "nothing to stop in $dir"; return 0; }
  for p in $(ports_of "$dir"); do
    if pid=$(live_pid "$dir" "$p"); then kill -TERM "$pid" 2>/dev/null || true; pids+=("$pid"); fi
  done
  dl=$(( $(date +%s) + 10 ))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null; do
      if (( $(date +%s) >= dl )); then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.05
    done
  done
  # Remove only what `up` created.
  for p in $(ports_of "$dir"); do rm -rf "${dir:?}/$p"; done
  rm -f "$dir/ports" "$dir/create.log"
  rmdir "$dir" 2>/dev/null || true
  echo "stopped ${#pids[@]} node(s)"
}

up() { # baseport dir
  local base=$1 dir=$2 p dl ports=()
  [[ "$base" =~ ^[0-9]+$ ]] || die "BASEPORT must be a number"
  (( base >= 1024 && base + 5 <= 55535 )) || die "ports must be within 1024..55535 (bus = port+10000)"
  [[ ! -f "$dir/ports" ]] || die "$dir already holds a cluster; run: cluster.sh down $dir"
  # Ports inside the kernel's ephemeral range can be taken at any moment by some process's
  # outgoing connection (bind then fails with "Address already in use", even with nothing
  # listening). Prefer BASEPORT <= 22762 so that P and P+10000 stay below 32768.
  local lo hi
  if read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null; then
    if (( base + 5 + 10000 >= lo && base <= hi )); then
      echo "cluster.sh: warning: ports $base..$((base + 5)) or bus ports $((base + 10000))..$((base + 10005)) overlap the ephemeral range $lo-$hi" >&2
    fi
  fi
  for ((p = base; p < base + 6; p++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p is already in use"; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$((p + 10000))") 2>/dev/null; then die "bus port $((p + 10000)) is already in use"; fi
    ports+=("$p")
  done
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  printf '%s\n' "${ports[@]}" > "$dir/ports"
  # `die` exits, so clean up from an EXIT trap (an ERR trap would not see `exit 1`).
  up_dir=$dir
  trap '[[ -n "${up_ok:-}" ]] || { echo "cluster.sh: up failed, stopping nodes" >&2; down "$up_dir" >&2; }' EXIT
  dl=$(( $(date +%s) + deadline_s ))
  for p in "${ports[@]}"; do start_node "$dir" "$p"; done
  for p in "${ports[@]}"; do wait_ping "$p" "$dl"; done
  local addrs=()
  for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
  rcli "${ports[0]}" --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
    || { cat "$dir/create.log" >&2; die "redis-cli --cluster create failed"; }
  wait_ready "$dir" "$dl"
  up_ok=1
  echo "cluster up: ports ${ports[*]} (dir $dir)"
}

cmd=${1:-}
case "$cmd" in
  up) [[ $# -eq 3 ]] || die "usage: cluster.sh up BASEPORT DIR"; up "$2" "$3" ;;
  down) [[ $# -eq 2 ]] || die "usage: cluster.sh down DIR"; down "$2" ;;
  start-node)
    [[ $# -eq 3 ]] || die "usage: cluster.sh start-node DIR PORT"
    grep -qx "$3" "$2/ports" || die "port $3 is not part of $2"
    start_node "$2" "$3"; wait_ping "$3" $(( $(date +%s) + deadline_s )) ;;
  wait) [[ $# -eq 2 ]] || die "usage: cluster.sh wait DIR"; wait_ready "$2" $(( $(date +%s) + deadline_s )) ;;
  status) [[ $# -eq 2 ]] || die "usage: cluster.sh status DIR"; status "$2" ;;
  *) die "usage: cluster.sh up BASEPORT DIR | down DIR | start-node DIR PORT | wait DIR | status DIR" ;;
esac
