# Cross-compiling hpctrain for aarch64 Linux from x86-64 Debian 12, running
# the tests under qemu-user. Prepare the machine with tools/setup-arm64.sh,
# then:
#   cmake -S . -B build-arm64 \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake \
#     [-DARM64_SYSROOT=/path/to/.arm64/sysroot]
# ARM64_SYSROOT (default: <source>/.arm64/sysroot) holds the arm64 cmocka,
# hwloc, libudev, zlib and benchmark packages unpacked by the setup script;
# the C library and libgomp come from Debian's *-arm64-cross packages in
# /usr/aarch64-linux-gnu.
# Code is compiled for the baseline (-march=armv8-a is GCC's default for
# this target); no ISA flag is added anywhere.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT ARM64_SYSROOT)
  if(DEFINED ENV{ARM64_SYSROOT})
    set(ARM64_SYSROOT "$ENV{ARM64_SYSROOT}")
  else()
    get_filename_component(ARM64_SYSROOT "${CMAKE_CURRENT_LIST_DIR}/../.arm64/sysroot"
                           ABSOLUTE)
  endif()
endif()
if(NOT EXISTS "${ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu")
  message(FATAL_ERROR "ARM64_SYSROOT=${ARM64_SYSROOT} has no arm64 libraries: "
                      "run tools/setup-arm64.sh first (or pass -DARM64_SYSROOT=...)")
endif()
# try_compile projects (FindOpenMP, ...) re-read this file: hand them the path.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ARM64_SYSROOT)
set(ENV{ARM64_SYSROOT} "${ARM64_SYSROOT}")

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu "${ARM64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (hwloc, cmocka) must read the arm64 .pc files only, and prefix
# the paths they name with the sysroot.
set(ENV{PKG_CONFIG_LIBDIR}
    "${ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${ARM64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${ARM64_SYSROOT}")
unset(ENV{PKG_CONFIG_PATH})

# hwloc's hwloc/autogen/config.h lives in the multiarch include folder, which
# hwloc.pc does not name.
set(_ht_arm64_inc "${ARM64_SYSROOT}/usr/include/aarch64-linux-gnu"
                  "${ARM64_SYSROOT}/usr/include")
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES ${_ht_arm64_inc})
set(CMAKE_CXX_STANDARD_INCLUDE_DIRECTORIES ${_ht_arm64_inc})

# libhwloc.so needs libudev.so.1 at link time; zlib's runtime sits in /lib.
set(_ht_arm64_libs "${ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu"
                   "${ARM64_SYSROOT}/lib/aarch64-linux-gnu")
string(REPLACE ";" ":" _ht_arm64_libpath "${_ht_arm64_libs}")
foreach(kind EXE SHARED MODULE)
  set(CMAKE_${kind}_LINKER_FLAGS_INIT "-Wl,-rpath-link,${_ht_arm64_libpath}")
endforeach()

# Tests (add_test naming a target) run through qemu; -E sets the guest's
# library path only, not the host qemu process's.
find_program(HT_QEMU_AARCH64 qemu-aarch64)
if(NOT HT_QEMU_AARCH64)
  message(FATAL_ERROR "qemu-aarch64 not found: run tools/setup-arm64.sh "
                      "(apt-get install qemu-user)")
endif()
set(CMAKE_CROSSCOMPILING_EMULATOR "${HT_QEMU_AARCH64};-L;/usr/aarch64-linux-gnu;-E;LD_LIBRARY_PATH=${_ht_arm64_libpath}")
