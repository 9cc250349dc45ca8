#!/bin/sh
# Rebuilds process.bpf.o from process.bpf.c, process.h and vmlinux.h (build machines only: the
# package ships the object, installing it needs no compiler). Needs clang, llvm-strip and the
# libbpf headers (Debian: clang llvm libbpf-dev). Writes to $1 (default: process.bpf.o here).
set -eu
cd "$(dirname "$0")"
out=${1:-process.bpf.o}
# The source path goes into .BTF.ext line info: map the checkout's directory away so the bytes do not
# depend on where the repository lives.
${CLANG:-clang} -O2 -g -fdebug-prefix-map="$(pwd)"=. -target bpf -D__TARGET_ARCH_x86 -I. -c process.bpf.c -o "$out"
# DWARF goes; .BTF and .BTF.ext, which CO-RE needs, stay.
${LLVM_STRIP:-llvm-strip} -g "$out"
