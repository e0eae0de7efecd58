# The firmware for the Cortex-M33, included by device/CMakeLists.txt (it uses
# that project's libraries, flags and linker scripts):
#   evolu_firmware.elf          runs under qemu-system-arm -M mps2-an505 (the
#                               STM32U5's sizes at the AN505's addresses)
#   evolu_firmware_stm32u5.elf  the same program linked for the real STM32U5
#                               map (flash 0x08000000, SRAM 0x20000000): the
#                               proof that it fits; not run
# Stack: 32 KiB reserved, painted at boot; the firmware prints the high-water
# mark and its static RAM when it ends (docs/firmware.md).
set(EVOLU_FW_DIR ${EVOLU_ROOT}/firmware)
set(EVOLU_FW_DEVICE_SOURCES ${EVOLU_FW_DIR}/fw_app.c ${EVOLU_FW_DIR}/fw_link.c
    ${EVOLU_FW_DIR}/fw_table.c ${EVOLU_FW_DIR}/fw_state.c ${EVOLU_FW_DIR}/board_qemu.c)
set(EVOLU_FW_STACK 0x8000)
# The firmware's startup: the same file without newlib's stdio (the firmware
# reports through its own board; printf and rdimon's handles cost ~7 KB).
add_library(evolu_startup_fw OBJECT ${CMAKE_CURRENT_SOURCE_DIR}/startup.c)
target_compile_options(evolu_startup_fw PRIVATE ${EVOLU_WARNINGS} -Os -g)
target_compile_definitions(evolu_startup_fw PRIVATE EVOLU_STARTUP_NO_STDIO=1)
target_include_directories(evolu_startup_fw PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
# The firmware's core: the same sources with small JSON limits (evolu/json.h).
# A JSON value decodes with a 5-byte record per level on the stack (~5 KB at
# the protocol's 1000 levels, a third of the RAM budget); TypeScript apps
# write shallow values and sorted keys. A deeper value, or one over these
# limits, is "not held" by the firmware, never refused. The test programs
# keep the host's limits (evolu_core), so the vectors run as on the host.
set(EVOLU_FW_JSON_DEPTH 32 CACHE STRING "the firmware's JSON nesting limit (1..1000)")
set(EVOLU_FW_JSON_DEFS EVOLU_JSON_MAX_DEPTH=${EVOLU_FW_JSON_DEPTH} EVOLU_JSON_MAX_SLOW_MAPS=1)
add_library(evolu_core_fw STATIC ${EVOLU_CORE_SOURCES} ${EVOLU_BIP39_C})
target_include_directories(evolu_core_fw PUBLIC ${EVOLU_ROOT}/include
                                         PRIVATE ${EVOLU_ROOT}/src/core)
target_compile_definitions(evolu_core_fw PUBLIC ${EVOLU_FW_JSON_DEFS})
target_compile_options(evolu_core_fw PRIVATE ${EVOLU_WARNINGS} ${EVOLU_DEVICE_CFLAGS}
                       -ffreestanding)
add_library(evolu_stream_fw STATIC ${EVOLU_STREAM_SOURCES})
target_include_directories(evolu_stream_fw PRIVATE ${EVOLU_ROOT}/src/stream)
target_link_libraries(evolu_stream_fw PUBLIC evolu_core_fw)
target_compile_options(evolu_stream_fw PRIVATE ${EVOLU_WARNINGS} ${EVOLU_DEVICE_CFLAGS}
                       -ffreestanding)
add_library(evolu_port_device_fw STATIC ${EVOLU_ROOT}/src/port/port_device.c
                                        ${EVOLU_ROOT}/src/port/sodium_crypto.c
                                        ${CMAKE_CURRENT_SOURCE_DIR}/board_mps2_an505.c)
target_include_directories(evolu_port_device_fw PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(evolu_port_device_fw PUBLIC evolu_core_fw evolu_sodium)
target_compile_options(evolu_port_device_fw PRIVATE ${EVOLU_WARNINGS} ${EVOLU_DEVICE_CFLAGS})
foreach(fw evolu_firmware evolu_firmware_stm32u5)
  if(fw STREQUAL evolu_firmware)
    set(_mem ${EVOLU_DEVICE_MEM_FW})
  else()
    set(_mem ${EVOLU_FW_DIR}/mem_stm32u5_real.ld)
  endif()
  add_executable(${fw} ${EVOLU_FW_DEVICE_SOURCES})
  target_include_directories(${fw} PRIVATE ${EVOLU_FW_DIR})
  target_link_libraries(${fw} PRIVATE evolu_stream_fw evolu_port_device_fw evolu_startup_fw)
  target_compile_options(${fw} PRIVATE ${EVOLU_WARNINGS} ${EVOLU_DEVICE_CFLAGS})
  target_link_options(${fw} PRIVATE -nostartfiles -T${_mem} -T${EVOLU_DEVICE_LD}
    --specs=nano.specs --specs=rdimon.specs -Wl,--defsym=__stack_size=${EVOLU_FW_STACK}
    -Wl,-Map=${CMAKE_BINARY_DIR}/${fw}.map)
  set_target_properties(${fw} PROPERTIES SUFFIX .elf LINK_DEPENDS "${EVOLU_DEVICE_LD};${_mem}")
endforeach()
