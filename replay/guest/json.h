// The runner's output: a minimal JSON writer and the KPSIM-RESULT line.
//
// The runner is linked statically into an initramfs and needs nothing beyond the standard
// library; the host parses every line with a real JSON parser (cli/guest_crosscheck.cpp). So
// this only writes flat objects: keys in the order they are added, strings escaped, numbers as
// printf formats them.
#pragma once

#include <string>

namespace kpsim::guest {

// s with '"', '\\' and control characters escaped for a JSON string.
std::string json_escape(const std::string& s);

// A JSON object built key by key; the chainable setters append, str() closes it.
class Json {
 public:
  Json& s(const char* k, const std::string& v);
  Json& i(const char* k, long long v);
  Json& b(const char* k, bool v);
  Json& d(const char* k, double v);  // "%.6g": plenty for seconds and MiB/s under TCG
  Json& raw(const char* k, const std::string& v);  // v is JSON already (object, array)
  std::string str() const;
  // The object of a configuration that could not run: "ok":false plus the error.
  std::string failed(const std::string& error);

 private:
  std::string body_;
};

// A JSON array of objects (a workload's per-run results).
class JsonList {
 public:
  void add(const Json& item);
  void add_raw(const std::string& object);  // an object that is JSON already
  std::string str() const;

 private:
  std::string body_;
};

// Prints "KPSIM-RESULT <json>" as one line and flushes it.
void emit_result(const std::string& json);

}  // namespace kpsim::guest
