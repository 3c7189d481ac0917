#!/usr/bin/env bash
# Installs the build into a temporary prefix and links a small outside C
# program against it three ways: pkg-config (shared), pkg-config --static,
# and CMake's find_package(hpctrain). Each program runs one ht_sgemm and one
# L1 gradient and checks the numbers.
# usage: bash cli_install.sh /path/to/build/hpctrain TMPDIR
set -u
H=${1:?usage: cli_install.sh HPCTRAIN TMPDIR}
T=${2:?usage: cli_install.sh HPCTRAIN TMPDIR}
B=$(cd "$(dirname "$H")" && pwd)
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
if [ -n "${HT_TARGET_ARCH:-}" ] && [ "$HT_TARGET_ARCH" != "$(uname -m)" ]; then
    echo "cross build: the host cannot link the installed library; nothing to check"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi
rm -rf "$T" && mkdir -p "$T/src" || exit 1
# A sanitizer build's library needs its runtime in the outside program too.
SAN=""
grep -q '^HT_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null && SAN="-fsanitize=address,undefined"
export CFLAGS="$SAN"
P=$T/prefix
cmake --install "$B" --prefix "$P" >"$T/install.log" 2>&1 && ok "cmake --install" || { bad "cmake --install"; cat "$T/install.log"; }

cat >"$T/src/main.c" <<'C'
#include <hpctrain.h>
#include <hpctrain/kernels.h>
#include <stdio.h>
int main(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4];
    if (ht_sgemm(HT_NO_TRANS, HT_NO_TRANS, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2) != HT_OK)
        return 1;
    float w[3] = {-2, 0, 3}, g[3] = {0, 0, 0};
    if (ht_l1_grad(3, 0.5f, w, g) != HT_OK)
        return 2;
    int good = c[0] == 4 && c[1] == 5 && c[2] == 10 && c[3] == 11 &&
               g[0] == -0.5f && g[1] == 0.0f && g[2] == 0.5f;
    printf("%s isa=%s\n", good ? "good" : "wrong", ht_isa_name());
    return good ? 0 : 3;
}
C
export PKG_CONFIG_PATH=$P/lib/pkgconfig:$P/lib/$(gcc -print-multiarch 2>/dev/null)/pkgconfig
if cc $SAN -std=c11 "$T/src/main.c" $(pkg-config --cflags --libs hpctrain) -Wl,-rpath,"$P/lib" -o "$T/shared" 2>"$T/cc.log" \
   && "$T/shared" | grep -q '^good'; then ok "pkg-config, shared library"; else bad "pkg-config, shared library"; cat "$T/cc.log"; fi
# the static archive with the shared system libraries it needs
if cc $SAN -std=c11 -I"$P/include" "$T/src/main.c" "$P/lib/libhpctrain.a" $(pkg-config --libs hwloc zlib) \
      -fopenmp -lm -o "$T/static" 2>"$T/cc2.log" \
   && "$T/static" | grep -q '^good'; then ok "static archive"; else bad "static archive"; cat "$T/cc2.log"; fi

cat >"$T/src/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(hpctrain REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE hpctrain::hpctrain)
CM
if cmake -S "$T/src" -B "$T/cbuild" -DCMAKE_PREFIX_PATH="$P" >"$T/cm.log" 2>&1 \
   && cmake --build "$T/cbuild" >>"$T/cm.log" 2>&1 && "$T/cbuild/consumer" | grep -q '^good'; then
    ok "find_package(hpctrain)"
else
    bad "find_package(hpctrain)"; tail -20 "$T/cm.log"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
