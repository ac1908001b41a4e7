#!/bin/sh
# screenshots.sh: runs `llmdeck --demo` in tmux at 140x45, drives it through the
# main views and writes PNGs into screenshots/: the dashboard, a drill with a
# provider down, the prompt panel with an answer, the help overlay, and the
# light and monochrome themes. Needs tmux, aha (ANSI to HTML) and chromium
# (Debian: apt-get install tmux aha chromium fonts-dejavu-core).
# Usage: tests/screenshots.sh [OUTDIR]   (LLMDECK=path/to/llmdeck to choose the binary)
set -eu
cd "$(dirname "$0")/.."
bin=${LLMDECK:-build/llmdeck}
out=${1:-screenshots}
for tool in tmux aha chromium; do
	command -v $tool >/dev/null || { echo "screenshots: $tool is not installed" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "screenshots: $bin not built (run make)" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d /tmp/llmdeck-shots.XXXXXX)
sock=llmdeck-shots-$$
trap 'tmux -L $sock kill-server 2>/dev/null || true; rm -rf "$work"' EXIT INT TERM
printf 'set -g default-terminal "tmux-256color"\nset -g status off\n' >"$work/tmux.conf"

T() { tmux -L $sock "$@"; }

# Poll the screen until the text shows; at most 20 s.
wait_for() {
	i=0
	while ! T capture-pane -p -t shots | grep -qF -- "$1"; do
		i=$((i + 1))
		if [ $i -gt 200 ]; then
			echo "screenshots: \"$1\" never showed" >&2
			T capture-pane -p -t shots >&2
			exit 1
		fi
		sleep 0.1
	done
}

# Capture with colours, convert to HTML, render with headless Chromium.
shot() {
	name=$1
	T capture-pane -e -p -t shots >"$work/$name.ans"
	{
		printf '<!DOCTYPE html><html><head><meta charset="utf-8"><style>'
		printf 'body{margin:0;background:#000}pre{margin:8px;font-family:"DejaVu Sans Mono",monospace;'
		printf 'font-size:14px;line-height:17px;color:#d0d0d0}</style></head><body><pre>'
		aha --no-header <"$work/$name.ans"
		printf '</pre></body></html>\n'
	} >"$work/$name.html"
	chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
	    --hide-scrollbars --window-size=1200,790 --screenshot="$PWD/$out/$name.png" \
	    "file://$work/$name.html" >/dev/null 2>&1
	echo "screenshots: $out/$name.png"
}

T -f "$work/tmux.conf" new-session -d -s shots -x 140 -y 45 \
    "LANG=C.UTF-8 $bin --demo --demo-rate 8 --db $work/demo.db"
wait_for "Providers"
wait_for "p95 "
sleep 4   # let a few seconds of traffic fill the histogram and sparkline
shot dashboard

# A drill: the selected provider (anthropic) goes down; its breaker opens.
T send-keys -t shots -l ':drill anthropic down'
T send-keys -t shots Enter
wait_for "OPEN "
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
wait_for "Keys and commands"
shot help
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
