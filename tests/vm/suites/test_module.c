// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Guest suite: the module's life cycle. Load with bad and good parameters,
 * the devices appear and answer, bad ioctls are refused, the fd works only
 * in the opener's mm, every object is accounted for, and the module unloads
 * leaving nothing behind. The test_hmm front end (hmirror_dmirror.ko)
 * loads on top, works only in its opener's mm and leaves nothing either.
 * The tests run in order and share the loaded module.
 */
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "guest.h"
#include "hmirror.h"
/* From the test kernel's source tree (lib/), never copied. */
#include <test_hmm_uapi.h>

#define OBJECTS "/sys/kernel/debug/hmirror/objects"

static void test_bad_params(void **state)
{
	const char *ko = guest_module_path();

	(void)state;
	assert_false(guest_path_exists("/sys/module/hmirror"));
	assert_int_equal(guest_module_load(ko, "nr_devices=17"), -EINVAL);
	assert_false(guest_path_exists("/sys/module/hmirror"));
	assert_false(guest_path_exists("/dev/hmirror0"));
}

/* No sw instance: only accelerators (none without --device pci). */
static void test_no_sw(void **state)
{
	bool pci = !strcmp(guest_backend(), "pci");

	(void)state;
	assert_int_equal(guest_module_load(guest_module_path(), "nr_devices=0"),
			 0);
	assert_int_equal(guest_path_exists("/dev/hmirror0"), pci);
	assert_int_equal(guest_module_unload("hmirror"), 0);
}

static void test_load(void **state)
{
	(void)state;
	assert_int_equal(guest_module_load(guest_module_path(), ""), 0);
	assert_true(guest_path_exists("/sys/module/hmirror"));
	assert_true(guest_path_exists("/sys/class/hmirror/hmirror0"));
	assert_true(guest_path_exists("/dev/hmirror0"));
	assert_true(guest_path_exists("/dev/hmirror1"));
	assert_false(guest_path_exists("/dev/hmirror2"));
	assert_int_equal(guest_read_ll(OBJECTS), 0);
}

static void test_info(void **state)
{
	struct hmirror_info info;
	struct hmirror *h;
	unsigned int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		assert_int_equal(hmirror_open(i, &h), 0);
		assert_int_equal(hmirror_get_info(h, &info), 0);
		assert_int_equal(info.abi_version, HMIRROR_ABI_VERSION);
		assert_int_equal(info.device_index, i);
		assert_int_equal(info.nr_devices, 2);
		assert_string_equal(info.backend, guest_backend());
		/* The sw engine's contexts are memory; pci's are slots. */
		if (!strcmp(guest_backend(), "sw"))
			assert_int_equal(info.max_contexts, 0);
		else
			assert_true(info.max_contexts > 0);
		hmirror_close(h);
	}
	assert_int_equal(hmirror_open(2, &h), -ENOENT);
}

static void test_bad_ioctls(void **state)
{
	struct hmirror_info info;
	int fd;

	(void)state;
	fd = open("/dev/hmirror0", O_RDWR);
	assert_true(fd >= 0);

	assert_int_equal(ioctl(fd, _IO(HMIRROR_IOC_MAGIC, 0x7f)), -1);
	assert_int_equal(errno, ENOTTY);

	memset(&info, 0, sizeof(info));
	info.reserved = 1;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, &info), -1);
	assert_int_equal(errno, EINVAL);
	/* Refused input is left as it was. */
	assert_int_equal(info.reserved, 1);
	assert_int_equal(info.abi_version, 0);

	memset(&info, 0, sizeof(info));
	info.pad = 1;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, &info), -1);
	assert_int_equal(errno, EINVAL);

	/* An output field is no input either. */
	memset(&info, 0, sizeof(info));
	info.max_contexts = 1;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, &info), -1);
	assert_int_equal(errno, EINVAL);

	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, NULL), -1);
	assert_int_equal(errno, EFAULT);
	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO,
			       (void *)0xffff888000000000ull), -1);
	assert_int_equal(errno, EFAULT);
	close(fd);
}

static void test_other_mm(void **state)
{
	struct hmirror_info info;
	int fd, status;
	pid_t pid;

	(void)state;
	fd = open("/dev/hmirror0", O_RDWR);
	assert_true(fd >= 0);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* An inherited fd gives the child nothing. */
		memset(&info, 0, sizeof(info));
		if (ioctl(fd, HMIRROR_IOC_GET_INFO, &info) != -1)
			_exit(1);
		if (errno != EACCES)
			_exit(2);
		if (info.abi_version != 0)
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* ...and the opener keeps full use of it. */
	memset(&info, 0, sizeof(info));
	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, &info), 0);
	assert_int_equal(info.abi_version, HMIRROR_ABI_VERSION);
	close(fd);
}

static void test_object_accounting(void **state)
{
	int fd[3], i, status;
	pid_t pid;

	(void)state;
	for (i = 0; i < 3; i++) {
		fd[i] = open(i == 1 ? "/dev/hmirror1" : "/dev/hmirror0", O_RDWR);
		assert_true(fd[i] >= 0);
	}
	assert_int_equal(guest_read_ll(OBJECTS), 3);
	for (i = 0; i < 3; i++)
		close(fd[i]);
	assert_int_equal(guest_read_ll(OBJECTS), 0);

	/* A process that dies with its contexts open leaves nothing. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (open("/dev/hmirror0", O_RDWR) < 0 ||
		    open("/dev/hmirror1", O_RDWR) < 0)
			_exit(1);
		_exit(guest_read_ll(OBJECTS) == 2 ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(guest_read_ll(OBJECTS), 0);
}

/* hmirror_dmirror.ko, next to the module under test. */
static void dmirror_ko(char *path, size_t n)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", guest_module_path());
	snprintf(path, n, "%s/hmirror_dmirror.ko", dirname(dir));
}

static int dmirror_read(int fd, void *addr, void *out, struct hmm_dmirror_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->addr = (uintptr_t)addr;
	cmd->ptr = (uintptr_t)out;
	cmd->npages = 1;
	return ioctl(fd, HMM_DMIRROR_READ, cmd) ? -errno : 0;
}

static void test_dmirror(void **state)
{
	long pg = sysconf(_SC_PAGESIZE);
	struct hmm_dmirror_cmd cmd;
	char ko[PATH_MAX], *buf, *out;
	int fd, status;
	pid_t pid;

	(void)state;
	dmirror_ko(ko, sizeof(ko));
	assert_int_equal(guest_module_load(ko, ""), 0);
	/* Two device-private instances: nodes 0 and 1, no coherent ones. */
	assert_true(guest_path_exists("/dev/hmm_dmirror0"));
	assert_true(guest_path_exists("/dev/hmm_dmirror1"));
	assert_false(guest_path_exists("/dev/hmm_dmirror2"));

	fd = open("/dev/hmm_dmirror0", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(guest_read_ll(OBJECTS), 1);	/* its context */
	buf = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(buf != MAP_FAILED);
	out = malloc(pg);
	assert_non_null(out);
	memset(buf, 0x5a, pg);

	/* The device faults the page in once, then reads it through its PTE. */
	assert_int_equal(dmirror_read(fd, buf, out, &cmd), 0);
	assert_int_equal(cmd.cpages, 1);
	assert_int_equal(cmd.faults, 1);
	assert_memory_equal(out, buf, pg);
	assert_int_equal(dmirror_read(fd, buf, out, &cmd), 0);
	assert_int_equal(cmd.faults, 0);

	/*
	 * To the device and read back from there (its VRAM on pci, read by
	 * the CPU through the BAR), then home again on a CPU read.
	 */
	memset(out, 0, pg);
	memset(&cmd, 0, sizeof(cmd));
	cmd.addr = (uintptr_t)buf;
	cmd.ptr = (uintptr_t)out;
	cmd.npages = 1;
	assert_int_equal(ioctl(fd, HMM_DMIRROR_MIGRATE_TO_DEV, &cmd), 0);
	assert_int_equal(cmd.cpages, 1);
	assert_memory_equal(out, buf, pg);
	assert_int_equal(buf[pg - 1], 0x5a);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)	/* An inherited fd gives the child nothing. */
		_exit(dmirror_read(fd, buf, out, &cmd) == -EACCES ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* hmirror stays while its front end is loaded. */
	assert_int_equal(guest_module_unload("hmirror"), -EWOULDBLOCK);
	close(fd);
	munmap(buf, pg);
	free(out);
	assert_int_equal(guest_read_ll(OBJECTS), 0);
	assert_int_equal(guest_module_unload("hmirror_dmirror"), 0);
	assert_false(guest_path_exists("/dev/hmm_dmirror0"));
}

static void test_unload_busy(void **state)
{
	struct hmirror_info info;
	int fd;

	(void)state;
	fd = open("/dev/hmirror0", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(guest_module_unload("hmirror"), -EWOULDBLOCK);
	memset(&info, 0, sizeof(info));
	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, &info), 0);
	close(fd);
}

static void test_unload(void **state)
{
	(void)state;
	assert_int_equal(guest_module_unload("hmirror"), 0);
	assert_false(guest_path_exists("/sys/module/hmirror"));
	assert_false(guest_path_exists("/sys/class/hmirror"));
	assert_false(guest_path_exists("/dev/hmirror0"));
	assert_false(guest_path_exists("/sys/kernel/debug/hmirror"));
}

/* Debug flavour: kmemleak must find nothing of the load/unload cycles. */
static void test_kmemleak(void **state)
{
	(void)state;
	assert_int_equal(hm_kmemleak_suspects(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_no_sw),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_bad_ioctls),
		cmocka_unit_test(test_other_mm),
		cmocka_unit_test(test_object_accounting),
		cmocka_unit_test(test_dmirror),
		cmocka_unit_test(test_unload_busy),
		cmocka_unit_test(test_unload),
		cmocka_unit_test(test_kmemleak),
	};

	guest_suite_setup();
	return cmocka_run_group_tests_name("module", tests, NULL, NULL);
}
