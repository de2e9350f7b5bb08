#include "scenarios/kernel_fixes.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include <fmt/format.h>

#include "replay/guest_boot.h"  // kGuestKernels only (a constant: no link dependency)
#include "scenarios/params.h"

namespace kpsim {

namespace {

// scripts/guest/patches/fixes.tsv as it was when kpsim was configured (scenarios/CMakeLists.txt).
constexpr std::string_view kFixesTsv =
#include "kernel_fixes_table.inc"
    ;

std::string join(const std::vector<std::string>& v, std::string_view sep) {
  std::string s;
  for (auto& x : v) s += (s.empty() ? "" : std::string(sep)) + x;
  return s;
}

}  // namespace

std::vector<KernelFixRow> parse_kernel_fix_table(std::string_view text) {
  std::vector<KernelFixRow> rows;
  size_t lineno = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> f;
    for (;;) {
      const size_t tab = line.find('\t');
      f.emplace_back(line.substr(0, tab));
      if (tab == std::string_view::npos) break;
      line.remove_prefix(tab + 1);
    }
    if (f.size() != 5 || f[0].empty() || f[1].empty() || f[2].empty())
      throw std::runtime_error(fmt::format("fixes.tsv line {}: want 5 tab-separated fields (fix, kernel, patch, "
                                           "scenario, note), got {}", lineno, f.size()));
    if (f[2] == "-" && f[4].empty())
      throw std::runtime_error(fmt::format("fixes.tsv line {}: no patch for {} on {} and no note saying why",
                                           lineno, f[0], f[1]));
    rows.push_back({f[0], f[1], f[2] == "-" ? std::string() : f[2], f[3], f[4]});
  }
  return rows;
}

const std::vector<KernelFixRow>& kernel_fix_table() {
  static const std::vector<KernelFixRow> rows = parse_kernel_fix_table(kFixesTsv);
  return rows;
}

const std::vector<std::string>& guest_kernel_series() {
  static const std::vector<std::string> v(replay::kGuestKernels.begin(), replay::kGuestKernels.end());
  return v;
}

std::vector<std::string> self_built_guest_targets() {
  std::vector<std::string> out;
  for (auto& s : guest_kernel_series()) out.push_back(s + "+none");
  for (auto& row : kernel_fix_table())
    if (!row.patch.empty()) out.push_back(row.kernel + "+" + row.fix);
  return out;
}

GuestKernelTarget parse_guest_kernel_target(std::string_view target) {
  GuestKernelTarget t;
  t.name = std::string(target);
  const size_t plus = target.find('+');
  t.series = std::string(target.substr(0, plus));
  const auto& series = guest_kernel_series();
  const auto valid = [&] {
    std::vector<std::string> all(series.begin(), series.end());
    for (auto& s : self_built_guest_targets()) all.push_back(s);
    return join(all, ", ");
  };
  if (std::find(series.begin(), series.end(), t.series) == series.end())
    throw ParamError(fmt::format("--kernel {}: no guest kernel series '{}' (guest kernels: {})", target, t.series,
                                 valid()));
  if (plus == std::string_view::npos) return t;  // Debian's stock kernel
  const std::string_view fix = target.substr(plus + 1);
  const std::optional<model::kfix> k = model::parse_switch<model::kfix>(fix);
  if (!k)
    throw ParamError(fmt::format("--kernel {}: '{}' is not a fix of the model (fix= values: {}); guest kernels: {}",
                                 target, fix, join(model::switch_choices<model::kfix>(), ", "), valid()));
  t.fix = *k;
  if (*k == model::kfix::none) return t;  // the self-built control
  for (auto& row : kernel_fix_table()) {
    if (row.fix != fix || row.kernel != t.series) continue;
    if (row.patch.empty())
      throw ParamError(fmt::format("--kernel {}: fix {} on {}: {}", target, fix, t.series, row.note));
    return t;
  }
  throw ParamError(fmt::format("--kernel {}: fix {} has no patch for {} in scripts/guest/patches/fixes.tsv "
                               "(guest kernels: {})", target, fix, t.series, valid()));
}

KernelBuildStatus kernel_build_status(const GuestKernelTarget& t, const std::string& script_dir) {
  KernelBuildStatus st;
  st.command = "scripts/guest/build-kernel " + t.name;
  if (!t.self_built()) {
    st.built = true;
    return st;
  }
  // The name is a series and a fix from the table (parse_guest_kernel_target): no quoting needed;
  // the directory may hold anything, so it is single-quoted.
  std::string dir_q;
  for (char c : script_dir) dir_q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  const std::string cmd = fmt::format("'{}/build-kernel' --status {} 2>&1", dir_q, t.name);
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) {
    st.message = "cannot run " + cmd;
    return st;
  }
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    st.built = true;
    st.dir = out;
    return st;
  }
  // "guest: kernel 6.12+x is not built; build it with: scripts/guest/build-kernel 6.12+x"
  if (out.rfind("guest: ", 0) == 0) out.erase(0, 7);
  st.message = out.empty() ? fmt::format("kernel {} is not built; build it with: {}", t.name, st.command) : out;
  return st;
}

}  // namespace kpsim
