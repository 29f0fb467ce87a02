// `seccloud soc …`: the analyst's command line to the SOC (R18, R20), over the service's HTTP API.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "core/config.h"
#include "core/text.h"
#include "net/http.h"
#include "soc/api_token.h"
#include "soc/parse.h"
#include "socd/api.h"
#include "socd/detectors.h"
#include "socd/socd.h"

namespace seccloud::socd {
namespace {

namespace json = boost::json;

const char* const kUsage =
    "usage: seccloud soc <command> [--config FILE] [options]\n"
    "  search QUERY [--since 30d] [--until T] [--limit N] [--desc] [--tenant ID] [--json]\n"
    "                        records matching QUERY, oldest first (--desc: newest first); QUERY\n"
    "                        like 'source.ip:10.1.2.3 AND event.action:blocked'; times are\n"
    "                        durations before now (30d, 12h) or RFC 3339\n"
    "  record SEQ...         stored records by number (alert evidence)\n"
    "  alerts [--status open|acknowledged|closed] [--severity LEVEL] [--rule ID] [--since 7d]\n"
    "         [--limit N] [--tenant ID] [--json]\n"
    "  alert ID [--json]     one alert with its evidence\n"
    "  ack ID --by NAME [--note TEXT]\n"
    "  close ID --by NAME --reason TEXT\n"
    "  suppress --rule ID|PATTERN --reason TEXT --by NAME --expires 7d|RFC3339\n"
    "           [--entity PATTERN] [--field F --value V] [--tenant ID]\n"
    "  suppressions [--all]  active (--all: also expired and deleted) suppressions\n"
    "  unsuppress ID --by NAME\n"
    "  audit [--alert ID] [--suppression ID] [--limit N]\n"
    "  stats                 ingest, store and detection figures\n"
    "  verify                recompute every checksum of the log store; exit 1 on any problem\n"
    "  rules                 load soc.rules and soc.intel as socd would and report what loads,\n"
    "                        what is unsupported and why, the Sigma filters and the rules\n"
    "                        each applies to; exit 1 when a rule or filter has errors\n"
    "  token create --id NAME (--all | --tenant ID[,ID…])\n"
    "                        mint an API token, add its SHA-256 to soc.api.tokens, print it once\n"
    "  --config FILE defaults to /etc/seccloud/seccloud.yaml. The API token is taken from\n"
    "  SECCLOUD_SOC_TOKEN, else from soc.api.cli_token (socd creates it, every tenant).\n";

struct Args {
  std::string command;
  std::string config = "/etc/seccloud/seccloud.yaml";
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--since" → "30d"
  std::set<std::string> flags;                 // "--json"
  std::string error;
};

Args Parse(const std::vector<std::string>& in) {
  static const std::set<std::string> kWithValue = {
      "--since", "--until",   "--limit", "--tenant",      "--status", "--severity",
      "--rule",  "--by",      "--note",  "--reason",      "--entity", "--field",
      "--value", "--expires", "--alert", "--suppression", "--offset", "--id"};
  static const std::set<std::string> kFlags = {"--json", "--desc", "--all", "--help", "-h"};
  Args a;
  for (size_t i = 0; i < in.size(); ++i) {
    const std::string& s = in[i];
    if (s == "--config" || s == "-c") {
      if (i + 1 >= in.size()) return a.error = s + " needs a file name", a;
      a.config = in[++i];
    } else if (kWithValue.contains(s)) {
      if (i + 1 >= in.size()) return a.error = s + " needs a value", a;
      a.options[s] = in[++i];
    } else if (kFlags.contains(s)) {
      a.flags.insert(s == "-h" ? "--help" : s);
    } else if (s.size() > 1 && s[0] == '-' && s != "-") {
      return a.error = "unknown option " + s, a;
    } else if (a.command.empty()) {
      a.command = s;
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

std::string Encode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

// The CLI's credential: SECCLOUD_SOC_TOKEN, else the local CLI token file socd created
// (soc.api.cli_token). "" when neither is there: the API will answer 401, which is reported.
std::string CliToken(const SocConfig& sc, std::string* source) {
  if (const char* env = std::getenv("SECCLOUD_SOC_TOKEN"); env != nullptr && *env != '\0') {
    *source = "SECCLOUD_SOC_TOKEN";
    return env;
  }
  if (sc.api_cli_token.empty()) return "";
  auto t = ReadTokenFile(sc.api_cli_token);
  if (!t) return "";
  *source = sc.api_cli_token.string();
  return *t;
}

class Client {
 public:
  Client(const SocConfig& config, std::string token, std::string token_source)
      : config_(config), token_(std::move(token)), token_source_(std::move(token_source)) {}
  // The parsed JSON body of a 2xx answer, or a printed error.
  std::optional<json::object> Call(const char* method, const std::string& target,
                                   const json::object* body = nullptr) {
    auto r = ApiCall(config_, method, target, body ? json::serialize(*body) : "",
                     token_.empty() ? "" : "Bearer " + token_, std::chrono::seconds(120));
    if (!r) {
      std::fprintf(stderr,
                   "seccloud soc: the SOC API at %s does not answer (%s); is socd running?\n",
                   config_.api.ToString().c_str(), r.error().message.c_str());
      return std::nullopt;
    }
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (ec || !v.is_object()) {
      std::fprintf(stderr, "seccloud soc: HTTP %d with a body that is not JSON\n", r->status);
      return std::nullopt;
    }
    if (r->status == 401) {
      std::fprintf(stderr,
                   "seccloud soc: the SOC API refused the token (%s); set SECCLOUD_SOC_TOKEN or "
                   "run where the CLI token file (soc.api.cli_token) is readable\n",
                   token_.empty() ? "none found" : token_source_.c_str());
      return std::nullopt;
    }
    if (r->status / 100 != 2) {
      const auto* e = v.as_object().if_contains("error");
      std::fprintf(
          stderr, "seccloud soc: %s\n",
          e && e->is_string() ? std::string(e->get_string()).c_str() : json::serialize(v).c_str());
      return std::nullopt;
    }
    return std::move(v.as_object());
  }

 private:
  const SocConfig& config_;
  std::string token_;
  std::string token_source_;
};

std::string S(const json::value* v) {
  if (!v) return "";
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

std::string Field(const json::object& fields, std::string_view path) {
  return S(soc::FindField(fields, path));
}

void PrintRecordLine(const json::object& r) {
  const json::object empty;
  const auto* f = r.if_contains("fields");
  const json::object& fields = f && f->is_object() ? f->as_object() : empty;
  std::printf("%s #%s %s %s %s\n", S(r.if_contains("time")).c_str(),
              S(r.if_contains("seq")).c_str(),
              r.contains("tenant") ? S(r.if_contains("tenant")).c_str() : "-",
              Field(fields, "event.dataset").c_str(), S(r.if_contains("raw")).c_str());
}

void PrintAlertLine(const json::object& a) {
  std::printf("%6s %-8s %-12s %-9s %s  %s  x%s  %s  %s\n", S(a.if_contains("id")).c_str(),
              S(a.if_contains("severity")).c_str(), S(a.if_contains("status")).c_str(),
              a.contains("tenant") ? S(a.if_contains("tenant")).c_str() : "-",
              S(a.if_contains("last_seen")).c_str(), S(a.if_contains("entity")).c_str(),
              S(a.if_contains("count")).c_str(), S(a.if_contains("rule_title")).c_str(),
              S(a.if_contains("severity_reason")).c_str());
}

bool PositiveId(const std::string& s, int64_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && *out > 0;
}

std::string Opt(const Args& a, const char* key) {
  auto it = a.options.find(key);
  return it == a.options.end() ? "" : it->second;
}

// "&key=value" for each option given.
std::string QueryOf(const Args& a, std::initializer_list<std::pair<const char*, const char*>> map) {
  std::string q;
  for (const auto& [opt, param] : map) {
    auto it = a.options.find(opt);
    if (it != a.options.end()) q += std::string("&") + param + "=" + Encode(it->second);
  }
  return q;
}

// Sigma filters: each with the number of rules it applies to and the names that reached none;
// then each filtered rule with the filters on it (why a rule is quieter than its SigmaHQ text).
void PrintFilters(const soc::RuleSet& set) {
  for (const auto& f : set.filters) {
    std::printf("filter: %s:%d: %s (%s): applies to %zu rule%s%s\n", f.file.c_str(), f.line,
                f.id.c_str(), f.title.c_str(), f.applied_to.size(),
                f.applied_to.size() == 1 ? "" : "s", f.any ? " (rules: any)" : "");
    for (const auto& [ref, why] : f.unresolved)
      std::printf("  unresolved: %s: %s\n", ref.c_str(), why.c_str());
  }
  for (const auto& r : set.rules) {
    if (r.filters.empty()) continue;
    std::string names;
    for (const auto& f : r.filters) names += (names.empty() ? "" : ", ") + f;
    std::printf("filtered: %s (%s) by %s\n", r.id.c_str(), r.title.c_str(), names.c_str());
  }
}

int Rules(const SocConfig& sc) {
  DetectorsReport report;
  auto d = BuildDetectors(sc, &report);
  if (!d) {
    std::fprintf(stderr, "seccloud soc rules: %s\n", d.error().ToString().c_str());
    return 1;
  }
  for (const auto& [reason, n] : report.rules.CountByReason())
    std::printf("%6zu  %s\n", n, reason.c_str());
  for (const auto& e : report.rules.errors) std::printf("error: %s\n", e.ToString().c_str());
  for (const auto& w : report.rules.warnings) std::printf("warning: %s\n", w.ToString().c_str());
  if ((*d)->engine != nullptr) PrintFilters((*d)->engine->rules());
  for (const auto& p : report.intel.problems) std::printf("intel: %s\n", p.c_str());
  std::printf("%s\n", report.Summary().c_str());
  return report.rules.errors.empty() ? 0 : 1;
}

// `soc token create --id ID (--tenant A[,B] | --all)`: a fresh token, its hash appended to
// soc.api.tokens; the token itself is printed once and kept nowhere.
int Token(const Args& a, const Config& cfg) {
  const SocConfig& sc = cfg.soc;
  if (a.positional.size() != 1 || a.positional[0] != "create") {
    std::fprintf(stderr, "seccloud soc token: the command is `token create`\n");
    return 2;
  }
  const std::string id = Opt(a, "--id");
  const std::string tenants = Opt(a, "--tenant");
  const bool all = a.flags.contains("--all");
  if (!soc::IsTokenId(id) || id == ApiAuth::kCliTokenId) {
    std::fprintf(stderr,
                 "seccloud soc token create: --id NAME (1 to 64 of A-Z a-z 0-9 . _ -, not %s) "
                 "names the token in the audit log\n",
                 ApiAuth::kCliTokenId);
    return 2;
  }
  if (all == !tenants.empty()) {
    std::fprintf(stderr, "seccloud soc token create: give --all or --tenant ID[,ID…]\n");
    return 2;
  }
  if (sc.api_tokens.empty()) {
    std::fprintf(stderr, "seccloud soc token create: soc.api has no tokens file configured\n");
    return 2;
  }
  std::vector<std::string> list;
  for (std::string_view rest = tenants; !rest.empty();) {
    const size_t comma = rest.find(',');
    std::string t(rest.substr(0, comma));
    if (std::none_of(cfg.tenants.begin(), cfg.tenants.end(),
                     [&](const Tenant& x) { return x.id == t; })) {
      std::fprintf(stderr, "seccloud soc token create: no tenant has the id \"%s\"\n", t.c_str());
      return 2;
    }
    list.push_back(std::move(t));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  // The file as it is must parse, and must not have the id already.
  std::string existing;
  {
    std::ifstream in(sc.api_tokens, std::ios::binary);
    if (in) existing.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto parsed = soc::ParseApiTokens(existing, sc.api_tokens.string());
  if (!parsed) {
    std::fprintf(stderr, "seccloud soc token create: %s\n", parsed.error().ToString().c_str());
    return 1;
  }
  for (const auto& t : parsed->tokens)
    if (t.id == id) {
      std::fprintf(stderr, "seccloud soc token create: a token named %s exists already\n",
                   id.c_str());
      return 1;
    }
  auto token = soc::MintApiToken();
  if (!token) {
    std::fprintf(stderr, "seccloud soc token create: %s\n", token.error().ToString().c_str());
    return 1;
  }
  std::string line = soc::ApiTokenLine(id, *token, all, list);
  if (!existing.empty() && existing.back() != '\n') line.insert(line.begin(), '\n');
  const int fd = ::open(sc.api_tokens.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
      ::fsync(fd) != 0) {
    std::fprintf(stderr, "seccloud soc token create: writing %s: %s\n", sc.api_tokens.c_str(),
                 std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return 1;
  }
  ::close(fd);
  std::printf("%s\n", token->c_str());
  std::fprintf(stderr,
               "seccloud soc token create: token %s (%s) added to %s; it is shown only now\n",
               id.c_str(), all ? "every tenant" : tenants.c_str(), sc.api_tokens.c_str());
  return 0;
}

}  // namespace

int RunSocCommand(const std::vector<std::string>& args) {
  Args a = Parse(args);
  if (a.flags.contains("--help") || (a.command.empty() && a.error.empty())) {
    std::printf("%s", kUsage);
    return a.command.empty() && !a.flags.contains("--help") ? 2 : 0;
  }
  if (!a.error.empty()) {
    std::fprintf(stderr, "seccloud soc: %s\n%s", a.error.c_str(), kUsage);
    return 2;
  }
  LoadOptions lo;
  lo.check_directories = false;
  auto cfg = LoadConfig(a.config, lo);
  if (!cfg) {
    std::fprintf(stderr, "%s", cfg.error().ToString().c_str());
    return 2;
  }
  const SocConfig& sc = (*cfg)->soc;
  if (!sc.enabled) {
    std::fprintf(stderr, "seccloud soc: %s has no enabled soc section\n", a.config.c_str());
    return 2;
  }
  if (a.command == "rules") return Rules(sc);
  if (a.command == "token") return Token(a, **cfg);

  std::string token_source;
  std::string token = CliToken(sc, &token_source);
  Client client(sc, std::move(token), std::move(token_source));
  const bool as_json = a.flags.contains("--json");
  auto need = [&](size_t n, const char* what) {
    if (a.positional.size() == n) return true;
    std::fprintf(stderr, "seccloud soc %s: %s\n", a.command.c_str(), what);
    return false;
  };

  if (a.command == "search") {
    if (!need(1, "give one QUERY (quote it)")) return 2;
    size_t limit = 100;
    if (auto l = Opt(a, "--limit"); !l.empty()) {
      auto r = std::from_chars(l.data(), l.data() + l.size(), limit);
      if (r.ec != std::errc() || r.ptr != l.data() + l.size()) {
        std::fprintf(stderr, "seccloud soc search: --limit %s is not a number\n", l.c_str());
        return 2;
      }
    }
    // Pages of at most 1,000 records keep each answer well under the client's size limit.
    const std::string base =
        "/api/v1/search?q=" + Encode(a.positional[0]) +
        QueryOf(a, {{"--since", "since"}, {"--until", "until"}, {"--tenant", "tenant"}}) +
        (a.flags.contains("--desc") ? "&order=desc" : "");
    size_t n = 0;
    std::string next, blocks;
    bool more = true;
    while (more && n < limit) {
      const size_t page = std::min<size_t>(1000, limit - n);
      std::string target = base + "&mode=page&limit=" + std::to_string(page);
      if (!next.empty()) target += "&after=" + next;
      auto r = client.Call("GET", target);
      if (!r) return 2;
      const auto* records = r->if_contains("records");
      if (records && records->is_array()) {
        for (const auto& rec : records->as_array()) {
          if (!rec.is_object()) continue;
          ++n;
          if (as_json)
            std::printf("%s\n", json::serialize(rec).c_str());
          else
            PrintRecordLine(rec.as_object());
        }
      }
      next = S(r->if_contains("next"));
      more = !next.empty();
      if (blocks.empty())
        blocks = S(r->if_contains("blocks_read")) + " of " + S(r->if_contains("blocks_total"));
    }
    std::fprintf(stderr, "seccloud soc search: %zu record(s)%s; %s blocks read\n", n,
                 more ? " (limit reached)" : "", blocks.c_str());
    return n > 0 ? 0 : 1;
  }
  if (a.command == "record") {
    if (a.positional.empty()) return need(1, "give one or more record numbers"), 2;
    std::string seqs;
    for (const auto& p : a.positional) seqs += (seqs.empty() ? "" : ",") + p;
    auto r = client.Call("GET", "/api/v1/records?seq=" + Encode(seqs));
    if (!r) return 2;
    if (const auto* records = r->if_contains("records"); records && records->is_array())
      for (const auto& rec : records->as_array()) std::printf("%s\n", json::serialize(rec).c_str());
    return 0;
  }
  if (a.command == "alerts") {
    std::string target = "/api/v1/alerts?" + QueryOf(a, {{"--status", "status"},
                                                         {"--severity", "severity"},
                                                         {"--rule", "rule"},
                                                         {"--since", "since"},
                                                         {"--limit", "limit"},
                                                         {"--offset", "offset"},
                                                         {"--tenant", "tenant"}});
    auto r = client.Call("GET", target);
    if (!r) return 2;
    if (const auto* list = r->if_contains("alerts"); list && list->is_array())
      for (const auto& al : list->as_array()) {
        if (as_json)
          std::printf("%s\n", json::serialize(al).c_str());
        else if (al.is_object())
          PrintAlertLine(al.as_object());
      }
    return 0;
  }
  if (a.command == "alert") {
    if (!need(1, "give one alert number")) return 2;
    auto r = client.Call("GET", "/api/v1/alert?id=" + Encode(a.positional[0]) +
                                    QueryOf(a, {{"--tenant", "tenant"}}));
    if (!r) return 2;
    std::printf("%s\n", json::serialize(*r).c_str());
    return 0;
  }
  if (a.command == "ack" || a.command == "close") {
    if (!need(1, "give one alert number")) return 2;
    json::object body;
    int64_t id = 0;
    if (!PositiveId(a.positional[0], &id)) {
      std::fprintf(stderr, "seccloud soc: %s is not an alert number\n", a.positional[0].c_str());
      return 2;
    }
    body["id"] = id;
    body["by"] = Opt(a, "--by");
    if (a.command == "ack") body["note"] = Opt(a, "--note");
    if (a.command == "close") body["reason"] = Opt(a, "--reason");
    if (!Opt(a, "--tenant").empty()) body["tenant"] = Opt(a, "--tenant");
    auto r = client.Call("POST", a.command == "ack" ? "/api/v1/alerts/ack" : "/api/v1/alerts/close",
                         &body);
    if (!r) return 1;
    PrintAlertLine(*r);
    return 0;
  }
  if (a.command == "suppress") {
    json::object body;
    for (const auto& [opt, key] :
         std::initializer_list<std::pair<const char*, const char*>>{{"--rule", "rule"},
                                                                    {"--entity", "entity"},
                                                                    {"--field", "field"},
                                                                    {"--value", "value"},
                                                                    {"--reason", "reason"},
                                                                    {"--by", "by"},
                                                                    {"--expires", "expires"},
                                                                    {"--tenant", "tenant"}})
      if (!Opt(a, opt).empty()) body[key] = Opt(a, opt);
    auto r = client.Call("POST", "/api/v1/suppressions", &body);
    if (!r) return 1;
    std::printf("suppression %s created\n", S(r->if_contains("id")).c_str());
    return 0;
  }
  if (a.command == "suppressions") {
    auto r = client.Call("GET", std::string("/api/v1/suppressions?") +
                                    (a.flags.contains("--all") ? "all=1" : "") +
                                    QueryOf(a, {{"--tenant", "tenant"}}));
    if (!r) return 2;
    if (const auto* list = r->if_contains("suppressions"); list && list->is_array())
      for (const auto& s : list->as_array()) std::printf("%s\n", json::serialize(s).c_str());
    return 0;
  }
  if (a.command == "unsuppress") {
    if (!need(1, "give one suppression number")) return 2;
    json::object body;
    int64_t id = 0;
    if (!PositiveId(a.positional[0], &id)) {
      std::fprintf(stderr, "seccloud soc: %s is not a suppression number\n",
                   a.positional[0].c_str());
      return 2;
    }
    body["id"] = id;
    body["by"] = Opt(a, "--by");
    if (!Opt(a, "--tenant").empty()) body["tenant"] = Opt(a, "--tenant");
    auto r = client.Call("POST", "/api/v1/suppressions/delete", &body);
    return r ? 0 : 1;
  }
  if (a.command == "audit") {
    auto r = client.Call("GET", "/api/v1/audit?" + QueryOf(a, {{"--alert", "alert"},
                                                               {"--suppression", "suppression"},
                                                               {"--limit", "limit"},
                                                               {"--tenant", "tenant"}}));
    if (!r) return 2;
    if (const auto* list = r->if_contains("audit"); list && list->is_array())
      for (const auto& e : list->as_array()) std::printf("%s\n", json::serialize(e).c_str());
    return 0;
  }
  if (a.command == "stats") {
    auto r = client.Call("GET", "/api/v1/stats");
    if (!r) return 2;
    for (const auto& [k, v] : *r) std::printf("%-22s %s\n", std::string(k).c_str(), S(&v).c_str());
    return 0;
  }
  if (a.command == "verify") {
    auto r = client.Call("POST", "/api/v1/verify");
    if (!r) return 2;
    if (const auto* list = r->if_contains("problems"); list && list->is_array())
      for (const auto& p : list->as_array()) std::printf("PROBLEM %s\n", S(&p).c_str());
    std::printf("%s files, %s blocks, %s records checked: %s\n", S(r->if_contains("files")).c_str(),
                S(r->if_contains("blocks")).c_str(), S(r->if_contains("records")).c_str(),
                S(r->if_contains("ok")) == "true" ? "OK" : "PROBLEMS FOUND");
    return S(r->if_contains("ok")) == "true" ? 0 : 1;
  }
  std::fprintf(stderr, "seccloud soc: unknown command \"%s\"\n%s", a.command.c_str(), kUsage);
  return 2;
}

}  // namespace seccloud::socd
