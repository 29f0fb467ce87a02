// Sysmon for Linux (issue 5, R18/R19): Microsoft's SysmonForLinux writes each event to syslog
// (program "sysmon") as one XML <Event> — a <System> element (Provider, EventID, TimeCreated,
// Channel, Computer, …) and <EventData> of <Data Name="…">value</Data> items. This is a small,
// bounded reader for exactly that shape: elements, attributes, text, the five predefined entities
// and numeric character references. Comments, CDATA, processing instructions, DOCTYPE or any other
// entity are refused (the message then stays the syslog record it was, with a note).
#include <string>
#include <vector>

#include "soc/parse_internal.h"

namespace seccloud::soc::internal {
namespace {

constexpr int kMaxSysmonDepth = 4;          // Event > System|EventData > Data|… (> none)
constexpr size_t kMaxSysmonElements = 256;  // elements of one event (Sysmon's have ~40)
constexpr size_t kMaxSysmonAttributes = 8;  // attributes of one element
constexpr size_t kMaxSysmonNameBytes = 64;  // an element's, an attribute's or a Data item's name

struct XmlAttribute {
  std::string_view name;
  std::string value;
};

struct XmlElement {
  std::string_view name;
  std::vector<XmlAttribute> attributes;
  std::string text;  // its character data, entities resolved (child elements' not included)
  int depth = 0;
  int parent = -1;
};

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class SysmonXmlReader {
 public:
  explicit SysmonXmlReader(std::string_view s) : s_(s) {}

  // The elements in document order; false with error() on anything outside the shape.
  bool Read(std::vector<XmlElement>* out) {
    out_ = out;
    SkipBlanks();
    if (!Element(0, -1)) return false;
    SkipBlanks();
    if (p_ != s_.size()) return Fail("text after the closing </Event>");
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string what) {
    error_ = what + " at byte " + std::to_string(p_);
    return false;
  }
  void SkipBlanks() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r'))
      ++p_;
  }
  std::string_view Name() {
    const size_t start = p_;
    while (p_ < s_.size() && IsNameChar(s_[p_])) ++p_;
    return s_.substr(start, p_ - start);
  }
  // Text up to `stop` (not consumed: a quote in an attribute value, '<' in content), entities
  // resolved; '<' inside an attribute value is refused.
  bool Chars(char stop, std::string* out) {
    while (p_ < s_.size() && s_[p_] != stop) {
      const char c = s_[p_];
      if (c == '<') return Fail("'<' inside an attribute value");
      if (c != '&') {
        out->push_back(c);
        ++p_;
        continue;
      }
      const size_t semi = s_.find(';', p_);
      if (semi == std::string_view::npos || semi - p_ > 12) return Fail("an unterminated entity");
      const std::string_view ent = s_.substr(p_ + 1, semi - p_ - 1);
      if (ent == "lt") {
        out->push_back('<');
      } else if (ent == "gt") {
        out->push_back('>');
      } else if (ent == "amp") {
        out->push_back('&');
      } else if (ent == "quot") {
        out->push_back('"');
      } else if (ent == "apos") {
        out->push_back('\'');
      } else if (ent.size() >= 2 && ent[0] == '#') {
        const bool hex = ent[1] == 'x';
        const std::string_view digits = ent.substr(hex ? 2 : 1);
        if (digits.empty() || digits.size() > 8) return Fail("a malformed character reference");
        uint32_t cp = 0;
        for (const char d : digits) {
          int v = -1;
          if (d >= '0' && d <= '9') v = d - '0';
          if (hex && d >= 'a' && d <= 'f') v = d - 'a' + 10;
          if (hex && d >= 'A' && d <= 'F') v = d - 'A' + 10;
          if (v < 0) return Fail("a malformed character reference");
          cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
        }
        if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          return Fail("a character reference to no character");
        }
        AppendUtf8(cp, out);
      } else {
        return Fail("an entity other than &lt; &gt; &amp; &quot; &apos; or &#…;");
      }
      p_ = semi + 1;
    }
    return true;
  }
  bool Element(int depth, int parent) {
    if (depth >= kMaxSysmonDepth)
      return Fail("elements nested deeper than " + std::to_string(kMaxSysmonDepth));
    if (out_->size() >= kMaxSysmonElements) {
      return Fail("more than " + std::to_string(kMaxSysmonElements) + " elements");
    }
    if (p_ >= s_.size() || s_[p_] != '<') return Fail("expected '<'");
    ++p_;
    const std::string_view name = Name();
    if (name.empty() || name.size() > kMaxSysmonNameBytes) {
      return Fail("expected an element name of 1 to 64 name characters");
    }
    const int index = static_cast<int>(out_->size());
    XmlElement& e = out_->emplace_back();
    e.name = name;
    e.depth = depth;
    e.parent = parent;
    while (true) {
      SkipBlanks();
      if (p_ >= s_.size()) return Fail("an unterminated start tag <" + std::string(name) + ">");
      if (s_[p_] == '/') {
        if (p_ + 1 >= s_.size() || s_[p_ + 1] != '>') return Fail("expected '/>'");
        p_ += 2;
        return true;
      }
      if (s_[p_] == '>') {
        ++p_;
        break;
      }
      const std::string_view attr = Name();
      if (attr.empty() || attr.size() > kMaxSysmonNameBytes) {
        return Fail("expected an attribute name");
      }
      if (p_ + 1 >= s_.size() || s_[p_] != '=' || (s_[p_ + 1] != '"' && s_[p_ + 1] != '\'')) {
        return Fail("expected =\"value\" after attribute " + std::string(attr));
      }
      const char quote = s_[p_ + 1];
      p_ += 2;
      XmlAttribute a;
      a.name = attr;
      if (!Chars(quote, &a.value)) return false;
      if (p_ >= s_.size()) return Fail("an unterminated attribute value");
      ++p_;
      auto& attrs = (*out_)[static_cast<size_t>(index)].attributes;
      if (attrs.size() >= kMaxSysmonAttributes) return Fail("too many attributes");
      attrs.push_back(std::move(a));
    }
    // Content: text and child elements, up to the matching end tag.
    std::string text;
    while (true) {
      if (!Chars('<', &text)) return false;
      if (p_ >= s_.size()) return Fail("no end tag </" + std::string(name) + ">");
      if (p_ + 1 < s_.size() && s_[p_ + 1] == '/') {
        p_ += 2;
        if (Name() != name || p_ >= s_.size() || s_[p_] != '>') {
          return Fail("expected </" + std::string(name) + ">");
        }
        ++p_;
        (*out_)[static_cast<size_t>(index)].text = std::move(text);
        return true;
      }
      if (p_ + 1 < s_.size() && (s_[p_ + 1] == '!' || s_[p_ + 1] == '?')) {
        return Fail("a comment, CDATA section or processing instruction");
      }
      if (!Element(depth + 1, index)) return false;
    }
  }

  std::string_view s_;
  size_t p_ = 0;
  std::vector<XmlElement>* out_ = nullptr;
  std::string error_;
};

const XmlAttribute* Attribute(const XmlElement& e, std::string_view name) {
  for (const auto& a : e.attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

// A Data item's name as a path segment: non-empty name characters without '.'.
bool IsItemName(std::string_view n) {
  if (n.empty() || n.size() > kMaxSysmonNameBytes) return false;
  for (const char c : n) {
    if (!IsNameChar(c) || c == '.' || c == ':') return false;
  }
  return true;
}

// ECS beside the EventData items, as the Windows Sysmon events get them (winlog.cc).
struct EcsItem {
  const char* item;
  const char* path;
  bool ip = false;
  bool port = false;
};
constexpr EcsItem kEcsItems[] = {
    {"Image", "process.executable"},
    {"CommandLine", "process.command_line"},
    {"CurrentDirectory", "process.working_directory"},
    {"ParentImage", "process.parent.executable"},
    {"ParentCommandLine", "process.parent.command_line"},
    {"User", "user.name"},
    {"TargetFilename", "file.path"},
    {"SourceIp", "source.ip", true},
    {"SourcePort", "source.port", false, true},
    {"DestinationIp", "destination.ip", true},
    {"DestinationPort", "destination.port", false, true},
    {"DestinationHostname", "destination.domain"},
    {"Protocol", "network.transport"},
};

}  // namespace

bool LooksLikeSysmonEvent(std::string_view msg) {
  return msg.substr(0, 7) == "<Event>" || msg.substr(0, 7) == "<Event ";
}

bool ParseSysmonEvent(std::string_view msg, Parsed& out, std::string* note) {
  std::vector<XmlElement> elements;
  SysmonXmlReader reader(msg);
  if (!reader.Read(&elements)) {
    *note = "Sysmon for Linux event not read: " + reader.error();
    return false;
  }
  if (elements.empty() || elements[0].name != "Event") {
    *note = "Sysmon for Linux event not read: the root element is not <Event>";
    return false;
  }
  // The System children and the EventData items, by the element they are in.
  int64_t event_id = -1;
  std::string_view channel, computer, provider, time_created;
  for (const XmlElement& e : elements) {
    if (e.depth != 2 || e.parent < 0 || elements[static_cast<size_t>(e.parent)].name != "System") {
      continue;
    }
    if (e.name == "EventID") {
      if (!ParseUint(e.text, &event_id) || event_id > 65535) event_id = -1;
    } else if (e.name == "Channel") {
      channel = e.text;
    } else if (e.name == "Computer") {
      computer = e.text;
    } else if (e.name == "Provider") {
      if (const auto* a = Attribute(e, "Name")) provider = a->value;
    } else if (e.name == "TimeCreated") {
      if (const auto* a = Attribute(e, "SystemTime")) time_created = a->value;
    }
  }
  if (event_id < 0) {
    *note = "Sysmon for Linux event not read: no <System><EventID> of 0 to 65535";
    return false;
  }
  boost::json::object& f = out.sink.Tree();
  PutInt(f, "winlog.event_id", event_id);
  PutString(f, "event.code", std::to_string(event_id));
  if (!channel.empty()) PutString(f, "winlog.channel", channel);
  if (!provider.empty()) PutString(f, "winlog.provider_name", provider);
  if (!computer.empty()) {
    PutString(f, "winlog.computer_name", computer);
    PutString(f, "host.hostname", computer);
  }
  int64_t t;
  size_t used = 0;
  if (!time_created.empty() && ParseIsoPrefix(time_created, &used, &t) &&
      used == time_created.size()) {
    out.time_ms = t;
  }
  std::string path = "winlog.event_data.";
  for (const XmlElement& e : elements) {
    if (e.depth != 2 || e.name != "Data" || e.parent < 0 ||
        elements[static_cast<size_t>(e.parent)].name != "EventData") {
      continue;
    }
    const XmlAttribute* name = Attribute(e, "Name");
    if (name == nullptr || !IsItemName(name->value)) continue;
    path.resize(18);
    path += name->value;
    if (FindField(f, path) != nullptr) continue;  // the first of a repeated name
    PutString(f, path, e.text);
    for (const EcsItem& m : kEcsItems) {
      if (name->value != m.item) continue;
      if (m.ip) {
        PutIp(f, m.path, e.text);
      } else if (m.port) {
        PutPort(f, m.path, e.text);
      } else {
        PutString(f, m.path, e.text);
      }
    }
    if (name->value == "Image") {
      const size_t slash = e.text.rfind('/');
      PutString(f, "process.name", slash == std::string::npos ? e.text : e.text.substr(slash + 1));
    }
    if (name->value == "ProcessId" || name->value == "ParentProcessId") {
      int64_t pid;
      if (ParseUint(e.text, &pid)) {
        PutInt(f, name->value == "ProcessId" ? "process.pid" : "process.parent.pid", pid);
      }
    }
  }
  PutString(f, "event.dataset", "linux.sysmon");
  return true;
}

}  // namespace seccloud::soc::internal
