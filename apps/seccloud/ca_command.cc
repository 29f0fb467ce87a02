// `seccloud ca`: the TLS interception CA of the web proxy (R9).
#include <cstdio>
#include <fstream>
#include <sstream>

#include "apps/seccloud/commands.h"
#include "core/config.h"
#include "net/tls.h"

namespace seccloud::cli {
namespace {

const char* const kCaUsage =
    "usage: seccloud ca init   --config FILE [--rsa] [--force]\n"
    "       seccloud ca import --config FILE --cert CERT.pem --key KEY.pem [--force]\n"
    "       seccloud ca show   --config FILE\n"
    "  init    creates the interception CA in proxy.tls.ca_dir (ECDSA P-256, or RSA 3072 with\n"
    "          --rsa); refuses to replace an existing one without --force.\n"
    "  import  installs the organisation's own CA certificate and unencrypted key there after\n"
    "          checking it is a CA, the key matches and it is valid now.\n"
    "  show    prints the CA certificate (PEM) for terminals to install as a trusted root.\n";

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  if (s.str().size() > (1u << 20)) return std::nullopt;
  return s.str();
}

}  // namespace

int Ca(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("%s", kCaUsage);
    return args.empty() ? 2 : 0;
  }
  const std::string verb = args[0];
  std::string config = "/etc/seccloud/seccloud.yaml", cert, key;
  bool force = false, rsa = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    if ((a == "--config" || a == "-c") && value(config)) continue;
    if (a == "--cert" && value(cert)) continue;
    if (a == "--key" && value(key)) continue;
    if (a == "--force") {
      force = true;
      continue;
    }
    if (a == "--rsa") {
      rsa = true;
      continue;
    }
    std::fprintf(stderr, "seccloud ca: unexpected %s\n%s", a.c_str(), kCaUsage);
    return 2;
  }
  LoadOptions options;
  options.check_directories = false;
  auto cfg = LoadConfig(config, options);
  if (!cfg) {
    std::fprintf(stderr, "%s", cfg.error().ToString().c_str());
    return 1;
  }
  const auto& dir = (*cfg)->proxy.tls.ca_dir;
  if (dir.empty()) {
    std::fprintf(stderr, "seccloud ca: %s has no proxy.tls.ca_dir\n", config.c_str());
    return 1;
  }
  if (verb == "init") {
    net::CaOptions o;
    o.node = (*cfg)->node.name.substr(0, 32);
    o.key_type = rsa ? net::CaKeyType::kRsa3072 : net::CaKeyType::kEcdsaP256;
    o.force = force;
    if (auto st = net::InitCa(dir, o); !st) {
      std::fprintf(stderr, "seccloud ca init: %s\n", st.error().ToString().c_str());
      return 1;
    }
  } else if (verb == "import") {
    auto c = ReadFile(cert), k = ReadFile(key);
    if (!c || !k) {
      std::fprintf(stderr,
                   "seccloud ca import: cannot read --cert and --key (PEM, at most 1 MiB)\n");
      return 1;
    }
    if (auto st = net::ImportCa(*c, *k, dir, force); !st) {
      std::fprintf(stderr, "seccloud ca import: %s\n", st.error().ToString().c_str());
      return 1;
    }
  } else if (verb != "show") {
    std::fprintf(stderr, "seccloud ca: unknown action %s\n%s", verb.c_str(), kCaUsage);
    return 2;
  }
  auto ca = net::InterceptionCa::Load(dir);
  if (!ca) {
    std::fprintf(stderr, "seccloud ca: %s\n", ca.error().ToString().c_str());
    return 1;
  }
  if (verb == "show") {
    std::printf("%s", (*ca)->CertificatePem().c_str());
  } else {
    std::printf("interception CA %s in %s (terminals must trust %s/%s)\n",
                (*ca)->SubjectName().c_str(), dir.c_str(), dir.c_str(), net::kCaCertFile);
  }
  return 0;
}

}  // namespace seccloud::cli
