#!/bin/sh
# Runs each libFuzzer harness given (build-fuzz/fuzz_NAME) for SECONDS, one at a
# time under nice, on a scratch copy of tests/fuzz/corpus/NAME and
# tests/fuzz/regress/NAME: what the fuzzer adds stays out of the tree. Any
# crash, leak, timeout or out-of-memory fails the run; its input is kept in
# build-fuzz/artifacts/NAME/ and named with the harness.
# Usage: tests/fuzz/run.sh SECONDS build-fuzz/fuzz_NAME...
set -u
secs=$1
shift
keep=build-fuzz/artifacts
work=$(mktemp -d "${TMPDIR:-/tmp}/llmdeck-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
fail=0
for f in "$@"; do
	name=${f##*/fuzz_}
	dir=$work/$name
	mkdir -p "$dir/corpus" "$dir/artifacts"
	cp tests/fuzz/corpus/"$name"/* "$dir/corpus/" || exit 1
	if [ -d tests/fuzz/regress/"$name" ]; then
		cp tests/fuzz/regress/"$name"/* "$dir/corpus/" 2>/dev/null
	fi
	case $name in
	theme) dict= ;;
	*) dict=-dict=tests/fuzz/json.dict ;;
	esac
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    nice "$f" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -detect_leaks=1 \
	    -print_final_stats=1 -artifact_prefix="$dir/artifacts/" $dict "$dir/corpus" \
	    >"$dir/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
	last=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' ||
	    true)
	found=$(ls "$dir/artifacts")
	if [ $rc -ne 0 ] || [ -n "$found" ]; then
		fail=1
		mkdir -p "$keep/$name"
		cp "$dir"/artifacts/* "$keep/$name/" 2>/dev/null
		cp "$dir/log" "$keep/$name/log"
		echo "FAIL fuzz_$name (exit $rc): execs ${execs:-?} $last"
		grep -E 'ERROR: |SUMMARY: |property failed|runtime error|Test unit written' "$dir/log" |
		    head -n 20
		for a in $found; do
			echo "  input: $keep/$name/$a"
		done
	else
		echo "ok   fuzz_$name: execs ${execs:-?} $last"
	fi
done
[ $fail = 0 ] && echo "fuzz: no crash, leak or timeout in ${secs}s per harness" ||
    echo "fuzz: FAILED (inputs under $keep/)"
exit $fail
