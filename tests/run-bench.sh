#!/bin/sh
# Runs each benchmark binary in turn; they print their own numbers.
set -u
for b in "$@"; do
	echo "== $(basename "$b")"
	"$b" || exit 1
done
