#pragma once
// A real nginx as the origin server of integration tests and benchmarks (R3): started on the
// loopback address and port the test chooses, with a private prefix (config, pid, temp and log
// files) under a directory of the test's own, and stopped by pid when the object goes away.
//
// What it serves (paths relative to http://authority()):
//   /1k.bin, /100k.bin, /10m.bin  static files of 1 KiB, 100 KiB and 10 MiB (pseudo-random,
//                                 generated at start; File() gives their bytes)
//   /chunked/<file>               the same files, sent with Transfer-Encoding: chunked (nginx's
//                                 sub_filter drops the length) to an HTTP/1.1 client
//   /until-close/<file>           the same files with neither length nor chunking: the body
//                                 ends when nginx closes the connection
//   /slow/<file>                  the same files: the first 60,000 bytes of the response (header
//                                 included) at once, the rest at 64 bytes a second
//   /echo                         200, one line naming the request headers the origin received:
//                                 "via=…|xff=…|host=…|connection=…|x-secret=…|proxy-authorization=…|
//                                 proxy-connection=…|te=…|keep-alive=…|"
//   /upload                       POST sink of any size, streamed or chunked; answers with the
//                                 number of body bytes received (nginx buffers the body to a temp
//                                 file and hands it to its own /sink, which reports the length)
//   /keep                         as /upload, and every body received stays in a file of its own
//                                 (KeptBodies() reads them)
//   /204                          204 No Content
//   /healthz                      200 "ok"
// TLS servers (Start's `tls`): each listens on address:its port with its own certificate chain and
// key, and serves the same locations as the plain server.
// HEAD works on every static file; a GET with the file's ETag in If-None-Match gets 304.
// The access log (AccessLog()) has one line per request: "<connection serial> <request number on
// that connection> <method> <uri> <status> <request length>", so a test can count the upstream
// connections a proxy opened.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace seccloud::integration {

struct NginxAccessLine {
  uint64_t connection = 0;  // nginx's $connection: one serial per accepted TCP connection
  uint64_t request_on_connection = 0;
  std::string method;
  std::string uri;
  int status = 0;
  uint64_t request_length = 0;
};

// An HTTPS server of the origin: the chain it presents (leaf first) and the leaf's key.
struct NginxTlsServer {
  uint16_t port = 0;
  std::filesystem::path chain;
  std::filesystem::path key;
};

class NginxOrigin {
 public:
  // Names and sizes of the static files.
  static constexpr struct {
    const char* name;
    size_t size;
  } kFiles[] = {{"1k.bin", 1024}, {"100k.bin", 100 * 1024}, {"10m.bin", 10 * 1024 * 1024}};

  // Writes the config and files under `dir` (created; removed by the destructor) and starts nginx
  // listening on address:port (an IPv6 address without brackets). Returns once the port accepts
  // connections (and every TLS server's port too), or an error with nginx's own output when it
  // could not start.
  static Result<std::unique_ptr<NginxOrigin>> Start(std::filesystem::path dir, std::string address,
                                                    uint16_t port,
                                                    std::vector<NginxTlsServer> tls = {});
  ~NginxOrigin();
  NginxOrigin(const NginxOrigin&) = delete;
  NginxOrigin& operator=(const NginxOrigin&) = delete;

  // "127.78.1.2:8080" or "[::1]:8080".
  std::string authority() const;
  const std::string& address() const { return address_; }
  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // The bytes of a static file (kFiles[i].name).
  const std::string& File(const std::string& name) const;
  std::filesystem::path FilePath(const std::string& name) const;
  // Every request logged so far (nginx writes a line when a request completes).
  std::vector<NginxAccessLine> AccessLog() const;
  // The bodies /keep received so far, in no particular order.
  std::vector<std::string> KeptBodies() const;
  // nginx's stdout and stderr so far, for failure messages.
  std::string Output() const;

 private:
  NginxOrigin(std::filesystem::path dir, std::string address, uint16_t port,
              std::vector<NginxTlsServer> tls)
      : dir_(std::move(dir)), address_(std::move(address)), port_(port), tls_(std::move(tls)) {}
  Status WriteFiles();
  Status Launch();

  std::filesystem::path dir_;
  std::string address_;
  uint16_t port_;
  std::vector<NginxTlsServer> tls_;
  pid_t pid_ = 0;
  std::vector<std::pair<std::string, std::string>> files_;
};

// Whether a TCP connection to address:port succeeds within `timeout_ms`.
bool CanConnect(const std::string& address, uint16_t port, int timeout_ms = 500);

}  // namespace seccloud::integration
