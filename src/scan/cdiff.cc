#include "scan/cdiff.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "core/text.h"
#include "scan/cvd_format.h"

namespace seccloud::scan {
namespace {

constexpr std::string_view kCdiffMagic = "ClamAV-Diff:";
constexpr size_t kMaxNameBytes = 99;  // a ustar name field without a prefix

Error Bad(std::string what) { return MakeError(Errc::kInvalidArgument, std::move(what)); }

bool ValidFileName(std::string_view n) {
  if (n.empty() || n.size() > kMaxNameBytes || n.front() == '.') return false;
  for (char c : n)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '-' || c == '_'))
      return false;
  return true;
}

// Inflates one gzip stream into at most `max_out` bytes. The stream must end at the end of `in`
// (or, with `trailing_zeros`, be followed only by zero bytes: tar padding some writers leave).
Result<std::string> Gunzip(std::string_view in, size_t max_out, const std::string& what,
                           bool trailing_zeros = false) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return MakeError(Errc::kInternal, "inflateInit failed");
  std::unique_ptr<z_stream, void (*)(z_stream*)> guard(&zs, [](z_stream* z) { inflateEnd(z); });
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), UINT32_MAX));
  size_t fed = zs.avail_in;
  char buf[64 * 1024];
  for (;;) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t got = sizeof(buf) - zs.avail_out;
    if (out.size() + got > max_out)
      return Bad(what + ": decompresses to more than " + std::to_string(max_out) + " bytes");
    out.append(buf, got);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && fed < in.size()) {
      const size_t more = std::min<size_t>(in.size() - fed, UINT32_MAX);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + fed));
      zs.avail_in = static_cast<uInt>(more);
      fed += more;
      continue;
    }
    if (rc != Z_OK)
      return Bad(what + ": gzip data is " +
                 (rc == Z_BUF_ERROR ? std::string("truncated")
                                    : "corrupt (" + std::string(zs.msg ? zs.msg : "zlib") + ")"));
  }
  const std::string_view after = in.substr(in.size() - zs.avail_in - (in.size() - fed));
  if (!after.empty() &&
      !(trailing_zeros && after.find_first_not_of('\0') == std::string_view::npos))
    return Bad(what + ": " + std::to_string(after.size()) +
               " bytes after the end of the gzip data");
  return out;
}

std::string Gzip(std::string_view in) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Md5Hex(std::string_view data) {
  unsigned char d[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), d, &len, EVP_md5(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 15]);
  }
  return out;
}

// The lines of a database file, without their '\n'; a last line without one counts too.
std::vector<std::string_view> Lines(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    const size_t nl = s.find('\n');
    out.push_back(s.substr(0, nl));
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
  return out;
}

// The script interpreter. Line numbers in DEL/XCHG/MOVE refer to the file as it was when OPEN
// (or MOVE) read it, counted from 1.
class Interpreter {
 public:
  Interpreter(DatabaseFiles& files, const CdiffLimits& limits) : files_(files), limits_(limits) {
    for (const auto& [name, content] : files_) total_ += content.size();
  }

  Status Run(std::string_view script) {
    size_t line_no = 0;
    while (!script.empty()) {
      ++line_no;
      const size_t nl = script.find('\n');
      std::string_view line = script.substr(0, nl);
      script.remove_prefix(nl == std::string_view::npos ? script.size() : nl + 1);
      if (line.size() > limits_.max_line_bytes)
        return At(line_no, "longer than " + std::to_string(limits_.max_line_bytes) + " bytes");
      while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
      if (line.empty() || line.front() == '#') continue;
      if (++commands_ > limits_.max_commands)
        return At(line_no, "more than " + std::to_string(limits_.max_commands) + " commands");
      if (Status s = Execute(line); !s) return At(line_no, s.error().message);
    }
    if (open_) return Bad("cdiff script: ends with " + *open_ + " still open (no CLOSE)");
    return {};
  }

 private:
  struct Edit {
    bool del = false;  // DEL; else XCHG with `replacement`
    std::string prefix;
    std::string replacement;
  };

  static Error At(size_t line_no, const std::string& what) {
    return Bad("cdiff script line " + std::to_string(line_no) + ": " + what);
  }

  // Splits off the next space-separated token.
  static std::string_view Token(std::string_view& rest) {
    const size_t sp = rest.find(' ');
    std::string_view t = rest.substr(0, sp);
    rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
    return t;
  }

  Status Execute(std::string_view line) {
    std::string_view rest = line;
    const std::string_view cmd = Token(rest);
    if (cmd == "OPEN") {
      if (open_) return Bad("OPEN " + Quote(rest) + " while " + *open_ + " is open");
      if (!ValidFileName(rest)) return Bad("OPEN: " + Quote(rest) + " is not a database file name");
      open_ = std::string(rest);
      return {};
    }
    if (cmd == "ADD") {
      if (!open_) return Bad("ADD without an open file");
      if (rest.empty()) return Bad("ADD without a line");
      adds_.emplace_back(rest);
      return {};
    }
    if (cmd == "DEL") {
      if (!open_) return Bad("DEL without an open file");
      const auto n = ParseClamavNumber<size_t>(Token(rest));
      if (!n || *n == 0) return Bad("DEL: the line number is not a number above 0");
      if (rest.empty()) return Bad("DEL: no line prefix");
      if (!edits_.emplace(*n, Edit{true, std::string(rest), {}}).second)
        return Bad("DEL: line " + std::to_string(*n) + " is edited twice");
      return {};
    }
    if (cmd == "XCHG") {
      if (!open_) return Bad("XCHG without an open file");
      const auto n = ParseClamavNumber<size_t>(Token(rest));
      if (!n || *n == 0) return Bad("XCHG: the line number is not a number above 0");
      const std::string_view prefix = Token(rest);
      if (prefix.empty() || rest.empty()) return Bad("XCHG: needs a line prefix and a new line");
      if (!edits_.emplace(*n, Edit{false, std::string(prefix), std::string(rest)}).second)
        return Bad("XCHG: line " + std::to_string(*n) + " is edited twice");
      return {};
    }
    if (cmd == "CLOSE") {
      if (!open_) return Bad("CLOSE without an open file");
      return Close();
    }
    if (cmd == "MOVE") return Move(rest);
    if (cmd == "UNLINK") {
      // cdiff.c names the file and wants none open; cdiff.rs unlinks the open one. Both forms.
      std::string name(rest);
      if (open_) {
        if (!rest.empty() && rest != *open_)
          return Bad("UNLINK " + Quote(rest) + " while " + *open_ + " is open");
        name = *open_;
        if (!adds_.empty() || !edits_.empty()) return Bad("UNLINK of " + name + " with edits");
        open_.reset();
      }
      if (!ValidFileName(name))
        return Bad("UNLINK: " + Quote(name) + " is not a database file name");
      auto it = files_.find(name);
      if (it == files_.end()) return Bad("UNLINK: no file " + name + " in the database");
      total_ -= it->second.size();
      files_.erase(it);
      return {};
    }
    return Bad("unknown command " + Quote(cmd.substr(0, 64)));
  }

  Status Grow(const std::string& name, size_t old_size, size_t new_size) {
    if (total_ - old_size + new_size > limits_.max_database_bytes)
      return MakeError(Errc::kResourceExhausted, name + ": the database would exceed " +
                                                     std::to_string(limits_.max_database_bytes) +
                                                     " bytes");
    total_ = total_ - old_size + new_size;
    return {};
  }

  Status NewFileAllowed(const std::string& name) {
    if (files_.count(name) == 0 && files_.size() >= limits_.max_files)
      return MakeError(Errc::kResourceExhausted,
                       name + ": more than " + std::to_string(limits_.max_files) + " files");
    return {};
  }

  Status Close() {
    const std::string name = *open_;
    auto it = files_.find(name);
    if (!edits_.empty()) {
      if (it == files_.end()) return Bad("CLOSE: DEL/XCHG on " + name + ", which does not exist");
      const std::vector<std::string_view> lines = Lines(it->second);
      std::string out;
      out.reserve(it->second.size());
      auto edit = edits_.begin();
      for (size_t i = 0; i < lines.size(); ++i) {
        if (edit != edits_.end() && edit->first == i + 1) {
          const Edit& e = edit->second;
          if (!lines[i].starts_with(e.prefix))
            return Bad("CLOSE " + name + ": line " + std::to_string(i + 1) +
                       " does not start with " + Quote(e.prefix.substr(0, 80)) + " (" +
                       (e.del ? "DEL" : "XCHG") + " against another version)");
          if (!e.del) {
            out.append(e.replacement);
            out.push_back('\n');
          }
          ++edit;
          continue;
        }
        out.append(lines[i]);
        out.push_back('\n');
      }
      if (edit != edits_.end())
        return Bad("CLOSE " + name + ": line " + std::to_string(edit->first) +
                   " to edit is past the end (" + std::to_string(lines.size()) + " lines)");
      RETURN_IF_ERROR(Grow(name, it->second.size(), out.size()));
      it->second = std::move(out);
    }
    if (!adds_.empty()) {
      RETURN_IF_ERROR(NewFileAllowed(name));
      std::string& content = files_[name];
      size_t add = 0;
      for (const std::string& a : adds_) add += a.size() + 1;
      RETURN_IF_ERROR(Grow(name, 0, add));
      for (const std::string& a : adds_) {
        content.append(a);
        content.push_back('\n');
      }
    }
    open_.reset();
    adds_.clear();
    edits_.clear();
    return {};
  }

  Status Move(std::string_view rest) {
    if (open_) return Bad("MOVE while " + *open_ + " is open");
    const std::string src(Token(rest)), dst(Token(rest));
    const auto start = ParseClamavNumber<size_t>(Token(rest));
    const std::string start_prefix(Token(rest));
    const auto end = ParseClamavNumber<size_t>(Token(rest));
    const std::string end_prefix(Token(rest));
    if (!ValidFileName(src) || !ValidFileName(dst) || !start || !end || *start == 0 ||
        start_prefix.empty() || end_prefix.empty() || !rest.empty())
      return Bad("MOVE needs: source destination first-line prefix last-line prefix");
    if (*end < *start) return Bad("MOVE: the last line is before the first");
    if (src == dst) return Bad("MOVE within one file");
    auto s = files_.find(src);
    if (s == files_.end()) return Bad("MOVE: no file " + src + " in the database");
    const std::vector<std::string_view> lines = Lines(s->second);
    if (*end > lines.size())
      return Bad("MOVE: " + src + " has " + std::to_string(lines.size()) + " lines, not " +
                 std::to_string(*end));
    if (!lines[*start - 1].starts_with(start_prefix) || !lines[*end - 1].starts_with(end_prefix))
      return Bad("MOVE: lines " + std::to_string(*start) + ".." + std::to_string(*end) + " of " +
                 src + " do not start as the script says");
    RETURN_IF_ERROR(NewFileAllowed(dst));
    std::string kept, moved;
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string& to = (i + 1 >= *start && i + 1 <= *end) ? moved : kept;
      to.append(lines[i]);
      to.push_back('\n');
    }
    const size_t src_old = s->second.size();
    RETURN_IF_ERROR(Grow(src, src_old, kept.size() + moved.size()));
    s->second = std::move(kept);
    files_[dst].append(moved);
    return {};
  }

  DatabaseFiles& files_;
  const CdiffLimits& limits_;
  uint64_t total_ = 0;
  size_t commands_ = 0;
  std::optional<std::string> open_;
  std::vector<std::string> adds_;
  std::map<size_t, Edit> edits_;  // by line number: one edit per line
};

// --- tar -----------------------------------------------------------------------------------

std::optional<uint64_t> Octal(std::string_view field) {
  while (!field.empty() && (field.front() == ' ')) field.remove_prefix(1);
  while (!field.empty() && (field.back() == ' ' || field.back() == '\0')) field.remove_suffix(1);
  if (field.empty() || field.size() > 11) return std::nullopt;
  uint64_t v = 0;
  for (char c : field) {
    if (c < '0' || c > '7') return std::nullopt;
    v = v * 8 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

void PutOctal(char* field, size_t width, uint64_t v) {
  std::string s(width - 1, '0');
  for (size_t i = width - 1; i-- > 0 && v;) {
    s[i] = static_cast<char>('0' + (v & 7));
    v >>= 3;
  }
  std::memcpy(field, s.data(), width - 1);
  field[width - 1] = '\0';
}

void AppendTarMember(std::string& tar, const std::string& name, std::string_view data) {
  char h[512] = {};
  std::memcpy(h, name.data(), name.size());
  PutOctal(h + 100, 8, 0644);
  PutOctal(h + 108, 8, 0);
  PutOctal(h + 116, 8, 0);
  PutOctal(h + 124, 12, data.size());
  PutOctal(h + 136, 12, 0);
  h[156] = '0';
  std::memcpy(h + 257,
              "ustar\0"
              "00",
              8);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  PutOctal(h + 148, 7, sum);
  h[155] = ' ';
  tar.append(h, sizeof(h));
  tar.append(data);
  tar.append((512 - data.size() % 512) % 512, '\0');
}

}  // namespace

Result<VerifiedCdiff> OpenCdiff(std::string_view bytes, const ClamavPublicKey& key,
                                const CdiffLimits& limits) {
  if (bytes.size() > limits.max_cdiff_bytes)
    return Bad(".cdiff: " + std::to_string(bytes.size()) + " bytes, more than " +
               std::to_string(limits.max_cdiff_bytes));
  if (!bytes.starts_with(kCdiffMagic)) return Bad(".cdiff: does not start with ClamAV-Diff:");
  const size_t colon = bytes.rfind(':');
  // The signature is what follows the last ':' (ClamAV reads it from the last 350 bytes).
  const std::string_view dsig = bytes.substr(colon + 1);
  if (dsig.size() > kMaxClamavSignatureChars)
    return Bad(".cdiff: no digital signature after the last ':' within its last 350 bytes");
  const std::string_view signed_part = bytes.substr(0, colon);
  unsigned char digest[32];
  unsigned len = 0;
  if (EVP_Digest(signed_part.data(), signed_part.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    return MakeError(Errc::kInternal, "SHA-256 failed");
  if (Status s = VerifyCdiffSignature(std::span<const uint8_t>(digest, 32), dsig, key); !s)
    return Bad(".cdiff " + s.error().message);

  // Signed: now the framing. "ClamAV-Diff:<version>:<script bytes>:" then gzip.
  std::string_view rest = signed_part.substr(kCdiffMagic.size());
  const size_t c1 = rest.find(':');
  const size_t c2 = c1 == std::string_view::npos ? c1 : rest.find(':', c1 + 1);
  if (c2 == std::string_view::npos || c2 > 40)
    return Bad(".cdiff: header is not ClamAV-Diff:<version>:<length>:");
  const auto version = ParseClamavNumber<uint32_t>(rest.substr(0, c1));
  const auto length = ParseClamavNumber<uint64_t>(rest.substr(c1 + 1, c2 - c1 - 1));
  if (!version || *version == 0 || !length)
    return Bad(".cdiff: header is not ClamAV-Diff:<version>:<length>:");
  if (*length > limits.max_script_bytes)
    return Bad(".cdiff: script of " + std::to_string(*length) + " bytes, more than " +
               std::to_string(limits.max_script_bytes));
  ASSIGN_OR_RETURN(std::string script,
                   Gunzip(rest.substr(c2 + 1), static_cast<size_t>(*length), ".cdiff script"));
  if (script.size() != *length)
    return Bad(".cdiff: script is " + std::to_string(script.size()) + " bytes, the header says " +
               std::to_string(*length));
  return VerifiedCdiff{*version, std::move(script)};
}

Status ApplyCdiffScript(std::string_view script, DatabaseFiles& files, const CdiffLimits& limits) {
  if (script.size() > limits.max_script_bytes)
    return Bad("cdiff script: more than " + std::to_string(limits.max_script_bytes) + " bytes");
  Interpreter in(files, limits);
  return in.Run(script);
}

Result<DatabaseFiles> UnpackContainer(std::string_view container, const CdiffLimits& limits) {
  if (container.size() < kCvdHeaderBytes) return Bad("container: shorter than its 512-byte header");
  std::string_view body = container.substr(kCvdHeaderBytes);
  std::string inflated;
  if (body.size() >= 2 && static_cast<uint8_t>(body[0]) == 0x1f &&
      static_cast<uint8_t>(body[1]) == 0x8b) {
    ASSIGN_OR_RETURN(inflated,
                     Gunzip(body, static_cast<size_t>(limits.max_database_bytes) + (1u << 20),
                            "container", /*trailing_zeros=*/true));
    body = inflated;
  }
  DatabaseFiles files;
  uint64_t total = 0;
  size_t off = 0;
  for (;;) {
    // ClamAV's own writer (sigtool, freshclam) ends the archive without the two zero blocks.
    if (off == body.size()) break;
    if (off + 512 > body.size()) return Bad("container: tar archive ends inside a header");
    const std::string_view h = body.substr(off, 512);
    if (h.find_first_not_of('\0') == std::string_view::npos) break;  // end of archive
    unsigned sum = 0;
    for (size_t i = 0; i < 512; ++i)
      sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    const auto stored = Octal(h.substr(148, 8));
    if (!stored || *stored != sum) return Bad("container: tar header checksum mismatch");
    std::string_view name = h.substr(0, 100);
    name = name.substr(0, name.find('\0'));
    const char type = h[156];
    const auto size = Octal(h.substr(124, 12));
    if (!size) return Bad("container: tar member size is not octal");
    if (type != '0' && type != '\0')
      return Bad("container: tar member " + Quote(name.substr(0, 100)) + " is not a regular file");
    if (!ValidFileName(name))
      return Bad("container: tar member " + Quote(name.substr(0, 100)) +
                 " is not a plain file name");
    off += 512;
    if (*size > body.size() - off)
      return Bad("container: tar member " + std::string(name) + " is truncated");
    total += *size;
    if (total > limits.max_database_bytes)
      return MakeError(Errc::kResourceExhausted, "container: unpacks to more than " +
                                                     std::to_string(limits.max_database_bytes) +
                                                     " bytes");
    if (files.size() >= limits.max_files)
      return MakeError(Errc::kResourceExhausted,
                       "container: more than " + std::to_string(limits.max_files) + " files");
    if (!files.emplace(std::string(name), std::string(body.substr(off, *size))).second)
      return Bad("container: tar member " + std::string(name) + " appears twice");
    off += (*size + 511) / 512 * 512;
  }
  return files;
}

Result<std::string> PackContainer(const DatabaseFiles& files, std::string_view database,
                                  bool unsigned_container) {
  const std::string info = std::string(database) + ".info";
  const std::string cfg = std::string(database) + ".cfg";
  auto i = files.find(info);
  if (i == files.end()) return Bad("repack: the database has no " + info);
  if (files.find("COPYING") == files.end()) return Bad("repack: the database has no COPYING");
  std::string header(i->second.substr(0, i->second.find('\n')));
  if (header.size() > kCvdHeaderBytes)
    return Bad("repack: the first line of " + info + " is longer than 512 bytes");
  std::string padded = header;
  padded.resize(kCvdHeaderBytes, ' ');
  ASSIGN_OR_RETURN(CvdHeader h, ParseCvdHeader(padded));
  (void)h;

  std::string tar;
  AppendTarMember(tar, "COPYING", files.find("COPYING")->second);
  AppendTarMember(tar, info, i->second);
  if (auto c = files.find(cfg); c != files.end()) AppendTarMember(tar, cfg, c->second);
  for (const auto& [name, content] : files)
    if (name != "COPYING" && name != info && name != cfg) AppendTarMember(tar, name, content);
  tar.append(1024, '\0');
  if (!unsigned_container) return padded + tar;

  // A .cud: sigtool's header fields with the MD5 of the compressed archive, no signature.
  std::string body = Gzip(tar);
  std::vector<std::string> f;
  std::string_view rest = header;
  for (;;) {
    const size_t c = rest.find(':');
    f.emplace_back(rest.substr(0, c));
    if (c == std::string_view::npos) break;
    rest.remove_prefix(c + 1);
  }
  if (f.size() != 9) return Bad("repack: the first line of " + info + " is not a CVD header");
  f[5] = Md5Hex(body);
  f[6] = "X";
  std::string out;
  for (size_t k = 0; k < f.size(); ++k) out += (k ? ":" : "") + f[k];
  if (out.size() > kCvdHeaderBytes) return Bad("repack: the header is longer than 512 bytes");
  out.resize(kCvdHeaderBytes, ' ');
  return out + body;
}

std::string CdiffSignedPart(uint32_t version, std::string_view script) {
  return std::string(kCdiffMagic) + std::to_string(version) + ":" + std::to_string(script.size()) +
         ":" + Gzip(script);
}

}  // namespace seccloud::scan
