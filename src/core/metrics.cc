#include "core/metrics.h"

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>

namespace seccloud {

namespace {
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string Series(const std::string& name, const std::string& labels) {
  return labels.empty() ? name : name + "{" + labels + "}";
}
}  // namespace

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     std::string_view labels) {
  std::lock_guard lock(mu_);
  Family& f = families_[std::string(name)];
  if (f.type.empty()) f = Family{std::string(help), "counter", {}, {}, {}};
  auto [it, inserted] = f.counters.try_emplace(std::string(labels), nullptr);
  if (inserted) it->second = &counter_storage_.emplace_back();
  return *it->second;
}

Gauge& MetricsRegistry::GetGauge(std::string_view name, std::string_view help,
                                 std::string_view labels) {
  std::lock_guard lock(mu_);
  Family& f = families_[std::string(name)];
  if (f.type.empty()) f = Family{std::string(help), "gauge", {}, {}, {}};
  auto [it, inserted] = f.gauges.try_emplace(std::string(labels), nullptr);
  if (inserted) it->second = &gauge_storage_.emplace_back();
  return *it->second;
}

void MetricsRegistry::AddGaugeFunction(std::string_view name, std::string_view help,
                                       std::string_view labels, std::function<double()> fn) {
  std::lock_guard lock(mu_);
  Family& f = families_[std::string(name)];
  if (f.type.empty()) f = Family{std::string(help), "gauge", {}, {}, {}};
  f.functions[std::string(labels)] = std::move(fn);
}

void MetricsRegistry::RemoveGaugeFunction(std::string_view name, std::string_view labels) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) it->second.functions.erase(std::string(labels));
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
    for (const auto& [labels, c] : f.counters)
      out += Series(name, labels) + " " + std::to_string(c->value()) + "\n";
    for (const auto& [labels, g] : f.gauges)
      out += Series(name, labels) + " " + FormatValue(g->value()) + "\n";
    for (const auto& [labels, fn] : f.functions)
      out += Series(name, labels) + " " + FormatValue(fn()) + "\n";
  }
  return out;
}

std::string PrometheusLabelValue(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void Health::Set(std::string_view component, bool ok, std::string_view detail) {
  std::lock_guard lock(mu_);
  auto it = components_.find(component);
  if (it == components_.end()) it = components_.emplace(std::string(component), State{}).first;
  it->second.ok = ok;
  it->second.detail = std::string(detail);
}

bool Health::healthy() const {
  std::lock_guard lock(mu_);
  for (const auto& [name, s] : components_)
    if (!s.ok) return false;
  return true;
}

std::string Health::FirstProblem() const {
  std::lock_guard lock(mu_);
  for (const auto& [name, s] : components_)
    if (!s.ok) return name + ": " + s.detail;
  return {};
}

std::string Health::ComponentsJson() const {
  std::lock_guard lock(mu_);
  boost::json::object o;
  for (const auto& [name, s] : components_)
    o[name] = boost::json::object{{"ok", s.ok}, {"detail", s.detail}};
  return boost::json::serialize(o);
}

const char* Version() { return SECCLOUD_VERSION; }

}  // namespace seccloud
