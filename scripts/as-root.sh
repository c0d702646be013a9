# Sourced by the scripts that need root: `as_root SCRIPT [ARGS...]` returns when this is root,
# and otherwise runs SCRIPT again through sudo where there is a sudo, or stops with a message.
# sudo's secure_path would hide a rustup toolchain, so the caller's PATH and RUSTUP_HOME go
# along.
set -euo pipefail
as_root() {
  [ "$(id -u)" = 0 ] && return 0
  if command -v sudo >/dev/null; then
    exec sudo env "PATH=$PATH" "RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}" "$@"
  fi
  echo "$1: run as root (there is no sudo here)" >&2
  exit 1
}
