# Fails the build if a guest ELF (linked with --emit-relocs) holds an absolute
# address relocation in a loaded section: the image is linked at 0 and loaded
# elsewhere, so any such word would point into nowhere. Only ADRP/ADD/LDR
# page-relative forms and branches are position-independent. The image header's
# image_size (__image_size, a length, not an address) is the one allowed use.
# Usage: cmake -DREADELF=<readelf> -DELF=<file> -P check_pic.cmake
execute_process(COMMAND ${READELF} -rW ${ELF} OUTPUT_VARIABLE relocs RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "readelf failed on ${ELF}")
endif()
string(REPLACE "\n" ";" lines "${relocs}")
set(section "")
set(bad "")
foreach(line IN LISTS lines)
    if(line MATCHES "^Relocation section '([^']+)'")
        set(section "${CMAKE_MATCH_1}")
    elseif(NOT section MATCHES "^\\.rela\\.debug" AND line MATCHES "R_AARCH64_(ABS|MOVW_UABS|MOVW_SABS)"
           AND NOT line MATCHES "__image_size")
        string(APPEND bad "  ${section}: ${line}\n")
    endif()
endforeach()
if(bad)
    message(FATAL_ERROR "${ELF} is not position-independent:\n${bad}")
endif()
