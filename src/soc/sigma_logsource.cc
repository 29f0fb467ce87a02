// The one table of Sigma logsources → the records seccloud has, and of Sigma field names → record
// paths. Add a source here and every rule naming it loads.

#include <array>
#include <initializer_list>
#include <string>

#include "soc/sigma_internal.h"

namespace seccloud::soc::sigma_internal {
namespace {

constexpr const char* kSysmon = "microsoft-windows-sysmon/operational";
constexpr const char* kPowerShell = "microsoft-windows-powershell/operational";
constexpr const char* kPowerShellClassic = "windows powershell";

struct WindowsCategory {
  const char* category;
  const char* channel;  // lower-case
  std::initializer_list<int64_t> event_ids;
};

// Windows categories (Sysmon event ids as SigmaHQ's windows pipeline maps them).
const WindowsCategory kWindowsCategories[] = {
    {"process_creation", kSysmon, {1}},
    {"file_change", kSysmon, {2}},
    {"network_connection", kSysmon, {3}},
    {"sysmon_status", kSysmon, {4, 16}},
    {"process_termination", kSysmon, {5}},
    {"driver_load", kSysmon, {6}},
    {"image_load", kSysmon, {7}},
    {"create_remote_thread", kSysmon, {8}},
    {"raw_access_thread", kSysmon, {9}},
    {"process_access", kSysmon, {10}},
    {"file_event", kSysmon, {11}},
    {"registry_add", kSysmon, {12}},
    {"registry_delete", kSysmon, {12}},
    {"registry_set", kSysmon, {13}},
    {"registry_rename", kSysmon, {14}},
    {"registry_event", kSysmon, {12, 13, 14}},
    {"create_stream_hash", kSysmon, {15}},
    {"pipe_created", kSysmon, {17, 18}},
    {"wmi_event", kSysmon, {19, 20, 21}},
    {"dns_query", kSysmon, {22}},
    {"file_delete", kSysmon, {23, 26}},
    {"clipboard_capture", kSysmon, {24}},
    {"process_tampering", kSysmon, {25}},
    {"file_block_executable", kSysmon, {27}},
    {"file_block_shredding", kSysmon, {28}},
    {"file_executable_detected", kSysmon, {29}},
    {"sysmon_error", kSysmon, {255}},
    {"ps_script", kPowerShell, {4104}},
    {"ps_module", kPowerShell, {4103}},
    {"ps_classic_start", kPowerShellClassic, {400}},
    {"ps_classic_provider_start", kPowerShellClassic, {600}},
    {"ps_classic_script", kPowerShellClassic, {800}},
};

struct WindowsService {
  const char* service;
  std::initializer_list<const char*> channels;  // lower-case
};

const WindowsService kWindowsServices[] = {
    {"security", {"security"}},
    {"system", {"system"}},
    {"application", {"application"}},
    {"sysmon", {kSysmon}},
    {"powershell", {kPowerShell}},
    {"powershell-classic", {kPowerShellClassic}},
    {"windefend", {"microsoft-windows-windows defender/operational"}},
    {"wmi", {"microsoft-windows-wmi-activity/operational"}},
    {"taskscheduler", {"microsoft-windows-taskscheduler/operational"}},
    {"codeintegrity-operational", {"microsoft-windows-codeintegrity/operational"}},
    {"appxdeployment-server", {"microsoft-windows-appxdeploymentserver/operational"}},
    {"appxpackaging-om", {"microsoft-windows-appxpackaging/operational"}},
    {"appmodel-runtime", {"microsoft-windows-appmodel/runtime"}},
    {"firewall-as", {"microsoft-windows-windows firewall with advanced security/firewall"}},
    {"bits-client", {"microsoft-windows-bits-client/operational"}},
    {"msexchange-management", {"msexchange management"}},
    {"dns-client", {"microsoft-windows-dns client events/operational"}},
    {"dns-server", {"dns server"}},
    {"ntlm", {"microsoft-windows-ntlm/operational"}},
    {"iis-configuration", {"microsoft-iis-configuration/operational"}},
    {"security-mitigations",
     {"microsoft-windows-security-mitigations/kernel mode",
      "microsoft-windows-security-mitigations/user mode"}},
    {"applocker",
     {"microsoft-windows-applocker/msi and script", "microsoft-windows-applocker/exe and dll",
      "microsoft-windows-applocker/packaged app-deployment",
      "microsoft-windows-applocker/packaged app-execution"}},
    {"microsoft-servicebus-client", {"microsoft-servicebus-client"}},
    {"terminalservices-localsessionmanager",
     {"microsoft-windows-terminalservices-localsessionmanager/operational"}},
    {"shell-core", {"microsoft-windows-shell-core/operational"}},
    {"certificateservicesclient-lifecycle-system",
     {"microsoft-windows-certificateservicesclient-lifecycle-system/operational"}},
    {"driver-framework", {"microsoft-windows-driverframeworks-usermode/operational"}},
    {"ldap", {"microsoft-windows-ldap-client/debug"}},
    {"smbclient-security", {"microsoft-windows-smbclient/security"}},
    {"smbserver-connectivity", {"microsoft-windows-smbserver/connectivity"}},
    {"diagnosis-scripted", {"microsoft-windows-diagnosis-scripted/operational"}},
    {"lsa-server", {"microsoft-windows-lsa/operational"}},
    {"openssh", {"openssh/operational"}},
    {"capi2", {"microsoft-windows-capi2/operational"}},
    {"printservice-admin", {"microsoft-windows-printservice/admin"}},
    {"printservice-operational", {"microsoft-windows-printservice/operational"}},
    {"smbclient-connectivity", {"microsoft-windows-smbclient/connectivity"}},
    {"vhdmp", {"microsoft-windows-vhdmp/operational"}},
    {"hyper-v-worker", {"microsoft-windows-hyper-v-worker-admin"}},
};

constexpr const char* kAllWindowsDatasets[] = {"windows.security",   "windows.sysmon",
                                               "windows.system",     "windows.application",
                                               "windows.powershell", "windows.event"};

// Non-Windows categories: any product (or none) → these datasets.
struct DatasetCategory {
  const char* category;
  std::initializer_list<const char*> datasets;
  FieldStyle style;
};
const DatasetCategory kDatasetCategories[] = {
    {"proxy", {"proxy.access"}, FieldStyle::kProxy},
    {"webserver", {"web.access", "edge.access"}, FieldStyle::kWebserver},
    {"dns", {"dns.query", "ids.dns"}, FieldStyle::kDns},
    {"firewall", {"firewall.flow"}, FieldStyle::kFirewall},
};

// Sigma's antivirus category: seccloud's own scanner (scan.detection: mail attachments, proxy
// downloads) and Microsoft Defender Antivirus on the tenants' Windows hosts, its detection events
// (1006: a scan found malware, 1116: real-time protection did; the actions taken on them, 1007
// and 1117, would fire a rule a second time for the same detection).
constexpr const char* kDefender = "microsoft-windows-windows defender/operational";

// Cloud audit logs that arrive as JSON lines (parse_json.cc, KnownJsonDataset names their
// dataset); their rules name the records' own members.
struct CloudService {
  const char* product;
  const char* service;
  const char* dataset;
};
const CloudService kCloudServices[] = {
    {"aws", "cloudtrail", "aws.cloudtrail"},
    {"m365", "audit", "m365.audit"},
    {"azure", "activitylogs", "azure.activitylogs"},
    // Entra ID Protection's risk detections as Graph returns them: the rules name riskEventType.
    {"azure", "riskdetection", "azure.riskdetection"},
};

// Sysmon for Linux's channel (lower-case) and its events by Sigma category, as SigmaHQ's
// sysmon-for-linux mapping has them (SysmonForLinux writes events 1, 3, 4, 5, 9, 11, 16, 23, 255).
constexpr const char* kLinuxSysmon = "linux-sysmon/operational";
struct LinuxSysmonCategory {
  const char* category;
  std::initializer_list<int64_t> event_ids;
};
const LinuxSysmonCategory kLinuxSysmonCategories[] = {
    {"process_creation", {1}},    {"network_connection", {3}}, {"sysmon_status", {4, 16}},
    {"process_termination", {5}}, {"raw_access_thread", {9}},  {"file_event", {11}},
    {"file_delete", {23}},        {"sysmon_error", {255}},
};

struct LinuxService {
  const char* service;
  const char* dataset;
  std::initializer_list<const char*> process_names;  // lower-case
};
const LinuxService kLinuxServices[] = {
    {"auth", "system.auth", {}},       {"sshd", "system.auth", {"sshd"}},
    {"sudo", "system.auth", {"sudo"}}, {"su", "system.auth", {"su"}},
    {"syslog", "system.syslog", {}},   {"cron", "system.syslog", {"cron", "crond"}},
};

// Web-server products whose logs arrive as access/error logs.
constexpr const char* kWebServices[] = {"apache", "nginx"};

struct FieldAlias {
  const char* name;  // lower-case Sigma name
  std::initializer_list<const char*> paths;
};

const FieldAlias kProxyFields[] = {
    {"c-uri", {"url.original", "url.full"}},
    {"c-uri-query", {"url.query"}},
    {"c-uri-stem", {"url.path"}},
    {"c-uri-extension", {"url.extension"}},
    {"c-useragent", {"user_agent.original"}},
    {"cs-host", {"url.domain", "destination.domain", "tls.client.server_name"}},
    {"cs-method", {"http.request.method"}},
    {"cs-referrer", {"http.request.referrer"}},
    {"cs-version", {"http.version"}},
    {"cs-cookie", {"http.request.cookie"}},
    {"cs-bytes", {"http.request.bytes"}},
    {"sc-status", {"http.response.status_code"}},
    {"sc-bytes", {"http.response.body.bytes", "http.response.bytes"}},
    {"c-ip", {"source.ip", "client.ip"}},
    {"src_ip", {"source.ip", "client.ip"}},
    {"dst_ip", {"destination.ip"}},
    {"r-dns", {"url.domain", "destination.domain"}},
};

const FieldAlias kWebserverFields[] = {
    {"cs-uri-query", {"url.query", "url.original"}},
    {"cs-uri-stem", {"url.path", "url.original"}},
    {"cs-uri", {"url.original", "url.full"}},
    {"c-uri", {"url.original", "url.full"}},
    {"cs-method", {"http.request.method"}},
    {"cs-user-agent", {"user_agent.original"}},
    {"c-useragent", {"user_agent.original"}},
    {"cs-referer", {"http.request.referrer"}},
    {"cs-referrer", {"http.request.referrer"}},
    {"sc-status", {"http.response.status_code"}},
    {"cs-version", {"http.version"}},
    {"cs-host", {"url.domain", "destination.domain"}},
    {"c-ip", {"source.ip", "client.ip"}},
    {"client_ip", {"source.ip", "client.ip"}},
    {"cs-username", {"user.name"}},
};

const FieldAlias kDnsFields[] = {
    {"query", {"dns.question.name"}},
    {"record_type", {"dns.question.type"}},
    {"answer", {"dns.answers"}},
    {"response_code", {"dns.response_code"}},
    {"src_ip", {"source.ip", "client.ip"}},
    {"dst_ip", {"destination.ip"}},
    {"parent_domain", {"dns.question.registered_domain"}},
};

const FieldAlias kFirewallFields[] = {
    {"src_ip", {"source.ip"}},     {"dst_ip", {"destination.ip"}},
    {"src_port", {"source.port"}}, {"dst_port", {"destination.port"}},
    {"action", {"event.action"}},  {"protocol", {"network.transport"}},
};

// The antivirus category's fields (SigmaHQ's taxonomy: Signature, Filename) in seccloud's scan
// events, then in Defender's EventData.
const FieldAlias kAntivirusFields[] = {
    {"signature", {"seccloud.scan.signature", "winlog.event_data.Threat Name"}},
    {"filename", {"file.path", "file.name", "winlog.event_data.Path"}},
};

// Windows System element names (everything else is an EventData item).
const FieldAlias kWindowsSystemFields[] = {
    {"eventid", {"winlog.event_id"}},
    {"channel", {"winlog.channel"}},
    {"provider_name", {"winlog.provider_name"}},
    {"computer", {"winlog.computer_name"}},
    {"computername", {"winlog.event_data.ComputerName", "winlog.computer_name"}},
    {"eventrecordid", {"winlog.record_id"}},
    {"level", {"winlog.event_data.Level", "winlog.level"}},
    {"keywords", {"winlog.event_data.Keywords", "winlog.keywords"}},
    {"task", {"winlog.event_data.Task", "winlog.task"}},
    {"opcode", {"winlog.event_data.Opcode", "winlog.opcode"}},
    {"version", {"winlog.event_data.Version", "winlog.version"}},
    // Security 4688 names the same things differently from Sysmon 1.
    {"image", {"winlog.event_data.Image", "winlog.event_data.NewProcessName"}},
    {"parentimage", {"winlog.event_data.ParentImage", "winlog.event_data.ParentProcessName"}},
};

bool LowerEquals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

template <size_t N>
const FieldAlias* FindAlias(const FieldAlias (&table)[N], std::string_view name) {
  for (const auto& a : table) {
    if (LowerEquals(name, a.name)) return &a;
  }
  return nullptr;
}

std::string Describe(std::string_view product, std::string_view category,
                     std::string_view service) {
  std::string s;
  s += product.empty() ? "-" : product;
  s += '/';
  s += category.empty() ? "-" : category;
  s += '/';
  s += service.empty() ? "-" : service;
  return s;
}

}  // namespace

bool MapLogsource(std::string_view product, std::string_view category, std::string_view service,
                  LogsourceMapping* out, std::string* reason) {
  out->alts.clear();
  const std::string p = Lower(product), c = Lower(category), s = Lower(service);
  if (p == "seccloud") {
    if (s.empty()) {
      *reason = "product seccloud needs service (= event.dataset)";
      return false;
    }
    out->style = FieldStyle::kPlain;
    out->alts.push_back({.dataset = s});
    return true;
  }
  if (c == "antivirus" && (p.empty() || p == "windows")) {
    out->style = FieldStyle::kAntivirus;
    out->alts.push_back({.dataset = "scan.detection"});
    out->alts.push_back({.channel = kDefender, .event_ids = {1006, 1116}});
    return true;
  }
  if (p == "windows") {
    out->style = FieldStyle::kWindows;
    if (!c.empty()) {
      bool found = false;
      for (const auto& wc : kWindowsCategories) {
        if (c == wc.category) {
          out->alts.push_back({.channel = wc.channel, .event_ids = wc.event_ids});
          found = true;
        }
      }
      if (!found) {
        *reason = "windows category " + c + " has no event source (no Sysmon/Security mapping)";
        return false;
      }
      if (c == "process_creation")
        out->alts.push_back({.channel = "security", .event_ids = {4688}});
      if (!s.empty()) {
        // category + service: the category's events, from that service's channel only.
        for (const auto& ws : kWindowsServices) {
          if (s == ws.service) {
            std::vector<LogsourceAlt> narrowed;
            for (auto& alt : out->alts) {
              for (const char* ch : ws.channels) {
                if (alt.channel == ch) narrowed.push_back(alt);
              }
            }
            out->alts = std::move(narrowed);
          }
        }
        if (out->alts.empty()) {
          *reason = "windows category " + c + " with service " + s + " admits no channel";
          return false;
        }
      }
      return true;
    }
    if (!s.empty()) {
      for (const auto& ws : kWindowsServices) {
        if (s == ws.service) {
          for (const char* ch : ws.channels) out->alts.push_back({.channel = ch});
          return true;
        }
      }
      *reason = "windows service " + s + " is not mapped to a channel";
      return false;
    }
    for (const char* ds : kAllWindowsDatasets) out->alts.push_back({.dataset = ds});
    return true;
  }
  for (const auto& cs : kCloudServices) {
    if (p == cs.product && s == cs.service) {
      out->style = FieldStyle::kPlain;
      out->alts.push_back({.dataset = cs.dataset});
      return true;
    }
  }
  for (const auto& dc : kDatasetCategories) {
    if (c == dc.category) {
      out->style = dc.style;
      for (const char* ds : dc.datasets) out->alts.push_back({.dataset = ds});
      return true;
    }
  }
  if (p == "linux") {
    out->style = FieldStyle::kPlain;
    if (!c.empty()) {
      // Sysmon for Linux's events (parse_sysmon.cc), read as Windows Sysmon's are.
      for (const auto& lc : kLinuxSysmonCategories) {
        if (c == lc.category) {
          out->style = FieldStyle::kWindows;
          out->alts.push_back({.channel = kLinuxSysmon, .event_ids = lc.event_ids});
          return true;
        }
      }
      *reason = "linux category " + c + " has no source (Sysmon for Linux has no such event)";
      return false;
    }
    if (s == "auditd") {
      out->style = FieldStyle::kAuditd;
      out->alts.push_back({.dataset = "auditd.log"});
      return true;
    }
    if (s.empty()) {
      out->alts.push_back({.dataset = "system.auth"});
      out->alts.push_back({.dataset = "system.syslog"});
      return true;
    }
    for (const auto& ls : kLinuxServices) {
      if (s == ls.service) {
        LogsourceAlt alt{.dataset = ls.dataset};
        for (const char* pn : ls.process_names) alt.process_names.push_back(pn);
        out->alts.push_back(std::move(alt));
        return true;
      }
    }
    *reason = "linux service " + s + " has no source (its application log is not parsed)";
    return false;
  }
  for (const char* ws : kWebServices) {
    if (s == ws || p == ws) {
      out->style = FieldStyle::kWebserver;
      out->alts.push_back({.dataset = "web.access"});
      out->alts.push_back({.dataset = "web.error"});
      return true;
    }
  }
  if (p == "azure") {
    // Entra ID's other logs: SigmaHQ's rules name fields that no one export has.
    if (s == "pim") {
      *reason =
          "azure/pim rules name riskEventType with PIM alert names; Graph's PIM alerts "
          "(roleManagementAlerts) name them alertDefinitionId and no export has riskEventType";
      return false;
    }
    if (s == "signinlogs" || s == "auditlogs") {
      *reason = "azure/" + s +
                " rules mix Log Analytics' column names (ResultType, OperationName) with Graph's "
                "and the export's (properties.*), no one export has them all";
      return false;
    }
  }
  *reason = Describe(p, c, s) + " has no source in seccloud";
  return false;
}

std::vector<std::string> MapFieldName(FieldStyle style, std::string_view name) {
  const FieldAlias* alias = nullptr;
  switch (style) {
    case FieldStyle::kWindows:
      if (name.find('.') != std::string_view::npos) return {std::string(name)};
      alias = FindAlias(kWindowsSystemFields, name);
      if (alias == nullptr) return {"winlog.event_data." + std::string(name)};
      break;
    case FieldStyle::kProxy:
      alias = FindAlias(kProxyFields, name);
      break;
    case FieldStyle::kWebserver:
      alias = FindAlias(kWebserverFields, name);
      break;
    case FieldStyle::kDns:
      alias = FindAlias(kDnsFields, name);
      break;
    case FieldStyle::kFirewall:
      alias = FindAlias(kFirewallFields, name);
      break;
    case FieldStyle::kAntivirus:
      alias = FindAlias(kAntivirusFields, name);
      break;
    case FieldStyle::kAuditd:
      if (name.find('.') != std::string_view::npos) return {std::string(name)};
      if (name == "type") return {"auditd.log.record_type"};
      return {"auditd.log." + std::string(name)};
    case FieldStyle::kPlain:
      // Syslog parsers write host.hostname where seccloud's own events write host.name.
      if (name == "host.name") return {"host.name", "host.hostname"};
      break;
  }
  if (alias == nullptr) return {std::string(name)};
  return std::vector<std::string>(alias->paths.begin(), alias->paths.end());
}

}  // namespace seccloud::soc::sigma_internal
