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

# ---- self-built kernels (scripts/guest/build-kernel, docs/patched-kernels.md) ----------------
# A self-built kernel is named SERIES+LABEL: 6.12+task-sigpending (the fix named as the model's
# fix= value, its patch from patches/fixes.tsv), 6.12+none (no patch: the control), or the label
# build-kernel made up for patches given by hand.
KPSIM_FIXES_TSV="$KPSIM_GUEST_DIR/patches/fixes.tsv"
KPSIM_KERNEL_FRAGMENT="$KPSIM_GUEST_DIR/kernel-config/guest.config"
# Bump when build-kernel's recipe changes in a way that makes older builds wrong (it is part of
# every build key, so old builds then count as not built).
KPSIM_BUILD_RECIPE=1

# guest_fix_row SERIES FIX: the fixes.tsv row "fix<TAB>kernel<TAB>patch<TAB>scenario<TAB>note"
# for that pair (exit 1 when there is none). `none` is not in the table: it needs no patch.
guest_fix_row() {
  [ -r "$KPSIM_FIXES_TSV" ] || return 1
  awk -F'\t' -v f="$2" -v k="$1" '!/^#/ && $1 == f && $2 == k { print; found = 1; exit } END { exit !found }' "$KPSIM_FIXES_TSV"
}
# guest_fix_patch SERIES FIX: the patch file's path for FIX on SERIES; nothing for `none`.
# Fails (message on stderr) when the table has no patch for the pair.
guest_fix_patch() {
  local series="$1" fix="$2" row patch
  [ "$fix" = none ] && return 0
  row="$(guest_fix_row "$series" "$fix")" || {
    glog "no fix '$fix' for $series in $KPSIM_FIXES_TSV (fixes: $(guest_fix_names "$series" | tr '\n' ' '))"
    return 1
  }
  patch="$(echo "$row" | cut -f3)"
  if [ "$patch" = "-" ]; then
    glog "fix '$fix' has no patch for $series: $(echo "$row" | cut -f5)"
    return 1
  fi
  echo "$KPSIM_GUEST_DIR/patches/$patch"
}
# guest_fix_names SERIES: the fixes with a patch for SERIES, one a line (plus `none`).
guest_fix_names() {
  echo none
  [ -r "$KPSIM_FIXES_TSV" ] || return 0
  awk -F'\t' -v k="$1" '!/^#/ && NF >= 3 && $2 == k && $3 != "-" { print $1 }' "$KPSIM_FIXES_TSV"
}
# guest_build_key SERIES PATCH...: what a build depends on besides the Debian source version
# (recorded in its info file): the series, the patches' contents in order, the config fragment,
# the recipe. 16 hex digits.
guest_build_key() {
  local series="$1" p
  shift
  {
    echo "recipe=$KPSIM_BUILD_RECIPE series=$series"
    for p in "$@"; do sha256sum < "$p"; done
    echo "fragment"
    sha256sum < "$KPSIM_KERNEL_FRAGMENT"
  } | sha256sum | cut -c1-16
}
guest_is_built_name() { case "$1" in *+*) return 0 ;; *) return 1 ;; esac; }

# guest_built_kernel_dir NAME: the directory of the self-built kernel NAME (SERIES+LABEL), if
# it is built and, for a fix from the table, built from the patch and fragment as they are now.
# Otherwise says why on stderr, with the command that builds it, and fails.
guest_built_kernel_dir() {
  local name="$1" series="${1%%+*}" label="${1#*+}" link dir want have patch
  local cmd="scripts/guest/build-kernel $name"
  link="$KPSIM_GUEST_CACHE/kernels/$name.current"
  case "$series" in 6.12|6.1) ;; *) glog "unknown kernel series '$series' in $name (6.12 or 6.1)"; return 1 ;; esac
  if [ "$label" = none ] || guest_fix_row "$series" "$label" >/dev/null; then
    patch="$(guest_fix_patch "$series" "$label")" || return 1
    want="$(guest_build_key "$series" $patch)"
    if [ ! -e "$link/ready" ]; then
      glog "kernel $name is not built; build it with: $cmd"
      return 1
    fi
    have="$(sed -n 's/^key=//p' "$link/info")"
    if [ "$have" != "$want" ]; then
      glog "kernel $name is stale (built from another patch or config fragment); rebuild it with: $cmd"
      return 1
    fi
  elif [ ! -e "$link/ready" ]; then
    glog "kernel $name is not built and '$label' is no fix in $KPSIM_FIXES_TSV (fixes for $series: $(guest_fix_names "$series" | tr '\n' ' '))"
    return 1
  fi
  (cd "$link" && pwd -P)
}

# guest_resolve_kernel VERSION: the kernel directory boot and build-initramfs use. A Debian
# kernel (6.12, 6.1, a package name) is fetched when missing; a self-built one (SERIES+LABEL)
# must have been built: exit 77 (cannot run here) with the build command otherwise.
guest_resolve_kernel() {
  local d
  if guest_is_built_name "$1"; then
    d="$(guest_built_kernel_dir "$1")" || exit 77
    echo "$d"
    return 0
  fi
  guest_kernel_dir "$1" || "$KPSIM_GUEST_DIR/fetch-kernel" "$1"
}

need_tools() {
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || gdie "missing host tools: ${missing[*]} (run scripts/guest/setup)"
}
