#pragma once
// What detection hands to alerting (R18–R20): one rule firing on one or more stored records. The
// Sigma engine, correlation, threshold rules and threat-intelligence matching all produce this
// shape; the alert store deduplicates, groups, rates and suppresses them.

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace seccloud::soc {

// Sigma's levels, in order; an alert's severity starts here.
enum class Level : uint8_t { kInformational = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };
const char* LevelName(Level level);  // "informational", "low", "medium", "high", "critical"
bool ParseLevelName(std::string_view name, Level* out);

struct Detection {
  std::string rule_id;     // the rule's id (Sigma rule UUID, or the seccloud rule's name)
  std::string rule_title;  // human title
  std::string ruleset;     // "sigma", "sigma-correlation", "threshold", "intel"
  Level level = Level::kMedium;
  std::vector<std::string> tags;  // Sigma tags ("attack.execution", "attack.t1059.001")
  int64_t time_ms = 0;            // @timestamp of the newest evidence record
  std::string tenant;             // tenant.id of the evidence, "" when none
  // What the detection is about, for grouping alerts: group-by values of a correlation, else the
  // most specific of source.ip / host.name / host.hostname / user.name / seccloud.service.name of
  // the record ("source.ip=10.1.2.3").
  std::string entity;
  // The terminal concerned when known: source.ip (after XFF/NAT attribution), host.name or
  // host.hostname.
  std::string terminal;
  std::vector<uint64_t> evidence;  // Record::seq of the records that made the rule fire
  // Anything else an analyst needs: matched indicator (threat.indicator.*), group-by values,
  // counts of a correlation.
  boost::json::object context;
  // A recovery, not a new finding: the entity's events resumed (seccloud-absence rules). The alert
  // store closes the group's open alert with it instead of raising one.
  bool resolves = false;
};

}  // namespace seccloud::soc
