#include "scan/signature_mirror.h"

#include <clamav.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "core/http_get.h"
#include "scan/cdiff.h"
#include "scan/cvd_format.h"
#include "scan/internal.h"

namespace seccloud::scan {
namespace {

namespace fs = std::filesystem;

constexpr const char* kStagingDir = ".seccloud-update";
constexpr const char* kContainerExtensions[] = {".cvd", ".cld", ".cud"};
constexpr uint64_t kMaxVersionRecordBytes = 4096;

std::string Stem(const std::string& file) { return file.substr(0, file.rfind('.')); }

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Status FsyncPath(const fs::path& p, bool directory) {
  Fd f(::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC));
  if (f.fd < 0) return ErrnoError("opening " + p.string() + " to fsync", errno);
  if (::fsync(f.fd) != 0) return ErrnoError("fsync " + p.string(), errno);
  return {};
}

// The first kCvdHeaderBytes of a local file; nullopt when it is missing or shorter.
std::optional<std::string> ReadHead(const fs::path& p) {
  Fd f(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (f.fd < 0) return std::nullopt;
  std::string buf(kCvdHeaderBytes, '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::read(f.fd, buf.data() + got, buf.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < buf.size()) return std::nullopt;
  return buf;
}

// The newest container of database `stem` in the directory (any of .cvd/.cld/.cud), if any.
struct LocalContainer {
  CvdHeader header;
  fs::path path;
};
std::optional<LocalContainer> FindLocal(const fs::path& dir, const std::string& stem) {
  std::optional<LocalContainer> best;
  for (const char* ext : kContainerExtensions) {
    const fs::path p = dir / (stem + ext);
    auto head = ReadHead(p);
    if (!head) continue;
    auto h = ParseCvdHeader(*head);
    if (!h) continue;  // an unreadable local container is replaced by any mirror version
    if (!best || h->version > best->header.version) best = LocalContainer{*h, p};
  }
  return best;
}

std::string Hex(const unsigned char* d, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[d[i] >> 4]);
    out.push_back(kHex[d[i] & 15]);
  }
  return out;
}

// A container downloaded into the staging directory and verified there.
struct Staged {
  std::string file;  // "daily.cud"
  fs::path path;
  CvdHeader header;
  uint32_t previous_version = 0;
  std::string how;  // " (2 .cdiff)" for an incremental update
};

Status WriteSynced(const fs::path& path, std::string_view data) {
  std::error_code ec;
  fs::remove(path, ec);
  Fd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out.fd < 0) return ErrnoError("creating " + path.string(), errno);
  while (!data.empty()) {
    ssize_t n = ::write(out.fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("writing " + path.string(), errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(out.fd) != 0) return ErrnoError("fsync " + path.string(), errno);
  return {};
}

class Updater {
 public:
  Updater(const ScanMirrorConfig& c, const fs::path& dir, const ClamavPublicKey& cdiff_key)
      : c_(c), dir_(dir), cdiff_key_(cdiff_key) {}

  std::string Url(const std::string& file) const { return c_.url + "/" + file; }

  HttpGetOptions Options(uint64_t max_body) const {
    HttpGetOptions o;
    o.timeout = c_.timeout;
    o.max_body_bytes = max_body;
    o.user_agent = "seccloud-scand";
    return o;
  }

  // The mirror's version record, or nullopt when it has none (404) or it does not parse (then
  // container headers are read instead, as freshclam does without DNS). Unreachable: an error.
  Result<std::optional<MirrorVersionRecord>> VersionRecord(std::string* note) {
    ASSIGN_OR_RETURN(HttpGetResponse r, HttpGet(Url("dns.txt"), Options(kMaxVersionRecordBytes)));
    if (r.status != 200) {
      *note = "no version record (HTTP " + std::to_string(r.status) + ")";
      return std::optional<MirrorVersionRecord>();
    }
    auto rec = ParseVersionRecord(r.body);
    if (!rec) {
      *note = rec.error().message;
      return std::optional<MirrorVersionRecord>();
    }
    return std::optional<MirrorVersionRecord>(*rec);
  }

  // The header of the mirror's container, read with a Range request (512 bytes).
  Result<CvdHeader> RemoteHeader(const std::string& file) {
    HttpGetOptions o = Options(kCvdHeaderBytes);
    o.range = HttpGetOptions::ByteRange{0, kCvdHeaderBytes - 1};
    ASSIGN_OR_RETURN(HttpGetResponse r, HttpGet(Url(file), o));
    if (r.status != 200 && r.status != 206)
      return MakeError(Errc::kUnavailable,
                       Url(file) + " answered HTTP " + std::to_string(r.status));
    auto h = ParseCvdHeader(r.body);
    if (!h) return MakeError(Errc::kInvalidArgument, Url(file) + ": " + h.error().message);
    return *h;
  }

  // Downloads `file` into the staging directory and verifies it against what is loaded.
  Result<Staged> Fetch(const std::string& file, std::optional<uint32_t> advertised,
                       const std::optional<LocalContainer>& local, uint64_t* bytes) {
    const fs::path staging = dir_ / kStagingDir;
    std::error_code ec;
    fs::create_directories(staging, ec);
    if (ec) return ErrnoError("creating " + staging.string(), ec.value());
    const fs::path path = staging / file;
    fs::remove(path, ec);
    Fd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (out.fd < 0) return ErrnoError("creating " + path.string(), errno);
    auto fail = [&](Errc code, std::string why) {
      std::error_code e;
      fs::remove(path, e);
      return MakeError(code, file + ": " + std::move(why));
    };

    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md5(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!md5 || EVP_DigestInit_ex(md5.get(), EVP_md5(), nullptr) != 1)
      return fail(Errc::kInternal, "cannot initialise MD5");
    std::string head;
    HttpGetOptions o = Options(c_.max_download_bytes);
    o.body_sink = [&](std::string_view piece) -> Status {
      // The header is not part of the MD5: it holds it.
      if (head.size() < kCvdHeaderBytes) {
        const size_t take = std::min(piece.size(), kCvdHeaderBytes - head.size());
        head.append(piece.substr(0, take));
        EVP_DigestUpdate(md5.get(), piece.data() + take, piece.size() - take);
      } else {
        EVP_DigestUpdate(md5.get(), piece.data(), piece.size());
      }
      while (!piece.empty()) {
        ssize_t n = ::write(out.fd, piece.data(), piece.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return ErrnoError("writing " + path.string(), errno);
        piece.remove_prefix(static_cast<size_t>(n));
      }
      return {};
    };
    auto got = HttpGet(Url(file), o);
    if (!got) return fail(got.error().code, got.error().message);
    *bytes += got->body_bytes;
    if (got->status != 200)
      return fail(Errc::kUnavailable, Url(file) + " answered HTTP " + std::to_string(got->status));
    if (::fsync(out.fd) != 0) return fail(Errc::kIo, std::string("fsync: ") + strerror(errno));

    auto header = ParseCvdHeader(head);
    if (!header) return fail(Errc::kInvalidArgument, header.error().message);
    const CvdHeader& h = *header;
    if (advertised && h.version != *advertised)
      return fail(Errc::kInvalidArgument,
                  "the mirror advertises version " + std::to_string(*advertised) +
                      " but the container holds " + std::to_string(h.version) +
                      " (mirror not synchronised)");
    if (local && h.version <= local->header.version)
      return fail(Errc::kInvalidArgument, "version " + std::to_string(h.version) +
                                              " is not newer than the loaded " +
                                              std::to_string(local->header.version));
    if (local && h.build_unix_time < local->header.build_unix_time)
      return fail(Errc::kInvalidArgument, "built at " + std::to_string(h.build_unix_time) +
                                              ", before the loaded container (" +
                                              std::to_string(local->header.build_unix_time) +
                                              "): refused as a rollback");
    const bool is_cvd = file.ends_with(".cvd");
    const bool is_cld = file.ends_with(".cld");
    if (!is_cld) {
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned len = 0;
      EVP_DigestFinal_ex(md5.get(), digest, &len);
      if (Hex(digest, len) != h.md5)
        return fail(Errc::kInvalidArgument, "MD5 of the archive is " + Hex(digest, len) +
                                                ", the header says " + h.md5 +
                                                " (corrupted or tampered download)");
    }
    if (is_cvd && h.unsigned_container())
      return fail(Errc::kInvalidArgument, "a .cvd without ClamAV's digital signature");
    // Our own check of ClamAV's signature over the MD5 first (precise reason), then libclamav's.
    if (is_cvd)
      if (Status sig = VerifyCvdSignature(h.md5, h.dsig); !sig)
        return fail(Errc::kInvalidArgument,
                    "header " + sig.error().message + " (not signed by ClamAV)");
    // For a .cvd: MD5 and ClamAV's RSA signature over it, then a trial load. For .cud/.cld
    // (unsigned, allowed by configuration): the trial load and the per-file SHA-256 sums of the
    // container's .info.
    RETURN_IF_ERROR(internal::InitClamav());
    if (cl_error_t rc = cl_cvdverify(path.c_str()); rc != CL_SUCCESS)
      return fail(Errc::kInvalidArgument, std::string("libclamav refuses it: ") + cl_strerror(rc) +
                                              (is_cvd ? " (digital signature or content)" : ""));
    Staged s;
    s.file = file;
    s.path = path;
    s.header = h;
    s.previous_version = local ? local->header.version : 0;
    return s;
  }

  // The incremental update of `local` to version `remote` from <stem>-<n>.cdiff files, repacked
  // into the staging directory as <stem>.cld (or .cud from an unsigned .cud) and verified there.
  Result<Staged> FetchIncremental(const std::string& stem, const LocalContainer& local,
                                  uint32_t remote, uint64_t* bytes) {
    const bool from_cud = local.path.extension() == ".cud";
    if (from_cud && !c_.allow_unsigned)
      return MakeError(Errc::kInvalidArgument, "the local " + local.path.filename().string() +
                                                   " is unsigned and allow_unsigned is off");
    CdiffLimits limits;
    limits.max_cdiff_bytes =
        static_cast<size_t>(std::min<uint64_t>(c_.max_download_bytes, limits.max_cdiff_bytes));
    // The unpacked database may be several times its compressed container; the download bound
    // is what the operator chose for a container, so allow four times it unpacked.
    limits.max_database_bytes =
        std::min<uint64_t>(limits.max_database_bytes, c_.max_download_bytes * 4);

    // Fetch and verify every .cdiff before touching anything.
    std::vector<std::string> scripts;
    for (uint32_t v = local.header.version + 1; v <= remote; ++v) {
      const std::string name = stem + "-" + std::to_string(v) + ".cdiff";
      ASSIGN_OR_RETURN(HttpGetResponse r, HttpGet(Url(name), Options(limits.max_cdiff_bytes)));
      *bytes += r.body.size();
      if (r.status != 200)
        return MakeError(Errc::kUnavailable,
                         Url(name) + " answered HTTP " + std::to_string(r.status));
      auto cdiff = OpenCdiff(r.body, cdiff_key_, limits);
      if (!cdiff) return MakeError(Errc::kInvalidArgument, name + ": " + cdiff.error().message);
      if (cdiff->version != v)
        return MakeError(Errc::kInvalidArgument,
                         name + ": its header says version " + std::to_string(cdiff->version));
      scripts.push_back(std::move(cdiff->script));
    }

    auto mapped = internal::MappedFile::Open(local.path);
    if (!mapped) return mapped.error();
    const auto raw = mapped->bytes();
    if (raw.size() > c_.max_download_bytes)
      return MakeError(Errc::kResourceExhausted,
                       local.path.filename().string() + " is larger than max_download_size");
    ASSIGN_OR_RETURN(
        DatabaseFiles files,
        UnpackContainer(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()),
                        limits));
    for (size_t i = 0; i < scripts.size(); ++i) {
      if (Status st = ApplyCdiffScript(scripts[i], files, limits); !st)
        return MakeError(st.error().code, stem + "-" +
                                              std::to_string(local.header.version + 1 + i) +
                                              ".cdiff: " + st.error().message);
      std::string().swap(scripts[i]);
    }
    const std::string out_file = stem + (from_cud ? ".cud" : ".cld");
    ASSIGN_OR_RETURN(std::string packed, PackContainer(files, stem, from_cud));
    DatabaseFiles().swap(files);
    ASSIGN_OR_RETURN(CvdHeader h, ParseCvdHeader(packed));
    if (h.version != remote)
      return MakeError(Errc::kInvalidArgument, "after the .cdiff files the header holds version " +
                                                   std::to_string(h.version) + ", not " +
                                                   std::to_string(remote));
    if (h.build_unix_time < local.header.build_unix_time)
      return MakeError(Errc::kInvalidArgument,
                       "the result was built before the loaded container: "
                       "refused as a rollback");

    const fs::path staging = dir_ / kStagingDir;
    std::error_code ec;
    fs::create_directories(staging, ec);
    if (ec) return ErrnoError("creating " + staging.string(), ec.value());
    const fs::path path = staging / out_file;
    RETURN_IF_ERROR(WriteSynced(path, packed));
    RETURN_IF_ERROR(internal::InitClamav());
    if (cl_error_t rc = cl_cvdverify(path.c_str()); rc != CL_SUCCESS) {
      fs::remove(path, ec);
      return MakeError(Errc::kInvalidArgument, out_file +
                                                   " built from the .cdiff files: libclamav "
                                                   "refuses it: " +
                                                   std::string(cl_strerror(rc)));
    }
    Staged s;
    s.file = out_file;
    s.path = path;
    s.header = h;
    s.previous_version = local.header.version;
    s.how = " (" + std::to_string(scripts.size()) + " .cdiff)";
    return s;
  }

 private:
  const ScanMirrorConfig& c_;
  const fs::path& dir_;
  const ClamavPublicKey& cdiff_key_;
};

}  // namespace

SignatureMirror::SignatureMirror(ScanMirrorConfig config, fs::path database_dir, ScanEngine& engine,
                                 const ClamavPublicKey& cdiff_key)
    : config_(std::move(config)),
      database_dir_(std::move(database_dir)),
      engine_(engine),
      cdiff_key_(cdiff_key) {}

MirrorUpdateReport SignatureMirror::Update() {
  MirrorUpdateReport report;
  std::vector<std::string> errors;
  Updater u(config_, database_dir_, cdiff_key_);
  std::string note;
  auto record = u.VersionRecord(&note);
  if (!record) {
    report.ok = false;
    report.error = "mirror " + config_.url + ": " + record.error().message;
    return report;
  }
  report.used_version_record = record->has_value();
  report.note = note;

  std::vector<Staged> staged;
  for (const std::string& file : config_.databases) {
    const std::string stem = Stem(file);
    const auto local = FindLocal(database_dir_, stem);
    std::optional<uint32_t> advertised;
    if (record->has_value()) advertised = (*record)->VersionOf(stem);
    uint32_t remote = 0;
    if (advertised) {
      remote = *advertised;
    } else {
      auto h = u.RemoteHeader(file);
      if (!h) {
        errors.push_back(h.error().message);
        continue;
      }
      remote = h->version;
      advertised = remote;
    }
    if (local && remote <= local->header.version) continue;  // nothing new: nothing downloaded
    if (local && remote - local->header.version <= kMaxCdiffChain) {
      auto inc = u.FetchIncremental(stem, *local, remote, &report.downloaded_bytes);
      if (inc) {
        staged.push_back(std::move(*inc));
        continue;
      }
      report.incremental_failures.push_back(
          stem + " " + std::to_string(local->header.version) + " -> " + std::to_string(remote) +
          " by .cdiff failed (" + inc.error().message + "); downloading " + file + " instead");
    }
    auto s = u.Fetch(file, advertised, local, &report.downloaded_bytes);
    if (!s) {
      errors.push_back(s.error().message);
      continue;
    }
    staged.push_back(std::move(*s));
  }

  if (!staged.empty()) {
    const fs::path backup = database_dir_ / kStagingDir / "previous";
    struct Move {
      fs::path from, to;
    };
    std::vector<Move> done;  // renames made, undone in reverse on failure
    auto move_file = [&](const fs::path& from, const fs::path& to) -> Status {
      std::error_code ec;
      fs::rename(from, to, ec);
      if (ec) return ErrnoError("renaming " + from.string() + " to " + to.string(), ec.value());
      done.push_back({from, to});
      return {};
    };
    auto install = [&]() -> Status {
      std::error_code ec;
      fs::create_directories(backup, ec);
      if (ec) return ErrnoError("creating " + backup.string(), ec.value());
      for (const Staged& s : staged) {
        // Every other container of the same database leaves the directory (libclamav would
        // load both); kept aside until the new engine is in use.
        for (const char* ext : kContainerExtensions) {
          const fs::path old = database_dir_ / (Stem(s.file) + ext);
          if (fs::exists(old, ec)) RETURN_IF_ERROR(move_file(old, backup / old.filename()));
        }
        RETURN_IF_ERROR(move_file(s.path, database_dir_ / s.file));
      }
      return FsyncPath(database_dir_, true);
    };
    auto undo = [&] {
      for (auto it = done.rbegin(); it != done.rend(); ++it) {
        std::error_code ec;
        fs::rename(it->to, it->from, ec);
      }
      (void)FsyncPath(database_dir_, true);
      for (const Staged& s : staged) {
        std::error_code ec;
        fs::remove(s.path, ec);
      }
    };
    report.reload = engine_.ApplyUpdate(install, undo);
    report.reloaded = true;
    if (report.reload.ok) {
      for (const Staged& s : staged)
        report.updated.push_back(s.file + " " + std::to_string(s.previous_version) + " -> " +
                                 std::to_string(s.header.version) + s.how);
    } else {
      errors.push_back("the new signatures did not load (old engine kept): " + report.reload.error);
    }
    std::error_code ec;
    fs::remove_all(backup, ec);
  }
  if (!errors.empty()) {
    report.ok = false;
    for (const std::string& e : errors) report.error += (report.error.empty() ? "" : "; ") + e;
  }
  return report;
}

}  // namespace seccloud::scan
