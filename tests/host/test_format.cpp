#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "base/format.hpp"

using namespace corvisor;

namespace {
template <class... Args>
std::string fmt(std::string_view f, const Args&... args) {
    char buf[128];
    FormatBuffer b(buf, sizeof buf);
    format_to(b, f, args...);
    return std::string(b.view());
}
}  // namespace

TEST_CASE("formatter substitutes integers, hex, strings and booleans", "[el2]") {
    CHECK(fmt("guest {} stopped at {} (esr {})", "hello", 42u, hex(0x92000046)) ==
          "guest hello stopped at 42 (esr 0x92000046)");
    CHECK(fmt("{} {} {}", -5, std::numeric_limits<std::int64_t>::min(), true) ==
          "-5 -9223372036854775808 true");
    CHECK(fmt("{}", hex(0)) == "0x0");
    CHECK(fmt("{{}} {}", std::string_view("x")) == "{} x");
}

TEST_CASE("formatter never overflows and marks missing arguments", "[el2]") {
    CHECK(fmt("{} {}", 1) == "1 {?}");
    char small[4];
    FormatBuffer b(small, sizeof small);
    format_to(b, "abcdef {}", 123456);
    CHECK(b.view() == "abcd");
}
