#!/bin/sh
# screenshots.sh: PNGs of the console into screenshots/. First `llmdeck --demo`
# in tmux at 140x45: the dashboard, a drill with a provider down, the prompt
# panel with an answer, the help overlay and its glossary, the light and
# monochrome themes. Then a fleet as operators run it: three simulated
# providers, two `llmdeck serve` gateways on one database with traffic, and
# `llmdeck attach` on both during a drill inside the gateways, sent once to their database
# and shown with ! and its time left on both instances' rows (160x48, and 80x24 to show
# it fits).
# Needs tmux, aha (ANSI to HTML), chromium and curl
# (Debian: apt-get install tmux aha chromium fonts-dejavu-core curl).
# Usage: tests/screenshots.sh [OUTDIR]   (LLMDECK=path/to/llmdeck to choose the binary)
set -eu
cd "$(dirname "$0")/.."
bin=${LLMDECK:-build/llmdeck}
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
out=${1:-screenshots}
for tool in tmux aha chromium curl; do
	command -v $tool >/dev/null || { echo "screenshots: $tool is not installed" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "screenshots: $bin not built (run make)" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d /tmp/llmdeck-shots.XXXXXX)
sock=llmdeck-shots-$$
pids=""
cleanup() {
	tmux -L $sock kill-server 2>/dev/null || true
	rm -f "$work/load.on"
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
printf 'set -g default-terminal "tmux-256color"\nset -g status off\n' >"$work/tmux.conf"

T() { tmux -L $sock "$@"; }

# Poll the screen until the text shows; at most 20 s.
wait_for() {
	i=0
	while ! T capture-pane -p -t shots | grep -qE -- "$1"; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "screenshots: \"$1\" never showed" >&2
			T capture-pane -p -t shots >&2
			exit 1
		fi
		sleep 0.1
	done
}

# Capture with colours, convert to HTML, render with headless Chromium at the
# pane's size in pixels (8.6 x 17 per cell, plus the margins).
shot() {
	name=$1
	w=$(T display-message -p -t shots '#{pane_width}')
	h=$(T display-message -p -t shots '#{pane_height}')
	T capture-pane -e -p -t shots >"$work/$name.ans"
	{
		printf '<!DOCTYPE html><html><head><meta charset="utf-8"><style>'
		printf 'body{margin:0;background:#000}pre{margin:8px;font-family:"DejaVu Sans Mono",monospace;'
		printf 'font-size:14px;line-height:17px;color:#d0d0d0}</style></head><body><pre>'
		aha --no-header <"$work/$name.ans"
		printf '</pre></body></html>\n'
	} >"$work/$name.html"
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
	    --hide-scrollbars --window-size=$((w * 86 / 10 + 24)),$((h * 17 + 16)) \
	    --screenshot="$PWD/$out/$name.png" "file://$work/$name.html" >/dev/null 2>&1
	echo "screenshots: $out/$name.png"
}

# Run a command in the background, its output to a file; remember its pid.
spawn() {
	log=$1
	shift
	"$@" >"$log" 2>&1 &
	pids="$pids $!"
}

# The URL a process printed after "listening on " (at most 10 s).
url_in() {
	i=0
	while ! grep -q "listening on " "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -le 100 ] || { echo "screenshots: nothing listens in $1" >&2; cat "$1" >&2; exit 1; }
		sleep 0.1
	done
	sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$1" | head -1
}

# ---- the demo ----

T -f "$work/tmux.conf" new-session -d -s shots -x 140 -y 45 \
    "LANG=C.UTF-8 $bin --demo --demo-rate 8 --db $work/demo.db"
wait_for "Providers"
wait_for "p95 "
sleep 6   # let a few seconds of traffic fill the histogram and the sparklines
shot dashboard

# A drill: the selected provider (anthropic) goes down; its breaker opens.
T send-keys -t shots -l ':drill anthropic down'
T send-keys -t shots Enter
wait_for "OPEN "
sleep 2
shot drill-provider-down
T send-keys -t shots -l ':drill anthropic none'
T send-keys -t shots Enter
T send-keys -t shots -l ':reset anthropic'
T send-keys -t shots Enter

# The prompt panel with a streamed answer.
T send-keys -t shots p
wait_for "Test prompt"
T send-keys -t shots -l 'Summarise the last incident in one line. Привет, 世界 ✓'
T send-keys -t shots C-d
wait_for "answered by "
shot prompt-answer
T send-keys -t shots Escape

T send-keys -t shots '?'
wait_for "Keys, commands"
shot help
T send-keys -t shots NPage NPage NPage
wait_for "States \(the STATE column\)"
shot help-glossary
T send-keys -t shots Escape

T send-keys -t shots -l ':theme light'
T send-keys -t shots Enter
wait_for "theme light"
shot theme-light
T send-keys -t shots -l ':theme monochrome'
T send-keys -t shots Enter
wait_for "theme monochrome"
shot theme-monochrome
T send-keys -t shots q
T kill-server 2>/dev/null || true

# ---- a fleet: two gateways on one database, attached during a drill ----

mkdir -m 700 "$work/run"
export XDG_RUNTIME_DIR="$work/run" SHOTS_KEY=shots
spawn "$work/sim-openai" "$bin" sim --protocol openai --listen 127.0.0.1:0 --name openai-sim \
    --latency-ms 250 --jitter-ms 450 --seed 1
spawn "$work/sim-anthropic" "$bin" sim --protocol anthropic --listen 127.0.0.1:0 \
    --name anthropic-sim --latency-ms 450 --jitter-ms 700 --seed 2
spawn "$work/sim-mistral" "$bin" sim --protocol mistral --listen 127.0.0.1:0 --name mistral-sim \
    --latency-ms 180 --jitter-ms 300 --seed 3
cat >"$work/fleet.json" <<EOF
{"providers":[
 {"name":"openai","kind":"openai","base_url":"$(url_in "$work/sim-openai")",
  "api_key_env":"SHOTS_KEY","models":["fast"],"priority":1,"weight":3},
 {"name":"anthropic","kind":"anthropic","base_url":"$(url_in "$work/sim-anthropic")",
  "api_key_env":"SHOTS_KEY","models":["fast"],"priority":1,"weight":2},
 {"name":"mistral","kind":"openai","flavor":"mistral","base_url":"$(url_in "$work/sim-mistral")",
  "api_key_env":"SHOTS_KEY","models":["fast"],"priority":2,"weight":1}],
 "models":{"fast":{"id":"fast-1","input_per_mtok":3,"output_per_mtok":15}},
 "budget":{"daily_usd":5}}
EOF
for gw in gw-east gw-west; do
	spawn "$work/$gw" "$bin" serve --listen 127.0.0.1:0 --config "$work/fleet.json" \
	    --db "$work/fleet.db" --instance $gw
done
east=$(url_in "$work/gw-east")
west=$(url_in "$work/gw-west")
# Traffic, about 6 requests a second over both gateways.
touch "$work/load.on"
(
	i=0
	while [ -e "$work/load.on" ]; do
		if [ $((i % 2)) -eq 0 ]; then gw=$east; else gw=$west; fi
		i=$((i + 1))
		curl -s -m 20 "$gw/v1/chat/completions" -H 'content-type: application/json' \
		    -d "{\"model\":\"fast\",\"messages\":[{\"role\":\"user\",\"content\":\"hello $i\"}]}" \
		    >/dev/null &
		sleep 0.15
	done
	wait
) &
pids="$pids $!"

# No target: attach finds both by their Unix sockets.
T -f "$work/tmux.conf" new-session -d -s shots -x 160 -y 48 \
    "XDG_RUNTIME_DIR=$work/run LANG=C.UTF-8 $bin attach"
wait_for "FLEET 2/2 up"
wait_for "p95 "
sleep 12
# 30% of anthropic's attempts fail with 500 for two minutes: failover keeps the answers
# whole, the breaker stays closed, so the rows show the drill and its time left.
T send-keys -t shots -l ':drill anthropic 500 0.3 120'
T send-keys -t shots Enter
# A drill inside the gateways asks first (it reaches production), naming its scope.
wait_for "(y/n)"
T send-keys -t shots y
wait_for "drill 500 on anthropic"
wait_for "gw-east +.anthropic +[*@ ]?! drill 500 [0-9]+s"
wait_for "gw-west +.anthropic +[*@ ]?! drill 500 [0-9]+s"
sleep 8
shot fleet-drill
T resize-window -t shots -x 80 -y 24
sleep 2
shot fleet-80x24
T send-keys -t shots -l ':drill anthropic none'
T send-keys -t shots Enter
sleep 1
T send-keys -t shots y
T send-keys -t shots q
