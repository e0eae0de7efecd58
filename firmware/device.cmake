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
foreach(fw evolu_firmware evolu_firmware_stm32u5)
  if(fw STREQUAL evolu_firmware)
    set(_mem ${EVOLU_DEVICE_MEM_FW})
  else()
    set(_mem ${EVOLU_FW_DIR}/mem_stm32u5_real.ld)
  endif()
  add_executable(${fw} ${EVOLU_FW_DEVICE_SOURCES})
  target_include_directories(${fw} PRIVATE ${EVOLU_FW_DIR})
  target_link_libraries(${fw} PRIVATE evolu_stream evolu_port_device evolu_startup_fw)
  target_compile_options(${fw} PRIVATE ${EVOLU_WARNINGS} ${EVOLU_DEVICE_CFLAGS})
  target_link_options(${fw} PRIVATE -nostartfiles -T${_mem} -T${EVOLU_DEVICE_LD}
    --specs=nano.specs --specs=rdimon.specs -Wl,--defsym=__stack_size=${EVOLU_FW_STACK}
    -Wl,-Map=${CMAKE_BINARY_DIR}/${fw}.map)
  set_target_properties(${fw} PROPERTIES SUFFIX .elf LINK_DEPENDS "${EVOLU_DEVICE_LD};${_mem}")
endforeach()
