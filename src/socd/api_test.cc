// R20/R27: the SOC API's authentication and tenant scoping, and the streamed search (R18), through
// the request handler with a real embedded store and alert store in a temporary directory.
#include "socd/api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <set>

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
    ApiRequest req{method, target, body, token.empty() ? "" : "Bearer " + token};
    return handler_(req);
  }
  // The whole body of a reply, streamed or not.
  static std::string Drain(ApiReply& r) {
    std::string all = r.body;
    if (r.next) {
      std::string chunk;
      for (int guard = 0; guard < 100000; ++guard) {
        chunk.clear();
        const bool more = r.next(&chunk);
        all += chunk;
        if (!more) break;
      }
    }
    return all;
  }
  static json::object Object(const ApiReply& r) { return json::parse(r.body).as_object(); }

  fs::path dir_;
  std::unique_ptr<soc::LogStore> store_;
  std::unique_ptr<soc::AlertStore> alerts_;
  std::unique_ptr<ApiAuth> auth_;
  ApiServer::Handler handler_;
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
  EXPECT_EQ(handler_(ApiRequest{"GET", "/api/v1/alerts", "", "Basic " + soc_token_}).status, 401);
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
  ASSERT_TRUE(static_cast<bool>(r.next)) << "a streamed answer";
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

// A burst: thousands of records of one millisecond stream once each, and a cursor in the middle
// of the burst resumes exactly after it.
TEST_F(SocApiTest, BurstOfOneMillisecondStreamsWholeAndResumes) {
  std::vector<soc::Record> burst;
  for (int i = 0; i < 5000; ++i) {
    soc::Record r;
    r.format = soc::Format::kJson;
    r.received_ms = kNow - 1000;
    r.tenant = "kuwana";
    r.source = "test";
    r.raw = R"({"@timestamp":")" + soc::FormatTimeMs(kNow - 1000) +
            R"(","event":{"dataset":"burst"},"b":)" + std::to_string(i) + "}";
    soc::Normalize(r);
    burst.push_back(std::move(r));
  }
  ASSERT_TRUE(store_->Append(burst, {}));
  auto first = Call("GET", "/api/v1/search?q=event.dataset:burst&limit=3500", soc_token_);
  std::string all = Drain(first);
  std::set<int64_t> seen;
  std::string next;
  for (size_t pos = 0; pos < all.size();) {
    const size_t nl = all.find('\n', pos);
    auto o = json::parse(all.substr(pos, nl - pos)).as_object();
    if (o.contains("fields")) {
      EXPECT_TRUE(seen.insert(o.at("fields").at("b").as_int64()).second);
    } else {
      next = std::string(o.at("next").as_string());
    }
    pos = nl + 1;
  }
  ASSERT_EQ(seen.size(), 3500u);
  ASSERT_FALSE(next.empty());
  auto rest = Call("GET", "/api/v1/search?q=event.dataset:burst&after=" + next, soc_token_);
  all = Drain(rest);
  size_t more = 0;
  for (size_t pos = 0; pos < all.size();) {
    const size_t nl = all.find('\n', pos);
    auto o = json::parse(all.substr(pos, nl - pos)).as_object();
    if (o.contains("fields")) {
      EXPECT_TRUE(seen.insert(o.at("fields").at("b").as_int64()).second) << "repeated";
      ++more;
    }
    pos = nl + 1;
  }
  EXPECT_EQ(more, 1500u);
  EXPECT_EQ(seen.size(), 5000u);
  // A client that goes away mid-stream: the answer is dropped, its search stops.
  auto dropped = Call("GET", "/api/v1/search?q=*&limit=100000", soc_token_);
  std::string chunk;
  ASSERT_TRUE(dropped.next(&chunk));
  dropped = ApiReply{};
}

}  // namespace
}  // namespace seccloud::socd
