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

/*
 * TAP output, and only the tests matching HMIRROR_TEST_FILTER (a cmocka
 * pattern, '*' and '?') when it is set: `HMIRROR_TEST_FILTER='*oom*'
 * make vm-test` reruns one test without the rest of the suites.
 */
static inline void guest_suite_setup(void)
{
	const char *filter = getenv("HMIRROR_TEST_FILTER");

	cmocka_set_message_output(CM_OUTPUT_TAP);
	if (filter && *filter)
		cmocka_set_test_filter(filter);
}

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

/* Write a string to a (sysfs, debugfs, tracefs) file; 0 or -errno. */
static inline int guest_write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static inline const char *guest_module_path(void);

/*
 * The backend the guest's instances run on: $HMIRROR_DEVICE, "sw" (the
 * in-kernel engine) unless tests/vm/run --device pci booted the guest
 * with accelerators. Suites are the same for both.
 */
static inline const char *guest_backend(void)
{
	const char *b = getenv("HMIRROR_DEVICE");

	return b && *b ? b : "sw";
}

/*
 * Load a module from a path, like insmod; returns 0 or -errno. The module
 * under test also gets $HMIRROR_KO_PARAMS (nr_devices=0 with --device pci:
 * the instances are the accelerators), before @params, which win.
 */
static inline int guest_module_load(const char *path, const char *params)
{
	const char *extra = getenv("HMIRROR_KO_PARAMS");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char all[1024];
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (extra && *extra && !strcmp(path, guest_module_path())) {
		snprintf(all, sizeof(all), "%s %s", extra, params);
		params = all;
	}
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

/* ---- raw uAPI helpers: the kernel suites talk to the module directly ---- */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/hmirror.h>

#define HM_OBJECTS "/sys/kernel/debug/hmirror/objects"

/* Load the module (if it is not) with the given parameters. */
static inline void hm_module_up(const char *params)
{
	if (guest_path_exists("/sys/module/hmirror"))
		return;
	assert_int_equal(guest_module_load(guest_module_path(), params), 0);
}

/* Unload; everything a suite made must be gone by then. */
static inline void hm_module_down(void)
{
	assert_int_equal(guest_read_ll(HM_OBJECTS), 0);
	assert_int_equal(guest_module_unload("hmirror"), 0);
}

/* Group setup and teardown: the module with a 1 s deadline, then gone. */
static inline int hm_suite_up(void **state)
{
	(void)state;
	hm_module_up("inval_deadline_ms=1000");
	return 0;
}

static inline int hm_suite_down(void **state)
{
	(void)state;
	hm_module_down();
	return 0;
}

static inline int hm_open(unsigned int dev, unsigned int preempt)
{
	struct hmirror_ctx_config c = { .set = HMIRROR_CFG_PREEMPT };
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/dev/hmirror%u", dev);
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	c.preempt = preempt;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_CONFIG, &c), 0);
	assert_int_equal(c.preempt, preempt);
	return fd;
}

/* Device memory of instance @dev, in bytes (0: none). */
static inline uint64_t hm_vram_bytes(unsigned int dev)
{
	struct hmirror_info info = { 0 };
	int fd = hm_open(dev, HMIRROR_PREEMPT_PAGE);

	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, &info), 0);
	close(fd);
	return info.vram_bytes;
}

/*
 * Skip the test on a backend without device-coherent memory: the pci
 * instances' memory is their VRAM, device-private only.
 */
#define hm_need_coherent_backend()					\
	do {								\
		if (!strcmp(guest_backend(), "pci"))			\
			guest_skip("the pci backend's device memory is VRAM: device-private only"); \
	} while (0)

/* Skip the test when instance @dev has no device memory. */
#define hm_need_vram(dev)						\
	do {								\
		if (!hm_vram_bytes(dev))				\
			guest_skip("hmirror%u has no device memory", (dev)); \
	} while (0)

static inline int hm_config(int fd, struct hmirror_ctx_config *c)
{
	return ioctl(fd, HMIRROR_IOC_CONFIG, c) ? -errno : 0;
}

static inline int hm_submit(int fd, const struct hmirror_cmd *cmds,
			    unsigned int n, uint64_t *fence)
{
	struct hmirror_submit s = {
		.cmds = (uintptr_t)cmds,
		.nr_cmds = n,
		.cmd_size = sizeof(*cmds),
	};

	if (ioctl(fd, HMIRROR_IOC_SUBMIT, &s))
		return -errno;
	if (fence)
		*fence = s.fence;
	return 0;
}

/* Wait for a fence; returns the ioctl's -errno, the job's in *status. */
static inline int hm_wait(int fd, uint64_t fence, uint64_t timeout_ns,
			  int *status)
{
	struct hmirror_wait w = { .fence = fence, .timeout_ns = timeout_ns };

	if (ioctl(fd, HMIRROR_IOC_WAIT, &w))
		return -errno;
	*status = w.status;
	return 0;
}

/* Submit and wait up to 10 s; returns the job's status. */
static inline int hm_run(int fd, const struct hmirror_cmd *cmds,
			 unsigned int n)
{
	uint64_t fence = 0;
	int ret, status = -1;

	ret = hm_submit(fd, cmds, n, &fence);
	if (ret)
		return ret;
	assert_int_equal(hm_wait(fd, fence, 10000000000ull, &status), 0);
	return status;
}

static inline void hm_stats(int fd, struct hmirror_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	assert_int_equal(ioctl(fd, HMIRROR_IOC_STATS, st), 0);
}

static inline struct hmirror_cmd hm_copy(void *dst, const void *src,
					 size_t len)
{
	return (struct hmirror_cmd){ .op = HMIRROR_OP_COPY,
		.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len };
}

static inline struct hmirror_cmd hm_fill(void *dst, uint8_t v, size_t len)
{
	return (struct hmirror_cmd){ .op = HMIRROR_OP_FILL,
		.dst = (uintptr_t)dst, .value = v, .len = len };
}

static inline struct hmirror_cmd hm_wait_value(const uint64_t *p, uint64_t v,
					       uint64_t timeout_us)
{
	return (struct hmirror_cmd){ .op = HMIRROR_OP_WAIT_VALUE,
		.src = (uintptr_t)p, .value = v, .aux = timeout_us };
}

static inline struct hmirror_cmd hm_write_value(uint64_t *p, uint64_t v)
{
	return (struct hmirror_cmd){ .op = HMIRROR_OP_WRITE_VALUE,
		.dst = (uintptr_t)p, .value = v };
}

/*
 * Anonymous memory, written once so that every page is the process's own:
 * a page still backed by the shared zero page is replaced (an
 * invalidation) on the CPU's first write, which would stall behind a
 * NONE-class job that reads it.
 */
static inline void *hm_map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	memset(p, 0, len);
	return p;
}

/* A 2 MiB-aligned anonymous mapping, THP or not as asked. */
static inline void *hm_map_aligned(size_t len, int thp)
{
	size_t al = 2UL << 20;
	char *p = mmap(NULL, len + al, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	assert_true(p != MAP_FAILED);
	a = (char *)(((uintptr_t)p + al - 1) & ~(al - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + len, p + al - a);
	assert_int_equal(madvise(a, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE), 0);
	return a;
}

/* AnonHugePages of this process, in kB: are its THP buffers THPs? */
static inline long hm_anon_huge_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	long kb = 0;
	char line[128];

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		sscanf(line, "AnonHugePages: %ld kB", &kb);
	fclose(f);
	return kb;
}

/* AnonHugePages of the mapping holding @addr, in kB: is it a THP? */
static inline long hm_vma_anon_huge_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long lo, hi, a = (uintptr_t)addr;
	long kb = 0;
	char line[256];
	int in = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		/* Only a mapping's first line reads as lo-hi. */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = a >= lo && a < hi;
		else if (in)
			sscanf(line, "AnonHugePages: %ld kB", &kb);
	}
	fclose(f);
	return kb;
}

static inline uint64_t hm_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* CRC32C as the kernel's crc32c(): reflected, no pre/post inversion. */
static inline uint32_t hm_crc32c(uint32_t crc, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	int k;

	while (n--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1));
	}
	return crc;
}

/* A counter of a context's debugfs file, found by its owner's pid. */
static inline long long hm_ctx_counter(unsigned int dev, pid_t owner,
				       const char *name)
{
	char path[128], line[256], key[64];
	unsigned int id;
	long long v = -1, val;
	int pid, found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmirror/hmirror%u/contexts",
		 dev);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u %d", &id, &pid) == 2 && pid == owner) {
			found = 1;
			break;
		}
	fclose(f);
	if (!found)
		return -1;
	snprintf(path, sizeof(path), "/sys/kernel/debug/hmirror/hmirror%u/ctx%u",
		 dev, id);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %lld", key, &val) == 2 && !strcmp(key, name))
			v = val;
	fclose(f);
	return v;
}

/* A pattern over [p, p + len), a function of the offset and @seed. */
static inline void hm_pattern(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i += 8)
		*(uint64_t *)(p + i) = (i / 8) * 0x9e3779b97f4a7c15ull + seed;
}

static inline int hm_pattern_ok(const uint8_t *p, size_t len,
				unsigned int seed)
{
	for (size_t i = 0; i < len; i += 8)
		if (*(const uint64_t *)(p + i) !=
		    (i / 8) * 0x9e3779b97f4a7c15ull + seed)
			return 0;
	return 1;
}

/* MIGRATE; returns the ioctl's result, pages moved and failed. */
static inline int hm_migrate(int fd, void *p, size_t len, unsigned int target,
			     int32_t *status, uint64_t *moved, uint64_t *failed)
{
	struct hmirror_migrate m = {
		.addr = (uintptr_t)p, .len = len, .target = target,
		.status = (uintptr_t)status,
	};

	if (ioctl(fd, HMIRROR_IOC_MIGRATE, &m))
		return -errno;
	if (moved)
		*moved = m.moved;
	if (failed)
		*failed = m.failed;
	return 0;
}

/*
 * Debug flavour: kmemleak's suspects that name hmirror, each printed as
 * a TAP comment. kmemleak reports only objects older than 5 s: scan,
 * wait, scan. Skips the test on a kernel without kmemleak.
 */
static inline int hm_kmemleak_suspects(void)
{
	const char *km = "/sys/kernel/debug/kmemleak";
	char line[512];
	int leaks = 0;
	FILE *f;

	if (!guest_path_exists(km))
		guest_skip("kernel built without CONFIG_DEBUG_KMEMLEAK (use KERNEL_FLAVOUR=debug)");
	for (int pass = 0; pass < 2; pass++) {
		f = fopen(km, "w");
		assert_non_null(f);
		fputs("scan", f);
		fclose(f);
		if (!pass)
			sleep(6);
	}
	f = fopen(km, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "hmirror")) {
			printf("# %s", line);
			leaks++;
		}
	}
	fclose(f);
	return leaks;
}

#include <sys/socket.h>

/* Pass descriptor @fd over the unix socket @sock (SCM_RIGHTS); 0 or -1. */
static inline int hm_send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, b = 'x';
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* The descriptor hm_send_fd() passed on @sock, or -1. */
static inline int hm_recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], b;
	struct iovec iov = { .iov_base = &b, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	int fd;

	if (recvmsg(sock, &msg, 0) != 1 || !CMSG_FIRSTHDR(&msg))
		return -1;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
	return fd;
}
