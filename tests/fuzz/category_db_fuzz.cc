// R10: fuzzes the category database reader with arbitrary file bytes. With the first byte odd the
// checksum is recomputed over the input, so the fuzzer reaches the bounds checks behind it; a
// corrupt database must be refused, never crash a lookup.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/category_db_format.h"
#include "policy/category_db.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) && bytes.size() >= sizeof(seccloud::CategoryDbHeader)) {
    const uint64_t sum =
        seccloud::CategoryDbChecksum(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    std::memcpy(bytes.data() + offsetof(seccloud::CategoryDbHeader, checksum), &sum, sizeof sum);
  }
  (void)seccloud::ParseCategoryDbNames(bytes);
  auto db = seccloud::policy::CategoryDb::FromBytes(bytes);
  if (!db) return 0;
  seccloud::policy::CategoryHits hits;
  for (const char* host : {"example.com", "www.casino.example", "a.b.c.d.e", "192.0.2.7"})
    (*db)->LookupHost(host, hits);
  (*db)->LookupUrl("news.example", "/sports/betting/today?x", hits);
  for (size_t i = 0; i < hits.count; ++i)
    for (uint8_t id : hits.hits[i].category_ids) (void)(*db)->category_name(id);
  for (size_t i = 0; i < (*db)->category_count(); ++i)
    (void)(*db)->FindCategory((*db)->category_name(static_cast<uint8_t>(i)));
  return 0;
}
