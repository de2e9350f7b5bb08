// A minimal JSON writer and the KPSIM-RESULT line (json.h).
#include "json.h"

#include <cstdio>

namespace kpsim::guest {

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += c;
        }
    }
  }
  return o;
}

Json& Json::s(const char* k, const std::string& v) { return raw(k, "\"" + json_escape(v) + "\""); }

Json& Json::i(const char* k, long long v) { return raw(k, std::to_string(v)); }

Json& Json::b(const char* k, bool v) { return raw(k, v ? "true" : "false"); }

Json& Json::d(const char* k, double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.6g", v);
  return raw(k, buf);
}

Json& Json::raw(const char* k, const std::string& v) {
  body_ += (body_.empty() ? "" : ",");
  body_ += "\"" + json_escape(k) + "\":" + v;
  return *this;
}

std::string Json::str() const { return "{" + body_ + "}"; }

std::string Json::failed(const std::string& error) { return b("ok", false).s("error", error).str(); }

void JsonList::add(const Json& item) { add_raw(item.str()); }
void JsonList::add_raw(const std::string& object) { body_ += (body_.empty() ? "" : ",") + object; }

std::string JsonList::str() const { return "[" + body_ + "]"; }

void emit_result(const std::string& json) {
  // One line, flushed at once: the host parses the serial log line by line and the kernel may
  // interleave its own messages between writes.
  std::string line = "KPSIM-RESULT " + json + "\n";
  fwrite(line.data(), 1, line.size(), stdout);
  fflush(stdout);
}

}  // namespace kpsim::guest
