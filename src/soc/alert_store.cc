#include <sqlite3.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "core/ip.h"
#include "core/text.h"
#include "soc/alert.h"
#include "soc/record.h"

namespace seccloud::soc {
namespace {

// Bounds on what a detection may carry into the store: detections are built from hostile
// records, so their strings are bounded like any other input.
constexpr size_t kMaxIdBytes = 512;
constexpr size_t kMaxTextBytes = 4096;
constexpr size_t kMaxTags = 64;
constexpr size_t kMaxContextBytes = 64 << 10;
constexpr size_t kMaxEvidencePerDetection = 100'000;

constexpr std::array<const char*, 3> kStatusNames = {"open", "acknowledged", "closed"};

// Each entry moves the schema from version i to i + 1, inside one transaction.
constexpr std::array<const char*, kAlertSchemaVersion> kMigrations = {
    R"sql(
CREATE TABLE alerts (
  id INTEGER PRIMARY KEY,
  rule_id TEXT NOT NULL,
  rule_title TEXT NOT NULL,
  ruleset TEXT NOT NULL,
  tags TEXT NOT NULL,
  tenant TEXT NOT NULL,
  entity TEXT NOT NULL,
  terminal TEXT NOT NULL,
  level INTEGER NOT NULL,
  severity INTEGER NOT NULL,
  severity_reason TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  count INTEGER NOT NULL,
  evidence_count INTEGER NOT NULL,
  evidence_kept INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'closed')),
  assignee TEXT NOT NULL DEFAULT '',
  group_key TEXT NOT NULL,
  context TEXT NOT NULL
);
CREATE INDEX alerts_group ON alerts (group_key, status, last_seen);
CREATE INDEX alerts_tenant_seen ON alerts (tenant, last_seen);
CREATE INDEX alerts_seen ON alerts (last_seen);
CREATE TABLE alert_evidence (
  alert_id INTEGER NOT NULL REFERENCES alerts (id),
  seq INTEGER NOT NULL,
  PRIMARY KEY (alert_id, seq)
) WITHOUT ROWID;
CREATE TABLE suppressions (
  id INTEGER PRIMARY KEY,
  tenant TEXT,
  rule_pattern TEXT NOT NULL,
  entity_pattern TEXT NOT NULL,
  field TEXT NOT NULL,
  field_value TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  hits INTEGER NOT NULL DEFAULT 0,
  state TEXT NOT NULL CHECK (state IN ('active', 'expired', 'deleted'))
);
CREATE INDEX suppressions_state ON suppressions (state, expires_at);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  who TEXT NOT NULL,
  action TEXT NOT NULL,
  tenant TEXT NOT NULL,
  alert_id INTEGER,
  suppression_id INTEGER,
  details TEXT NOT NULL
);
CREATE INDEX audit_tenant ON audit (tenant, id);
CREATE INDEX audit_alert ON audit (alert_id);
)sql",
    // 2: seccloud-absence entities (R19 "a service down"), one row per rule and entity.
    R"sql(
CREATE TABLE absence_entities (
  rule TEXT NOT NULL,
  tenant TEXT NOT NULL,
  entity_values TEXT NOT NULL,
  last_seen INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  down INTEGER NOT NULL,
  PRIMARY KEY (rule, tenant, entity_values)
) WITHOUT ROWID;
)sql",
};

int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// '*' matches any run of bytes; everything else is literal. Linear backtracking (one star
// remembered), so hostile patterns cannot blow up.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string JsonText(const boost::json::value& v) { return boost::json::serialize(v); }

boost::json::value Str(std::string_view s) {
  return boost::json::value(boost::json::string_view(s.data(), s.size()));
}

struct ParsedPolicy {
  std::vector<std::string> critical_tenants;
  std::vector<std::pair<IpPrefix, std::string>> critical_assets;
};

Result<ParsedPolicy> ParsePolicy(const AlertPolicy& policy) {
  ParsedPolicy out;
  out.critical_tenants = policy.critical_tenants;
  for (size_t i = 0; i < policy.critical_assets.size(); ++i) {
    std::string why;
    const auto& text = policy.critical_assets[i];
    auto prefix = IpPrefix::Parse(text, &why);
    if (!prefix) {
      return MakeError(Errc::kInvalidArgument, "alert policy critical_assets[" + std::to_string(i) +
                                                   "]: " + Quote(text) +
                                                   " is not an address or CIDR: " + why);
    }
    out.critical_assets.emplace_back(*prefix, text);
  }
  return out;
}

std::string_view StringIn(const boost::json::object& o, std::string_view path) {
  const auto* v = FindField(o, path);
  if (v == nullptr || !v->is_string()) return {};
  return std::string_view(v->as_string());
}

SeverityRating Rate(const Detection& d, const ParsedPolicy& policy) {
  SeverityRating r;
  int severity = static_cast<int>(d.level);
  r.reason = std::string("level ") + LevelName(d.level);
  const bool has_indicator = FindField(d.context, "threat.indicator") != nullptr;
  if (d.ruleset == "intel" || has_indicator) {
    std::string_view provider = StringIn(d.context, "threat.indicator.provider");
    if (provider.empty()) provider = d.rule_id;
    ++severity;
    r.reason += "; +1 threat intel ";
    r.reason += provider;
  }
  std::string critical;
  if (std::find(policy.critical_tenants.begin(), policy.critical_tenants.end(), d.tenant) !=
          policy.critical_tenants.end() &&
      !d.tenant.empty()) {
    critical = "critical tenant " + d.tenant;
  }
  // The terminal, else the value of "field=value" entities, is the asset.
  std::string_view asset = d.terminal;
  std::optional<IpAddress> address = IpAddress::Parse(asset);
  if (!address) {
    const size_t eq = d.entity.find('=');
    if (eq != std::string::npos) {
      asset = std::string_view(d.entity).substr(eq + 1);
      address = IpAddress::Parse(asset);
    }
  }
  if (address) {
    const IpAddress a = address->Unmapped();
    for (const auto& [prefix, text] : policy.critical_assets) {
      if (prefix.Contains(a)) {
        if (!critical.empty()) critical += ", ";
        critical += "critical asset " + text;
        if (text != asset) critical += " (" + std::string(asset) + ")";
        break;
      }
    }
  }
  if (!critical.empty()) {
    ++severity;
    r.reason += "; +1 " + critical;
  }
  if (severity > static_cast<int>(Level::kCritical)) {
    severity = static_cast<int>(Level::kCritical);
    r.reason += "; capped at critical";
  }
  r.severity = static_cast<Level>(severity);
  return r;
}

Status ValidateDetection(const Detection& d) {
  auto bad = [&](std::string what) {
    return MakeError(Errc::kInvalidArgument, "detection of rule " + Quote(d.rule_id) + ": " + what);
  };
  if (d.rule_id.empty()) return MakeError(Errc::kInvalidArgument, "detection without a rule id");
  if (d.rule_id.size() > kMaxIdBytes) return bad("rule id longer than 512 bytes");
  if (d.ruleset.size() > kMaxIdBytes) return bad("ruleset longer than 512 bytes");
  if (d.tenant.size() > kMaxIdBytes) return bad("tenant longer than 512 bytes");
  if (d.rule_title.size() > kMaxTextBytes) return bad("title longer than 4096 bytes");
  if (d.entity.size() > kMaxTextBytes) return bad("entity longer than 4096 bytes");
  if (d.terminal.size() > kMaxTextBytes) return bad("terminal longer than 4096 bytes");
  if (d.tags.size() > kMaxTags) return bad("more than 64 tags");
  for (const auto& t : d.tags) {
    if (t.size() > kMaxIdBytes) return bad("a tag longer than 512 bytes");
  }
  if (d.evidence.size() > kMaxEvidencePerDetection) return bad("more than 100000 evidence seqs");
  return {};
}

Error SqliteError(sqlite3* db, const std::string& path, std::string_view what, int rc) {
  const int base = rc & 0xFF;
  Errc code = Errc::kIo;
  if (base == SQLITE_FULL) code = Errc::kResourceExhausted;
  if (base == SQLITE_BUSY || base == SQLITE_LOCKED) code = Errc::kUnavailable;
  if (base == SQLITE_CORRUPT || base == SQLITE_NOTADB) code = Errc::kInternal;
  if (base == SQLITE_PERM || base == SQLITE_READONLY || base == SQLITE_AUTH) {
    code = Errc::kPermissionDenied;
  }
  if (base == SQLITE_CANTOPEN) code = Errc::kNotFound;
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return MakeError(code, "alert store " + path + ": " + std::string(what) + ": " + msg);
}

// A prepared statement, reset and unbound when the scope ends.
class Stmt {
 public:
  explicit Stmt(sqlite3_stmt* s) : s_(s) {}
  ~Stmt() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& Bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  Stmt& Bind(int i, const std::optional<std::string>& v) {
    if (v) return Bind(i, std::string_view(*v));
    sqlite3_bind_null(s_, i);
    return *this;
  }
  int Step() { return sqlite3_step(s_); }
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  std::string Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(s_, col));
  }
  sqlite3_stmt* get() { return s_; }

 private:
  sqlite3_stmt* s_;
};

boost::json::object ParseObject(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return {};
  return std::move(v.as_object());
}

class SqliteAlertStore final : public AlertStore {
 public:
  SqliteAlertStore(AlertStoreOptions options, ParsedPolicy policy, sqlite3* db)
      : options_(std::move(options)), policy_(std::move(policy)), db_(db) {
    if (!options_.clock_ms) options_.clock_ms = SystemClockMs;
  }

  ~SqliteAlertStore() override {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close(db_);
  }

  Status Init() {
    RETURN_IF_ERROR(Exec("PRAGMA journal_mode=WAL", "enable WAL"));
    {
      // journal_mode answers with the mode in force; a database that cannot use WAL (some
      // network filesystems) would silently stay in rollback mode.
      sqlite3_stmt* raw = nullptr;
      sqlite3_prepare_v2(db_, "PRAGMA journal_mode", -1, &raw, nullptr);
      std::string mode;
      if (raw != nullptr && sqlite3_step(raw) == SQLITE_ROW) {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(raw, 0));
        if (p != nullptr) mode = p;
      }
      sqlite3_finalize(raw);
      if (mode != "wal") {
        return MakeError(Errc::kIo, "alert store " + options_.path +
                                        ": cannot use WAL journal mode (got " + Quote(mode) + ")");
      }
    }
    RETURN_IF_ERROR(Exec("PRAGMA synchronous=FULL", "set synchronous"));
    RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON", "enable foreign keys"));
    sqlite3_busy_timeout(db_, 5000);
    RETURN_IF_ERROR(Migrate());
    return ReloadSuppressions();
  }

  Result<IngestOutcome> Add(const Detection& detection) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Begin());
    auto outcome = AddLocked(detection);
    if (!outcome) return Rollback(outcome.error());
    RETURN_IF_ERROR(Commit());
    return outcome;
  }

  Result<std::vector<IngestOutcome>> AddAll(std::span<const Detection> detections) override {
    std::lock_guard lock(mu_);
    std::vector<IngestOutcome> outcomes;
    outcomes.reserve(detections.size());
    RETURN_IF_ERROR(Begin());
    for (const auto& d : detections) {
      auto outcome = AddLocked(d);
      if (!outcome) return Rollback(outcome.error());
      outcomes.push_back(*outcome);
    }
    RETURN_IF_ERROR(Commit());
    return outcomes;
  }

  Result<Alert> GetAlert(int64_t id, const std::optional<std::string>& tenant) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                     Prepare(std::string(kAlertColumns) +
                             " FROM alerts WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)"));
    Stmt s(raw);
    s.Bind(1, id).Bind(2, tenant);
    const int rc = s.Step();
    if (rc == SQLITE_DONE) return NotFoundAlert(id);
    if (rc != SQLITE_ROW) return Fail("read alert", rc);
    Alert alert = ReadAlert(s);
    ASSIGN_OR_RETURN(sqlite3_stmt * ev_raw,
                     Prepare("SELECT seq FROM alert_evidence WHERE alert_id = ?1 ORDER BY seq"));
    Stmt ev(ev_raw);
    ev.Bind(1, id);
    int erc;
    while ((erc = ev.Step()) == SQLITE_ROW)
      alert.evidence.push_back(static_cast<uint64_t>(ev.Int(0)));
    if (erc != SQLITE_DONE) return Fail("read evidence", erc);
    return alert;
  }

  Result<std::vector<Alert>> ListAlerts(const AlertFilter& f) override {
    std::lock_guard lock(mu_);
    std::string sql = std::string(kAlertColumns) + " FROM alerts WHERE 1";
    if (f.tenant) sql += " AND tenant = ?1";
    if (f.status) sql += " AND status = ?2";
    if (f.min_severity) sql += " AND severity >= ?3";
    if (!f.rule_id.empty()) sql += " AND rule_id = ?4";
    if (f.since_ms != 0) sql += " AND last_seen >= ?5";
    if (f.until_ms != 0) sql += " AND last_seen <= ?6";
    sql += " ORDER BY last_seen DESC, id DESC LIMIT ?7 OFFSET ?8";
    ASSIGN_OR_RETURN(sqlite3_stmt * raw, Prepare(sql));
    Stmt s(raw);
    if (f.tenant) s.Bind(1, *f.tenant);
    if (f.status) s.Bind(2, kStatusNames[static_cast<size_t>(*f.status)]);
    if (f.min_severity) s.Bind(3, static_cast<int64_t>(*f.min_severity));
    if (!f.rule_id.empty()) s.Bind(4, f.rule_id);
    if (f.since_ms != 0) s.Bind(5, f.since_ms);
    if (f.until_ms != 0) s.Bind(6, f.until_ms);
    s.Bind(7, static_cast<int64_t>(std::min(f.limit == 0 ? 100 : f.limit, kMaxAlertPage)));
    s.Bind(8, static_cast<int64_t>(std::min<size_t>(f.offset, INT64_MAX)));
    std::vector<Alert> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadAlert(s));
    if (rc != SQLITE_DONE) return Fail("list alerts", rc);
    return out;
  }

  Status Acknowledge(int64_t id, std::string_view who, std::string_view note,
                     const std::optional<std::string>& tenant) override {
    return ChangeStatus(id, who, "alert.acknowledge", AlertStatus::kAcknowledged, "note", note,
                        tenant);
  }

  Status Close(int64_t id, std::string_view who, std::string_view reason,
               const std::optional<std::string>& tenant) override {
    return ChangeStatus(id, who, "alert.close", AlertStatus::kClosed, "reason", reason, tenant);
  }

  Result<int64_t> Suppress(const SuppressionSpec& spec,
                           const std::optional<std::string>& scope) override {
    std::lock_guard lock(mu_);
    const int64_t now = options_.clock_ms();
    auto invalid = [](std::string what) {
      return MakeError(Errc::kInvalidArgument, "suppression: " + what);
    };
    if (scope && spec.tenant != scope) {
      return MakeError(Errc::kPermissionDenied,
                       "suppression: a tenant may only suppress its own detections");
    }
    if (spec.rule_pattern.empty()) return invalid("a rule id or pattern is required (\"*\": any)");
    if (spec.reason.empty()) return invalid("a reason is required");
    if (spec.created_by.empty()) return invalid("created_by is required");
    if (spec.expires_ms == 0) return invalid("an expiry is required");
    if (spec.expires_ms <= now) return invalid("expires in the past");
    if (!spec.allow_beyond_max && spec.expires_ms - now > options_.max_suppression_ms) {
      return invalid("expires more than " +
                     std::to_string(options_.max_suppression_ms / (24 * 3600 * 1000)) +
                     " days from now (set allow_beyond_max to say so)");
    }
    if (spec.rule_pattern.size() > kMaxIdBytes || spec.entity_pattern.size() > kMaxTextBytes ||
        spec.field.size() > kMaxIdBytes || spec.field_value.size() > kMaxTextBytes ||
        spec.reason.size() > kMaxTextBytes || spec.created_by.size() > kMaxIdBytes ||
        (spec.tenant && spec.tenant->size() > kMaxIdBytes)) {
      return invalid("a field is too long");
    }
    if (spec.field.empty() != spec.field_value.empty()) {
      return invalid("field and field_value go together");
    }
    RETURN_IF_ERROR(Begin());
    auto id = [&]() -> Result<int64_t> {
      ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                       Prepare("INSERT INTO suppressions (tenant, rule_pattern, entity_pattern, "
                               "field, field_value, reason, created_by, created_at, expires_at, "
                               "hits, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, "
                               "'active')"));
      Stmt s(raw);
      s.Bind(1, spec.tenant)
          .Bind(2, spec.rule_pattern)
          .Bind(3, spec.entity_pattern)
          .Bind(4, spec.field)
          .Bind(5, spec.field_value)
          .Bind(6, spec.reason)
          .Bind(7, spec.created_by)
          .Bind(8, now)
          .Bind(9, spec.expires_ms);
      if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("create suppression", rc);
      const int64_t id = sqlite3_last_insert_rowid(db_);
      boost::json::object details;
      details["tenant"] = spec.tenant ? Str(*spec.tenant) : boost::json::value(nullptr);
      details["rule_pattern"] = Str(spec.rule_pattern);
      details["entity_pattern"] = Str(spec.entity_pattern);
      details["field"] = Str(spec.field);
      details["field_value"] = Str(spec.field_value);
      details["reason"] = Str(spec.reason);
      details["expires_at"] = FormatTimeMs(spec.expires_ms);
      RETURN_IF_ERROR(AuditLocked(now, spec.created_by, "suppression.create",
                                  spec.tenant.value_or(""), 0, id, details));
      return id;
    }();
    if (!id) return Rollback(id.error());
    RETURN_IF_ERROR(Commit());
    RETURN_IF_ERROR(ReloadSuppressions());
    return *id;
  }

  Result<std::vector<Suppression>> ListSuppressions(const std::optional<std::string>& tenant,
                                                    bool include_inactive) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(ExpireInTransaction());
    ASSIGN_OR_RETURN(
        sqlite3_stmt * raw,
        Prepare("SELECT id, tenant, rule_pattern, entity_pattern, field, field_value, reason, "
                "created_by, created_at, expires_at, hits, state FROM suppressions WHERE (?1 IS "
                "NULL OR tenant = ?1) AND (?2 OR state = 'active') ORDER BY id DESC"));
    Stmt s(raw);
    s.Bind(1, tenant).Bind(2, int64_t{include_inactive ? 1 : 0});
    std::vector<Suppression> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadSuppression(s));
    if (rc != SQLITE_DONE) return Fail("list suppressions", rc);
    return out;
  }

  Status DeleteSuppression(int64_t id, std::string_view who,
                           const std::optional<std::string>& tenant) override {
    std::lock_guard lock(mu_);
    if (who.empty())
      return MakeError(Errc::kInvalidArgument, "delete suppression: who is required");
    const int64_t now = options_.clock_ms();
    RETURN_IF_ERROR(Begin());
    auto done = [&]() -> Status {
      ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                       Prepare("SELECT tenant, state FROM suppressions WHERE id = ?1 AND (?2 IS "
                               "NULL OR tenant = ?2)"));
      std::string state, owner;
      {
        Stmt s(raw);
        s.Bind(1, id).Bind(2, tenant);
        const int rc = s.Step();
        if (rc == SQLITE_DONE) {
          return MakeError(Errc::kNotFound, "suppression " + std::to_string(id) + " not found");
        }
        if (rc != SQLITE_ROW) return Fail("read suppression", rc);
        owner = s.Text(0);
        state = s.Text(1);
      }
      if (state == "deleted") {
        return MakeError(Errc::kInvalidArgument,
                         "suppression " + std::to_string(id) + " is already deleted");
      }
      ASSIGN_OR_RETURN(sqlite3_stmt * up,
                       Prepare("UPDATE suppressions SET state = 'deleted' WHERE id = ?1"));
      Stmt u(up);
      u.Bind(1, id);
      if (const int rc = u.Step(); rc != SQLITE_DONE) return Fail("delete suppression", rc);
      boost::json::object details;
      details["previous_state"] = Str(state);
      return AuditLocked(now, who, "suppression.delete", owner, 0, id, details);
    }();
    if (!done) return Rollback(done.error());
    RETURN_IF_ERROR(Commit());
    return ReloadSuppressions();
  }

  Result<int64_t> ExpireSuppressions() override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Begin());
    auto n = ExpireLocked(options_.clock_ms());
    if (!n) return Rollback(n.error());
    RETURN_IF_ERROR(Commit());
    if (*n > 0) RETURN_IF_ERROR(ReloadSuppressions());
    return n;
  }

  Status SaveAbsence(const std::vector<AbsenceEntity>& changes) override {
    if (changes.empty()) return {};
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Begin());
    auto done = [&]() -> Status {
      ASSIGN_OR_RETURN(
          sqlite3_stmt * upsert,
          Prepare("INSERT INTO absence_entities (rule, tenant, entity_values, last_seen, "
                  "last_seq, down) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (rule, tenant, "
                  "entity_values) DO UPDATE SET last_seen = ?4, last_seq = ?5, down = ?6"));
      ASSIGN_OR_RETURN(sqlite3_stmt * erase,
                       Prepare("DELETE FROM absence_entities WHERE rule = ?1 AND tenant = ?2 AND "
                               "entity_values = ?3"));
      for (const AbsenceEntity& e : changes) {
        if (e.values.empty() || e.values.size() > kMaxAbsenceValues ||
            e.rule.size() > kMaxAbsenceTextBytes || e.tenant.size() > kMaxAbsenceTextBytes) {
          return MakeError(Errc::kInvalidArgument,
                           "absence entity of rule " + Quote(e.rule) + ": bad shape");
        }
        boost::json::array values;
        for (const auto& v : e.values) values.push_back(Str(v));
        Stmt s(e.forget ? erase : upsert);
        s.Bind(1, e.rule).Bind(2, e.tenant).Bind(3, JsonText(values));
        if (!e.forget) {
          s.Bind(4, e.last_seen_ms)
              .Bind(5, static_cast<int64_t>(e.last_seq))
              .Bind(6, int64_t{e.down ? 1 : 0});
        }
        if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("save absence entity", rc);
      }
      return {};
    }();
    if (!done) return Rollback(done.error());
    return Commit();
  }

  Result<std::vector<AbsenceEntity>> LoadAbsence(size_t max_entities) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                     Prepare("SELECT rule, tenant, entity_values, last_seen, last_seq, down FROM "
                             "absence_entities ORDER BY rule, tenant, entity_values LIMIT ?1"));
    Stmt s(raw);
    s.Bind(1, static_cast<int64_t>(std::min<size_t>(max_entities, INT64_MAX)));
    std::vector<AbsenceEntity> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      AbsenceEntity e;
      e.rule = s.Text(0);
      e.tenant = s.Text(1);
      boost::system::error_code ec;
      const boost::json::value v = boost::json::parse(s.Text(2), ec);
      if (ec || !v.is_array() || v.as_array().empty() || v.as_array().size() > kMaxAbsenceValues) {
        continue;  // a damaged row: the entity is learned again from its next event
      }
      bool ok = true;
      for (const auto& x : v.as_array()) {
        if (!x.is_string() || x.get_string().size() > kMaxAbsenceTextBytes) {
          ok = false;
          break;
        }
        e.values.emplace_back(x.get_string());
      }
      if (!ok || e.rule.size() > kMaxAbsenceTextBytes) continue;
      e.last_seen_ms = s.Int(3);
      e.last_seq = static_cast<uint64_t>(std::max<int64_t>(0, s.Int(4)));
      e.down = s.Int(5) != 0;
      out.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return Fail("load absence entities", rc);
    return out;
  }

  Result<std::vector<AuditEntry>> ListAudit(const AuditFilter& f) override {
    std::lock_guard lock(mu_);
    ASSIGN_OR_RETURN(
        sqlite3_stmt * raw,
        Prepare("SELECT id, at, who, action, tenant, alert_id, suppression_id, details FROM audit "
                "WHERE (?1 IS NULL OR tenant = ?1) AND (?2 = 0 OR alert_id = ?2) AND (?3 = 0 OR "
                "suppression_id = ?3) ORDER BY id DESC LIMIT ?4 OFFSET ?5"));
    Stmt s(raw);
    s.Bind(1, f.tenant)
        .Bind(2, f.alert_id)
        .Bind(3, f.suppression_id)
        .Bind(4, static_cast<int64_t>(std::min(f.limit == 0 ? 100 : f.limit, kMaxAlertPage)))
        .Bind(5, static_cast<int64_t>(std::min<size_t>(f.offset, INT64_MAX)));
    std::vector<AuditEntry> out;
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) {
      AuditEntry e;
      e.id = s.Int(0);
      e.at_ms = s.Int(1);
      e.who = s.Text(2);
      e.action = s.Text(3);
      e.tenant = s.Text(4);
      e.alert_id = s.Int(5);
      e.suppression_id = s.Int(6);
      e.details = ParseObject(s.Text(7));
      out.push_back(std::move(e));
    }
    if (rc != SQLITE_DONE) return Fail("list audit", rc);
    return out;
  }

 private:
  static constexpr const char* kAlertColumns =
      "SELECT id, rule_id, rule_title, ruleset, tags, tenant, entity, terminal, level, severity, "
      "severity_reason, first_seen, last_seen, created, updated, count, evidence_count, status, "
      "assignee, group_key, context";

  Error Fail(std::string_view what, int rc) { return SqliteError(db_, options_.path, what, rc); }

  Error NotFoundAlert(int64_t id) {
    return MakeError(Errc::kNotFound, "alert " + std::to_string(id) + " not found");
  }

  Status Exec(const char* sql, std::string_view what) {
    char* msg = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
    if (rc == SQLITE_OK) return {};
    Error e = SqliteError(db_, options_.path, what, rc);
    if (msg != nullptr) {
      e.message = "alert store " + options_.path + ": " + std::string(what) + ": " + msg;
      sqlite3_free(msg);
    }
    return e;
  }

  // Statements are prepared once and kept (keyed by their text).
  Result<sqlite3_stmt*> Prepare(const std::string& sql) {
    if (const auto it = statements_.find(sql); it != statements_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) return Fail("prepare", rc);
    statements_.emplace(sql, stmt);
    return stmt;
  }

  Status Begin() { return Exec("BEGIN IMMEDIATE", "begin transaction"); }
  Status Commit() { return Exec("COMMIT", "commit"); }
  // Rolls back and returns `e`; the in-memory suppression cache is rebuilt, since hits and
  // expiries counted in the failed transaction are gone with it.
  Error Rollback(Error e) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    (void)ReloadSuppressions();
    return e;
  }

  Status Migrate() {
    int version = 0;
    {
      sqlite3_stmt* raw = nullptr;
      int rc = sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &raw, nullptr);
      if (rc != SQLITE_OK) return Fail("read schema version", rc);
      rc = sqlite3_step(raw);
      if (rc == SQLITE_ROW) version = sqlite3_column_int(raw, 0);
      sqlite3_finalize(raw);
      if (rc != SQLITE_ROW) return Fail("read schema version", rc);
    }
    if (version > kAlertSchemaVersion) {
      return MakeError(Errc::kInvalidArgument, "alert store " + options_.path +
                                                   ": schema version " + std::to_string(version) +
                                                   " is newer than this seccloud's (" +
                                                   std::to_string(kAlertSchemaVersion) + ")");
    }
    for (int v = version; v < kAlertSchemaVersion; ++v) {
      RETURN_IF_ERROR(Begin());
      Status step = Exec(kMigrations[static_cast<size_t>(v)], "migrate schema");
      if (step) {
        const std::string set = "PRAGMA user_version=" + std::to_string(v + 1);
        step = Exec(set.c_str(), "set schema version");
      }
      if (!step) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        return step;
      }
      RETURN_IF_ERROR(Commit());
    }
    return {};
  }

  Status ReloadSuppressions() {
    active_.clear();
    ASSIGN_OR_RETURN(
        sqlite3_stmt * raw,
        Prepare("SELECT id, tenant, rule_pattern, entity_pattern, field, field_value, reason, "
                "created_by, created_at, expires_at, hits, state FROM suppressions WHERE state = "
                "'active' ORDER BY id"));
    Stmt s(raw);
    int rc;
    while ((rc = s.Step()) == SQLITE_ROW) active_.push_back(ReadSuppression(s));
    if (rc != SQLITE_DONE) return Fail("read suppressions", rc);
    return {};
  }

  static Suppression ReadSuppression(Stmt& s) {
    Suppression x;
    x.id = s.Int(0);
    if (!s.IsNull(1)) x.tenant = s.Text(1);
    x.rule_pattern = s.Text(2);
    x.entity_pattern = s.Text(3);
    x.field = s.Text(4);
    x.field_value = s.Text(5);
    x.reason = s.Text(6);
    x.created_by = s.Text(7);
    x.created_ms = s.Int(8);
    x.expires_ms = s.Int(9);
    x.hits = s.Int(10);
    x.state = s.Text(11);
    return x;
  }

  static Alert ReadAlert(Stmt& s) {
    Alert a;
    a.id = s.Int(0);
    a.rule_id = s.Text(1);
    a.rule_title = s.Text(2);
    a.ruleset = s.Text(3);
    {
      boost::system::error_code ec;
      auto tags = boost::json::parse(s.Text(4), ec);
      if (!ec && tags.is_array()) {
        for (const auto& t : tags.as_array()) {
          if (t.is_string()) a.tags.emplace_back(t.as_string());
        }
      }
    }
    a.tenant = s.Text(5);
    a.entity = s.Text(6);
    a.terminal = s.Text(7);
    a.level = static_cast<Level>(std::clamp<int64_t>(s.Int(8), 0, 4));
    a.severity = static_cast<Level>(std::clamp<int64_t>(s.Int(9), 0, 4));
    a.severity_reason = s.Text(10);
    a.first_seen_ms = s.Int(11);
    a.last_seen_ms = s.Int(12);
    a.created_ms = s.Int(13);
    a.updated_ms = s.Int(14);
    a.count = s.Int(15);
    a.evidence_count = s.Int(16);
    ParseAlertStatusName(s.Text(17), &a.status);
    a.assignee = s.Text(18);
    a.group_key = s.Text(19);
    a.context = ParseObject(s.Text(20));
    return a;
  }

  Status AuditLocked(int64_t at, std::string_view who, std::string_view action,
                     std::string_view tenant, int64_t alert_id, int64_t suppression_id,
                     const boost::json::object& details) {
    ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                     Prepare("INSERT INTO audit (at, who, action, tenant, alert_id, "
                             "suppression_id, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    Stmt s(raw);
    s.Bind(1, at).Bind(2, who).Bind(3, action).Bind(4, tenant);
    if (alert_id != 0) s.Bind(5, alert_id);
    if (suppression_id != 0) s.Bind(6, suppression_id);
    s.Bind(7, JsonText(details));
    if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("write audit entry", rc);
    return {};
  }

  Result<int64_t> ExpireLocked(int64_t now) {
    std::vector<std::pair<int64_t, std::pair<std::string, int64_t>>> due;
    {
      ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                       Prepare("SELECT id, tenant, expires_at FROM suppressions WHERE state = "
                               "'active' AND expires_at <= ?1"));
      Stmt s(raw);
      s.Bind(1, now);
      int rc;
      while ((rc = s.Step()) == SQLITE_ROW) due.push_back({s.Int(0), {s.Text(1), s.Int(2)}});
      if (rc != SQLITE_DONE) return Fail("find expired suppressions", rc);
    }
    for (const auto& [id, rest] : due) {
      ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                       Prepare("UPDATE suppressions SET state = 'expired' WHERE id = ?1"));
      {
        Stmt s(raw);
        s.Bind(1, id);
        if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("expire suppression", rc);
      }
      boost::json::object details;
      details["expires_at"] = FormatTimeMs(rest.second);
      RETURN_IF_ERROR(AuditLocked(now, "system", "suppression.expire", rest.first, 0, id, details));
    }
    return static_cast<int64_t>(due.size());
  }

  Status ExpireInTransaction() {
    const int64_t now = options_.clock_ms();
    const bool any = std::any_of(active_.begin(), active_.end(),
                                 [&](const Suppression& x) { return x.expires_ms <= now; });
    if (!any) return {};
    RETURN_IF_ERROR(Begin());
    auto n = ExpireLocked(now);
    if (!n) return Rollback(n.error());
    RETURN_IF_ERROR(Commit());
    return ReloadSuppressions();
  }

  Suppression* MatchSuppression(const Detection& d, int64_t now) {
    for (auto& x : active_) {
      if (x.expires_ms <= now) continue;
      if (x.tenant && *x.tenant != d.tenant) continue;
      if (!GlobMatch(x.rule_pattern, d.rule_id)) continue;
      if (!x.entity_pattern.empty() && !GlobMatch(x.entity_pattern, d.entity)) continue;
      if (!x.field.empty()) {
        std::string_view value;
        if (x.field == "terminal") {
          value = d.terminal;
        } else if (x.field == "entity") {
          value = d.entity;
        } else {
          const auto* v = FindField(d.context, x.field);
          if (v == nullptr || !v->is_string()) continue;
          value = std::string_view(v->as_string());
        }
        if (value != x.field_value) continue;
      }
      return &x;
    }
    return nullptr;
  }

  static std::string GroupKey(const Detection& d) {
    std::string group_key;
    group_key.reserve(d.tenant.size() + d.rule_id.size() + d.entity.size() + 2);
    group_key.append(d.tenant).push_back('\x1f');
    group_key.append(d.rule_id).push_back('\x1f');
    group_key.append(d.entity);
    return group_key;
  }

  // A recovery closes the group's open alert (there is at most one that is not closed).
  Result<IngestOutcome> ResolveLocked(const Detection& d, int64_t now, int64_t t) {
    IngestOutcome outcome;
    outcome.kind = IngestOutcome::Kind::kResolved;
    outcome.severity = d.level;
    int64_t alert_id = 0;
    {
      ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                       Prepare("SELECT id FROM alerts WHERE group_key = ?1 AND status != 'closed' "
                               "ORDER BY last_seen DESC LIMIT 1"));
      Stmt s(raw);
      s.Bind(1, GroupKey(d));
      const int rc = s.Step();
      if (rc == SQLITE_ROW) {
        alert_id = s.Int(0);
      } else if (rc != SQLITE_DONE) {
        return Fail("find alert group", rc);
      }
    }
    if (alert_id == 0) return outcome;  // suppressed, or closed by an analyst already
    outcome.alert_id = alert_id;
    const std::string recovered = FormatTimeMs(t);
    {
      ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                       Prepare("UPDATE alerts SET status = 'closed', updated = ?2, context = "
                               "json_set(context, '$.\"absence.recovered\"', ?3) WHERE id = ?1"));
      Stmt s(raw);
      s.Bind(1, alert_id).Bind(2, now).Bind(3, recovered);
      if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("close recovered alert", rc);
    }
    if (!d.evidence.empty()) {
      ASSIGN_OR_RETURN(
          sqlite3_stmt * raw,
          Prepare("INSERT OR IGNORE INTO alert_evidence (alert_id, seq) VALUES (?1, ?2)"));
      Stmt s(raw);
      s.Bind(1, alert_id).Bind(2, static_cast<int64_t>(d.evidence.front()));
      if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("insert evidence", rc);
    }
    boost::json::object details;
    details["to"] = "closed";
    details["reason"] = "recovered: matching events resumed at " + recovered;
    if (!d.evidence.empty()) details["evidence"] = d.evidence.front();
    if (const auto* silent = d.context.if_contains("absence.silent_ms")) {
      details["silent_ms"] = *silent;
    }
    RETURN_IF_ERROR(AuditLocked(now, "system", "alert.recover", d.tenant, alert_id, 0, details));
    return outcome;
  }

  Result<IngestOutcome> AddLocked(const Detection& d) {
    RETURN_IF_ERROR(ValidateDetection(d));
    const int64_t now = options_.clock_ms();
    const int64_t t = d.time_ms != 0 ? d.time_ms : now;
    if (d.resolves) return ResolveLocked(d, now, t);
    IngestOutcome outcome;

    // Lazily expire (and audit) suppressions whose time has come.
    if (std::any_of(active_.begin(), active_.end(),
                    [&](const Suppression& x) { return x.expires_ms <= now; })) {
      ASSIGN_OR_RETURN(int64_t expired, ExpireLocked(now));
      (void)expired;
      active_.erase(std::remove_if(active_.begin(), active_.end(),
                                   [&](const Suppression& x) { return x.expires_ms <= now; }),
                    active_.end());
    }
    if (Suppression* x = MatchSuppression(d, now)) {
      ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                       Prepare("UPDATE suppressions SET hits = hits + 1 WHERE id = ?1"));
      Stmt s(raw);
      s.Bind(1, x->id);
      if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("count suppression hit", rc);
      ++x->hits;
      outcome.kind = IngestOutcome::Kind::kSuppressed;
      outcome.suppression_id = x->id;
      return outcome;
    }

    const SeverityRating rating = Rate(d, policy_);
    outcome.severity = rating.severity;
    const std::string group_key = GroupKey(d);

    // The most recent alert of the group that is not closed.
    int64_t alert_id = 0, first_seen = 0, last_seen = 0, severity = 0, level = 0, kept = 0;
    {
      ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                       Prepare("SELECT id, first_seen, last_seen, severity, level, evidence_kept "
                               "FROM alerts WHERE group_key = ?1 AND status != 'closed' ORDER BY "
                               "last_seen DESC LIMIT 1"));
      Stmt s(raw);
      s.Bind(1, group_key);
      const int rc = s.Step();
      if (rc == SQLITE_ROW) {
        alert_id = s.Int(0);
        first_seen = s.Int(1);
        last_seen = s.Int(2);
        severity = s.Int(3);
        level = s.Int(4);
        kept = s.Int(5);
      } else if (rc != SQLITE_DONE) {
        return Fail("find alert group", rc);
      }
    }
    const int64_t window = options_.group_window_ms;
    const bool grouped = alert_id != 0 && t <= last_seen + window && t >= first_seen - window;

    if (grouped) {
      const bool raise = static_cast<int64_t>(rating.severity) > severity;
      ASSIGN_OR_RETURN(
          sqlite3_stmt * raw,
          Prepare("UPDATE alerts SET count = count + 1, last_seen = max(last_seen, ?2), "
                  "first_seen = min(first_seen, ?3), updated = ?4, evidence_count = "
                  "evidence_count + ?5, level = max(level, ?6), severity = CASE WHEN ?7 THEN ?8 "
                  "ELSE severity END, severity_reason = CASE WHEN ?7 THEN ?9 ELSE "
                  "severity_reason END WHERE id = ?1"));
      Stmt s(raw);
      s.Bind(1, alert_id)
          .Bind(2, t)
          .Bind(3, t)
          .Bind(4, now)
          .Bind(5, static_cast<int64_t>(d.evidence.size()))
          .Bind(6, std::max<int64_t>(level, static_cast<int64_t>(d.level)))
          .Bind(7, int64_t{raise ? 1 : 0})
          .Bind(8, static_cast<int64_t>(rating.severity))
          .Bind(9, rating.reason);
      if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("update alert", rc);
      outcome.kind = IngestOutcome::Kind::kGrouped;
      outcome.severity = raise ? rating.severity : static_cast<Level>(severity);
    } else {
      boost::json::array tags;
      for (const auto& tag : d.tags) tags.push_back(Str(tag));
      std::string context = JsonText(d.context);
      if (context.size() > kMaxContextBytes) {
        boost::json::object note;
        SetField(note, "seccloud.context_dropped",
                 Str("the detection's context (" + std::to_string(context.size()) +
                     " bytes) exceeded " + std::to_string(kMaxContextBytes) + " bytes"));
        context = JsonText(note);
      }
      ASSIGN_OR_RETURN(
          sqlite3_stmt * raw,
          Prepare("INSERT INTO alerts (rule_id, rule_title, ruleset, tags, tenant, entity, "
                  "terminal, level, severity, severity_reason, first_seen, last_seen, created, "
                  "updated, count, evidence_count, evidence_kept, status, assignee, group_key, "
                  "context) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?12, "
                  "1, ?13, 0, 'open', '', ?14, ?15)"));
      Stmt s(raw);
      s.Bind(1, d.rule_id)
          .Bind(2, d.rule_title)
          .Bind(3, d.ruleset)
          .Bind(4, JsonText(tags))
          .Bind(5, d.tenant)
          .Bind(6, d.entity)
          .Bind(7, d.terminal)
          .Bind(8, static_cast<int64_t>(d.level))
          .Bind(9, static_cast<int64_t>(rating.severity))
          .Bind(10, rating.reason)
          .Bind(11, t)
          .Bind(12, now)
          .Bind(13, static_cast<int64_t>(d.evidence.size()))
          .Bind(14, group_key)
          .Bind(15, context);
      if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("insert alert", rc);
      alert_id = sqlite3_last_insert_rowid(db_);
      kept = 0;
      outcome.kind = IngestOutcome::Kind::kNewAlert;
    }
    outcome.alert_id = alert_id;

    // Evidence: the first max_evidence_per_alert distinct seqs are kept, all are counted.
    int64_t added = 0;
    if (!d.evidence.empty() && kept < static_cast<int64_t>(options_.max_evidence_per_alert)) {
      ASSIGN_OR_RETURN(
          sqlite3_stmt * raw,
          Prepare("INSERT OR IGNORE INTO alert_evidence (alert_id, seq) VALUES (?1, ?2)"));
      for (uint64_t seq : d.evidence) {
        if (kept + added >= static_cast<int64_t>(options_.max_evidence_per_alert)) break;
        Stmt s(raw);
        s.Bind(1, alert_id).Bind(2, static_cast<int64_t>(seq));
        if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("insert evidence", rc);
        added += sqlite3_changes(db_);
      }
    }
    if (added > 0) {
      ASSIGN_OR_RETURN(
          sqlite3_stmt * raw,
          Prepare("UPDATE alerts SET evidence_kept = evidence_kept + ?2 WHERE id = ?1"));
      Stmt s(raw);
      s.Bind(1, alert_id).Bind(2, added);
      if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("count evidence", rc);
    }
    return outcome;
  }

  Status ChangeStatus(int64_t id, std::string_view who, std::string_view action, AlertStatus to,
                      std::string_view text_key, std::string_view text,
                      const std::optional<std::string>& tenant) {
    std::lock_guard lock(mu_);
    if (who.empty())
      return MakeError(Errc::kInvalidArgument, std::string(action) + ": who is required");
    if (who.size() > kMaxIdBytes || text.size() > kMaxTextBytes) {
      return MakeError(Errc::kInvalidArgument, std::string(action) + ": argument too long");
    }
    if (to == AlertStatus::kClosed && text.empty()) {
      return MakeError(Errc::kInvalidArgument, "closing an alert needs a reason");
    }
    const int64_t now = options_.clock_ms();
    RETURN_IF_ERROR(Begin());
    auto done = [&]() -> Status {
      std::string status, owner, assignee;
      {
        ASSIGN_OR_RETURN(sqlite3_stmt * raw,
                         Prepare("SELECT status, tenant, assignee FROM alerts WHERE id = ?1 AND "
                                 "(?2 IS NULL OR tenant = ?2)"));
        Stmt s(raw);
        s.Bind(1, id).Bind(2, tenant);
        const int rc = s.Step();
        if (rc == SQLITE_DONE) return NotFoundAlert(id);
        if (rc != SQLITE_ROW) return Fail("read alert", rc);
        status = s.Text(0);
        owner = s.Text(1);
        assignee = s.Text(2);
      }
      if (status == "closed") {
        return MakeError(Errc::kInvalidArgument, "alert " + std::to_string(id) + " is closed");
      }
      {
        ASSIGN_OR_RETURN(
            sqlite3_stmt * raw,
            Prepare("UPDATE alerts SET status = ?2, assignee = CASE WHEN ?3 != '' THEN ?3 ELSE "
                    "assignee END, updated = ?4 WHERE id = ?1"));
        Stmt s(raw);
        s.Bind(1, id)
            .Bind(2, kStatusNames[static_cast<size_t>(to)])
            .Bind(3, to == AlertStatus::kAcknowledged ? who : std::string_view())
            .Bind(4, now);
        if (const int rc = s.Step(); rc != SQLITE_DONE) return Fail("update alert", rc);
      }
      boost::json::object details;
      details["from"] = Str(status);
      details["to"] = kStatusNames[static_cast<size_t>(to)];
      details[text_key] = Str(text);
      if (to == AlertStatus::kAcknowledged && assignee != who) {
        details["previous_assignee"] = Str(assignee);
      }
      return AuditLocked(now, who, action, owner, id, 0, details);
    }();
    if (!done) return Rollback(done.error());
    return Commit();
  }

  AlertStoreOptions options_;
  ParsedPolicy policy_;
  std::mutex mu_;
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
  std::vector<Suppression> active_;  // mirror of the active rows, for matching without a query
};

}  // namespace

const char* AlertStatusName(AlertStatus status) {
  const auto i = static_cast<size_t>(status);
  return i < kStatusNames.size() ? kStatusNames[i] : "unknown";
}

bool ParseAlertStatusName(std::string_view name, AlertStatus* out) {
  for (size_t i = 0; i < kStatusNames.size(); ++i) {
    if (name == kStatusNames[i]) {
      *out = static_cast<AlertStatus>(i);
      return true;
    }
  }
  return false;
}

Result<SeverityRating> RateSeverity(const Detection& detection, const AlertPolicy& policy) {
  ASSIGN_OR_RETURN(ParsedPolicy parsed, ParsePolicy(policy));
  return Rate(detection, parsed);
}

Result<std::unique_ptr<AlertStore>> OpenAlertStore(const AlertStoreOptions& options) {
  if (options.path.empty()) {
    return MakeError(Errc::kInvalidArgument, "alert store: a database path is required");
  }
  if (options.group_window_ms < 0 || options.max_suppression_ms <= 0) {
    return MakeError(Errc::kInvalidArgument,
                     "alert store: the grouping window and the suppression bound must be positive");
  }
  ASSIGN_OR_RETURN(ParsedPolicy policy, ParsePolicy(options.policy));
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(options.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = SqliteError(db, options.path, "open", rc);
    sqlite3_close(db);
    return e;
  }
  sqlite3_extended_result_codes(db, 1);
  auto store = std::make_unique<SqliteAlertStore>(options, std::move(policy), db);
  RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<AlertStore>(std::move(store));
}

}  // namespace seccloud::soc
