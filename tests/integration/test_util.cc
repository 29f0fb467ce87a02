#include "test_util.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "core/process.h"
#include "core/spool_reader.h"

namespace seccloud::integration {

namespace fs = std::filesystem;
namespace json = boost::json;

CommandResult RunCommand(const std::vector<std::string>& argv, const fs::path& scratch) {
  static std::atomic<int> counter{0};
  fs::path out = scratch / ("cmd-" + std::to_string(++counter) + ".out");
  auto pid = Spawn(SpawnOptions{argv, {}, {}, out});
  if (!pid) return {-1, pid.error().ToString()};
  int status = 0;
  waitpid(*pid, &status, 0);
  std::string text = ReadFile(out);
  fs::remove(out);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), text};
}

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

fs::path FreshTestDir(std::string_view prefix) {
  fs::path dir = fs::temp_directory_path() /
                 ("seccloud-" + std::string(prefix) + "-" + std::to_string(getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  return dir;
}

std::string PidAddressTail() {
  const int pid = getpid();
  return std::to_string(pid / 250 % 250) + "." + std::to_string(pid % 250 + 1);
}

std::vector<json::object> SpoolEvents(const fs::path& spool_dir, std::string_view service) {
  std::vector<json::object> out;
  auto reader = SpoolReader::Open(spool_dir / service, std::string(service));
  if (!reader) return out;
  while (true) {
    auto record = (*reader)->Next();
    EXPECT_TRUE(record) << record.error().ToString();
    if (!record || !*record) break;
    out.push_back(std::move((*record)->event));
  }
  return out;
}

size_t Count(std::string_view text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

const json::value* Field(const json::object& event, std::string_view path) {
  const json::object* obj = &event;
  while (true) {
    const size_t dot = path.find('.');
    const json::value* v = obj->if_contains(path.substr(0, dot));
    if (!v || dot == std::string_view::npos) return v;
    if (!v->is_object()) return nullptr;
    obj = &v->as_object();
    path.remove_prefix(dot + 1);
  }
}

std::string Str(const json::object& event, std::string_view path) {
  const json::value* v = Field(event, path);
  if (!v) return "<absent>";
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

int64_t Int(const json::object& event, std::string_view path) {
  const json::value* v = Field(event, path);
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return -1;
}

}  // namespace seccloud::integration
