// The rate limit of a guest's event lines on the hypervisor console: a token bucket, so that a
// hostile guest cannot flood the console, yet a guest that behaved for a while can be heard
// again (and is told how many lines it lost). The line that stops a guest bypasses it.
#pragma once

#include <cstdint>

namespace corvisor {

class EventLimiter {
public:
    static constexpr std::uint32_t kBurst = 16;  ///< lines at once, after a quiet period

    /// One line's token comes back every `refill_ticks` of the counter.
    explicit EventLimiter(std::uint64_t refill_ticks) : refill_ticks_(refill_ticks) {}

    /// Whether a line may be printed at `now`. When it may, `suppressed` is how many lines were
    /// dropped since the last one printed (to say so first), and the count starts again.
    bool admit(std::uint64_t now, std::uint32_t& suppressed) {
        refill(now);
        if (tokens_ == 0) {
            ++suppressed_;
            return false;
        }
        --tokens_;
        suppressed = suppressed_;
        suppressed_ = 0;
        return true;
    }

    /// A line printed whatever the budget (it still reports what was dropped before it).
    std::uint32_t take_suppressed() {
        const std::uint32_t n = suppressed_;
        suppressed_ = 0;
        return n;
    }

private:
    void refill(std::uint64_t now) {
        if (!started_) {
            started_ = true;
            last_ = now;
            return;
        }
        if (refill_ticks_ == 0 || now <= last_) {
            return;
        }
        const std::uint64_t earned = (now - last_) / refill_ticks_;
        if (earned == 0) {
            return;
        }
        tokens_ =
            earned >= kBurst - tokens_ ? kBurst : tokens_ + static_cast<std::uint32_t>(earned);
        last_ += earned * refill_ticks_;
    }

    std::uint64_t refill_ticks_;
    std::uint64_t last_ = 0;
    std::uint32_t tokens_ = kBurst;
    std::uint32_t suppressed_ = 0;
    bool started_ = false;
};

}  // namespace corvisor
