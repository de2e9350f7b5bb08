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

namespace kpsim::cli {

ChoiceSeq parse_choices_arg(const std::string& text) {
  std::vector<uint32_t> values;
  if (text.find_first_not_of(" ") == std::string::npos) return {};
  size_t at = 0;
  for (size_t index = 0;; ++index) {
    const size_t comma = text.find(',', at);
    std::string part = text.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    const size_t b = part.find_first_not_of(' '), e = part.find_last_not_of(' ');
    part = b == std::string::npos ? "" : part.substr(b, e - b + 1);
    if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos)
      throw ParamError(fmt::format("--choices: entry {} is '{}': expected a comma-separated list of answers "
                                   "(0-based option numbers), e.g. 0,1,0",
                                   index, part));
    values.push_back(static_cast<uint32_t>(std::stoul(part)));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return untyped_choices(values);
}

std::string choices_arg(const ChoiceSeq& seq) {
  std::string out;
  for (const Choice& c : seq) {
    if (!out.empty()) out += ',';
    out += std::to_string(c.value);
  }
  return out;
}

}  // namespace kpsim::cli
