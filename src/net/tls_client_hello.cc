// ClientHello peek: server_name and ALPN from a client's first bytes, before any TLS is spoken
// back (R9: splice where decryption breaks business). Hostile input: every length is checked.

#include <bitset>
#include <cstring>

#include "net/tls.h"

namespace seccloud::net {
namespace {

constexpr uint8_t kContentHandshake = 22;
constexpr uint8_t kHandshakeClientHello = 1;
constexpr size_t kRecordHeader = 5;
constexpr size_t kMaxRecordPayload = 16384 + 2048;  // TLSCiphertext limit; plaintext is 16384
constexpr size_t kMaxHandshakeBody = 64 * 1024;
constexpr size_t kMaxAlpnProtocols = 32;
constexpr uint16_t kExtServerName = 0;
constexpr uint16_t kExtAlpn = 16;

Error Malformed(const char* what) {
  return MakeError(Errc::kInvalidArgument, std::string("malformed ClientHello: ") + what);
}

// A cursor over a byte span whose reads fail instead of running past the end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> d) : d_(d) {}
  size_t left() const { return d_.size() - p_; }
  bool U8(uint8_t* v) {
    if (left() < 1) return false;
    *v = d_[p_++];
    return true;
  }
  bool U16(uint16_t* v) {
    if (left() < 2) return false;
    *v = static_cast<uint16_t>(d_[p_] << 8 | d_[p_ + 1]);
    p_ += 2;
    return true;
  }
  bool Bytes(size_t n, std::span<const uint8_t>* out) {
    if (left() < n) return false;
    *out = d_.subspan(p_, n);
    p_ += n;
    return true;
  }
  // A vector with a 1- or 2-byte length prefix.
  bool Vec8(std::span<const uint8_t>* out) {
    uint8_t n;
    return U8(&n) && Bytes(n, out);
  }
  bool Vec16(std::span<const uint8_t>* out) {
    uint16_t n;
    return U16(&n) && Bytes(n, out);
  }

 private:
  std::span<const uint8_t> d_;
  size_t p_ = 0;
};

Status ParseServerName(std::span<const uint8_t> ext, ClientHelloInfo* info) {
  Reader r(ext);
  std::span<const uint8_t> list;
  if (!r.Vec16(&list) || r.left() != 0 || list.empty()) return Malformed("server_name length");
  Reader l(list);
  while (l.left() > 0) {
    uint8_t type;
    std::span<const uint8_t> name;
    if (!l.U8(&type) || !l.Vec16(&name)) return Malformed("server_name entry");
    if (type != 0) continue;  // only host_name (0) is defined; others are skipped
    if (info->server_name) return Malformed("two host names in server_name");
    auto canonical = CanonicalServerName(
        std::string_view(reinterpret_cast<const char*>(name.data()), name.size()));
    if (!canonical)
      return MakeError(Errc::kInvalidArgument,
                       "ClientHello server_name refused: " + canonical.error().message);
    info->server_name = std::move(*canonical);
  }
  return {};
}

Status ParseAlpn(std::span<const uint8_t> ext, ClientHelloInfo* info) {
  Reader r(ext);
  std::span<const uint8_t> list;
  if (!r.Vec16(&list) || r.left() != 0 || list.size() < 2) return Malformed("ALPN length");
  Reader l(list);
  while (l.left() > 0) {
    std::span<const uint8_t> proto;
    if (!l.Vec8(&proto) || proto.empty()) return Malformed("ALPN protocol");
    if (info->alpn.size() == kMaxAlpnProtocols) return Malformed("more than 32 ALPN protocols");
    info->alpn.emplace_back(reinterpret_cast<const char*>(proto.data()), proto.size());
  }
  return {};
}

Status ParseBody(std::span<const uint8_t> body, ClientHelloInfo* info) {
  Reader r(body);
  std::span<const uint8_t> random, session_id, suites, compression;
  if (!r.U16(&info->legacy_version) || (info->legacy_version >> 8) != 3)
    return Malformed("legacy_version");
  if (!r.Bytes(32, &random)) return Malformed("random");
  if (!r.Vec8(&session_id) || session_id.size() > 32) return Malformed("session_id");
  if (!r.Vec16(&suites) || suites.size() < 2 || suites.size() % 2 != 0)
    return Malformed("cipher_suites");
  if (!r.Vec8(&compression) || compression.empty()) return Malformed("compression_methods");
  if (r.left() == 0) return {};  // no extensions (TLS 1.2 allows it): no SNI, no ALPN
  std::span<const uint8_t> extensions;
  if (!r.Vec16(&extensions) || r.left() != 0) return Malformed("extensions length");
  Reader e(extensions);
  std::bitset<65536> seen;
  while (e.left() > 0) {
    uint16_t type;
    std::span<const uint8_t> data;
    if (!e.U16(&type) || !e.Vec16(&data)) return Malformed("extension");
    if (seen.test(type)) return Malformed("duplicate extension");
    seen.set(type);
    if (type == kExtServerName) {
      RETURN_IF_ERROR(ParseServerName(data, info));
    } else if (type == kExtAlpn) {
      RETURN_IF_ERROR(ParseAlpn(data, info));
    }
  }
  return {};
}

ClientHelloPeek NeedMore() {
  ClientHelloPeek p;
  p.need_more = true;
  return p;
}

}  // namespace

Result<ClientHelloPeek> PeekClientHello(std::span<const uint8_t> bytes) {
  // Reassemble the handshake message from as many records as it spans; copy only what is needed.
  std::vector<uint8_t> message;
  size_t want = 4;  // the handshake header until its length is known
  size_t pos = 0;
  while (message.size() < want) {
    const size_t avail = bytes.size() - pos;
    if (avail >= 1 && bytes[pos] != kContentHandshake)
      return bytes[pos] & 0x80 ? Malformed("SSLv2-format hello is not supported")
                               : Malformed("not a TLS handshake record");
    if (avail >= 2 && bytes[pos + 1] != 3) return Malformed("record version");
    if (avail < kRecordHeader) return NeedMore();
    const size_t length = static_cast<size_t>(bytes[pos + 3]) << 8 | bytes[pos + 4];
    if (length == 0 || length > kMaxRecordPayload) return Malformed("record length");
    const size_t present = std::min(length, avail - kRecordHeader);
    const size_t take = std::min(present, want - message.size());
    message.insert(message.end(), bytes.begin() + pos + kRecordHeader,
                   bytes.begin() + pos + kRecordHeader + take);
    if (message.size() >= 1 && message[0] != kHandshakeClientHello)
      return Malformed("first handshake message is not a ClientHello");
    if (want == 4 && message.size() >= 4) {
      const size_t body =
          static_cast<size_t>(message[1]) << 16 | static_cast<size_t>(message[2]) << 8 | message[3];
      if (body > kMaxHandshakeBody) return Malformed("ClientHello longer than 64 KiB");
      if (body < 38) return Malformed("ClientHello too short");
      want = 4 + body;
      // The rest of this record may hold more of the body.
      const size_t more = std::min(present - take, want - message.size());
      message.insert(message.end(), bytes.begin() + pos + kRecordHeader + take,
                     bytes.begin() + pos + kRecordHeader + take + more);
    }
    if (message.size() >= want) break;
    if (present < length) return NeedMore();
    pos += kRecordHeader + length;
  }
  ClientHelloPeek peek;
  RETURN_IF_ERROR(ParseBody(std::span<const uint8_t>(message).subspan(4, want - 4), &peek.info));
  return peek;
}

Result<std::optional<std::string>> ParseClientHelloSni(std::span<const uint8_t> record) {
  ASSIGN_OR_RETURN(ClientHelloPeek peek, PeekClientHello(record));
  if (peek.need_more)
    return MakeError(Errc::kUnavailable, "need more: the ClientHello is incomplete");
  return std::move(peek.info.server_name);
}

}  // namespace seccloud::net
