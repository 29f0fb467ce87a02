#include "socd/detectors.h"

#include <algorithm>

#include "core/text.h"

namespace seccloud::socd {

std::string DetectorsReport::Summary() const {
  return std::to_string(rules.rules_loaded) + " rules and " +
         std::to_string(rules.correlations_loaded) + " correlations loaded, " +
         (rules.filters_loaded > 0 ? std::to_string(rules.filters_loaded) + " filters, " : "") +
         std::to_string(rules.unsupported.size()) + " unsupported, " +
         std::to_string(rules.errors.size()) + " with errors; " + std::to_string(intel.indicators) +
         " threat indicators (" + std::to_string(intel.bad_lines) + " bad lines)";
}

namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// soc.expected joins the seccloud-absence rules' own expected lists, so an operator names the
// systems each tenant must keep reporting from without editing rule files.
Status AddConfiguredExpected(const SocConfig& config, soc::RuleSet& rules) {
  for (const SocExpectedEntity& e : config.expected) {
    soc::CorrelationRule* rule = nullptr;
    for (auto& c : rules.correlations) {
      if (c.type == soc::CorrelationType::kAbsence && (c.name == e.rule || c.id == e.rule)) {
        rule = &c;
        break;
      }
    }
    if (rule == nullptr)
      return MakeError(Errc::kInvalidArgument,
                       e.where + ": no loaded seccloud-absence rule has the name or id " +
                           Quote(e.rule) + " (see soc.rules and the rule errors)");
    soc::CorrelationRule::Expected x;
    x.tenant = e.tenant;
    if (e.fields.size() == 1 && e.fields.begin()->first.empty()) {
      if (rule->group_by.size() != 1)
        return MakeError(Errc::kInvalidArgument, e.where + ": rule " + Quote(e.rule) +
                                                     " groups by " + JoinNames(rule->group_by) +
                                                     ": give a map of those fields");
      x.values.push_back(e.fields.begin()->second);
    } else {
      for (const auto& [field, value] : e.fields)
        if (std::find(rule->group_by.begin(), rule->group_by.end(), field) == rule->group_by.end())
          return MakeError(Errc::kInvalidArgument,
                           e.where + ": " + Quote(field) + " is not a group-by field of rule " +
                               Quote(e.rule) + " (" + JoinNames(rule->group_by) + ")");
      for (const auto& g : rule->group_by) {
        auto it = e.fields.find(g);
        if (it == e.fields.end())
          return MakeError(Errc::kInvalidArgument, e.where + ": the entity needs a value for " + g +
                                                       " (rule " + Quote(e.rule) + " groups by " +
                                                       JoinNames(rule->group_by) + ")");
        x.values.push_back(it->second);
      }
    }
    const bool listed =
        std::any_of(rule->expected.begin(), rule->expected.end(),
                    [&](const auto& y) { return y.tenant == x.tenant && y.values == x.values; });
    if (listed) continue;  // the rule file lists it already
    if (rule->expected.size() >= soc::kMaxAbsenceExpected)
      return MakeError(Errc::kInvalidArgument,
                       e.where + ": rule " + Quote(e.rule) + " would expect more than " +
                           std::to_string(soc::kMaxAbsenceExpected) + " entities");
    rule->expected.push_back(std::move(x));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Detectors>> BuildDetectors(const SocConfig& config,
                                                  DetectorsReport* report) {
  auto d = std::make_unique<Detectors>();
  if (config.rules.empty() && !config.expected.empty())
    return MakeError(Errc::kInvalidArgument,
                     config.expected.front().where +
                         ": soc.expected needs seccloud-absence rules, and soc.rules names none");
  if (!config.rules.empty()) {
    soc::RuleLoadOptions options;
    options.placeholders = config.placeholders;
    options.tenant_placeholders = config.tenant_placeholders;
    ASSIGN_OR_RETURN(soc::RuleSet rules, soc::LoadRules(config.rules, &report->rules, options));
    RETURN_IF_ERROR(AddConfiguredExpected(config, rules));
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
