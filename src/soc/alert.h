#pragma once
// The alert store (R20: "no raw alerts — false positives removed first; severity from threat
// intelligence"): detections become alerts an analyst can act on. Detections of the same rule
// about the same entity of the same tenant within the grouping window update one alert instead
// of raising another; detections matching an active suppression raise nothing (and are counted on
// the suppression); severity starts at the rule's level and is raised for threat intelligence
// and for critical tenants and assets, with the reasons kept. Every analyst action is audited in
// the same transaction as the change it records.
//
// SQLite in WAL mode with synchronous=FULL: when Add returns, the alert is on disk.
// Every read and every action takes an optional tenant scope; a scoped caller never sees, and
// never changes, another tenant's alerts, suppressions or audit entries.
//
// Thread safety: an AlertStore is safe for concurrent callers (one connection behind a mutex).
// One process at a time should open a store file for writing.

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "soc/absence.h"
#include "soc/detection.h"

namespace seccloud::soc {

// Values are persisted as text ("open", "acknowledged", "closed").
enum class AlertStatus : uint8_t { kOpen, kAcknowledged, kClosed };
const char* AlertStatusName(AlertStatus status);
bool ParseAlertStatusName(std::string_view name, AlertStatus* out);

struct AlertPolicy {
  std::vector<std::string> critical_tenants;  // tenant ids whose alerts rate one step higher
  std::vector<std::string> critical_assets;   // CIDRs or addresses ("10.0.0.0/24", "10.0.9.9")
};

struct AlertStoreOptions {
  std::string path;  // the SQLite file; created with its schema when absent
  // ms since the Unix epoch; tests inject a fake. Empty: the system clock.
  std::function<int64_t()> clock_ms;
  int64_t group_window_ms = 15 * 60 * 1000;
  AlertPolicy policy;
  size_t max_evidence_per_alert = 1000;  // evidence seqs kept per alert; all are counted
  int64_t max_suppression_ms = int64_t{90} * 24 * 3600 * 1000;
};

struct Alert {
  int64_t id = 0;
  std::string rule_id;
  std::string rule_title;
  std::string ruleset;
  std::vector<std::string> tags;
  std::string tenant;
  std::string entity;
  std::string terminal;
  Level level = Level::kMedium;     // the highest level of its detections
  Level severity = Level::kMedium;  // after raising
  std::string severity_reason;  // "level high; +1 threat intel c2-iocs; +1 critical tenant acme"
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  int64_t created_ms = 0;  // store clock
  int64_t updated_ms = 0;
  int64_t count = 0;           // detections grouped into it
  int64_t evidence_count = 0;  // evidence seqs seen; at most max_evidence_per_alert are kept
  AlertStatus status = AlertStatus::kOpen;
  std::string assignee;
  std::string group_key;
  boost::json::object context;     // the first detection's context
  std::vector<uint64_t> evidence;  // the kept seqs, ascending (GetAlert only)
};

struct IngestOutcome {
  // kResolved: a recovery (Detection::resolves) closed alert_id, or found no open alert (id 0).
  enum class Kind : uint8_t { kNewAlert, kGrouped, kSuppressed, kResolved };
  Kind kind = Kind::kNewAlert;
  int64_t alert_id = 0;        // kNewAlert, kGrouped, kResolved
  int64_t suppression_id = 0;  // kSuppressed
  Level severity = Level::kMedium;
};

struct AlertFilter {
  std::optional<std::string> tenant;  // the caller's scope: only this tenant's alerts
  std::optional<AlertStatus> status;
  std::optional<Level> min_severity;
  std::string rule_id;   // exact; "" any
  int64_t since_ms = 0;  // last_seen >= since_ms (0: no bound)
  int64_t until_ms = 0;  // last_seen <= until_ms (0: no bound)
  size_t limit = 100;    // at most kMaxAlertPage
  size_t offset = 0;
};
inline constexpr size_t kMaxAlertPage = 10'000;

struct SuppressionSpec {
  // nullopt: every tenant (a provider-wide suppression); else only this tenant's detections.
  std::optional<std::string> tenant;
  // The rule id, or a pattern with '*' ("intel:*", "*"): required, so "suppress everything" has
  // to be written out.
  std::string rule_pattern;
  std::string entity_pattern;  // '*' patterns on Detection::entity; "" any
  // An extra condition on the detection: field is "terminal", "entity", or a dotted path in its
  // context ("threat.indicator.value"); it must equal field_value. "" none.
  std::string field;
  std::string field_value;
  std::string reason;             // required
  std::string created_by;         // required
  int64_t expires_ms = 0;         // required, in the future, within max_suppression_ms
  bool allow_beyond_max = false;  // "unless said so": lifts the 90-day bound
};

struct Suppression {
  int64_t id = 0;
  std::optional<std::string> tenant;
  std::string rule_pattern;
  std::string entity_pattern;
  std::string field;
  std::string field_value;
  std::string reason;
  std::string created_by;
  int64_t created_ms = 0;
  int64_t expires_ms = 0;
  int64_t hits = 0;
  std::string state;  // "active", "expired", "deleted"
};

struct AuditEntry {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::string who;
  std::string action;  // "alert.acknowledge", "alert.close", "suppression.create", …
  std::string tenant;  // the tenant concerned, "" for provider-wide
  int64_t alert_id = 0;
  int64_t suppression_id = 0;
  boost::json::object details;
};

struct AuditFilter {
  std::optional<std::string> tenant;  // scope: this tenant's entries only
  int64_t alert_id = 0;               // 0: any
  int64_t suppression_id = 0;         // 0: any
  size_t limit = 100;
  size_t offset = 0;
};

class AlertStore {
 public:
  virtual ~AlertStore() = default;

  // Deduplicates, groups or suppresses one detection; returns after the change is committed.
  // A recovery (Detection::resolves) instead closes the open alert of its group, as "system",
  // audited as alert.recover with the recovering evidence.
  // Invalid detections (no rule id, over-long fields) are kInvalidArgument and change nothing.
  virtual Result<IngestOutcome> Add(const Detection& detection) = 0;
  // The same for many, in one transaction: all are stored or (on error) none.
  virtual Result<std::vector<IngestOutcome>> AddAll(std::span<const Detection> detections) = 0;

  // kNotFound for an id outside the scope as for a missing one.
  virtual Result<Alert> GetAlert(int64_t id, const std::optional<std::string>& tenant = {}) = 0;
  // Newest (last_seen) first.
  virtual Result<std::vector<Alert>> ListAlerts(const AlertFilter& filter) = 0;

  // Acknowledging makes `who` the assignee; a closed alert cannot be acknowledged or closed again
  // (kInvalidArgument). A later detection of a closed alert's group opens a new alert.
  virtual Status Acknowledge(int64_t id, std::string_view who, std::string_view note,
                             const std::optional<std::string>& tenant = {}) = 0;
  virtual Status Close(int64_t id, std::string_view who, std::string_view reason,
                       const std::optional<std::string>& tenant = {}) = 0;

  // A tenant-scoped caller may only suppress its own detections (spec.tenant must equal scope).
  virtual Result<int64_t> Suppress(const SuppressionSpec& spec,
                                   const std::optional<std::string>& scope = {}) = 0;
  virtual Result<std::vector<Suppression>> ListSuppressions(
      const std::optional<std::string>& tenant = {}, bool include_inactive = false) = 0;
  virtual Status DeleteSuppression(int64_t id, std::string_view who,
                                   const std::optional<std::string>& tenant = {}) = 0;
  // Marks suppressions past their expiry as expired (audited by "system"); Add and
  // ListSuppressions do this too. Returns how many expired now.
  virtual Result<int64_t> ExpireSuppressions() = 0;

  virtual Result<std::vector<AuditEntry>> ListAudit(const AuditFilter& filter) = 0;

  // seccloud-absence entities (soc/absence.h), kept here so that a restart of socd neither
  // forgets a silent system nor reports it twice. SaveAbsence upserts (deletes `forget` ones) in
  // one transaction; LoadAbsence returns at most max_entities rows, skipping damaged ones.
  virtual Status SaveAbsence(const std::vector<AbsenceEntity>& changes) = 0;
  virtual Result<std::vector<AbsenceEntity>> LoadAbsence(size_t max_entities = 1'000'000) = 0;
};

// Opens (creating or migrating) the store. kInvalidArgument for a bad policy CIDR or a database
// from a newer seccloud; kIo and friends for the file.
Result<std::unique_ptr<AlertStore>> OpenAlertStore(const AlertStoreOptions& options);

// The severity an alert of this detection gets under the policy, with the reasons
// ("level high; +1 threat intel c2-iocs; +1 critical asset 10.0.0.0/24").
struct SeverityRating {
  Level severity = Level::kMedium;
  std::string reason;
};
Result<SeverityRating> RateSeverity(const Detection& detection, const AlertPolicy& policy);

// The alert schema version OpenAlertStore writes (PRAGMA user_version).
inline constexpr int kAlertSchemaVersion = 2;

}  // namespace seccloud::soc
