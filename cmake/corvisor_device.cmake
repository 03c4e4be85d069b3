# corvisor_add_device(NAME SOURCES file... [TESTS file...]): a virtual device in its own folder.
# Its sources become part of the image (and of the host build of the core); its tests, if any,
# become the host test program `device_NAME_tests` (Catch2, the device test kit), each
# TEST_CASE a CTest test named `NAME.<case>`:
#   ctest --preset host -R '^NAME\.'
# A device includes only <corvisor/...> headers and its own (docs/devices.md).
function(corvisor_add_device name)
    cmake_parse_arguments(DEV "" "" "SOURCES;TESTS" ${ARGN})
    if(NOT DEV_SOURCES)
        message(FATAL_ERROR "corvisor_add_device(${name}): no SOURCES")
    endif()
    list(TRANSFORM DEV_SOURCES PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/")
    target_sources(corvisor_core PRIVATE ${DEV_SOURCES})
    set_property(GLOBAL APPEND PROPERTY CORVISOR_DEVICES ${name})
    if(DEV_TESTS AND CORVISOR_DEVICE_TESTS)
        list(TRANSFORM DEV_TESTS PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/")
        add_executable(device_${name}_tests ${DEV_TESTS} ${CORVISOR_DEVICE_TEST_MAIN})
        target_link_libraries(device_${name}_tests PRIVATE corvisor_core corvisor_testkit
                                                           Catch2::Catch2)
        target_compile_options(device_${name}_tests PRIVATE ${CORVISOR_WARNINGS})
        catch_discover_tests(device_${name}_tests TEST_PREFIX "${name}."
                             PROPERTIES FAIL_REGULAR_EXPRESSION "No test cases matched")
    endif()
endfunction()
