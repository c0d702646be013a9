# The README's install command as a user runs it: scripts/quickstart.sh builds what it
# installs (scripts/build-static.sh), installs it into /usr/local/bin and runs a bundle with
# berth-runtime and an image with berth. In a network namespace of its own, since `berth run`
# defaults to the bridge network; the build runs first, outside it, where crates can be fetched.
set -euo pipefail
scripts/build-static.sh >/dev/null
out=$(tini -s -- unshare --net sh -c 'ip link set lo up && scripts/quickstart.sh' 2>&1) || {
  echo "$out"
  exit 1
}
echo "$out"
grep -q '^hello from .*: pid 1, uid 0$' <<<"$out" || { echo "no output from the bundle's container" >&2; exit 1; }
grep -q '^hello from [0-9a-f]\{12\}$' <<<"$out" || { echo "no output from the engine's container" >&2; exit 1; }
# What it installed loads no OpenSSL and no libseccomp at each command (build-static.sh).
for b in berth berth-runtime berth-monitor; do
  if ldd "/usr/local/bin/$b" 2>/dev/null | grep -E 'libssl|libcrypto|libseccomp'; then
    echo "/usr/local/bin/$b links them dynamically" >&2
    exit 1
  fi
done
