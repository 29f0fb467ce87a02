#include "core/config.h"

#include <algorithm>
#include <tuple>

#include "core/config_parser.h"

namespace seccloud {
namespace {

namespace fs = std::filesystem;
using config_internal::ConfigParser;
using config_internal::Located;
using config_internal::SourceFile;

ConfigResult Finish(ConfigParser& parser, std::optional<Located> root, fs::path source) {
  auto cfg = std::make_shared<Config>();
  cfg->source = std::move(source);
  if (root) parser.ParseRoot(*root, *cfg);
  if (root) parser.CheckProxyScan(*cfg);
  if (!parser.has_errors()) parser.BuildRegistry(*cfg);
  if (!parser.has_errors()) parser.CheckDirectories(*cfg);
  if (parser.has_errors()) {
    // In document order, so a long list reads top to bottom; errors without a place first.
    std::vector<ConfigError> errors = parser.TakeErrors();
    std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
      return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
    });
    return ConfigErrors{std::move(errors)};
  }
  return std::shared_ptr<const Config>(std::move(cfg));
}

}  // namespace

std::string ConfigError::ToString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!path.empty()) out += path + ": ";
  return out + message;
}

std::string ConfigErrors::ToString() const {
  std::string out;
  for (const auto& e : errors) out += e.ToString() + "\n";
  return out;
}

void throw_exception_from_error(const ConfigErrors& e, const boost::source_location&) {
  throw std::runtime_error(e.ToString());
}

ConfigResult LoadConfig(const fs::path& path, const LoadOptions& options) {
  ConfigParser parser(options);
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec).lexically_normal();
  parser.set_root_file(path.string());
  auto root = parser.ParseFile(absolute, path.string(), {path.string(), 0, 0}, "");
  return Finish(parser, std::move(root), absolute);
}

ConfigResult LoadConfigFromString(const std::string& yaml, const std::string& display_name,
                                  const fs::path& base_dir, const LoadOptions& options) {
  ConfigParser parser(options);
  parser.set_root_file(display_name);
  auto f = std::make_shared<SourceFile>();
  f->display = display_name;
  f->dir = base_dir;
  auto root = parser.ParseText(yaml, std::move(f));
  return Finish(parser, std::move(root), base_dir / display_name);
}

}  // namespace seccloud
