// A scenario's parameters: their declarations (ParamSpec) and resolved values (Params). Plain
// data with no model behind it, so the scenario-script parser (scenarios/script/) uses it
// without linking the scenarios; scenarios/scenario.h includes it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kpsim {

struct ParamSpec {
  std::string name;
  std::string default_value;
  std::string help;
  std::vector<std::string> choices;  // non-empty: an enumeration
  bool integer = false;              // otherwise: an integer in [min, max]
  int64_t min = 0;
  int64_t max = INT64_MAX;
};

struct ParamError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Resolved parameters: every declared parameter, in declaration order, with its value.
class Params {
 public:
  const std::string& get(std::string_view name) const;
  // The value of `name`, or nullptr when it is not set.
  const std::string* find(std::string_view name) const;
  int64_t get_int(std::string_view name) const;
  nlohmann::ordered_json to_json() const;
  std::string to_line() const;  // "proto=udp test=selftest"
  void set(std::string name, std::string value);
  // Equal values. Copies of one value share its version, so a search comparing the Params of
  // every schedule with the ones it cached (ScriptScenario::setup) compares two numbers
  // instead of every name and value (about 2 % of a seed-000 schedule).
  bool operator==(const Params& o) const { return version_ == o.version_ || kv_ == o.kv_; }
  bool same_version(const Params& o) const { return version_ == o.version_; }

  Params() = default;
  Params(const Params&) = default;
  Params& operator=(const Params&) = default;
  // A moved-from Params is the empty one (version 0), never a second holder of its version.
  Params(Params&& o) noexcept : kv_(std::move(o.kv_)), version_(o.version_) { o.reset(); }
  Params& operator=(Params&& o) noexcept {
    if (this != &o) {
      kv_ = std::move(o.kv_);
      version_ = o.version_;
      o.reset();
    }
    return *this;
  }

 private:
  void reset() {
    kv_.clear();
    version_ = 0;
  }
  std::vector<std::pair<std::string, std::string>> kv_;
  // Which value this is: 0 for the empty Params, a fresh number from a process-wide counter at
  // every set(); copied with the value. Equal versions imply equal values (not the converse).
  // Never written anywhere: no output depends on it.
  uint64_t version_ = 0;
};

// Why `value` is not a valid value of `p` ("parameter proto=sctp is not one of udp|tcp"), or
// an empty string when it is.
std::string param_value_problem(const ParamSpec& p, const std::string& value);

// Applies "key=value" settings over the defaults of `specs`; throws ParamError naming the
// problem (unknown key, value not among the choices, not an integer, out of range, malformed),
// prefixed with `owner` (the scenario's name).
Params resolve_params(std::string_view owner, const std::vector<ParamSpec>& specs,
                      const std::vector<std::string>& sets);
// The same from a trace header's params object.
Params resolve_params(std::string_view owner, const std::vector<ParamSpec>& specs,
                      const nlohmann::ordered_json& params);

}  // namespace kpsim
