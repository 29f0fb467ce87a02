#include "core/category_db_format.h"

#include <cstddef>
#include <fstream>
#include <iterator>

namespace seccloud {
namespace {

inline uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t HashBytes(const uint8_t* data, size_t size) {
  // Four independent lanes so the multiplies overlap; ~4 bytes per cycle.
  uint64_t lanes[4] = {0x9E3779B97F4A7C15ULL, 0xC2B2AE3D27D4EB4FULL, 0x165667B19E3779F9ULL,
                       0x27D4EB2F165667C5ULL};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    for (int l = 0; l < 4; ++l) {
      uint64_t w;
      std::memcpy(&w, data + i + 8 * l, 8);
      lanes[l] = Rotl(lanes[l] ^ (w * 0x87c37b91114253d5ULL), 31) * 0x4cf5ad432745937fULL;
    }
  }
  uint64_t h = size;
  for (int l = 0; l < 4; ++l) h = CategoryMix64(h ^ lanes[l]);
  for (; i < size; ++i) h = (h ^ data[i]) * 0x100000001b3ULL;
  return CategoryMix64(h);
}

}  // namespace

uint64_t CategoryDbChecksum(const uint8_t* data, size_t size) {
  if (size < sizeof(CategoryDbHeader)) return 0;
  uint8_t header[sizeof(CategoryDbHeader)];
  std::memcpy(header, data, sizeof header);
  std::memset(header + offsetof(CategoryDbHeader, checksum), 0, sizeof(uint64_t));
  const uint64_t head = HashBytes(header, sizeof header);
  const uint64_t body = HashBytes(data + sizeof header, size - sizeof header);
  return CategoryMix64(head ^ Rotl(body, 1));
}

Result<std::vector<std::string>> ParseCategoryDbNames(std::string_view bytes) {
  if (bytes.size() < sizeof(CategoryDbHeader))
    return MakeError(Errc::kInvalidArgument, "is too short to be a category database");
  CategoryDbHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  if (std::memcmp(h.magic, kCategoryDbMagic, sizeof h.magic) != 0)
    return MakeError(Errc::kInvalidArgument, "is not a category database (bad magic)");
  if (h.version != kCategoryDbVersion)
    return MakeError(Errc::kInvalidArgument, "has format version " + std::to_string(h.version) +
                                                 ", expected " +
                                                 std::to_string(kCategoryDbVersion));
  if (h.header_size != sizeof h || h.file_size != bytes.size())
    return MakeError(Errc::kInvalidArgument, "is truncated or has a bad header");
  if (h.category_count > kMaxCategories || h.names_offset > bytes.size() ||
      h.names_size > bytes.size() - h.names_offset)
    return MakeError(Errc::kInvalidArgument, "has its category names out of bounds");
  if (CategoryDbChecksum(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) !=
      h.checksum)
    return MakeError(Errc::kInvalidArgument, "is corrupt (checksum mismatch)");
  std::vector<std::string> names;
  std::string_view rest = bytes.substr(h.names_offset, h.names_size);
  for (uint32_t i = 0; i < h.category_count; ++i) {
    size_t end = rest.find('\0');
    if (end == std::string_view::npos || end == 0)
      return MakeError(Errc::kInvalidArgument, "has a malformed category name table");
    names.emplace_back(rest.substr(0, end));
    rest.remove_prefix(end + 1);
  }
  return names;
}

Result<std::vector<std::string>> ReadCategoryDbNames(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("cannot read " + path.string(), errno);
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxCategoryDbBytes)
    return MakeError(Errc::kInvalidArgument, path.string() + " is not a category database");
  std::string bytes(static_cast<size_t>(size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size)))
    return MakeError(Errc::kIo, "cannot read " + path.string());
  auto names = ParseCategoryDbNames(bytes);
  if (!names) return MakeError(names.error().code, path.string() + " " + names.error().message);
  return names;
}

}  // namespace seccloud
