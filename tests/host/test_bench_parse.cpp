// The benchmark-log parser of tools/bench_report (tools/bench_parse.cpp).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "bench_parse.hpp"

using corvisor::bench::Line;
using corvisor::bench::parse_line;
using corvisor::bench::parse_log;
using corvisor::bench::parse_u64;

TEST_CASE("bench_parse: a figure line", "[bench]") {
    Line l =
        parse_line("BENCH name=hvc iters=10000 min=129 median=130 mean=131 p99=180 unit=ticks");
    REQUIRE(l.kind == Line::Kind::kFigure);
    CHECK(l.figure.name == "hvc");
    CHECK(l.figure.iters == 10000);
    CHECK(l.figure.min == 129);
    CHECK(l.figure.median == 130);
    CHECK(l.figure.mean == 131);
    CHECK(l.figure.p99 == 180);
    CHECK(l.figure.unit == "ticks");
}

TEST_CASE("bench_parse: console noise around a line", "[bench]") {
    // CR from the serial line, NULs the guest wrote to UARTDR, corvisor's guest prefix.
    std::string noisy = std::string(3, '\0') +
                        "[bench] BENCH name=x iters=1 min=1 median=1 "
                        "mean=1 p99=1 unit=ticks\r";
    Line l = parse_line(noisy);
    REQUIRE(l.kind == Line::Kind::kFigure);
    CHECK(l.figure.name == "x");
    CHECK(parse_line("  BENCH done \r").kind == Line::Kind::kDone);
    CHECK(parse_line("[bench] BENCH done").kind == Line::Kind::kDone);
    // Unknown keys are tolerated; unit defaults to ticks.
    Line extra = parse_line("BENCH name=y iters=2 min=1 median=2 mean=2 p99=3 max=9");
    REQUIRE(extra.kind == Line::Kind::kFigure);
    CHECK(extra.figure.unit == "ticks");
}

TEST_CASE("bench_parse: other lines are not BENCH lines", "[bench]") {
    CHECK(parse_line("").kind == Line::Kind::kOther);
    CHECK(parse_line("bench: conduit=hvc uart=0x9000000").kind == Line::Kind::kOther);
    CHECK(parse_line("BENCHMARK name=x").kind == Line::Kind::kOther);
    CHECK(parse_line("corvisor: guest bench: powered off").kind == Line::Kind::kOther);
}

TEST_CASE("bench_parse: skip lines keep the whole reason", "[bench]") {
    Line l = parse_line(
        "[bench] BENCH skip name=mmio_read_vgic reason=exception ec=0x25 "
        "esr=0x96000010");
    REQUIRE(l.kind == Line::Kind::kSkip);
    CHECK(l.skip.name == "mmio_read_vgic");
    CHECK(l.skip.reason == "exception ec=0x25 esr=0x96000010");
    Line bare = parse_line("BENCH skip name=ipi");
    REQUIRE(bare.kind == Line::Kind::kSkip);
    CHECK(bare.skip.reason == "unspecified");
    CHECK(parse_line("BENCH skip reason=x").kind == Line::Kind::kMalformed);
}

TEST_CASE("bench_parse: malformed figure lines", "[bench]") {
    auto kind = [](const char* s) { return parse_line(s).kind; };
    const auto bad = Line::Kind::kMalformed;
    CHECK(kind("BENCH") == bad);
    CHECK(kind("BENCH done now") == bad);
    CHECK(kind("BENCH name=hvc iters=10 min=1 median=2 mean=2") == bad);         // no p99
    CHECK(kind("BENCH name=hvc iters=10 min=1 median=x mean=2 p99=3") == bad);   // not a number
    CHECK(kind("BENCH name=hvc iters=10 min=-1 median=2 mean=2 p99=3") == bad);  // sign
    CHECK(kind("BENCH name=hvc iters=10 min=1 median=2 mean=2 p99=3 p99=4") == bad);  // twice
    CHECK(kind("BENCH name=hvc iters=0 min=1 median=2 mean=2 p99=3") == bad);         // no samples
    CHECK(kind("BENCH name=hvc iters=10 min=5 median=2 mean=2 p99=3") == bad);   // min > median
    CHECK(kind("BENCH name=hvc iters=10 min=1 median=4 mean=2 p99=3") == bad);   // median > p99
    CHECK(kind("BENCH name=h\"v iters=10 min=1 median=2 mean=2 p99=3") == bad);  // bad name
    CHECK(kind("BENCH name=hvc iters=10 min=1 median=2 mean=2 p99=3 garbage") == bad);  // not k=v
    CHECK(kind("BENCH name=hvc iters=10 min=1 median=2 mean=2 p99=99999999999999999999") == bad);
    CHECK(parse_line("BENCH name=hvc iters=10 min=1 median=2 mean=2 p99=3").problem.empty());
}

TEST_CASE("bench_parse: parse_u64", "[bench]") {
    CHECK(parse_u64("0") == 0u);
    CHECK(parse_u64("18446744073709551615") == UINT64_MAX);
    CHECK_FALSE(parse_u64("18446744073709551616"));
    CHECK_FALSE(parse_u64(""));
    CHECK_FALSE(parse_u64("+1"));
    CHECK_FALSE(parse_u64("1 "));
    CHECK_FALSE(parse_u64("0x10"));
}

TEST_CASE("bench_parse: a whole log", "[bench]") {
    const std::string text =
        "corvisor: corvisor 0.1 at EL2\r\n"
        "[bench] BENCH name=hvc iters=100 min=129 median=129 mean=129 p99=180 unit=ticks\r\n"
        "[bench] BENCH name=hvc iters=100 min=1 median=1 mean=1 p99=1 unit=ticks\r\n"
        "[bench] BENCH name=broken iters=100\r\n"
        "[bench] BENCH skip name=mmio_read_vgic reason=exception ec=0x25\r\n"
        "[bench] BENCH done\r\n"
        "[bench] BENCH name=late iters=1 min=1 median=1 mean=1 p99=1 unit=ticks\r\n"
        "no newline at the end";
    auto log = parse_log(text);
    CHECK(log.done);
    REQUIRE(log.figures.size() == 2);
    CHECK(log.figures[0].name == "hvc");
    CHECK(log.figures[0].median == 129);  // the first report wins
    CHECK(log.figures[1].name == "late");
    REQUIRE(log.skips.size() == 1);
    CHECK(log.find_skip("mmio_read_vgic") != nullptr);
    CHECK(log.find("mmio_read_vgic") == nullptr);
    CHECK(log.order == std::vector<std::string>{"hvc", "mmio_read_vgic", "late"});
    REQUIRE(log.warnings.size() == 3);
    CHECK(log.warnings[0].line == 3);  // duplicate
    CHECK(log.warnings[1].line == 4);  // malformed
    CHECK(log.warnings[2].line == 7);  // after done
    CHECK_FALSE(parse_log("").done);
    CHECK(parse_log("BENCH name=a iters=1 min=1 median=1 mean=1 p99=1").figures.size() == 1);
}

using corvisor::bench::Bin;

TEST_CASE("bench_parse: a hist line with a single value", "[bench]") {
    Line l = parse_line("[bench] BENCH hist name=vtimer_latency bins=113-113:10000\r");
    REQUIRE(l.kind == Line::Kind::kHist);
    CHECK(l.hist.name == "vtimer_latency");
    CHECK(l.hist.bins == std::vector<Bin>{{113, 113, 10000}});

    auto log = parse_log(
        "BENCH name=vtimer_latency iters=10000 min=113 median=113 mean=113 p99=113 unit=ticks\n"
        "BENCH hist name=vtimer_latency bins=113-113:10000\n"
        "BENCH done\n");
    CHECK(log.warnings.empty());
    REQUIRE(log.figures.size() == 1);
    CHECK(log.figures[0].hist == std::vector<Bin>{{113, 113, 10000}});
    CHECK(log.order == std::vector<std::string>{"vtimer_latency"});  // not a figure of its own
}

TEST_CASE("bench_parse: a hist line with several bins", "[bench]") {
    auto log = parse_log(
        "BENCH name=hvc iters=5 min=1 median=1 mean=1 p99=1 unit=ticks\n"
        "BENCH name=wfi_wake iters=10 min=100 median=110 mean=112 p99=140 unit=ticks\n"
        "BENCH hist name=wfi_wake bins=100-109:4,110-119:3,120-129:0,130-140:3\n");
    CHECK(log.warnings.empty());
    const auto* f = log.find("wfi_wake");
    REQUIRE(f != nullptr);
    CHECK(f->hist == std::vector<Bin>{{100, 109, 4}, {110, 119, 3}, {120, 129, 0}, {130, 140, 3}});
    CHECK(log.find("hvc")->hist.empty());  // a figure without a hist line has none
    // Distinct values, not contiguous.
    Line l = parse_line("BENCH hist name=eoi bins=3-3:9990,7-7:10");
    REQUIRE(l.kind == Line::Kind::kHist);
    CHECK(l.hist.bins == std::vector<Bin>{{3, 3, 9990}, {7, 7, 10}});
}

TEST_CASE("bench_parse: hist counts must sum to iters", "[bench]") {
    auto log = parse_log(
        "BENCH name=eoi iters=10 min=3 median=3 mean=3 p99=3 unit=ticks\n"
        "BENCH hist name=eoi bins=3-3:9\n");
    REQUIRE(log.warnings.size() == 1);
    CHECK(log.warnings[0].line == 2);
    CHECK(log.warnings[0].message.find("sum to 9, not iters=10") != std::string::npos);
    CHECK(log.find("eoi")->hist.empty());
    // More than iters, and a second hist for the same figure.
    auto more = parse_log(
        "BENCH name=eoi iters=10 min=3 median=3 mean=3 p99=3 unit=ticks\n"
        "BENCH hist name=eoi bins=3-3:10\n"
        "BENCH hist name=eoi bins=3-3:11\n"
        "BENCH hist name=eoi bins=3-3:10\n");
    REQUIRE(more.warnings.size() == 2);
    CHECK(more.warnings[0].line == 3);
    CHECK(more.warnings[1].line == 4);
    CHECK(more.find("eoi")->hist == std::vector<Bin>{{3, 3, 10}});
    // Counts that overflow 64 bits.
    CHECK(parse_line("BENCH hist name=eoi bins=1-1:18446744073709551615,2-2:1").kind ==
          Line::Kind::kMalformed);
}

TEST_CASE("bench_parse: hist without a figure line", "[bench]") {
    auto log = parse_log(
        "BENCH hist name=ipi_self bins=143-143:10\n"
        "BENCH name=ipi_self iters=10 min=143 median=143 mean=143 p99=143 unit=ticks\n"
        "BENCH skip name=wfi_wake reason=no-virtual-timer\n"
        "BENCH hist name=wfi_wake bins=1-1:10\n"
        "BENCH hist name=never bins=1-1:10\n");
    REQUIRE(log.warnings.size() == 3);
    CHECK(log.warnings[0].line == 1);  // before its figure line
    CHECK(log.warnings[0].message.find("no figure line for 'ipi_self'") != std::string::npos);
    CHECK(log.warnings[1].line == 4);  // skipped figure
    CHECK(log.warnings[2].line == 5);  // never reported
    CHECK(log.find("ipi_self")->hist.empty());
    CHECK(log.find("never") == nullptr);
    CHECK(log.order == std::vector<std::string>{"ipi_self", "wfi_wake"});
}

TEST_CASE("bench_parse: malformed hist lines", "[bench]") {
    auto kind = [](const char* s) { return parse_line(s).kind; };
    const auto bad = Line::Kind::kMalformed;
    CHECK(kind("BENCH hist") == bad);
    CHECK(kind("BENCH hist bins=1-1:1") == bad);                    // no name
    CHECK(kind("BENCH hist name=eoi") == bad);                      // no bins
    CHECK(kind("BENCH hist name=eoi bins=") == bad);                // empty bins
    CHECK(kind("BENCH hist name=e\"oi bins=1-1:1") == bad);         // bad name
    CHECK(kind("BENCH hist name=eoi name=eoi bins=1-1:1") == bad);  // twice
    CHECK(kind("BENCH hist name=eoi bins=1-1:1 junk") == bad);      // not key=value
    CHECK(kind("BENCH hist name=eoi bins=1:1") == bad);             // no hi
    CHECK(kind("BENCH hist name=eoi bins=1-1") == bad);             // no count
    CHECK(kind("BENCH hist name=eoi bins=1-1:") == bad);            // empty count
    CHECK(kind("BENCH hist name=eoi bins=-1-1:1") == bad);          // empty lo
    CHECK(kind("BENCH hist name=eoi bins=1-1:x") == bad);           // not a number
    CHECK(kind("BENCH hist name=eoi bins=1:2-3") == bad);           // ':' before '-'
    CHECK(kind("BENCH hist name=eoi bins=2-1:1") == bad);           // lo > hi
    CHECK(kind("BENCH hist name=eoi bins=1-1:1,") == bad);          // trailing comma
    CHECK(kind("BENCH hist name=eoi bins=1-1:1,,2-2:1") == bad);    // empty bin
    CHECK(kind("BENCH hist name=eoi bins=1-2:1,2-3:1") == bad);     // overlap
    CHECK(kind("BENCH hist name=eoi bins=5-5:1,1-1:1") == bad);     // out of order
    CHECK(kind("BENCH hist name=eoi bins=1-1:1 bins=1-1:1") == bad);
    CHECK(parse_line("BENCH hist name=eoi bins=1-1:1,2-2:1").problem.empty());
    // In a log, a malformed hist line is a warning like any malformed BENCH line.
    auto log = parse_log(
        "BENCH name=eoi iters=1 min=1 median=1 mean=1 p99=1 unit=ticks\n"
        "BENCH hist name=eoi bins=1-1\n");
    REQUIRE(log.warnings.size() == 1);
    CHECK(log.warnings[0].message.find("malformed BENCH line skipped") == 0);
    CHECK(log.find("eoi")->hist.empty());
}
