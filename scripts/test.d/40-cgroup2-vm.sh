# cgroup v2: berth-cgroups' test binaries (unit and real-kernel integration tests) run as
# root inside a throwaway QEMU VM whose only cgroup hierarchy is cgroup2, since the CI host
# is cgroup v1/hybrid. The tests detect the layout, so the same tests exercise the v2
# driver there (cgroup.freeze, cgroup.kill, the eBPF device filter, memory.events, ...).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v jq >/dev/null || { echo "40-cgroup2-vm: jq is needed (.ci/packages)" >&2; exit 1; }
mapfile -t bins < <(
  cargo test -p berth-cgroups --locked --no-run --message-format=json |
    jq -r 'select(.reason == "compiler-artifact" and .profile.test and .executable != null) | .executable'
)
[ ${#bins[@]} -gt 0 ] || { echo "40-cgroup2-vm: no test binaries built" >&2; exit 1; }

work=$(mktemp -d /tmp/berth-cgroup2-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
files=()
{
  echo '#!/bin/sh'
  echo 'rc=0'
  for b in "${bins[@]}"; do
    files+=(-f "$b")
    printf 'echo "=== %s"\n' "$(basename "$b")"
    printf '%q --test-threads=1 || rc=1\n' "$b"
  done
  echo 'exit $rc'
} > "$work/run.sh"
chmod 755 "$work/run.sh"
scripts/cgroup2-vm.sh --timeout 900 --mem 1024 -e BERTH_TEST_CGROUP_LAYOUT=v2 "${files[@]}" "$work/run.sh"
