#!/usr/bin/env bash
# EWS over loopback with the load generator in another process: `oha` against the lab that the
# `load` example serves (LOAD_SERVE), the authenticated route (token cache on) against the same
# server's no-auth route, in alternating rounds; prints each round and the median ratio.
#
#   cargo install oha --locked            # once (any oha ≥ 1.0 with --output-format json)
#   cargo build --release -p openhybrid-lab --example load
#   bench/ews-oha.sh [operation=GetFolder|CreateItem] [rounds=8] [seconds=2] [connections=16]
#
# Bounded in time; loopback only. Needs oha, jq and curl on PATH.
set -euo pipefail
op=${1:-GetFolder}
rounds=${2:-8}
secs=${3:-2}
conns=${4:-16}
case "$op" in GetFolder | CreateItem) ;; *)
    echo "the operation is GetFolder or CreateItem, not '$op'" >&2
    exit 2
    ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
load=${LOAD_BIN:-$root/target/release/examples/load}
for tool in oha jq curl; do
    command -v "$tool" >/dev/null || {
        echo "$tool is not on PATH (cargo install oha --locked; apt-get install jq)" >&2
        exit 2
    }
done
[ -x "$load" ] || {
    echo "$load is missing: cargo build --release -p openhybrid-lab --example load" >&2
    exit 2
}
dir=$(mktemp -d)
LOAD_SERVE=$dir "$load" >"$dir/log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 300); do
    [ -e "$dir/ready" ] && break
    kill -0 $server 2>/dev/null || {
        cat "$dir/log" >&2
        exit 1
    }
    sleep 0.1
done
[ -e "$dir/ready" ] || {
    echo "the lab did not start in 30 s" >&2
    exit 1
}
# the server's CPU time so far, in clock ticks (user + system)
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
hz=$(getconf CLK_TCK)
# one oha run: successful requests per second (anything but 200 is not throughput), and the
# server's CPU microseconds per successful request (a figure the neighbours' load moves less)
run() { # url [header]
    local args=(-z "${secs}s" -c "$conns" --no-tui --output-format json -m POST
        -T text/xml -D "$dir/$op.xml")
    [ $# -gt 1 ] && args+=(-H "$2")
    local t0 t1
    t0=$(ticks)
    oha "${args[@]}" "$1" >"$dir/run.json"
    t1=$(ticks)
    jq -r --argjson ticks "$((t1 - t0))" --argjson hz "$hz" '
        (.statusCodeDistribution["200"] // 0) as $ok
        | "\($ok / .summary.total) \(if $ok > 0 then $ticks / $hz * 1e6 / $ok else 0 end)"' "$dir/run.json"
}
auth_url=$(cat "$dir/auth-url")
noauth_url=$(cat "$dir/noauth-url")
header="Authorization: $(cat "$dir/authorization")"
# both routes answer the operation with NoError before anything is counted
for route in auth noauth; do
    url=$([ $route = auth ] && echo "$auth_url" || echo "$noauth_url")
    h=$([ $route = auth ] && echo "$header" || echo "X-No-Auth: 1")
    curl -sS -H "$h" -H 'content-type: text/xml' --data-binary "@$dir/$op.xml" "$url" |
        grep -q 'ResponseCode>NoError<' || {
        echo "the $route route did not answer $op with NoError" >&2
        exit 1
    }
done
ratios=()
cpu_ratios=()
for r in $(seq 1 "$rounds"); do
    if ((r % 2)); then
        read -r a acpu <<<"$(run "$auth_url" "$header")"
        read -r b bcpu <<<"$(run "$noauth_url")"
    else
        read -r b bcpu <<<"$(run "$noauth_url")"
        read -r a acpu <<<"$(run "$auth_url" "$header")"
    fi
    ratio=$(jq -n "$a / $b")
    cpu_ratio=$(jq -n "if $acpu > 0 then $bcpu / $acpu else 0 end")
    ratios+=("$ratio")
    cpu_ratios+=("$cpu_ratio")
    printf '%s round %d: auth %.0f req/s (server %.1f µs CPU each), no-auth %.0f req/s (%.1f µs), ratio %.3f, by server CPU %.3f\n' \
        "$op" "$r" "$a" "$acpu" "$b" "$bcpu" "$ratio" "$cpu_ratio"
done
summary() { # label, then the ratios
    local label=$1
    shift
    printf '%s\n' "$@" | sort -g | jq -rs --arg op "$op" --arg what "$label" '
        def r3: . * 1000 | round / 1000;
        (if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end) as $m
        | "\($op): cache on / no-auth \($what) = \($m | r3) (median of \(length) rounds; lowest \(.[0] | r3), highest \(.[-1] | r3)); oha in its own process"'
}
summary "by throughput" "${ratios[@]}"
summary "by the server's CPU per request" "${cpu_ratios[@]}"
