/* trapline's kernel side: on the raw_syscalls tracepoints, counts the calls of the processes it follows into
 * per-class counters, so user space reads maps at the end instead of a stream of events. A class is what the
 * ptrace backend makes of a call: the syscall, the argument registers its row names, the device behind its fd. */
#include "kernel.h"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "interface.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define TS_COMPAT 0x0002
#define MAP_ANONYMOUS 0x20
#define S_IFMT 0170000
#define S_IFCHR 0020000
#define S_IFBLK 0060000

/* [0]: the cgroup (v2 id) whose processes are followed, or 0 to follow the targets below. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} cgroup SEC(".maps");

/* With NEW_CGROUPS: the cgroups created since the agent started, which it follows. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u64);
	__type(value, u8);
} cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} cgroup_events SEC(".maps");

/* Thread group ids followed: the workload's first process, and every process it forks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, u8);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * MAX_NR);
	__type(key, u32);
	__type(value, struct row);
} rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct class_key);
	__type(value, u64);
} classes SEC(".maps");

/* Calls that returned without an error, and errors by errno, for classes whose results are wanted. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct result_key);
	__type(value, u64);
} results SEC(".maps");

/* The class of the call each thread is in, for its result. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, struct class_key);
} inflight SEC(".maps");

/* The command name of each process seen calling, for one that was running before trapline attached and is
 * gone before it reads the maps (an exec event names the others by their file). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, name_t);
} comms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} execs SEC(".maps");

/* [0] processes and [1] threads that started while followed. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOST_COUNT);
	__type(key, u32);
	__type(value, u64);
} lost SEC(".maps");

/* The cgroup followed, if trapline follows one. */
static __always_inline u64 followed_cgroup(void)
{
	u32 zero = 0;
	u64 *id = bpf_map_lookup_elem(&cgroup, &zero);
	return id ? *id : 0;
}

/* Whether the current task's cgroup is followed (the one cgroup, or one of the new ones). */
static __always_inline int in_followed_cgroup(u64 followed)
{
	u64 current = bpf_get_current_cgroup_id();
	if (followed == NEW_CGROUPS)
		return bpf_map_lookup_elem(&cgroups, &current) != NULL;
	return current == followed;
}

/* Whether the current task is one trapline follows (by cgroup, or among its targets). */
static __always_inline int followed(u32 tgid)
{
	u64 id = followed_cgroup();
	if (id)
		return in_followed_cgroup(id);
	return bpf_map_lookup_elem(&targets, &tgid) != NULL;
}

static __always_inline void count(void *map, u32 index)
{
	u64 *n = bpf_map_lookup_elem(map, &index);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline void add(void *map, const void *key, u32 lost_index)
{
	u64 *n = bpf_map_lookup_elem(map, key);
	if (!n) {
		u64 zero = 0;
		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(map, key);
	}
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		count(&lost, lost_index);
}

/* Argument `index` of the call: from the x86_64 syscall registers, or from i386's, whose 32-bit calls take
 * the low halves (as the kernel's compat entry does). */
static __always_inline u64 arg(struct pt_regs___trapline *regs, u8 index, u8 compat)
{
	if (compat) {
		switch (index) {
		case 0: return (u32)BPF_CORE_READ(regs, bx);
		case 1: return (u32)BPF_CORE_READ(regs, cx);
		case 2: return (u32)BPF_CORE_READ(regs, dx);
		case 3: return (u32)BPF_CORE_READ(regs, si);
		case 4: return (u32)BPF_CORE_READ(regs, di);
		case 5: return (u32)BPF_CORE_READ(regs, bp);
		}
		return 0;
	}
	switch (index) {
	case 0: return BPF_CORE_READ(regs, di);
	case 1: return BPF_CORE_READ(regs, si);
	case 2: return BPF_CORE_READ(regs, dx);
	case 3: return BPF_CORE_READ(regs, r10);
	case 4: return BPF_CORE_READ(regs, r8);
	case 5: return BPF_CORE_READ(regs, r9);
	}
	return 0;
}

/* NVIDIA's frontend requests that name what they ask for in the struct behind their pointer: the request type
 * and numbers, and where the word sits (trapline sets these from its decoder before loading). */
const volatile u32 rm_type = 0;
const volatile u32 rm_control_nr = 0;
const volatile u32 rm_control_offset = 0;
const volatile u32 rm_alloc_nr = 0;
const volatile u32 rm_alloc_offset = 0;

/* For RM_CONTROL and RM_ALLOC, the control command or class the call asks for, as the ptrace backend reads
 * it from the caller's memory. */
static __always_inline void read_rm_detail(struct class_key *key, u64 request, u64 params)
{
	u32 type = (request >> 8) & 0xff, nr = request & 0xff, offset;
	if (type != rm_type)
		return;
	if (nr == rm_control_nr)
		offset = rm_control_offset;
	else if (nr == rm_alloc_nr)
		offset = rm_alloc_offset;
	else
		return;
	if (bpf_probe_read_user(&key->detail, sizeof(key->detail), (void *)(params + offset)) == 0) {
		key->detail_state = DETAIL_VALUE;
	} else {
		key->detail = 0;
		key->detail_state = DETAIL_UNREADABLE;
	}
}

/* Path components are walked with bpf_loop (one callback the verifier checks once) into a per-CPU scratch
 * buffer, then copied where they belong. */
struct names {
	name_t component[MAX_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct names);
} scratch SEC(".maps");

struct walk {
	struct dentry *dentry;
	struct mount *mnt;
	u32 depth;
	u32 max;
};

static long walk_step(u64 index, struct walk *walk)
{
	if (walk->depth >= walk->max || walk->depth >= MAX_DEPTH)
		return 1;
	struct dentry *dentry = walk->dentry;
	struct mount *mnt = walk->mnt;
	if (dentry == BPF_CORE_READ(mnt, mnt.mnt_root)) {
		struct mount *parent = BPF_CORE_READ(mnt, mnt_parent);
		if (parent == mnt)
			return 1;
		walk->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		walk->mnt = parent;
		return 0;
	}
	u32 zero = 0;
	struct names *names = bpf_map_lookup_elem(&scratch, &zero);
	if (!names)
		return 1;
	bpf_probe_read_kernel_str(&names->component[walk->depth & (MAX_DEPTH - 1)], NAME_LEN,
				  BPF_CORE_READ(dentry, d_name.name));
	walk->depth++;
	struct dentry *up = BPF_CORE_READ(dentry, d_parent);
	if (up == dentry)
		return 1;
	walk->dentry = up;
	return 0;
}

/* Up to `max` components of `path`, from the last one up, into the scratch buffer, crossing mount points as
 * the kernel's d_path does (a bind-mounted /dev/zero at /dev/nvidiactl is `nvidiactl` in `dev`). Returns the
 * buffer and sets `depth` to how many it wrote. */
static __always_inline struct names *components(struct path *path, u32 max, u32 *depth)
{
	u32 zero = 0;
	struct names *names = bpf_map_lookup_elem(&scratch, &zero);
	if (!names)
		return NULL;
	__builtin_memset(names, 0, sizeof(*names));
	struct vfsmount *vfsmnt = BPF_CORE_READ(path, mnt);
	struct walk walk = {
		.dentry = BPF_CORE_READ(path, dentry),
		.mnt = (struct mount *)((char *)vfsmnt - bpf_core_field_offset(struct mount, mnt)),
		.depth = 0,
		.max = max,
	};
	bpf_loop(4 * MAX_DEPTH, walk_step, &walk, 0);
	*depth = walk.depth;
	return names;
}

/* The device number and file type behind `fd` in the current task's file table. */
static __always_inline void describe_fd(struct class_key *key, u64 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return;
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	u16 mode = BPF_CORE_READ(inode, i_mode);
	key->mode = mode & S_IFMT;
	if (key->mode == S_IFCHR || key->mode == S_IFBLK)
		key->rdev = BPF_CORE_READ(inode, i_rdev);
	/* The last two components name a device (`nvidiactl` in `dev`), an anonymous inode (`[eventfd]`) or a
	 * mapped library; trapline keeps no other file's name. */
	struct path path = BPF_CORE_READ(file, f_path);
	u32 depth = 0;
	struct names *names = components(&path, 2, &depth);
	if (names) {
		key->name = names->component[0];
		key->parent = names->component[1];
	}
}

SEC("tp_btf/sys_enter")
int BPF_PROG(trapline_enter, struct pt_regs___trapline *regs, long id)
{
	u64 pid_tgid = bpf_get_current_pid_tgid();
	u32 tgid = pid_tgid >> 32, tid = (u32)pid_tgid;
	u8 recording = RECORDING;
	u8 *state = &recording;
	u64 followed = followed_cgroup();
	if (followed) {
		if (!in_followed_cgroup(followed))
			return 0;
	} else {
		state = bpf_map_lookup_elem(&targets, &tgid);
		if (!state)
			return 0;
	}
	struct class_key key = {};
	key.nr = (u32)id;
	key.tgid = tgid;
	if (followed == NEW_CGROUPS)
		key.cgroup = bpf_get_current_cgroup_id();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	key.compat = (BPF_CORE_READ(task, thread_info.status) & TS_COMPAT) ? 1 : 0;
	u32 index = key.nr + (key.compat ? MAX_NR : 0);
	struct row *row = key.nr < MAX_NR ? bpf_map_lookup_elem(&rows, &index) : NULL;
	/* trapline's launcher between fork and exec is no part of the workload; its exec is the first call. */
	if (*state == LAUNCHING) {
		if (!row || !row->exec)
			return 0;
		*state = RECORDING;
	}
	if (row) {
		for (int i = 0; i < 2; i++) {
			if (row->arg[i] != NO_ARG)
				key.value[i] = arg(regs, row->arg[i], key.compat);
		}
		if (row->clone3) {
			u64 flags = 0;
			bpf_probe_read_user(&flags, sizeof(flags), (void *)arg(regs, 0, key.compat));
			key.value[0] = flags;
		}
		if (row->fd != NO_ARG) {
			int anonymous =
				row->anon_flags != NO_ARG && (arg(regs, row->anon_flags, key.compat) & MAP_ANONYMOUS);
			if (!anonymous)
				describe_fd(&key, arg(regs, row->fd, key.compat));
		}
		if (row->rm_detail)
			read_rm_detail(&key, key.value[0], arg(regs, 2, key.compat));
	}
	add(&classes, &key, LOST_CLASS);
	if (followed_cgroup() && !bpf_map_lookup_elem(&comms, &tgid)) {
		name_t comm = {};
		bpf_get_current_comm(&comm, 16);
		bpf_map_update_elem(&comms, &tgid, &comm, BPF_NOEXIST);
	}
	if (row && row->result) {
		if (bpf_map_update_elem(&inflight, &tid, &key, BPF_ANY))
			count(&lost, LOST_RESULT);
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(trapline_exit, struct pt_regs___trapline *regs, long ret)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct class_key *key = bpf_map_lookup_elem(&inflight, &tid);
	if (!key)
		return 0;
	struct result_key result = {};
	result.class = *key;
	bpf_map_delete_elem(&inflight, &tid);
	/* -ERESTART* (512 to 517) is the kernel's own, not a result the program saw. */
	if (ret >= -517 && ret <= -512)
		return 0;
	result.errno = ret < 0 && ret >= -4095 ? -ret : 0;
	add(&results, &result, LOST_RESULT);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(trapline_fork, struct task_struct *parent, struct task_struct *child)
{
	u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	if (!followed(parent_tgid))
		return 0;
	u32 child_tgid = BPF_CORE_READ(child, tgid);
	count(&tasks, 1);
	if (child_tgid == parent_tgid)
		return 0;
	count(&tasks, 0);
	if (followed_cgroup())
		return 0;
	u8 recording = RECORDING;
	if (bpf_map_update_elem(&targets, &child_tgid, &recording, BPF_ANY))
		count(&lost, LOST_TARGET);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(trapline_exec, struct task_struct *task, int old_pid, struct linux_binprm *bprm)
{
	u32 tgid = BPF_CORE_READ(task, tgid);
	if (!followed(tgid))
		return 0;
	struct exec_event *event = bpf_ringbuf_reserve(&execs, sizeof(*event), 0);
	if (!event) {
		count(&lost, LOST_EXEC);
		return 0;
	}
	event->tgid = tgid;
	event->cgroup = bpf_get_current_cgroup_id();
	struct path path = BPF_CORE_READ(bprm, file, f_path);
	u32 depth = 0;
	struct names *names = components(&path, MAX_DEPTH, &depth);
	event->depth = depth;
	if (names)
		__builtin_memcpy(event->component, names->component, sizeof(event->component));
	bpf_ringbuf_submit(event, 0);
	return 0;
}

static __always_inline void cgroup_event(struct cgroup *cgrp, const char *path, u32 removed)
{
	if (followed_cgroup() != NEW_CGROUPS)
		return;
	u64 id = BPF_CORE_READ(cgrp, kn, id);
	u8 yes = 1;
	if (!removed && bpf_map_update_elem(&cgroups, &id, &yes, BPF_ANY))
		count(&lost, LOST_TARGET);
	struct cgroup_event *event = bpf_ringbuf_reserve(&cgroup_events, sizeof(*event), 0);
	if (!event) {
		count(&lost, LOST_EXEC);
		return;
	}
	event->removed = removed;
	event->pad = 0;
	event->id = id;
	bpf_probe_read_kernel_str(event->path, sizeof(event->path), path);
	bpf_ringbuf_submit(event, 0);
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(trapline_mkdir, struct cgroup *cgrp, const char *path)
{
	cgroup_event(cgrp, path, 0);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(trapline_rmdir, struct cgroup *cgrp, const char *path)
{
	cgroup_event(cgrp, path, 1);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(trapline_gone, struct task_struct *task)
{
	/* A process that ended is no target any more: its pid may be reused by a stranger. */
	if (BPF_CORE_READ(task, pid) == BPF_CORE_READ(task, tgid)) {
		u32 tgid = BPF_CORE_READ(task, tgid);
		bpf_map_delete_elem(&targets, &tgid);
	}
	return 0;
}
