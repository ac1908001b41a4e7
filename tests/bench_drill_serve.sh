#!/bin/sh
# bench_drill_serve.sh: issue 8's drill, the way an operator sees it: three
# `llmdeck sim` processes (an anthropic primary, openai and mistral fallbacks)
# behind `llmdeck serve` (default: ledger, database), 16 curl clients at once,
# half of them streaming, for each fault on the primary. Prints the
# client-visible failures and p50/p99 per phase; then a slow primary (3 s)
# against a 20 ms fallback, without and with "hedge": {"after_ms": 300}.
# Prints numbers; asserts nothing.
#   LLMDECK=build/llmdeck sh tests/bench_drill_serve.sh [N]
set -u
BIN=${LLMDECK:-build/llmdeck}
N=${1:-${BENCH_DRILL_N:-160}}
dir=$(mktemp -d /tmp/llmdeck-bench-drill.XXXXXX)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT INT TERM

wait_line() {
	i=0
	while [ $i -lt 100 ]; do
		l=$(grep -m1 "$2" "$1" 2>/dev/null) && { echo "${l##* }"; return 0; }
		sleep 0.1; i=$((i + 1))
	done
	echo "bench_drill_serve: no \"$2\" in $1" >&2; cat "$1" >&2; exit 1
}

# Started here, not in $(...): a subshell would keep the pid from the cleanup.
start_sim() { # name protocol [flags]
	name=$1; proto=$2; shift 2
	"$BIN" sim --protocol "$proto" --listen 127.0.0.1:0 --name "$name" "$@" \
	    >"$dir/$name.out" 2>&1 & pids="$pids $!"
}

start_sim primary anthropic; P=$(wait_line "$dir/primary.out" "listening on")
start_sim fb-openai openai; F1=$(wait_line "$dir/fb-openai.out" "listening on")
start_sim fb-mistral mistral; F2=$(wait_line "$dir/fb-mistral.out" "listening on")

serve() { # config-file; its URL: wait_line "$1.out" "listening on"
	"$BIN" serve --db "$dir/$(basename "$1").db" --listen 127.0.0.1:0 --config "$1" \
	    >"$1.out" 2>&1 & pids="$pids $!"
}

cat >"$dir/drill.json" <<JSON
{"providers":[
  {"name":"primary","kind":"anthropic","base_url":"$P","api_key_env":"NO_KEY","models":["m"],"priority":1,"timeout_seconds":10},
  {"name":"fb-openai","kind":"openai","base_url":"$F1","api_key_env":"NO_KEY","models":["m"],"priority":2,"timeout_seconds":10},
  {"name":"fb-mistral","kind":"openai","flavor":"mistral","base_url":"$F2","api_key_env":"NO_KEY","models":["m"],"priority":2,"timeout_seconds":10}],
 "models":{"m":{"id":"sim-model","input_per_mtok":1,"output_per_mtok":2}},
 "cache":{"enabled":false},
 "breaker":{"failure_threshold":5,"cooldown_seconds":30,"probe_interval_seconds":2}}
JSON
NO_KEY=sk-sim
export NO_KEY
serve "$dir/drill.json"; GW=$(wait_line "$dir/drill.json.out" "listening on")

export dir
# xargs runs sh -c: give it the function through a file it sources.
cat >"$dir/one.sh" <<'SH'
one() {
	i=$1; url=$2
	if [ $((i % 2)) -eq 1 ]; then s=true; else s=false; fi
	out=$(curl -s -o "$dir/r.$i" -w '%{http_code} %{time_total}' --max-time 30 \
	    -H 'content-type: application/json' \
	    -d "{\"model\":\"m\",\"stream\":$s,\"max_tokens\":400,\"messages\":[{\"role\":\"user\",\"content\":\"drill $i\"}]}" \
	    "$url/v1/chat/completions")
	how=ok
	if [ "$s" = true ]; then
		if grep -q '"error"' "$dir/r.$i"; then how=broken
		elif ! grep -q '^data: \[DONE\]' "$dir/r.$i"; then how=cut; fi
	fi
	rm -f "$dir/r.$i"
	echo "$out $how"
}
one "$@"
SH
phase() { # name control-json url
	curl -s -o /dev/null -d "$2" "$P/_sim/control"
	seq 1 "$N" | xargs -P 16 -I{} sh "$dir/one.sh" {} "$3" >"$dir/phase.out" 2>/dev/null || true
	curl -s -o /dev/null -d '{"fault":"none","error_rate":0,"retry_after":0,"latency_ms":0}' \
	    "$P/_sim/control"
	awk -v name="$1" '
	    function isort(a, n,   i, j, v) { for (i = 2; i <= n; i++) { v = a[i]; for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]; a[j + 1] = v } }
	    { n++; if ($1 != 200) f++; if ($3 == "broken") b++; if ($3 == "cut") c++; t[n] = $2 }
	    END {
		isort(t, n);
		p50 = t[int((n - 1) / 2) + 1]; p99 = t[int((n * 99 + 99) / 100)];
		printf "%-18s %5d %7d %7d %6d %9.0f %9.0f\n", name, n, f + 0, b + 0, c + 0, p50 * 1000, p99 * 1000
	    }' "$dir/phase.out"
	sleep 3 # probes every 2 s close the primary's breaker again
}

echo "drill through serve: $N requests per phase, 16 clients, half streamed, 10 s deadline"
printf "%-18s %5s %7s %7s %6s %9s %9s\n" "fault on primary" reqs "non-200" broken cut "p50 ms" "p99 ms"
phase "30% 500" '{"error_rate":0.3,"error_status":500}' "$GW"
phase "429 retry-after" '{"error_rate":0.3,"error_status":429,"retry_after":1}' "$GW"
phase "30% 529" '{"error_rate":0.3,"error_status":529}' "$GW"
phase "30% 503" '{"error_rate":0.3,"error_status":503}' "$GW"
for f in hang slow drop malformed truncated midstream down; do
	phase "$f" "{\"fault\":\"$f\"}" "$GW"
done
echo "(broken: streams ended by an explicit error event after their first token; cut: a stream"
echo " that ended without [DONE] or an error: a silent cut, must be 0)"

# Hedging: a 3 s primary against a 20 ms fallback.
sed 's/"cache":/"hedge":{"after_ms":300},"cache":/' "$dir/drill.json" >"$dir/hedge.json"
serve "$dir/hedge.json"; GWH=$(wait_line "$dir/hedge.json.out" "listening on")
curl -s -o /dev/null -d '{"latency_ms":20}' "$F1/_sim/control"
curl -s -o /dev/null -d '{"latency_ms":20}' "$F2/_sim/control"
N=32
echo "slow primary (3 s) vs 20 ms fallbacks, $N requests:"
printf "%-18s %5s %7s %7s %6s %9s %9s\n" "" reqs "non-200" broken cut "p50 ms" "p99 ms"
phase "no hedge" '{"latency_ms":3000}' "$GW"
phase "hedge 300 ms" '{"latency_ms":3000}' "$GWH"
