#pragma once
// Reads an event spool written by EventWriter (R18, R24): the files of one service in seq order,
// complete lines only, with seq continuity checked, resumable from a saved position. Tests use it
// now; the SOC's collector will use it to tail every service's spool.

#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/event_writer.h"
#include "core/result.h"

namespace seccloud {

// Where a reader stands; save it and pass it to Open to resume. Zero fields mean "from the start"
// and "accept whatever seq comes first" (the SOC may already have deleted older files).
struct SpoolPosition {
  uint64_t file_first_seq = 0;  // the current file, by the seq in its name
  uint64_t offset = 0;          // byte offset of the next unread line in that file
  uint64_t next_seq = 0;        // the seq the next line must carry

  friend bool operator==(const SpoolPosition&, const SpoolPosition&) = default;
};

struct SpoolRecord {
  uint64_t seq = 0;
  std::string line;  // without the '\n'
  boost::json::object event;
  uint64_t offset = 0;  // of the line in its file, SpoolReader::file() until the next call
};

struct SpoolGap {
  uint64_t expected = 0;
  uint64_t got = 0;
};

// Not thread-safe; one reader per consumer. Safe to run while the writer appends: a line is
// yielded only once its '\n' is in the file. It can yield a line that the writer has written but
// not yet acknowledged; if the writer then rolls that line back (disk full), the line written in
// its place carries the same seq and the reader reports it as a seq error.
class SpoolReader {
 public:
  // `parse_events` false: SpoolRecord::event stays empty. Each line is still checked exactly as
  // otherwise (one JSON object with a numeric seccloud.seq, the same errors), but with a parser
  // that builds nothing, for a reader that parses the line itself (the SOC).
  static Result<std::unique_ptr<SpoolReader>> Open(std::filesystem::path directory,
                                                   std::string service, SpoolPosition from = {},
                                                   bool parse_events = true);
  ~SpoolReader();
  SpoolReader(const SpoolReader&) = delete;
  SpoolReader& operator=(const SpoolReader&) = delete;

  // The next line; std::nullopt when caught up with the writer (call again later to follow it).
  // Errors are reported once and reading continues with the next call:
  //  - a seq other than expected (a gap, or a seq going backwards): "…: seq gap: expected N,
  //    got M"; last_gap() holds both numbers, and the next call yields the line with seq M;
  //  - a line that is not JSON or has no seccloud.seq, or a file that ends in a partial line
  //    although a newer file exists: the error names file and offset, and the bad bytes are
  //    skipped;
  //  - a line with seccloud.seq 2^64−1, which no line can follow (the writer counts from 1 and
  //    never gets there): reported and skipped the same way, and the expected seq stays what it
  //    was, so a position never holds a next_seq that wrapped to 0 ("accept any").
  Result<std::optional<SpoolRecord>> Next();

  const SpoolPosition& position() const { return position_; }
  // The file position() is in: after Next() yielded a record, the record's file (not copied into
  // every record: the path's copy and release were ~1.4 k instructions a line).
  const std::filesystem::path& file() const { return file_path_; }
  const std::optional<SpoolGap>& last_gap() const { return last_gap_; }

 private:
  SpoolReader(std::filesystem::path directory, std::string service, SpoolPosition from,
              bool parse_events);
  Status OpenFile(const SpoolFile& file, uint64_t offset);
  // Result: a newer file than the current one, if any.
  Result<std::optional<SpoolFile>> NewerFile();
  // Reads more of the current file into buf_; returns bytes added, 0 at end of file.
  Result<size_t> ReadMore();
  void MoveTo(uint64_t offset);

  const std::filesystem::path directory_;
  const std::string service_;
  const bool parse_events_;
  SpoolPosition position_;
  std::optional<SpoolGap> last_gap_;
  std::filesystem::path file_path_;
  int fd_ = -1;
  std::string buf_;  // buf_[0, end_) are file bytes; buf_[head_] is at position_.offset
  size_t end_ = 0;
  size_t head_ = 0;
  size_t scanned_ = 0;  // buf_[head_, scanned_) holds no '\n'
};

}  // namespace seccloud
