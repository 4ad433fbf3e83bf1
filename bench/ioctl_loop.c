/* ioctl_loop: open a character device and make N ioctl calls on it, then exit 0.
 *
 * The GPU-shaped workload for scripts/bench.sh: a driver is driven through ioctls on device fds, and a recorder
 * must name the device behind each one, so this measures that lookup on top of the per-syscall cost.
 * TCGETS on /dev/null fails with ENOTTY: the kernel work is small and the same with or without a recorder.
 *
 * usage: ioctl_loop [N] [DEVICE]    (default 200000 /dev/null)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = 200000;
	const char *device = argc > 2 ? argv[2] : "/dev/null";
	struct termios t;
	int fd;

	if (argc > 3) {
		fprintf(stderr, "usage: %s [N] [DEVICE]\n", argv[0]);
		return 2;
	}
	if (argc >= 2) {
		char *end;

		errno = 0;
		n = strtol(argv[1], &end, 10);
		if (errno != 0 || *argv[1] == '\0' || *end != '\0' || n < 0) {
			fprintf(stderr, "%s: N must be a non-negative integer, got '%s'\n",
				argv[0], argv[1]);
			return 2;
		}
	}
	fd = open(device, O_RDWR);
	if (fd < 0) {
		perror(device);
		return 2;
	}

	for (long i = 0; i < n; i++)
		ioctl(fd, TCGETS, &t);

	return 0;
}
