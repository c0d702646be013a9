#!/usr/bin/env bash
# scripts/cli-parity.sh — the table in docs/ENGINE.md ("docker's commands and flags") of
# docker's container, image and system commands and their flags, each marked as berth has it:
# from both programs' --help, with scripts/cli-parity.notes saying where berth differs.
#
#   cargo build -p berth && scripts/cli-parity.sh [BERTH] > /tmp/table.md
#
# Then replace the table between the markers in docs/ENGINE.md with it. Needs the docker CLI
# (docker.io); no daemon is asked anything.
set -euo pipefail
cd "$(dirname "$0")/.."
BERTH=${1:-target/debug/berth}
NOTES=scripts/cli-parity.notes
command -v docker >/dev/null || { echo "missing docker (apt-get install docker.io)" >&2; exit 1; }

# The long flags in a --help text, one a line (docker's and clap's layouts alike).
flags() { sed -nE 's/^ +(-[[:alnum:]], )?--([[:alnum:]-]+).*/--\2/p' | sort -u; }
# What the notes say of command $1's flag $2 (`create` shares `run`'s flags and notes).
note() {
  awk -F'\t' -v c="${1/%create/run}" -v f="$2" '$1 == c && $2 == f { print $3 }' "$NOTES"
}
join_flags() { sed 's/.*/`&`/' | paste -sd, - | sed 's/,/, /g'; }

echo "| command | berth | docker's flags berth lacks | supported differently |"
echo "|---|---|---|---|"
for group in container image system; do
  for cmd in $(docker "$group" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
    docker "$group" "$cmd" --help | flags >/tmp/cli-parity.docker
    how=$(note "$group $cmd" -)
    if ! "$BERTH" "$group" "$cmd" --help 2>/dev/null | flags >/tmp/cli-parity.berth; then
      echo "| \`$group $cmd\` | not yet | | $how |"
      continue
    fi
    lacks=$(comm -23 /tmp/cli-parity.docker /tmp/cli-parity.berth | grep -vx -- --help | join_flags || true)
    differs=$how
    while read -r f; do
      n=$(note "$group $cmd" "$f")
      [ -n "$n" ] && differs="${differs:+$differs; }\`$f\`: $n"
    done < <(comm -12 /tmp/cli-parity.docker /tmp/cli-parity.berth)
    status=supported
    [ -n "$differs" ] && status="supported differently"
    [ -n "$lacks" ] && status="$status, some flags not yet"
    echo "| \`$group $cmd\` | $status | $lacks | $differs |"
  done
done
rm -f /tmp/cli-parity.docker /tmp/cli-parity.berth
