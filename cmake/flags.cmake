# Warning and code-generation flags shared by every target of the project.
set(CORVISOR_WARNINGS -Wall -Wextra -Wshadow -Wconversion -Werror)

# Freestanding flags (docs/platform.md). -foptimize-sibling-calls: symmetric transfer
# must be a tail call in every build type or the EL2 stack grows per transfer.
set(CORVISOR_FREESTANDING_FLAGS
    -ffreestanding -fno-pie -fno-asynchronous-unwind-tables -fno-unwind-tables
    -fno-stack-protector -mno-outline-atomics -foptimize-sibling-calls -ffunction-sections
    -fdata-sections -mcpu=cortex-a57)
set(CORVISOR_FREESTANDING_CXX_FLAGS
    -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-use-cxa-atexit)
