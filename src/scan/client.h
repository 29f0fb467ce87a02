#pragma once
// The client of scand for the proxy, mail and `seccloud scan`: synchronous, one Unix-socket
// connection per scan, a deadline on every read and write. Blocking: call it from a thread that
// may block (a worker pool), not from an io_context thread.

#include <chrono>
#include <filesystem>
#include <span>
#include <string>

#include "core/result.h"
#include "scan/scanner.h"

namespace seccloud::scan {

struct ClientOptions {
  // Bounds every single read and write (not the whole scan): a scand that stops answering
  // fails the scan with kDeadlineExceeded instead of hanging the caller.
  std::chrono::milliseconds io_timeout{120'000};
};

// Streams data chunk by chunk (for a proxy body that arrives in pieces). Not thread-safe.
class StreamScan {
 public:
  static seccloud::Result<StreamScan> Open(const std::filesystem::path& socket,
                                           const ScanContext& context, ClientOptions options = {});
  StreamScan(StreamScan&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  StreamScan& operator=(StreamScan&&) = delete;
  ~StreamScan();

  // Sends data in chunks of at most 64 KiB. An error (scand closed the stream, e.g. after its
  // size cap) means Finish() may still have scand's answer.
  Status Write(std::span<const uint8_t> data);
  // Ends the stream and waits for the verdict.
  seccloud::Result<Verdict> Finish();

 private:
  explicit StreamScan(int fd) : fd_(fd) {}
  int fd_ = -1;
};

seccloud::Result<Verdict> ScanStream(const std::filesystem::path& socket,
                                     std::span<const uint8_t> data, const ScanContext& context = {},
                                     ClientOptions options = {});
// Streams a file's contents (scand need not be able to read the file).
seccloud::Result<Verdict> ScanFileStream(const std::filesystem::path& socket,
                                         const std::filesystem::path& file,
                                         const ScanContext& context = {},
                                         ClientOptions options = {});
// "PONG" when scand answers.
seccloud::Result<std::string> Ping(const std::filesystem::path& socket, ClientOptions options = {});

}  // namespace seccloud::scan
