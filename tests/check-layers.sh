#!/usr/bin/env bash
# check-layers.sh: every #include "..." in a folder of core/ or tui/ must be the
# folder's own, or one its README.md allows on its "May call:" line (up to the
# next blank line), where each allowed folder or header is written in backticks:
#   May call: `util`, `config`, `provider/llm.h`, `router`.
# A folder token allows every header of that folder; folder/header.h just that one.
# Includes may be written "router/router.h" or, resolved by file name, "router.h".
# Every .c and .h must also be named in its folder's README.
# Prints each call the README does not allow, as file:line, and exits 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."

dirs="$(ls -d core/*/ tui/*/ | sed 's:/$::')"

# The folder (its last path component) holding a header, by file name.
declare -A home
for h in tui/*.h; do
	[ -e "$h" ] && home["$(basename "$h")"]=tui # the program's own header
done
for d in $dirs; do
	for h in "$d"/*.h; do
		[ -e "$h" ] && home["$(basename "$h")"]="$(basename "$d")"
	done
done

bad=0
for d in $dirs; do
	self="$(basename "$d")"
	readme="$d/README.md"
	if [ ! -f "$readme" ]; then
		echo "$d: no README.md (it must say what the folder may call)"
		bad=1
		continue
	fi
	allowed=" $(awk '/^May call:/ { on = 1 } on && /^$/ { exit } on { print }' "$readme" |
		{ grep -o '`[^`]*`' || true; } | tr -d '`' | tr '\n' ' ') "
	if [ "$allowed" = "  " ] && ! grep -q '^Calls nothing else' "$readme"; then
		echo "$readme: no \"May call:\" line with the allowed folders in backticks"
		bad=1
	fi
	for f in "$d"/*.c "$d"/*.h; do
		[ -e "$f" ] || continue
		# Every file is named in its folder's README ("x.c", or "x.h/.c" for a pair).
		b="$(basename "$f")"
		if ! grep -qF -e "$b" -e "${b%.*}.h/.c" "$readme"; then
			echo "$f: not named in $readme (say what it holds)"
			bad=1
		fi
		while IFS=: read -r line inc; do
			inc="${inc#*\"}"
			inc="${inc%%\"*}"
			if [[ "$inc" == */* ]]; then
				folder="${inc%%/*}"
				header="${inc##*/}"
			else
				header="$inc"
				folder="${home[$header]:-}"
			fi
			[ -n "$folder" ] || continue # not one of ours (a system or test header)
			[ "$folder" = "$self" ] && continue
			case "$allowed" in
			*" $folder "* | *" $folder/$header "*) ;;
			*)
				echo "$f:$line: includes $inc ($folder), which $readme's \"May call:\" does not list"
				bad=1
				;;
			esac
		done < <(grep -n '^#include "' "$f" || true)
	done
done
exit $bad
