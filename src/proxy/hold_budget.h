// Internal to the proxy module: the bytes held for the malware scan against
// proxy.scan.hold_budget (uploads and responses alike). Not a public header.

#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

namespace seccloud::proxy::proxy_internal {

// A HoldBudget::Take limit for bytes that are held whatever the budget says.
constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

// The bytes of all bodies held for the scan at once — uploads and responses — against
// proxy.scan.hold_budget. One for the process, not one per worker: the memory is the process's,
// and SO_REUSEPORT spreads connections over the workers by a hash, so a worker's share could
// refuse a hold while the others hold nothing. It is touched once per read of a held body. Safe
// for concurrent use.
class HoldBudget {
 public:
  // Takes `n` bytes when the bytes held stay within `limit`; false (nothing taken) otherwise.
  bool Take(uint64_t n, uint64_t limit) {
    uint64_t now = held_.load(std::memory_order_relaxed);
    do {
      if (n > limit || now > limit - n) return false;
    } while (!held_.compare_exchange_weak(now, now + n, std::memory_order_relaxed));
    return true;
  }
  void Give(uint64_t n) { held_.fetch_sub(n, std::memory_order_relaxed); }
  uint64_t held() const { return held_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> held_{0};
};

// The bytes one held body (an upload or a response) has of the HoldBudget. They go back when it
// is destroyed — whatever ended the hold: released, blocked, a side gone, a deadline, the proxy
// stopping — or at Give.
struct HoldShare {
  HoldShare() = default;
  HoldShare(const HoldShare&) = delete;
  HoldShare& operator=(const HoldShare&) = delete;
  ~HoldShare() { Give(); }

  // Takes `n` more bytes of the budget for this hold; false when the budget has not got them.
  bool Take(HoldBudget& from, uint64_t n, uint64_t limit) {
    if (!from.Take(n, limit)) {
      over_budget = true;
      wanted = taken + n;
      return false;
    }
    budget = &from;
    taken += n;
    return true;
  }
  // The hold has `after` bytes now. Only those up to `max_size` must fit in `limit`: the read
  // that passes max_size ends the hold (the body is too large to scan and streams), and what it
  // brought beyond — less than one chunk — is taken without the check, or a budget of max_size
  // would refuse every chunked body larger than max_size instead of streaming it. False (and
  // over_budget) when the bytes up to max_size do not fit.
  bool Grow(HoldBudget& from, uint64_t after, uint64_t max_size, uint64_t limit) {
    const uint64_t scanned = std::min(after, max_size);
    if (scanned > taken && !Take(from, scanned - taken, limit)) return false;
    if (after > taken) Take(from, after - taken, kNoLimit);
    return true;
  }
  void Give() {
    if (budget != nullptr) budget->Give(taken);
    taken = 0;
  }
  // The bytes the other holds of `b` have now (for the refusal's text).
  uint64_t OthersIn(const HoldBudget& b) const {
    const uint64_t held = b.held();
    return held > taken ? held - taken : 0;
  }

  bool over_budget = false;  // refused: proxy.scan.hold_budget is taken by other holds
  HoldBudget* budget = nullptr;
  uint64_t taken = 0;   // bytes of `budget` this hold has
  uint64_t wanted = 0;  // over_budget: the bytes the hold would have had
};

}  // namespace seccloud::proxy::proxy_internal
