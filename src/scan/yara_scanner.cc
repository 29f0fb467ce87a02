// The libyara backend: rules compiled once into an immutable YR_RULES; each scan creates its own
// YR_SCANNER (scanners are per-thread in libyara; the rules are shared).
#include <yara.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <set>

#include "scan/internal.h"
#include "scan/scanner.h"

namespace seccloud::scan {
namespace {

constexpr size_t kMaxFailuresReported = 50;
constexpr size_t kMaxRuleFiles = 20'000;
constexpr size_t kMaxMatches = 64;
constexpr int kScanTimeoutSeconds = 60;
// The external variables signature-base (THOR's rule set) expects.
constexpr const char* kExternals[] = {"filename", "filepath", "extension", "filetype", "owner"};

Status InitYara() {
  static std::once_flag once;
  static int rc = ERROR_SUCCESS;
  std::call_once(once, [] { rc = yr_initialize(); });
  if (rc != ERROR_SUCCESS)
    return MakeError(Errc::kInternal, "yr_initialize failed with " + std::to_string(rc));
  return {};
}

struct CompileErrors {
  std::vector<std::string> messages;
};

void OnCompileMessage(int level, const char* file, int line, const YR_RULE*, const char* message,
                      void* user) {
  if (level != YARA_ERROR_LEVEL_ERROR) return;
  auto* e = static_cast<CompileErrors*>(user);
  if (e->messages.size() < 4)
    e->messages.push_back(std::string(file ? file : "?") + ":" + std::to_string(line) + ": " +
                          (message ? message : ""));
}

struct CompilerDeleter {
  void operator()(YR_COMPILER* c) const { yr_compiler_destroy(c); }
};
using CompilerPtr = std::unique_ptr<YR_COMPILER, CompilerDeleter>;
struct RulesDeleter {
  void operator()(YR_RULES* r) const { yr_rules_destroy(r); }
};

seccloud::Result<CompilerPtr> NewCompiler(CompileErrors* errors) {
  YR_COMPILER* c = nullptr;
  if (yr_compiler_create(&c) != ERROR_SUCCESS)
    return MakeError(Errc::kResourceExhausted, "yr_compiler_create failed");
  CompilerPtr compiler(c);
  for (const char* name : kExternals)
    if (yr_compiler_define_string_variable(c, name, "") != ERROR_SUCCESS)
      return MakeError(Errc::kInternal, std::string("cannot define YARA external ") + name);
  yr_compiler_set_callback(c, OnCompileMessage, errors);
  return compiler;
}

// Adds one rule file in its own namespace (rule names repeat across files of large sets).
// Returns the number of errors.
int AddFile(YR_COMPILER* c, const fs::path& file) {
  FILE* f = std::fopen(file.c_str(), "r");
  if (f == nullptr) return 1;
  const std::string ns = file.filename().string();
  const int errors = yr_compiler_add_file(c, f, ns.c_str(), file.c_str());
  std::fclose(f);
  return errors;
}

std::vector<fs::path> RuleFiles(const std::vector<fs::path>& sources) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const fs::path& s : sources) {
    if (fs::is_regular_file(s, ec)) {
      files.push_back(s);
      continue;
    }
    for (auto it = fs::recursive_directory_iterator(s, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (it.depth() > 8) it.disable_recursion_pending();
      if (!it->is_regular_file(ec)) continue;
      const std::string ext = internal::LowerExtension(it->path().filename().string());
      if (ext == "yar" || ext == "yara") files.push_back(it->path());
      if (files.size() >= kMaxRuleFiles) break;
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string FileType(std::span<const uint8_t> d) {
  auto starts = [&](std::string_view m) {
    return d.size() >= m.size() && std::equal(m.begin(), m.end(), d.begin(), [](char a, uint8_t b) {
             return static_cast<uint8_t>(a) == b;
           });
  };
  if (starts("MZ")) return "EXE";
  if (starts("\x7f"
             "ELF"))
    return "ELF";
  if (starts("PK\x03\x04")) return "ZIP";
  if (starts("%PDF")) return "PDF";
  if (starts("\xd0\xcf\x11\xe0")) return "OLE";
  return "";
}

struct MatchState {
  std::vector<std::string> rules;
};

int OnScan(YR_SCAN_CONTEXT*, int message, void* data, void* user) {
  if (message == CALLBACK_MSG_RULE_MATCHING) {
    auto* m = static_cast<MatchState*>(user);
    const auto* rule = static_cast<const YR_RULE*>(data);
    m->rules.emplace_back(rule->identifier);
    if (m->rules.size() >= kMaxMatches) return CALLBACK_ABORT;
  }
  return CALLBACK_CONTINUE;
}

class YaraScanner final : public Scanner {
 public:
  YaraScanner(YR_RULES* rules, std::string version) : rules_(rules), version_(std::move(version)) {}

  seccloud::Result<Verdict> ScanBuffer(std::span<const uint8_t> data,
                                       const ScanContext& context) const override {
    Verdict v;
    v.engine = "yara";
    v.db_version = db_version();
    YR_SCANNER* s = nullptr;
    if (yr_scanner_create(rules_.get(), &s) != ERROR_SUCCESS)
      return MakeError(Errc::kResourceExhausted, "yr_scanner_create failed");
    std::unique_ptr<YR_SCANNER, void (*)(YR_SCANNER*)> scanner(s, yr_scanner_destroy);
    const std::string path = internal::ClipName(context.file_name);
    const std::string name = fs::path(path).filename().string();
    yr_scanner_define_string_variable(s, "filename", name.c_str());
    yr_scanner_define_string_variable(s, "filepath", path.c_str());
    const std::string ext = internal::LowerExtension(name);
    yr_scanner_define_string_variable(s, "extension", ext.empty() ? "" : ("." + ext).c_str());
    yr_scanner_define_string_variable(s, "filetype", FileType(data).c_str());
    yr_scanner_define_string_variable(s, "owner", "");
    MatchState matches;
    yr_scanner_set_callback(s, OnScan, &matches);
    yr_scanner_set_timeout(s, kScanTimeoutSeconds);
    yr_scanner_set_flags(s, SCAN_FLAGS_FAST_MODE);
    const int rc = yr_scanner_scan_mem(s, data.data(), data.size());
    if (!matches.rules.empty()) {
      v.result = Verdict::kInfected;
      v.action = "block";
      v.signatures = std::move(matches.rules);
      return v;
    }
    if (rc != ERROR_SUCCESS) {
      v.result = Verdict::kError;
      v.action = "block";
      v.error = rc == ERROR_SCAN_TIMEOUT ? "YARA scan timed out"
                                         : "YARA scan failed with error " + std::to_string(rc);
    }
    return v;
  }

  seccloud::Result<Verdict> ScanFile(const fs::path& path,
                                     const ScanContext& context) const override {
    auto mapped = internal::MappedFile::Open(path);
    if (!mapped) return internal::UnreadableVerdict("yara", db_version(), mapped.error().message);
    ScanContext c = context;
    if (c.file_name.empty()) c.file_name = path.string();
    return ScanBuffer(mapped->bytes(), c);
  }

  std::string db_version() const override { return "yara:" + version_; }

 private:
  std::unique_ptr<YR_RULES, RulesDeleter> rules_;
  std::string version_;
};

}  // namespace

seccloud::Result<std::unique_ptr<Scanner>> CreateYaraScanner(const std::vector<fs::path>& sources,
                                                             YaraLoadInfo* info) {
  RETURN_IF_ERROR(InitYara());
  YaraLoadInfo local;
  YaraLoadInfo& out = info != nullptr ? *info : local;
  out = YaraLoadInfo{};
  ASSIGN_OR_RETURN(std::string fingerprint, SourceFingerprint(sources, {"yar", "yara"}));
  out.version = "local-" + fingerprint;
  const std::vector<fs::path> files = RuleFiles(sources);
  if (files.empty()) return MakeError(Errc::kNotFound, "no YARA rule files (*.yar, *.yara) found");

  // A file that fails poisons a libyara compiler, so each file is first compiled alone; the
  // files that compile are then compiled together.
  std::vector<fs::path> good;
  std::error_code ec;
  for (const fs::path& f : files) {
    CompileErrors errors;
    ASSIGN_OR_RETURN(CompilerPtr c, NewCompiler(&errors));
    if (AddFile(c.get(), f) == 0) {
      good.push_back(f);
      auto t = fs::last_write_time(f, ec);
      if (!ec) out.newest = std::max(out.newest, internal::ToSystemTime(t));
    } else {
      ++out.files_failed;
      if (out.failures.size() < kMaxFailuresReported)
        out.failures.push_back(errors.messages.empty() ? f.string() + ": cannot be read"
                                                       : errors.messages.front());
    }
  }
  if (good.empty())
    return MakeError(Errc::kInvalidArgument,
                     "none of " + std::to_string(files.size()) + " YARA rule files compiles" +
                         (out.failures.empty() ? "" : ": " + out.failures.front()));
  CompileErrors errors;
  ASSIGN_OR_RETURN(CompilerPtr c, NewCompiler(&errors));
  for (const fs::path& f : good) {
    if (AddFile(c.get(), f) != 0)
      return MakeError(Errc::kInvalidArgument,
                       "YARA rules compile alone but not together: " +
                           (errors.messages.empty() ? f.string() : errors.messages.front()));
  }
  YR_RULES* rules = nullptr;
  if (yr_compiler_get_rules(c.get(), &rules) != ERROR_SUCCESS)
    return MakeError(Errc::kResourceExhausted, "yr_compiler_get_rules failed");
  out.files_loaded = static_cast<unsigned>(good.size());
  YR_RULE* rule = nullptr;
  unsigned count = 0;
  yr_rules_foreach(rules, rule) { ++count; }
  out.rules = count;
  return std::unique_ptr<Scanner>(std::make_unique<YaraScanner>(rules, out.version));
}

}  // namespace seccloud::scan
