#include "core/spool_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>

namespace seccloud {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr uint64_t kUnfollowableSeq = UINT64_MAX;

std::string Where(const std::filesystem::path& file, uint64_t offset) {
  return file.string() + ":" + std::to_string(offset);
}

// What boost::json::parse followed by the checks in Next() would find, without building the
// value: whether the document is an object, and the top level's "seccloud" member's "seq" as a
// scalar (the last of duplicate keys wins at both levels, as in a parsed object).
class SeqFinder {
 public:
  // The limits of boost::json::parser's own handler, so that the same lines fail.
  static constexpr size_t max_object_size = boost::json::object::max_size();
  static constexpr size_t max_array_size = boost::json::array::max_size();
  static constexpr size_t max_key_size = boost::json::string::max_size();
  static constexpr size_t max_string_size = boost::json::string::max_size();

  bool top_is_object() const { return top_is_object_; }
  // The seq member's value when it was a number; a non-number stays as null (not a number
  // either way), and no member at all is nullopt.
  const std::optional<boost::json::value>& seq() const { return seq_; }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    if (depth_ == 0) {
      top_is_object_ = true;
    } else if (depth_ == 1 && role_ == Role::kSeccloud) {
      in_seccloud_ = true;
      seq_.reset();  // a later "seccloud" replaces an earlier one
    } else {
      Value();
    }
    Open();
    return true;
  }
  bool on_object_end(size_t, boost::system::error_code&) {
    Close();
    return true;
  }
  bool on_array_begin(boost::system::error_code&) {
    Value();
    Open();
    return true;
  }
  bool on_array_end(size_t, boost::system::error_code&) {
    Close();
    return true;
  }
  bool on_key_part(boost::json::string_view s, size_t, boost::system::error_code&) {
    if (depth_ <= 2) key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, size_t, boost::system::error_code&) {
    role_ = Role::kOther;
    if (depth_ <= 2) {
      key_.append(s.data(), s.size());
      if (depth_ == 1 && key_ == "seccloud") role_ = Role::kSeccloud;
      if (depth_ == 2 && in_seccloud_ && key_ == "seq") role_ = Role::kSeq;
      key_.clear();
    }
    return true;
  }
  bool on_string_part(boost::json::string_view, size_t, boost::system::error_code&) { return true; }
  bool on_string(boost::json::string_view, size_t, boost::system::error_code&) {
    Value();
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(int64_t i, boost::json::string_view, boost::system::error_code&) {
    Number(boost::json::value(i));
    return true;
  }
  bool on_uint64(uint64_t u, boost::json::string_view, boost::system::error_code&) {
    Number(boost::json::value(u));
    return true;
  }
  bool on_double(double d, boost::json::string_view, boost::system::error_code&) {
    Number(boost::json::value(d));
    return true;
  }
  bool on_bool(bool, boost::system::error_code&) {
    Value();
    return true;
  }
  bool on_null(boost::system::error_code&) {
    Value();
    return true;
  }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

 private:
  enum class Role { kOther, kSeccloud, kSeq };

  void Open() {
    ++depth_;
    role_ = Role::kOther;
  }
  void Close() {
    --depth_;
    if (depth_ == 1) in_seccloud_ = false;
    role_ = Role::kOther;
  }
  // A value other than a number or an object where the role's value goes.
  void Value() {
    if (depth_ == 1 && role_ == Role::kSeccloud) {
      in_seccloud_ = false;
      seq_.reset();  // "seccloud" is not an object (any more): no seq
    } else if (depth_ == 2 && role_ == Role::kSeq) {
      seq_.emplace(nullptr);
    }
    role_ = Role::kOther;
  }
  void Number(boost::json::value v) {
    if (depth_ == 2 && role_ == Role::kSeq) {
      seq_.emplace(v);
      role_ = Role::kOther;
      return;
    }
    Value();
  }

  int depth_ = 0;
  bool top_is_object_ = false;
  bool in_seccloud_ = false;
  Role role_ = Role::kOther;
  std::string key_;
  std::optional<boost::json::value> seq_;
};

}  // namespace

SpoolReader::SpoolReader(std::filesystem::path directory, std::string service, SpoolPosition from,
                         bool parse_events)
    : directory_(std::move(directory)),
      service_(std::move(service)),
      parse_events_(parse_events),
      position_(from) {}

SpoolReader::~SpoolReader() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<SpoolReader>> SpoolReader::Open(std::filesystem::path directory,
                                                       std::string service, SpoolPosition from,
                                                       bool parse_events) {
  std::unique_ptr<SpoolReader> reader(
      new SpoolReader(std::move(directory), std::move(service), from, parse_events));
  ASSIGN_OR_RETURN(std::vector<SpoolFile> files,
                   ListSpoolFiles(reader->directory_, reader->service_));
  if (from.file_first_seq != 0) {
    for (const SpoolFile& f : files) {
      if (f.first_seq == from.file_first_seq) {
        RETURN_IF_ERROR(reader->OpenFile(f, from.offset));
        return reader;
      }
    }
    return MakeError(Errc::kNotFound,
                     "spool file " + SpoolFileName(reader->service_, from.file_first_seq) +
                         " to resume from is not in " + reader->directory_.string());
  }
  if (!files.empty()) RETURN_IF_ERROR(reader->OpenFile(files.front(), 0));
  return reader;
}

Status SpoolReader::OpenFile(const SpoolFile& file, uint64_t offset) {
  int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open spool file " + file.path.string(), errno);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  file_path_ = file.path;
  position_.file_first_seq = file.first_seq;
  position_.offset = offset;
  end_ = 0;
  head_ = 0;
  scanned_ = 0;
  return {};
}

Result<std::optional<SpoolFile>> SpoolReader::NewerFile() {
  ASSIGN_OR_RETURN(std::vector<SpoolFile> files, ListSpoolFiles(directory_, service_));
  for (const SpoolFile& f : files) {
    if (fd_ < 0 || f.first_seq > position_.file_first_seq) return std::optional<SpoolFile>(f);
  }
  return std::optional<SpoolFile>();
}

Result<size_t> SpoolReader::ReadMore() {
  // buf_ only grows (zero-filled then, once): a resize per read zero-filled 64 KiB that pread
  // overwrote at once, ~0.9 k instructions a spool line.
  if (buf_.size() < end_ + kReadChunk) buf_.resize(end_ + kReadChunk);
  ssize_t n;
  do
    n = ::pread(fd_, buf_.data() + end_, kReadChunk,
                static_cast<off_t>(position_.offset + (end_ - head_)));
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    const int err = errno;
    return ErrnoError("read spool file " + file_path_.string(), err);
  }
  end_ += static_cast<size_t>(n);
  return static_cast<size_t>(n);
}

void SpoolReader::MoveTo(uint64_t offset) {
  head_ += static_cast<size_t>(offset - position_.offset);
  position_.offset = offset;
  if (head_ >= end_) {
    end_ = 0;
    head_ = 0;
  } else if (head_ > kReadChunk) {
    // Amortised: at most once per chunk read.
    std::memmove(buf_.data(), buf_.data() + head_, end_ - head_);
    end_ -= head_;
    head_ = 0;
  }
  scanned_ = head_;
}

Result<std::optional<SpoolRecord>> SpoolReader::Next() {
  bool newer_exists = false;  // checked at end of file: then the current file is complete
  while (true) {
    if (fd_ < 0) {
      ASSIGN_OR_RETURN(std::optional<SpoolFile> first, NewerFile());
      if (!first) return std::optional<SpoolRecord>();
      RETURN_IF_ERROR(OpenFile(*first, 0));
    }
    const size_t nl = std::string_view(buf_.data(), end_).find('\n', std::max(scanned_, head_));
    if (nl == std::string_view::npos) {
      scanned_ = end_;
      if (end_ - head_ > kMaxEventBytes) {
        // The writer never writes such a line, so this is not an event spool here; resync on
        // the next line end.
        const uint64_t at = position_.offset;
        MoveTo(position_.offset + (end_ - head_));
        return MakeError(Errc::kInvalidArgument, Where(file_path_, at) + ": no line end within " +
                                                     std::to_string(kMaxEventBytes) +
                                                     " bytes; skipped");
      }
      ASSIGN_OR_RETURN(size_t added, ReadMore());
      if (added > 0) continue;
      if (!newer_exists) {
        // The writer finishes a file before it creates the next one, so once a newer file
        // exists one more read of this file sees everything it will ever hold.
        ASSIGN_OR_RETURN(std::optional<SpoolFile> newer, NewerFile());
        if (!newer) return std::optional<SpoolRecord>();
        newer_exists = true;
        continue;
      }
      ASSIGN_OR_RETURN(std::optional<SpoolFile> newer, NewerFile());
      const std::string torn_at = Where(file_path_, position_.offset);
      const size_t torn = end_ - head_;
      RETURN_IF_ERROR(OpenFile(*newer, 0));
      newer_exists = false;
      if (torn > 0) {
        return MakeError(Errc::kInvalidArgument,
                         torn_at + ": file ends in a partial line of " + std::to_string(torn) +
                             " bytes although a newer file exists; skipped");
      }
      continue;
    }

    const uint64_t offset = position_.offset;
    const std::string_view line(buf_.data() + head_, nl - head_);
    boost::system::error_code ec;
    boost::json::value v;
    bool is_object = false;
    const boost::json::value* seq_value = nullptr;
    std::optional<boost::json::value> checked_seq;  // the checking parser's (a scalar)
    if (parse_events_) {
      v = boost::json::parse(boost::json::string_view(line.data(), line.size()), ec);
      is_object = !ec && v.is_object();
      if (const auto* sc = is_object ? v.get_object().if_contains("seccloud") : nullptr;
          sc && sc->is_object()) {
        seq_value = sc->get_object().if_contains("seq");
      }
    } else {
      // boost::json::parse's steps (parser::write: all of it, or extra_data) with nothing built.
      boost::json::basic_parser<SeqFinder> p(boost::json::parse_options{});
      const size_t n = p.write_some(false, line.data(), line.size(), ec);
      if (!ec && n < line.size()) ec = boost::json::error::extra_data;
      is_object = !ec && p.handler().top_is_object();
      checked_seq = p.handler().seq();
      if (checked_seq) seq_value = &*checked_seq;
    }
    std::string problem;
    uint64_t seq = 0;
    if (!is_object) {
      problem = ec ? "line is not valid JSON (" + ec.message() + ")" : "line is not a JSON object";
    } else {
      if (seq_value) seq = seq_value->to_number<uint64_t>(ec);
      if (!seq_value || ec) {
        problem = "line has no numeric seccloud.seq";
      } else if (seq == kUnfollowableSeq) {
        // No line can follow it: the next expected seq would wrap to 0, which reads as "accept
        // whatever comes" (here and in a saved position). The writer counts from 1 and never
        // gets there, so the line is refused like any other that is not the writer's, and the
        // expectation stays what it was: the next line is checked against it.
        problem =
            "seccloud.seq " + std::to_string(seq) + " is the largest seq, which no line can follow";
      }
    }
    if (!problem.empty()) {
      MoveTo(offset + line.size() + 1);
      return MakeError(Errc::kInvalidArgument,
                       Where(file_path_, offset) + ": " + problem + "; skipped");
    }
    if (position_.next_seq != 0 && seq != position_.next_seq) {
      last_gap_ = SpoolGap{position_.next_seq, seq};
      const std::string what = seq > position_.next_seq ? "seq gap" : "seq went backwards";
      Error e = MakeError(Errc::kInternal, Where(file_path_, offset) + ": " + what + ": expected " +
                                               std::to_string(position_.next_seq) + ", got " +
                                               std::to_string(seq));
      position_.next_seq = seq;  // the next call yields this line
      return e;
    }
    SpoolRecord record;
    record.seq = seq;
    record.line = std::string(line);
    if (parse_events_) record.event = std::move(v.get_object());
    record.offset = offset;
    MoveTo(offset + line.size() + 1);
    position_.next_seq = seq + 1;
    return std::optional<SpoolRecord>(std::move(record));
  }
}

}  // namespace seccloud
