# Compiles the device example of docs/devices.md (the first ```cpp block that starts with
# `class MyDevice`) against the public headers, so the guide for device authors cannot drift
# from the API. Run by CTest:
#   cmake -DGUIDE=docs/devices.md -DCXX=... -DINCLUDE=... -DOUT=... -P guide_example.cmake
file(READ "${GUIDE}" text)
string(FIND "${text}" "```cpp\nclass MyDevice" start)
if(start EQUAL -1)
    message(FATAL_ERROR "${GUIDE} has no device example (```cpp block starting with class MyDevice)")
endif()
math(EXPR start "${start} + 7")
string(SUBSTRING "${text}" ${start} -1 rest)
string(FIND "${rest}" "```" stop)
string(SUBSTRING "${rest}" 0 ${stop} example)
file(WRITE "${OUT}" "#include <new>\n#include \"corvisor/device.hpp\"\n${example}")
execute_process(
    COMMAND "${CXX}" -std=gnu++20 -Wall -Wextra -Werror -fsyntax-only -I${INCLUDE} "${OUT}"
    RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "the device example of ${GUIDE} does not compile against include/corvisor")
endif()
message(STATUS "device guide example compiles")
