// Loading and saving trace files for the CLI, with errors that name the file.
//
// Input is bounded and strict: a regular file (or "-" for stdin) of at most kMaxInputBytes;
// a FIFO with no writer, a directory or /dev/zero is refused with one line instead of hanging
// or exhausting memory. Output goes to a temporary file beside the target, is flushed and
// checked, then renamed over it, so a failed write never leaves a truncated trace; a target
// that exists and is not a regular file (/dev/stdout, /dev/full) is written in place, and a
// failed flush is reported.
#pragma once

#include <cstdint>
#include <string>

#include "scenarios/scenario.h"
#include "traces/trace.h"

namespace kpsim::cli {

inline constexpr uint64_t kMaxInputBytes = 64ull << 20;  // traces of the seeds are < 1 MiB

// Throws TraceError ("FILE: ...") when the file is missing, not a regular file, too large or
// malformed (including JSON numbers out of range).
Trace load_trace(const std::string& path);
std::string read_file_bytes(const std::string& path);
// Throws TraceError when the file cannot be written.
void save_trace(const std::string& path, const Trace& t);
void write_file_bytes(const std::string& path, const std::string& bytes);

// The scenario a trace was recorded from: the built-in one it names, or the script file its
// header records (read again; it must still define the scenario the trace names). Throws
// TraceError naming `path` when there is none.
const Scenario& scenario_of(const Trace& t, const std::string& path);

}  // namespace kpsim::cli

namespace kpsim::cli {

// "--choices 0,1,0": the answers of one schedule, comma-separated decimal numbers (spaces
// allowed around them; an empty text is the empty sequence: the default schedule). Throws
// ParamError naming the bad entry.
ChoiceSeq parse_choices_arg(const std::string& text);
// The answers as --choices takes them: "0,1,0".
std::string choices_arg(const ChoiceSeq& seq);

}  // namespace kpsim::cli
