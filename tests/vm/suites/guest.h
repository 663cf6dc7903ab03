/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * Helpers shared by the guest-side suites. Each suite is one cmocka binary
 * printing TAP; tests/vm/guest-tests runs them inside the VM.
 */
#ifndef HMIRROR_GUEST_H
#define HMIRROR_GUEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <setjmp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

/*
 * Skip the current test, saying why: tests/summary prints the reason next
 * to the test's name. cmocka's skip() takes no message of its own.
 */
#define guest_skip(...)							\
	do {								\
		printf("# skip-reason: " __VA_ARGS__);			\
		printf("\n");						\
		fflush(stdout);						\
		skip();							\
	} while (0)

static inline int guest_path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Read a decimal number from a (debugfs or sysfs) file; -1 on failure. */
static inline long long guest_read_ll(const char *path)
{
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* Load a module from a path, like insmod; returns 0 or -errno. */
static inline int guest_module_load(const char *path, const char *params)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, params, 0))
		ret = -errno;
	close(fd);
	return ret;
}

/* Unload a module without waiting for users; returns 0 or -errno. */
static inline int guest_module_unload(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

/* The module under test: $HMIRROR_KO, set by tests/vm/guest-tests. */
static inline const char *guest_module_path(void)
{
	const char *p = getenv("HMIRROR_KO");

	return p ? p : "src/kernel/hmirror.ko";
}

#endif /* HMIRROR_GUEST_H */
