#pragma once
// Private to the embedded store: the partition index, a side file that lets Open() learn a
// partition file's blocks with one small read instead of two reads per block and a checksum
// pass over the last block's Bloom filter and body (R18: an open that scales to five years).
//
// data/<class>/<day>.idx, beside <day>.blk:
//   file header (16 bytes, FileKind::kPartitionIndex, as every store file) |
//   u32 payload_len | u32 crc(payload) | payload
//   payload: varint data_start | varint n | n × str block_head
//   block_head: the first 32 + meta_len bytes of one block exactly as they are in <day>.blk (its
//     fixed header and meta), for the blocks of [data_start, covered_end) in file order, each
//     starting where the one before ends (the first at data_start); covered_end is the last
//     one's end.
//
// The index only ever describes a prefix of its .blk: blocks appended later (late records of a
// compacted day, further ingest seals) are read from the .blk as before. It is written only for
// bytes that are durable (after the .blk's fdatasync, by Compact() and by Open() after a scan
// that found the file whole), so Open() skips the torn-tail check for what it covers. It is bound
// to its .blk by the last listed block's head, which Open() compares with the .blk's bytes at
// that offset: an index left over from a file that Compact() has since replaced (a crash between
// the .blk's rename and the index's) does not match and is ignored. A missing, damaged, newer or
// stale index only costs the scan it would have spared: Open() reports a damaged one (as it
// reports a damaged block), scans the file and writes the index again.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "soc/store_internal.h"

namespace seccloud::soc::store_internal {

inline constexpr uint32_t kMaxPartitionIndexBytes = 256 << 20;

// The index of blocks whose heads (fixed header + meta bytes, in file order, contiguous from
// data_start) are given.
std::string EncodePartitionIndex(uint64_t data_start, const std::vector<std::string>& heads);

struct PartitionIndex {
  uint64_t data_start = 0;
  uint64_t covered_end = 0;      // the end of the last block listed (data_start when none)
  std::vector<BlockMeta> metas;  // offsets set, headers and metas checked as a scan checks them
  std::string last_head32;       // the fixed header of the last block listed (binding)
};

// Decodes a whole index file (header included). False with *why when it is damaged or
// inconsistent; *newer when it was written by a newer format version (not a damage).
bool DecodePartitionIndex(std::string_view file, PartitionIndex* out, std::string* why,
                          bool* newer);

}  // namespace seccloud::soc::store_internal
