# The systemd cgroup driver against a real systemd: the QEMU VM of scripts/cgroup2-vm.sh
# booted with systemd as PID 1 (--systemd: the host's root read-only under a tmpfs overlay,
# cgroup v2 only) runs berth-runtime's --systemd-cgroup tests (tests/systemd.rs) and the
# engine's (bin/berth/tests/systemd.rs: systemd is then berth's default cgroup manager), the
# rootless engine's limits (bin/berth/tests/rootless.rs, cgroup2_*: through the user's
# systemd manager, and in a delegated subtree), and
# containerd's CRI plugin with `SystemdCgroup = true` as docs/KUBERNETES.md sets up a
# kubeadm-style node (the interop test kubernetes_doc_with_the_systemd_cgroup_driver); then
# the VM again with systemd's hybrid layout, for the runtime's v1 test.
# BERTH_TEST_SYSTEMD=1 makes a test fail where it would otherwise skip for want of systemd.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v jq >/dev/null || { echo "42-systemd-vm: jq is needed (.ci/packages)" >&2; exit 1; }
test_bin() {  # test_bin PACKAGE TEST: builds the package's binaries and that test; its path
  cargo build -p "$1" --locked --bins
  cargo test -p "$1" --test "$2" --locked --no-run --message-format=json |
    jq -r "select(.reason == \"compiler-artifact\" and .profile.test and .target.name == \"$2\") | .executable"
}
runtime_tests=$(test_bin berth-runtime systemd)
engine_tests=$(test_bin berth systemd)
rootless_tests=$(test_bin berth rootless)
interop_tests=$(test_bin berth-runtime interop)
runtime=$PWD/target/debug/berth-runtime
for b in "$runtime_tests" "$engine_tests" "$rootless_tests" "$interop_tests" "$runtime"; do
  [ -x "$b" ] || { echo "42-systemd-vm: $b not built" >&2; exit 1; }
done

work=$(mktemp -d /tmp/berth-systemd-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
{
  echo '#!/bin/bash'
  echo 'rc=0'
  printf '%q --test-threads=1 --color never || rc=1\n' "$runtime_tests" "$engine_tests"
  printf '%q --test-threads=1 --color never cgroup2_ || rc=1\n' "$rootless_tests"
  echo 'W=$(mktemp -d /tmp/interop.XXXXXX)'
  printf 'export BERTH_INTEROP_RUNTIME=%q BERTH_INTEROP_DIR=$W\n' "$runtime"
  printf '%q $W/images >/dev/null || rc=1\n' "$PWD/tests/interop/images.sh"
  printf '%q --ignored --exact --color never cri::kubernetes_doc_with_the_systemd_cgroup_driver || rc=1\n' "$interop_tests"
  printf 'for d in $W/cri-*; do %q stop $d; done\n' "$PWD/tests/interop/containerd.sh"
  echo 'exit $rc'
} > "$work/run.sh"
chmod 755 "$work/run.sh"
rc=0
# The guest sees the host's root, but its /tmp is its own: the checkout (with the test
# binaries and the runtime they run) is shared at its path, wherever it is.
scripts/cgroup2-vm.sh --systemd --timeout 900 --mem 2048 -s "$PWD" -e BERTH_TEST_SYSTEMD=1 \
  "$work/run.sh" || rc=1
# systemd's hybrid layout (v1 controllers), for the test written for it.
scripts/cgroup2-vm.sh --systemd-hybrid --timeout 600 --mem 2048 -s "$PWD" -e BERTH_TEST_SYSTEMD=1 \
  -e BERTH_TEST_CGROUP_LAYOUT=hybrid "$runtime_tests" --exact --color never \
  the_hybrid_layout_gets_v1_properties_and_files || rc=1
exit $rc
