// libFuzzer target for the ClientHello peek (row R9): hostile bytes from any client reach it
// before a proxy decides to intercept or splice. Besides crashes and out-of-bounds reads, checks
// that results are consistent: a complete parse stays the same when more bytes follow, and every
// prefix of a complete ClientHello is either "need more" or the same answer.

#include <cstdint>
#include <cstdlib>
#include <span>

#include "net/tls.h"

namespace {

using seccloud::net::ClientHelloPeek;
using seccloud::net::PeekClientHello;

bool Same(const ClientHelloPeek& a, const ClientHelloPeek& b) {
  return a.need_more == b.need_more && a.info.server_name == b.info.server_name &&
         a.info.alpn == b.info.alpn && a.info.legacy_version == b.info.legacy_version;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  auto full = PeekClientHello(bytes);
  if (!full) return 0;
  if (full->need_more) return 0;
  if (full->info.alpn.size() > 32) std::abort();
  if (full->info.server_name && full->info.server_name->size() > 253) std::abort();
  // A prefix that ends before the parse completed must say "need more" or fail identically; one
  // that ends after it must give the same answer.
  const size_t cut = size / 2;
  auto prefix = PeekClientHello(bytes.first(cut));
  if (prefix && !prefix->need_more && !Same(*prefix, *full)) std::abort();
  auto sni = seccloud::net::ParseClientHelloSni(bytes);
  if (!sni || *sni != full->info.server_name) std::abort();
  return 0;
}
