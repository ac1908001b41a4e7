#!/bin/sh
# Runs each test binary given, two at a time, and fails if any fails.
# Each binary's output is kept in $B/tests/NAME.log and printed on failure.
set -u
jobs=${TEST_JOBS:-2}
fail=0
printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh -c '
	t={}; log=$t.log
	if timeout 600 "$t" >"$log" 2>&1; then
		printf "PASS %s\n" "$(basename $t)"
	else
		printf "FAIL %s (exit %s)\n" "$(basename $t)" "$?"; cat "$log"; exit 1
	fi' || fail=1
[ $fail = 0 ] && echo "all tests passed" || echo "some tests FAILED"
exit $fail
