#!/usr/bin/env bash
# ctest install_examples_{pkgconfig,find_package}: builds examples/ against an
# INSTALLED sendpath, as a program outside the project would, and runs each.
#
#   examples.sh pkgconfig|find_package BUILD_DIR EXAMPLES_DIR WORK_DIR
#
# 1. cmake --install BUILD_DIR --prefix WORK_DIR/prefix
# 2. the installed headers compile on their own (each one alone, with only
#    the prefix on the include path)
# 3. examples/ configured as a project of its own, finding sendpath through
#    pkg-config (PKG_CONFIG_PATH) or find_package (CMAKE_PREFIX_PATH)
# 4. each example runs over its simulated link: exit 0 and its last line
set -euo pipefail

how=$1 build=$2 examples=$3 work=$4
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/sendpath/api.hpp include/sendpath/socket.hpp include/sendpath/stack.hpp \
         lib/libsendpath.so lib/libsendpath.a lib/libsendpath-preload.so lib/pkgconfig/sendpath.pc \
         lib/cmake/sendpath/sendpathConfig.cmake lib/cmake/sendpath/sendpathConfigVersion.cmake; do
  [[ -e $prefix/$f ]] || { echo "missing after install: $f"; exit 1; }
done

echo "== each installed header compiles alone"
for h in "$prefix"/include/sendpath/*.hpp; do
  echo "#include <sendpath/$(basename "$h")>" |
    c++ -std=c++20 -Wall -Wextra -Werror -fsyntax-only -I"$prefix/include" -x c++ - ||
    { echo "$h does not compile on its own"; exit 1; }
  if grep -nE '#include *"(core|skb|wire|dev|ip|sock|tcp|fs|api|trace)/|boost|fmt/' "$h"; then
    echo "$h reaches outside the public API"; exit 1
  fi
done

echo "== configure examples/ ($how)"
args=(-S "$examples" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSENDPATH_FIND="$how")
if command -v ccache >/dev/null; then args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
if [[ $how == pkgconfig ]]; then
  PKG_CONFIG_PATH=$prefix/lib/pkgconfig cmake "${args[@]}" >"$work/configure.log" ||
    { cat "$work/configure.log"; exit 1; }
  # The plain command line a Makefile would use works too.
  PKG_CONFIG_PATH=$prefix/lib/pkgconfig \
    c++ -std=c++20 -o "$work/echo-by-hand" "$examples/echo.cpp" \
        $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs sendpath) \
        -Wl,-rpath,"$prefix/lib"
else
  cmake "${args[@]}" -DCMAKE_PREFIX_PATH="$prefix" >"$work/configure.log" ||
    { cat "$work/configure.log"; exit 1; }
fi
echo "== build"
cmake --build "$work/build" -j2

run() {  # run NAME EXPECTED-REGEX ARGS...
  local name=$1 want=$2
  shift 2
  echo "== $name $*"
  local out
  out=$(timeout 120 "$@") || { echo "$out"; echo "$name failed (exit $?)"; exit 1; }
  echo "$out"
  grep -qE "$want" <<<"$out" || { echo "$name: expected a line matching '$want'"; exit 1; }
}
run echo '^echo: 100 messages, [0-9]+ bytes, all echoed back$' "$work/build/echo"
run epoll_server '^epoll_server: 50 clients served, every reply checked$' "$work/build/epoll_server"
run bulk_send '^bulk_send: 33554432 bytes sent and received$' "$work/build/bulk_send"
run bulk_send_tcp_info '^tcp_info: bytes_sent [0-9]+ bytes_acked 33554434 ' \
  "$work/build/bulk_send" --loss 0.001
if [[ $how == pkgconfig ]]; then
  run echo-by-hand '^echo: 10 messages' "$work/echo-by-hand" --count 10
fi
echo "PASS: examples built against the installed tree ($how) and ran"
