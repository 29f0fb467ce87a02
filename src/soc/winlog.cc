#include "soc/winlog.h"

#include <algorithm>
#include <bit>
#include <boost/json.hpp>
#include <charconv>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"  // SanitizeUtf8
#include "core/text.h"
#include "soc/field_tape.h"
#include "soc/parse_internal.h"

namespace seccloud::soc {
namespace {

namespace json = boost::json;
using internal::SinkPath;

// ASCII case folding: Windows' names are ASCII, and std::tolower would consult the C locale.
char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// The text of an element that may carry attributes: "v", 5, or {"#text":"v","#attributes":{…}}.
const json::value* ElementText(const json::value& v) {
  if (const auto* o = v.if_object()) {
    if (const auto* t = o->if_contains("#text")) return t;
    return nullptr;
  }
  return &v;
}

const json::value* Attribute(const json::object& element, std::string_view name) {
  const auto* attrs = element.if_contains("#attributes");
  if (attrs == nullptr || !attrs->is_object()) return nullptr;
  return attrs->as_object().if_contains(name);
}

const json::value* AttributeOf(const json::object& parent, std::string_view element,
                               std::string_view name) {
  const auto* e = parent.if_contains(element);
  if (e == nullptr || !e->is_object()) return nullptr;
  return Attribute(e->as_object(), name);
}

bool ToInt64(const json::value& v, int64_t* out) {
  if (v.is_int64()) {
    *out = v.as_int64();
    return true;
  }
  if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(v.as_uint64());
    return true;
  }
  if (v.is_string()) {
    const auto& s = v.as_string();
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, *out);
    return ec == std::errc() && p == end && !s.empty();
  }
  return false;
}

// The same lookups on the document's tape (the common evtx shape is read without building the
// document's tree). An object's member is the last of duplicate keys, the one Boost's object
// keeps, so each answers as its tree counterpart above does. kNone: no such node.
constexpr size_t kNone = static_cast<size_t>(-1);

size_t TapeMember(TapeSpan t, size_t object, std::string_view key) {
  size_t found = kNone;
  for (size_t i = object + 1; i < t[object].end; i = t[i].end) {
    if (t[i].key() == key) found = i;
  }
  return found;
}

size_t TapeElementText(TapeSpan t, size_t v) {
  return t[v].kind == TapeKind::kObject ? TapeMember(t, v, "#text") : v;
}

// The attribute `name` of the element at `element` (kNone: no element), as Attribute does.
size_t TapeAttribute(TapeSpan t, size_t element, std::string_view name) {
  if (element == kNone || t[element].kind != TapeKind::kObject) return kNone;
  const size_t attrs = TapeMember(t, element, "#attributes");
  if (attrs == kNone || t[attrs].kind != TapeKind::kObject) return kNone;
  return TapeMember(t, attrs, name);
}

// The members of Event.System the mapping reads, found in one pass (TapeMember per name scanned
// System a dozen times): each the last of its duplicates, as TapeMember answers.
struct SystemMembers {
  size_t event_id = kNone, channel = kNone, provider = kNone, record_id = kNone, computer = kNone,
         version = kNone, level = kNone, task = kNone, opcode = kNone, keywords = kNone,
         execution = kNone, security = kNone, time_created = kNone;
};

SystemMembers ReadSystem(TapeSpan t, size_t sys) {
  static constexpr std::pair<std::string_view, size_t SystemMembers::*> kNames[] = {
      {"EventID", &SystemMembers::event_id},
      {"Channel", &SystemMembers::channel},
      {"Provider", &SystemMembers::provider},
      {"EventRecordID", &SystemMembers::record_id},
      {"Computer", &SystemMembers::computer},
      {"Version", &SystemMembers::version},
      {"Level", &SystemMembers::level},
      {"Task", &SystemMembers::task},
      {"Opcode", &SystemMembers::opcode},
      {"Keywords", &SystemMembers::keywords},
      {"Execution", &SystemMembers::execution},
      {"Security", &SystemMembers::security},
      {"TimeCreated", &SystemMembers::time_created}};
  SystemMembers m;
  for (size_t i = sys + 1; i < t[sys].end; i = t[i].end) {
    const std::string_view key = t[i].key();
    for (const auto& [name, slot] : kNames) {
      if (key == name) {
        m.*slot = i;
        break;
      }
    }
  }
  return m;
}

bool TapeToInt64(const TapeNode& n, int64_t* out) {
  switch (n.kind) {
    case TapeKind::kInt64:
      *out = n.i64;
      return true;
    case TapeKind::kUint64:
      if (n.u64 > static_cast<uint64_t>(INT64_MAX)) return false;
      *out = static_cast<int64_t>(n.u64);
      return true;
    case TapeKind::kString: {
      const std::string_view s = n.str();
      const char* end = s.data() + s.size();
      auto [p, ec] = std::from_chars(s.data(), end, *out);
      return ec == std::errc() && p == end && !s.empty();
    }
    default:
      return false;
  }
}

bool TapeIsNumber(const TapeNode& n) {
  return n.kind == TapeKind::kInt64 || n.kind == TapeKind::kUint64 || n.kind == TapeKind::kDouble;
}

// System.TimeCreated's SystemTime: *ms set when it is a time, else left as it is.
void SystemTimeMs(std::string_view text, int64_t* ms) {
  int64_t t = 0;
  if (ParseRfc3339Ms(text, &t)) {
    *ms = t;
    return;
  }
  // "2025-11-27 07:40:10.165" (no zone: Windows' SystemTime is UTC).
  std::string with_zone(text.substr(0, 64));
  with_zone += 'Z';
  if (ParseRfc3339Ms(with_zone, &t)) *ms = t;
}

// An EventData/UserData value as the source gave it: scalars as they are, an element's #text,
// anything structured as its JSON text (a Sigma rule can still match it with contains).
// Built in `sp` (the record's fields' storage), so moving it into the fields never copies.
json::value ItemValue(const json::value& v, const json::storage_ptr& sp) {
  if (v.is_string() || v.is_number() || v.is_bool() || v.is_null()) return json::value(v, sp);
  if (const auto* t = ElementText(v)) {
    if (t->is_string() || t->is_number() || t->is_bool()) return json::value(*t, sp);
  }
  if (v.is_object() && v.as_object().size() == 1 && v.as_object().contains("#attributes")) {
    return json::string(sp);  // an empty element with attributes only
  }
  return json::string(json::serialize(v), sp);
}

class Builder {
 public:
  explicit Builder(Record& r) : r_(r), event_data_(r.fields().storage()) {}

  bool AddItem(std::string_view name, const json::value& v) {
    if (++items_ > kMaxWinlogFields) {
      error_ = "more than " + std::to_string(kMaxWinlogFields) + " EventData items";
      return false;
    }
    event_data_.insert_or_assign(json::string_view(name.data(), name.size()),
                                 ItemValue(v, event_data_.storage()));
    return true;
  }

  // EventData in any of its shapes. `ed` is the parsed document's: an object of scalars in the
  // fields' storage is taken whole (moved) as winlog.event_data (TakeWhole).
  bool AddEventData(json::value& ed) {
    if (ed.is_null()) return true;
    if (const auto* s = ed.if_string()) {  // <EventData>text</EventData>
      return s->empty() || AddItem("param1", ed);
    }
    if (!ed.is_object()) {
      error_ = "EventData is neither an object nor null";
      return false;
    }
    auto& o = ed.as_object();
    const auto* data = o.if_contains("Data");
    if (data != nullptr && (data->is_array() || (data->is_object() && IsDataItem(*data)))) {
      // Room for every item at once: growing the table member by member would leave each
      // smaller table behind in the record's arena.
      // (Bounded: a hostile array longer than the items allowed fails in AddItem.)
      event_data_.reserve(std::min<size_t>(
          event_data_.size() + o.size() + (data->is_array() ? data->get_array().size() : 1),
          kMaxWinlogFields + 1));
      size_t unnamed = 0;
      auto add = [&](const json::value& item) {
        const json::value* name = item.is_object() ? Attribute(item.as_object(), "Name") : nullptr;
        const json::value* text = item.is_object() ? item.as_object().if_contains("#text") : &item;
        json::value value = text != nullptr ? ItemValue(*text, event_data_.storage())
                                            : json::value(json::string(event_data_.storage()));
        if (name != nullptr && name->is_string()) return AddItem(name->as_string(), value);
        return AddItem("param" + std::to_string(++unnamed), value);
      };
      if (data->is_array()) {
        for (const auto& item : data->as_array()) {
          if (!add(item)) return false;
        }
      } else if (!add(*data)) {
        return false;
      }
      for (const auto& [k, v] : o) {  // siblings of Data (Binary, …)
        if (k != "Data" && k != "#attributes" && !AddItem(k, v)) return false;
      }
      return true;
    }
    if (event_data_.empty() && TakeWhole(o)) return true;
    event_data_.reserve(std::min<size_t>(event_data_.size() + o.size(), kMaxWinlogFields + 1));
    for (const auto& [k, v] : o) {
      if (k == "#attributes") continue;
      if (!AddItem(k, v)) return false;
    }
    return true;
  }

  // The common shape, {"Name":scalar,…} without "#attributes": the items are the object's members
  // in its order (its keys are unique) and ItemValue of a scalar is the scalar, so the object
  // itself is what the loop below would build. Taken when it is in the fields' storage (moving
  // it then steals, never copies) and within the items allowed (else the loop reports it).
  bool TakeWhole(json::object& o) {
    if (o.size() > kMaxWinlogFields || o.storage().get() != event_data_.storage().get()) {
      return false;
    }
    for (const auto& kv : o) {
      const json::value& v = kv.value();
      if (!(v.is_string() || v.is_number() || v.is_bool() || v.is_null())) return false;
      if (kv.key() == "#attributes") return false;
    }
    items_ = o.size();
    event_data_ = std::move(o);
    return true;
  }

  // UserData holds one element whose children are the event's items.
  bool AddUserData(const json::value& ud) {
    if (ud.is_null()) return true;
    if (!ud.is_object()) {
      error_ = "UserData is not an object";
      return false;
    }
    for (const auto& [k, child] : ud.as_object()) {
      if (k == "#attributes") continue;
      if (child.is_object() && !IsLeafElement(child)) {
        for (const auto& [ck, cv] : child.as_object()) {
          if (ck == "#attributes") continue;
          if (!AddItem(ck, cv)) return false;
        }
      } else if (!AddItem(k, child)) {
        return false;
      }
    }
    return true;
  }

  // An element with nothing but attributes and text (no child elements).
  static bool IsLeafElement(const json::value& v) {
    if (!v.is_object()) return true;
    for (const auto& [k, _] : v.as_object()) {
      if (k != "#attributes" && k != "#text") return false;
    }
    return true;
  }

  static bool IsDataItem(const json::value& v) {
    return v.is_object() &&
           (v.as_object().contains("#attributes") || v.as_object().contains("#text"));
  }

  bool FromEvtxJson(json::object& event) {
    const auto* sys_v = event.if_contains("System");
    if (sys_v == nullptr || !sys_v->is_object()) {
      error_ = "Event.System is missing or not an object";
      return false;
    }
    const auto& sys = sys_v->as_object();
    const auto* id_v = sys.if_contains("EventID");
    const json::value* id_text = id_v != nullptr ? ElementText(*id_v) : nullptr;
    if (id_text == nullptr || !ToInt64(*id_text, &event_id_)) {
      error_ = "Event.System.EventID is missing or not an integer";
      return false;
    }
    if (const auto* v = sys.if_contains("Channel"); v != nullptr && v->is_string()) {
      channel_ = v->as_string();
    }
    if (const auto* v = AttributeOf(sys, "Provider", "Name"); v != nullptr && v->is_string()) {
      Set("winlog.provider_name", *v);
    }
    if (const auto* v = AttributeOf(sys, "Provider", "Guid"); v != nullptr && v->is_string()) {
      Set("winlog.provider_guid", *v);
    }
    if (const auto* v = sys.if_contains("EventRecordID"); v != nullptr) {
      if (const auto* t = ElementText(*v)) Set("winlog.record_id", *t);
    }
    if (const auto* v = sys.if_contains("Computer"); v != nullptr && v->is_string()) {
      computer_ = v->as_string();
    }
    for (const char* name : {"Version", "Level", "Task", "Opcode", "Keywords"}) {
      if (const auto* v = sys.if_contains(name); v != nullptr) {
        const json::value* t = ElementText(*v);
        if (t != nullptr && (t->is_number() || t->is_string())) {
          std::string path = "winlog.";
          for (const char* c = name; *c != '\0'; ++c) path += AsciiLower(*c);
          Set(path, *t);
        }
      }
    }
    if (const auto* v = AttributeOf(sys, "Execution", "ProcessID"); v != nullptr) {
      if (int64_t pid; ToInt64(*v, &pid)) Set("winlog.process.pid", pid);
    }
    if (const auto* v = AttributeOf(sys, "Execution", "ThreadID"); v != nullptr) {
      if (int64_t tid; ToInt64(*v, &tid)) Set("winlog.process.thread.id", tid);
    }
    if (const auto* v = AttributeOf(sys, "Security", "UserID"); v != nullptr && v->is_string()) {
      Set("winlog.user.identifier", *v);
    }
    if (const auto* v = AttributeOf(sys, "TimeCreated", "SystemTime");
        v != nullptr && v->is_string()) {
      ParseTime(v->as_string());
    }
    if (auto* ed = event.if_contains("EventData"); ed != nullptr && !AddEventData(*ed)) {
      return false;
    }
    if (const auto* ud = event.if_contains("UserData"); ud != nullptr && !AddUserData(*ud)) {
      return false;
    }
    return true;
  }

  // FromEvtxJson on the document's tape: the same lookups in the same order, the same values set
  // and the same errors. EventData and UserData are built as trees in `doc_storage` (as the parser
  // would have built them there) and go through AddEventData/AddUserData as they are.
  bool FromEvtxTape(TapeSpan t, size_t event, const json::storage_ptr& doc_storage) {
    const size_t sys = TapeMember(t, event, "System");
    if (sys == kNone || t[sys].kind != TapeKind::kObject) {
      error_ = "Event.System is missing or not an object";
      return false;
    }
    const SystemMembers m = ReadSystem(t, sys);
    const size_t id_text = m.event_id != kNone ? TapeElementText(t, m.event_id) : kNone;
    if (id_text == kNone || !TapeToInt64(t[id_text], &event_id_)) {
      error_ = "Event.System.EventID is missing or not an integer";
      return false;
    }
    if (const size_t v = m.channel; v != kNone && t[v].kind == TapeKind::kString) {
      channel_ = t[v].str();
    }
    if (const size_t v = TapeAttribute(t, m.provider, "Name");
        v != kNone && t[v].kind == TapeKind::kString) {
      SetString("winlog.provider_name", t[v].str());
    }
    if (const size_t v = TapeAttribute(t, m.provider, "Guid");
        v != kNone && t[v].kind == TapeKind::kString) {
      SetString("winlog.provider_guid", t[v].str());
    }
    if (const size_t v = m.record_id; v != kNone) {
      if (const size_t x = TapeElementText(t, v); x != kNone) SetNode("winlog.record_id", t, x);
    }
    if (const size_t v = m.computer; v != kNone && t[v].kind == TapeKind::kString) {
      computer_ = t[v].str();
    }
    const std::pair<size_t, std::string_view> numbers[] = {{m.version, "winlog.version"},
                                                           {m.level, "winlog.level"},
                                                           {m.task, "winlog.task"},
                                                           {m.opcode, "winlog.opcode"},
                                                           {m.keywords, "winlog.keywords"}};
    for (const auto& [v, path] : numbers) {
      if (v == kNone) continue;
      const size_t x = TapeElementText(t, v);
      if (x != kNone && (TapeIsNumber(t[x]) || t[x].kind == TapeKind::kString)) SetNode(path, t, x);
    }
    if (const size_t v = TapeAttribute(t, m.execution, "ProcessID"); v != kNone) {
      if (int64_t pid; TapeToInt64(t[v], &pid)) Set("winlog.process.pid", pid);
    }
    if (const size_t v = TapeAttribute(t, m.execution, "ThreadID"); v != kNone) {
      if (int64_t tid; TapeToInt64(t[v], &tid)) Set("winlog.process.thread.id", tid);
    }
    if (const size_t v = TapeAttribute(t, m.security, "UserID");
        v != kNone && t[v].kind == TapeKind::kString) {
      SetString("winlog.user.identifier", t[v].str());
    }
    if (const size_t v = TapeAttribute(t, m.time_created, "SystemTime");
        v != kNone && t[v].kind == TapeKind::kString) {
      ParseTime(t[v].str());
    }
    if (const size_t v = TapeMember(t, event, "EventData"); v != kNone) {
      json::value ed = TapeToValue(t, v, doc_storage);
      if (!AddEventData(ed)) return false;
    }
    if (const size_t v = TapeMember(t, event, "UserData"); v != kNone) {
      if (!AddUserData(TapeToValue(t, v, doc_storage))) return false;
    }
    return true;
  }

  bool FromWinlogbeat(json::object& root) {
    auto& wl = root.at("winlog");
    if (!wl.is_object()) {
      error_ = "winlog is not an object";
      return false;
    }
    auto& w = wl.as_object();
    const json::value* id = w.if_contains("event_id");
    if (id == nullptr) id = FindField(root, "event.code");
    if (id == nullptr || !ToInt64(*id, &event_id_)) {
      error_ = "winlog.event_id (or event.code) is missing or not an integer";
      return false;
    }
    if (const auto* v = w.if_contains("channel"); v != nullptr && v->is_string()) {
      channel_ = v->as_string();
    }
    if (const auto* v = w.if_contains("computer_name"); v != nullptr && v->is_string()) {
      computer_ = v->as_string();
    } else if (const auto* h = FindField(root, "host.name"); h != nullptr && h->is_string()) {
      computer_ = h->as_string();
    }
    for (const char* name : {"provider_name", "provider_guid", "record_id", "version", "opcode",
                             "task", "keywords", "level"}) {
      if (const auto* v = w.if_contains(name); v != nullptr && (v->is_string() || v->is_number())) {
        Set(std::string("winlog.") + name, *v);
      }
    }
    if (const auto* v = FindField(w, "process.pid")) {
      if (int64_t pid; ToInt64(*v, &pid)) Set("winlog.process.pid", pid);
    }
    if (const auto* v = FindField(w, "user.identifier"); v != nullptr && v->is_string()) {
      Set("winlog.user.identifier", *v);
    }
    if (const auto* v = root.if_contains("@timestamp"); v != nullptr && v->is_string()) {
      ParseTime(v->as_string());
    }
    if (const auto* v = root.if_contains("message"); v != nullptr && v->is_string()) {
      Set("message", *v);
    }
    if (auto* ed = w.if_contains("event_data"); ed != nullptr && !AddEventData(*ed)) {
      return false;
    }
    if (const auto* ud = w.if_contains("user_data"); ud != nullptr) {
      if (!ud->is_object()) {
        error_ = "winlog.user_data is not an object";
        return false;
      }
      for (const auto& [k, v] : ud->as_object()) {
        if (k != "#attributes" && !AddItem(k, v)) return false;
      }
    }
    return true;
  }

  void Finish() {
    Set("winlog.event_id", event_id_);
    char code[24];
    const auto code_end = std::to_chars(code, code + sizeof code, event_id_).ptr;
    SetString("event.code", std::string_view(code, static_cast<size_t>(code_end - code)));
    if (!channel_.empty()) SetString("winlog.channel", channel_);
    if (!computer_.empty()) {
      SetString("winlog.computer_name", computer_);
      SetString("host.name", computer_);
    }
    SetString("event.dataset", WindowsDataset(channel_));
    auto copy = [&](std::string_view item, std::string_view path) {
      const auto* v = event_data_.if_contains(item);
      if (v == nullptr || v->is_null()) return false;
      if (const auto* s = v->if_string(); s != nullptr && (s->empty() || *s == "-")) return false;
      Set(path, *v);
      return true;
    };
    copy("Image", "process.executable");
    copy("CommandLine", "process.command_line");
    copy("ParentImage", "process.parent.executable");
    copy("ParentCommandLine", "process.parent.command_line");
    if (!copy("User", "user.name")) copy("TargetUserName", "user.name");
    if (!copy("SourceIp", "source.ip")) copy("IpAddress", "source.ip");
    copy("DestinationIp", "destination.ip");
    copy("DestinationPort", "destination.port");
    if (!event_data_.empty()) {
      r_.fields()["winlog"].as_object()["event_data"] = std::move(event_data_);
    }
  }

  // Values of the parsed document are copied once, straight into the fields' storage: built in
  // place by insert_or_assign in the object that holds the path's last segment (SetPath's walk
  // and result, without a temporary value moved in). "winlog" gets ~15 members: it is created
  // with room for them (where SetPath would have created it, so the order of members is the
  // same) instead of regrowing its table in the arena. `v` and `text` must not refer into the
  // fields (the walk may regrow the tables before they are read).
  void Set(std::string_view path, const json::value& v) {
    json::object& parent = Parent(&path);
    parent.insert_or_assign(json::string_view(path.data(), path.size()), v);
  }
  // A string built straight in the fields' storage (no default-heap temporary to copy from).
  void SetString(std::string_view path, std::string_view text) {
    json::object& parent = Parent(&path);
    parent.insert_or_assign(json::string_view(path.data(), path.size()),
                            json::string_view(text.data(), text.size()));
  }
  // Set() of a tape's value: a scalar built in place, a container as the parser's tree of it.
  void SetNode(std::string_view path, TapeSpan t, size_t index) {
    const TapeNode& n = t[index];
    if (n.kind == TapeKind::kString) return SetString(path, n.str());
    json::object& parent = Parent(&path);
    const json::string_view key(path.data(), path.size());
    switch (n.kind) {
      case TapeKind::kInt64:
        parent.insert_or_assign(key, n.i64);
        return;
      case TapeKind::kUint64:
        parent.insert_or_assign(key, n.u64);
        return;
      case TapeKind::kDouble:
        parent.insert_or_assign(key, n.dbl);
        return;
      case TapeKind::kBool:
        parent.insert_or_assign(key, n.boolean);
        return;
      case TapeKind::kNull:
        parent.insert_or_assign(key, nullptr);
        return;
      default:
        break;
    }
    // The walk above may have regrown tables: the value is built after it, then moved in (the
    // parent's reference is still valid: building it touches no part of the fields).
    parent.insert_or_assign(key, TapeToValue(t, index, parent.storage()));
  }
  json::object& Parent(std::string_view* path) {
    // Nothing removes "winlog" once it is there, so it is looked for until it is created.
    if (!have_winlog_ && path->starts_with("winlog.")) {
      if (!r_.fields().contains("winlog")) {
        json::object winlog(r_.fields().storage());
        winlog.reserve(kWinlogMembers);
        r_.fields().emplace("winlog", std::move(winlog));
      }
      have_winlog_ = true;
    }
    // Most paths are "winlog.…" in a row: the walk continues from the winlog object found by the
    // last one as long as nothing else was set at the top level (a new member there may move the
    // top-level table, and the object with it). The walk from the top would find that same
    // object (it is never replaced), so the result is the same.
    if (path->starts_with("winlog.")) {
      if (winlog_ == nullptr) winlog_ = &r_.fields().at("winlog").as_object();
      path->remove_prefix(7);
      return internal::PathParent(*winlog_, path);
    }
    winlog_ = nullptr;
    return internal::PathParent(r_.fields(), path);
  }
  json::object* winlog_ = nullptr;  // the fields' "winlog" while the top level is unchanged
  static constexpr size_t kWinlogMembers = 16;

  void ParseTime(std::string_view text) { SystemTimeMs(text, &time_ms_); }

  Record& r_;
  bool have_winlog_ = false;
  json::object event_data_;
  size_t items_ = 0;
  int64_t event_id_ = 0;
  // Into the parsed document, which outlives the Builder's use of them.
  std::string_view channel_;
  std::string_view computer_;
  int64_t time_ms_ = -1;
  std::string error_;
};

// FromEvtxTape and Finish, SetMetadata and Normalize's peer as overlay entries (README.md "Flat
// field table", step 4): the record's values without building any tree, kept as a pending overlay
// (parse_internal.h) that FieldView, Sigma, intel and Prepare read as they read a syslog
// record's, and that Record::fields() replays into the very tree the Builder would have built
// (the same SetPath calls in the same order; winlog.event_data's items, one entry each at
// "winlog.event_data.<Name>", in the order the Builder's object holds them). Only for events whose
// every value the overlay holds as the tree does (a string or an int64) and whose item names are
// paths of their own (non-empty, no '.'): Collect answers false for anything else — every error
// too —, and the caller takes the tree path, which then decides as before.
class OverlayBuilder {
 public:
  // More items than this take the tree path: it bounds the search for a repeated name. (A 4688
  // or Sysmon 1 event has 20-30; the tree path allows kMaxWinlogFields.)
  static constexpr size_t kMaxItems = 256;

  // Reads the event at `event` of t (an object) as Builder::FromEvtxTape does; false when the
  // event is not one this path keeps (nothing is changed then).
  bool Collect(TapeSpan t, size_t event) {
    Reset();
    t_ = t;
    const size_t sys = TapeMember(t, event, "System");
    if (sys == kNone || t[sys].kind != TapeKind::kObject) return false;
    const SystemMembers m = ReadSystem(t, sys);
    const size_t id_text = m.event_id != kNone ? TapeElementText(t, m.event_id) : kNone;
    if (id_text == kNone || !TapeToInt64(t[id_text], &event_id_)) return false;
    if (const size_t v = m.channel; v != kNone && t[v].kind == TapeKind::kString) {
      channel_ = t[v].str();
    }
    if (const size_t v = m.computer; v != kNone && t[v].kind == TapeKind::kString) {
      computer_ = t[v].str();
    }
    provider_name_ = StringOrNone(TapeAttribute(t, m.provider, "Name"));
    provider_guid_ = StringOrNone(TapeAttribute(t, m.provider, "Guid"));
    if (m.record_id != kNone) {
      record_id_ = TapeElementText(t, m.record_id);
      if (record_id_ != kNone && !IsScalar(record_id_)) return false;
    }
    const size_t numbers[] = {m.version, m.level, m.task, m.opcode, m.keywords};
    for (size_t k = 0; k < 5; ++k) {
      numbers_[k] = kNone;
      if (numbers[k] == kNone) continue;
      const size_t x = TapeElementText(t, numbers[k]);
      if (x == kNone || !(TapeIsNumber(t[x]) || t[x].kind == TapeKind::kString)) continue;
      if (!IsScalar(x)) return false;  // a uint64 or a double: the tree path
      numbers_[k] = x;
    }
    if (const size_t v = TapeAttribute(t, m.execution, "ProcessID"); v != kNone) {
      has_pid_ = TapeToInt64(t[v], &pid_);
    }
    if (const size_t v = TapeAttribute(t, m.execution, "ThreadID"); v != kNone) {
      has_tid_ = TapeToInt64(t[v], &tid_);
    }
    user_id_ = StringOrNone(TapeAttribute(t, m.security, "UserID"));
    if (const size_t v = TapeAttribute(t, m.time_created, "SystemTime");
        v != kNone && t[v].kind == TapeKind::kString) {
      SystemTimeMs(t[v].str(), &time_ms_);
    }
    if (const size_t v = TapeMember(t, event, "EventData"); v != kNone && !EventData(v)) {
      return false;
    }
    if (const size_t v = TapeMember(t, event, "UserData"); v != kNone && !UserData(v)) {
      return false;
    }
    return true;
  }

  // The entries of Builder::Finish, SetMetadata and (with_peer) Normalize's peer, in their order,
  // kept as r's pending fields; r.time_ms and r.parsed as the tree path sets them. False, r
  // untouched, when the overlay would take more memory than the first block of the tree path's
  // arena (many short items: ~80 bytes an item against the tree's ~40): socd bounds its queues
  // by MemoryBytes, so the overlay must never hold more than the tree it replaces.
  bool Keep(Record& r, bool with_peer) {
    internal::FieldOverlay& o = overlay_;
    o.clear();
    String("winlog.provider_name", provider_name_);
    String("winlog.provider_guid", provider_guid_);
    Node("winlog.record_id", record_id_);
    Node("winlog.version", numbers_[0]);
    Node("winlog.level", numbers_[1]);
    Node("winlog.task", numbers_[2]);
    Node("winlog.opcode", numbers_[3]);
    Node("winlog.keywords", numbers_[4]);
    if (has_pid_) Int("winlog.process.pid", pid_);
    if (has_tid_) Int("winlog.process.thread.id", tid_);
    String("winlog.user.identifier", user_id_);
    // Builder::Finish.
    Int("winlog.event_id", event_id_);
    char code[24];
    const auto code_end = std::to_chars(code, code + sizeof code, event_id_).ptr;
    Text("event.code", std::string_view(code, static_cast<size_t>(code_end - code)));
    if (!channel_.empty()) Text("winlog.channel", channel_);
    if (!computer_.empty()) {
      Text("winlog.computer_name", computer_);
      Text("host.name", computer_);
    }
    Text("event.dataset", WindowsDataset(channel_));
    Copy("Image", "process.executable");
    Copy("CommandLine", "process.command_line");
    Copy("ParentImage", "process.parent.executable");
    Copy("ParentCommandLine", "process.parent.command_line");
    if (!Copy("User", "user.name")) Copy("TargetUserName", "user.name");
    if (!Copy("SourceIp", "source.ip")) Copy("IpAddress", "source.ip");
    Copy("DestinationIp", "destination.ip");
    Copy("DestinationPort", "destination.port");
    constexpr std::string_view kPrefix = kWinlogItemPrefix;
    static constexpr uint8_t kWinlogRoot =
        static_cast<uint8_t>(std::countr_zero(OverlayRootBit("winlog")));
    const size_t first_item = o.entries.size();
    for (const Item& item : items_) {
      OverlayEntry e;
      e.root = kWinlogRoot;  // not related to "tenant.id": flags 0
      o.own_paths.push_back({static_cast<uint32_t>(o.entries.size()),
                             static_cast<uint32_t>(o.bytes.size()),
                             static_cast<uint32_t>(kPrefix.size() + item.name.size())});
      o.bytes.append(kPrefix);
      o.bytes.append(item.name);
      Append(e, item.value);
    }
    // SetMetadata, then Normalize's peer.
    const int64_t time_ms = time_ms_ >= 0 ? time_ms_ : r.received_ms;
    internal::PutTime(o, "@timestamp", time_ms);
    internal::PutTime(o, "event.ingested", r.received_ms);
    Text("seccloud.soc.source", r.source);
    Text("seccloud.soc.format", FormatName(r.format));
    if (!r.tenant.empty()) Text("tenant.id", r.tenant);
    if (with_peer && !r.peer.empty()) {
      std::string buf;
      std::string_view ip;
      if (internal::IpText(r.peer, &buf, &ip)) {
        Text("seccloud.soc.peer", ip);
      } else if (internal::IsAscii(r.peer) || IsValidUtf8(r.peer)) {
        Text("seccloud.soc.peer", r.peer);
      } else {
        Text("seccloud.soc.peer", SanitizeUtf8(r.peer));
      }
    }
    // The arena holds exactly what the overlay takes (one sized for the tree, UseFieldArena's,
    // was outgrown by events of many short items).
    if (internal::RecordAccess::OverlayArenaBytes(o, items_.size()) >
        internal::FieldArenaFirstBlock(r.format, r.raw.size())) {
      return false;
    }
    r.time_ms = time_ms;
    r.parsed = true;
    internal::RecordAccess::UseOverlayArena(r, o, items_.size());
    // No two paths are related: the fixed ones are distinct leaves none of which is a prefix of
    // another, and the items' names are distinct, non-empty and without '.' (AddItem).
    internal::RecordAccess::KeepOverlay(r, o, r.format, /*unrelated=*/true);
    internal::RecordAccess::IndexWinlogItems(r, first_item, items_.size());
    return true;
  }

 private:
  void Reset() {
    event_id_ = 0;
    channel_ = computer_ = {};
    provider_name_ = provider_guid_ = record_id_ = user_id_ = kNone;
    std::fill(std::begin(numbers_), std::end(numbers_), kNone);
    has_pid_ = has_tid_ = false;
    pid_ = tid_ = 0;
    time_ms_ = -1;
    items_.clear();
    names_ = 0;
    added_ = 0;
  }

  // A value as the overlay holds it: a tape string, or an integer (kInt64).
  struct Value {
    TapeKind kind = TapeKind::kString;
    std::string_view str;
    int64_t num = 0;
  };
  struct Item {
    std::string_view name;
    Value value;
  };

  size_t StringOrNone(size_t v) const {
    return v != kNone && t_[v].kind == TapeKind::kString ? v : kNone;
  }
  bool IsScalar(size_t v) const {
    return t_[v].kind == TapeKind::kString || t_[v].kind == TapeKind::kInt64;
  }
  Value ValueOf(size_t v) const {
    Value x;
    x.kind = t_[v].kind;
    if (x.kind == TapeKind::kString) {
      x.str = t_[v].str();
    } else {
      x.num = t_[v].i64;
    }
    return x;
  }

  // ItemValue's answer for the node at v, when it is a string or an int64.
  bool ItemValueOf(size_t v, Value* out) const {
    const TapeNode& n = t_[v];
    if (n.kind == TapeKind::kObject) {
      if (const size_t x = TapeMember(t_, v, "#text"); x != kNone) {
        if (!IsScalar(x)) return false;  // another kind, or JSON text (serialised)
        *out = ValueOf(x);
        return true;
      }
      // An element with attributes only: "" (the tree's object then has one key).
      bool attributes_only = n.end > v + 1;
      for (size_t i = v + 1; i < n.end && attributes_only; i = t_[i].end) {
        attributes_only = t_[i].key() == "#attributes";
      }
      if (!attributes_only) return false;
      *out = Value();
      return true;
    }
    if (!IsScalar(v)) return false;
    *out = ValueOf(v);
    return true;
  }

  // A bit of names_ for a non-empty name: set for every item's name, so a clear bit means no item
  // has the name.
  static uint64_t NameBit(std::string_view name) {
    return uint64_t{1} << ((name.size() * 7 + static_cast<unsigned char>(name[0]) +
                            static_cast<unsigned char>(name.back()) * 3) &
                           63);
  }

  // Builder::AddItem: a name seen before keeps its place and takes the new value (the object's
  // insert_or_assign).
  bool AddItem(std::string_view name, const Value& value) {
    if (items_.size() >= kMaxItems || ++added_ > kMaxItems) return false;
    if (name.empty() || name.find('.') != std::string_view::npos) return false;
    const uint64_t bit = NameBit(name);
    if ((names_ & bit) != 0) {
      for (size_t i = items_.size(); i-- > 0;) {
        if (items_[i].name == name) {
          items_[i].value = value;
          return true;
        }
      }
    }
    names_ |= bit;
    items_.push_back({name, value});
    return true;
  }
  bool AddItemAt(std::string_view name, size_t v) {
    Value value;
    return ItemValueOf(v, &value) && AddItem(name, value);
  }

  // Builder::AddEventData on the tape.
  bool EventData(size_t ed) {
    const TapeNode& n = t_[ed];
    if (n.kind == TapeKind::kNull) return true;
    if (n.kind == TapeKind::kString) return n.str().empty() || AddItem("param1", ValueOf(ed));
    if (n.kind != TapeKind::kObject) return false;
    const size_t data = TapeMember(t_, ed, "Data");
    const bool data_items =
        data != kNone &&
        (t_[data].kind == TapeKind::kArray ||
         (t_[data].kind == TapeKind::kObject && (TapeMember(t_, data, "#attributes") != kNone ||
                                                 TapeMember(t_, data, "#text") != kNone)));
    if (!data_items) {
      // TakeWhole or the loop: the members but "#attributes", each ItemValue'd (a scalar is
      // itself); repeated keys as the parsed object holds them (the first place, the last value).
      for (size_t i = ed + 1; i < n.end; i = t_[i].end) {
        if (t_[i].key() != "#attributes" && !AddItemAt(t_[i].key(), i)) return false;
      }
      return true;
    }
    size_t unnamed = 0;
    auto add = [&](size_t item) {
      size_t name = kNone, text = item;
      if (t_[item].kind == TapeKind::kObject) {
        name = TapeAttribute(t_, item, "Name");
        text = TapeMember(t_, item, "#text");
      }
      Value value;
      if (text != kNone && !ItemValueOf(text, &value)) return false;
      if (name != kNone && t_[name].kind == TapeKind::kString) {
        return AddItem(t_[name].str(), value);
      }
      if (++unnamed > kMaxItems) return false;
      char* p = unnamed_names_[unnamed - 1];
      std::memcpy(p, "param", 5);
      const char* end = std::to_chars(p + 5, p + sizeof unnamed_names_[0], unnamed).ptr;
      return AddItem(std::string_view(p, static_cast<size_t>(end - p)), value);
    };
    if (t_[data].kind == TapeKind::kArray) {
      for (size_t i = data + 1; i < t_[data].end; i = t_[i].end) {
        if (!add(i)) return false;
      }
    } else if (!add(data)) {
      return false;
    }
    for (size_t i = ed + 1; i < n.end; i = t_[i].end) {  // siblings of Data (Binary, …)
      const std::string_view k = t_[i].key();
      if (k != "Data" && k != "#attributes" && !AddItemAt(k, i)) return false;
    }
    return true;
  }

  // True when the object at v repeats a key (then the parsed object holds fewer members than
  // the tape, and UserData's walk over them would differ): the tree path. Also past 64 members.
  bool RepeatsAKey(size_t v) const {
    size_t count = 0;
    for (size_t i = v + 1; i < t_[v].end; i = t_[i].end) {
      if (++count > 64) return true;
      for (size_t j = v + 1; j < i; j = t_[j].end) {
        if (t_[j].key() == t_[i].key()) return true;
      }
    }
    return false;
  }

  // Builder::AddUserData on the tape.
  bool UserData(size_t ud) {
    if (t_[ud].kind == TapeKind::kNull) return true;
    if (t_[ud].kind != TapeKind::kObject || RepeatsAKey(ud)) return false;
    for (size_t i = ud + 1; i < t_[ud].end; i = t_[i].end) {
      const std::string_view k = t_[i].key();
      if (k == "#attributes") continue;
      bool leaf = true;
      if (t_[i].kind == TapeKind::kObject) {
        for (size_t j = i + 1; j < t_[i].end && leaf; j = t_[j].end) {
          leaf = t_[j].key() == "#attributes" || t_[j].key() == "#text";
        }
      }
      if (leaf) {
        if (!AddItemAt(k, i)) return false;
        continue;
      }
      if (RepeatsAKey(i)) return false;
      for (size_t j = i + 1; j < t_[i].end; j = t_[j].end) {
        if (t_[j].key() != "#attributes" && !AddItemAt(t_[j].key(), j)) return false;
      }
    }
    return true;
  }

  // Builder::Finish's copy(): the item's value, unless absent, "" or "-".
  bool Copy(std::string_view name, SinkPath path) {
    if ((names_ & NameBit(name)) == 0) return false;  // no item of that name
    for (const Item& item : items_) {
      if (item.name != name) continue;
      if (item.value.kind == TapeKind::kString &&
          (item.value.str.empty() || item.value.str == "-")) {
        return false;
      }
      Append(path.Entry(OverlayKind::kString), item.value);
      return true;
    }
    return false;
  }

  void Append(OverlayEntry e, const Value& v) {
    internal::FieldOverlay& o = overlay_;
    if (v.kind == TapeKind::kString) {
      e.kind = OverlayKind::kString;
      e.at = static_cast<uint32_t>(o.bytes.size());
      e.len = static_cast<uint32_t>(v.str.size());
      o.bytes.append(v.str);
    } else {
      e.kind = OverlayKind::kInt;
      e.num = v.num;
    }
    o.entries.push_back(e);
  }
  void Text(SinkPath path, std::string_view text) {
    Value v;
    v.str = text;
    Append(path.Entry(OverlayKind::kString), v);
  }
  void Int(SinkPath path, int64_t n) {
    Value v;
    v.kind = TapeKind::kInt64;
    v.num = n;
    Append(path.Entry(OverlayKind::kInt), v);
  }
  void String(SinkPath path, size_t v) {
    if (v != kNone) Text(path, t_[v].str());
  }
  void Node(SinkPath path, size_t v) {
    if (v != kNone) Append(path.Entry(OverlayKind::kString), ValueOf(v));
  }

  TapeSpan t_;
  int64_t event_id_ = 0;
  std::string_view channel_, computer_;
  size_t provider_name_ = kNone, provider_guid_ = kNone, record_id_ = kNone, user_id_ = kNone;
  size_t numbers_[5] = {kNone, kNone, kNone, kNone, kNone};
  bool has_pid_ = false, has_tid_ = false;
  int64_t pid_ = 0, tid_ = 0;
  int64_t time_ms_ = -1;
  std::vector<Item> items_;
  uint64_t names_ = 0;  // a filter of the items' names (AddItem)
  size_t added_ = 0;
  char unnamed_names_[kMaxItems][12];
  internal::FieldOverlay overlay_;
};

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) {
      return false;
    }
  }
  return true;
}

// SetPath with values built in the fields' storage: SetField's result, without default-heap
// temporaries copied over.
void SetMetadata(Record& r) {
  const json::storage_ptr& sp = r.fields().storage();
  internal::PutTime(r.fields(), "@timestamp", r.time_ms);
  internal::PutTime(r.fields(), "event.ingested", r.received_ms);
  // The source as it is (this normaliser has never sanitised it; Normalize's other parsers do).
  internal::PutSourceAndFormat(r.fields(), r.source, /*sanitize=*/false, r.format);
  if (!r.tenant.empty()) internal::SetPath(r.fields(), "tenant.id", json::string(r.tenant, sp));
}

void Fail(Record& r, std::string message) {
  r.fields().clear();
  r.parsed = false;
  r.time_ms = r.received_ms;
  SetField(r.fields(), "event.dataset", "windows.event");
  SetField(r.fields(), "seccloud.soc.parse_error", json::string("windows event: " + message));
  SetMetadata(r);
}

}  // namespace

const char* WindowsDataset(std::string_view channel) {
  if (IEquals(channel, "Security")) return "windows.security";
  if (IEquals(channel, "Microsoft-Windows-Sysmon/Operational")) return "windows.sysmon";
  if (IEquals(channel, "System")) return "windows.system";
  if (IEquals(channel, "Application")) return "windows.application";
  if (IEquals(channel, "Microsoft-Windows-PowerShell/Operational") ||
      IEquals(channel, "Windows PowerShell")) {
    return "windows.powershell";
  }
  return "windows.event";
}

namespace {

// The tree path's peer, as Normalize sets it after the normaliser.
void SetPeer(Record& r) {
  if (!r.peer.empty() && !internal::PutIp(r.fields(), "seccloud.soc.peer", r.peer)) {
    internal::PutString(r.fields(), "seccloud.soc.peer", r.peer);
  }
}

// kOverlay: the evtx shape may be kept as a pending overlay (OverlayBuilder); kTape: read from
// a tape, the fields a tree; kTree: the document parsed as a tree (tests compare the three).
enum class WinlogPath { kOverlay, kTape, kTree };

void NormalizeWindowsEventImpl(Record& r, WinlogPath path, bool with_peer) {
  // The overlay (OverlayBuilder::Keep) gets an arena of its own size; the other paths one sized
  // for the tree, set up once the overlay is not taken.
  const bool tape_allowed = path != WinlogPath::kTree;
  json::parse_options opts;
  opts.max_depth = kMaxWinlogDepth;
  boost::system::error_code ec;
  // An event of up to kWinlogArenaDocBytes is built in the record's arena (UseFieldArena sizes it
  // for the document and the fields) — on the tape path below only its EventData and UserData,
  // on the tree path the whole document: an EventData object of scalars is then moved into the
  // fields whole instead of copied value by value (Builder::TakeWhole); what is built and not
  // taken stays unused there, a few KiB for a usual event, but up to ~20× the raw size for a
  // hostile one (8 KiB of an array of zeros in EventData: 16+ bytes per value);
  // Record::MemoryBytes counts it, and socd bounds its queues by that. A larger document is
  // scratch, in a per-thread buffer dropped at once (larger still spill to the heap, freed with
  // `scratch`), so that past 8 KiB a kept record holds only the values copied into its fields,
  // not the document.
  constexpr size_t kScratchBytes = 32 << 10;
  thread_local const std::unique_ptr<unsigned char[]> buffer(new unsigned char[kScratchBytes]);
  json::monotonic_resource scratch(buffer.get(), kScratchBytes);
  const auto doc_storage = [&r, &scratch] {
    return r.raw.size() <= internal::kWinlogArenaDocBytes ? r.fields().storage()
                                                          : json::storage_ptr(&scratch);
  };
  // The common shape, {"Event":{"System":…}} (or System at the top), is read from a tape of the
  // document: lookups without building the tree, only EventData and UserData built (where the
  // parser would have built them). The tape is used only where the parser below would succeed
  // with the same tree: valid UTF-8 (the parser refuses anything else; the tape would pass it)
  // and a tape read that succeeded (the tape accepts what Boost's parser accepts, at the same
  // depth: field_tape.h). Anything else, winlogbeat's shape and every error, takes the tree path.
  static_assert(kMaxWinlogDepth == kMaxParsedJsonDepth, "the tape's depth is the parser's");
  thread_local FieldTape tape;
  // A long document leaves the tape about 41 bytes per byte of it: given back past 1 MiB.
  constexpr size_t kTapeKeptBytes = size_t{1} << 20;
  std::string tape_error;  // unused: the tree path below reports the parser's own error
  bool arena_ready = false;
  if (tape_allowed && (internal::IsAscii(r.raw) || IsValidUtf8(r.raw)) &&
      ReadJsonTape(r.raw, &tape, &tape_error)) {
    const TapeSpan t = tape.span();
    size_t event = kNone;
    if (const size_t ev = TapeMember(t, 0, "Event"); ev != kNone) {
      if (t[ev].kind == TapeKind::kObject) event = ev;
    } else if (TapeMember(t, 0, "System") != kNone) {
      event = 0;
    }
    // A source or tenant that is not valid UTF-8 is held by the overlay as SetMetadata sets it
    // in the tree, unsanitised, and every reader (the view, Prepare's tokens, the replayed tree)
    // takes it as the tree's (FieldViewTest.WindowsSourceOrTenantNotUtf8MatchesTheTree).
    if (event != kNone && path == WinlogPath::kOverlay) {
      thread_local OverlayBuilder overlay;
      if (overlay.Collect(t, event) && overlay.Keep(r, with_peer)) {
        tape.ShrinkTo(kTapeKeptBytes);
        return;
      }
    }
    UseFieldArena(r);
    arena_ready = true;
    if (event != kNone) {
      r.fields().reserve(12);  // winlog, event, host, process, user, source, …, seccloud, tenant
      Builder b(r);
      const bool ok = b.FromEvtxTape(t, event, doc_storage());
      if (ok) {
        b.Finish();  // reads channel_ and computer_, views into the tape and the raw text
        r.time_ms = b.time_ms_ >= 0 ? b.time_ms_ : r.received_ms;
        r.parsed = true;
        SetMetadata(r);
      }
      tape.ShrinkTo(kTapeKeptBytes);
      if (!ok) Fail(r, b.error_);
      if (with_peer) SetPeer(r);
      return;
    }
  }
  if (tape_allowed) tape.ShrinkTo(kTapeKeptBytes);
  if (!arena_ready) UseFieldArena(r);
  r.fields().reserve(12);
  json::value doc = json::parse(r.raw, ec, doc_storage(), opts);
  if (ec) {
    Fail(r, "not a JSON document: " + ec.message());
    if (with_peer) SetPeer(r);
    return;
  }
  if (!doc.is_object()) {
    Fail(r, "the JSON top level is not an object");
    if (with_peer) SetPeer(r);
    return;
  }
  auto& root = doc.as_object();
  Builder b(r);
  bool ok = false;
  if (auto* ev = root.if_contains("Event")) {
    if (!ev->is_object()) {
      Fail(r, "\"Event\" is not an object");
      if (with_peer) SetPeer(r);
      return;
    }
    ok = b.FromEvtxJson(ev->as_object());
  } else if (root.contains("System")) {
    ok = b.FromEvtxJson(root);
  } else if (root.contains("winlog")) {
    ok = b.FromWinlogbeat(root);
  } else {
    b.error_ = "neither Event.System (evtx JSON) nor winlog (winlogbeat) is present";
  }
  if (!ok) {
    Fail(r, b.error_);
  } else {
    b.Finish();
    r.time_ms = b.time_ms_ >= 0 ? b.time_ms_ : r.received_ms;
    r.parsed = true;
    SetMetadata(r);
  }
  if (with_peer) SetPeer(r);
}

}  // namespace

void NormalizeWindowsEvent(Record& r) {
  NormalizeWindowsEventImpl(r, WinlogPath::kOverlay, /*with_peer=*/false);
}

namespace internal {
void NormalizeWindowsEventFromTree(Record& r) {
  NormalizeWindowsEventImpl(r, WinlogPath::kTree, /*with_peer=*/false);
}
void NormalizeWindowsEventWithPeer(Record& r, bool overlay_allowed) {
  NormalizeWindowsEventImpl(r, overlay_allowed ? WinlogPath::kOverlay : WinlogPath::kTape,
                            /*with_peer=*/true);
}
}  // namespace internal

}  // namespace seccloud::soc
