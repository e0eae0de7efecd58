# CMake toolchain file: bare-metal Arm Cortex-M33 (STM32U5 class) with Debian's
# gcc-arm-none-eabi + newlib. Used only by the device project (device/), which is
# configured separately from the host build:
#   cmake -S device -B build/device -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
set(CMAKE_AR arm-none-eabi-ar)
set(CMAKE_RANLIB arm-none-eabi-ranlib)
set(CMAKE_OBJCOPY arm-none-eabi-objcopy)
set(CMAKE_SIZE arm-none-eabi-size)

# The Cortex-M33 of an STM32U575/585: Armv8-M Mainline, single-precision FPU.
# newlib then selects its thumb/v8-m.main+fp/hard multilib.
set(EVOLU_CPU_FLAGS "-mcpu=cortex-m33 -mthumb -mfloat-abi=hard -mfpu=fpv5-sp-d16")
set(CMAKE_C_FLAGS_INIT "${EVOLU_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${EVOLU_CPU_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${EVOLU_CPU_FLAGS} -Wl,--gc-sections")

# No host programs can run: try_compile builds a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
