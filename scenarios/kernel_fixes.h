// Guest kernel targets with a fix: "6.12+task-sigpending" is Debian's 6.12 source with the patch
// that implements the model's fix=task-sigpending, built by scripts/guest/build-kernel and booted
// like a stock kernel (docs/patched-kernels.md). The pairing of the model's kfix values with the
// patch files is scripts/guest/patches/fixes.tsv, compiled in here so that kpsim and the scripts
// it runs agree on it.
//
// Plain parsing and table lookups, no kernel: compiled with or without the real-kernel runners.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/kconfig.h"

namespace kpsim {

// One row of fixes.tsv.
struct KernelFixRow {
  std::string fix;       // the model's fix= value (switch_names<kfix>)
  std::string kernel;    // the series: "6.12", "6.1"
  std::string patch;     // relative to scripts/guest/patches/; empty: no patch (note says why)
  std::string scenario;  // "ktls-async-close (seed 002)"
  std::string note;
};

// The compiled-in table, in file order (comments and blank lines dropped).
const std::vector<KernelFixRow>& kernel_fix_table();
// Parses fixes.tsv text (exposed for the tests); throws std::runtime_error on a malformed line.
std::vector<KernelFixRow> parse_kernel_fix_table(std::string_view text);

// A guest kernel named by --kernel: "6.12" (Debian's stock kernel, fetched), or "6.12+FIX"
// (self-built; FIX = a fix with a patch for that series, or "none" for the unpatched control).
struct GuestKernelTarget {
  std::string name;    // as given: "6.12+task-sigpending"
  std::string series;  // "6.12"
  // The fix the kernel carries: nullopt for Debian's stock kernel, kfix::none for 6.12+none.
  std::optional<model::kfix> fix;

  bool self_built() const { return fix.has_value(); }
  // The model's fix= value the kernel stands for ("none" for stock and 6.12+none).
  std::string_view model_fix() const { return fix ? model::switch_name(*fix) : "none"; }
};

// The series the guest boots (replay::kGuestKernels).
const std::vector<std::string>& guest_kernel_series();
// Every self-built target the table allows: "6.12+none", then "SERIES+FIX" per row with a patch.
std::vector<std::string> self_built_guest_targets();
// Parses a target; throws ParamError (exit 2) naming the valid targets when it is not one: an
// unknown series, a fix the model does not have, or one without a patch for that series.
GuestKernelTarget parse_guest_kernel_target(std::string_view target);

// Whether a self-built kernel is in the guest cache, as `build-kernel --status` reports it.
struct KernelBuildStatus {
  bool built = false;
  std::string dir;      // built: its cache directory
  std::string message;  // not built: why, with the command that builds it
  std::string command;  // "scripts/guest/build-kernel 6.12+task-sigpending"
};
// Runs `<script_dir>/build-kernel --status NAME` (no build, no network). For a stock target it
// reports built = true (fetch-kernel downloads those on demand).
KernelBuildStatus kernel_build_status(const GuestKernelTarget& t, const std::string& script_dir);

}  // namespace kpsim
