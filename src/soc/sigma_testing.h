#pragma once
// For tests only: Sigma YAML to a detection engine, the few lines the correlation and absence
// tests shared. Not linked into anything but soc_test.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "soc/detect.h"

namespace seccloud::soc::sigma_testing {

// An engine from rules that must load cleanly: each load error and each refusal is a test
// failure (named), and so is an engine that cannot be created (then nullptr).
inline std::unique_ptr<DetectionEngine> CleanEngine(const std::string& yaml,
                                                    const std::string& file,
                                                    DetectionEngineOptions options = {}) {
  LoadReport report;
  RuleSet set = LoadRulesFromString(yaml, file, &report);
  for (const auto& e : report.errors) ADD_FAILURE() << e.ToString();
  for (const auto& e : report.unsupported) ADD_FAILURE() << e.ToString();
  auto engine = DetectionEngine::Create(std::move(set), options);
  if (!engine.has_value()) {
    ADD_FAILURE() << file << ": " << engine.error().ToString();
    return nullptr;
  }
  return std::move(*engine);
}

// Proxy transfers (proxy.access records whose event.action is "allowed", rule `transfer`) and a
// correlation `metric` of `type` over them per source.ip in `timespan`, judging `condition`
// (its field is the caller's, e.g. destination.bytes): the metric correlations' rules of
// correlation_test.cc and socd's pipeline_test.cc.
inline std::string TransferMetricRules(const std::string& type, const std::string& condition,
                                       const std::string& timespan = "5m") {
  return "title: proxy transfer\nname: transfer\n"
         "logsource: {product: seccloud, service: proxy.access}\n"
         "detection: {s: {event.action: allowed}, condition: s}\nlevel: informational\n---\n"
         "title: metric\nid: metric\ncorrelation:\n  type: " +
         type + "\n  rules: transfer\n  group-by: [source.ip]\n  timespan: " + timespan +
         "\n  condition: " + condition +
         "\nlevel: high\ntags: [attack.exfiltration, attack.t1048]\n";
}

}  // namespace seccloud::soc::sigma_testing
