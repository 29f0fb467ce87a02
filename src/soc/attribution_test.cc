// Tenant attribution (R18, R26): soc::Attributor, the rule socd's pipeline and soc_store_bench use.

#include "soc/attribution.h"

#include <gtest/gtest.h>

#include "core/ip.h"
#include "soc/field_view.h"
#include "soc/parse.h"

namespace seccloud::soc {
namespace {

// Two tenants: tsu owns 10.1.0.0/16, ise 10.2.0.0/16 (or, with `swap`, the other way round).
std::shared_ptr<const TenantRegistry> Tenants(bool swap = false) {
  std::vector<Tenant> tenants;
  const char* ids[] = {"tsu", "ise"};
  for (int i = 0; i < 2; ++i) {
    Tenant t;
    t.id = ids[swap ? 1 - i : i];
    t.display_name = t.id;
    t.networks.push_back(*IpPrefix::Parse("10." + std::to_string(i + 1) + ".0.0/16"));
    tenants.push_back(std::move(t));
  }
  auto r = TenantRegistry::Build(std::move(tenants), nullptr);
  EXPECT_TRUE(r) << r.error().ToString();
  return *r;
}

Record Normalized(Format format, std::string raw, std::string peer = "") {
  Record r;
  r.format = format;
  r.source = "test";
  r.raw = std::move(raw);
  r.peer = std::move(peer);
  Normalize(r);
  EXPECT_TRUE(r.parsed) << r.raw;
  return r;
}

std::string TenantField(const Record& r) {
  FieldView v;
  v.Reset(r);
  const FieldRef t = v.Find("tenant.id");
  return t.is_string() ? std::string(t.str()) : std::string("(none)");
}

constexpr const char* kSshd =
    "<38>Nov 28 10:00:00 host sshd[1]: Failed password for root from 10.2.3.4 port 22 ssh2";

TEST(AttributionTest, AnEventsOwnKnownTenantWins) {
  auto tenants = Tenants();
  Attributor a;
  Record r =
      Normalized(Format::kSeccloudEvent,
                 R"({"@timestamp":"2026-11-28T10:00:00Z","event":{"dataset":"proxy.access"},)"
                 R"("tenant":{"id":"ise"},"source":{"ip":"10.1.0.5"}})",
                 "10.1.9.9");
  a.Attribute(r, tenants);
  EXPECT_EQ(r.tenant, "ise");  // not the sender's nor source.ip's owner (tsu)
  EXPECT_TRUE(r.fields_pending());
}

TEST(AttributionTest, AnUnknownOwnTenantLeavesTheRecordUnattributed) {
  auto tenants = Tenants();
  Attributor a;
  Record r =
      Normalized(Format::kSeccloudEvent,
                 R"({"@timestamp":"2026-11-28T10:00:00Z","event":{"dataset":"proxy.access"},)"
                 R"("tenant":{"id":"nowhere"},"source":{"ip":"10.1.0.5"}})",
                 "10.1.9.9");
  a.Attribute(r, tenants);
  EXPECT_EQ(r.tenant, "");
}

TEST(AttributionTest, TheSendersOwnerComesBeforeTheAddressesInTheRecord) {
  auto tenants = Tenants();
  Attributor a;
  Record r = Normalized(Format::kSyslog, kSshd, "10.1.0.7");  // sent by tsu, about ise's address
  a.Attribute(r, tenants);
  EXPECT_EQ(r.tenant, "tsu");
  EXPECT_EQ(TenantField(r), "tsu");
  EXPECT_TRUE(r.fields_pending());
}

TEST(AttributionTest, AnUnownedSenderFallsBackToTheRecordsAddresses) {
  auto tenants = Tenants();
  Attributor a;
  Record r = Normalized(Format::kSyslog, kSshd, "192.0.2.1");
  a.Attribute(r, tenants);
  EXPECT_EQ(r.tenant, "ise");  // source.ip 10.2.3.4
  EXPECT_EQ(TenantField(r), "ise");
  Record none = Normalized(Format::kSyslog,
                           "<38>Nov 28 10:00:00 host sshd[1]: Failed password for root from "
                           "192.0.2.9 port 22 ssh2",
                           "192.0.2.1");
  a.Attribute(none, tenants);
  EXPECT_EQ(none.tenant, "");
}

TEST(AttributionTest, ARecordWithATenantIsLeftAlone) {
  auto tenants = Tenants();
  Attributor a;
  Record r = Normalized(Format::kSyslog, kSshd, "10.1.0.7");
  r.tenant = "given";
  a.Attribute(r, tenants);
  EXPECT_EQ(r.tenant, "given");
}

// The sender cache: the same sender in a new registry (a reload that moved its network to another
// tenant) is looked up again; another sender in the same registry too.
TEST(AttributionTest, TheSendersOwnerFollowsAReloadAndANewSender) {
  auto before = Tenants();
  auto after = Tenants(/*swap=*/true);
  Attributor a;
  Record r1 = Normalized(Format::kSyslog, kSshd, "10.1.0.7");
  a.Attribute(r1, before);
  EXPECT_EQ(r1.tenant, "tsu");
  Record r2 = Normalized(Format::kSyslog, kSshd, "10.1.0.7");
  a.Attribute(r2, after);
  EXPECT_EQ(r2.tenant, "ise");
  Record r3 = Normalized(Format::kSyslog, kSshd, "10.2.0.7");
  a.Attribute(r3, after);
  EXPECT_EQ(r3.tenant, "tsu");
  Record r4 = Normalized(Format::kSyslog, kSshd, "192.0.2.1");  // unowned: falls back
  a.Attribute(r4, after);
  EXPECT_EQ(r4.tenant, "tsu");  // 10.2.3.4 belongs to tsu after the swap
}

// An address is read as IpAddress::Parse reads it (the attributor reads dotted quads itself and
// hands other text to Parse): every spelling below, and random ones over digits and dots, gets
// the owner Parse's address has — none when Parse refuses the text (leading zeros, octets past
// 255, too few or many octets) — with networks where each octet of an IPv4 address decides.
TEST(AttributionTest, AddressesAreReadAsIpAddressParseReadsThem) {
  // Networks narrow enough that every octet decides the owner (two /25 halves of 10.3.2.0/24
  // owned by different tenants, a /32), and an IPv6 one (the text goes to IpAddress::Parse).
  std::vector<Tenant> list;
  const std::pair<const char*, std::vector<const char*>> owned[] = {
      {"tsu", {"10.1.0.0/16", "10.3.2.0/25", "2001:db8:1::/48"}},
      {"ise", {"10.2.0.0/16", "10.3.2.128/25", "10.4.5.6/32"}}};
  for (const auto& [id, nets] : owned) {
    Tenant t;
    t.id = t.display_name = id;
    for (const char* n : nets) t.networks.push_back(*IpPrefix::Parse(n));
    list.push_back(std::move(t));
  }
  auto built = TenantRegistry::Build(std::move(list), nullptr);
  ASSERT_TRUE(built) << built.error().ToString();
  const std::shared_ptr<const TenantRegistry> tenants = *built;
  std::vector<std::string> texts = {
      "10.3.2.0",        "10.3.2.127",      "10.3.2.128",      "10.3.2.255",
      "10.3.3.1",        "10.3.1.255",      "10.4.5.6",        "10.4.5.7",
      "10.4.6.6",        "6.5.4.10",        "2001:db8:1::1",   "2001:db8:1:ffff::",
      "2001:db8:2::1",   "2001:DB8:1::a",   "::ffff:10.3.2.1", "2001:db8:1::1%eth0",
      "[2001:db8:1::1]", "2001:db8:1::1::", "10.1.2.3",        "10.2.255.255",
      "10.1.0.0",        "10.01.2.3",       "010.1.2.3",       "10.1.2.03",
      "10.1.2.256",      "10.1.2.999",      "10.1.2",          "10.1.2.3.4",
      "10.1.2.",         ".10.1.2.3",       "10..1.2",         "10.1.2.3 ",
      " 10.1.2.3",       "10.1.2.1000",     "10.1.2.0003",     "3.2.1.10",
      "1.10.3.2",        "::ffff:10.1.2.3", "10.1.2.3%eth0",   "[10.1.2.3]",
      "10.2.0.0",        "10.2.300.1",      "0.0.0.0",         "255.255.255.255",
      "10.1.2.3x",       "10.1.2.+3",       "10.1.2.-3",       "1e1.1.2.3"};
  uint64_t x = 0x9E3779B97F4A7C15u;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 3000; ++i) {
    // Dotted quads around the owned networks, with the octets' edge values and spellings.
    static constexpr const char* kOctets[] = {"0",   "1",   "2",   "9",   "10",   "01",  "00",
                                              "255", "256", "199", "099", "1000", "127", "128",
                                              "3",   "4",   "5",   "6",   "7",    ""};
    // The first three octets often one of the owned networks' (10.1.x, 10.2.x, 10.3.2, 10.4.5).
    static constexpr const char* kPrefixes[][3] = {
        {"10", "1", ""}, {"10", "2", ""}, {"10", "3", "2"}, {"10", "4", "5"}};
    const auto& prefix = kPrefixes[next() % std::size(kPrefixes)];
    std::string t;
    const int octets = 3 + static_cast<int>(next() % 3);
    for (int k = 0; k < octets; ++k) {
      if (k != 0) t += '.';
      t += k < 3 && *prefix[k] != '\0' && next() % 4 != 0 ? prefix[k]
                                                          : kOctets[next() % std::size(kOctets)];
    }
    texts.push_back(std::move(t));
  }
  Attributor a;
  for (const std::string& text : texts) {
    Record r =
        Normalized(Format::kJson, "{\"source\":{\"ip\":\"" + text + "\"},\"message\":\"m\"}");
    FieldView v(r);
    const FieldRef ip = v.Find("source.ip");
    const Tenant* owner = nullptr;
    if (ip.is_string()) {
      if (auto parsed = IpAddress::Parse(ip.str())) owner = tenants->Lookup(*parsed);
    }
    a.Attribute(r, tenants);
    EXPECT_EQ(r.tenant, owner != nullptr ? owner->id : "") << "\"" << text << "\"";
  }
}

}  // namespace
}  // namespace seccloud::soc
