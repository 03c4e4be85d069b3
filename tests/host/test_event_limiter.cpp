// A guest's event lines (vm/event_limiter.hpp): a burst, then one per refill period, with the
// number of lines dropped said before the next one printed.
#include <catch2/catch.hpp>

#include "vm/event_limiter.hpp"

using namespace corvisor;

TEST_CASE("Event lines: a burst, then one per period, and the dropped ones are counted", "[vm]") {
    EventLimiter limit(100);
    std::uint32_t suppressed = 99;
    for (std::uint32_t i = 0; i < EventLimiter::kBurst; ++i) {
        REQUIRE(limit.admit(0, suppressed));
        CHECK(suppressed == 0);
    }
    CHECK_FALSE(limit.admit(10, suppressed));
    CHECK_FALSE(limit.admit(99, suppressed));
    CHECK(limit.admit(100, suppressed));  // one token back
    CHECK(suppressed == 2);               // said first, once
    CHECK_FALSE(limit.admit(150, suppressed));
    // A long quiet period refills the burst, not more.
    for (std::uint32_t i = 0; i < EventLimiter::kBurst; ++i) {
        REQUIRE(limit.admit(1'000'000, suppressed));
    }
    CHECK_FALSE(limit.admit(1'000'000, suppressed));
    // A fatal line bypasses the budget but still reports what was dropped.
    CHECK(limit.take_suppressed() == 1);
    CHECK(limit.take_suppressed() == 0);
}
