// Parser for the benchmark guest's output (docs/benchmarks.md):
//   BENCH name=<n> iters=<i> min=<t> median=<t> mean=<t> p99=<t> unit=ticks
//   BENCH hist name=<n> bins=<lo>-<hi>:<count>,<lo>-<hi>:<count>,...
//   BENCH skip name=<n> reason=<free text>
//   BENCH done
// A hist line (the interrupt figures) follows its figure's line: bins in increasing order, bounds
// inclusive, counts summing to the figure's iters.
// A log is whatever the serial console printed: other lines are ignored, and a malformed BENCH
// line becomes a warning instead of stopping the report; so does a hist line that does not fit its
// figure (no figure line before it, a second hist, counts not summing to iters).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corvisor::bench {

/// One histogram bin: `count` samples in [lo, hi].
struct Bin {
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    std::uint64_t count = 0;

    friend bool operator==(const Bin&, const Bin&) = default;
};

/// One measured figure, in the guest's unit (ticks; instructions under -icount shift=4).
struct Figure {
    std::string name;
    std::uint64_t iters = 0;
    std::uint64_t min = 0;
    std::uint64_t median = 0;
    std::uint64_t mean = 0;
    std::uint64_t p99 = 0;
    std::string unit = "ticks";
    std::vector<Bin> hist;  ///< from its `BENCH hist` line; empty when there is none
};

/// A `BENCH hist` line, before it is attached to its figure.
struct Hist {
    std::string name;
    std::vector<Bin> bins;  ///< increasing, not overlapping, at least one
};

/// A figure the guest could not measure on this system (e.g. the access faulted).
struct Skip {
    std::string name;
    std::string reason;
};

struct Warning {
    std::size_t line = 0;  ///< 1-based line number in the log
    std::string message;
};

/// Everything one log says, figures in the order the guest printed them.
struct Log {
    std::vector<Figure> figures;
    std::vector<Skip> skips;
    std::vector<Warning> warnings;
    std::vector<std::string> order;  ///< figure and skip names, in the order printed
    bool done = false;               ///< `BENCH done` was seen

    const Figure* find(std::string_view name) const;
    const Skip* find_skip(std::string_view name) const;
};

/// What one console line is.
struct Line {
    enum class Kind { kOther, kFigure, kHist, kSkip, kDone, kMalformed };
    Kind kind = Kind::kOther;
    Figure figure;        ///< kFigure
    Hist hist;            ///< kHist
    Skip skip;            ///< kSkip
    std::string problem;  ///< kMalformed: why
};

/// Classify one line. Tolerates a trailing CR, NULs and surrounding blanks, and the "[guest] "
/// prefix corvisor's console puts on guest output.
Line parse_line(std::string_view line);

/// Parse a whole log. A figure printed twice keeps its first value (with a warning); a BENCH line
/// after `BENCH done` is still taken, with a warning. A hist line goes to the figure of its name
/// already parsed; one that has no such figure, comes a second time or whose counts do not sum to
/// the figure's iters is dropped with a warning.
Log parse_log(std::string_view text);

/// Unsigned decimal, the whole of `s` (no sign, no blanks, no overflow).
std::optional<std::uint64_t> parse_u64(std::string_view s);

}  // namespace corvisor::bench
