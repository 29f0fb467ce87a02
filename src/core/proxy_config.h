#pragma once
// Configuration of the web proxy service (R3, R9, R10): `proxy:` in the config file.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/ip.h"

namespace seccloud {

struct ProxyTimeouts {
  std::chrono::milliseconds client_header{30'000};    // a whole request header (slowloris bound)
  std::chrono::milliseconds client_idle{60'000};      // between requests on a kept-alive connection
  std::chrono::milliseconds connect{10'000};          // TCP connect to an upstream
  std::chrono::milliseconds upstream_header{60'000};  // first response header from an upstream
  std::chrono::milliseconds body_idle{60'000};        // no body bytes either way for this long
  std::chrono::milliseconds tunnel_idle{300'000};     // CONNECT tunnels
};

// TLS inspection (R9).
struct ProxyTlsConfig {
  bool intercept = false;        // decrypt CONNECT tunnels that carry TLS
  std::filesystem::path ca_dir;  // `seccloud ca init` writes ca.pem and ca.key here
  // Never decrypted (spliced after reading the SNI, which the URL filter still judges): these
  // domains and their subdomains — banking, services that forbid inspection.
  std::vector<std::string> no_decrypt_domains;
  std::vector<std::filesystem::path> extra_trust;  // PEM bundles trusted besides the system store
  size_t leaf_cache_size = 10'000;
};

// Malware scanning of responses through scand (R8): bodies up to max_size are held back, scanned
// and released only when clean; larger ones and bypassed types stream through unscanned (and
// the access event says so).
struct ProxyScanConfig {
  bool enabled = false;
  uint64_t max_size = 10 << 20;
  std::vector<std::string> bypass_content_types;  // prefixes: "video/", "audio/"
  std::vector<std::string> bypass_domains;        // domains and their subdomains
  bool block_on_error = true;  // scand unreachable or a scan error: block (fail closed) or pass
  std::chrono::milliseconds timeout{30'000};
  // The bytes all bodies held for the scan — uploads (HoldUpload) and responses (ScanAndRelay) —
  // may take at once, across the process's workers. A body that would pass it is refused with
  // 503 and Retry-After, never passed on unscanned. At least max_size (checked by the parser).
  uint64_t hold_budget = 256ull << 20;
};

struct ProxyConfig {
  bool enabled = false;
  std::vector<Endpoint> listen;  // demo: 127.0.0.1:3128
  unsigned workers = 0;          // 0: one per core
  uint64_t max_header_bytes = 64 << 10;
  unsigned max_headers = 100;
  ProxyTimeouts timeouts;
  unsigned pool_max_idle_per_host = 16;
  std::chrono::milliseconds pool_idle_timeout{30'000};
  // Names answered before (or instead of) the system resolver: the demo's "internet".
  std::map<std::string, std::vector<IpAddress>> hosts;
  bool system_resolver = true;
  // What happens to an X-Forwarded-For header on the way to the internet: "delete" (default: the
  // municipalities' internal addresses stay inside) or "keep".
  bool forward_xff = false;
  std::string block_page_language = "ja";  // "ja" or "en": which comes first on block pages
  std::string via_name = "seccloud";       // pseudonym in Via
  ProxyTlsConfig tls;
  ProxyScanConfig scan;
};

}  // namespace seccloud
