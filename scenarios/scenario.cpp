#include "scenarios/scenario.h"

#include "scenarios/script/script_scenario.h"

#include <charconv>

#include <fmt/format.h>

namespace kpsim {

const std::string& Params::get(std::string_view name) const {
  for (auto& [k, v] : kv_)
    if (k == name) return v;
  throw std::logic_error(fmt::format("scenario asked for undeclared parameter '{}'", name));
}

int64_t Params::get_int(std::string_view name) const {
  const std::string& v = get(name);
  int64_t x = 0;
  std::from_chars(v.data(), v.data() + v.size(), x);
  return x;
}

void Params::set(std::string name, std::string value) {
  for (auto& [k, v] : kv_)
    if (k == name) {
      v = std::move(value);
      return;
    }
  kv_.emplace_back(std::move(name), std::move(value));
}

nlohmann::ordered_json Params::to_json() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (auto& [k, v] : kv_) j[k] = v;
  return j;
}

std::string Params::to_line() const {
  std::string s;
  for (auto& [k, v] : kv_) s += (s.empty() ? "" : " ") + k + "=" + v;
  return s;
}

static void check_value(const Scenario& sc, const ParamSpec& p, const std::string& v) {
  if (!p.choices.empty()) {
    for (auto& c : p.choices)
      if (c == v) return;
    std::string all;
    for (auto& c : p.choices) all += (all.empty() ? "" : "|") + c;
    throw ParamError(fmt::format("{}: parameter {}={} is not one of {}", sc.name(), p.name, v, all));
  }
  if (p.integer) {
    int64_t x = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size())
      throw ParamError(fmt::format("{}: parameter {}={} is not an integer", sc.name(), p.name, v));
    if (x < p.min || x > p.max)
      throw ParamError(fmt::format("{}: parameter {}={} is outside [{}, {}]", sc.name(), p.name, v,
                                   p.min, p.max));
  }
}

static const ParamSpec& spec(const Scenario& sc, const std::string& key) {
  for (auto& p : sc.params())
    if (p.name == key) return p;
  std::string all;
  for (auto& p : sc.params()) all += (all.empty() ? "" : ", ") + p.name;
  throw ParamError(fmt::format("{}: unknown parameter '{}' (parameters: {})", sc.name(), key,
                               all.empty() ? "none" : all));
}

static Params defaults(const Scenario& sc) {
  Params out;
  for (auto& p : sc.params()) out.set(p.name, p.default_value);
  return out;
}

Params resolve_params(const Scenario& sc, const std::vector<std::string>& sets) {
  Params out = defaults(sc);
  for (auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ParamError(fmt::format("--set '{}': expected key=value", s));
    const std::string key = s.substr(0, eq), value = s.substr(eq + 1);
    check_value(sc, spec(sc, key), value);
    out.set(key, value);
  }
  return out;
}

Params resolve_params(const Scenario& sc, const nlohmann::ordered_json& params) {
  Params out = defaults(sc);
  for (auto& [k, v] : params.items()) {
    if (!v.is_string()) throw ParamError(fmt::format("parameter '{}' must be a string", k));
    check_value(sc, spec(sc, k), v.get<std::string>());
    out.set(k, v.get<std::string>());
  }
  return out;
}

const Scenario* find_scenario(std::string_view name) {
  for (auto* s : all_scenarios())
    if (s->name() == name) return s;
  if (name.find('/') != std::string_view::npos || name.ends_with(".kps"))
    return &script::load_script_scenario(std::string(name));
  return nullptr;
}

}  // namespace kpsim
