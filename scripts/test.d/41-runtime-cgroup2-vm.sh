# cgroup v2 for the runtime: berth-runtime's cgroups integration tests (tests/cgroups.rs)
# run as root in the QEMU VM whose only hierarchy is cgroup2 (scripts/cgroup2-vm.sh), so
# limits, update, pause/resume, events, ps and kill --all are tested on the v2 driver too;
# and its CDI tests (tests/cdi.rs), so that a CDI device's rule reaches the eBPF device
# filter.
# The test binary finds the runtime at its build path (CARGO_BIN_EXE_berth-runtime), so the
# runtime is copied to the same path in the guest; the guest's static /bin/busybox is what
# the tests copy into their bundles.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v jq >/dev/null || { echo "41-runtime-cgroup2-vm: jq is needed (.ci/packages)" >&2; exit 1; }
artifacts=$(cargo test -p berth-runtime --test cgroups --test cdi --locked --no-run --message-format=json)
test_bin() { jq -r "select(.reason == \"compiler-artifact\" and .profile.test and .target.name == \"$1\") | .executable" <<<"$artifacts"; }
cgroups_tests=$(test_bin cgroups)
cdi_tests=$(test_bin cdi)
runtime=$(jq -r 'select(.reason == "compiler-artifact" and .target.name == "berth-runtime" and (.target.kind | index("bin")) and (.profile.test | not)) | .executable' <<<"$artifacts" | tail -1)
for b in "$cgroups_tests" "$cdi_tests" "$runtime"; do
  [ -x "$b" ] || { echo "41-runtime-cgroup2-vm: $b not built" >&2; exit 1; }
done

work=$(mktemp -d /tmp/berth-runtime-cgroup2-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
# pivot_root(2) refuses a root on the initramfs, so the guest first moves onto a tmpfs and
# chroots into it, as switch_root does; then it runs each test binary, one test at a time
# (TCG is slow).
cat > "$work/run.sh" <<'GUEST'
#!/bin/sh
set -e
mkdir /newroot
mount -t tmpfs -o mode=755 tmpfs /newroot
for e in /*; do
  case "$e" in
    /proc|/sys|/dev|/tmp|/run) mkdir "/newroot$e"; mount --move "$e" "/newroot$e" ;;
    /newroot) ;;
    *) cp -a "$e" /newroot/ ;;
  esac
done
cd /newroot
mount --move . /
rc=0
for t in "$@"; do chroot . "$t" --test-threads=1 || rc=1; done
exit $rc
GUEST
chmod 755 "$work/run.sh"
scripts/cgroup2-vm.sh --timeout 900 --mem 1536 -e BERTH_TEST_CGROUP_LAYOUT=v2 \
  -f "$cgroups_tests" -f "$cdi_tests" -f "$runtime" "$work/run.sh" "$cgroups_tests" "$cdi_tests"
