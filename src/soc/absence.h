#pragma once
// What a seccloud-absence rule (R19/R20: "a service down" on systems that are not seccloud's own)
// knows about one entity, in the shape that survives a restart of socd: the Correlator hands out
// the entities that changed, the AlertStore keeps them in its SQLite file, and a new Correlator
// takes them back before its first tick. A restored entity keeps its last-seen time and whether it
// is already reported down, so a restart neither forgets a silent system nor reports it twice.

#include <cstdint>
#include <string>
#include <vector>

namespace seccloud::soc {

struct AbsenceEntity {
  // The rule's id and group-by fields ("id\x1fhost.hostname"): entities outlive changes to the
  // rule's timespan, not to what identifies an entity.
  std::string rule;
  std::string tenant;               // "" for records without a tenant
  std::vector<std::string> values;  // the group-by values, in the rule's order
  int64_t last_seen_ms = 0;         // arrival time of its newest matching record
  uint64_t last_seq = 0;            // that record's Record::seq (0: none seen yet)
  bool down = false;                // reported silent, not yet recovered
  bool forget = false;              // in a change list: the entity is no longer tracked
};

// Bounds on persisted entities (input from the database file, which could be damaged).
inline constexpr size_t kMaxAbsenceValues = 4;
inline constexpr size_t kMaxAbsenceTextBytes = 1024;

}  // namespace seccloud::soc
