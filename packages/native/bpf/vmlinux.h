/* SPDX-License-Identifier: Apache-2.0 OR GPL-2.0 */
/*
 * The kernel types process.bpf.c reads, declared by hand instead of a 3 MB `bpftool btf dump`: only
 * the members used, marked preserve_access_index, so clang records CO-RE relocations by member
 * name and libbpf resolves the real offsets against the running kernel's BTF at load time. The
 * object's bytes depend on this file (its hash is pinned in process.bpf.o.inputs), not on the
 * kernel of the build machine.
 */
#ifndef DAEMONEYE_VMLINUX_H
#define DAEMONEYE_VMLINUX_H

typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef int pid_t;
typedef _Bool bool;
#define true 1
#define false 0

enum bpf_map_type {
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_RB_AVAIL_DATA = 0,
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct {
	__u32 val;
} kuid_t;

typedef struct {
	__u32 val;
} kgid_t;

struct cred {
	kuid_t uid;
	kgid_t gid;
	kuid_t euid;
};

struct mm_struct {
	unsigned long arg_start;
	unsigned long arg_end;
};

struct kernfs_node {
	__u64 id; /* 64 bits since 5.5: the inode number of the cgroup directory */
};

struct cgroup {
	struct kernfs_node *kn;
};

struct css_set {
	struct cgroup *dfl_cgrp;
};

struct task_struct {
	unsigned int flags;
	pid_t pid;
	pid_t tgid;
	int exit_code;
	__u64 start_boottime; /* since 5.5 (real_start_time before) */
	struct task_struct *real_parent;
	struct mm_struct *mm;
	const struct cred *cred;
	struct css_set *cgroups;
};

struct linux_binprm {
	const char *filename;
};

#pragma clang attribute pop

#endif
