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
  # The parser files of replay/guest/parser-sources.txt, at their repository paths.
  KPSIM_RUNNER_ROOT="$KPSIM_GUEST_DIR/runner-src/root"
else
  KPSIM_REPO="$(cd "$KPSIM_GUEST_DIR/../.." && pwd)"
  KPSIM_RUNNER_SRC="$KPSIM_REPO/replay/guest"
  KPSIM_RUNNER_ROOT="$KPSIM_REPO"
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

# Serial logs kept under $KPSIM_GUEST_CACHE/logs/ (each boot writes one, and its qemu stderr
# beside it): the newest KPSIM_GUEST_KEEP_LOGS (default 50), so that a cache used for months
# does not grow without bound. 0 keeps only the current boot's.
KPSIM_GUEST_KEEP_LOGS="${KPSIM_GUEST_KEEP_LOGS:-50}"

# guest_prune_logs DIR KEEP: deletes all but the newest KEEP `*.serial.log` in DIR (names begin
# with a sortable timestamp, so the newest sort last) together with their `.qemu` files. At
# least one is kept: the boot prunes after creating its own log, which must survive.
guest_prune_logs() {
  local dir="$1" keep="$2" f
  case "$keep" in ''|*[!0-9]*) gdie "KPSIM_GUEST_KEEP_LOGS must be a number, got '$keep'" ;; esac
  [ "$keep" -ge 1 ] || keep=1
  [ -d "$dir" ] || return 0
  local old=()
  mapfile -t old < <(cd "$dir" && find . -maxdepth 1 -name '*.serial.log' -printf '%f\n' | sort -r | tail -n +"$((keep + 1))")
  for f in "${old[@]}"; do rm -f -- "$dir/$f" "$dir/$f.qemu"; done
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
