/* The few kernel types the recorder reads, by name: with preserve_access_index, libbpf relocates every field
 * access against the running kernel's BTF (CO-RE), so these need not match any one kernel's layout. */
#ifndef TRAPLINE_KERNEL_H
#define TRAPLINE_KERNEL_H

#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/* x86_64's saved user registers; the ___trapline suffix keeps it apart from the UAPI struct of the same name. */
struct pt_regs___trapline {
	unsigned long bx;
	unsigned long cx;
	unsigned long bp;
	unsigned long di;
	unsigned long si;
	unsigned long dx;
	unsigned long r10;
	unsigned long r8;
	unsigned long r9;
};

struct thread_info {
	u32 status;
};

struct inode {
	unsigned short i_mode;
	u32 i_rdev;
};

struct qstr {
	const unsigned char *name;
};

struct dentry {
	struct qstr d_name;
	struct dentry *d_parent;
};

struct vfsmount {
	struct dentry *mnt_root;
};

/* What a vfsmount is embedded in: the mount tree, for paths that cross mount points (bind mounts). */
struct mount {
	struct mount *mnt_parent;
	struct dentry *mnt_mountpoint;
	struct vfsmount mnt;
};

struct path {
	struct vfsmount *mnt;
	struct dentry *dentry;
};

struct file {
	struct path f_path;
	struct inode *f_inode;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct task_struct {
	struct thread_info thread_info;
	int pid;
	int tgid;
	struct task_struct *group_leader;
	struct files_struct *files;
};

struct kernfs_node {
	u64 id;
};

struct cgroup {
	struct kernfs_node *kn;
};

struct linux_binprm {
	struct file *file;
};

#pragma clang attribute pop

#endif
