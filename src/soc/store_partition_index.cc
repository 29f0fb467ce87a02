// The partition index side file (store_partition_index.h).

#include "soc/store_partition_index.h"

namespace seccloud::soc::store_internal {

std::string EncodePartitionIndex(uint64_t data_start, const std::vector<std::string>& heads) {
  std::string payload;
  PutVarint(payload, data_start);
  PutVarint(payload, heads.size());
  for (const auto& h : heads) PutString(payload, h);
  std::string out = EncodeFileHeader(FileKind::kPartitionIndex);
  PutU32(out, static_cast<uint32_t>(payload.size()));
  PutU32(out, Crc32c(payload));
  out += payload;
  return out;
}

bool DecodePartitionIndex(std::string_view file, PartitionIndex* out, std::string* why,
                          bool* newer) {
  *newer = false;
  const FileHeaderInfo header =
      ReadFileHeader(file.substr(0, kFileHeaderBytes), FileKind::kPartitionIndex);
  if (header.newer) {
    *newer = true;
    *why = "partition index written by format version " + std::to_string(header.version);
    return false;
  }
  if (!header.problem.empty() || header.version < 2 || file.size() < kFileHeaderBytes + 8) {
    *why = header.problem.empty() ? "partition index cut short" : header.problem;
    return false;
  }
  const uint32_t len = GetU32(file.data() + kFileHeaderBytes);
  const std::string_view payload = file.substr(kFileHeaderBytes + 8);
  if (len != payload.size()) {
    *why = "partition index length mismatch";
    return false;
  }
  if (Crc32c(payload) != GetU32(file.data() + kFileHeaderBytes + 4)) {
    *why = "partition index checksum mismatch";
    return false;
  }
  Reader in(payload);
  uint64_t data_start, n;
  // Each listed block takes at least a header's bytes: n is bounded by the payload.
  if (!in.Varint(&data_start) || !in.Varint(&n) || n > in.remaining() / kBlockHeaderBytes) {
    *why = "partition index counts inconsistent";
    return false;
  }
  PartitionIndex idx;
  idx.data_start = idx.covered_end = data_start;
  idx.metas.reserve(static_cast<size_t>(n));
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view head;
    if (!in.String(&head) || head.size() < kBlockHeaderBytes) {
      *why = "partition index entry " + std::to_string(i) + " cut short";
      return false;
    }
    BlockMeta m;
    std::string what;
    if (!ParseBlockHeader(head.substr(0, kBlockHeaderBytes), &m, &what)) {
    } else if (head.size() != kBlockHeaderBytes + m.meta_len) {
      what = "meta length mismatch";
    } else {
      ParseBlockMeta(head.substr(kBlockHeaderBytes), &m, &what);
    }
    if (!what.empty()) {
      *why = "partition index entry " + std::to_string(i) + ": " + what;
      return false;
    }
    m.offset = idx.covered_end;  // lengths are bounded (ParseBlockHeader): no overflow
    idx.covered_end = m.end();
    idx.last_head32.assign(head.substr(0, kBlockHeaderBytes));
    idx.metas.push_back(std::move(m));
  }
  if (in.remaining() != 0) {
    *why = "partition index has trailing bytes";
    return false;
  }
  *out = std::move(idx);
  return true;
}

}  // namespace seccloud::soc::store_internal
