#!/bin/sh
# Runs each test binary given, two at a time, and fails if any fails.
# Each binary's output is kept in $B/tests/NAME.log and printed on failure.
# A binary whose every test was skipped (a dependency missing: testkit_missing)
# says SKIP, never PASS. The last line counts them: "N passed, N failed".
set -u
jobs=${TEST_JOBS:-2}
printf '%s\n' "$@" | xargs -P "$jobs" -I{} sh -c '
	t={}; log=$t.log; name=$(basename "$t")
	rm -f "$t.result"
	if timeout 600 "$t" >"$log" 2>&1; then
		skipped=$(sed -n "s/^\[  SKIPPED \] \([0-9]*\) test(s).*/\1/p" "$log" | head -n 1)
		if [ -n "$skipped" ] && grep -q "^\[  PASSED  \] 0 test(s)" "$log"; then
			echo skip >"$t.result"
			printf "SKIP %s: %s\n" "$name" \
			    "$(sed -n "s/.*SKIP: //p" "$log" | head -n 1)"
		else
			echo pass >"$t.result"
			printf "PASS %s%s\n" "$name" "${skipped:+ ($skipped skipped)}"
		fi
	else
		rc=$?
		echo fail >"$t.result"
		printf "FAIL %s (exit %s)\n" "$name" "$rc"
		cat "$log"
	fi'
passed=0 failed=0 skipped=0
for t in "$@"; do
	case $(cat "$t.result" 2>/dev/null) in
	pass) passed=$((passed + 1)) ;;
	skip) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
	rm -f "$t.result"
done
[ "$skipped" -gt 0 ] &&
	echo "$skipped skipped: a dependency is missing (under CI=true that fails)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
