/* SPDX-License-Identifier: Apache-2.0 OR GPL-2.0 */
/*
 * The record layout shared by process.bpf.c and the decoder in src/internal/ebpf-decode.ts.
 * Little-endian, no padding; `drift-check.sh` compares these offsets, read from the object's
 * BTF, with the decoder's.
 */
#ifndef DAEMONEYE_PROCESS_H
#define DAEMONEYE_PROCESS_H

#define DE_EV_EXEC 1
#define DE_EV_EXIT 2
#define DE_EV_FORK 3

#define DE_F_ARGS_TRUNC  1u  /* the argv block was longer than DE_ARGS_MAX and was cut there */
#define DE_F_FNAME_TRUNC 2u  /* the file name was longer than DE_FNAME_MAX */
#define DE_F_ARGS_ERR    4u  /* the argv block could not be read from the new image */
#define DE_F_FNAME_ERR   8u  /* the file name could not be read */

#define DE_FNAME_MAX 4096    /* PATH_MAX, with its NUL */
#define DE_ARGS_MAX  4096    /* bytes of the NUL-separated argv block */
#define DE_DATA_MASK 0x1fff  /* a power of two minus one >= both, bounding reads for the verifier */

struct de_event {
	__u64 ts_ns;     /*  0 bpf_ktime_get_ns(): CLOCK_MONOTONIC, the proc connector's clock */
	__u32 type;      /*  8 DE_EV_* */
	__u32 pid;       /* 12 thread id */
	__u32 tgid;      /* 16 process id */
	__u32 ppid;      /* 20 real_parent->tgid */
	__u32 uid;       /* 24 real uid of the task's creds at the event */
	__u32 euid;      /* 28 */
	__u32 gid;       /* 32 */
	__u32 aux;       /* 36 exec: old pid; exit: task->exit_code (wait status); fork: parent tid */
	__u32 flags;     /* 40 DE_F_* */
	__u16 fname_len; /* 44 bytes of file name after the header, no NUL */
	__u16 args_len;  /* 46 bytes of argv block after the file name */
	char comm[16];   /* 48 */
	__u64 start_ns;  /* 64 start_boottime of the subject (fork: the child): /proc/PID/stat's start time, in ns */
	__u64 cgroup_id; /* 72 id of the subject's cgroup v2 (its kernfs node id: the directory's inode) */
	__u32 task_flags;/* 80 the subject's task->flags (PF_KTHREAD 0x00200000) */
	__u32 reserved;  /* 84 zero */
	/* 88: filename[fname_len], then args[args_len] */
};

/* The loader's settings, in .rodata. */
struct de_config {
	__u64 wakeup_bytes; /* 0 wake the reader once this much is pending */
	__u64 latency_ns;   /* 8 ... or once this long has passed since the last wake-up */
};

/* Indices of the per-CPU counters map. */
#define DE_C_EXEC  0  /* exec records attempted */
#define DE_C_DROP  1  /* records the full ring buffer refused */
#define DE_C_TRUNC 2  /* exec records with argv cut at DE_ARGS_MAX */
#define DE_C_FNAME 3  /* exec records with the file name cut or unreadable */
#define DE_C_N     4

#endif
