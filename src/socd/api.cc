#include "socd/api.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/event.h"
#include "core/text.h"
#include "soc/query.h"

namespace seccloud::socd {
namespace {

namespace json = boost::json;

// Bounds on what one request may ask for.
constexpr size_t kMaxSearchResults = 10'000;  // one page (mode=page)
constexpr size_t kDefaultSearchResults = 100;
constexpr size_t kMaxStreamResults = 10'000'000;
constexpr size_t kDefaultStreamResults = 10'000;
constexpr size_t kMaxSeqsPerRequest = 1'000;

ApiReply Json(int status, const json::value& v) {
  return {status, "application/json", json::serialize(v) + "\n"};
}

ApiReply Problem(int status, std::string_view message) {
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
  o["fields"] = r.fields();
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
std::optional<json::object> Body(const ApiRequest& req, ApiReply* error) {
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

// The tenant a request is confined to (nullopt: every tenant). Tenant tokens are forced to their
// own tenant; a `tenant` they do not cover is refused, not ignored, so a console bug shows.
bool ResolveScope(const soc::ApiToken& token, const std::optional<std::string>& asked,
                  std::optional<std::string>* scope, ApiReply* error) {
  if (token.all_tenants) {
    *scope = asked;
    return true;
  }
  if (asked) {
    if (!token.Covers(*asked)) {
      *error = Problem(403, "token " + token.id + " does not cover tenant " + Quote(*asked));
      return false;
    }
    *scope = asked;
    return true;
  }
  if (token.tenants.size() != 1) {
    *error = Problem(400, "token " + token.id + " covers several tenants: name one with tenant");
    return false;
  }
  *scope = token.tenants.front();
  return true;
}

// Who acts, as the audit log records it: the person the client names, and always the token.
std::string Who(const soc::ApiToken& token, const std::string& by) {
  if (by.empty() || by == token.id) return token.id;
  return by + " (token " + token.id + ")";
}

using Route = std::function<ApiReply(const ApiRequest&, const soc::ApiToken&)>;

// One streamed search answer (see api.h). The search runs on its own thread as a series of store
// searches of at most kPageRecords records, each resumed after the last record handed out: the
// store buffers up to its limit to hand records out in time order, so a single search with the
// answer's limit would hold memory in proportion to that limit. Records go out as NDJSON chunks
// of about kChunkBytes through a queue of at most kMaxChunks; the server asks for the next chunk
// only once the client took the previous one, so a slow client slows the search down.
//
// Each page resumes at the store cursor (time, seq) of the last record handed out, so a burst of
// any size within one millisecond pages through exactly. Cancel() sets the flag the store's scan
// consults between blocks: a client that leaves stops even a scan that finds nothing.
class SearchCore : public std::enable_shared_from_this<SearchCore> {
 public:
  static constexpr size_t kChunkBytes = 64 << 10;
  static constexpr size_t kMaxChunks = 4;
  static constexpr int kMaxConcurrent = 8;
  static constexpr size_t kPageRecords = 4096;

  using Key = soc::SearchCursor;

  SearchCore(soc::LogStore* store, soc::Query query, soc::SearchOptions options, size_t want,
             std::optional<Key> after)
      : store_(store),
        query_(std::move(query)),
        options_(std::move(options)),
        want_(want),
        after_(after) {}
  SearchCore(const SearchCore&) = delete;
  SearchCore& operator=(const SearchCore&) = delete;

  static int active() {
    std::lock_guard lock(active_mu_);
    return active_;
  }
  static void WaitForNone() {
    std::unique_lock lock(active_mu_);
    active_cv_.wait(lock, [] { return active_ == 0; });
  }

  // The thread owns a reference: the core lives until its search has returned, whoever lets go
  // of the answer first.
  void Start() {
    {
      std::lock_guard lock(active_mu_);
      ++active_;
    }
    std::thread([self = shared_from_this()] {
      self->Run();
      std::lock_guard lock(active_mu_);
      --active_;
      active_cv_.notify_all();
    }).detach();
  }

  void Pull(net::BodyStream::Deliver deliver) {
    std::unique_lock lock(mu_);
    pending_ = std::move(deliver);
    auto call = TakeDeliveryLocked();
    lock.unlock();
    if (call) call();
  }

  void Cancel() {
    cancelled_ = true;
    std::lock_guard lock(mu_);
    chunks_.clear();
    room_.notify_all();
  }

 private:
  // With mu_ held: the delivery a pending Pull can get now (a chunk, or the end), to be called
  // once mu_ is released; empty when it must wait.
  std::function<void()> TakeDeliveryLocked() {
    if (!pending_ || (chunks_.empty() && !done_)) return {};
    std::string chunk;
    if (!chunks_.empty()) {
      chunk = std::move(chunks_.front());
      chunks_.pop_front();
      room_.notify_one();
    }
    const bool more = !(chunks_.empty() && done_);
    return [deliver = std::exchange(pending_, nullptr), chunk = std::move(chunk), more]() mutable {
      deliver(std::move(chunk), more);
    };
  }

  bool Push(std::string chunk) {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return chunks_.size() < kMaxChunks || cancelled_.load(); });
    if (cancelled_) return false;
    chunks_.push_back(std::move(chunk));
    auto call = TakeDeliveryLocked();
    lock.unlock();
    if (call) call();
    return true;
  }

  void Finish(std::string last) {
    std::unique_lock lock(mu_);
    if (!cancelled_ && !last.empty()) chunks_.push_back(std::move(last));
    done_ = true;
    auto call = TakeDeliveryLocked();
    lock.unlock();
    if (call) call();
  }

  void Run() {
    std::string chunk, error;
    size_t count = 0;
    bool more = false;
    std::optional<Key> last = after_;
    soc::SearchStats total;
    while (!cancelled_) {
      soc::SearchOptions o = options_;
      o.after = last;
      o.cancel = &cancelled_;
      o.limit = std::min(kPageRecords, want_ - count + 1);  // +1: do more follow?
      size_t fresh = 0;
      bool page_full = false;
      auto stats = store_->Search(query_, o, [&](const soc::Record& r) {
        if (cancelled_) return false;
        if (count >= want_) {
          more = true;
          return false;
        }
        last = Key{r.time_ms, r.seq};
        chunk += json::serialize(RecordJson(r));
        chunk += '\n';
        ++count;
        ++fresh;
        if (chunk.size() >= kChunkBytes) {
          if (!Push(std::exchange(chunk, std::string()))) return false;
        }
        if (fresh >= kPageRecords) {
          page_full = true;
          return false;
        }
        return true;
      });
      if (!stats) {
        error = stats.error().message;
        break;
      }
      total.blocks_total = stats->blocks_total;
      total.blocks_read += stats->blocks_read;
      total.records_scanned += stats->records_scanned;
      if (more || cancelled_) break;
      if (!page_full && !stats->truncated) break;  // the store has nothing more
    }
    if (cancelled_) {
      Finish("");
      return;
    }
    if (!error.empty()) {
      chunk += json::serialize(json::object{{"error", error}, {"count", count}}) + "\n";
    } else {
      json::object done{{"done", true},
                        {"query", query_.ToString()},
                        {"count", count},
                        {"truncated", more},
                        {"blocks_total", total.blocks_total},
                        {"blocks_read", total.blocks_read},
                        {"records_scanned", total.records_scanned}};
      if (more && last)
        done["next"] = std::to_string(last->time_ms) + "." + std::to_string(last->seq);
      chunk += json::serialize(done) + "\n";
    }
    Finish(std::move(chunk));
  }

  soc::LogStore* store_;
  soc::Query query_;
  soc::SearchOptions options_;
  size_t want_;
  std::optional<Key> after_;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable room_;
  std::deque<std::string> chunks_;    // guarded by mu_
  bool done_ = false;                 // guarded by mu_
  net::BodyStream::Deliver pending_;  // guarded by mu_: a Pull waiting for a chunk
  static inline std::mutex active_mu_;
  static inline std::condition_variable active_cv_;
  static inline int active_ = 0;  // searches whose thread runs; guarded by active_mu_
};

// What the server holds: letting go of the answer (it is done, or the client went away)
// cancels the search.
class SearchStream final : public net::BodyStream {
 public:
  explicit SearchStream(std::shared_ptr<SearchCore> core) : core_(std::move(core)) {}
  ~SearchStream() override { core_->Cancel(); }
  void Pull(Deliver deliver) override { core_->Pull(std::move(deliver)); }
  void Cancel() override { core_->Cancel(); }

 private:
  std::shared_ptr<SearchCore> core_;
};

}  // namespace

bool ParseTimeBound(std::string_view text, int64_t now_ms, int64_t* out) {
  if (auto d = ParseDuration(text)) {
    *out = now_ms - d->count();
    return true;
  }
  return soc::ParseRfc3339Ms(text, out);
}

Result<std::string> ReadTokenFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("reading " + path.string(), errno);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty() || line.size() > soc::kMaxBearerBytes)
    return MakeError(Errc::kInvalidArgument, path.string() +
                                                 ": the first line must hold the token (at most " +
                                                 std::to_string(soc::kMaxBearerBytes) + " bytes)");
  return line;
}

Result<std::string> EnsureCliToken(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return ReadTokenFile(path);
  ASSIGN_OR_RETURN(std::string token, soc::MintApiToken());
  std::filesystem::create_directories(path.parent_path(), ec);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("creating " + path.string(), errno);
  const std::string text = token + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) return ErrnoError("writing " + path.string(), err);
  return token;
}

Result<std::unique_ptr<ApiAuth>> ApiAuth::Open(const std::filesystem::path& tokens_file,
                                               const std::filesystem::path& cli_token_file) {
  std::unique_ptr<ApiAuth> auth(new ApiAuth());
  auth->tokens_file_ = tokens_file;
  if (!cli_token_file.empty()) {
    ASSIGN_OR_RETURN(std::string token, EnsureCliToken(cli_token_file));
    soc::ApiToken t;
    t.id = kCliTokenId;
    t.sha256 = soc::Sha256(token);
    t.all_tenants = true;
    auth->cli_ = std::move(t);
  }
  std::lock_guard lock(auth->mu_);
  RETURN_IF_ERROR(auth->LoadLocked());
  return auth;
}

// Reads the token file when it changed (inode, size or mtime). A missing file is no tokens:
// deleting it revokes them.
Status ApiAuth::LoadLocked() {
  if (tokens_file_.empty()) return {};
  struct stat st {};
  if (::stat(tokens_file_.c_str(), &st) != 0) {
    if (errno != ENOENT) return ErrnoError("soc.api.tokens " + tokens_file_.string(), errno);
    set_ = {};
    file_identity_ = "absent";
    return {};
  }
  const std::string identity = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                               std::to_string(st.st_mtim.tv_sec) + "." +
                               std::to_string(st.st_mtim.tv_nsec);
  if (identity == file_identity_) return {};
  std::ifstream in(tokens_file_, std::ios::binary);
  if (!in) return ErrnoError("soc.api.tokens " + tokens_file_.string(), errno);
  std::string text(soc::kMaxTokenFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  ASSIGN_OR_RETURN(soc::ApiTokenSet parsed, soc::ParseApiTokens(text, tokens_file_.string()));
  for (const auto& t : parsed.tokens)
    if (t.id == kCliTokenId)
      return MakeError(Errc::kInvalidArgument, tokens_file_.string() + ": the token id " +
                                                   std::string(kCliTokenId) +
                                                   " is reserved for the local CLI");
  set_ = std::move(parsed);
  file_identity_ = identity;
  return {};
}

void ApiAuth::RefreshLocked() {
  const auto now = std::chrono::steady_clock::now();
  if (tokens_file_.empty() || now < next_check_) return;
  next_check_ = now + std::chrono::seconds(1);
  if (auto st = LoadLocked(); !st) {
    std::fprintf(stderr, "seccloud socd: API tokens not reloaded, the previous ones stay: %s\n",
                 st.error().ToString().c_str());
  }
}

std::optional<soc::ApiToken> ApiAuth::Authenticate(std::string_view authorization) {
  std::lock_guard lock(mu_);
  RefreshLocked();
  if (const soc::ApiToken* t = soc::Authenticate(set_, authorization)) return *t;
  if (cli_) {
    soc::ApiTokenSet one;
    one.tokens.push_back(*cli_);
    if (soc::Authenticate(one, authorization)) return *cli_;
  }
  return std::nullopt;
}

ApiHandler MakeApiHandler(std::shared_ptr<ApiContext> ctx) {
  auto routes = std::make_shared<std::map<std::string, Route>>();
  auto route = [&](const char* method, const char* path, Route r) {
    (*routes)[std::string(method) + " " + path] = std::move(r);
  };
  // A request's query parameters and its scope, or the reply refusing it.
  struct Scoped {
    Params params;
    std::optional<std::string> scope;
  };
  auto scoped = [](const ApiRequest& req, const soc::ApiToken& token, Scoped* out, ApiReply* err) {
    std::string why;
    auto p = QueryParams(req.target, &why);
    if (!p) {
      *err = Problem(400, why);
      return false;
    }
    out->params = std::move(*p);
    return ResolveScope(token, Param(out->params, "tenant"), &out->scope, err);
  };
  auto provider_only = [](const soc::ApiToken& token, ApiReply* err) {
    if (token.all_tenants) return true;
    *err = Problem(403, "token " + token.id +
                            " is scoped to tenants; this needs an every-tenant "
                            "(SOC) token");
    return false;
  };

  route("GET", "/api/v1/search", [ctx, scoped](const ApiRequest& req, const soc::ApiToken& tok) {
    Scoped s;
    ApiReply err;
    if (!scoped(req, tok, &s, &err)) return err;
    const Params& p = s.params;
    auto q = soc::ParseQuery(Param(p, "q").value_or(""));
    if (!q) return Problem(400, "q: " + q.error().message);
    const bool page_mode = Param(p, "mode").value_or("") == "page";
    if (auto m = Param(p, "mode"); m && *m != "page" && *m != "stream")
      return Problem(400, "mode: stream (NDJSON, the default) or page");
    soc::SearchOptions o;
    o.limit = page_mode ? kDefaultSearchResults : kDefaultStreamResults;
    const int64_t now = ctx->now_ms();
    if (auto v = Param(p, "since"); v && !ParseTimeBound(*v, now, &o.since_ms))
      return Problem(400, "since: " + Quote(*v) + " is not a duration (30d, 12h) or RFC 3339 time");
    if (auto v = Param(p, "until"); v && !ParseTimeBound(*v, now, &o.until_ms))
      return Problem(400, "until: " + Quote(*v) + " is not a duration (30d, 12h) or RFC 3339 time");
    const size_t max = page_mode ? kMaxSearchResults : kMaxStreamResults;
    if (auto v = Param(p, "limit"); v && !ParseCount(*v, max, &o.limit))
      return Problem(400, "limit: a number from 0 to " + std::to_string(max));
    if (auto v = Param(p, "order")) {
      if (*v != "asc" && *v != "desc") return Problem(400, "order: asc or desc");
      o.newest_first = *v == "desc";
    }
    if (s.scope) o.tenants.push_back(*s.scope);
    // `after` is the "time.seq" cursor of the last record of a previous answer (the store's
    // SearchCursor): the answer resumes exactly after that record.
    int64_t after_time = 0;
    uint64_t after_seq = 0;
    bool paging = false;
    if (auto a = Param(p, "after")) {
      const size_t dot = a->find('.');
      const char* end = a->data() + a->size();
      if (dot == std::string::npos ||
          std::from_chars(a->data(), a->data() + dot, after_time).ptr != a->data() + dot ||
          std::from_chars(a->data() + dot + 1, end, after_seq).ptr != end)
        return Problem(400, "after: the \"next\" cursor of a previous answer (TIME.SEQ)");
      paging = true;
    }
    if (!page_mode) {
      if (o.limit == 0)
        return ApiReply{200, "application/x-ndjson",
                        json::serialize(json::object{{"done", true}, {"count", 0}}) + "\n"};
      if (SearchCore::active() >= SearchCore::kMaxConcurrent)
        return Problem(503, "too many searches streaming at once; retry shortly");
      std::optional<SearchCore::Key> after;
      if (paging) after = SearchCore::Key{after_time, after_seq};
      const size_t want = o.limit;
      auto core = std::make_shared<SearchCore>(ctx->store, std::move(*q), o, want, after);
      core->Start();
      ApiReply reply{200, "application/x-ndjson", ""};
      reply.stream = std::make_shared<SearchStream>(std::move(core));
      return reply;
    }
    if (paging) o.after = soc::SearchCursor{after_time, after_seq};
    const size_t want = o.limit;
    o.limit = want + 1;  // one more tells whether more follow
    json::array records;
    std::string next;
    bool full = false;
    auto stats = ctx->store->Search(*q, o, [&](const soc::Record& r) {
      if (records.size() >= want) {
        full = true;
        return false;
      }
      records.push_back(RecordJson(r));
      next = std::to_string(r.time_ms) + "." + std::to_string(r.seq);
      return true;
    });
    if (!stats) return Problem(StatusOf(stats.error()), stats.error().message);
    json::object out;
    out["query"] = q->ToString();
    out["count"] = records.size();
    out["truncated"] = full;
    if (full) out["next"] = next;
    out["blocks_total"] = stats->blocks_total;
    out["blocks_read"] = stats->blocks_read;
    out["records_scanned"] = stats->records_scanned;
    out["records"] = std::move(records);
    return Json(200, out);
  });

  route("GET", "/api/v1/records", [ctx, scoped](const ApiRequest& req, const soc::ApiToken& tok) {
    Scoped s;
    ApiReply err;
    if (!scoped(req, tok, &s, &err)) return err;
    std::vector<uint64_t> seqs;
    const std::string seq_param = Param(s.params, "seq").value_or("");
    std::string_view list = seq_param;
    while (!list.empty()) {
      const size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      uint64_t v = 0;
      auto r = std::from_chars(item.data(), item.data() + item.size(), v);
      if (r.ec != std::errc() || r.ptr != item.data() + item.size() || v == 0)
        return Problem(400, "seq: " + Quote(item) + " is not a record number");
      if (seqs.size() >= kMaxSeqsPerRequest)
        return Problem(400, "seq: at most " + std::to_string(kMaxSeqsPerRequest) + " per request");
      seqs.push_back(v);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    if (seqs.empty()) return Problem(400, "seq: give one or more record numbers, comma-separated");
    auto got = ctx->store->GetBySeq(seqs);
    if (!got) return Problem(StatusOf(got.error()), got.error().message);
    json::array out;
    for (const soc::Record& r : *got)
      if (!s.scope || r.tenant == *s.scope) out.push_back(RecordJson(r));
    return Json(200, json::object{{"records", std::move(out)}});
  });

  route("GET", "/api/v1/alerts", [ctx, scoped](const ApiRequest& req, const soc::ApiToken& tok) {
    Scoped s;
    ApiReply err;
    if (!scoped(req, tok, &s, &err)) return err;
    const Params& p = s.params;
    soc::AlertFilter f;
    f.tenant = s.scope;
    if (auto v = Param(p, "status")) {
      soc::AlertStatus st;
      if (!soc::ParseAlertStatusName(*v, &st))
        return Problem(400, "status: open, acknowledged or closed");
      f.status = st;
    }
    if (auto v = Param(p, "severity")) {
      soc::Level l;
      if (!soc::ParseLevelName(*v, &l))
        return Problem(400, "severity: informational, low, medium, high or critical");
      f.min_severity = l;
    }
    f.rule_id = Param(p, "rule").value_or("");
    const int64_t now = ctx->now_ms();
    if (auto v = Param(p, "since"); v && !ParseTimeBound(*v, now, &f.since_ms))
      return Problem(400, "since: not a duration or RFC 3339 time");
    if (auto v = Param(p, "limit"); v && !ParseCount(*v, soc::kMaxAlertPage, &f.limit))
      return Problem(400, "limit: a number from 0 to " + std::to_string(soc::kMaxAlertPage));
    if (auto v = Param(p, "offset"); v && !ParseCount(*v, SIZE_MAX, &f.offset))
      return Problem(400, "offset: a number");
    auto list = ctx->alerts->ListAlerts(f);
    if (!list) return Problem(StatusOf(list.error()), list.error().message);
    json::array out;
    for (const soc::Alert& a : *list) out.push_back(AlertJson(a));
    return Json(200, json::object{{"alerts", std::move(out)}});
  });

  route("GET", "/api/v1/alert", [ctx, scoped](const ApiRequest& req, const soc::ApiToken& tok) {
    Scoped s;
    ApiReply err;
    if (!scoped(req, tok, &s, &err)) return err;
    int64_t id = 0;
    if (!ParseId(Param(s.params, "id").value_or(""), &id))
      return Problem(400, "id: an alert number");
    auto a = ctx->alerts->GetAlert(id, s.scope);
    if (!a) return Problem(StatusOf(a.error()), a.error().message);
    return Json(200, AlertJson(*a));
  });

  auto alert_action = [ctx](bool close) {
    return [ctx, close](const ApiRequest& req, const soc::ApiToken& tok) {
      ApiReply err;
      auto b = Body(req, &err);
      if (!b) return err;
      std::optional<std::string> scope;
      if (!ResolveScope(tok, OptionalStringOf(*b, "tenant"), &scope, &err)) return err;
      const int64_t id = IdOf(*b);
      if (id <= 0) return Problem(400, "id: an alert number");
      const std::string who = Who(tok, StringOf(*b, "by"));
      Status st = close ? ctx->alerts->Close(id, who, StringOf(*b, "reason"), scope)
                        : ctx->alerts->Acknowledge(id, who, StringOf(*b, "note"), scope);
      if (!st) return Problem(StatusOf(st.error()), st.error().message);
      auto a = ctx->alerts->GetAlert(id, scope);
      if (!a) return Problem(StatusOf(a.error()), a.error().message);
      return Json(200, AlertJson(*a));
    };
  };
  route("POST", "/api/v1/alerts/ack", alert_action(false));
  route("POST", "/api/v1/alerts/close", alert_action(true));

  route("GET", "/api/v1/suppressions",
        [ctx, scoped](const ApiRequest& req, const soc::ApiToken& tok) {
          Scoped s;
          ApiReply err;
          if (!scoped(req, tok, &s, &err)) return err;
          auto list = ctx->alerts->ListSuppressions(s.scope, Param(s.params, "all").has_value());
          if (!list) return Problem(StatusOf(list.error()), list.error().message);
          json::array out;
          for (const soc::Suppression& x : *list) {
            json::object o;
            o["id"] = x.id;
            if (x.tenant) o["tenant"] = *x.tenant;
            o["rule"] = x.rule_pattern;
            if (!x.entity_pattern.empty()) o["entity"] = x.entity_pattern;
            if (!x.field.empty()) o["field"] = x.field;
            if (!x.field_value.empty()) o["value"] = x.field_value;
            o["reason"] = x.reason;
            o["by"] = x.created_by;
            o["created"] = soc::FormatTimeMs(x.created_ms);
            o["expires"] = soc::FormatTimeMs(x.expires_ms);
            o["hits"] = x.hits;
            o["state"] = x.state;
            out.push_back(std::move(o));
          }
          return Json(200, json::object{{"suppressions", std::move(out)}});
        });

  route("POST", "/api/v1/suppressions", [ctx](const ApiRequest& req, const soc::ApiToken& tok) {
    ApiReply err;
    auto b = Body(req, &err);
    if (!b) return err;
    soc::SuppressionSpec s;
    if (!ResolveScope(tok, OptionalStringOf(*b, "tenant"), &s.tenant, &err)) return err;
    s.rule_pattern = StringOf(*b, "rule");
    s.entity_pattern = StringOf(*b, "entity");
    s.field = StringOf(*b, "field");
    s.field_value = StringOf(*b, "value");
    s.reason = StringOf(*b, "reason");
    s.created_by = Who(tok, StringOf(*b, "by"));
    const std::string expires = StringOf(*b, "expires");
    const int64_t now = ctx->now_ms();
    if (auto d = ParseDuration(expires)) {
      s.expires_ms = now + d->count();
    } else if (!soc::ParseRfc3339Ms(expires, &s.expires_ms)) {
      return Problem(400, "expires: a duration from now (7d) or an RFC 3339 time is required");
    }
    const std::optional<std::string> scope =
        tok.all_tenants ? std::nullopt : std::optional<std::string>(s.tenant);
    auto id = ctx->alerts->Suppress(s, scope);
    if (!id) return Problem(StatusOf(id.error()), id.error().message);
    return Json(200, json::object{{"id", *id}});
  });

  route("POST", "/api/v1/suppressions/delete",
        [ctx](const ApiRequest& req, const soc::ApiToken& tok) {
          ApiReply err;
          auto b = Body(req, &err);
          if (!b) return err;
          std::optional<std::string> scope;
          if (!ResolveScope(tok, OptionalStringOf(*b, "tenant"), &scope, &err)) return err;
          const int64_t id = IdOf(*b);
          if (id <= 0) return Problem(400, "id: a suppression number");
          auto st = ctx->alerts->DeleteSuppression(id, Who(tok, StringOf(*b, "by")), scope);
          if (!st) return Problem(StatusOf(st.error()), st.error().message);
          return Json(200, json::object{{"deleted", id}});
        });

  route("GET", "/api/v1/audit", [ctx, scoped](const ApiRequest& req, const soc::ApiToken& tok) {
    Scoped s;
    ApiReply err;
    if (!scoped(req, tok, &s, &err)) return err;
    soc::AuditFilter f;
    f.tenant = s.scope;
    if (auto v = Param(s.params, "alert"); v && !ParseId(*v, &f.alert_id))
      return Problem(400, "alert: an alert number");
    if (auto v = Param(s.params, "suppression"); v && !ParseId(*v, &f.suppression_id))
      return Problem(400, "suppression: a suppression number");
    if (auto v = Param(s.params, "limit"); v && !ParseCount(*v, soc::kMaxAlertPage, &f.limit))
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

  route("GET", "/api/v1/stats", [ctx, provider_only](const ApiRequest&, const soc::ApiToken& tok) {
    ApiReply err;
    if (!provider_only(tok, &err)) return err;
    return Json(200, ctx->stats ? ctx->stats() : json::object{});
  });

  route("GET", "/metrics", [ctx, provider_only](const ApiRequest&, const soc::ApiToken& tok) {
    ApiReply err;
    if (!provider_only(tok, &err)) return err;
    return ApiReply{200, "text/plain; version=0.0.4; charset=utf-8",
                    ctx->metrics ? ctx->metrics() : std::string()};
  });

  route("POST", "/api/v1/verify",
        [ctx, provider_only](const ApiRequest&, const soc::ApiToken& tok) {
          ApiReply err;
          if (!provider_only(tok, &err)) return err;
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

  return [ctx, routes](const ApiRequest& req) -> ApiReply {
    const std::string path = req.target.substr(0, req.target.find('?'));
    if (path == "/healthz") {
      const bool ok = !ctx->healthy || ctx->healthy();
      return Json(ok ? 200 : 503,
                  json::object{{"status", ok ? "ok" : "failing"}, {"service", "socd-api"}});
    }
    // Unknown paths are 401 too without a token: nothing about the API is told to strangers.
    const std::string_view authorization = req.Header("authorization");
    std::optional<soc::ApiToken> token =
        ctx->auth != nullptr ? ctx->auth->Authenticate(authorization) : std::nullopt;
    if (!token) {
      ApiReply r = Problem(401, authorization.empty()
                                    ? "authentication required: send Authorization: Bearer <token>"
                                    : "the bearer token is not valid");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"seccloud-soc\"");
      return r;
    }
    auto it = routes->find(req.method + " " + path);
    if (it != routes->end()) return it->second(req, *token);
    for (const auto& [key, r] : *routes)
      if (key.substr(key.find(' ') + 1) == path) return Problem(405, "method not allowed");
    return Problem(404, "no such API path: " + path);
  };
}

Result<std::unique_ptr<net::AdminServer>> StartApiServer(boost::asio::io_context& io,
                                                         const SocConfig& config,
                                                         ApiHandler handler) {
  net::AdminServer::Options o;
  o.listen = config.api;
  o.service = "socd-api";
  o.builtin_endpoints = false;
  o.request_timeout = std::chrono::seconds(10);
  o.write_timeout = std::chrono::seconds(30);
  o.tls_certificate = config.api_tls_certificate;
  o.tls_key = config.api_tls_key;
  o.what = "soc.api";
  ASSIGN_OR_RETURN(auto server, net::AdminServer::Start(io, std::move(o)));
  server->Fallback(std::move(handler));
  return server;
}

int ActiveSearchStreams() { return SearchCore::active(); }
void WaitForSearchStreams() { SearchCore::WaitForNone(); }

Result<net::HttpResponse> ApiCall(const SocConfig& config, const std::string& method,
                                  const std::string& target, const std::string& body,
                                  const std::string& authorization,
                                  std::chrono::milliseconds timeout, size_t max_body) {
  Endpoint to = config.api;
  if (to.address == IpAddress() || to.address == *IpAddress::Parse("::"))
    to.address = *IpAddress::Parse(to.address.is_v4() ? "127.0.0.1" : "::1");
  net::HttpCallOptions o;
  if (!authorization.empty()) o.headers.emplace_back("Authorization", authorization);
  o.timeout = timeout;
  o.max_body = max_body;
  if (!config.api_tls_certificate.empty()) {
    o.tls = true;
    o.tls_trust = config.api_tls_certificate;
  }
  return net::HttpCallSync(to, method, target, body, o);
}

}  // namespace seccloud::socd
