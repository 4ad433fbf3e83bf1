/* What the kernel side and trapline share: the per-syscall rows trapline writes, and the class keys and
 * counters the kernel writes. Plain fixed-size C structs; src/record/ebpf/maps.rs mirrors them. */
#ifndef TRAPLINE_INTERFACE_H
#define TRAPLINE_INTERFACE_H

#define NO_ARG 0xff
/* Syscall numbers the rows table covers per arch (x86_64's and i386's are below 512): the native rows, then
 * the 32-bit (compat) ones. */
#define MAX_NR 512
#define NAME_LEN 64
/* A name of NAME_LEN bytes, held as words so that the generated Rust types stay plain arrays of integers. */
typedef struct {
	u64 word[NAME_LEN / 8];
} name_t;

/* For one syscall: which argument registers form its class, which one holds an fd to describe, and whether
 * its result is wanted. */
struct row {
	u8 arg[2];
	u8 fd;
	/* mmap: the fd counts only without MAP_ANONYMOUS, whose flags are in this argument. */
	u8 anon_flags;
	/* clone3: the flags are the first u64 of the struct the first argument points at. */
	u8 clone3;
	u8 result;
	/* execve and execveat: trapline's launcher becomes the workload here, and its calls count from here. */
	u8 exec;
	/* ioctl: NVIDIA's RM_CONTROL and RM_ALLOC name what they ask for (the control command, the class
	 * allocated) in the struct the third argument points at; the kernel side reads that word. */
	u8 rm_detail;
};

struct class_key {
	u32 nr;
	u32 tgid;
	/* The cgroup (v2 id) of the caller, when trapline follows every new cgroup (the node agent); else 0. */
	u64 cgroup;
	u64 value[2];
	/* What the fd refers to: the inode's file type and device number (the kernel's dev_t encoding), and the
	 * last two components of its name (`nvidiactl` in `dev`, `card0` in `dri`, `[eventfd]`). */
	u32 rdev;
	u16 mode;
	name_t name;
	name_t parent;
	/* 1 when the call came through the 32-bit entry (i386). */
	u8 compat;
	/* What `detail` holds: DETAIL_NONE, DETAIL_VALUE, or DETAIL_UNREADABLE (the word could not be read). */
	u8 detail_state;
	u16 pad;
	u32 detail;
};

#define DETAIL_NONE 0
#define DETAIL_VALUE 1
#define DETAIL_UNREADABLE 2

struct result_key {
	struct class_key class;
	s64 errno;
};

/* A path as its components from the last one up, as many as fit (`depth`). */
#define MAX_DEPTH 16
struct exec_event {
	u32 tgid;
	u32 depth;
	/* The process's cgroup (v2 id), for the node agent. */
	u64 cgroup;
	name_t component[MAX_DEPTH];
};

/* The `cgroup` map's value that makes the kernel side follow every cgroup created since (the node agent). */
#define NEW_CGROUPS 0xffffffffffffffffULL

/* A cgroup created or removed, for the node agent. */
struct cgroup_event {
	u32 removed;
	u32 pad;
	u64 id;
	char path[256];
};

/* A followed process's state in the targets map: still trapline's launcher, or the workload. */
#define LAUNCHING 0
#define RECORDING 1

/* Counters of what the kernel side could not keep: a full map loses a call, never silently. */
enum lost {
	LOST_CLASS = 0,
	LOST_RESULT = 1,
	LOST_TARGET = 2,
	LOST_EXEC = 3,
	LOST_COUNT = 4,
};

#endif
