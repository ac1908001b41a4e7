#!/bin/sh
# bench_gateway.sh: the gateway's added latency and throughput with wrk, in one
# run on the same zero-latency sim: the sim directly, nginx as a bare reverse
# proxy (keepalive upstream; Debian's nginx, skipped with a note if absent),
# `serve --no-db` (routing alone), `serve` with a ledger, `serve` as users run
# it (ledger + daily budget + cache; 1 and 2 --threads), a cache hit through the
# gateway, and the Portkey gateway (tests/node/node_modules/@portkey-ai/gateway);
# then N slow requests (sim latency 2 s) in flight at once with the gateway's
# thread count and peak RSS. Prints numbers and ratios; asserts nothing.
#   LLMDECK=build/llmdeck sh tests/bench_gateway.sh
set -u
BIN=${LLMDECK:-build/llmdeck}
DUR=${BENCH_SECONDS:-5}
SLOW_N=${BENCH_SLOW_N:-10000}
dir=$(mktemp -d /tmp/llmdeck-bench-gw.XXXXXX)
pids=""
PGSTOP=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "$PGSTOP" ] && $PGSTOP >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
[ -n "${BENCH_KEEP:-}" ] && trap - EXIT

command -v wrk >/dev/null || { echo "bench_gateway: wrk not installed; skipped"; exit 0; }

# Wait for a line matching $2 in file $1 and print its last field.
wait_line() {
	i=0
	while [ $i -lt 100 ]; do
		l=$(grep -m1 "$2" "$1" 2>/dev/null) && { echo "${l##* }"; return 0; }
		sleep 0.1; i=$((i + 1))
	done
	echo "bench_gateway: no \"$2\" in $1" >&2; cat "$1" >&2; exit 1
}

"$BIN" sim --protocol openai --listen 127.0.0.1:0 --key sk-bench --name fast --threads 2 \
    >"$dir/sim.out" 2>&1 & pids="$pids $!"
SIM=$(wait_line "$dir/sim.out" "listening on")
"$BIN" sim --protocol openai --listen 127.0.0.1:0 --key sk-bench --name slow --latency-ms 2000 \
    >"$dir/slow.out" 2>&1 & pids="$pids $!"
SLOW=$(wait_line "$dir/slow.out" "listening on")
cat >"$dir/config.json" <<EOF
{"providers":[
  {"name":"fast","kind":"openai","base_url":"$SIM","api_key_env":"BENCH_SIM_KEY","models":["m"]}],
 "models":{"m":{"id":"sim-model","input_per_mtok":1,"output_per_mtok":2}},
 "cache":{"enabled":false},"breaker":{"probe_interval_seconds":0}}
EOF
sed "s#$SIM#$SLOW#; s#\"fast\"#\"slow\"#; s#\"models\":\[\"m\"\]}#\"models\":[\"m\"],\"timeout_seconds\":120}#" \
    "$dir/config.json" >"$dir/slow.json"
# Routing alone (--no-db), as Portkey is measured; and with the ledger on (the default:
# every answer committed to SQLite before it is returned).
BENCH_SIM_KEY=sk-bench "$BIN" serve --no-db --listen 127.0.0.1:0 --config "$dir/config.json" \
    >"$dir/gw.out" 2>&1 & pids="$pids $!"
GW=$(wait_line "$dir/gw.out" "listening on")
BENCH_SIM_KEY=sk-bench "$BIN" serve --db "$dir/ledger.db" --listen 127.0.0.1:0 \
    --config "$dir/config.json" >"$dir/gwl.out" 2>&1 & pids="$pids $!"
GWL=$(wait_line "$dir/gwl.out" "listening on")
# What users run: the ledger, a daily budget and the cache, all on (a budget far
# above what the bench spends, so nothing is refused).
sed 's/"cache":{"enabled":false}/"cache":{"enabled":true},"budget":{"daily_usd":1000000}/' \
    "$dir/config.json" >"$dir/default.json"
BENCH_SIM_KEY=sk-bench "$BIN" serve --db "$dir/default.db" --listen 127.0.0.1:0 \
    --config "$dir/default.json" >"$dir/gwd.out" 2>&1 & pids="$pids $!"
GWD=$(wait_line "$dir/gwd.out" "listening on")
BENCH_SIM_KEY=sk-bench "$BIN" serve --db "$dir/default2.db" --listen 127.0.0.1:0 --threads 2 \
    --config "$dir/default.json" >"$dir/gwd2.out" 2>&1 & pids="$pids $!"
GWD2=$(wait_line "$dir/gwd2.out" "listening on")

# The default on a PostgreSQL store: a throwaway cluster (Debian's postgresql; skipped
# with a note if absent), owned by an unprivileged user when run as root.
GWP=""
pgbin=${LLMDECK_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ -x "$pgbin/initdb" ]; then
	mkdir -p "$dir/pg"
	runas=""
	if [ "$(id -u)" = 0 ]; then
		u=postgres; id $u >/dev/null 2>&1 || u=nobody
		chown "$u" "$dir/pg"; chmod 755 "$dir"; runas="runuser -u $u --"
	fi
	if $runas "$pgbin/initdb" -D "$dir/pg/data" -U llmdeck -A trust -E UTF8 --no-sync \
	    >"$dir/pg.log" 2>&1 &&
	    $runas "$pgbin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 30 \
	    -o "-k $dir/pg -c listen_addresses='' -c max_connections=64" start >>"$dir/pg.log" 2>&1; then
		PGSTOP="$runas $pgbin/pg_ctl -D $dir/pg/data -m immediate -w stop"
		BENCH_SIM_KEY=sk-bench "$BIN" serve --db "postgresql:///postgres?host=$dir/pg&user=llmdeck" \
		    --listen 127.0.0.1:0 --config "$dir/default.json" >"$dir/gwp.out" 2>&1 & pids="$pids $!"
		GWP=$(wait_line "$dir/gwp.out" "listening on")
	else
		echo "note: PostgreSQL would not start (see $dir/pg.log): its row is skipped"
	fi
else
	echo "note: PostgreSQL not installed (apt-get install postgresql): its row is skipped"
fi

# nginx as a bare reverse proxy to the same sim, keepalive upstream.
NGX=""
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
	ngxbin=$(command -v nginx || echo /usr/sbin/nginx)
	ngxport=$((20000 + ($$ + 7) % 20000))
	simhp=${SIM#http://}
	mkdir -p "$dir/nginx"
	cat >"$dir/nginx/nginx.conf" <<NGX
worker_processes 2;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/nginx/body;
    proxy_temp_path $dir/nginx/proxy;
    fastcgi_temp_path $dir/nginx/fcgi;
    uwsgi_temp_path $dir/nginx/uwsgi;
    scgi_temp_path $dir/nginx/scgi;
    upstream sim { server $simhp; keepalive 64; }
    server {
        listen 127.0.0.1:$ngxport;
        location / {
            proxy_pass http://sim;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
NGX
	"$ngxbin" -c "$dir/nginx/nginx.conf" -g 'daemon off;' >"$dir/nginx.out" 2>&1 &
	pids="$pids $!"
	i=0
	while [ $i -lt 100 ] && ! curl -s -o /dev/null "http://127.0.0.1:$ngxport/_sim/stats"; do
		sleep 0.1; i=$((i + 1))
	done
	NGX="http://127.0.0.1:$ngxport"
else
	echo "note: nginx not installed (apt-get install nginx-light): its rows are skipped"
fi

PK=""
PKJS=tests/node/node_modules/@portkey-ai/gateway/build/start-server.js
if [ -f "$PKJS" ] && command -v node >/dev/null; then
	pkport=$((20000 + $$ % 20000))
	NODE_ENV=production node "$PKJS" --port=$pkport --headless >"$dir/pk.out" 2>&1 &
	pids="$pids $!"
	i=0
	while [ $i -lt 100 ] && ! curl -s -o /dev/null "http://127.0.0.1:$pkport/"; do
		sleep 0.1; i=$((i + 1))
	done
	PK="http://127.0.0.1:$pkport"
fi

body='{"model":"m","messages":[{"role":"user","content":"Say hello"}],"max_tokens":16}'
mklua() {
	{
		echo 'wrk.method = "POST"'
		echo "wrk.body = '$body'"
		echo 'wrk.headers["Content-Type"] = "application/json"'
		echo "wrk.headers[\"Authorization\"] = \"Bearer sk-bench\""
		[ -n "${2:-}" ] && echo "wrk.headers[\"x-portkey-provider\"] = \"openai\"" &&
		    echo "wrk.headers[\"x-portkey-custom-host\"] = \"$2/v1\""
		echo 'done = function(summary, latency, requests)'
		printf '%s\n' '  io.write(string.format("RESULT %.1f %.1f %.1f %d %d\n", latency:percentile(50),'
		echo '    latency:percentile(99), summary.requests / (summary.duration / 1e6),'
		echo '    summary.errors.status + summary.errors.connect + summary.errors.read +'
		echo '    summary.errors.write + summary.errors.timeout, summary.requests))'
		echo 'end'
	} >"$1"
}
mklua "$dir/direct.lua"
mklua "$dir/portkey.lua" "$SIM"
# A cacheable request (temperature 0): after the first, every one is a cache hit.
body='{"model":"m","messages":[{"role":"user","content":"Say hello"}],"max_tokens":16,"temperature":0}'
mklua "$dir/cached.lua"
body='{"model":"m","messages":[{"role":"user","content":"Say hello"}],"max_tokens":16}'


# run URL LUA CONC -> "p50_us p99_us rps errors requests"
run() {
	t=1; [ "$3" -ge 16 ] && t=2
	wrk -t$t -c"$3" -d"${DUR}s" --timeout 10s -s "$2" "$1/v1/chat/completions" 2>&1 |
	    awk '/^RESULT/ { print $2, $3, $4, $5, $6 }'
}

row() { printf '%-5s %-16s %10s %10s %10s %7s %9s\n' "$@"; }
[ -n "${BENCH_ONLY_SLOW:-}" ] || {
echo "gateway benchmark: wrk, ${DUR}s per run, zero-latency openai sim, $(nproc) cores"
row conc target p50_us p99_us req/s errors requests
: >"$dir/all"
for c in 1 16 256; do
	d=$(run "$SIM" "$dir/direct.lua" $c); row $c direct $d
	n=""
	if [ -n "$NGX" ]; then n=$(run "$NGX" "$dir/direct.lua" $c); row $c nginx $n; fi
	g=$(run "$GW" "$dir/direct.lua" $c); row $c "serve --no-db" $g
	l=$(run "$GWL" "$dir/direct.lua" $c); row $c "serve ledger" $l
	f=$(run "$GWD" "$dir/direct.lua" $c); row $c "serve default" $f
	f2=$(run "$GWD2" "$dir/direct.lua" $c); row $c "default 2 thr" $f2
	pg=""
	if [ -n "$GWP" ]; then pg=$(run "$GWP" "$dir/direct.lua" $c); row $c "default on pg" $pg; fi
	h=$(run "$GWD" "$dir/cached.lua" $c); row $c "cache hit" $h
	p=""
	if [ -n "$PK" ]; then p=$(run "$PK" "$dir/portkey.lua" $c); row $c portkey $p; fi
	echo "$c|$d|$n|$g|$f|$f2|$p|$pg" >>"$dir/all"
done
echo "ratios (req/s), and the latency llmdeck adds over the sim (p50):"
awk -F'|' '
function rps(x,  a) { split(x, a, " "); return a[3] + 0 }
function p50(x,  a) { split(x, a, " "); return a[1] + 0 }
{
	c = $1; d = $2; n = $3; g = $4; f = $5; f2 = $6; p = $7; pg = $8;
	printf "conc %-4s added p50: --no-db %+.0f us, default %+.0f us", c, p50(g) - p50(d), p50(f) - p50(d);
	if (rps(n) > 0) printf "; llmdeck/nginx: --no-db %.2f, default %.2f, default 2 threads %.2f", rps(g) / rps(n), rps(f) / rps(n), rps(f2) / rps(n);
	if (rps(p) > 0) printf "; llmdeck/portkey: --no-db %.1fx, default %.1fx", rps(g) / rps(p), rps(f) / rps(p);
	if (rps(pg) > 0 && rps(f) > 0) printf "; default pg/sqlite %.2f", rps(pg) / rps(f);
	printf "\n" }' "$dir/all"
}

# Slow requests held in flight at once, through a gateway on the 2 s sim. wrk is one
# client address: the per-address limit (1,024 by default) is lifted for it.
BENCH_SIM_KEY=sk-bench "$BIN" serve --no-db --listen 127.0.0.1:0 --config "$dir/slow.json" \
    --max-connections-per-ip 0 >"$dir/gws.out" 2>&1 & gwpid=$!; pids="$pids $gwpid"
GWS=$(wait_line "$dir/gws.out" "listening on")
# Each request takes a client socket and an upstream socket in the gateway.
lim=$(awk '/Max open files/ { print $4 }' /proc/$gwpid/limits)
# serve's own connection limit is (open-file limit - 320) / 2 (gateway_max_connections).
n=$SLOW_N
if [ $((n * 2 + 320)) -gt "$lim" ]; then
	n=$(((lim - 320) / 2))
	echo "note: the gateway's open-file limit is $lim: holding $n in flight instead of $SLOW_N"
fi
idle=$(awk '/^VmRSS:/ { print $2 }' /proc/$gwpid/status)
wrk -t2 -c"$n" -d6s --timeout 20s -s "$dir/direct.lua" "$GWS/v1/chat/completions" \
    >"$dir/slow.wrk" 2>&1 &
wpid=$!
peak=0; threads=0; i=0
while kill -0 $wpid 2>/dev/null && [ $i -lt 100 ]; do
	f=$(curl -s "$GWS/metrics" | awk '/^llmdeck_gateway_in_flight / { print $2 }')
	[ -n "$f" ] && [ "$f" -gt "$peak" ] && peak=$f
	t=$(awk '/^Threads:/ { print $2 }' /proc/$gwpid/status)
	[ "$t" -gt "$threads" ] && threads=$t
	sleep 0.2; i=$((i + 1))
done
wait $wpid
rss=$(awk '/^VmHWM:/ { print $2 }' /proc/$gwpid/status)
res=$(awk '/^RESULT/ { print $4, $5, $6 }' "$dir/slow.wrk")
echo "slow: $n connections on a 2 s sim: peak in flight $peak, gateway threads $threads," \
    "peak RSS $((rss / 1024)) MB ($(((rss - idle) / n)) kB per request over $((idle / 1024)) MB idle);" \
    "wrk req/s, errors, requests: $res"
