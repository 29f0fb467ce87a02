#include "proxy/block_page.h"

namespace seccloud::proxy {

std::string HtmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t')
          out += ' ';
        else
          out += c;
    }
  }
  return out;
}

namespace {

std::string Row(std::string_view label, std::string_view value, bool code = false) {
  if (value.empty()) return {};
  std::string v = HtmlEscape(value);
  if (code) v = "<code>" + v + "</code>";
  return "<tr><th>" + std::string(label) + "</th><td>" + v + "</td></tr>\n";
}

std::string Section(const PageInfo& i, bool ja) {
  std::string s = "<section lang=\"" + std::string(ja ? "ja" : "en") + "\">\n<h1>" +
                  HtmlEscape(ja ? i.title_ja : i.title_en) + "</h1>\n";
  if (i.kind == PageInfo::Kind::kBlocked)
    s += ja ? "<p>このページへのアクセスは、セキュリティポリシーによりブロックされました。</p>\n"
            : "<p>Access to this page was blocked by the security policy.</p>\n";
  else if (i.kind == PageInfo::Kind::kWarning)
    s += ja ? "<p>"
              "このページは注意が必要なサイトに分類されています。業務に必要な場合のみ続行してくださ"
              "い。</p>\n"
            : "<p>This page is in a category that needs care. Continue only if your work "
              "requires it.</p>\n";
  else
    s += ja ? "<p>要求されたページを安全に取得できなかったため、表示していません。</p>\n"
            : "<p>The requested page could not be retrieved safely, so it is not shown.</p>\n";
  s += "<table>\n";
  s += Row(ja ? "URL" : "URL", i.url, true);
  s += Row(ja ? "理由" : "Reason", i.reason);
  s += Row(ja ? "カテゴリ" : "Category", i.category);
  s += Row(ja ? "判定した層" : "Deciding layer", i.layer);
  s += Row(ja ? "規則" : "Rule", i.rule, true);
  s += Row(ja ? "参照番号" : "Reference id", i.reference_id, true);
  s += "</table>\n";
  if (i.kind == PageInfo::Kind::kWarning && !i.continue_url.empty())
    s += "<p><a class=\"continue\" href=\"" + HtmlEscape(i.continue_url) + "\">" +
         (ja ? "理解した上で続行する" : "I understand; continue") + "</a></p>\n";
  if (i.tenant && !i.tenant->contacts.empty()) {
    s += ja ? "<p>お問い合わせの際は参照番号をお伝えください。</p>\n<ul>\n"
            : "<p>When you ask about this page, quote the reference id.</p>\n<ul>\n";
    for (const Contact& c : i.tenant->contacts) {
      std::string line = HtmlEscape(c.name);
      if (!c.role.empty()) line += " (" + HtmlEscape(c.role) + ")";
      if (!c.email.empty()) line += " — " + HtmlEscape(c.email);
      if (!c.phone.empty()) line += " — " + HtmlEscape(c.phone);
      s += "<li>" + line + "</li>\n";
    }
    s += "</ul>\n";
  }
  return s + "</section>\n";
}

}  // namespace

std::string RenderPage(const PageInfo& i) {
  const bool ja_first = i.first_language != "en";
  std::string html =
      "<!doctype html>\n<html lang=\"" + std::string(ja_first ? "ja" : "en") +
      "\">\n<head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">"
      "<title>" +
      HtmlEscape(ja_first ? i.title_ja : i.title_en) +
      "</title>\n<style>body{font-family:sans-serif;max-width:46em;margin:2em auto;padding:0 1em}"
      "th{text-align:left;padding-right:1em;vertical-align:top}section{margin-bottom:2em}"
      "code{word-break:break-all}</style></head>\n<body>\n";
  html += Section(i, ja_first);
  html += "<hr>\n";
  html += Section(i, !ja_first);
  html += "<footer><small>seccloud</small></footer>\n</body>\n</html>\n";
  return html;
}

}  // namespace seccloud::proxy
