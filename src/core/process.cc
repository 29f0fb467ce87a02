#include "core/process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace seccloud {

Status DropPrivileges(const std::string& user) {
  errno = 0;
  struct passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr)
    return MakeError(Errc::kNotFound, "no such user \"" + user + "\" on this machine");
  if (geteuid() != 0) {
    if (geteuid() == pw->pw_uid) return {};
    return MakeError(Errc::kPermissionDenied,
                     "cannot switch to user \"" + user + "\": not running as root");
  }
  if (initgroups(pw->pw_name, pw->pw_gid) != 0) return ErrnoError("initgroups", errno);
  if (setgid(pw->pw_gid) != 0) return ErrnoError("setgid", errno);
  if (setuid(pw->pw_uid) != 0) return ErrnoError("setuid", errno);
  // setuid from root to another user must be irreversible; prove it.
  if (pw->pw_uid != 0 && setuid(0) == 0)
    return MakeError(Errc::kInternal, "still able to regain root after dropping privileges");
  return {};
}

Result<pid_t> Spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty())
    return MakeError(Errc::kInvalidArgument, "nothing to run");
  // Everything the child needs is prepared before fork: after fork only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : options.environment) env[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  const std::string cwd = options.working_dir.string();
  const std::string out = options.output.string();

  int out_fd = -1;
  if (!out.empty()) {
    out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (out_fd < 0) return ErrnoError("cannot open " + out, errno);
  }
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    int err = errno;
    if (out_fd >= 0) close(out_fd);
    return ErrnoError("pipe", err);
  }
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(report[0]);
    close(report[1]);
    if (out_fd >= 0) close(out_fd);
    return ErrnoError("fork", err);
  }
  if (pid == 0) {
    close(report[0]);
    setpgid(0, 0);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
    int stage = 0;
    if (out_fd >= 0 && (dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0))
      stage = 1;
    int devnull = open("/dev/null", O_RDONLY);
    if (stage == 0 && devnull >= 0) dup2(devnull, STDIN_FILENO);
    if (stage == 0 && !cwd.empty() && chdir(cwd.c_str()) != 0) stage = 2;
    if (stage == 0) {
      execvpe(argv[0], argv.data(), envp.data());
      stage = 3;
    }
    int msg[2] = {stage, errno};
    ssize_t ignored = write(report[1], msg, sizeof msg);
    (void)ignored;
    _exit(127);
  }
  close(report[1]);
  if (out_fd >= 0) close(out_fd);
  setpgid(pid, pid);  // also from the parent, so a signal to -pid works as soon as we return
  int msg[2];
  ssize_t n;
  do {
    n = read(report[0], msg, sizeof msg);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == static_cast<ssize_t>(sizeof msg)) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    std::string what = msg[0] == 2   ? "cannot enter " + cwd
                       : msg[0] == 1 ? "cannot redirect output to " + out
                                     : "cannot execute " + options.argv[0];
    return ErrnoError(what, msg[1]);
  }
  return pid;
}

std::filesystem::path SelfExecutable() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : p;
}

Result<uint64_t> RaiseOpenFileLimit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return ErrnoError("getrlimit(RLIMIT_NOFILE)", errno);
  if (lim.rlim_cur != lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0)
      return ErrnoError("raising the open-file limit to " + std::to_string(lim.rlim_max), errno);
  }
  return static_cast<uint64_t>(lim.rlim_cur);
}

}  // namespace seccloud
