// `seccloud policy …` (R10): build the URL category database, and ask the URL filter of a
// configuration what it would do with a URL.
#include <cstdio>
#include <string>
#include <vector>

#include "apps/seccloud/commands.h"
#include "core/config.h"
#include "policy/url_filter.h"

namespace seccloud::cli {
namespace {

constexpr const char* kUsage =
    "usage: seccloud policy import-categories <ut1-dir> <database-file>\n"
    "       seccloud policy check-url [--config FILE] [--tenant ID] [--post] [--host-only] <url>\n"
    "\n"
    "import-categories compiles a UT1-style tree (<dir>/<category>/domains and urls) into one\n"
    "memory-mapped database and replaces <database-file> atomically; running services pick it up\n"
    "on their next poll. check-url prints the verdict the configuration's URL filter gives.\n";

int ImportCategories(const std::vector<std::string>& args) {
  if (args.size() != 2) {
    std::fprintf(stderr, "seccloud policy import-categories: needs <ut1-dir> <database-file>\n%s",
                 kUsage);
    return 2;
  }
  auto stats = policy::ImportUt1(args[0], args[1]);
  if (!stats) {
    std::fprintf(stderr, "seccloud policy import-categories: %s\n",
                 stats.error().ToString().c_str());
    return 1;
  }
  std::printf("%s: %zu categories, %zu hosts, %zu URLs (%zu lines read, %zu rejected), %zu bytes\n",
              args[1].c_str(), stats->categories, stats->domains, stats->urls, stats->lines,
              stats->rejected_lines, stats->file_bytes);
  return 0;
}

int CheckUrl(const std::vector<std::string>& args) {
  std::string config = "/etc/seccloud/seccloud.yaml", tenant, url;
  bool post = false, host_only = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "--config" || a == "-c" || a == "--tenant") && i + 1 < args.size()) {
      (a == "--tenant" ? tenant : config) = args[++i];
    } else if (a == "--post") {
      post = true;
    } else if (a == "--host-only") {
      host_only = true;
    } else if (!a.empty() && a[0] != '-' && url.empty()) {
      url = a;
    } else {
      std::fprintf(stderr, "seccloud policy check-url: unexpected %s\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (url.empty()) {
    std::fprintf(stderr, "seccloud policy check-url: needs a URL\n%s", kUsage);
    return 2;
  }
  auto cfg = LoadConfig(config, LoadOptions{.check_directories = false});
  if (!cfg) {
    std::fprintf(stderr, "%s", cfg.error().ToString().c_str());
    return 1;
  }
  auto filter = policy::UrlFilter::Build((*cfg)->policy);
  if (!filter) {
    std::fprintf(stderr, "seccloud policy check-url: %s\n", filter.error().ToString().c_str());
    return 1;
  }
  std::string why;
  auto u = policy::NormalizeUrl(url, &why);
  if (!u) {
    std::fprintf(stderr, "seccloud policy check-url: the URL %s\n", why.c_str());
    return 2;
  }
  policy::UrlRequest r{.method = post ? "POST" : "GET",
                       .scheme = u->scheme,
                       .host = u->host,
                       .port = u->port,
                       .path = u->path,
                       .full_url_visible = !host_only,
                       .is_upload = post};
  const policy::Verdict v = (*filter)->Evaluate(r, tenant);
  std::printf(
      "%s\nurl: %s\nlayer: %s\nlist: %s\nentry: %s\ncategory: %s\nalert: %s\n"
      "posting_restricted: %s\nreason: %s\n",
      policy::ActionName(v.action), u->full.c_str(), v.layer.c_str(), v.list.c_str(),
      v.entry.c_str(), v.category.c_str(), v.alert ? "true" : "false",
      v.posting_restricted ? "true" : "false", v.reason.c_str());
  return 0;
}

}  // namespace

int Policy(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fprintf(args.empty() ? stderr : stdout, "%s", kUsage);
    return args.empty() ? 2 : 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "import-categories") return ImportCategories(rest);
  if (args[0] == "check-url") return CheckUrl(rest);
  std::fprintf(stderr, "seccloud policy: unknown subcommand %s\n%s", args[0].c_str(), kUsage);
  return 2;
}

}  // namespace seccloud::cli
