#pragma once
// Builds what detection runs (Sigma rules, correlations, threat intelligence) from the soc
// section; at start-up, on reload and for `seccloud soc rules`.

#include <memory>
#include <string>

#include "core/result.h"
#include "core/soc_config.h"
#include "soc/intel.h"
#include "soc/sigma.h"
#include "socd/pipeline.h"

namespace seccloud::socd {

struct DetectorsReport {
  soc::LoadReport rules;
  soc::IntelLoadReport intel;
  std::string Summary() const;  // one line: rules loaded/unsupported/errors, indicators
};

Result<std::unique_ptr<Detectors>> BuildDetectors(const SocConfig& config, DetectorsReport* report);

}  // namespace seccloud::socd
