#!/usr/bin/env bash
# A three-node PostgreSQL 15 cluster managed by Patroni with etcd, on one machine, for
# Medic's fault tests: synchronous replication to one standby, automatic failover.
#
#   deploy/cluster/cluster.sh up        start etcd and three Patroni nodes, create database medic
#   deploy/cluster/cluster.sh down      stop everything and remove the data
#   deploy/cluster/cluster.sh status    patronictl list
#   deploy/cluster/cluster.sh url       the multi-host URL Medic uses
#   deploy/cluster/cluster.sh leader    the leader's node number (1-3)
#   deploy/cluster/cluster.sh crash N   kill -9 node N's Patroni and postmaster (a node crash)
#   deploy/cluster/cluster.sh start N   start node N again (it rejoins through pg_rewind)
#   deploy/cluster/cluster.sh switchover  planned switchover to the synchronous standby
#   deploy/cluster/cluster.sh partition N / heal N   cut node N off the network (its process lives)
#   deploy/cluster/cluster.sh relax     synchronous mode off: a primary left alone takes writes again
#                                       (turning only synchronous_mode_strict off leaves it waiting in Patroni 3.0)
#
# Needs Debian's patroni, etcd-server and postgresql-15 (`apt-get install patroni etcd-server`).
# Ports: etcd 23790/23800, PostgreSQL 54321-54323, Patroni REST 18008-18010. Every node is
# reached by the others and by Medic only through proxies of its own (tcpproxy.py:
# PostgreSQL 54331-54333, REST 18018-18020, and its own way to etcd 23791-23793), so
# dropping the packets on those ports is a network partition of that node, and
# MEDIC_CLUSTER_DELAY_MS=N puts it N ms away each way (only the nodes listed in
# MEDIC_CLUSTER_DELAY_NODES, default all: "1 2" puts nodes 1 and 2 in a remote region).
# MEDIC_CLUSTER_NOSYNC="2" tags node 2 nosync (never the synchronous standby). Data under
# $MEDIC_CLUSTER_DIR (default /tmp/medic-cluster). Timings are test-friendly (ttl 10 s,
# loop_wait 2 s); Patroni's defaults (30/10/10) make a failover about 25 s instead of 10.
# Local connections are trusted: this is a test cluster on 127.0.0.1, not a deployment.
set -euo pipefail

DIR=${MEDIC_CLUSTER_DIR:-/tmp/medic-cluster}
ETCD_CLIENT=23790
ETCD_PEER=23800
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
NODES=(1 2 3)

pg_port() { echo $((54320 + $1)); }
rest_port() { echo $((18007 + $1)); }
pg_proxy() { echo $((54330 + $1)); }
rest_proxy() { echo $((18017 + $1)); }
etcd_proxy() { echo $((ETCD_CLIENT + $1)); }
PROXY="python3 $(dirname "$(readlink -f "$0")")/tcpproxy.py"

# PostgreSQL refuses to run as root: run Patroni as postgres when we are root
# (setpriv execs, so $! is Patroni's own pid).
AS_DB_USER=()
if [ "$(id -u)" = 0 ]; then AS_DB_USER=(setpriv --reuid=postgres --regid=postgres --init-groups); fi

owner() { if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$@"; fi; }

write_config() {
    local i=$1 d="$DIR/node$1"
    mkdir -p "$d/data" "$d/log"
    chmod 700 "$d/data"
    cat > "$d/patroni.yml" <<EOF
scope: medic
namespace: /medic-cluster/
name: node$i
log:
  level: WARNING
  dir: $d/log
restapi:
  listen: 127.0.0.1:$(rest_port "$i")
  connect_address: 127.0.0.1:$(rest_proxy "$i")
etcd3:
  hosts: 127.0.0.1:$(etcd_proxy "$i")
  use_proxies: true  # no topology discovery: etcd advertises its own port, past the proxy
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    # a commit (a 201) waits for a standby even when none is left: never acknowledged on one node only
    synchronous_mode_strict: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_wal_senders: 10
        max_replication_slots: 10
        wal_log_hints: "on"
        max_connections: 200
        shared_buffers: 128MB
        # a partitioned primary's walsenders hang on a dead link; without this its
        # demotion waits out the default 60 s
        wal_sender_timeout: 10s
        wal_receiver_timeout: 10s
  initdb:
    - encoding: UTF8
    - data-checksums
    - auth-local: trust
    - auth-host: trust
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$(pg_port "$i")
  connect_address: 127.0.0.1:$(pg_proxy "$i")
  data_dir: $d/data
  bin_dir: $PG_BIN
  pgpass: $d/pgpass
  authentication:
    superuser: {username: postgres}
    replication: {username: replicator}
    rewind: {username: postgres}
  parameters:
    unix_socket_directories: $d
watchdog:
  mode: "off"
tags: {nofailover: false, noloadbalance: false, clonefrom: false, nosync: $(nosync "$i")}
EOF
    chmod 600 "$d/patroni.yml"
    owner "$d"
}

nosync() { case " ${MEDIC_CLUSTER_NOSYNC:-} " in *" $1 "*) echo true ;; *) echo false ;; esac; }

delay_of() {  # the one-way delay in ms of node N's proxies ("" for none)
    case " ${MEDIC_CLUSTER_DELAY_NODES:-${NODES[*]}} " in *" $1 "*) echo "${MEDIC_CLUSTER_DELAY_MS:-}" ;; esac
}

start_proxies() {  # start_proxies N: the node's three ways in and out
    local i=$1 d="$DIR/proxy$1" delay
    delay=$(delay_of "$i")
    mkdir -p "$d"
    for pair in "$(pg_proxy "$i"):$(pg_port "$i"):pg" "$(rest_proxy "$i"):$(rest_port "$i"):rest" \
                "$(etcd_proxy "$i"):$ETCD_CLIENT:etcd"; do
        IFS=: read -r listen target name <<< "$pair"
        nohup $PROXY "$listen" "$target" ${delay:+--delay-ms "$delay"} \
            --pidfile "$d/$name.pid" > "$d/$name.log" 2>&1 &
    done
    wait_for 10 test -s "$d/pg.pid" -a -s "$d/rest.pid" -a -s "$d/etcd.pid"
}

# A partition drops node N's packets on its proxy ports both ways (iptables, chain
# MEDIC_CLUSTER): peers see silence and time out, as across a dead link, while the
# node's processes live on.
partition() {
    command -v iptables > /dev/null || { echo "partition needs iptables (apt-get install iptables)" >&2; exit 1; }
    iptables -N MEDIC_CLUSTER 2> /dev/null || true
    iptables -C INPUT -j MEDIC_CLUSTER 2> /dev/null || iptables -I INPUT -j MEDIC_CLUSTER
    for port in $(pg_proxy "$1") $(rest_proxy "$1") $(etcd_proxy "$1"); do
        iptables -A MEDIC_CLUSTER -i lo -p tcp --dport "$port" -j DROP
        iptables -A MEDIC_CLUSTER -i lo -p tcp --sport "$port" -j DROP
    done
}

heal() {
    command -v iptables > /dev/null || return 0
    for port in $(pg_proxy "$1") $(rest_proxy "$1") $(etcd_proxy "$1"); do
        while iptables -D MEDIC_CLUSTER -i lo -p tcp --dport "$port" -j DROP 2> /dev/null; do :; done
        while iptables -D MEDIC_CLUSTER -i lo -p tcp --sport "$port" -j DROP 2> /dev/null; do :; done
    done
}

start_node() {
    local d="$DIR/node$1"
    # env -i: a PGPASSWORD or PGHOST in the caller's environment would leak into
    # replication and pg_rewind.
    nohup "${AS_DB_USER[@]}" env -i HOME="$d" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
        patroni "$d/patroni.yml" >> "$d/patroni.out" 2>&1 &
    echo $! > "$d/patroni.pid"
}

wait_for() {  # wait_for SECONDS COMMAND...: retry every 0.2 s
    local until=$((SECONDS + $1)); shift
    until "$@" > /dev/null 2>&1; do
        if [ $SECONDS -ge $until ]; then echo "timed out waiting for: $*" >&2; return 1; fi
        sleep 0.2
    done
}

is_primary() { curl -sf "http://127.0.0.1:$(rest_port "$1")/primary"; }
is_replica() { curl -sf "http://127.0.0.1:$(rest_port "$1")/replica"; }
has_sync_standby() {
    for i in "${NODES[@]}"; do curl -sf "http://127.0.0.1:$(rest_port "$i")/sync" && return 0; done
    return 1
}

leader() {
    for i in "${NODES[@]}"; do
        if is_primary "$i" > /dev/null 2>&1; then echo "$i"; return 0; fi
    done
    return 1
}

cmd_up() {
    if [ -d "$DIR" ]; then echo "$DIR exists: run '$0 down' first" >&2; exit 1; fi
    mkdir -p "$DIR/etcd"
    owner "$DIR"
    nohup etcd --name medic-etcd --data-dir "$DIR/etcd/data" \
        --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT" --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
        --initial-cluster "medic-etcd=http://127.0.0.1:$ETCD_PEER" --initial-cluster-state new \
        --initial-cluster-token medic-cluster > "$DIR/etcd/etcd.log" 2>&1 &
    echo $! > "$DIR/etcd/etcd.pid"
    wait_for 20 curl -sf "http://127.0.0.1:$ETCD_CLIENT/version"
    for i in "${NODES[@]}"; do write_config "$i"; start_proxies "$i"; done
    start_node 1
    wait_for 60 is_primary 1
    start_node 2
    start_node 3
    wait_for 90 is_replica 2
    wait_for 90 is_replica 3
    wait_for 90 has_sync_standby
    psql -h 127.0.0.1 -p "$(pg_port 1)" -U postgres -qAtc "CREATE DATABASE medic" > /dev/null
    echo "cluster up under $DIR"
    echo "MEDIC_DATABASE_URL=$(cmd_url)"
}

cmd_down() {
    for i in "${NODES[@]}"; do heal "$i"; done
    for i in "${NODES[@]}"; do
        local pidfile="$DIR/node$i/patroni.pid"
        if [ -f "$pidfile" ]; then kill -TERM "$(cat "$pidfile")" 2> /dev/null || true; fi
    done
    for i in "${NODES[@]}"; do
        local pidfile="$DIR/node$i/patroni.pid"
        if [ -f "$pidfile" ]; then
            local pid; pid=$(cat "$pidfile")
            for _ in $(seq 1 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2> /dev/null || true
        fi
        # a postmaster left behind by a crashed Patroni
        local pm="$DIR/node$i/data/postmaster.pid"
        if [ -f "$pm" ]; then kill -KILL "$(head -1 "$pm")" 2> /dev/null || true; fi
    done
    for f in "$DIR"/proxy*/*.pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2> /dev/null || true; done
    if [ -f "$DIR/etcd/etcd.pid" ]; then kill -TERM "$(cat "$DIR/etcd/etcd.pid")" 2> /dev/null || true; fi
    sleep 0.5
    rm -rf "$DIR"
    echo "cluster down"
}

cmd_url() {
    echo "postgresql://postgres@127.0.0.1:$(pg_proxy 1),127.0.0.1:$(pg_proxy 2),127.0.0.1:$(pg_proxy 3)/medic?target_session_attrs=read-write&connect_timeout=2"
}

cmd_crash() {
    local d="$DIR/node$1"
    kill -KILL "$(cat "$d/patroni.pid")" 2> /dev/null || true
    if [ -f "$d/data/postmaster.pid" ]; then kill -KILL "$(head -1 "$d/data/postmaster.pid")" 2> /dev/null || true; fi
}

cmd_switchover() {
    patronictl -c "$DIR/node$(leader)/patroni.yml" switchover --force medic
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) patronictl -c "$DIR/node1/patroni.yml" list ;;
    url) cmd_url ;;
    leader) leader ;;
    crash) cmd_crash "$2" ;;
    start) start_node "$2"; wait_for 90 is_replica "$2" ;;
    switchover) cmd_switchover ;;
    relax) patronictl -c "$DIR/node$(leader)/patroni.yml" edit-config --force -q -s synchronous_mode=false medic ;;
    partition) partition "$2" ;;
    heal) heal "$2" ;;
    *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
