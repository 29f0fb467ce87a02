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

}  // namespace seccloud::soc::sigma_testing
