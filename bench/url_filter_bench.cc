// R10: URL verdicts per second per core with the full data sets: every UT1 category (CC BY-SA 4.0,
// Université Toulouse 1 Capitole), URLhaus (CC0) and the signature-base C2 list (DRL 1.1).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "policy/url_filter.h"

namespace {

namespace fs = std::filesystem;
using seccloud::policy::UrlFilter;

struct Fixture {
  std::shared_ptr<const UrlFilter> filter;
  std::vector<std::string> hosts;  // owns the strings the requests view
  std::vector<std::string> paths;
  std::vector<seccloud::policy::UrlRequest> requests;
  std::vector<std::string> tenants;
};

std::vector<std::string> SampleLines(const fs::path& file, size_t every, size_t max) {
  std::ifstream in(file);
  std::vector<std::string> out;
  std::string line;
  for (size_t i = 0; std::getline(in, line) && out.size() < max; ++i)
    if (i % every == 0 && !line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

Fixture& Get() {
  static Fixture* fx = [] {
    auto* f = new Fixture;
    const fs::path data = SECCLOUD_SHARED_DATA;
    if (!fs::is_directory(data)) {
      std::fprintf(stderr, "url_filter_bench: %s is missing\n", data.c_str());
      std::exit(1);
    }
    const fs::path db =
        fs::temp_directory_path() / ("url_filter_bench-" + std::to_string(getpid()) + ".db");
    auto stats = seccloud::policy::ImportUt1(data / "url-categories" / "ut1", db);
    if (!stats) {
      std::fprintf(stderr, "import: %s\n", stats.error().ToString().c_str());
      std::exit(1);
    }
    std::fprintf(stderr,
                 "category db: %zu categories, %zu hosts, %zu URLs from %zu lines, %zu bytes\n",
                 stats->categories, stats->domains, stats->urls, stats->lines, stats->file_bytes);
    seccloud::PolicyConfig p;
    p.category_db = db;
    p.feeds.push_back({.name = "urlhaus", .source = (data / "threat-intel/urlhaus").string()});
    p.feeds.push_back(
        {.name = "c2", .source = (data / "threat-intel/signature-base/c2-iocs.txt").string()});
    p.common.categories = {{"malware", seccloud::CategoryAction::kForceBlock},
                           {"phishing", seccloud::CategoryAction::kForceBlock},
                           {"gambling", seccloud::CategoryAction::kBlock},
                           {"adult", seccloud::CategoryAction::kBlock},
                           {"webmail", seccloud::CategoryAction::kWarn}};
    p.common.posting.categories = {"social_networks", "filehosting"};
    auto rule = [](seccloud::UrlRuleConfig::Kind k, std::string v) {
      seccloud::UrlRuleConfig r;
      r.kind = k;
      r.text = v;
      r.value = std::move(v);
      return r;
    };
    using K = seccloud::UrlRuleConfig::Kind;
    p.common.whitelists.push_back({"gov", {rule(K::kDomain, "lg.jp"), rule(K::kDomain, "go.jp")}});
    p.common.blacklists.push_back({"common-bl",
                                   {rule(K::kDomain, "annoying.example"),
                                    rule(K::kUrlPrefix, "https://docs.example/private/")}});
    for (int t = 0; t < 30; ++t) {
      auto& layer = p.tenants["tenant-" + std::to_string(t)];
      layer.whitelists.push_back({"wl", {rule(K::kDomain, "t" + std::to_string(t) + ".lg.jp")}});
      layer.blacklists.push_back(
          {"bl", {rule(K::kDomain, "blocked" + std::to_string(t) + ".example")}});
      layer.categories["games"] = seccloud::CategoryAction::kBlock;
      f->tenants.push_back("tenant-" + std::to_string(t));
    }
    auto built = UrlFilter::Build(p);
    if (!built) {
      std::fprintf(stderr, "build: %s\n", built.error().ToString().c_str());
      std::exit(1);
    }
    f->filter = *built;
    fs::remove(db);  // the mapping stays valid; the benchmark never touches the path again

    // Request mix: 40% hosts from UT1 lists (and their subdomains), 10% URLhaus, 50% unlisted.
    std::mt19937_64 rng(42);
    auto ut1 = SampleLines(data / "url-categories/ut1/malware/domains", 97, 20000);
    for (const char* c : {"gambling", "webmail", "shopping", "press", "social_networks", "bank"}) {
      auto more = SampleLines(data / "url-categories/ut1" / c / "domains", 7, 5000);
      ut1.insert(ut1.end(), more.begin(), more.end());
    }
    auto urlhaus = SampleLines(data / "threat-intel/urlhaus/urlhaus-filter-domains.txt", 3, 5000);
    const char* paths[] = {"/",
                           "/index.html",
                           "/news/2026/11/article.html?id=42",
                           "/wp-login.php",
                           "/static/js/app.min.js",
                           "/search?q=seccloud"};
    for (size_t i = 0; i < (1u << 16); ++i) {
      const unsigned r = rng() % 10;
      std::string host;
      if (r < 4) {
        host = ut1[rng() % ut1.size()];
        if (rng() % 2) host = "www." + host;
      } else if (r < 5) {
        host = urlhaus[rng() % urlhaus.size()];
      } else {
        host = "host" + std::to_string(rng() % 100000) + ".example" + std::to_string(rng() % 50) +
               ".co.jp";
      }
      f->hosts.push_back(std::move(host));
      f->paths.push_back(paths[rng() % 6]);
    }
    for (size_t i = 0; i < f->hosts.size(); ++i) {
      seccloud::policy::UrlRequest req;
      req.method = "GET";
      req.scheme = "https";
      req.host = f->hosts[i];
      req.port = 443;
      req.path = f->paths[i];
      req.is_upload = i % 16 == 0;
      f->requests.push_back(req);
    }
    // Every verdict of the request set, full URL and host only, folded into one FNV-1a digest
    // printed here: two builds that print the same digest decide every request alike (the check
    // behind a change to Evaluate that must not change a verdict).
    uint64_t digest = 1469598103934665603ull;
    auto fold = [&](std::string_view text) {
      for (char c : text) digest = (digest ^ static_cast<unsigned char>(c)) * 1099511628211ull;
      digest = (digest ^ 0xff) * 1099511628211ull;
    };
    for (size_t i = 0; i < f->requests.size(); ++i)
      for (bool full : {true, false}) {
        auto req = f->requests[i];
        if (!full) {
          req.full_url_visible = false;
          req.path = "/";
        }
        const auto v = f->filter->Evaluate(req, f->tenants[i % f->tenants.size()]);
        fold(seccloud::policy::ActionName(v.action));
        for (const std::string* field : {&v.layer, &v.list, &v.entry, &v.category, &v.reason})
          fold(*field);
        fold(v.alert ? "alert" : "-");
        fold(v.posting_restricted ? "posting" : "-");
      }
    std::fprintf(stderr, "verdicts: %zu requests x 2, digest %016llx\n", f->requests.size(),
                 static_cast<unsigned long long>(digest));
    return f;
  }();
  return *fx;
}

void BM_Evaluate(benchmark::State& state) {
  Fixture& f = Get();
  size_t i = 0;
  size_t blocked = 0, alerts = 0;
  for (auto _ : state) {
    const auto& req = f.requests[i & (f.requests.size() - 1)];
    auto v = f.filter->Evaluate(req, f.tenants[i % f.tenants.size()]);
    blocked += v.action == seccloud::policy::Action::kBlock;
    alerts += v.alert;
    benchmark::DoNotOptimize(v);
    ++i;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["blocked_ratio"] = static_cast<double>(blocked) / static_cast<double>(i);
  state.counters["alert_ratio"] = static_cast<double>(alerts) / static_cast<double>(i);
  state.counters["db_mapped_MiB"] = f.filter->categories()->mapped_bytes() / 1048576.0;
  state.counters["db_resident_MiB"] = f.filter->categories()->resident_bytes() / 1048576.0;
  state.counters["filters_KiB"] = f.filter->categories()->filter_bytes() / 1024.0;
  state.counters["rules"] = static_cast<double>(f.filter->rule_count());
}
BENCHMARK(BM_Evaluate);

void BM_EvaluateHostOnly(benchmark::State& state) {
  Fixture& f = Get();
  size_t i = 0;
  for (auto _ : state) {
    auto req = f.requests[i & (f.requests.size() - 1)];
    req.full_url_visible = false;
    req.path = "/";
    benchmark::DoNotOptimize(f.filter->Evaluate(req, f.tenants[i % f.tenants.size()]));
    ++i;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_EvaluateHostOnly);

void BM_NormalizeUrl(benchmark::State& state) {
  Fixture& f = Get();
  size_t i = 0;
  for (auto _ : state) {
    const auto& req = f.requests[i++ & (f.requests.size() - 1)];
    benchmark::DoNotOptimize(
        seccloud::policy::NormalizeUrl(req.scheme, req.host, req.port, req.path));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_NormalizeUrl);

}  // namespace
