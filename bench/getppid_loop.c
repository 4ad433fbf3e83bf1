/* getppid_loop: make N getppid system calls, then exit 0.
 *
 * The benchmark workload for scripts/bench.sh: nearly all of its time is
 * syscall entry and exit, so tracing overhead per syscall dominates.
 * syscall(SYS_getppid) is used rather than getppid() so that no libc can
 * cache the result and skip the kernel.
 *
 * usage: getppid_loop [N]    (default 200000)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = 200000;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [N]\n", argv[0]);
		return 2;
	}
	if (argc == 2) {
		char *end;

		errno = 0;
		n = strtol(argv[1], &end, 10);
		if (errno != 0 || *argv[1] == '\0' || *end != '\0' || n < 0) {
			fprintf(stderr, "%s: N must be a non-negative integer, got '%s'\n",
				argv[0], argv[1]);
			return 2;
		}
	}

	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);

	return 0;
}
