#!/usr/bin/env bash
# The test command: lints, unit tests, then every stage in scripts/test.d/ in order.
# Needs root (the integration tests create namespaces, mounts and cgroups); as another user,
# it re-runs itself through sudo where there is one.
# Set BERTH_TEST_ONLY=NN-name to run a single stage.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/as-root.sh
. scripts/as-root.sh
as_root scripts/test.sh "$@"
export CARGO_TERM_COLOR=never
start=$(date +%s)
fail=()
for stage in scripts/test.d/*.sh; do
  name=$(basename "$stage" .sh)
  [ -n "${BERTH_TEST_ONLY:-}" ] && [ "$BERTH_TEST_ONLY" != "$name" ] && continue
  echo "=== stage $name ($(( $(date +%s) - start ))s)"
  if ! bash "$stage"; then fail+=("$name"); echo "=== stage $name FAILED"; fi
done
echo "=== done in $(( $(date +%s) - start ))s"
if [ ${#fail[@]} -gt 0 ]; then echo "failed stages: ${fail[*]}" >&2; exit 1; fi
