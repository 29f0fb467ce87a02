// R20/R27: the SOC API's authentication and tenant scoping, and the streamed search (R18), through
// the request handler with a real embedded store and alert store in a temporary directory.
#include "socd/api.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <thread>

#include "core/socket_testing.h"
#include "soc/parse.h"

namespace seccloud::socd {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int64_t kNow = 1'780'000'000'000;

class SocApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("socd_api_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    soc::EmbeddedStoreOptions so;
    so.directory = dir_ / "store";
    so.normalize = soc::Normalize;
    so.search_threads = search_threads_;
    store_ = std::move(*soc::OpenEmbeddedStore(std::move(so)));
    soc::AlertStoreOptions ao;
    ao.path = (dir_ / "alerts.db").string();
    ao.clock_ms = [] { return kNow; };
    alerts_ = std::move(*soc::OpenAlertStore(ao));

    soc_token_ = *soc::MintApiToken();
    tsu_token_ = *soc::MintApiToken();
    both_token_ = *soc::MintApiToken();
    std::ofstream(dir_ / "tokens") << "# test tokens\n"
                                   << soc::ApiTokenLine("analyst", soc_token_, true, {})
                                   << soc::ApiTokenLine("tsu-csirt", tsu_token_, false, {"tsu"})
                                   << soc::ApiTokenLine("mie", both_token_, false, {"ise", "tsu"});
    auto auth = ApiAuth::Open(dir_ / "tokens", dir_ / "cli.token");
    ASSERT_TRUE(auth.has_value()) << auth.error().ToString();
    auth_ = std::move(*auth);

    // 3,000 records of tenant tsu and 10 of ise, one per second.
    std::vector<soc::Record> records;
    for (int i = 0; i < 3010; ++i) {
      soc::Record r;
      r.format = soc::Format::kJson;
      r.received_ms = kNow - 10'000'000 + i * 1000;
      r.tenant = i < 3000 ? "tsu" : "ise";
      r.source = "test";
      r.raw = R"({"@timestamp":")" + soc::FormatTimeMs(r.received_ms) +
              R"(","event":{"dataset":"proxy.access","action":"allowed"},"source":{"ip":"10.)" +
              (i < 3000 ? "1" : "2") + R"(.0.1"},"n":)" + std::to_string(i) + "}";
      records.push_back(std::move(r));
    }
    for (auto& r : records) soc::Normalize(r);
    ASSERT_TRUE(store_->Append(records, {}));
    ise_seq_ = records.back().seq;
    tsu_seq_ = records.front().seq;

    for (const char* tenant : {"tsu", "ise"}) {
      soc::Detection d;
      d.rule_id = "r1";
      d.rule_title = "test rule";
      d.ruleset = "sigma";
      d.tenant = tenant;
      d.entity =
          std::string("source.ip=") + (tenant == std::string("tsu") ? "10.1.0.1" : "10.2.0.1");
      d.time_ms = kNow;
      d.evidence = {tenant == std::string("tsu") ? tsu_seq_ : ise_seq_};
      auto o = alerts_->Add(d);
      ASSERT_TRUE(o.has_value());
      (tenant == std::string("tsu") ? tsu_alert_ : ise_alert_) = o->alert_id;
    }

    auto ctx = std::make_shared<ApiContext>();
    ctx->store = store_.get();
    ctx->alerts = alerts_.get();
    ctx->auth = auth_.get();
    ctx->now_ms = [] { return kNow; };
    ctx->stats = [] { return json::object{{"records", 1}}; };
    ctx->metrics = [] { return std::string("x 1\n"); };
    handler_ = MakeApiHandler(ctx);
  }
  void TearDown() override { fs::remove_all(dir_); }

  ApiReply Call(const std::string& method, const std::string& target, const std::string& token,
                const std::string& body = "") {
    ApiRequest req{method, target, body};
    if (!token.empty()) req.headers.emplace_back("authorization", "Bearer " + token);
    return handler_(req);
  }
  // The whole body of a reply, streamed or not.
  static std::string Drain(ApiReply& r) {
    std::string all = r.body;
    for (bool more = r.stream != nullptr; more;) {
      std::string chunk;
      more = Pull(*r.stream, &chunk);
      all += chunk;
    }
    return all;
  }
  // One chunk of a streamed reply, waiting for it as the server would.
  static bool Pull(net::BodyStream& stream, std::string* chunk) {
    std::promise<std::pair<std::string, bool>> got;
    stream.Pull([&got](std::string c, bool more) { got.set_value({std::move(c), more}); });
    auto [c, more] = got.get_future().get();
    *chunk = std::move(c);
    return more;
  }
  static json::object Object(const ApiReply& r) { return json::parse(r.body).as_object(); }

  size_t search_threads_ = 0;  // the store's EmbeddedStoreOptions::search_threads
  fs::path dir_;
  std::unique_ptr<soc::LogStore> store_;
  std::unique_ptr<soc::AlertStore> alerts_;
  std::unique_ptr<ApiAuth> auth_;
  ApiHandler handler_;
  std::string soc_token_, tsu_token_, both_token_;
  uint64_t tsu_seq_ = 0, ise_seq_ = 0;
  int64_t tsu_alert_ = 0, ise_alert_ = 0;
};

TEST_F(SocApiTest, EveryCallWithoutAValidTokenIs401) {
  for (const char* target : {"/api/v1/alerts", "/api/v1/search?q=*", "/api/v1/stats",
                             "/api/v1/records?seq=1", "/api/v1/audit", "/metrics", "/nope"}) {
    ApiReply none = Call("GET", target, "");
    EXPECT_EQ(none.status, 401) << target;
    EXPECT_TRUE(Object(none).contains("error")) << target;
    EXPECT_EQ(Call("GET", target, "sct_" + std::string(64, '0')).status, 401) << target;
    EXPECT_EQ(Call("GET", target, tsu_token_ + "x").status, 401) << target;
  }
  EXPECT_EQ(
      handler_(ApiRequest{"GET", "/api/v1/alerts", "", {{"authorization", "Basic " + soc_token_}}})
          .status,
      401);
  EXPECT_EQ(Call("GET", "/api/v1/alerts", "").headers.at(0).first, "WWW-Authenticate");
  EXPECT_EQ(Call("POST", "/api/v1/alerts/ack", "", R"({"id":1,"by":"x"})").status, 401);
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200) << "liveness needs no token";
  EXPECT_EQ(Call("GET", "/api/v1/alerts", soc_token_).status, 200);
  // The CLI token socd created.
  auto cli = ReadTokenFile(dir_ / "cli.token");
  ASSERT_TRUE(cli.has_value());
  EXPECT_EQ((fs::status(dir_ / "cli.token").permissions() & fs::perms::all),
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(Call("GET", "/api/v1/stats", *cli).status, 200);
}

TEST_F(SocApiTest, TenantTokenNeverSeesAnotherTenant) {
  // Alerts: only its own, whatever it asks.
  auto list = Call("GET", "/api/v1/alerts", tsu_token_);
  ASSERT_EQ(list.status, 200);
  const json::object list_body = Object(list);
  const auto& alerts = list_body.at("alerts").as_array();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].at("tenant").as_string(), "tsu");
  EXPECT_EQ(Call("GET", "/api/v1/alerts?tenant=ise", tsu_token_).status, 403);
  EXPECT_EQ(Call("GET", "/api/v1/alert?id=" + std::to_string(ise_alert_), tsu_token_).status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/alert?id=" + std::to_string(tsu_alert_), tsu_token_).status, 200);
  // Records by number: the other tenant's are left out.
  auto recs = Call(
      "GET", "/api/v1/records?seq=" + std::to_string(ise_seq_) + "," + std::to_string(tsu_seq_),
      tsu_token_);
  ASSERT_EQ(recs.status, 200);
  const json::object recs_body = Object(recs);
  ASSERT_EQ(recs_body.at("records").as_array().size(), 1u);
  EXPECT_EQ(recs_body.at("records").as_array()[0].at("tenant").as_string(), "tsu");
  // Search: nothing of ise even for a query that names it.
  auto found = Call("GET", "/api/v1/search?q=source.ip:10.2.0.1&mode=page", tsu_token_);
  ASSERT_EQ(found.status, 200);
  EXPECT_EQ(Object(found).at("count").as_int64(), 0);
  EXPECT_EQ(Call("GET", "/api/v1/search?q=source.ip:10.2.0.1&tenant=ise", tsu_token_).status, 403);
  // Acting on another tenant's alert: not found, and nothing changes.
  auto ack = Call("POST", "/api/v1/alerts/ack", tsu_token_,
                  R"({"id":)" + std::to_string(ise_alert_) + R"(,"by":"eve"})");
  EXPECT_EQ(ack.status, 404);
  EXPECT_EQ(Call("POST", "/api/v1/alerts/ack", tsu_token_,
                 R"({"id":)" + std::to_string(ise_alert_) + R"(,"tenant":"ise"})")
                .status,
            403);
  EXPECT_EQ(alerts_->GetAlert(ise_alert_)->status, soc::AlertStatus::kOpen);
  // Audit: its own entries only; provider-wide endpoints refused.
  auto mine = Call("POST", "/api/v1/alerts/ack", tsu_token_,
                   R"({"id":)" + std::to_string(tsu_alert_) + R"(,"by":"hanako"})");
  ASSERT_EQ(mine.status, 200) << mine.body;
  auto audit = Call("GET", "/api/v1/audit", tsu_token_);
  ASSERT_EQ(audit.status, 200);
  const json::object audit_body = Object(audit);
  const auto& entries = audit_body.at("audit").as_array();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].at("who").as_string(), "hanako (token tsu-csirt)");
  EXPECT_EQ(Call("GET", "/api/v1/stats", tsu_token_).status, 403);
  EXPECT_EQ(Call("POST", "/api/v1/verify", tsu_token_).status, 403);
  EXPECT_EQ(Call("GET", "/metrics", tsu_token_).status, 403);
  // Suppressions are forced to the token's tenant.
  auto sup = Call("POST", "/api/v1/suppressions", tsu_token_,
                  R"({"rule":"*","reason":"test","expires":"1d"})");
  ASSERT_EQ(sup.status, 200) << sup.body;
  auto sups = alerts_->ListSuppressions();
  ASSERT_EQ(sups->size(), 1u);
  EXPECT_EQ((*sups)[0].tenant, std::optional<std::string>("tsu"));
  EXPECT_EQ((*sups)[0].created_by, "tsu-csirt");
}

TEST_F(SocApiTest, SeveralTenantTokenNamesOne) {
  EXPECT_EQ(Call("GET", "/api/v1/alerts", both_token_).status, 400);
  auto ise = Call("GET", "/api/v1/alerts?tenant=ise", both_token_);
  ASSERT_EQ(ise.status, 200);
  const json::object ise_body = Object(ise);
  ASSERT_EQ(ise_body.at("alerts").as_array().size(), 1u);
  EXPECT_EQ(ise_body.at("alerts").as_array()[0].at("tenant").as_string(), "ise");
  EXPECT_EQ(Call("GET", "/api/v1/alerts?tenant=kuwana", both_token_).status, 403);
  // The SOC's token sees both and may narrow.
  EXPECT_EQ(Object(Call("GET", "/api/v1/alerts", soc_token_)).at("alerts").as_array().size(), 2u);
  EXPECT_EQ(
      Object(Call("GET", "/api/v1/alerts?tenant=ise", soc_token_)).at("alerts").as_array().size(),
      1u);
}

TEST_F(SocApiTest, TokenFileChangesApplyWithoutRestart) {
  const std::string later = *soc::MintApiToken();
  EXPECT_EQ(Call("GET", "/api/v1/alerts", later).status, 401);
  sleep(1);  // the file is checked at most once a second, and its mtime must differ
  std::ofstream(dir_ / "tokens", std::ios::app) << soc::ApiTokenLine("later", later, true, {});
  sleep(1);
  EXPECT_EQ(Call("GET", "/api/v1/alerts", later).status, 200);
  // A broken file keeps the tokens that were in force.
  std::ofstream(dir_ / "tokens", std::ios::app) << "garbage line\n";
  sleep(1);
  EXPECT_EQ(Call("GET", "/api/v1/alerts", later).status, 200);
}

TEST_F(SocApiTest, SearchStreamsNdjsonInTimeOrderWithASummary) {
  auto r = Call("GET", "/api/v1/search?q=event.dataset:proxy.access&limit=2500", tsu_token_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/x-ndjson");
  ASSERT_TRUE(r.stream != nullptr) << "a streamed answer";
  EXPECT_LT(r.body.size(), size_t{2} << 20) << "the first chunk is one page, not everything";
  const std::string all = Drain(r);
  std::vector<json::object> lines;
  for (size_t pos = 0; pos < all.size();) {
    const size_t nl = all.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    lines.push_back(json::parse(all.substr(pos, nl - pos)).as_object());
    pos = nl + 1;
  }
  ASSERT_EQ(lines.size(), 2501u);
  int64_t last_n = -1;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(lines[i].at("tenant").as_string(), "tsu");
    const int64_t n = lines[i].at("fields").at("n").as_int64();
    EXPECT_EQ(n, last_n + 1) << "time order, nothing skipped or repeated";
    last_n = n;
  }
  const json::object& done = lines.back();
  EXPECT_TRUE(done.at("done").as_bool());
  EXPECT_EQ(done.at("count").as_int64(), 2500);
  EXPECT_TRUE(done.at("truncated").as_bool());
  // The cursor resumes exactly after the last record.
  auto rest = Call("GET",
                   "/api/v1/search?q=event.dataset:proxy.access&after=" +
                       std::string(done.at("next").as_string()),
                   tsu_token_);
  const std::string tail = Drain(rest);
  size_t count = 0;
  int64_t first = -1;
  for (size_t pos = 0; pos < tail.size();) {
    const size_t nl = tail.find('\n', pos);
    auto o = json::parse(tail.substr(pos, nl - pos)).as_object();
    if (o.contains("fields")) {
      if (first < 0) first = o.at("fields").at("n").as_int64();
      ++count;
    } else {
      EXPECT_FALSE(o.at("truncated").as_bool());
    }
    pos = nl + 1;
  }
  EXPECT_EQ(first, 2500);
  EXPECT_EQ(count, 500u);
  // Newest first.
  auto desc = Call("GET", "/api/v1/search?q=*&order=desc&limit=3", soc_token_);
  const std::string d = Drain(desc);
  EXPECT_NE(d.find("\"n\":3009"), std::string::npos);
  EXPECT_LT(d.find("\"n\":3009"), d.find("\"n\":3008"));
  // Bad parameters are 400 with a reason.
  EXPECT_EQ(Call("GET", "/api/v1/search?q=a:(", soc_token_).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/search?q=*&limit=99999999999", soc_token_).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/search?q=*&mode=xml", soc_token_).status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/search?q=*&after=12", soc_token_).status, 400);
}

// `n` kuwana records of the one millisecond `at_ms`, dataset "burst", field b = 0 … n-1.
std::vector<soc::Record> Burst(int n, int64_t at_ms) {
  std::vector<soc::Record> burst;
  for (int i = 0; i < n; ++i) {
    soc::Record r;
    r.format = soc::Format::kJson;
    r.received_ms = at_ms;
    r.tenant = "kuwana";
    r.source = "test";
    r.raw = R"({"@timestamp":")" + soc::FormatTimeMs(at_ms) +
            R"(","event":{"dataset":"burst"},"b":)" + std::to_string(i) + "}";
    soc::Normalize(r);
    burst.push_back(std::move(r));
  }
  return burst;
}

// The objects of an NDJSON answer, one a line; a last line without its newline is a failure.
std::vector<json::object> NdjsonLines(const std::string& all) {
  std::vector<json::object> lines;
  for (size_t pos = 0; pos < all.size();) {
    const size_t nl = all.find('\n', pos);
    if (nl == std::string::npos) {
      ADD_FAILURE() << "an NDJSON line without its newline: " << all.substr(pos, 200);
      break;
    }
    lines.push_back(json::parse(all.substr(pos, nl - pos)).as_object());
    pos = nl + 1;
  }
  return lines;
}

// A burst: thousands of records of one millisecond stream once each, and a cursor in the middle
// of the burst resumes exactly after it.
TEST_F(SocApiTest, BurstOfOneMillisecondStreamsWholeAndResumes) {
  std::vector<soc::Record> burst = Burst(5000, kNow - 1000);
  ASSERT_TRUE(store_->Append(burst, {}));
  auto first = Call("GET", "/api/v1/search?q=event.dataset:burst&limit=3500", soc_token_);
  std::string all = Drain(first);
  std::set<int64_t> seen;
  std::string next;
  for (const json::object& o : NdjsonLines(all)) {
    if (o.contains("fields")) {
      EXPECT_TRUE(seen.insert(o.at("fields").at("b").as_int64()).second);
    } else {
      next = std::string(o.at("next").as_string());
    }
  }
  ASSERT_EQ(seen.size(), 3500u);
  ASSERT_FALSE(next.empty());
  auto rest = Call("GET", "/api/v1/search?q=event.dataset:burst&after=" + next, soc_token_);
  all = Drain(rest);
  size_t more = 0;
  for (const json::object& o : NdjsonLines(all)) {
    if (o.contains("fields")) {
      EXPECT_TRUE(seen.insert(o.at("fields").at("b").as_int64()).second) << "repeated";
      ++more;
    }
  }
  EXPECT_EQ(more, 1500u);
  EXPECT_EQ(seen.size(), 5000u);
  // A client that goes away mid-stream: the answer is dropped, its search stops.
  auto dropped = Call("GET", "/api/v1/search?q=*&limit=100000", soc_token_);
  std::string chunk;
  ASSERT_TRUE(Pull(*dropped.stream, &chunk));
  dropped = ApiReply{};
  for (int i = 0; i < 3000 && ActiveSearchStreams() > 0; ++i) usleep(10'000);
  EXPECT_EQ(ActiveSearchStreams(), 0) << "the search stopped";
}

// A burst larger than one store page (4,096 records) streams whole across page boundaries, in
// either order, and a cursor inside it resumes exactly after it.
TEST_F(SocApiTest, BurstLargerThanAPageCrossesPageBoundaries) {
  std::vector<soc::Record> burst = Burst(10'000, kNow - 2000);
  ASSERT_TRUE(store_->Append(burst, {}));
  for (const char* order : {"asc", "desc"}) {
    auto r =
        Call("GET", std::string("/api/v1/search?q=*&tenant=kuwana&limit=10000000&order=") + order,
             soc_token_);
    ASSERT_EQ(r.status, 200);
    const std::string all = Drain(r);
    std::vector<int64_t> seen;
    json::object done;
    for (const json::object& o : NdjsonLines(all)) {
      if (o.contains("fields"))
        seen.push_back(o.at("fields").at("b").as_int64());
      else
        done = o;
    }
    ASSERT_EQ(seen.size(), 10'000u) << order << ": " << json::serialize(done);
    for (size_t i = 0; i < seen.size(); ++i)
      ASSERT_EQ(seen[i], std::string(order) == "asc" ? int64_t(i) : int64_t(9'999 - i))
          << order << " seq order within the millisecond, nothing repeated or skipped";
    EXPECT_TRUE(done.at("done").as_bool());
    EXPECT_FALSE(done.at("truncated").as_bool());
  }
  // Stop in the middle of the burst, past a page, and resume.
  auto first = Call("GET", "/api/v1/search?q=*&tenant=kuwana&limit=6000", soc_token_);
  std::string all = Drain(first);
  const size_t at = all.rfind("\"next\":\"");
  ASSERT_NE(at, std::string::npos);
  const std::string next = all.substr(at + 8, all.find('"', at + 8) - at - 8);
  auto rest = Call("GET", "/api/v1/search?q=*&tenant=kuwana&after=" + next, soc_token_);
  all = Drain(rest);
  int64_t expect = 6000;
  for (const json::object& o : NdjsonLines(all)) {
    if (o.contains("fields")) {
      EXPECT_EQ(o.at("fields").at("b").as_int64(), expect++);
    }
  }
  EXPECT_EQ(expect, 10'000);
}

// 60,000 records of one millisecond (more than the 50,000 the API could resume within before the
// store cursor) page through the API completely, in seq order, each once: streamed across 15
// store pages, and with mode=page through the "next" cursor.
TEST_F(SocApiTest, SixtyThousandRecordsOfOneMillisecondPageExactly) {
  constexpr int kBurst = 60'000;
  std::vector<soc::Record> burst;
  for (int i = 0; i < kBurst; ++i) {
    soc::Record r;
    r.format = soc::Format::kJson;
    r.received_ms = kNow - 3000;
    r.tenant = "kuwana";
    r.source = "test";
    r.raw = R"({"@timestamp":")" + soc::FormatTimeMs(kNow - 3000) +
            R"(","event":{"dataset":"burst"},"b":)" + std::to_string(i) + "}";
    soc::Normalize(r);
    burst.push_back(std::move(r));
  }
  ASSERT_TRUE(store_->Append(burst, {}));
  auto streamed = Call("GET", "/api/v1/search?q=*&tenant=kuwana&limit=10000000", soc_token_);
  ASSERT_EQ(streamed.status, 200);
  const std::string all = Drain(streamed);
  int64_t expect = 0;
  json::object done;
  for (size_t pos = 0; pos < all.size();) {
    const size_t nl = all.find('\n', pos);
    auto o = json::parse(all.substr(pos, nl - pos)).as_object();
    if (o.contains("fields"))
      ASSERT_EQ(o.at("fields").at("b").as_int64(), expect++) << "in order, none repeated";
    else
      done = o;
    pos = nl + 1;
  }
  EXPECT_EQ(expect, kBurst);
  EXPECT_TRUE(done.contains("done")) << json::serialize(done);
  EXPECT_EQ(done.at("count").as_int64(), kBurst);
  EXPECT_FALSE(done.at("truncated").as_bool());
  // Pages of 10,000 (newest first), each resumed at the previous page's cursor.
  std::string after;
  expect = kBurst - 1;
  int pages = 0;
  for (; pages < 20; ++pages) {
    auto r = Call("GET",
                  "/api/v1/search?q=*&tenant=kuwana&mode=page&limit=10000&order=desc" +
                      (after.empty() ? std::string() : "&after=" + after),
                  soc_token_);
    ASSERT_EQ(r.status, 200) << r.body;
    const json::object page = json::parse(r.body).as_object();
    for (const auto& rec : page.at("records").as_array())
      ASSERT_EQ(rec.at("fields").at("b").as_int64(), expect--) << "page " << pages;
    if (!page.at("truncated").as_bool()) break;
    after = std::string(page.at("next").as_string());
  }
  EXPECT_EQ(expect, -1) << "every record once";
  EXPECT_EQ(pages, 5) << "six pages: the last one says nothing follows";
}

long VmRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("VmRSS:")) return std::atol(line.c_str() + 6);
  return -1;
}

// The API on its real server (net::AdminServer over TCP) for a test's raw client.
class SocApiServerTest : public SocApiTest {
 protected:
  void StartServer(const SocConfig& config) {
    auto s = StartApiServer(io_, config, handler_);
    ASSERT_TRUE(s.has_value()) << s.error().ToString();
    server_ = std::move(*s);
    port_ = server_->local_endpoint().port;
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (server_) server_->Stop();
    io_.stop();
    if (thread_.joinable()) thread_.join();
    WaitForSearchStreams();
    SocApiTest::TearDown();
  }
  int Connect() { return test::ConnectLoopback(port_); }
  // Reads until "\r\n\r\n"; returns the status line's code.
  static int ReadHead(int fd) {
    std::string head;
    char c;
    while (head.size() < 65536 && !head.ends_with("\r\n\r\n") && ::recv(fd, &c, 1, 0) == 1)
      head += c;
    return head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
  }

  boost::asio::io_context io_;
  std::unique_ptr<net::AdminServer> server_;
  std::thread thread_;
  uint16_t port_ = 0;
};

// R18/R20: a search with a huge limit read by a slow client keeps socd's memory bounded. The
// records have random times within a day, so every store block overlaps every other: a single
// store search with the answer's limit would buffer all of them before handing out the first.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// ASan's quarantine keeps freed memory resident (256 MB by default), and TSan's shadow memory
// grows with every byte touched, so RSS says nothing about what is live there; the answer is
// still checked whole, on fewer records.
constexpr bool kRssMeaningful = false;
constexpr int kBulkRecords = 8'000;
#else
constexpr bool kRssMeaningful = true;
constexpr int kBulkRecords = 60'000;
#endif

// On one search thread: each decoding thread holds a decoded block of its own (a search holds up
// to threads + 2), which is the store's bound, not the API's; with the machine's threads (2 on
// two cores) the growth measured +58 to +65 MB, too near a bound that must stay under what
// buffering the answer costs.
class SocApiServerOneSearchThreadTest : public SocApiServerTest {
 protected:
  SocApiServerOneSearchThreadTest() { search_threads_ = 1; }
};

TEST_F(SocApiServerOneSearchThreadTest, SlowReaderOfAHugeSearchKeepsMemoryBounded) {
  constexpr int kRecords = kBulkRecords;
  std::vector<soc::Record> records;
  uint64_t x = 88172645463325252ull;
  const std::string padding(600, 'p');
  for (int i = 0; i < kRecords; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    soc::Record r;
    r.format = soc::Format::kJson;
    r.received_ms = kNow - 20'000'000 - static_cast<int64_t>(x % 86'400'000);
    r.tenant = "ise";
    r.source = "test";
    r.raw = R"({"@timestamp":")" + soc::FormatTimeMs(r.received_ms) +
            R"(","event":{"dataset":"bulk"},"message":")" + padding + R"(","k":)" +
            std::to_string(i) + "}";
    soc::Normalize(r);
    records.push_back(std::move(r));
    if (records.size() == 5000 || i + 1 == kRecords) {
      ASSERT_TRUE(store_->Append(records, {}));
      records.clear();
    }
  }
  SocConfig config;
  config.api = *Endpoint::Parse("127.0.0.1:0");
  StartServer(config);
  const long base_kb = VmRssKb();
  const int fd = Connect();
  ASSERT_GE(fd, 0);
  const int small = 32 << 10;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  // HTTP/1.0: the body is not chunked and ends with the connection.
  const std::string req =
      "GET /api/v1/search?q=event.dataset:bulk&limit=10000000 HTTP/1.0\r\n"
      "Authorization: Bearer " +
      soc_token_ + "\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  ASSERT_EQ(ReadHead(fd), 200);
  long peak_kb = base_kb;
  size_t lines = 0, bytes = 0;
  std::string tail;
  char buf[16384];
  for (int reads = 0;; ++reads) {
    // Slow for the first 300 reads (~5 MB at 16 KiB per 5 ms), then as fast as it comes.
    if (reads < 300) usleep(5000);
    const ssize_t n = ::recv(fd, buf, reads < 300 ? 16384 : sizeof(buf), 0);
    if (n <= 0) break;
    bytes += static_cast<size_t>(n);
    for (ssize_t i = 0; i < n; ++i) lines += buf[i] == '\n';
    tail.append(buf, static_cast<size_t>(n));
    if (tail.size() > 8192) tail.erase(0, tail.size() - 4096);
    if (reads % 16 == 0) peak_kb = std::max(peak_kb, VmRssKb());
  }
  ::close(fd);
  EXPECT_EQ(lines, static_cast<size_t>(kRecords) + 1) << "every record and the summary";
  EXPECT_NE(tail.find("\"done\":true"), std::string::npos) << tail.substr(tail.size() - 300);
  EXPECT_NE(tail.find("\"count\":" + std::to_string(kRecords)), std::string::npos);
  const long grew_mb = (peak_kb - base_kb) / 1024;
  std::printf("[ info ] answer %zu MB, RSS %ld MB before, peak growth %ld MB\n", bytes >> 20,
              base_kb / 1024, grew_mb);
  // Streamed, the server holds one store page of 4,096 records, one decoded block and a few
  // chunks: +14 to +28 MB measured with 40,000 records when this test was written, +42 to +43 MB
  // with 60,000 on one search thread at 2026-11-27's main. One store search with the answer's
  // limit (the search before paging) buffered them all: +75 MB at 40,000, +111 MB at 60,000.
  if (kRssMeaningful) {
    EXPECT_LT(grew_mb, 64) << "memory grew with the limit";
  }
}

// A client that goes away mid-answer stops its search (the server notices the close even while
// it waits for the search).
TEST_F(SocApiServerTest, ClientGoingAwayCancelsTheSearch) {
  SocConfig config;
  config.api = *Endpoint::Parse("127.0.0.1:0");
  StartServer(config);
  for (int round = 0; round < 2; ++round) {
    const int fd = Connect();
    ASSERT_GE(fd, 0);
    const std::string req =
        "GET /api/v1/search?q=*&limit=10000000 HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer " +
        soc_token_ + "\r\n\r\n";
    ::send(fd, req.data(), req.size(), 0);
    ASSERT_EQ(ReadHead(fd), 200);
    if (round == 1) {
      char buf[100];
      ::recv(fd, buf, sizeof(buf), 0);
    }
    ::close(fd);
    for (int i = 0; i < 3000 && ActiveSearchStreams() > 0; ++i) usleep(10'000);
    EXPECT_EQ(ActiveSearchStreams(), 0);
  }
  // The server still serves.
  const int fd = Connect();
  const std::string req = "GET /healthz HTTP/1.0\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  EXPECT_EQ(ReadHead(fd), 200);
  ::close(fd);
}

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// R20: the API over TLS (soc.api.tls) as the web console will use it: curl trusting a test CA
// made here with the openssl CLI; plain HTTP and unverified clients get nothing.
TEST_F(SocApiServerTest, ServesHttpsWithTheConfiguredCertificate) {
  if (std::system("command -v openssl >/dev/null 2>&1 && command -v curl >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "needs the openssl and curl commands";
  const fs::path pki = dir_ / "pki";
  fs::create_directories(pki);
  const std::string make =
      "cd " + pki.string() +
      " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key"
      " -out ca.pem -days 2 -subj '/CN=seccloud test CA' >/dev/null 2>&1"
      " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout api.key"
      " -out api.csr -subj /CN=soc.test >/dev/null 2>&1"
      " && printf 'subjectAltName=DNS:soc.test,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n'"
      " > ext.cnf && openssl x509 -req -in api.csr -CA ca.pem -CAkey ca.key -CAcreateserial"
      " -days 2 -extfile ext.cnf -out api.pem >/dev/null 2>&1 && chmod 600 api.key";
  ASSERT_EQ(std::system(make.c_str()), 0);
  SocConfig config;
  config.api = *Endpoint::Parse("127.0.0.1:0");
  config.api_tls_certificate = pki / "api.pem";
  config.api_tls_key = pki / "api.key";
  StartServer(config);
  const std::string url = "https://127.0.0.1:" + std::to_string(port_);
  const std::string auth = " -H 'Authorization: Bearer " + soc_token_ + "'";
  const std::string ok = Shell("curl -sS --max-time 20 --cacert " + (pki / "ca.pem").string() +
                               auth + " '" + url + "/api/v1/search?q=*&tenant=ise&limit=3' 2>&1");
  EXPECT_NE(ok.find("\"done\":true"), std::string::npos) << ok;
  EXPECT_NE(ok.find("\"count\":3"), std::string::npos) << ok;
  const std::string status =
      Shell("curl -s -o /dev/null -w '%{http_code} %{ssl_verify_result}' --max-time 20 --cacert " +
            (pki / "ca.pem").string() + " " + url + "/api/v1/alerts");
  EXPECT_EQ(status, "401 0") << "verified TLS, and still no answer without a token";
  // TLS 1.1 is refused by the server (this client would speak it: SECLEVEL=0 lifts OpenSSL's
  // own floor); an unverified certificate is refused by curl.
  const std::string old = Shell(
      "curl -sk -o /dev/null -w '%{http_code}' --max-time 20 --tlsv1.1 "
      "--tls-max 1.1 --ciphers 'DEFAULT@SECLEVEL=0' " +
      url + "/healthz");
  EXPECT_EQ(old, "000");
  EXPECT_EQ(Shell("curl -s -o /dev/null -w '%{http_code}' --max-time 20 " + url + "/healthz"),
            "000");
  // Plain HTTP on the TLS port gets no HTTP answer.
  EXPECT_EQ(Shell("curl -s -o /dev/null -w '%{http_code}' --max-time 20 http://127.0.0.1:" +
                  std::to_string(port_) + "/healthz"),
            "000");
  // The CLI's client pins the configured certificate (no CA needed).
  config.api.port = port_;
  auto r = ApiCall(config, "GET", "/api/v1/alerts", "", "Bearer " + soc_token_,
                   std::chrono::seconds(20));
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace seccloud::socd
