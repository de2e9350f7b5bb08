// Loading and saving trace files for the CLI, with errors that name the file.
#pragma once

#include <string>

#include "traces/trace.h"

namespace kpsim::cli {

// Throws TraceError ("FILE: ...") when the file is missing or malformed.
Trace load_trace(const std::string& path);
std::string read_file_bytes(const std::string& path);
// Throws TraceError when the file cannot be written.
void save_trace(const std::string& path, const Trace& t);

}  // namespace kpsim::cli
