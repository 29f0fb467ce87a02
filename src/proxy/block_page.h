#pragma once
// The pages a terminal sees instead of what it asked for (R10: "a warning page for blocked
// users"): in Japanese and English, naming the reason, category, deciding layer and rule, whom to
// contact at the tenant, and a reference id that is also the event.id of the access-log event, so
// the helpdesk finds the request from a screenshot.

#include <string>
#include <vector>

#include "core/tenant.h"

namespace seccloud::proxy {

struct PageInfo {
  enum class Kind { kBlocked, kWarning, kError };
  Kind kind = Kind::kBlocked;
  int status = 403;
  std::string title_ja, title_en;  // e.g. "アクセスがブロックされました" / "Access blocked"
  std::string reason;              // one sentence (from the verdict)
  std::string url;                 // what was asked for (may be only host:port)
  std::string category;            // may be empty
  std::string layer;               // "force-block", "common", "tenant"
  std::string rule;                // "list: entry"
  std::string reference_id;        // event.id
  std::string continue_url;        // warning pages: where "continue anyway" leads
  const Tenant* tenant = nullptr;  // its contacts are listed
  std::string first_language = "ja";
};

// A complete HTML document; every value is escaped.
std::string RenderPage(const PageInfo& info);

std::string HtmlEscape(std::string_view s);

}  // namespace seccloud::proxy
