#pragma once
// Test-only helpers for scan_test: a minimal ZIP writer (stored, deflated, flagged as encrypted)
// and the zip bomb. Header-only, not part of any library.

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seccloud::scan::testing {

using Bytes = std::vector<uint8_t>;

inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

inline constexpr std::string_view kEicar =
    "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

inline Bytes RawDeflate(const Bytes& in) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&zs, in.size()) + 16);
  zs.next_in = const_cast<Bytes::value_type*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

class ZipWriter {
 public:
  struct Entry {
    std::string name;
    uint16_t method;  // 0 stored, 8 deflated
    uint16_t flags;   // bit 0: encrypted
    uint32_t crc;
    uint32_t compressed_size;
    uint32_t size;
    uint32_t offset;
  };

  // A member from its data (compressed here when `deflate`).
  void Add(std::string name, const Bytes& data, bool deflate = true) {
    const uint32_t crc =
        static_cast<uint32_t>(crc32(0, data.data(), static_cast<uInt>(data.size())));
    Bytes payload = deflate ? RawDeflate(data) : data;
    AddRaw(std::move(name), payload, deflate ? 8 : 0, 0, crc, static_cast<uint32_t>(data.size()));
  }
  // A member flagged as ZipCrypto-encrypted: a 12-byte encryption header and opaque bytes.
  void AddEncrypted(std::string name, size_t size) {
    Bytes payload(12 + size);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 131 + 7);
    AddRaw(std::move(name), payload, 0, 1, 0x12345678, static_cast<uint32_t>(size));
  }
  void AddRaw(std::string name, const Bytes& payload, uint16_t method, uint16_t flags, uint32_t crc,
              uint32_t size) {
    Entry e{std::move(name),
            method,
            flags,
            crc,
            static_cast<uint32_t>(payload.size()),
            size,
            static_cast<uint32_t>(out_.size())};
    U32(0x04034b50);
    U16(20);
    U16(e.flags);
    U16(e.method);
    U16(0);
    U16(0x21);
    U32(e.crc);
    U32(e.compressed_size);
    U32(e.size);
    U16(static_cast<uint16_t>(e.name.size()));
    U16(0);
    out_.insert(out_.end(), e.name.begin(), e.name.end());
    out_.insert(out_.end(), payload.begin(), payload.end());
    entries_.push_back(std::move(e));
  }
  Bytes Finish() {
    const uint32_t cd_offset = static_cast<uint32_t>(out_.size());
    for (const Entry& e : entries_) {
      U32(0x02014b50);
      U16(20);
      U16(20);
      U16(e.flags);
      U16(e.method);
      U16(0);
      U16(0x21);
      U32(e.crc);
      U32(e.compressed_size);
      U32(e.size);
      U16(static_cast<uint16_t>(e.name.size()));
      U16(0);
      U16(0);
      U16(0);
      U16(0);
      U32(0);
      U32(e.offset);
      out_.insert(out_.end(), e.name.begin(), e.name.end());
    }
    const uint32_t cd_size = static_cast<uint32_t>(out_.size()) - cd_offset;
    U32(0x06054b50);
    U16(0);
    U16(0);
    U16(static_cast<uint16_t>(entries_.size()));
    U16(static_cast<uint16_t>(entries_.size()));
    U32(cd_size);
    U32(cd_offset);
    U16(0);
    return std::move(out_);
  }

 private:
  void U16(uint16_t v) {
    out_.push_back(static_cast<uint8_t>(v));
    out_.push_back(static_cast<uint8_t>(v >> 8));
  }
  void U32(uint32_t v) {
    U16(static_cast<uint16_t>(v));
    U16(static_cast<uint16_t>(v >> 16));
  }
  Bytes out_;
  std::vector<Entry> entries_;
};

// A ZIP with one member of `gib` GiB of zeros, about 1 MiB: the deflate stream of 1 MiB of zeros
// ends with a full flush (byte-aligned, no reference to earlier data), so it can be repeated,
// followed by one final empty block.
inline Bytes ZerosZip(unsigned gib) {
  constexpr size_t kChunk = 1 << 20;
  const Bytes zeros(kChunk, 0);
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
  Bytes chunk(kChunk);
  zs.next_in = const_cast<uint8_t*>(zeros.data());
  zs.avail_in = kChunk;
  zs.next_out = chunk.data();
  zs.avail_out = kChunk;
  deflate(&zs, Z_FULL_FLUSH);
  chunk.resize(kChunk - zs.avail_out);
  Bytes tail(64);
  zs.next_in = nullptr;
  zs.avail_in = 0;
  zs.next_out = tail.data();
  zs.avail_out = 64;
  deflate(&zs, Z_FINISH);
  tail.resize(64 - zs.avail_out);
  deflateEnd(&zs);
  const size_t repeats = static_cast<size_t>(gib) * 1024;
  Bytes payload;
  payload.reserve(chunk.size() * repeats + tail.size());
  uLong crc_chunk = crc32(0, zeros.data(), kChunk);
  uLong crc = 0;
  for (size_t i = 0; i < repeats; ++i) {
    payload.insert(payload.end(), chunk.begin(), chunk.end());
    crc = i == 0 ? crc_chunk : crc32_combine(crc, crc_chunk, kChunk);
  }
  payload.insert(payload.end(), tail.begin(), tail.end());
  ZipWriter z;
  const uint64_t size = static_cast<uint64_t>(repeats) * kChunk;
  // Sizes of 4 GiB and more need ZIP64; callers stay below.
  z.AddRaw("zeros.bin", payload, 8, 0, static_cast<uint32_t>(crc),
           static_cast<uint32_t>(size >= 0xffffffffull ? 0xfffffffeull : size));
  return z.Finish();
}

// 10 GiB of zeros in about 10 MiB: ten members, each a ZIP of 1 GiB of zeros (42.zip's shape).
inline Bytes ZipBomb() {
  const Bytes inner = ZerosZip(1);
  ZipWriter z;
  for (int i = 0; i < 10; ++i) z.Add("part" + std::to_string(i) + ".zip", inner, false);
  return z.Finish();
}

// A ustar archive of the given members (name, bytes), gzip-compressed: a .tar.gz.
inline Bytes TarGz(const std::vector<std::pair<std::string, Bytes>>& members) {
  Bytes tar;
  for (const auto& [name, data] : members) {
    uint8_t h[512] = {};
    std::snprintf(reinterpret_cast<char*>(h), 100, "%s", name.c_str());
    std::snprintf(reinterpret_cast<char*>(h + 100), 8, "%07o", 0644);
    std::snprintf(reinterpret_cast<char*>(h + 108), 8, "%07o", 0);
    std::snprintf(reinterpret_cast<char*>(h + 116), 8, "%07o", 0);
    std::snprintf(reinterpret_cast<char*>(h + 124), 12, "%011o",
                  static_cast<unsigned>(data.size()));
    std::snprintf(reinterpret_cast<char*>(h + 136), 12, "%011o", 1700000000u);
    h[156] = '0';
    std::memcpy(h + 257,
                "ustar\0"
                "00",
                8);
    std::memset(h + 148, ' ', 8);
    unsigned sum = 0;
    for (uint8_t b : h) sum += b;
    std::snprintf(reinterpret_cast<char*>(h + 148), 8, "%06o", sum);
    tar.insert(tar.end(), h, h + 512);
    tar.insert(tar.end(), data.begin(), data.end());
    tar.resize((tar.size() + 511) / 512 * 512, 0);
  }
  tar.resize(tar.size() + 1024, 0);
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);  // +16: gzip wrapper
  Bytes out(deflateBound(&zs, tar.size()) + 64);
  zs.next_in = tar.data();
  zs.avail_in = static_cast<uInt>(tar.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace seccloud::scan::testing
