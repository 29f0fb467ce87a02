// JSON-shaped formats: seccloud event spool lines, generic JSON lines and Suricata EVE.
#include <bit>
#include <cstring>
#include <string>
#include <type_traits>

#include "soc/parse_internal.h"
#include "soc/record.h"

namespace seccloud::soc::internal {
namespace {

// How the EVE mapping reads a document: a Boost tree (TreeDoc: records the overlay cannot hold,
// README.md "Suricata EVE records as an overlay") or the line's tape (TapeDoc). Both give what the
// tree gives: a member is the last of duplicate keys (the value Boost's object keeps).
struct TreeDoc {
  using Value = const boost::json::value*;
  using Object = const boost::json::object*;
  Value Member(Object o, std::string_view key) const { return o->if_contains(key); }
  Object AsObject(Value v) const { return v != nullptr ? v->if_object() : nullptr; }
  bool IsString(Value v) const { return v->is_string(); }
  std::string_view Str(Value v) const { return v->get_string(); }
  bool IsInt64(Value v) const { return v->is_int64(); }
  int64_t Int64(Value v) const { return v->get_int64(); }
  bool IsUint64(Value v) const { return v->is_uint64(); }
  uint64_t Uint64(Value v) const { return v->get_uint64(); }
  // The first item of a non-empty array when it is an object, else null.
  Object FirstObjectIn(Value v) const {
    if (v == nullptr || !v->is_array() || v->get_array().empty()) return nullptr;
    return v->get_array()[0].if_object();
  }
  template <typename F>
  void ForEachMember(Object o, F&& f) const {
    for (const auto& kv : *o) f(std::string_view(kv.key().data(), kv.key().size()), &kv.value());
  }
};

struct TapeDoc {
  using Value = const TapeNode*;
  using Object = const TapeNode*;  // a node of kind kObject
  TapeSpan t;
  Value Member(Object o, std::string_view key) const {
    Value found = nullptr;
    ForEachMember(o, [&](std::string_view k, Value v) {
      if (k == key) found = v;
    });
    return found;
  }
  Object AsObject(Value v) const {
    return v != nullptr && v->kind == TapeKind::kObject ? v : nullptr;
  }
  bool IsString(Value v) const { return v->kind == TapeKind::kString; }
  std::string_view Str(Value v) const { return v->str(); }
  bool IsInt64(Value v) const { return v->kind == TapeKind::kInt64; }
  int64_t Int64(Value v) const { return v->i64; }
  bool IsUint64(Value v) const { return v->kind == TapeKind::kUint64; }
  uint64_t Uint64(Value v) const { return v->u64; }
  Object FirstObjectIn(Value v) const {
    if (v == nullptr || v->kind != TapeKind::kArray || v->count == 0) return nullptr;
    return AsObject(v + 1);
  }
  template <typename F>
  void ForEachMember(Object o, F&& f) const {
    size_t i = t.IndexOf(o) + 1;
    for (uint32_t m = 0; m < o->count; ++m, i = t[i].end) f(t[i].key(), &t[i]);
  }
};

template <typename Doc>
void CopyString(const Doc& d, typename Doc::Value v, FieldSink& to, SinkPath path) {
  if (v != nullptr && d.IsString(v)) PutString(to, path, d.Str(v));
}

template <typename Doc>
void CopyString(const Doc& d, typename Doc::Object from, std::string_view key, FieldSink& to,
                SinkPath path) {
  CopyString(d, d.Member(from, key), to, path);
}

template <typename Doc>
void CopyLowerString(const Doc& d, typename Doc::Value v, FieldSink& to, SinkPath path) {
  if (v != nullptr && d.IsString(v)) {
    std::string s(d.Str(v));
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    PutString(to, path, s);
  }
}

// Integers as integers; a digit string (some producers quote numbers) as its value.
template <typename Doc>
void CopyInt(const Doc& d, typename Doc::Object from, std::string_view key, FieldSink& to,
             SinkPath path) {
  const auto v = d.Member(from, key);
  if (v == nullptr) return;
  int64_t n;
  if (d.IsInt64(v)) {
    PutInt(to, path, d.Int64(v));
  } else if (d.IsUint64(v) && d.Uint64(v) <= static_cast<uint64_t>(INT64_MAX)) {
    PutInt(to, path, static_cast<int64_t>(d.Uint64(v)));
  } else if (d.IsString(v) && ParseUint(d.Str(v), &n)) {
    PutInt(to, path, n);
  }
}

template <typename Doc>
void CopyIp(const Doc& d, typename Doc::Value v, FieldSink& to, SinkPath path) {
  if (v != nullptr && d.IsString(v)) PutIp(to, path, d.Str(v));
}

template <typename Doc>
void CopyPort(const Doc& d, typename Doc::Value v, FieldSink& to, SinkPath path) {
  if (v == nullptr) return;
  if (d.IsInt64(v) && d.Int64(v) >= 0 && d.Int64(v) <= 65535) {
    PutInt(to, path, d.Int64(v));
  } else if (d.IsString(v)) {
    PutPort(to, path, d.Str(v));
  }
}

template <typename Doc>
int64_t IntOr(const Doc& d, typename Doc::Object o, std::string_view key, int64_t dflt) {
  const auto v = d.Member(o, key);
  if (v != nullptr && d.IsInt64(v)) return d.Int64(v);
  if (v != nullptr && d.IsUint64(v) && d.Uint64(v) <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(d.Uint64(v));
  }
  return dflt;
}

// "ids.<event_type>" with the type reduced to [a-z0-9_] so a hostile sensor cannot invent dataset
// names with dots or spaces.
std::string EveDataset(std::string_view event_type) {
  std::string out = "ids.";
  for (char c : event_type.substr(0, 32)) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    out.push_back((c >= 'a' && c <= 'z') || IsDigit(c) || c == '_' ? c : '_');
  }
  return out;
}

template <typename Doc>
void MapEveAlert(const Doc& d, typename Doc::Object alert, FieldSink& f) {
  CopyString(d, alert, "signature", f, "rule.name");
  if (const auto id = d.Member(alert, "signature_id"); id != nullptr) {
    if (d.IsInt64(id)) {
      PutString(f, "rule.id", std::to_string(d.Int64(id)));
    } else if (d.IsUint64(id)) {
      PutString(f, "rule.id", std::to_string(d.Uint64(id)));
    } else if (d.IsString(id)) {
      PutString(f, "rule.id", d.Str(id));
    }
  }
  CopyString(d, alert, "category", f, "rule.category");
  CopyInt(d, alert, "rev", f, "rule.version");
  CopyInt(d, alert, "severity", f, "event.severity");
  if (const auto a = d.Member(alert, "action"); a != nullptr && d.IsString(a)) {
    const std::string_view action = d.Str(a);
    if (action == "allowed" || action == "blocked") PutString(f, "event.action", action);
  }
}

template <typename Doc>
void MapEveHttp(const Doc& d, typename Doc::Object http, FieldSink& f) {
  CopyString(d, http, "hostname", f, "url.domain");
  CopyString(d, http, "url", f, "url.original");
  if (const auto u = d.Member(http, "url"); u != nullptr && d.IsString(u)) {
    std::string_view url = d.Str(u);
    if (!url.empty() && url.front() == '/') {
      const size_t q = url.find('?');
      PutString(f, "url.path", url.substr(0, q));
      if (q != std::string_view::npos) PutString(f, "url.query", url.substr(q + 1));
    }
  }
  CopyString(d, http, "http_user_agent", f, "user_agent.original");
  CopyInt(d, http, "status", f, "http.response.status_code");
  CopyString(d, http, "http_method", f, "http.request.method");
  CopyString(d, http, "http_refer", f, "http.request.referrer");
  CopyInt(d, http, "length", f, "http.response.body.bytes");
  CopyString(d, http, "http_content_type", f, "http.response.mime_type");
  if (const auto p = d.Member(http, "protocol"); p != nullptr && d.IsString(p)) {
    std::string_view proto = d.Str(p);
    if (proto.substr(0, 5) == "HTTP/") proto.remove_prefix(5);
    PutString(f, "http.version", proto);
  }
}

template <typename Doc>
void MapEveDns(const Doc& d, typename Doc::Object dns, FieldSink& f) {
  // EVE v1 and v2 put the question at the top of "dns"; alerts and v3 use "query"/"queries".
  typename Doc::Object q = dns;
  if (d.Member(dns, "rrname") == nullptr) {
    for (std::string_view key : {"query", "queries"}) {
      if (const auto first = d.FirstObjectIn(d.Member(dns, key)); first != nullptr) {
        q = first;
        break;
      }
    }
  }
  CopyString(d, q, "rrname", f, "dns.question.name");
  CopyString(d, q, "rrtype", f, "dns.question.type");
  CopyString(d, dns, "type", f, "dns.type");
  CopyString(d, dns, "rcode", f, "dns.response_code");
  if (const auto id = d.Member(dns, "id"); id != nullptr && d.IsInt64(id)) {
    PutString(f, "dns.id", std::to_string(d.Int64(id)));
  }
}

template <typename Doc>
void MapEveTls(const Doc& d, typename Doc::Object tls, FieldSink& f) {
  CopyString(d, tls, "sni", f, "tls.client.server_name");
  CopyString(d, tls, "subject", f, "tls.server.subject");
  CopyString(d, tls, "issuerdn", f, "tls.server.issuer");
  if (const auto ja3 = d.AsObject(d.Member(tls, "ja3"))) {
    CopyString(d, ja3, "hash", f, "tls.client.ja3");
  }
  if (const auto ja3s = d.AsObject(d.Member(tls, "ja3s"))) {
    CopyString(d, ja3s, "hash", f, "tls.server.ja3s");
  }
}

template <typename Doc>
void MapEveFileinfo(const Doc& d, typename Doc::Object fi, FieldSink& f) {
  CopyString(d, fi, "filename", f, "file.name");
  CopyString(d, fi, "sha256", f, "file.hash.sha256");
  CopyString(d, fi, "sha1", f, "file.hash.sha1");
  CopyString(d, fi, "md5", f, "file.hash.md5");
  CopyInt(d, fi, "size", f, "file.size");
}

template <typename Doc>
void MapEveFlow(const Doc& d, typename Doc::Object flow, FieldSink& f) {
  const int64_t bts = IntOr(d, flow, "bytes_toserver", -1);
  const int64_t btc = IntOr(d, flow, "bytes_toclient", -1);
  const int64_t pts = IntOr(d, flow, "pkts_toserver", -1);
  const int64_t ptc = IntOr(d, flow, "pkts_toclient", -1);
  if (bts >= 0) PutInt(f, "source.bytes", bts);
  if (btc >= 0) PutInt(f, "destination.bytes", btc);
  if (pts >= 0) PutInt(f, "source.packets", pts);
  if (ptc >= 0) PutInt(f, "destination.packets", ptc);
  // A sum past int64 (hostile counters; signed overflow before eve19) sets nothing.
  int64_t sum = 0;
  if (bts >= 0 && btc >= 0 && !__builtin_add_overflow(bts, btc, &sum)) {
    PutInt(f, "network.bytes", sum);
  }
  if (pts >= 0 && ptc >= 0 && !__builtin_add_overflow(pts, ptc, &sum)) {
    PutInt(f, "network.packets", sum);
  }
  CopyString(d, flow, "start", f, "event.start");
  CopyString(d, flow, "end", f, "event.end");
}

// The members of an EVE record's root the mapping reads, found in one pass over the root (a
// later duplicate key overwrites an earlier one: the value Boost's object keeps; 17 lookups,
// each a call and a scan of every member, cost ~3 k instructions a record).
template <typename Doc>
struct EveRoot {
  using Value = typename Doc::Value;
  Value event_type = nullptr, timestamp = nullptr, src_ip = nullptr, src_port = nullptr,
        dest_ip = nullptr, dest_port = nullptr, proto = nullptr, app_proto = nullptr,
        community_id = nullptr, in_iface = nullptr, host = nullptr, alert = nullptr, http = nullptr,
        dns = nullptr, tls = nullptr, fileinfo = nullptr, flow = nullptr;

  EveRoot(const Doc& d, typename Doc::Object eve) {
    d.ForEachMember(eve, [this](std::string_view k, Value v) {
      switch (k.size()) {
        case 3:
          if (k == "dns")
            dns = v;
          else if (k == "tls")
            tls = v;
          break;
        case 4:
          if (k == "host")
            host = v;
          else if (k == "http")
            http = v;
          else if (k == "flow")
            flow = v;
          break;
        case 5:
          if (k == "proto")
            proto = v;
          else if (k == "alert")
            alert = v;
          break;
        case 6:
          if (k == "src_ip") src_ip = v;
          break;
        case 7:
          if (k == "dest_ip") dest_ip = v;
          break;
        case 8:
          if (k == "src_port")
            src_port = v;
          else if (k == "in_iface")
            in_iface = v;
          else if (k == "fileinfo")
            fileinfo = v;
          break;
        case 9:
          if (k == "dest_port")
            dest_port = v;
          else if (k == "app_proto")
            app_proto = v;
          else if (k == "timestamp")
            timestamp = v;
          break;
        case 10:
          if (k == "event_type") event_type = v;
          break;
        case 12:
          if (k == "community_id") community_id = v;
          break;
        default:
          break;
      }
    });
  }
};

// The ECS values of an EVE record (every value but its own document, "suricata.eve") into `f`,
// a tree or an overlay: the same Put* calls in the same order either way.
template <typename Doc>
void MapEve(const Doc& d, const EveRoot<Doc>& root, std::string_view event_type, FieldSink& f) {
  const bool alert = event_type == "alert";
  PutString(f, "event.dataset", EveDataset(event_type));
  PutString(f, "event.kind", alert ? "alert" : "event");
  PutCategory(f, alert ? "intrusion_detection" : "network");
  CopyIp(d, root.src_ip, f, "source.ip");
  CopyPort(d, root.src_port, f, "source.port");
  CopyIp(d, root.dest_ip, f, "destination.ip");
  CopyPort(d, root.dest_port, f, "destination.port");
  CopyLowerString(d, root.proto, f, "network.transport");
  CopyLowerString(d, root.app_proto, f, "network.protocol");
  CopyString(d, root.community_id, f, "network.community_id");
  CopyString(d, root.in_iface, f, "observer.ingress.interface.name");
  CopyString(d, root.host, f, "observer.hostname");
  if (const auto a = d.AsObject(root.alert)) MapEveAlert(d, a, f);
  if (const auto h = d.AsObject(root.http)) MapEveHttp(d, h, f);
  if (const auto dn = d.AsObject(root.dns)) MapEveDns(d, dn, f);
  if (const auto t = d.AsObject(root.tls)) MapEveTls(d, t, f);
  if (const auto fi = d.AsObject(root.fileinfo)) MapEveFileinfo(d, fi, f);
  if (const auto fl = d.AsObject(root.flow)) MapEveFlow(d, fl, f);
}

// The event_type check both paths make, in the tree path's words.
template <typename Doc>
bool EveEventType(const Doc& d, const EveRoot<Doc>& root, std::string_view* type,
                  std::string* error) {
  if (root.event_type == nullptr || !d.IsString(root.event_type) ||
      d.Str(root.event_type).empty()) {
    *error = "expected a string \"event_type\" member (every EVE record names its type)";
    return false;
  }
  *type = d.Str(root.event_type);
  return true;
}

constexpr std::string_view kEveMount = "suricata.eve";
constexpr uint8_t kSuricataRoot = static_cast<uint8_t>(std::countr_zero(OverlayRootBit(kEveMount)));

// Appends one entry per leaf of the object at `obj` (its path `path`, a key of the tree per
// segment) to `o`: what SetPath("suricata.eve", document) puts in the tree, as SetPath calls of
// its leaves in document order replay it. False, `o` then partly written, when a leaf or an
// object is one the overlay cannot hold as the tree does: an empty object (no leaf makes it), a
// key that is empty or has a '.' (one key of the tree, which a path would nest), a key twice in
// one object (Boost keeps the last value in the first one's place: the replay would merge two
// objects), an array, a null, a double or an integer past int64; or past `*budget` leaves.
bool AppendEveDocument(TapeSpan t, size_t obj, FieldOverlay& o, std::string& path, size_t* budget) {
  const TapeNode& n = t[obj];
  if (n.count == 0 || n.count > kMaxEveObjectMembers) return false;
  const size_t first = obj + 1;
  size_t i = first;
  // A bit per key of the object so far, of its size and first and last bytes: the earlier keys
  // are compared only when the bit is set already (a set bit proves nothing).
  uint64_t seen = 0;
  for (uint32_t m = 0; m < n.count; ++m, i = t[i].end) {
    const TapeNode& c = t[i];
    const std::string_view key = c.key();
    if (key.empty()) return false;
    for (const char ch : key) {
      if (ch == '.') return false;
    }
    const uint64_t bit = uint64_t{1} << ((key.size() * 7 + static_cast<unsigned char>(key[0]) * 3 +
                                          static_cast<unsigned char>(key.back())) &
                                         63);
    if ((seen & bit) != 0) {
      for (size_t j = first; j != i; j = t[j].end) {
        if (t[j].key() == key) return false;
      }
    }
    seen |= bit;
    if (c.kind == TapeKind::kObject) {
      const size_t mark = path.size();
      path.push_back('.');
      path.append(key);
      if (!AppendEveDocument(t, i, o, path, budget)) return false;
      path.resize(mark);
      continue;
    }
    if (*budget == 0) return false;
    --*budget;
    OverlayEntry e;
    e.root = kSuricataRoot;  // not related to "tenant.id": flags 0
    switch (c.kind) {
      case TapeKind::kString:
        e.kind = OverlayKind::kString;
        break;
      case TapeKind::kInt64:
        e.kind = OverlayKind::kInt;
        e.num = c.i64;
        break;
      case TapeKind::kBool:
        e.kind = OverlayKind::kBool;
        e.num = c.boolean ? 1 : 0;
        break;
      default:
        return false;
    }
    // The path (the object's, '.', the key) and a string's text, one after the other.
    const size_t at = o.bytes.size();
    const size_t path_size = path.size() + 1 + key.size();
    const size_t text_size = e.kind == OverlayKind::kString ? c.s.size : 0;
    o.bytes.resize(at + path_size + text_size);
    char* out = o.bytes.data() + at;
    std::memcpy(out, path.data(), path.size());
    out[path.size()] = '.';
    std::memcpy(out + path.size() + 1, key.data(), key.size());
    if (text_size != 0) std::memcpy(out + path_size, c.s.data, text_size);
    o.own_paths.push_back({static_cast<uint32_t>(o.entries.size()), static_cast<uint32_t>(at),
                           static_cast<uint32_t>(path_size)});
    e.at = static_cast<uint32_t>(at + path_size);
    e.len = static_cast<uint32_t>(text_size);
    o.entries.push_back(e);
  }
  return true;
}

// The tree path: the document parsed into a Boost tree, the ECS values set on the tree, the
// document mounted at "suricata.eve".
void ParseEveTree(std::string_view line, Parsed& out) {
  boost::json::object eve(out.fields.storage());
  if (!ParseJsonObject(line, out.fields.storage(), &eve, &out.error)) return;
  const TreeDoc d;
  const EveRoot<TreeDoc> root(d, &eve);
  std::string_view event_type;
  if (!EveEventType(d, root, &event_type, &out.error)) return;
  if (const auto* ts = root.timestamp; ts != nullptr) JsonTimeToMs(*ts, &out.time_ms);
  MapEve(d, root, event_type, out.sink);
  // Last, so that if the record is too large to keep whole, its own copy is what gets cut.
  SetPath(out.fields, kEveMount, std::move(eve));
}

}  // namespace

namespace {

// Whether the n bytes at p (4 <= n <= 16) are `lit`'s: two loads each, overlapping, and no call
// (memcmp of a length GCC does not inline is a call per key).
template <size_t N>
bool BytesAre(const char* p, const char (&lit)[N]) {
  constexpr size_t n = N - 1;
  static_assert(n >= 4 && n <= 16);
  using Word = std::conditional_t<(n >= 8), uint64_t, uint32_t>;
  constexpr size_t w = sizeof(Word);
  Word a, b, x, y;
  std::memcpy(&a, p, w);
  std::memcpy(&b, p + n - w, w);
  std::memcpy(&x, lit, w);
  std::memcpy(&y, lit + n - w, w);
  return ((a ^ x) | (b ^ y)) == 0;
}

}  // namespace

void FindDatasetAndTimestamp(TapeSpan t, const TapeNode** dataset, const TapeNode** timestamp) {
  // FindInTape's choice at the root, for these two paths: "@timestamp" can only be the key
  // itself (the path has no '.'), the last of its duplicates; "event.dataset" is the last key
  // spelling it whole if there is one (the longest usable key), else the last "event" when that
  // one is an object (an earlier object under a later non-object one is what Boost dropped), and
  // its member "dataset" as FindInTapeObject would find it.
  const TapeNode* ts = nullptr;
  const TapeNode* whole = nullptr;
  const TapeNode* event = nullptr;
  for (size_t i = 1; i < t[0].end; i = t[i].end) {
    const TapeNode& m = t[i];
    switch (m.key_size) {
      case 5:
        if (BytesAre(m.key_data, "event")) event = &m;
        break;
      case 10:
        if (BytesAre(m.key_data, "@timestamp")) ts = &m;
        break;
      case 13:
        if (BytesAre(m.key_data, "event.dataset")) whole = &m;
        break;
      default:
        break;
    }
  }
  *timestamp = ts;
  if (whole != nullptr) {
    *dataset = whole;
  } else if (event != nullptr && event->kind == TapeKind::kObject) {
    // "dataset" has no '.': only that key itself, the last of its duplicates.
    const TapeNode* found = nullptr;
    for (size_t i = t.IndexOf(event) + 1; i < event->end; i = t[i].end) {
      if (t[i].key_size == 7 && BytesAre(t[i].key_data, "dataset")) found = &t[i];
    }
    *dataset = found;
  } else {
    *dataset = nullptr;
  }
}

void ParseSeccloudEvent(std::string_view line, Parsed& out) {
  if (out.tape != nullptr) {
    // The same checks on the line's tape (FindInTape chooses as FindField does on the tree), both
    // paths found in one pass over the root's members.
    if (!ReadJsonTape(line, out.tape, &out.error)) return;
    const TapeNode* dataset = nullptr;
    const TapeNode* ts = nullptr;
    FindDatasetAndTimestamp(out.tape->span(), &dataset, &ts);
    if (dataset == nullptr || dataset->kind != TapeKind::kString || dataset->str().empty()) {
      out.error = "expected a string \"event.dataset\" in the event (every seccloud event has one)";
      return;
    }
    if (ts == nullptr || !JsonTimeToMs(*ts, &out.time_ms)) {
      out.error = "expected \"@timestamp\" holding an RFC 3339 time in the event";
      return;
    }
    out.tape_read = true;
    out.tape_dataset = dataset;
    return;
  }
  boost::json::object obj(out.fields.storage());
  if (!ParseJsonObject(line, out.fields.storage(), &obj, &out.error)) return;
  const auto* dataset = FindField(obj, "event.dataset");
  if (dataset == nullptr || !dataset->is_string() || dataset->get_string().empty()) {
    out.error = "expected a string \"event.dataset\" in the event (every seccloud event has one)";
    return;
  }
  const auto* ts = FindField(obj, "@timestamp");
  if (ts == nullptr || !JsonTimeToMs(*ts, &out.time_ms)) {
    out.error = "expected \"@timestamp\" holding an RFC 3339 time in the event";
    return;
  }
  out.fields = std::move(obj);
}

namespace {

// A root member of a JSON line as KnownJsonDataset needs it, from the tape or the tree alike.
struct JsonMember {
  bool string = false;
  bool number = false;
  std::string_view text;  // the string's text
};

JsonMember TapeMember(const FieldTape& t, std::string_view key) {
  JsonMember m;
  if (const TapeNode* n = FindInTape(t, key); n != nullptr) {
    m.string = n->kind == TapeKind::kString;
    m.number =
        n->kind == TapeKind::kInt64 || n->kind == TapeKind::kUint64 || n->kind == TapeKind::kDouble;
    if (m.string) m.text = n->str();
  }
  return m;
}

JsonMember TreeMember(const boost::json::object& o, std::string_view key) {
  JsonMember m;
  if (const auto* v = FindField(o, key); v != nullptr) {
    m.string = v->is_string();
    m.number = v->is_number();
    if (m.string) m.text = v->get_string();
  }
  return m;
}

// An Azure Activity log category (the schema's `category`).
bool IsActivityLogCategory(const JsonMember& category) {
  if (!category.string) return false;
  for (std::string_view c : {"Administrative", "ServiceHealth", "ResourceHealth", "Alert",
                             "Autoscale", "Security", "Recommendation", "Policy"}) {
    if (category.text == c) return true;
  }
  return false;
}

bool StartsWithNoCase(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (size_t i = 0; i < lower_prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower_prefix[i]) return false;
  }
  return true;
}

// Cloud audit records that municipalities export as JSON lines, one record a line, known by the
// members their schemas require (a line naming its own event.dataset keeps it: parse.cc). Sigma's
// aws/cloudtrail, m365/audit and azure/activitylogs rules select them by these datasets
// (sigma_logsource.cc).
// - aws.cloudtrail: an AWS CloudTrail record (AWS CloudTrail User Guide, "CloudTrail record
//   contents": eventVersion, eventSource "<service>.amazonaws.com", eventName, eventTime), as
//   CloudTrail delivers it to CloudWatch Logs or a collector splits its S3 files' "Records";
//   the Government Cloud (ガバメントクラウド) that municipal systems move to includes AWS.
// - m365.audit: a record of the Office 365 Management Activity API (its common schema:
//   CreationTime, Operation, OrganizationId, RecordType a number, Workload).
// - azure.activitylogs: an Azure Activity log event as diagnostic settings export it to a storage
//   account or an event hub (Azure Monitor's "Azure Activity Log event schema", the schema from
//   storage accounts and event hubs: time, a subscription's resourceId, operationName, and one of
//   the log's categories); Government Cloud includes Azure too.
// - azure.riskdetection: a Microsoft Entra ID Protection risk detection as Microsoft Graph's
//   identityProtection/riskDetections returns it, one riskDetection object a line (its
//   properties: riskEventType, riskState, riskLevel, detectedDateTime, ...; its time the
//   activityDateTime, else the detectedDateTime); a collector that pages the API writes each
//   element of the response's "value" as a line.
// *time_key: the member holding the record's time.
template <typename Member>
std::string_view KnownJsonDataset(Member member, std::string_view* time_key) {
  if (const JsonMember source = member("eventSource");
      source.string && source.text.ends_with(".amazonaws.com") && member("eventVersion").string &&
      member("eventName").string && member("eventTime").string) {
    *time_key = "eventTime";
    return "aws.cloudtrail";
  }
  if (member("Workload").string && member("Operation").string && member("OrganizationId").string &&
      member("RecordType").number && member("CreationTime").string) {
    *time_key = "CreationTime";
    return "m365.audit";
  }
  if (const JsonMember resource = member("resourceId");
      resource.string && StartsWithNoCase(resource.text, "/subscriptions/") &&
      member("operationName").string && member("time").string &&
      IsActivityLogCategory(member("category"))) {
    *time_key = "time";
    return "azure.activitylogs";
  }
  if (member("riskEventType").string && member("riskState").string && member("riskLevel").string &&
      member("detectedDateTime").string) {
    // activityDateTime is nullable in Graph's schema: the detection's own time then.
    *time_key = member("activityDateTime").string ? "activityDateTime" : "detectedDateTime";
    return "azure.riskdetection";
  }
  return {};
}

}  // namespace

void ParseJsonLine(std::string_view line, Parsed& out) {
  std::string_view time_key;
  if (out.tape != nullptr) {
    if (!ReadJsonTape(line, out.tape, &out.error)) return;
    for (std::string_view key : {"@timestamp", "timestamp", "time"}) {
      const TapeNode* v = FindInTape(*out.tape, key);
      if (v != nullptr && JsonTimeToMs(*v, &out.time_ms)) break;
      out.time_ms = kNoTime;
    }
    if (out.tape->size() > 0 && (*out.tape)[0].kind == TapeKind::kObject) {
      out.json_dataset = KnownJsonDataset(
          [&](std::string_view key) { return TapeMember(*out.tape, key); }, &time_key);
    }
    if (out.time_ms == kNoTime && !time_key.empty()) {
      if (const TapeNode* v = FindInTape(*out.tape, time_key);
          v == nullptr || !JsonTimeToMs(*v, &out.time_ms)) {
        out.time_ms = kNoTime;
      }
    }
    out.tape_read = true;
    return;
  }
  boost::json::object obj(out.fields.storage());
  if (!ParseJsonObject(line, out.fields.storage(), &obj, &out.error)) return;
  for (std::string_view key : {"@timestamp", "timestamp", "time"}) {
    const auto* v = FindField(obj, key);
    if (v != nullptr && JsonTimeToMs(*v, &out.time_ms)) break;
    out.time_ms = kNoTime;
  }
  out.json_dataset =
      KnownJsonDataset([&](std::string_view key) { return TreeMember(obj, key); }, &time_key);
  if (out.time_ms == kNoTime && !time_key.empty()) {
    if (const auto* v = FindField(obj, time_key); v == nullptr || !JsonTimeToMs(*v, &out.time_ms)) {
      out.time_ms = kNoTime;
    }
  }
  out.fields = std::move(obj);
}

void ParseEve(std::string_view line, Parsed& out) {
  if (out.tape == nullptr || out.sink.overlay() == nullptr) return ParseEveTree(line, out);
  // The overlay path (Normalize gave a tape and an overlay: the line is valid UTF-8, so the
  // tape's strings are the tree's, and too short to be pruned).
  // An array anywhere sends the record to the tree path (AppendEveDocument refuses it), and an
  // array needs a '[' in the line: a line holding one goes there before the tape read and the
  // mapping rather than after them (what the refusal below does). Real Suricata output has
  // arrays often (alert.metadata, DNS answers): found only by the refusal, such a record paid
  // the tape read, the whole mapping and then the tree path, 1.45× base19's Normalize (the
  // review of eve19, 3,000 bench lines with an array added; now 1.03×). A '[' inside a string
  // sends its record to the tree path too, at base19's cost. The rarer refusals (a null, a
  // double, an integer past int64, a repeated or dotted key) are still found after the mapping.
  auto tree_path = [&] {
    out.sink.overlay()->clear();
    out.sink.Tree();
    out.time_ms = kNoTime;
    ParseEveTree(line, out);
  };
  if (line.find('[') != std::string_view::npos) return tree_path();
  if (!ReadJsonTape(line, out.tape, &out.error)) return;
  const TapeDoc d{out.tape->span()};
  const EveRoot<TapeDoc> root(d, &d.t[0]);
  std::string_view event_type;
  if (!EveEventType(d, root, &event_type, &out.error)) return;
  if (const TapeNode* ts = root.timestamp; ts != nullptr) JsonTimeToMs(*ts, &out.time_ms);
  FieldOverlay& o = *out.sink.overlay();
  out.sink.Unbound();  // bounded below: kMaxEveDocumentLeaves
  MapEve(d, root, event_type, out.sink);
  thread_local std::string path;
  path.assign(kEveMount);
  size_t budget = kMaxEveDocumentLeaves;
  if (!AppendEveDocument(d.t, 0, o, path, &budget)) {
    // A shape the overlay does not hold as the tree does: the tree path, from the line (the sink
    // gives the overlay up, nothing to replay).
    tree_path();
  }
}

}  // namespace seccloud::soc::internal
