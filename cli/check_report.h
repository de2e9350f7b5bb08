// The reports of `kpsim check` (docs/ci.md): the summary table, JUnit XML and TAP version 13.
// Each is a function of the cases and their results in case order; wall-clock time appears only
// in JUnit's time= attributes and the table's last line, so two runs of one suite compare equal
// once those are removed, whatever -j and the order the children finished in.
#pragma once

#include <string>
#include <vector>

#include "cli/check_suite.h"

namespace kpsim::cli {

struct SuiteSummary {
  std::string seed_note;  // "seed 1", "seed 123 (from 'abc')": how the default seed was chosen
  double seconds = 0;     // wall time of the whole suite
  unsigned jobs = 1;
  bool interrupted = false;
};

// The table on stdout: one row per case, then a line of counts, then each failing case with
// its message, trace and reproducing command, then the wall time (the one varying line).
std::string summary_table(const std::vector<CheckCase>& cases, const std::vector<CaseResult>& results,
                          const SuiteSummary& s);

// JUnit XML as Jenkins, GitLab and GitHub's test reporters read it: <testsuites> with one
// <testsuite name="kpsim check">, one <testcase classname=STEM name=SET> per case. A violation is
// a <failure type="violation">; inconclusive, bad input, model invariant, nondeterministic and
// internal errors are <error type=...> (each makes check exit non-zero, so none may look like a
// pass or a skip); a case not run because check was interrupted is <skipped>. The failure's body
// holds the trace artefact, the reproducing command and the trace drawn as a lane chart.
std::string junit_xml(const std::vector<CheckCase>& cases, const std::vector<CaseResult>& results,
                      const SuiteSummary& s);

// TAP version 13: "ok"/"not ok" per case, a YAML block under each that is not ok, "# SKIP" for
// a case not run.
std::string tap_report(const std::vector<CheckCase>& cases, const std::vector<CaseResult>& results);

// Text as an XML attribute value (attribute) or character data: & < > " ' escaped, and the
// characters XML 1.0 forbids (controls other than tab, newline, carriage return; invalid UTF-8)
// replaced by '?'. In an attribute, tab, newline and carriage return are written as character
// references too: a parser would otherwise normalise them to spaces.
std::string xml_escape(const std::string& text, bool attribute = true);

}  // namespace kpsim::cli
