#pragma once
// Private to scan: scand's socket server. A fixed pool of worker threads, each accepting on the
// one Unix listening socket and serving one connection at a time: a scan is CPU-bound work that
// blocks its thread in libclamav anyway, so a worker per concurrent scan (as clamd does) is the
// whole design; the listen backlog queues the rest. Every read and write has a deadline, every
// stream a size cap.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "core/result.h"
#include "core/scan_config.h"
#include "scan/protocol.h"
#include "scan/scanner.h"

namespace seccloud::scan {

struct ServerOptions {
  std::filesystem::path socket;
  unsigned workers = 2;
  uint64_t max_stream_bytes = 100ull << 20;
  uint64_t spill_bytes = 8ull << 20;  // larger streams are written to a temporary file
  std::filesystem::path temp_dir;     // empty: /tmp
  std::chrono::milliseconds io_timeout{30'000};
};

struct ServerCounters {
  std::atomic<uint64_t> scans{0};
  std::atomic<uint64_t> clean{0};
  std::atomic<uint64_t> infected{0};
  std::atomic<uint64_t> suspicious{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> capped{0};           // streams refused for exceeding max_stream_bytes
  std::atomic<uint64_t> protocol_errors{0};  // bad request lines, bad chunk lengths
  std::atomic<uint64_t> aborted{0};          // client vanished or timed out mid-stream
  std::atomic<int64_t> active{0};
};

class ScanServer {
 public:
  // Called on a worker thread after every completed scan, with the scanned bytes.
  using ScanObserver =
      std::function<void(const Verdict&, const ScanContext&, std::span<const uint8_t> data)>;

  // Binds (replacing a stale socket file) and starts the workers.
  static seccloud::Result<std::unique_ptr<ScanServer>> Start(ServerOptions options,
                                                             std::shared_ptr<const Scanner> scanner,
                                                             ScanObserver observer = {});
  ~ScanServer();  // Stop()

  // Stops accepting, lets each worker finish its connection, joins them, removes the socket.
  void Stop();
  const ServerCounters& counters() const { return counters_; }

 private:
  ScanServer(ServerOptions options, std::shared_ptr<const Scanner> scanner, ScanObserver observer,
             int listen_fd);
  void Work();
  void Serve(int fd);

  ServerOptions options_;
  std::shared_ptr<const Scanner> scanner_;
  ScanObserver observer_;
  int listen_fd_;
  std::atomic<bool> stopping_{false};
  ServerCounters counters_;
  std::vector<std::thread> threads_;
};

}  // namespace seccloud::scan
