#include "proxy/upload_scan.h"

#include <algorithm>
#include <cctype>

namespace seccloud::proxy {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The value of parameter `key` (lower-case) in "type; a=b; c=\"d\"", unquoted (a backslash
// escapes the next character inside quotes); nullopt when absent. A quoted value may contain ';'.
std::optional<std::string> Parameter(std::string_view field, std::string_view key) {
  size_t i = field.find(';');
  while (i != std::string_view::npos && i < field.size()) {
    ++i;
    while (i < field.size() && (field[i] == ' ' || field[i] == '\t')) ++i;
    const size_t eq = field.find_first_of("=;", i);
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string name = Lower(Trim(field.substr(i, eq - i)));
    if (field[eq] == ';') {  // a parameter without a value
      i = eq;
      continue;
    }
    std::string value;
    size_t j = eq + 1;
    while (j < field.size() && (field[j] == ' ' || field[j] == '\t')) ++j;
    if (j < field.size() && field[j] == '"') {
      for (++j; j < field.size() && field[j] != '"'; ++j) {
        if (field[j] == '\\' && j + 1 < field.size()) ++j;
        value += field[j];
      }
      i = field.find(';', j);
    } else {
      const size_t end = field.find(';', j);
      value = std::string(Trim(field.substr(j, end == std::string_view::npos ? end : end - j)));
      i = end;
    }
    if (name == key) return value;
  }
  return std::nullopt;
}

// RFC 2046 §5.1.1 bchars, without the space (which may not end a boundary and browsers never
// use): a boundary made of these cannot smuggle a delimiter match of its own.
bool BoundaryChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("'()+_,-./:=?").find(c) != std::string_view::npos;
}

}  // namespace

std::string ScanBypassNote(const ProxyScanConfig& sc, std::string_view content_type,
                           std::string_view host) {
  const std::string type = Lower(content_type.substr(0, 128));
  for (const std::string& prefix : sc.bypass_content_types)
    if (type.starts_with(prefix)) return "bypassed: media type " + prefix;
  for (const std::string& d : sc.bypass_domains)
    if (host == d ||
        (host.size() > d.size() && host.ends_with(d) && host[host.size() - d.size() - 1] == '.'))
      return "bypassed: domain " + d;
  return "";
}

std::string UploadTooLargeNote(const ProxyScanConfig& sc) {
  return "larger than proxy.scan.max_size (" + std::to_string(sc.max_size) + " bytes)";
}

UploadScanPlan PlanUploadScan(const ProxyScanConfig& sc, std::string_view content_type,
                              std::string_view host, std::optional<uint64_t> content_length) {
  UploadScanPlan plan;
  if (std::string note = ScanBypassNote(sc, content_type, host); !note.empty()) {
    plan.action = UploadScanAction::kBypassed;
    plan.note = std::move(note);
  } else if (content_length && *content_length > sc.max_size) {
    plan.action = UploadScanAction::kTooLarge;
    plan.note = UploadTooLargeNote(sc);
  }
  return plan;
}

std::optional<std::string> FormBoundary(std::string_view content_type) {
  content_type = content_type.substr(0, 1024);
  const std::string type = Lower(Trim(content_type.substr(0, content_type.find(';'))));
  if (type != "multipart/form-data") return std::nullopt;
  auto b = Parameter(content_type, "boundary");
  if (!b || b->empty() || b->size() > 70 || !std::all_of(b->begin(), b->end(), BoundaryChar))
    return std::nullopt;
  return b;
}

Result<std::vector<FormPart>> SplitForm(std::string_view body, std::string_view boundary,
                                        const FormLimits& limits) {
  const std::string dash = "--" + std::string(boundary);
  const std::string delimiter = "\r\n" + dash;
  size_t pos;
  if (body.starts_with(dash)) {
    pos = 0;
  } else {
    const size_t at = body.find(delimiter);
    if (at == std::string_view::npos)
      return MakeError(Errc::kInvalidArgument, "the form body has no boundary delimiter");
    pos = at + 2;  // past the CRLF of the preamble
  }
  std::vector<FormPart> parts;
  while (true) {
    size_t i = pos + dash.size();
    if (body.substr(i, 2) == "--") return parts;  // the close delimiter; the epilogue is ignored
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;  // transport padding
    if (body.substr(i, 2) != "\r\n")
      return MakeError(
          Errc::kInvalidArgument,
          "a boundary delimiter at byte " + std::to_string(pos) + " is not followed by CRLF");
    i += 2;
    if (parts.size() >= limits.max_parts)
      return MakeError(Errc::kInvalidArgument,
                       "the form has more than " + std::to_string(limits.max_parts) + " parts");
    // The part's header fields, up to the blank line (a part may have none).
    std::string_view header;
    size_t content_start;
    if (body.substr(i, 2) == "\r\n") {
      content_start = i + 2;
    } else {
      const size_t end = body.substr(i, limits.max_part_header_bytes + 4).find("\r\n\r\n");
      if (end == std::string_view::npos)
        return MakeError(Errc::kInvalidArgument,
                         "the header of part " + std::to_string(parts.size() + 1) +
                             " has no end within " + std::to_string(limits.max_part_header_bytes) +
                             " bytes");
      header = body.substr(i, end + 2);
      content_start = i + end + 4;
    }
    const size_t content_end = body.find(delimiter, content_start);
    if (content_end == std::string_view::npos)
      return MakeError(Errc::kInvalidArgument, "the form body ends inside part " +
                                                   std::to_string(parts.size() + 1) +
                                                   " (no closing boundary)");
    FormPart part;
    part.content = body.substr(content_start, content_end - content_start);
    // Content-Disposition: form-data; name="field"; filename="a.exe"
    for (size_t line = 0; line < header.size();) {
      const size_t eol = header.find("\r\n", line);
      const std::string_view field = header.substr(line, eol - line);
      line = eol + 2;
      const size_t colon = field.find(':');
      if (colon == std::string_view::npos) continue;
      if (Lower(Trim(field.substr(0, colon))) != "content-disposition") continue;
      const std::string_view value = field.substr(colon + 1);
      if (auto n = Parameter(value, "name")) part.name = n->substr(0, 1024);
      if (auto f = Parameter(value, "filename")) part.file_name = f->substr(0, 1024);
    }
    parts.push_back(std::move(part));
    pos = content_end + 2;
  }
}

}  // namespace seccloud::proxy
