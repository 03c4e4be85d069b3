// The hypervisor console (base/log.cpp): guests' lines are prefixed and never interleave; a
// partial line (a prompt) is shown at once and continued by the same guest's next output.
#include <catch2/catch.hpp>

#include "base/log.hpp"
#include "fake_arch.hpp"

using namespace corvisor;

TEST_CASE("A guest's partial line is continued by its own output and closed by anyone else's",
          "[console]") {
    const int a = 0;
    const int b = 0;
    fake::console_output().clear();
    console::guest_partial("a", "=> ", &a);
    CHECK(fake::console_output() == "[a] => ");
    console::guest_partial("a", "ec", &a);
    console::guest_line("a", "ho hi", &a);
    CHECK(fake::console_output() == "[a] => echo hi\n");

    fake::console_output().clear();
    console::guest_partial("a", "~ # ", &a);
    console::guest_line("b", "beat 1", &b);  // another guest: a's line is closed first
    console::guest_partial("a", "ls", &a);
    console::line(LogLevel::kInfo, "hello");  // the hypervisor closes it too
    CHECK(fake::console_output() == "[a] ~ # \n[b] beat 1\n[a] ls\ncorvisor: hello\n");
}
