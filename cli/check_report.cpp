#include "cli/check_report.h"

#include <algorithm>
#include <array>
#include <map>

#include <fmt/format.h>

namespace kpsim::cli {

namespace {

bool failed(const CaseResult& r) { return r.verdict != CheckVerdict::clean && r.verdict != CheckVerdict::not_run; }

// The length of the valid UTF-8 sequence at s[i] encoding a character XML 1.0 allows, or 0.
size_t xml_char_len(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') ? 1 : 0;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) n = 2, cp = c & 0x1fu;
  else if ((c & 0xf0) == 0xe0) n = 3, cp = c & 0x0fu;
  else if ((c & 0xf8) == 0xf0) n = 4, cp = c & 0x07u;
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3fu);
  }
  const uint32_t min = n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;  // no overlong forms
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff) return 0;
  return n;
}

std::string yaml_quote(const std::string& s) {
  std::string q = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    if (c == '\n') {
      q += "\\n";
      continue;
    }
    q += c;
  }
  return q + "\"";
}

std::string seconds_attr(double s) { return fmt::format("{:.3f}", std::max(0.0, s)); }

}  // namespace

std::string xml_escape(const std::string& t, bool attribute) {
  std::string out;
  out.reserve(t.size());
  for (size_t i = 0; i < t.size();) {
    const size_t n = xml_char_len(t, i);
    if (n == 0) {
      out += '?';
      ++i;
      continue;
    }
    if (n == 1) {
      switch (t[i]) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        case '\n': out += attribute ? "&#10;" : "\n"; break;
        case '\r': out += "&#13;"; break;  // a parser would turn a literal CR (+LF) into LF
        case '\t': out += attribute ? "&#9;" : "\t"; break;
        default: out += t[i];
      }
    } else {
      out.append(t, i, n);
    }
    i += n;
  }
  return out;
}

std::string summary_table(const std::vector<CheckCase>& cases, const std::vector<CaseResult>& results,
                          const SuiteSummary& s) {
  struct Row {
    std::string n, script, set, strategy, schedules, violations, exhaustive, verdict;
  };
  std::vector<Row> rows{{"#", "script", "set", "strategy", "schedules", "violations", "exhaustive", "verdict"}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const CheckCase& c = cases[i];
    const CaseResult& r = results[i];
    const bool ran = r.verdict != CheckVerdict::not_run && c.load_error.empty();
    rows.push_back({std::to_string(i + 1), c.stem, c.name, c.load_error.empty() ? c.strategy : "-", ran ? std::to_string(r.schedules) : "-",
                    ran ? std::to_string(r.violations) : "-", ran ? (r.exhaustive ? "yes" : "no") : "-",
                    to_string(r.verdict)});
  }
  std::array<size_t, 8> w{};
  for (const Row& r : rows) {
    const std::array<const std::string*, 8> f{&r.n, &r.script, &r.set, &r.strategy, &r.schedules, &r.violations, &r.exhaustive, &r.verdict};
    for (size_t k = 0; k < f.size(); ++k) w[k] = std::max(w[k], f[k]->size());
  }
  std::string out;
  for (const Row& r : rows)
    out += fmt::format("{:>{}}  {:<{}}  {:<{}}  {:<{}}  {:>{}}  {:>{}}  {:<{}}  {}\n", r.n, w[0], r.script, w[1], r.set,
                       w[2], r.strategy, w[3], r.schedules, w[4], r.violations, w[5], r.exhaustive, w[6], r.verdict);
  std::map<CheckVerdict, size_t> counts;
  for (const CaseResult& r : results) ++counts[r.verdict];
  std::string line;
  for (auto& [v, n] : counts) line += fmt::format("{}{} {}", line.empty() ? "" : ", ", n, to_string(v));
  out += fmt::format("{} cases: {}; exit {}{}\n", cases.size(), line, s.interrupted ? 130 : worst_exit(results),
                     s.interrupted ? " (interrupted)" : "");
  for (size_t i = 0; i < cases.size(); ++i) {
    const CheckCase& c = cases[i];
    const CaseResult& r = results[i];
    if (!failed(r)) continue;
    out += fmt::format("\n{} {}: {} (exit {})\n  {}\n", c.stem, c.name, to_string(r.verdict), r.exit, r.message);
    if (!r.trace.empty()) out += fmt::format("  trace:     {}\n", r.trace);
    if (c.load_error.empty()) out += fmt::format("  reproduce: {}\n", reproduce_command(c));
  }
  out += fmt::format("\n{}, -j{}, wall time {:.1f} s\n", s.seed_note, s.jobs, s.seconds);
  return out;
}

std::string junit_xml(const std::vector<CheckCase>& cases, const std::vector<CaseResult>& results,
                      const SuiteSummary& s) {
  size_t failures = 0, errors = 0, skipped = 0;
  for (const CaseResult& r : results) {
    if (r.verdict == CheckVerdict::violation) ++failures;
    else if (r.verdict == CheckVerdict::not_run) ++skipped;
    else if (r.verdict != CheckVerdict::clean) ++errors;
  }
  const std::string counts = fmt::format("tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{}\"",
                                         cases.size(), failures, errors, skipped, seconds_attr(s.seconds));
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"kpsim check\" {}>\n", counts);
  out += fmt::format("  <testsuite name=\"kpsim check\" {}>\n", counts);
  out += fmt::format("    <properties>\n      <property name=\"seed\" value=\"{}\"/>\n    </properties>\n",
                     xml_escape(s.seed_note));
  for (size_t i = 0; i < cases.size(); ++i) {
    const CheckCase& c = cases[i];
    const CaseResult& r = results[i];
    out += fmt::format("    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{}\"", xml_escape(c.stem),
                       xml_escape(c.name), xml_escape(c.script), seconds_attr(r.seconds));
    if (r.verdict == CheckVerdict::clean) {
      out += "/>\n";
      continue;
    }
    out += ">\n";
    if (r.verdict == CheckVerdict::not_run) {
      out += fmt::format("      <skipped message=\"{}\"/>\n", xml_escape(r.message));
    } else {
      std::string body = r.message + "\n";
      if (!r.trace.empty()) body += "trace: " + r.trace + "\n";
      if (c.load_error.empty()) body += "reproduce: " + reproduce_command(c) + "\n";
      if (!r.trace.empty()) body += "replay: kpsim replay " + shell_quote(r.trace) + "\n";
      if (!r.chart.empty()) body += "\n" + r.chart;
      const char* element = r.verdict == CheckVerdict::violation ? "failure" : "error";
      out += fmt::format("      <{} message=\"{}\" type=\"{}\">{}</{}>\n", element, xml_escape(r.message),
                         to_string(r.verdict), xml_escape(body, false), element);
    }
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string tap_report(const std::vector<CheckCase>& cases, const std::vector<CaseResult>& results) {
  std::string out = fmt::format("TAP version 13\n1..{}\n", cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const CheckCase& c = cases[i];
    const CaseResult& r = results[i];
    // '#' starts a TAP directive: keep it out of the description.
    std::string desc = c.stem + " " + c.name;
    std::replace(desc.begin(), desc.end(), '#', '_');
    if (r.verdict == CheckVerdict::clean) {
      out += fmt::format("ok {} - {}\n", i + 1, desc);
    } else if (r.verdict == CheckVerdict::not_run) {
      out += fmt::format("ok {} - {} # SKIP {}\n", i + 1, desc, r.message);
    } else {
      out += fmt::format("not ok {} - {}\n  ---\n  verdict: {}\n  exit: {}\n  message: {}\n", i + 1, desc,
                         to_string(r.verdict), r.exit, yaml_quote(r.message));
      if (!r.trace.empty()) out += fmt::format("  trace: {}\n", yaml_quote(r.trace));
      if (c.load_error.empty()) out += fmt::format("  reproduce: {}\n", yaml_quote(reproduce_command(c)));
      out += "  ...\n";
    }
  }
  return out;
}

}  // namespace kpsim::cli
