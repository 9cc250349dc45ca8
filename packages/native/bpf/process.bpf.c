// SPDX-License-Identifier: GPL-2.0
/*
 * DaemonEye's process events: exec, fork and exit of thread-group leaders, from BTF-typed
 * tracepoints (tp_btf/sched_process_*: kernel 5.5+, no tracefs needed), into one ring buffer.
 * An exec record carries what the kernel knows at that moment and /proc could only guess at
 * later: the file name given to execve, the argv block of the new image, the real and effective
 * uid of the new creds, the parent. Records are written without waking the reader unless
 * `de_config.wakeup_bytes` are pending or `de_config.latency_ns` have passed since the last wake-up, so a burst costs
 * the reader one wake-up per batch, and an idle host none at all.
 *
 * Build (build.sh): clang -O2 -g -target bpf -D__TARGET_ARCH_x86, then llvm-strip -g.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "process.h"

/* bpf_probe_read_* and the tracepoints need a GPL-compatible licence. */
char LICENSE[] SEC("license") = "GPL";

struct scratch {
	struct de_event h;
	char data[2 * (DE_DATA_MASK + 1)]; /* file name at 0, argv right after it */
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* the loader sets the size before load */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DE_C_N);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Written by the loader between open and load (.rodata: offset 0 and 8). */
const volatile struct de_config de_config = { .wakeup_bytes = 65536, .latency_ns = 50000000 };

/* When a record last woke the reader (races between CPUs only add wake-ups). */
__u64 last_wake_ns = 0;

static __always_inline __u64 wake_flags(__u64 now)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= de_config.wakeup_bytes ||
	    now - last_wake_ns >= de_config.latency_ns) {
		last_wake_ns = now;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);
	if (c)
		*c += 1;
}

/*
 * `task` gives the credentials and parent, `subject` the start time, cgroup and flags: the same
 * task except for a fork, whose subject is the child (so the reader needs no /proc read for them).
 */
static __always_inline void fill(struct de_event *h, struct task_struct *task, struct task_struct *subject,
				 __u32 type, __u64 now)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();
	h->ts_ns = now;
	h->type = type;
	h->pid = (__u32)id;
	h->tgid = id >> 32;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)ug;
	h->gid = ug >> 32;
	h->euid = BPF_CORE_READ(task, cred, euid.val);
	h->aux = 0;
	h->flags = 0;
	h->fname_len = 0;
	h->args_len = 0;
	bpf_get_current_comm(&h->comm, sizeof(h->comm));
	h->start_ns = BPF_CORE_READ(subject, start_boottime);
	h->cgroup_id = BPF_CORE_READ(subject, cgroups, dfl_cgrp, kn, id);
	h->task_flags = BPF_CORE_READ(subject, flags);
	h->reserved = 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(de_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &zero);
	if (!s)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	count(DE_C_EXEC);
	fill(&s->h, p, p, DE_EV_EXEC, now);
	s->h.aux = old_pid;

	const char *fname = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(s->data, DE_FNAME_MAX, fname);
	__u32 flen = 0;
	if (n > 0) {
		flen = n - 1;
		if (flen >= DE_FNAME_MAX - 1) {
			s->h.flags |= DE_F_FNAME_TRUNC;
			count(DE_C_FNAME);
		}
	} else {
		s->h.flags |= DE_F_FNAME_ERR;
		count(DE_C_FNAME);
	}
	flen &= DE_DATA_MASK;

	unsigned long arg_start = BPF_CORE_READ(p, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(p, mm, arg_end);
	__u64 alen = arg_end > arg_start ? arg_end - arg_start : 0;
	if (alen > DE_ARGS_MAX) {
		alen = DE_ARGS_MAX;
		s->h.flags |= DE_F_ARGS_TRUNC;
		count(DE_C_TRUNC);
	}
	alen &= DE_DATA_MASK;
	if (alen && bpf_probe_read_user(&s->data[flen], alen, (const void *)arg_start) < 0) {
		s->h.flags |= DE_F_ARGS_ERR;
		alen = 0;
	}
	s->h.fname_len = flen;
	s->h.args_len = alen;

	__u64 size = sizeof(struct de_event) + flen + alen;
	if (size > sizeof(*s))
		return 0;
	if (bpf_ringbuf_output(&events, s, size, wake_flags(now)))
		count(DE_C_DROP);
	return 0;
}

static __always_inline int emit(struct task_struct *task, struct task_struct *subject, __u32 type, __u32 pid,
				__u32 tgid, __u32 ppid, __u32 aux)
{
	struct de_event *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
	if (!h) {
		count(DE_C_DROP);
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	fill(h, task, subject, type, now);
	h->pid = pid;
	h->tgid = tgid;
	h->ppid = ppid;
	h->aux = aux;
	bpf_ringbuf_submit(h, wake_flags(now));
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(de_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 pid = BPF_CORE_READ(child, pid), tgid = BPF_CORE_READ(child, tgid);
	if (pid != tgid) /* a new thread, not a new process */
		return 0;
	return emit(parent, child, DE_EV_FORK, pid, tgid, BPF_CORE_READ(parent, tgid), BPF_CORE_READ(parent, pid));
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(de_exit, struct task_struct *p)
{
	__u32 pid = BPF_CORE_READ(p, pid), tgid = BPF_CORE_READ(p, tgid);
	if (pid != tgid) /* a thread of a process that lives on */
		return 0;
	return emit(p, p, DE_EV_EXIT, pid, tgid, BPF_CORE_READ(p, real_parent, tgid), BPF_CORE_READ(p, exit_code));
}
