#include "cli/trace_file.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

namespace kpsim::cli {

// Reads at most kMaxInputBytes + 1 bytes, so that an oversized input is detected, not read.
static std::string read_bounded(std::istream& in, const std::string& name) {
  std::string out;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > kMaxInputBytes)
      throw TraceError(fmt::format("{}: larger than {} MiB: not a kpsim trace", name, kMaxInputBytes >> 20));
  }
  return out;
}

std::string read_file_bytes(const std::string& path) {
  if (path == "-") return read_bounded(std::cin, "stdin");
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw TraceError(path + ": cannot open");
  if (S_ISDIR(st.st_mode)) throw TraceError(path + ": is a directory");
  if (!S_ISREG(st.st_mode)) throw TraceError(path + ": not a regular file (use - to read stdin)");
  if (static_cast<uint64_t>(st.st_size) > kMaxInputBytes)
    throw TraceError(fmt::format("{}: {} bytes, larger than {} MiB: not a kpsim trace", path, st.st_size,
                                 kMaxInputBytes >> 20));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TraceError(path + ": cannot open");
  return read_bounded(in, path);
}

Trace load_trace(const std::string& path) {
  std::istringstream in(read_file_bytes(path));
  try {
    return read_trace(in);
  } catch (const TraceError& e) {  // read_trace throws nothing else (fuzz/trace_reader_fuzz.cpp)
    throw TraceError(path + ": " + e.what());
  }
}

void write_file_bytes(const std::string& path, const std::string& bytes) {
  struct stat st {};
  const bool special = stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
  const std::string tmp = special ? path : path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw TraceError(path + ": cannot write");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      if (!special) std::remove(tmp.c_str());
      throw TraceError(path + ": write failed");
    }
  }
  if (!special && std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw TraceError(path + ": cannot replace");
  }
}

void save_trace(const std::string& path, const Trace& t) { write_file_bytes(path, trace_to_string(t)); }

const Scenario& scenario_of(const Trace& t, const std::string& path) {
  const Scenario* sc = find_scenario(t.header.script.empty() ? t.header.scenario : t.header.script);
  if (!sc)
    throw TraceError(path + ": unknown scenario '" + t.header.scenario + "' (see: kpsim list)");
  if (sc->name() != t.header.scenario)
    throw TraceError(path + ": recorded from scenario '" + t.header.scenario + "', but " +
                     t.header.script + " now defines '" + std::string(sc->name()) + "'");
  return *sc;
}

}  // namespace kpsim::cli
