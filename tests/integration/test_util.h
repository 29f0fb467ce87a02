#pragma once
// Helpers shared by the integration tests: run a command, wait for a condition, read a file,
// and look into events by dotted path.

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace seccloud::integration {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `argv` to completion, capturing stdout and stderr through a file in `scratch`.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::filesystem::path& scratch);

// Polls `done` every 50 ms until it holds or `limit` passes; returns its last answer.
bool WaitFor(const std::function<bool()>& done,
             std::chrono::milliseconds limit = std::chrono::seconds(20));

std::string ReadFile(const std::filesystem::path& p);

// A new, empty directory for the running test ("<tmp>/seccloud-<prefix>-<pid>-<test name>"),
// readable and traversable by others (nginx workers and dropped services run as nobody).
std::filesystem::path FreshTestDir(std::string_view prefix);

// "x.y" derived from this process's pid, so that each test process (ctest runs one per test)
// listens on loopback addresses of its own: "127.77." + PidAddressTail().
std::string PidAddressTail();

// Every event in the spool `<spool_dir>/<service>` so far, in order; a record that does not read
// (a sequence gap, a damaged record) is a test failure and ends the list.
std::vector<boost::json::object> SpoolEvents(const std::filesystem::path& spool_dir,
                                             std::string_view service);

// How often `what` occurs in `text`.
size_t Count(std::string_view text, std::string_view what);

// A dotted path into an event ("tenant.id"); null when absent.
const boost::json::value* Field(const boost::json::object& event, std::string_view path);
// The field as text ("<absent>" when missing; non-strings serialised).
std::string Str(const boost::json::object& event, std::string_view path);
// The field as an integer, -1 when missing or not an integer.
int64_t Int(const boost::json::object& event, std::string_view path);

}  // namespace seccloud::integration
