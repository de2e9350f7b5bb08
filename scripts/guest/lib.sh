# Shared helpers for scripts/guest/*. Sourced, not executed.
#
# Everything downloaded or generated lives in the cache directory, never in the repository:
# kernel packages are tens of MB and a stale initramfs must not end up in a commit.

KPSIM_GUEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Installed (cmake --install, the .deb): <prefix>/share/kpsim/guest, with the guest runner's
# sources in runner-src/ beside these scripts; otherwise scripts/guest in a checkout.
if [ -d "$KPSIM_GUEST_DIR/runner-src" ]; then
  KPSIM_REPO="$(cd "$KPSIM_GUEST_DIR/.." && pwd)"
  KPSIM_RUNNER_SRC="$KPSIM_GUEST_DIR/runner-src"
else
  KPSIM_REPO="$(cd "$KPSIM_GUEST_DIR/../.." && pwd)"
  KPSIM_RUNNER_SRC="$KPSIM_REPO/replay/guest"
fi
# HOME may be unset in a bare CI environment: fall back to /var/tmp rather than failing.
KPSIM_GUEST_CACHE="${KPSIM_GUEST_CACHE:-${HOME:-/var/tmp}/.cache/kpsim-guest}"

glog() { echo "guest: $*" >&2; }
gdie() { echo "guest: error: $*" >&2; exit 1; }

# Creates the cache directory and refuses one inside the repository.
guest_cache_init() {
  mkdir -p "$KPSIM_GUEST_CACHE"
  KPSIM_GUEST_CACHE="$(cd "$KPSIM_GUEST_CACHE" && pwd -P)"
  local repo_real
  repo_real="$(cd "$KPSIM_REPO" && pwd -P)"
  case "$KPSIM_GUEST_CACHE/" in
    "$repo_real"/*) gdie "cache dir $KPSIM_GUEST_CACHE is inside the repository; set KPSIM_GUEST_CACHE elsewhere" ;;
  esac
}

# The cached kernel directory for VERSION (6.12, 6.1, or a package name), set by fetch-kernel.
guest_kernel_dir() {
  local link="$KPSIM_GUEST_CACHE/kernels/$1.current"
  [ -e "$link/ready" ] || return 1
  (cd "$link" && pwd -P)
}

need_tools() {
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || gdie "missing host tools: ${missing[*]} (run scripts/guest/setup)"
}
