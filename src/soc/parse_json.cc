// JSON-shaped formats: seccloud event spool lines, generic JSON lines and Suricata EVE.
#include <string>

#include "soc/parse_internal.h"
#include "soc/record.h"

namespace seccloud::soc::internal {
namespace {

const boost::json::value* Member(const boost::json::object& o, std::string_view key) {
  return o.if_contains(key);
}

const boost::json::object* ObjectMember(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

void CopyString(const boost::json::value* v, boost::json::object& to, std::string_view path) {
  if (v != nullptr && v->is_string()) PutString(to, path, v->get_string());
}

void CopyString(const boost::json::object& from, std::string_view key, boost::json::object& to,
                std::string_view path) {
  CopyString(Member(from, key), to, path);
}

void CopyLowerString(const boost::json::value* v, boost::json::object& to, std::string_view path) {
  if (v != nullptr && v->is_string()) {
    std::string s(v->get_string());
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    PutString(to, path, s);
  }
}

// Integers as integers; a digit string (some producers quote numbers) as its value.
void CopyInt(const boost::json::object& from, std::string_view key, boost::json::object& to,
             std::string_view path) {
  const auto* v = Member(from, key);
  if (v == nullptr) return;
  int64_t n;
  if (v->is_int64()) {
    PutInt(to, path, v->get_int64());
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    PutInt(to, path, static_cast<int64_t>(v->get_uint64()));
  } else if (v->is_string() && ParseUint(v->get_string(), &n)) {
    PutInt(to, path, n);
  }
}

void CopyIp(const boost::json::value* v, boost::json::object& to, std::string_view path) {
  if (v != nullptr && v->is_string()) PutIp(to, path, v->get_string());
}

void CopyPort(const boost::json::value* v, boost::json::object& to, std::string_view path) {
  if (v == nullptr) return;
  if (v->is_int64() && v->get_int64() >= 0 && v->get_int64() <= 65535) {
    PutInt(to, path, v->get_int64());
  } else if (v->is_string()) {
    PutPort(to, path, v->get_string());
  }
}

int64_t IntOr(const boost::json::object& o, std::string_view key, int64_t dflt) {
  const auto* v = Member(o, key);
  if (v != nullptr && v->is_int64()) return v->get_int64();
  if (v != nullptr && v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->get_uint64());
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

void MapEveAlert(const boost::json::object& alert, boost::json::object& f) {
  CopyString(alert, "signature", f, "rule.name");
  if (const auto* id = Member(alert, "signature_id"); id != nullptr) {
    if (id->is_int64()) {
      PutString(f, "rule.id", std::to_string(id->get_int64()));
    } else if (id->is_uint64()) {
      PutString(f, "rule.id", std::to_string(id->get_uint64()));
    } else if (id->is_string()) {
      PutString(f, "rule.id", id->get_string());
    }
  }
  CopyString(alert, "category", f, "rule.category");
  CopyInt(alert, "rev", f, "rule.version");
  CopyInt(alert, "severity", f, "event.severity");
  if (const auto* a = Member(alert, "action"); a != nullptr && a->is_string()) {
    const std::string_view action = a->get_string();
    if (action == "allowed" || action == "blocked") PutString(f, "event.action", action);
  }
}

void MapEveHttp(const boost::json::object& http, boost::json::object& f) {
  CopyString(http, "hostname", f, "url.domain");
  CopyString(http, "url", f, "url.original");
  if (const auto* u = Member(http, "url"); u != nullptr && u->is_string()) {
    std::string_view url = u->get_string();
    if (!url.empty() && url.front() == '/') {
      const size_t q = url.find('?');
      PutString(f, "url.path", url.substr(0, q));
      if (q != std::string_view::npos) PutString(f, "url.query", url.substr(q + 1));
    }
  }
  CopyString(http, "http_user_agent", f, "user_agent.original");
  CopyInt(http, "status", f, "http.response.status_code");
  CopyString(http, "http_method", f, "http.request.method");
  CopyString(http, "http_refer", f, "http.request.referrer");
  CopyInt(http, "length", f, "http.response.body.bytes");
  CopyString(http, "http_content_type", f, "http.response.mime_type");
  if (const auto* p = Member(http, "protocol"); p != nullptr && p->is_string()) {
    std::string_view proto = p->get_string();
    if (proto.substr(0, 5) == "HTTP/") proto.remove_prefix(5);
    PutString(f, "http.version", proto);
  }
}

void MapEveDns(const boost::json::object& dns, boost::json::object& f) {
  // EVE v1 and v2 put the question at the top of "dns"; alerts and v3 use "query"/"queries".
  const boost::json::object* q = &dns;
  if (Member(dns, "rrname") == nullptr) {
    for (std::string_view key : {"query", "queries"}) {
      const auto* list = Member(dns, key);
      if (list != nullptr && list->is_array() && !list->get_array().empty() &&
          list->get_array()[0].is_object()) {
        q = &list->get_array()[0].get_object();
        break;
      }
    }
  }
  CopyString(*q, "rrname", f, "dns.question.name");
  CopyString(*q, "rrtype", f, "dns.question.type");
  CopyString(dns, "type", f, "dns.type");
  CopyString(dns, "rcode", f, "dns.response_code");
  if (const auto* id = Member(dns, "id"); id != nullptr && id->is_int64()) {
    PutString(f, "dns.id", std::to_string(id->get_int64()));
  }
}

void MapEveTls(const boost::json::object& tls, boost::json::object& f) {
  CopyString(tls, "sni", f, "tls.client.server_name");
  CopyString(tls, "subject", f, "tls.server.subject");
  CopyString(tls, "issuerdn", f, "tls.server.issuer");
  if (const auto* ja3 = ObjectMember(tls, "ja3")) CopyString(*ja3, "hash", f, "tls.client.ja3");
  if (const auto* ja3s = ObjectMember(tls, "ja3s")) CopyString(*ja3s, "hash", f, "tls.server.ja3s");
}

void MapEveFileinfo(const boost::json::object& fi, boost::json::object& f) {
  CopyString(fi, "filename", f, "file.name");
  CopyString(fi, "sha256", f, "file.hash.sha256");
  CopyString(fi, "sha1", f, "file.hash.sha1");
  CopyString(fi, "md5", f, "file.hash.md5");
  CopyInt(fi, "size", f, "file.size");
}

void MapEveFlow(const boost::json::object& flow, boost::json::object& f) {
  const int64_t bts = IntOr(flow, "bytes_toserver", -1), btc = IntOr(flow, "bytes_toclient", -1);
  const int64_t pts = IntOr(flow, "pkts_toserver", -1), ptc = IntOr(flow, "pkts_toclient", -1);
  if (bts >= 0) PutInt(f, "source.bytes", bts);
  if (btc >= 0) PutInt(f, "destination.bytes", btc);
  if (pts >= 0) PutInt(f, "source.packets", pts);
  if (ptc >= 0) PutInt(f, "destination.packets", ptc);
  if (bts >= 0 && btc >= 0) PutInt(f, "network.bytes", bts + btc);
  if (pts >= 0 && ptc >= 0) PutInt(f, "network.packets", pts + ptc);
  CopyString(flow, "start", f, "event.start");
  CopyString(flow, "end", f, "event.end");
}

// The members of an EVE record's root the mapping reads, found in one pass over the root (a
// Boost.JSON object holds each key once, so a pass finds what if_contains would: 17 lookups, each
// a call and a scan of every member, cost ~3 k instructions a record).
struct EveRoot {
  const boost::json::value *event_type = nullptr, *timestamp = nullptr, *src_ip = nullptr,
                           *src_port = nullptr, *dest_ip = nullptr, *dest_port = nullptr,
                           *proto = nullptr, *app_proto = nullptr, *community_id = nullptr,
                           *in_iface = nullptr, *host = nullptr, *alert = nullptr, *http = nullptr,
                           *dns = nullptr, *tls = nullptr, *fileinfo = nullptr, *flow = nullptr;

  explicit EveRoot(const boost::json::object& eve) {
    for (const auto& kv : eve) {
      const std::string_view k(kv.key().data(), kv.key().size());
      const boost::json::value* v = &kv.value();
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
    }
  }
};

const boost::json::object* AsObject(const boost::json::value* v) {
  return v != nullptr ? v->if_object() : nullptr;
}

}  // namespace

void ParseSeccloudEvent(std::string_view line, Parsed& out) {
  if (out.tape != nullptr) {
    // The same checks on the line's tape (FindInTape chooses as FindField does on the tree).
    if (!ReadJsonTape(line, out.tape, &out.error)) return;
    const TapeNode* dataset = FindInTape(*out.tape, "event.dataset");
    if (dataset == nullptr || dataset->kind != TapeKind::kString || dataset->str().empty()) {
      out.error = "expected a string \"event.dataset\" in the event (every seccloud event has one)";
      return;
    }
    const TapeNode* ts = FindInTape(*out.tape, "@timestamp");
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

void ParseJsonLine(std::string_view line, Parsed& out) {
  if (out.tape != nullptr) {
    if (!ReadJsonTape(line, out.tape, &out.error)) return;
    for (std::string_view key : {"@timestamp", "timestamp", "time"}) {
      const TapeNode* v = FindInTape(*out.tape, key);
      if (v != nullptr && JsonTimeToMs(*v, &out.time_ms)) break;
      out.time_ms = kNoTime;
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
  out.fields = std::move(obj);
}

void ParseEve(std::string_view line, Parsed& out) {
  boost::json::object eve(out.fields.storage());
  if (!ParseJsonObject(line, out.fields.storage(), &eve, &out.error)) return;
  const EveRoot root(eve);
  const auto* type = root.event_type;
  if (type == nullptr || !type->is_string() || type->get_string().empty()) {
    out.error = "expected a string \"event_type\" member (every EVE record names its type)";
    return;
  }
  const std::string_view event_type = type->get_string();
  boost::json::object& f = out.fields;
  if (const auto* ts = root.timestamp; ts != nullptr) JsonTimeToMs(*ts, &out.time_ms);

  const bool alert = event_type == "alert";
  {
    // The three into the one "event" object one walk finds (setting them changes only its table,
    // so the reference stays valid), as the walk per leaf would have found it.
    std::string_view leaf = "event.dataset";
    boost::json::object& event = PathParent(f, &leaf);
    PutString(event, "dataset", EveDataset(event_type));
    PutString(event, "kind", alert ? "alert" : "event");
    boost::json::array category(f.storage());
    category.emplace_back(alert ? "intrusion_detection" : "network");
    event.insert_or_assign("category", std::move(category));
  }
  CopyIp(root.src_ip, f, "source.ip");
  CopyPort(root.src_port, f, "source.port");
  CopyIp(root.dest_ip, f, "destination.ip");
  CopyPort(root.dest_port, f, "destination.port");
  CopyLowerString(root.proto, f, "network.transport");
  CopyLowerString(root.app_proto, f, "network.protocol");
  CopyString(root.community_id, f, "network.community_id");
  CopyString(root.in_iface, f, "observer.ingress.interface.name");
  CopyString(root.host, f, "observer.hostname");
  if (const auto* a = AsObject(root.alert)) MapEveAlert(*a, f);
  if (const auto* h = AsObject(root.http)) MapEveHttp(*h, f);
  if (const auto* d = AsObject(root.dns)) MapEveDns(*d, f);
  if (const auto* t = AsObject(root.tls)) MapEveTls(*t, f);
  if (const auto* fi = AsObject(root.fileinfo)) MapEveFileinfo(*fi, f);
  if (const auto* fl = AsObject(root.flow)) MapEveFlow(*fl, f);
  // Last, so that if the record is too large to keep whole, its own copy is what gets cut.
  SetPath(f, "suricata.eve", std::move(eve));
}

}  // namespace seccloud::soc::internal
