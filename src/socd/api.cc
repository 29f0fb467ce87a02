#include "socd/api.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <optional>

#include "core/event.h"
#include "core/text.h"

namespace seccloud::socd {
namespace {

namespace json = boost::json;

// Bounds on what one request may ask for.
constexpr size_t kMaxSearchResults = 10'000;
constexpr size_t kDefaultSearchResults = 100;
constexpr size_t kMaxSeqsPerRequest = 1'000;

net::HttpReply Json(int status, const json::value& v) {
  return {status, "application/json", json::serialize(v) + "\n"};
}

net::HttpReply Problem(int status, std::string_view message) {
  return Json(status, json::object{{"error", message}});
}

using Params = std::map<std::string, std::string, std::less<>>;

std::optional<Params> QueryParams(const std::string& target, std::string* why) {
  auto u = boost::urls::parse_origin_form(target);
  if (!u) {
    *why = "the request target is not a valid URL: " + u.error().message();
    return std::nullopt;
  }
  Params out;
  for (auto p : u->params()) {
    if (out.size() >= 32) {
      *why = "too many query parameters";
      return std::nullopt;
    }
    out[std::string(p.key)] = std::string(p.value);
  }
  return out;
}

std::optional<std::string> Param(const Params& p, std::string_view key) {
  auto it = p.find(key);
  if (it == p.end()) return std::nullopt;
  return it->second;
}

bool ParseCount(std::string_view s, size_t max, size_t* out) {
  size_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v > max) return false;
  *out = v;
  return true;
}

bool ParseId(std::string_view s, int64_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && *out > 0;
}

std::optional<std::string> Scope(const Params& p) { return Param(p, "tenant"); }

json::object RecordJson(const soc::Record& r) {
  json::object o;
  o["seq"] = r.seq;
  o["time"] = soc::FormatTimeMs(r.time_ms);
  o["source"] = r.source;
  o["format"] = soc::FormatName(r.format);
  if (!r.tenant.empty()) o["tenant"] = r.tenant;
  if (!r.peer.empty()) o["peer"] = r.peer;
  o["parsed"] = r.parsed;
  if (r.truncated) o["truncated"] = true;
  o["raw"] = SanitizeUtf8(r.raw);
  o["fields"] = r.fields;
  return o;
}

json::object AlertJson(const soc::Alert& a) {
  json::object o;
  o["id"] = a.id;
  o["rule_id"] = a.rule_id;
  o["rule_title"] = a.rule_title;
  o["ruleset"] = a.ruleset;
  json::array tags;
  for (const auto& t : a.tags) tags.emplace_back(t);
  o["tags"] = std::move(tags);
  if (!a.tenant.empty()) o["tenant"] = a.tenant;
  o["entity"] = a.entity;
  if (!a.terminal.empty()) o["terminal"] = a.terminal;
  o["level"] = soc::LevelName(a.level);
  o["severity"] = soc::LevelName(a.severity);
  o["severity_reason"] = a.severity_reason;
  o["first_seen"] = soc::FormatTimeMs(a.first_seen_ms);
  o["last_seen"] = soc::FormatTimeMs(a.last_seen_ms);
  o["count"] = a.count;
  o["evidence_count"] = a.evidence_count;
  o["status"] = soc::AlertStatusName(a.status);
  if (!a.assignee.empty()) o["assignee"] = a.assignee;
  o["context"] = a.context;
  if (!a.evidence.empty()) {
    json::array ev;
    for (uint64_t s : a.evidence) ev.emplace_back(s);
    o["evidence"] = std::move(ev);
  }
  return o;
}

int StatusOf(const Error& e) {
  switch (e.code) {
    case Errc::kInvalidArgument:
      return 400;
    case Errc::kNotFound:
      return 404;
    case Errc::kPermissionDenied:
      return 403;
    default:
      return 500;
  }
}

// The JSON object of a POST body, or a reply explaining why not.
std::optional<json::object> Body(const net::AdminRequest& req, net::HttpReply* error) {
  boost::system::error_code ec;
  json::value v = json::parse(req.body, ec);
  if (ec || !v.is_object()) {
    *error = Problem(400, "the body must be one JSON object");
    return std::nullopt;
  }
  return std::move(v.as_object());
}

std::string StringOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<std::string> OptionalStringOf(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v && v->is_string()) return std::string(v->get_string());
  return std::nullopt;
}

int64_t IdOf(const json::object& o) {
  const auto* v = o.if_contains("id");
  if (v && v->is_int64()) return v->get_int64();
  if (v && v->is_uint64() && v->get_uint64() <= INT64_MAX)
    return static_cast<int64_t>(v->get_uint64());
  return 0;
}

}  // namespace

bool ParseTimeBound(std::string_view text, int64_t now_ms, int64_t* out) {
  if (auto d = ParseDuration(text)) {
    *out = now_ms - d->count();
    return true;
  }
  return soc::ParseRfc3339Ms(text, out);
}

void RegisterApi(net::AdminServer& server, std::shared_ptr<ApiContext> ctx) {
  server.Route("GET", "/api/v1/search", [ctx](const net::AdminRequest& req) {
    std::string why;
    auto p = QueryParams(req.target, &why);
    if (!p) return Problem(400, why);
    auto q = soc::ParseQuery(Param(*p, "q").value_or(""));
    if (!q) return Problem(400, "q: " + q.error().message);
    soc::SearchOptions o;
    o.limit = kDefaultSearchResults;
    const int64_t now = ctx->now_ms();
    if (auto s = Param(*p, "since"); s && !ParseTimeBound(*s, now, &o.since_ms))
      return Problem(400, "since: " + Quote(*s) + " is not a duration (30d, 12h) or RFC 3339 time");
    if (auto s = Param(*p, "until"); s && !ParseTimeBound(*s, now, &o.until_ms))
      return Problem(400, "until: " + Quote(*s) + " is not a duration (30d, 12h) or RFC 3339 time");
    if (auto s = Param(*p, "limit"); s && !ParseCount(*s, kMaxSearchResults, &o.limit))
      return Problem(400, "limit: a number from 0 to " + std::to_string(kMaxSearchResults));
    if (auto s = Param(*p, "order")) {
      if (*s != "asc" && *s != "desc") return Problem(400, "order: asc or desc");
      o.newest_first = *s == "desc";
    }
    if (auto t = Scope(*p)) o.tenants.push_back(*t);
    // Paging: `after` is the "time.seq" cursor of the last record of the previous page. Records
    // of one millisecond come in seq order, so the ones to skip are at most one page's worth.
    int64_t after_time = 0;
    uint64_t after_seq = 0;
    bool paging = false;
    if (auto a = Param(*p, "after")) {
      const size_t dot = a->find('.');
      const char* end = a->data() + a->size();
      if (dot == std::string::npos ||
          std::from_chars(a->data(), a->data() + dot, after_time).ptr != a->data() + dot ||
          std::from_chars(a->data() + dot + 1, end, after_seq).ptr != end)
        return Problem(400, "after: the \"next\" cursor of a previous page (TIME.SEQ)");
      paging = true;
      if (o.newest_first)
        o.until_ms = std::min(o.until_ms, after_time + 1);
      else
        o.since_ms = std::max(o.since_ms, after_time);
    }
    const size_t want = o.limit;
    if (paging) o.limit = want * 2;
    json::array records;
    std::string next;  // the cursor after the last record delivered
    auto stats = ctx->store->Search(*q, o, [&](const soc::Record& r) {
      if (paging && r.time_ms == after_time &&
          (o.newest_first ? r.seq >= after_seq : r.seq <= after_seq))
        return true;
      if (records.size() >= want) return false;
      records.push_back(RecordJson(r));
      next = std::to_string(r.time_ms) + "." + std::to_string(r.seq);
      return true;
    });
    if (!stats) return Problem(StatusOf(stats.error()), stats.error().message);
    json::object out;
    out["query"] = q->ToString();
    out["count"] = records.size();
    const bool full = records.size() >= want && want > 0;
    out["truncated"] = full;
    if (full) out["next"] = next;
    out["blocks_total"] = stats->blocks_total;
    out["blocks_read"] = stats->blocks_read;
    out["records_scanned"] = stats->records_scanned;
    out["records"] = std::move(records);
    return Json(200, out);
  });

  server.Route("GET", "/api/v1/records", [ctx](const net::AdminRequest& req) {
    std::string why;
    auto p = QueryParams(req.target, &why);
    if (!p) return Problem(400, why);
    std::vector<uint64_t> seqs;
    const std::string seq_param = Param(*p, "seq").value_or("");
    std::string_view list = seq_param;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      uint64_t s = 0;
      auto r = std::from_chars(item.data(), item.data() + item.size(), s);
      if (r.ec != std::errc() || r.ptr != item.data() + item.size() || s == 0)
        return Problem(400, "seq: " + Quote(item) + " is not a record number");
      if (seqs.size() >= kMaxSeqsPerRequest)
        return Problem(400, "seq: at most " + std::to_string(kMaxSeqsPerRequest) + " per request");
      seqs.push_back(s);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    if (seqs.empty()) return Problem(400, "seq: give one or more record numbers, comma-separated");
    auto got = ctx->store->GetBySeq(seqs);
    if (!got) return Problem(StatusOf(got.error()), got.error().message);
    const auto scope = Scope(*p);
    json::array out;
    for (const soc::Record& r : *got)
      if (!scope || r.tenant == *scope) out.push_back(RecordJson(r));
    return Json(200, json::object{{"records", std::move(out)}});
  });

  server.Route("GET", "/api/v1/alerts", [ctx](const net::AdminRequest& req) {
    std::string why;
    auto p = QueryParams(req.target, &why);
    if (!p) return Problem(400, why);
    soc::AlertFilter f;
    f.tenant = Scope(*p);
    if (auto s = Param(*p, "status")) {
      soc::AlertStatus st;
      if (!soc::ParseAlertStatusName(*s, &st))
        return Problem(400, "status: open, acknowledged or closed");
      f.status = st;
    }
    if (auto s = Param(*p, "severity")) {
      soc::Level l;
      if (!soc::ParseLevelName(*s, &l))
        return Problem(400, "severity: informational, low, medium, high or critical");
      f.min_severity = l;
    }
    f.rule_id = Param(*p, "rule").value_or("");
    const int64_t now = ctx->now_ms();
    if (auto s = Param(*p, "since"); s && !ParseTimeBound(*s, now, &f.since_ms))
      return Problem(400, "since: not a duration or RFC 3339 time");
    if (auto s = Param(*p, "limit"); s && !ParseCount(*s, soc::kMaxAlertPage, &f.limit))
      return Problem(400, "limit: a number from 0 to " + std::to_string(soc::kMaxAlertPage));
    if (auto s = Param(*p, "offset"); s && !ParseCount(*s, SIZE_MAX, &f.offset))
      return Problem(400, "offset: a number");
    auto list = ctx->alerts->ListAlerts(f);
    if (!list) return Problem(StatusOf(list.error()), list.error().message);
    json::array out;
    for (const soc::Alert& a : *list) out.push_back(AlertJson(a));
    return Json(200, json::object{{"alerts", std::move(out)}});
  });

  server.Route("GET", "/api/v1/alert", [ctx](const net::AdminRequest& req) {
    std::string why;
    auto p = QueryParams(req.target, &why);
    if (!p) return Problem(400, why);
    int64_t id = 0;
    if (!ParseId(Param(*p, "id").value_or(""), &id)) return Problem(400, "id: an alert number");
    auto a = ctx->alerts->GetAlert(id, Scope(*p));
    if (!a) return Problem(StatusOf(a.error()), a.error().message);
    return Json(200, AlertJson(*a));
  });

  auto alert_action = [ctx](bool close) {
    return [ctx, close](const net::AdminRequest& req) {
      net::HttpReply err;
      auto b = Body(req, &err);
      if (!b) return err;
      const int64_t id = IdOf(*b);
      const std::string by = StringOf(*b, "by");
      if (id <= 0) return Problem(400, "id: an alert number");
      if (by.empty()) return Problem(400, "by: who acts is required (it is audited)");
      const auto scope = OptionalStringOf(*b, "tenant");
      Status st = close ? ctx->alerts->Close(id, by, StringOf(*b, "reason"), scope)
                        : ctx->alerts->Acknowledge(id, by, StringOf(*b, "note"), scope);
      if (!st) return Problem(StatusOf(st.error()), st.error().message);
      auto a = ctx->alerts->GetAlert(id, scope);
      if (!a) return Problem(StatusOf(a.error()), a.error().message);
      return Json(200, AlertJson(*a));
    };
  };
  server.Route("POST", "/api/v1/alerts/ack", alert_action(false));
  server.Route("POST", "/api/v1/alerts/close", alert_action(true));

  server.Route("GET", "/api/v1/suppressions", [ctx](const net::AdminRequest& req) {
    std::string why;
    auto p = QueryParams(req.target, &why);
    if (!p) return Problem(400, why);
    auto list = ctx->alerts->ListSuppressions(Scope(*p), Param(*p, "all").has_value());
    if (!list) return Problem(StatusOf(list.error()), list.error().message);
    json::array out;
    for (const soc::Suppression& s : *list) {
      json::object o;
      o["id"] = s.id;
      if (s.tenant) o["tenant"] = *s.tenant;
      o["rule"] = s.rule_pattern;
      if (!s.entity_pattern.empty()) o["entity"] = s.entity_pattern;
      if (!s.field.empty()) o["field"] = s.field;
      if (!s.field_value.empty()) o["value"] = s.field_value;
      o["reason"] = s.reason;
      o["by"] = s.created_by;
      o["created"] = soc::FormatTimeMs(s.created_ms);
      o["expires"] = soc::FormatTimeMs(s.expires_ms);
      o["hits"] = s.hits;
      o["state"] = s.state;
      out.push_back(std::move(o));
    }
    return Json(200, json::object{{"suppressions", std::move(out)}});
  });

  server.Route("POST", "/api/v1/suppressions", [ctx](const net::AdminRequest& req) {
    net::HttpReply err;
    auto b = Body(req, &err);
    if (!b) return err;
    soc::SuppressionSpec s;
    s.tenant = OptionalStringOf(*b, "tenant");
    s.rule_pattern = StringOf(*b, "rule");
    s.entity_pattern = StringOf(*b, "entity");
    s.field = StringOf(*b, "field");
    s.field_value = StringOf(*b, "value");
    s.reason = StringOf(*b, "reason");
    s.created_by = StringOf(*b, "by");
    const std::string expires = StringOf(*b, "expires");
    const int64_t now = ctx->now_ms();
    if (auto d = ParseDuration(expires)) {
      s.expires_ms = now + d->count();
    } else if (!soc::ParseRfc3339Ms(expires, &s.expires_ms)) {
      return Problem(400, "expires: a duration from now (7d) or an RFC 3339 time is required");
    }
    auto id = ctx->alerts->Suppress(s, s.tenant);
    if (!id) return Problem(StatusOf(id.error()), id.error().message);
    return Json(200, json::object{{"id", *id}});
  });

  server.Route("POST", "/api/v1/suppressions/delete", [ctx](const net::AdminRequest& req) {
    net::HttpReply err;
    auto b = Body(req, &err);
    if (!b) return err;
    const int64_t id = IdOf(*b);
    const std::string by = StringOf(*b, "by");
    if (id <= 0) return Problem(400, "id: a suppression number");
    if (by.empty()) return Problem(400, "by: who acts is required (it is audited)");
    auto st = ctx->alerts->DeleteSuppression(id, by, OptionalStringOf(*b, "tenant"));
    if (!st) return Problem(StatusOf(st.error()), st.error().message);
    return Json(200, json::object{{"deleted", id}});
  });

  server.Route("GET", "/api/v1/audit", [ctx](const net::AdminRequest& req) {
    std::string why;
    auto p = QueryParams(req.target, &why);
    if (!p) return Problem(400, why);
    soc::AuditFilter f;
    f.tenant = Scope(*p);
    if (auto s = Param(*p, "alert"); s && !ParseId(*s, &f.alert_id))
      return Problem(400, "alert: an alert number");
    if (auto s = Param(*p, "suppression"); s && !ParseId(*s, &f.suppression_id))
      return Problem(400, "suppression: a suppression number");
    if (auto s = Param(*p, "limit"); s && !ParseCount(*s, soc::kMaxAlertPage, &f.limit))
      return Problem(400, "limit: a number");
    auto list = ctx->alerts->ListAudit(f);
    if (!list) return Problem(StatusOf(list.error()), list.error().message);
    json::array out;
    for (const soc::AuditEntry& e : *list) {
      json::object o;
      o["id"] = e.id;
      o["at"] = soc::FormatTimeMs(e.at_ms);
      o["who"] = e.who;
      o["action"] = e.action;
      if (!e.tenant.empty()) o["tenant"] = e.tenant;
      if (e.alert_id) o["alert"] = e.alert_id;
      if (e.suppression_id) o["suppression"] = e.suppression_id;
      o["details"] = e.details;
      out.push_back(std::move(o));
    }
    return Json(200, json::object{{"audit", std::move(out)}});
  });

  server.Route("GET", "/api/v1/stats", [ctx](const net::AdminRequest&) {
    return Json(200, ctx->stats ? ctx->stats() : json::object{});
  });

  server.Route("POST", "/api/v1/verify", [ctx](const net::AdminRequest&) {
    auto r = ctx->store->Verify();
    if (!r) return Problem(StatusOf(r.error()), r.error().message);
    json::array problems;
    for (const auto& p : r->problems) problems.emplace_back(p);
    json::object o{{"files", r->files},
                   {"blocks", r->blocks},
                   {"records", r->records},
                   {"ok", r->problems.empty()},
                   {"problems", std::move(problems)}};
    return Json(200, o);
  });
}

}  // namespace seccloud::socd
