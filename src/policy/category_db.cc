#include "policy/category_db.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "core/category_db_format.h"
#include "core/ip.h"

namespace seccloud::policy {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxListFileBytes = 512u << 20;
constexpr size_t kMaxKeys = 16'000'000;
constexpr size_t kMaxHostBytes = 253;

bool IsCategoryName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return false;
  return s.front() != '.';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// A host from a category list: lower-case, no leading "*." or ".", no trailing dot, LDH labels
// (underscores are tolerated: real lists hold them) or an IP literal. Empty when malformed.
std::string ListHost(std::string_view s) {
  if (s.size() > 2 && s.substr(0, 2) == "*.") s.remove_prefix(2);
  while (!s.empty() && s.front() == '.') s.remove_prefix(1);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > kMaxHostBytes) return {};
  if (s.find(':') != std::string_view::npos) {
    std::string_view inner = s;
    if (inner.front() == '[' && inner.back() == ']') inner = inner.substr(1, inner.size() - 2);
    auto ip = IpAddress::Parse(inner);
    return ip ? ip->ToString() : std::string();
  }
  std::string out(s);
  size_t label = 0;
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '.') {
      if (label == 0) return {};
      label = 0;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return {};
    if (++label > 63) return {};
  }
  return out;
}

Result<std::string> ReadSmallFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open " + path.string(), errno);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return ErrnoError("cannot read " + path.string(), err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxListFileBytes) {
      ::close(fd);
      return MakeError(Errc::kResourceExhausted, path.string() + " is larger than 512 MiB");
    }
  }
  ::close(fd);
  return out;
}

template <class Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    fn(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// "example.com/a/b/" → "example.com/a/b"; "http://Example.com/" → "example.com/".
std::string UrlKey(std::string_view s) {
  if (s.substr(0, 7) == "http://")
    s.remove_prefix(7);
  else if (s.substr(0, 8) == "https://")
    s.remove_prefix(8);
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos || slash == 0) return {};
  std::string host = ListHost(s.substr(0, slash));
  if (host.empty()) return {};
  std::string_view path = s.substr(slash);
  if (const size_t q = path.find_first_of("?#"); q != std::string_view::npos)
    path = path.substr(0, q);
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  for (char c : path)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return {};
  std::string key = host + std::string(path);
  if (key.size() > kMaxCategoryKeyBytes) return {};
  return key;
}

void PutU16(std::string& buf, size_t at, uint16_t v) { std::memcpy(buf.data() + at, &v, 2); }

Status WriteFileAtomically(const fs::path& out, const std::string& bytes) {
  fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  std::string tmpl = (dir / ("." + out.filename().string() + ".tmp.XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return ErrnoError("cannot create a temporary file in " + dir.string(), errno);
  auto fail = [&](const std::string& what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    return ErrnoError(what + " " + tmpl, err);
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, 0644) != 0) return fail("cannot chmod");
  if (::fsync(fd) != 0) return fail("cannot fsync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return ErrnoError("cannot close " + tmpl, err);
  }
  if (::rename(tmpl.c_str(), out.c_str()) != 0) {
    int err = errno;
    ::unlink(tmpl.c_str());
    return ErrnoError("cannot rename " + tmpl + " to " + out.string(), err);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

uint64_t LoadU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint16_t LoadU16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace

Result<ImportStats> ImportUt1(const fs::path& dir, const fs::path& out) {
  ImportStats stats;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return MakeError(Errc::kNotFound, dir.string() + " is not a directory");
  std::vector<std::string> categories;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code ec2;
    if (!it->is_directory(ec2)) continue;
    std::string name = it->path().filename().string();
    if (!IsCategoryName(name)) continue;
    categories.push_back(name);
  }
  if (ec) return MakeError(Errc::kIo, "cannot list " + dir.string() + ": " + ec.message());
  std::sort(categories.begin(), categories.end());
  if (categories.empty())
    return MakeError(Errc::kInvalidArgument, dir.string() + " holds no category directories");
  if (categories.size() > kMaxCategories)
    return MakeError(Errc::kInvalidArgument,
                     dir.string() + " holds more than 255 category directories");
  stats.categories = categories.size();

  std::vector<std::pair<std::string, uint8_t>> entries;
  for (size_t id = 0; id < categories.size(); ++id) {
    for (const char* kind : {"domains", "urls"}) {
      fs::path file = dir / categories[id] / kind;
      if (!fs::exists(file, ec)) continue;
      ASSIGN_OR_RETURN(std::string text, ReadSmallFile(file));
      const bool urls = kind[0] == 'u';
      ForEachLine(text, [&](std::string_view raw) {
        ++stats.lines;
        std::string_view line = Trim(raw);
        if (line.empty() || line.front() == '#') return;
        std::string key = urls ? UrlKey(line) : ListHost(line);
        if (key.empty() || entries.size() >= kMaxKeys) {
          ++stats.rejected_lines;
          return;
        }
        entries.emplace_back(std::move(key), static_cast<uint8_t>(id));
      });
    }
  }
  std::sort(entries.begin(), entries.end());
  entries.erase(std::unique(entries.begin(), entries.end()), entries.end());

  // Group by key into (key, set) with deduplicated sets.
  std::string names;
  for (const auto& c : categories) names += c + '\0';
  std::string sets;
  std::map<std::vector<uint8_t>, uint32_t> set_offsets;
  std::string keys;
  struct Pending {
    uint32_t key_offset;
    uint32_t set_offset;
    uint64_t hash;
  };
  std::vector<Pending> pending;
  for (size_t i = 0; i < entries.size();) {
    size_t j = i;
    std::vector<uint8_t> ids;
    while (j < entries.size() && entries[j].first == entries[i].first)
      ids.push_back(entries[j++].second);
    auto [it, inserted] = set_offsets.emplace(ids, static_cast<uint32_t>(sets.size()));
    if (inserted) {
      sets.push_back(static_cast<char>(ids.size()));
      for (uint8_t id : ids) sets.push_back(static_cast<char>(id));
    }
    const std::string& key = entries[i].first;
    if (key.find('/') == std::string::npos)
      ++stats.domains;
    else
      ++stats.urls;
    pending.push_back({static_cast<uint32_t>(keys.size()), it->second, CategoryKeyHash(key)});
    keys.resize(keys.size() + 2);
    PutU16(keys, keys.size() - 2, static_cast<uint16_t>(key.size()));
    keys += key;
    i = j;
  }
  if (sets.empty()) sets.push_back('\0');  // keep the section non-empty and in bounds
  uint32_t slot_bits = 4;
  while ((size_t{1} << slot_bits) < pending.size() * 2) ++slot_bits;

  CategoryDbHeader h{};
  std::memcpy(h.magic, kCategoryDbMagic, sizeof h.magic);
  h.version = kCategoryDbVersion;
  h.header_size = sizeof h;
  h.category_count = static_cast<uint32_t>(categories.size());
  h.domain_count = static_cast<uint32_t>(stats.domains);
  h.url_count = static_cast<uint32_t>(stats.urls);
  h.slots_offset = sizeof h;
  h.slot_bits = slot_bits;
  const uint64_t slots_bytes = uint64_t{16} << slot_bits;
  const uint64_t total = sizeof h + slots_bytes + names.size() + sets.size() + keys.size();
  if (total > kMaxCategoryDbBytes)
    return MakeError(Errc::kResourceExhausted, "the category database would exceed 1 GiB");
  h.names_offset = static_cast<uint32_t>(sizeof h + slots_bytes);
  h.names_size = static_cast<uint32_t>(names.size());
  h.sets_offset = h.names_offset + h.names_size;
  h.sets_size = static_cast<uint32_t>(sets.size());
  h.keys_offset = h.sets_offset + h.sets_size;
  h.keys_size = static_cast<uint32_t>(keys.size());
  h.file_size = static_cast<uint32_t>(total);

  std::string buf(total, '\0');
  const uint64_t mask = (uint64_t{1} << slot_bits) - 1;
  for (const Pending& p : pending) {
    uint64_t idx = p.hash & mask;
    for (;;) {
      uint8_t* slot = reinterpret_cast<uint8_t*>(buf.data()) + h.slots_offset + idx * 16;
      if (LoadU64(slot) == 0) {
        CategoryDbSlot s{p.hash, p.key_offset, p.set_offset};
        std::memcpy(slot, &s, sizeof s);
        break;
      }
      idx = (idx + 1) & mask;
    }
  }
  std::memcpy(buf.data() + h.names_offset, names.data(), names.size());
  std::memcpy(buf.data() + h.sets_offset, sets.data(), sets.size());
  std::memcpy(buf.data() + h.keys_offset, keys.data(), keys.size());
  std::memcpy(buf.data(), &h, sizeof h);
  h.checksum = CategoryDbChecksum(reinterpret_cast<const uint8_t*>(buf.data()), buf.size());
  std::memcpy(buf.data(), &h, sizeof h);
  RETURN_IF_ERROR(WriteFileAtomically(out, buf));
  stats.file_bytes = buf.size();
  return stats;
}

CategoryDb::~CategoryDb() {
  if (mapped_ && data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

Result<std::shared_ptr<const CategoryDb>> CategoryDb::Open(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open category database " + path.string(), errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError("cannot stat " + path.string(), err);
  }
  if (!S_ISREG(st.st_mode) || st.st_size < static_cast<off_t>(sizeof(CategoryDbHeader)) ||
      st.st_size > static_cast<off_t>(kMaxCategoryDbBytes)) {
    ::close(fd);
    return MakeError(Errc::kInvalidArgument,
                     path.string() + " is not a category database (bad size or type)");
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) return ErrnoError("cannot map " + path.string(), err);
  std::shared_ptr<CategoryDb> db(new CategoryDb());
  db->data_ = static_cast<const uint8_t*>(p);
  db->size_ = static_cast<size_t>(st.st_size);
  db->mapped_ = true;
  auto r = Validate(std::move(db));
  if (!r) return MakeError(r.error().code, path.string() + ": " + r.error().message);
  return r;
}

Result<std::shared_ptr<const CategoryDb>> CategoryDb::FromBytes(std::string_view bytes) {
  std::shared_ptr<CategoryDb> db(new CategoryDb());
  db->owned_.assign(bytes);
  db->data_ = reinterpret_cast<const uint8_t*>(db->owned_.data());
  db->size_ = db->owned_.size();
  return Validate(std::move(db));
}

Result<std::shared_ptr<const CategoryDb>> CategoryDb::Validate(std::shared_ptr<CategoryDb> db) {
  auto bad = [](const std::string& what) {
    return MakeError(Errc::kInvalidArgument, "corrupt category database: " + what);
  };
  ASSIGN_OR_RETURN(db->names_, ParseCategoryDbNames(std::string_view(
                                   reinterpret_cast<const char*>(db->data_), db->size_)));
  CategoryDbHeader h;
  std::memcpy(&h, db->data_, sizeof h);
  const uint64_t size = db->size_;
  if (h.slot_bits < 1 || h.slot_bits > 26) return bad("bad table size");
  const uint64_t slots = uint64_t{1} << h.slot_bits;
  if (h.slots_offset % 8 != 0 || h.slots_offset < sizeof h || h.slots_offset + slots * 16 > size)
    return bad("slot table out of bounds");
  if (uint64_t{h.sets_offset} + h.sets_size > size || h.sets_size == 0)
    return bad("category sets out of bounds");
  if (uint64_t{h.keys_offset} + h.keys_size > size) return bad("keys out of bounds");
  const uint8_t* slot_base = db->data_ + h.slots_offset;
  const uint8_t* sets = db->data_ + h.sets_offset;
  const uint8_t* keys = db->data_ + h.keys_offset;
  uint64_t used = 0, urls = 0;
  for (uint64_t i = 0; i < slots; ++i) {
    const uint8_t* s = slot_base + i * 16;
    if (LoadU64(s) == 0) continue;
    ++used;
    const uint64_t ko = LoadU32(s + 8), so = LoadU32(s + 12);
    if (ko + 2 > h.keys_size) return bad("key offset out of bounds");
    const uint16_t len = LoadU16(keys + ko);
    if (len == 0 || len > kMaxCategoryKeyBytes || ko + 2 + len > h.keys_size)
      return bad("key out of bounds");
    if (std::memchr(keys + ko + 2, '/', len)) ++urls;
    if (so >= h.sets_size) return bad("set offset out of bounds");
    const uint8_t n = sets[so];
    if (n == 0 || so + 1 + n > h.sets_size) return bad("category set out of bounds");
    for (uint8_t k = 0; k < n; ++k)
      if (sets[so + 1 + k] >= h.category_count) return bad("category id out of range");
  }
  db->keys_filter_.Init(used);
  db->url_hosts_filter_.Init(urls);
  for (uint64_t i = 0; i < slots; ++i) {
    const uint8_t* s = slot_base + i * 16;
    const uint64_t hash = LoadU64(s);
    if (hash == 0) continue;
    db->keys_filter_.Add(hash);
    const uint8_t* k = keys + LoadU32(s + 8);
    std::string_view key(reinterpret_cast<const char*>(k + 2), LoadU16(k));
    if (const size_t slash = key.find('/'); slash != std::string_view::npos)
      db->url_hosts_filter_.Add(CategoryKeyHash(key.substr(0, slash)));
  }
  if (used != uint64_t{h.domain_count} + h.url_count || urls != h.url_count)
    return bad("entry counts do not match the header");
  if (used >= slots) return bad("slot table is full");
  db->slots_ = slot_base;
  db->slot_mask_ = slots - 1;
  db->sets_ = sets;
  db->keys_ = keys;
  db->domain_count_ = h.domain_count;
  db->url_count_ = h.url_count;
  return std::shared_ptr<const CategoryDb>(std::move(db));
}

std::optional<uint8_t> CategoryDb::FindCategory(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return static_cast<uint8_t>(i);
  return std::nullopt;
}

uint64_t CategoryDb::CategoryKeyHashOf(std::string_view key) { return CategoryKeyHash(key); }

void HashFilter::Init(size_t keys) {
  size_t words = 1;
  while (words * 64 < keys * 10) words <<= 1;  // ~10 bits per key: ~3% false positives
  words_.assign(words, 0);
  mask_ = words - 1;
}

void HostSuffixes::Compute(std::string_view host, bool is_ip, HostSuffixes& out) {
  out.count = 0;
  if (host.empty() || host.size() > kMaxHostBytes) return;
  if (is_ip) {
    out.names[0] = host;
    out.hashes[0] = CategoryKeyHash(host);
    out.count = 1;
    return;
  }
  // Parents first (hashing runs from the end), then reversed so the host itself comes first.
  uint64_t state = kCategoryHashSeed;
  for (size_t i = host.size(); i-- > 0;) {
    state = CategoryHashStep(state, static_cast<unsigned char>(host[i]));
    if ((i == 0 || host[i - 1] == '.') && out.count < kMax && host[i] != '.') {
      out.names[out.count] = host.substr(i);
      out.hashes[out.count++] = CategoryHashFinish(state);
    }
  }
  for (size_t i = 0, j = out.count; i + 1 < j; ++i) {
    --j;
    std::swap(out.names[i], out.names[j]);
    std::swap(out.hashes[i], out.hashes[j]);
  }
}

std::optional<CategoryHit> CategoryDb::Find(std::string_view key, uint64_t hash) const {
  if (key.empty() || key.size() > kMaxCategoryKeyBytes) return std::nullopt;
  if (!keys_filter_.MayContain(hash)) return std::nullopt;
  uint64_t idx = hash & slot_mask_;
  // Validation guarantees an empty slot, so the probe ends; the bound is belt and braces.
  for (uint64_t probes = 0; probes <= slot_mask_; ++probes) {
    const uint8_t* s = slots_ + idx * 16;
    const uint64_t h = LoadU64(s);
    if (h == 0) return std::nullopt;
    if (h == hash) {
      const uint8_t* k = keys_ + LoadU32(s + 8);
      const uint16_t len = LoadU16(k);
      if (len == key.size() && std::memcmp(k + 2, key.data(), len) == 0) {
        const uint8_t* set = sets_ + LoadU32(s + 12);
        return CategoryHit{std::string_view(reinterpret_cast<const char*>(k + 2), len),
                           std::span<const uint8_t>(set + 1, set[0])};
      }
    }
    idx = (idx + 1) & slot_mask_;
  }
  return std::nullopt;
}

void CategoryDb::LookupHost(std::string_view host, CategoryHits& out) const {
  HostSuffixes suffixes;
  HostSuffixes::Compute(host, host.find(':') != std::string_view::npos || IpAddress::Parse(host),
                        suffixes);
  LookupHost(suffixes, out);
}

void CategoryDb::LookupHost(const HostSuffixes& host, CategoryHits& out) const {
  // Each suffix that passes the filter probes its own line of the slot table, lines far apart
  // in a table of tens of MiB: ask for all of them before reading any, so that the misses
  // overlap instead of following one another.
  if (slots_ != nullptr)
    for (size_t i = 0; i < host.count; ++i)
      if (keys_filter_.MayContain(host.hashes[i]))
        __builtin_prefetch(slots_ + (host.hashes[i] & slot_mask_) * 16);
  for (size_t i = 0; i < host.count; ++i)
    if (auto hit = Find(host.names[i], host.hashes[i])) out.Add(*hit);
}

void CategoryDb::LookupUrl(std::string_view host, std::string_view path, CategoryHits& out) const {
  if (url_count_ == 0 || host.empty() || host.size() > kMaxHostBytes) return;
  const bool www = host.size() > 4 && host.substr(0, 4) == "www.";
  LookupUrlHashed(host, CategoryKeyHash(host), www ? CategoryKeyHash(host.substr(4)) : 0, path,
                  out);
}

void CategoryDb::LookupUrl(const HostSuffixes& host, std::string_view path,
                           CategoryHits& out) const {
  if (url_count_ == 0 || host.count == 0) return;
  const std::string_view name = host.names[0];
  // The suffix after "www." is the second one: Compute starts one at every label.
  const bool www = name.size() > 4 && name.substr(0, 4) == "www." && host.count > 1 &&
                   host.names[1].size() == name.size() - 4;
  LookupUrlHashed(name, host.hashes[0], www ? host.hashes[1] : 0, path, out);
}

void CategoryDb::LookupUrlHashed(std::string_view host, uint64_t host_hash, uint64_t www_hash,
                                 std::string_view path, CategoryHits& out) const {
  // Few hosts have `urls` keys: the filter answers for most before the path is looked at.
  const bool host_may = url_hosts_filter_.MayContain(host_hash);
  const bool www_may = www_hash != 0 && url_hosts_filter_.MayContain(www_hash);
  if (!host_may && !www_may) return;
  if (const size_t q = path.find_first_of("?#"); q != std::string_view::npos)
    path = path.substr(0, q);
  if (path.empty() || path.front() != '/') return;
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  char buf[kMaxCategoryKeyBytes];
  auto probe = [&](std::string_view h) {
    if (h.size() + path.size() > sizeof buf) return;
    std::memcpy(buf, h.data(), h.size());
    std::memcpy(buf + h.size(), path.data(), path.size());
    std::string_view p = path;
    for (int i = 0; i < 16; ++i) {
      if (auto hit = Find(std::string_view(buf, h.size() + p.size()))) out.Add(*hit);
      if (p.size() <= 1) break;
      size_t slash = p.rfind('/');
      p = p.substr(0, slash == 0 ? 1 : slash);
    }
  };
  if (host_may) probe(host);
  if (www_may) probe(host.substr(4));
}

size_t CategoryDb::resident_bytes() const {
  if (!mapped_) return size_;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((size_ + page - 1) / page);
  if (::mincore(const_cast<uint8_t*>(data_), size_, vec.data()) != 0) return 0;
  size_t pages = 0;
  for (unsigned char v : vec) pages += v & 1;
  return pages * page;
}

}  // namespace seccloud::policy
