// R24: services drop root after binding; the supervisor's Spawn reports what went wrong.
#include "core/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace seccloud {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(DropPrivilegesTest, SwitchesToTheUserForGood) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CI runs as root)";
  struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const uid_t uid = nobody->pw_uid;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!DropPrivileges("nobody")) _exit(10);
    if (getuid() != uid || geteuid() != uid) _exit(11);
    if (setuid(0) == 0) _exit(12);  // must not be able to come back
    if (getgroups(0, nullptr) > 1) _exit(13);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(DropPrivilegesTest, UnknownUserIsAnError) {
  auto st = DropPrivileges("no-such-user-seccloud");
  ASSERT_FALSE(st);
  EXPECT_THAT(st.error().message, HasSubstr("no such user \"no-such-user-seccloud\""));
}

TEST(SpawnTest, RunsInItsOwnProcessGroupWithOutputRedirected) {
  fs::path dir = fs::temp_directory_path() / ("seccloud-spawn-" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto pid =
      Spawn(SpawnOptions{{"sh", "-c", "echo \"$GREETING $(pwd) $(cut -d' ' -f5 /proc/$$/stat)\""},
                         {{"GREETING", "hello"}},
                         dir,
                         dir / "out.log"});
  ASSERT_TRUE(pid) << pid.error().ToString();
  int status = 0;
  waitpid(*pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::ifstream in(dir / "out.log");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "hello " + dir.string() + " " + std::to_string(*pid));
  fs::remove_all(dir);
}

TEST(SpawnTest, ExecFailureIsReportedNotHidden) {
  auto pid = Spawn(SpawnOptions{{"/nonexistent/seccloud-program"}, {}, {}, {}});
  ASSERT_FALSE(pid);
  EXPECT_THAT(pid.error().message,
              HasSubstr("cannot execute /nonexistent/seccloud-program: No such file or directory"));
  auto bad_dir = Spawn(SpawnOptions{{"true"}, {}, "/nonexistent/dir", {}});
  ASSERT_FALSE(bad_dir);
  EXPECT_THAT(bad_dir.error().message, HasSubstr("cannot enter /nonexistent/dir"));
}

// R18: a store of five years keeps ~16,000 partition files open; a 1,024 soft limit must not
// stop it. In a child, so the test process keeps its own limits.
TEST(RaiseOpenFileLimitTest, SoftLimitRisesToTheHardLimit) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    rlimit lim{256, 4096};
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) _exit(10);
    auto raised = RaiseOpenFileLimit();
    if (!raised || *raised != 4096) _exit(11);
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur != 4096) _exit(12);
    for (int i = 0; i < 1000; ++i)  // past the old soft limit
      if (::dup(0) < 0) _exit(13);
    auto again = RaiseOpenFileLimit();  // already at the hard limit: nothing to do
    _exit(again && *again == 4096 ? 0 : 14);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace seccloud
