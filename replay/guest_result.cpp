#include "replay/guest_result.h"

#include <fmt/format.h>

namespace kpsim::replay {

using json = nlohmann::ordered_json;

namespace {

enum class Want { boolean, object, string, integer, number };

struct KeyType {
  const char* key;
  Want want;
};

// The keys the host reads and their types (guest_result.h). A reader calls
// json::value(key, default), which throws on another type; an integer read from a float
// out of range would be undefined behaviour. So the types are checked here, once.
constexpr KeyType kKeys[] = {
    {"ok", Want::boolean},          {"config", Want::object},
    {"error", Want::string},        {"kernel", Want::string},
    {"verdict", Want::string},      {"gcm_aes_entries_while_open", Want::string},
    {"runs", Want::integer},        {"short_runs", Want::integer},
    {"stall_episodes_ge_100ms", Want::integer},
    {"longest_call_s", Want::number}, {"throughput_MiBps", Want::number},
};

bool has_type(const json& v, Want w) {
  switch (w) {
    case Want::boolean: return v.is_boolean();
    case Want::object: return v.is_object();
    case Want::string: return v.is_string();
    case Want::integer: return v.is_number_integer();
    case Want::number: return v.is_number();
  }
  return false;
}

const char* name_of(Want w) {
  switch (w) {
    case Want::boolean: return "a boolean";
    case Want::object: return "an object";
    case Want::string: return "a string";
    case Want::integer: return "an integer";
    case Want::number: return "a number";
  }
  return "?";
}

}  // namespace

std::string guest_result_problem(const json& r) {
  if (!r.is_object()) return "not a JSON object";
  for (const auto& [key, want] : kKeys) {
    const auto it = r.find(key);
    if (it != r.end() && !has_type(*it, want)) return fmt::format("'{}' must be {}", key, name_of(want));
  }
  return {};
}

void parse_guest_line(std::string_view line, GuestResults& out) {
  static constexpr std::string_view kTag = "KPSIM-RESULT ";
  const auto at = line.find(kTag);
  if (at == std::string_view::npos) return;
  const std::string_view body = line.substr(at + kTag.size());
  const auto refuse = [&](const std::string& why) {
    if (out.error.empty())
      out.error = fmt::format("unparsable result line ({}): {}", why, line.substr(0, 200));
  };
  json r;
  try {
    r = json::parse(body);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
    refuse(e.id == 101 ? "not JSON" : e.what());
    return;
  }
  if (std::string why = guest_result_problem(r); !why.empty()) {
    refuse(why);
    return;
  }
  out.results.push_back(std::move(r));
}

GuestResults parse_guest_output(std::string_view text) {
  GuestResults out;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    parse_guest_line(text.substr(0, nl), out);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace kpsim::replay
