// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Host unit tests of libhmirror. The kernel is replaced by a mock ioctl()
 * (linked with -Wl,--wrap=ioctl) so that the library's own logic is tested
 * without the module: argument checks, ABI checks, and that no file
 * descriptor leaks on any error path.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <cmocka.h>

#include "hmirror.h"

int __real_ioctl(int fd, unsigned long req, ...);

/* When set, GET_INFO is answered by the mock with this record. */
static const struct hmirror_info *mock_info;

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);

	if (mock_info && req == HMIRROR_IOC_GET_INFO) {
		memcpy(arg, mock_info, sizeof(*mock_info));
		return 0;
	}
	return __real_ioctl(fd, req, arg);
}

static int open_fds(void)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(dir);
	while ((d = readdir(dir)))
		n++;
	closedir(dir);
	return n;
}

static void test_dev_path(void **state)
{
	char buf[32], tiny[8];

	(void)state;
	assert_int_equal(hmirror_dev_path(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/dev/hmirror0");
	assert_int_equal(hmirror_dev_path(15, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/dev/hmirror15");
	assert_int_equal(hmirror_dev_path(0, tiny, sizeof(tiny)), -ENAMETOOLONG);
	assert_int_equal(hmirror_dev_path(0, NULL, 16), -EINVAL);
}

static void test_open_bad_args(void **state)
{
	struct hmirror *h = NULL;

	(void)state;
	assert_int_equal(hmirror_open_path(NULL, &h), -EINVAL);
	assert_int_equal(hmirror_open_path("/dev/null", NULL), -EINVAL);
	assert_null(h);
	assert_int_equal(hmirror_fd(NULL), -EINVAL);
	assert_int_equal(hmirror_get_info(NULL, NULL), -EINVAL);
	hmirror_close(NULL);
}

static void test_open_missing(void **state)
{
	struct hmirror *h = NULL;
	int before = open_fds();

	(void)state;
	assert_int_equal(hmirror_open_path("/nonexistent/hmirror9", &h), -ENOENT);
	assert_null(h);
	assert_int_equal(open_fds(), before);
}

static void test_open_not_hmirror(void **state)
{
	struct hmirror *h = NULL;
	int before = open_fds();

	(void)state;
	/* /dev/null answers our ioctl with ENOTTY: not ours, fd closed. */
	assert_int_equal(hmirror_open_path("/dev/null", &h), -ENOTTY);
	assert_null(h);
	assert_int_equal(open_fds(), before);
}

static void test_open_abi_mismatch(void **state)
{
	struct hmirror_info info = { .abi_version = HMIRROR_ABI_VERSION + 1 };
	struct hmirror *h = NULL;
	int before = open_fds();

	(void)state;
	mock_info = &info;
	assert_int_equal(hmirror_open_path("/dev/null", &h), -EPROTO);
	mock_info = NULL;
	assert_null(h);
	assert_int_equal(open_fds(), before);
}

static void test_open_and_info(void **state)
{
	struct hmirror_info info = {
		.abi_version = HMIRROR_ABI_VERSION,
		.device_index = 1,
		.nr_devices = 2,
		.backend = "sw",
	};
	struct hmirror_info got;
	struct hmirror *h = NULL;
	int before = open_fds();

	(void)state;
	mock_info = &info;
	assert_int_equal(hmirror_open_path("/dev/null", &h), 0);
	assert_non_null(h);
	assert_true(hmirror_fd(h) >= 0);
	assert_int_equal(open_fds(), before + 1);
	memset(&got, 0xff, sizeof(got));
	assert_int_equal(hmirror_get_info(h, &got), 0);
	assert_memory_equal(&got, &info, sizeof(info));
	mock_info = NULL;
	hmirror_close(h);
	assert_int_equal(open_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dev_path),
		cmocka_unit_test(test_open_bad_args),
		cmocka_unit_test(test_open_missing),
		cmocka_unit_test(test_open_not_hmirror),
		cmocka_unit_test(test_open_abi_mismatch),
		cmocka_unit_test(test_open_and_info),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("libhmirror", tests, NULL, NULL);
}
