// R18/R24: the asynchronous hand-off keeps every event and applies back-pressure when full.
#include "core/event_queue.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "core/spool_reader.h"

namespace seccloud {
namespace {

namespace fs = std::filesystem;

TEST(EventQueueTest, EveryPushedEventReachesTheSpoolInOrder) {
  fs::path dir = fs::temp_directory_path() / ("seccloud-eq-" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto writer = EventWriter::Open(EventWriterOptions{dir, "gw1/proxy"});
  ASSERT_TRUE(writer) << writer.error().ToString();
  MetricsRegistry metrics;
  Health health;
  {
    EventQueue queue(writer->get(), 16, &metrics, &health);  // small: producers block often
    std::vector<std::thread> producers;
    for (int t = 0; t < 4; ++t) {
      producers.emplace_back([&queue, t] {
        for (int i = 0; i < 500; ++i) {
          Event e = Event::Make("proxy.access", "event", "allowed", Outcome::kSuccess);
          e.Set("labels.producer", static_cast<int64_t>(t));
          e.Set("labels.n", static_cast<int64_t>(i));
          queue.Push(std::move(e));
        }
      });
    }
    for (auto& p : producers) p.join();
    queue.Flush();
    EXPECT_EQ((*writer)->stats().appended, 2000u);
    EXPECT_TRUE(health.healthy());
  }
  auto reader = SpoolReader::Open(dir, "proxy");
  ASSERT_TRUE(reader);
  std::vector<int64_t> last(4, -1);
  size_t count = 0;
  while (true) {
    auto r = (*reader)->Next();
    ASSERT_TRUE(r) << r.error().ToString();
    if (!*r) break;
    const auto& labels = (*r)->event.at("labels").as_object();
    const int64_t p = labels.at("producer").as_int64(), n = labels.at("n").as_int64();
    EXPECT_EQ(n, last[p] + 1) << "per-producer order";
    last[p] = n;
    ++count;
  }
  EXPECT_EQ(count, 2000u);
  EXPECT_NE(metrics.RenderPrometheus().find("seccloud_events_appended_total 2000"),
            std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace seccloud
