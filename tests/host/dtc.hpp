// Device trees for the host tests: dtc (Debian's device-tree-compiler) turns DTS into a blob;
// /incbin/ paths resolve in tests/host/data (CORVISOR_TEST_DATA).
#pragma once

#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace corvisor::test {

/// The blob of the DTS file at `path`; fails the test if dtc does.
inline std::vector<std::uint8_t> compile_dts_file(const std::string& path) {
    const std::string command =
        std::string("dtc -q -I dts -O dtb -i ") + CORVISOR_TEST_DATA + " " + path;
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::vector<std::uint8_t> blob;
    std::array<std::uint8_t, 4096> chunk{};
    for (std::size_t n; (n = fread(chunk.data(), 1, chunk.size(), pipe)) != 0;) {
        blob.insert(blob.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    }
    const int status = pclose(pipe);
    INFO(path);
    REQUIRE(status == 0);
    REQUIRE(!blob.empty());
    return blob;
}

/// The blob of DTS `source` text (through a temporary file).
inline std::vector<std::uint8_t> compile_dts(const std::string& source) {
    char path[] = "/tmp/corvisor-dts-XXXXXX.dts";
    const int fd = mkstemps(path, 4);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, source.data(), source.size()) == static_cast<ssize_t>(source.size()));
    close(fd);
    INFO(source);
    struct Unlink {
        const char* path;
        ~Unlink() { unlink(path); }
    } unlink_on_exit{path};
    return compile_dts_file(path);
}

inline std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace corvisor::test
