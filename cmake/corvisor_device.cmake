# corvisor_add_device(NAME SOURCES file... [TESTS file... [CATCH2]]): a virtual device in a
# folder of its own (docs/devices.md, "Building out of tree").
#
# Inside corvisor's build (devices/, or a folder named by CORVISOR_DEVICE_DIRS, which
# `./corvisor build --devices DIR` sets): the sources become part of the image and of the host
# build of the core, and in the host build the tests become the program device_NAME_tests, each
# TEST_CASE a CTest test named NAME.<case> (ctest --preset host -R '^NAME\.').
#
# In a project of its own, after find_package(corvisor): the sources and tests become the host
# test program NAME_tests, linked with corvisor::testkit (the device test kit); its tests are
# CTest tests named NAME.<case>.
#
# CATCH2: the tests use Catch2 v2 (their main comes from here); without it they bring their own
# main and each test program is one CTest test.
function(corvisor_add_device name)
    cmake_parse_arguments(DEV "CATCH2" "" "SOURCES;TESTS" ${ARGN})
    if(NOT DEV_SOURCES)
        message(FATAL_ERROR "corvisor_add_device(${name}): no SOURCES")
    endif()
    list(TRANSFORM DEV_SOURCES PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/")
    list(TRANSFORM DEV_TESTS PREPEND "${CMAKE_CURRENT_SOURCE_DIR}/")
    if(TARGET corvisor_core)
        target_sources(corvisor_core PRIVATE ${DEV_SOURCES})
        set_property(GLOBAL APPEND PROPERTY CORVISOR_DEVICES ${name})
        if(NOT DEV_TESTS OR NOT CORVISOR_DEVICE_TESTS)
            return()
        endif()
        set(program device_${name}_tests)
        add_executable(${program} ${DEV_TESTS})
        target_link_libraries(${program} PRIVATE corvisor_core corvisor_testkit)
        target_compile_options(${program} PRIVATE ${CORVISOR_WARNINGS})
        set(main ${CORVISOR_DEVICE_TEST_MAIN})
    else()
        if(NOT TARGET corvisor::testkit)
            message(FATAL_ERROR "corvisor_add_device(${name}): find_package(corvisor) first")
        endif()
        if(NOT DEV_TESTS)
            return()  # nothing to build on the host without tests
        endif()
        set(program ${name}_tests)
        add_executable(${program} ${DEV_SOURCES} ${DEV_TESTS})
        target_link_libraries(${program} PRIVATE corvisor::testkit)
        target_compile_features(${program} PRIVATE cxx_std_20)
        set(main ${CORVISOR_PACKAGE_DIR}/catch2_main.cpp)
    endif()
    if(DEV_CATCH2)
        find_package(Catch2 2 REQUIRED)
        include(Catch)
        target_sources(${program} PRIVATE ${main})
        target_link_libraries(${program} PRIVATE Catch2::Catch2)
        catch_discover_tests(${program} TEST_PREFIX "${name}."
                             PROPERTIES FAIL_REGULAR_EXPRESSION "No test cases matched")
    else()
        add_test(NAME ${name} COMMAND ${program})
    endif()
endfunction()
