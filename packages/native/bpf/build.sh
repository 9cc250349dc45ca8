#!/bin/sh
# Rebuilds process.bpf.o from process.bpf.c, process.h and vmlinux.h (build machines only: the
# package ships the object, installing it needs no compiler). Needs clang, llvm-strip and the
# libbpf headers (Debian: clang llvm libbpf-dev). Writes to $1 (default: process.bpf.o here).
set -eu
cd "$(dirname "$0")"
out=${1:-process.bpf.o}
${CLANG:-clang} -O2 -g -target bpf -D__TARGET_ARCH_x86 -I. -c process.bpf.c -o "$out"
# DWARF goes; .BTF and .BTF.ext, which CO-RE needs, stay.
${LLVM_STRIP:-llvm-strip} -g "$out"
