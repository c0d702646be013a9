#!/usr/bin/env bash
# The linker for scripts/build-static.sh: the usual `cc` link, with the functions listed in
# scripts/startup.order placed first and together in .text. Those are what create, start,
# delete and run execute; elsewhere in the 4 MB of text they touch most of its 64 KiB
# fault-around windows, so each invocation's RSS holds nearly all the text (docs/BENCHMARKS.md).
#
# The list keeps Rust symbols without their hash (`_ZN...17h<16 hex>E` less `17h...E`), which
# changes with the toolchain and the profile; here each entry becomes the symbols of rustc's
# objects that carry it (every instance of a generic), C symbols (glibc) stay as they are.
# An entry that matches nothing is skipped: a stale list costs RSS, never a failed link.
set -euo pipefail
list=$(dirname "$0")/startup.order
objs=()
for a in "$@"; do
  [[ $a == *.o ]] && objs+=("$a")
done
if [ ${#objs[@]} -eq 0 ] || [ ! -f "$list" ]; then
  exec "${CC:-cc}" "$@"
fi
order=$(mktemp)
trap 'rm -f "$order"' EXIT
nm --defined-only "${objs[@]}" 2>/dev/null | awk -v list="$list" '
  NF == 3 && $2 ~ /^[tTwW]$/ { key = $3; sub(/17h[0-9a-f]+E$/, "", key); syms[key] = syms[key] $3 "\n" }
  END {
    while ((getline line < list) > 0) {
      if (line == "" || line ~ /^#/) continue
      printf "%s", (line in syms) ? syms[line] : line "\n"
    }
  }' >"$order"
"${CC:-cc}" "$@" -Wl,--symbol-ordering-file="$order" -Wl,--no-warn-symbol-ordering
