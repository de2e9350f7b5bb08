#include "scenarios/params.h"

#include <atomic>
#include <charconv>

#include <fmt/format.h>

namespace kpsim {

const std::string* Params::find(std::string_view name) const {
  for (auto& [k, v] : kv_)
    if (k == name) return &v;
  return nullptr;
}

const std::string& Params::get(std::string_view name) const {
  if (const std::string* v = find(name)) return *v;
  throw std::logic_error(fmt::format("scenario asked for undeclared parameter '{}'", name));
}

int64_t Params::get_int(std::string_view name) const {
  const std::string& v = get(name);
  int64_t x = 0;
  std::from_chars(v.data(), v.data() + v.size(), x);
  return x;
}

void Params::set(std::string name, std::string value) {
  static std::atomic<uint64_t> versions{0};
  version_ = versions.fetch_add(1, std::memory_order_relaxed) + 1;
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

std::string param_value_problem(const ParamSpec& p, const std::string& v) {
  if (!p.choices.empty()) {
    for (auto& c : p.choices)
      if (c == v) return {};
    std::string all;
    for (auto& c : p.choices) all += (all.empty() ? "" : "|") + c;
    return fmt::format("parameter {}={} is not one of {}", p.name, v, all);
  }
  if (p.integer) {
    int64_t x = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size())
      return fmt::format("parameter {}={} is not an integer", p.name, v);
    if (x < p.min || x > p.max)
      return fmt::format("parameter {}={} is outside [{}, {}]", p.name, v, p.min, p.max);
  }
  return {};
}

static void check_value(std::string_view owner, const ParamSpec& p, const std::string& v) {
  const std::string problem = param_value_problem(p, v);
  if (!problem.empty()) throw ParamError(fmt::format("{}: {}", owner, problem));
}

static const ParamSpec& spec(std::string_view owner, const std::vector<ParamSpec>& specs,
                             const std::string& key) {
  for (auto& p : specs)
    if (p.name == key) return p;
  std::string all;
  for (auto& p : specs) all += (all.empty() ? "" : ", ") + p.name;
  throw ParamError(fmt::format("{}: unknown parameter '{}' (parameters: {})", owner, key,
                               all.empty() ? "none" : all));
}

static Params defaults(const std::vector<ParamSpec>& specs) {
  Params out;
  for (auto& p : specs) out.set(p.name, p.default_value);
  return out;
}

Params resolve_params(std::string_view owner, const std::vector<ParamSpec>& specs,
                      const std::vector<std::string>& sets) {
  Params out = defaults(specs);
  for (auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ParamError(fmt::format("--set '{}': expected key=value", s));
    const std::string key = s.substr(0, eq), value = s.substr(eq + 1);
    check_value(owner, spec(owner, specs, key), value);
    out.set(key, value);
  }
  return out;
}

Params resolve_params(std::string_view owner, const std::vector<ParamSpec>& specs,
                      const nlohmann::ordered_json& params) {
  Params out = defaults(specs);
  for (auto& [k, v] : params.items()) {
    if (!v.is_string()) throw ParamError(fmt::format("parameter '{}' must be a string", k));
    check_value(owner, spec(owner, specs, k), v.get<std::string>());
    out.set(k, v.get<std::string>());
  }
  return out;
}

}  // namespace kpsim
