#include "socd/detectors.h"

#include "core/text.h"

namespace seccloud::socd {

std::string DetectorsReport::Summary() const {
  return std::to_string(rules.rules_loaded) + " rules and " +
         std::to_string(rules.correlations_loaded) + " correlations loaded, " +
         std::to_string(rules.unsupported.size()) + " unsupported, " +
         std::to_string(rules.errors.size()) + " with errors; " + std::to_string(intel.indicators) +
         " threat indicators (" + std::to_string(intel.bad_lines) + " bad lines)";
}

Result<std::unique_ptr<Detectors>> BuildDetectors(const SocConfig& config,
                                                  DetectorsReport* report) {
  auto d = std::make_unique<Detectors>();
  if (!config.rules.empty()) {
    soc::RuleLoadOptions options;
    options.placeholders = config.placeholders;
    options.tenant_placeholders = config.tenant_placeholders;
    ASSIGN_OR_RETURN(soc::RuleSet rules, soc::LoadRules(config.rules, &report->rules, options));
    ASSIGN_OR_RETURN(d->engine, soc::DetectionEngine::Create(std::move(rules)));
  }
  if (!config.intel.empty()) {
    std::vector<soc::IntelFeed> feeds;
    for (const SocIntelFeedConfig& f : config.intel) {
      soc::IntelFeed feed;
      feed.name = f.name;
      feed.path = f.path.string();
      if (!soc::ParseIntelFormatName(f.format, &feed.format))
        return MakeError(
            Errc::kInvalidArgument,
            "soc.intel " + Quote(f.name) + ": " + Quote(f.format) +
                " is not an intel format (seccloud, loki-c2, domains, hosts, adblock)");
      if (!soc::ParseLevelName(f.level, &feed.level))
        return MakeError(Errc::kInvalidArgument,
                         "soc.intel " + Quote(f.name) + ": " + Quote(f.level) + " is not a level");
      feeds.push_back(std::move(feed));
    }
    ASSIGN_OR_RETURN(d->intel, soc::LoadIntel(feeds, &report->intel));
  }
  return d;
}

}  // namespace seccloud::socd
