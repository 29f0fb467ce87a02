#include "socd/socd.h"

#include <gtest/gtest.h>

namespace seccloud::socd {
namespace {

SocInputConfig Input(const char* name, SocInputConfig::Protocol protocol) {
  SocInputConfig c;
  c.name = name;
  c.protocol = protocol;
  return c;
}

// Review of socd12: the reserve was computed inline in RunSocService, and nothing checked it.
TEST(DatagramReserveTest, AQuarterOfTheRecordSlotsWithAUdpInputAndNoneWithout) {
  SocConfig sc;
  sc.queue_records = 200'000;
  EXPECT_EQ(DatagramReserve(sc), 0u);  // no input at all
  sc.inputs.push_back(Input("lines", SocInputConfig::Protocol::kTcp));
  sc.inputs.push_back(Input("tls", SocInputConfig::Protocol::kTls));
  sc.inputs.push_back(Input("spool", SocInputConfig::Protocol::kFile));
  EXPECT_EQ(DatagramReserve(sc), 0u);
  sc.inputs.push_back(Input("udp", SocInputConfig::Protocol::kUdp));
  EXPECT_EQ(DatagramReserve(sc), 50'000u);
  sc.queue_records = 10;
  EXPECT_EQ(DatagramReserve(sc), 2u);  // rounded down
  sc.queue_records = 3;
  EXPECT_EQ(DatagramReserve(sc), 0u);
  sc.inputs = {Input("udp", SocInputConfig::Protocol::kUdp)};  // a udp input alone
  sc.queue_records = 1'000;
  EXPECT_EQ(DatagramReserve(sc), 250u);
}

}  // namespace
}  // namespace seccloud::socd
