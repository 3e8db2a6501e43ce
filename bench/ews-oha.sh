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
# one oha run: successful requests per second (anything but 200 is not throughput)
run() { # url [header]
    local args=(-z "${secs}s" -c "$conns" --no-tui --output-format json -m POST
        -T text/xml -D "$dir/$op.xml")
    [ $# -gt 1 ] && args+=(-H "$2")
    oha "${args[@]}" "$1" | jq '(.statusCodeDistribution["200"] // 0) / .summary.total'
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
for r in $(seq 1 "$rounds"); do
    if ((r % 2)); then
        a=$(run "$auth_url" "$header")
        b=$(run "$noauth_url")
    else
        b=$(run "$noauth_url")
        a=$(run "$auth_url" "$header")
    fi
    ratio=$(jq -n "$a / $b")
    ratios+=("$ratio")
    printf '%s round %d: auth %.0f req/s, no-auth %.0f req/s, ratio %.3f\n' "$op" "$r" "$a" "$b" "$ratio"
done
printf '%s\n' "${ratios[@]}" | sort -g | jq -rs --arg op "$op" '
    def r3: . * 1000 | round / 1000;
    (if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end) as $m
    | "\($op): cache on / no-auth = \($m | r3) (median of \(length) rounds; lowest \(.[0] | r3), highest \(.[-1] | r3)); oha in its own process"'
