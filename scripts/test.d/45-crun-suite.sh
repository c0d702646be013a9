# crun's own test suite (Debian's crun source package) against berth-runtime, through
# scripts/crun-tests.sh. Every case must pass or skip, except those docs/CRUN-TESTS.md lists
# with their reason; a failure anywhere else is a regression. (The counts side by side with
# crun and runc are in that document.)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -q -p berth-runtime
# Cases berth-runtime fails on purpose or because of this host (docs/CRUN-TESTS.md).
allowed=(
  test_exec:exec-root-netns-with-userns
  test_exec:exec_add_no_new_privileges
  test_mounts:mount-idmapped-mounts
)
out=$(scripts/crun-tests.sh berth=target/release/berth-runtime 2>/dev/null) || true
summary=$(tail -1 <<<"$out")
[[ $summary == *" passed, "* ]] || { echo "45-crun-suite: the suite did not run: $summary" >&2; exit 1; }
unexpected=()
while read -r _ case; do
  [[ " ${allowed[*]} " == *" $case "* ]] || unexpected+=("$case")
done < <(grep '^FAIL ' <<<"$out")
echo "crun suite: $summary"
if [ ${#unexpected[@]} -gt 0 ]; then
  printf '45-crun-suite: unexpected failure: %s\n' "${unexpected[@]}" >&2
  exit 1
fi
