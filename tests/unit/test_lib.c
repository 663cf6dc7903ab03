// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Host unit tests of libhmirror. The kernel is replaced by a mock ioctl()
 * (linked with -Wl,--wrap=ioctl) so that the library's own logic is tested
 * without the module: argument checks, ABI checks, that no file descriptor
 * leaks on any error path, the command builder's encoding of struct
 * hmirror_cmd, and what the library sends and returns for each ioctl.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <cmocka.h>

#include "hmirror.h"

int __real_ioctl(int fd, unsigned long req, ...);

/* When set, GET_INFO is answered by the mock with this record. */
static const struct hmirror_info *mock_info;

/*
 * The mocked kernel for the other hmirror ioctls. Each call is recorded
 * (request, and the argument as the library passed it in); then the call
 * fails with mock.fail_errno if that is set, else mock.reply, if set, plays
 * the kernel's part on the argument.
 */
static struct {
	int calls;
	unsigned long req;
	unsigned char arg_in[512];
	int fail_errno;
	void (*reply)(void *arg);
} mock;

static void mock_reset(void)
{
	memset(&mock, 0, sizeof(mock));
}

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
	if (_IOC_TYPE(req) == HMIRROR_IOC_MAGIC && req != HMIRROR_IOC_GET_INFO) {
		assert_true(_IOC_SIZE(req) <= sizeof(mock.arg_in));
		mock.calls++;
		mock.req = req;
		memcpy(mock.arg_in, arg, _IOC_SIZE(req));
		if (mock.fail_errno) {
			errno = mock.fail_errno;
			return -1;
		}
		if (mock.reply)
			mock.reply(arg);
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

/* ---- with an open handle (mocked kernel) -------------------------------- */

static const struct hmirror_info good_info = {
	.abi_version = HMIRROR_ABI_VERSION,
	.nr_devices = 1,
	.backend = "sw",
	.max_cmds = 64,
};

static int setup_handle(void **state)
{
	struct hmirror *h = NULL;
	int ret;

	mock_reset();
	mock_info = &good_info;
	ret = hmirror_open_path("/dev/null", &h);
	mock_info = NULL;
	if (ret)
		return -1;
	*state = h;
	return 0;
}

static int teardown_handle(void **state)
{
	hmirror_close(*state);
	mock_reset();
	return 0;
}

/* errno is never the result, and is left as it was. */
static void test_errno_untouched(void **state)
{
	struct hmirror *h = *state, *h2 = NULL;

	errno = 4242;
	assert_int_equal(hmirror_open_path("/nonexistent/hmirror9", &h2), -ENOENT);
	assert_int_equal(errno, 4242);
	assert_int_equal(hmirror_open_path("/dev/null", &h2), -ENOTTY);
	assert_int_equal(errno, 4242);
	mock.fail_errno = EBUSY;
	assert_int_equal(hmirror_set_preempt(h, HMIRROR_PREEMPT_NONE), -EBUSY);
	assert_int_equal(errno, 4242);
	mock.fail_errno = EIO;
	assert_int_equal(hmirror_stats(h, &(struct hmirror_stats){ 0 }), -EIO);
	assert_int_equal(errno, 4242);
}

/* ---- job builder -------------------------------------------------------- */

static void fill_pattern(void *p, size_t len)
{
	memset(p, 0xa5, len);
}

static int is_pattern(const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i] != 0xa5)
			return 0;
	return 1;
}

static void assert_cmd_equal(const struct hmirror_cmd *got,
			     const struct hmirror_cmd *want)
{
	assert_int_equal(got->op, want->op);
	assert_int_equal(got->flags, want->flags);
	assert_int_equal(got->dst, want->dst);
	assert_int_equal(got->src, want->src);
	assert_int_equal(got->len, want->len);
	assert_int_equal(got->value, want->value);
	assert_int_equal(got->aux, want->aux);
	/* struct hmirror_cmd has no padding: the bytes must match too. */
	assert_memory_equal(got, want, sizeof(*got));
}

#define UA(p)	((__u64)(uintptr_t)(p))

static void test_job_init(void **state)
{
	struct hmirror_cmd cmds[2];
	struct hmirror_job job;

	(void)state;
	assert_int_equal(hmirror_job_init(NULL, cmds, 2), -EINVAL);
	assert_int_equal(hmirror_job_init(&job, NULL, 2), -EINVAL);
	assert_int_equal(hmirror_job_init(&job, cmds, 0), -EINVAL);
	memset(&job, 0xff, sizeof(job));
	assert_int_equal(hmirror_job_init(&job, cmds, 2), 0);
	assert_ptr_equal(job.cmds, cmds);
	assert_int_equal(job.nr_cmds, 0);
	assert_int_equal(job.capacity, 2);
	hmirror_job_reset(NULL);
}

static void test_job_builders(void **state)
{
	struct hmirror_cmd cmds[9];
	struct hmirror_job job;
	_Alignas(8) uint64_t w[4];
	char a[64], b[64];
	uint32_t crc;

	(void)state;
	fill_pattern(cmds, sizeof(cmds));
	assert_int_equal(hmirror_job_init(&job, cmds, 8), 0);

	assert_int_equal(hmirror_job_copy(&job, a, b, 0x12345), 0);
	assert_int_equal(hmirror_job_fill(&job, a + 3, 0xfe, 61), 0);
	assert_int_equal(hmirror_job_crc32c(&job, &crc, b + 1, 63, 0xdeadbeefU), 0);
	assert_int_equal(hmirror_job_atomic_add(&job, &w[0], 0xfedcba9876543210ULL), 0);
	assert_int_equal(hmirror_job_write_value(&job, &w[1], 0x8000000000000001ULL), 0);
	assert_int_equal(hmirror_job_wait_value(&job, &w[2], 7, 1500), 0);
	assert_int_equal(hmirror_job_delay(&job, 250), 0);
	assert_int_equal(job.nr_cmds, 7);

	assert_cmd_equal(&cmds[0], &(struct hmirror_cmd){
		.op = HMIRROR_OP_COPY, .dst = UA(a), .src = UA(b), .len = 0x12345 });
	assert_cmd_equal(&cmds[1], &(struct hmirror_cmd){
		.op = HMIRROR_OP_FILL, .dst = UA(a + 3), .len = 61, .value = 0xfe });
	/* The seed is zero-extended into value, never sign-extended. */
	assert_cmd_equal(&cmds[2], &(struct hmirror_cmd){
		.op = HMIRROR_OP_CRC32C, .dst = UA(&crc), .src = UA(b + 1),
		.len = 63, .value = 0xdeadbeefULL });
	assert_cmd_equal(&cmds[3], &(struct hmirror_cmd){
		.op = HMIRROR_OP_ATOMIC_ADD, .dst = UA(&w[0]),
		.value = 0xfedcba9876543210ULL });
	assert_cmd_equal(&cmds[4], &(struct hmirror_cmd){
		.op = HMIRROR_OP_WRITE_VALUE, .dst = UA(&w[1]),
		.value = 0x8000000000000001ULL });
	/* WAIT_VALUE watches src, not dst; its timeout travels in aux. */
	assert_cmd_equal(&cmds[5], &(struct hmirror_cmd){
		.op = HMIRROR_OP_WAIT_VALUE, .src = UA(&w[2]), .value = 7,
		.aux = 1500 });
	assert_cmd_equal(&cmds[6], &(struct hmirror_cmd){
		.op = HMIRROR_OP_DELAY, .aux = 250 });
	/* Nothing written past the commands added. */
	assert_true(is_pattern(&cmds[7], 2 * sizeof(cmds[0])));

	/* A verbatim command is copied as is, unchecked. */
	{
		struct hmirror_cmd raw = {
			.op = 99, .flags = 1, .dst = 3, .src = 5, .len = 7,
			.value = 11, .aux = 13,
		};

		assert_int_equal(hmirror_job_add_cmd(&job, &raw), 0);
		assert_cmd_equal(&cmds[7], &raw);
		assert_int_equal(hmirror_job_add_cmd(&job, NULL), -EINVAL);
	}
	assert_true(is_pattern(&cmds[8], sizeof(cmds[0])));
}

static void test_job_full(void **state)
{
	struct hmirror_cmd cmds[3], raw = { .op = HMIRROR_OP_DELAY };
	struct hmirror_job job;
	_Alignas(8) uint64_t w[2];
	char buf[16];

	(void)state;
	fill_pattern(cmds, sizeof(cmds));
	assert_int_equal(hmirror_job_init(&job, cmds, 2), 0);
	assert_int_equal(hmirror_job_delay(&job, 1), 0);
	assert_int_equal(hmirror_job_delay(&job, 2), 0);

	assert_int_equal(hmirror_job_copy(&job, buf, buf + 8, 8), -ENOSPC);
	assert_int_equal(hmirror_job_fill(&job, buf, 0, 8), -ENOSPC);
	assert_int_equal(hmirror_job_crc32c(&job, &w[0], buf, 8, 0), -ENOSPC);
	assert_int_equal(hmirror_job_atomic_add(&job, &w[0], 1), -ENOSPC);
	assert_int_equal(hmirror_job_write_value(&job, &w[0], 1), -ENOSPC);
	assert_int_equal(hmirror_job_wait_value(&job, &w[0], 1, 0), -ENOSPC);
	assert_int_equal(hmirror_job_delay(&job, 3), -ENOSPC);
	assert_int_equal(hmirror_job_add_cmd(&job, &raw), -ENOSPC);
	assert_int_equal(job.nr_cmds, 2);
	assert_int_equal(cmds[0].aux, 1);
	assert_int_equal(cmds[1].aux, 2);
	assert_true(is_pattern(&cmds[2], sizeof(cmds[2])));

	/* Reset keeps the storage and starts again at the first entry. */
	hmirror_job_reset(&job);
	assert_int_equal(job.nr_cmds, 0);
	assert_ptr_equal(job.cmds, cmds);
	assert_int_equal(hmirror_job_delay(&job, 9), 0);
	assert_int_equal(cmds[0].aux, 9);
	assert_int_equal(cmds[1].aux, 2);
}

static void test_job_invalid(void **state)
{
	struct hmirror_cmd cmds[4];
	struct hmirror_job job;
	_Alignas(8) unsigned char mem[32];

	(void)state;
	fill_pattern(cmds, sizeof(cmds));
	assert_int_equal(hmirror_job_init(&job, cmds, 4), 0);

	/* 64-bit operands: 8-byte aligned. */
	assert_int_equal(hmirror_job_atomic_add(&job, mem + 4, 1), -EINVAL);
	assert_int_equal(hmirror_job_write_value(&job, mem + 1, 1), -EINVAL);
	assert_int_equal(hmirror_job_wait_value(&job, mem + 2, 1, 0), -EINVAL);
	/* The CRC result: 4-byte aligned. */
	assert_int_equal(hmirror_job_crc32c(&job, mem + 2, mem, 4, 0), -EINVAL);
	/* DELAY: at most HMIRROR_DELAY_MAX_US. */
	assert_int_equal(hmirror_job_delay(&job, HMIRROR_DELAY_MAX_US + 1), -EINVAL);
	/* No job. */
	assert_int_equal(hmirror_job_copy(NULL, mem, mem, 1), -EINVAL);
	assert_int_equal(hmirror_job_fill(NULL, mem, 0, 1), -EINVAL);
	assert_int_equal(hmirror_job_crc32c(NULL, mem, mem, 1, 0), -EINVAL);
	assert_int_equal(hmirror_job_atomic_add(NULL, mem, 1), -EINVAL);
	assert_int_equal(hmirror_job_write_value(NULL, mem, 1), -EINVAL);
	assert_int_equal(hmirror_job_wait_value(NULL, mem, 1, 0), -EINVAL);
	assert_int_equal(hmirror_job_delay(NULL, 1), -EINVAL);
	/* Failures changed nothing. */
	assert_int_equal(job.nr_cmds, 0);
	assert_true(is_pattern(cmds, sizeof(cmds)));

	/* The bounds themselves are accepted. */
	assert_int_equal(hmirror_job_crc32c(&job, mem + 4, mem, 4, 0), 0);
	assert_int_equal(hmirror_job_delay(&job, HMIRROR_DELAY_MAX_US), 0);
	assert_int_equal(hmirror_job_atomic_add(&job, mem + 8, 1), 0);
	assert_int_equal(job.nr_cmds, 3);
	assert_int_equal(cmds[1].aux, HMIRROR_DELAY_MAX_US);
}

static void test_job_migrate(void **state)
{
	static _Alignas(65536) unsigned char mem[2 * 65536];
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct hmirror_cmd cmds[2];
	struct hmirror_job job;
	_Alignas(8) uint64_t moved[2];

	(void)state;
	fill_pattern(cmds, sizeof(cmds));
	assert_int_equal(hmirror_job_init(&job, cmds, 2), 0);
	/* Page-aligned start and length, a known target, aligned count. */
	assert_int_equal(hmirror_job_migrate(&job, mem + 8, pg, 1, NULL), -EINVAL);
	assert_int_equal(hmirror_job_migrate(&job, mem, pg + 8, 1, NULL), -EINVAL);
	assert_int_equal(hmirror_job_migrate(&job, mem, 0, 1, NULL), -EINVAL);
	assert_int_equal(hmirror_job_migrate(&job, mem, pg, 2, NULL), -EINVAL);
	assert_int_equal(hmirror_job_migrate(&job, mem, pg, 1,
					     (uint64_t *)((char *)moved + 4)),
			 -EINVAL);
	assert_int_equal(hmirror_job_migrate(NULL, mem, pg, 1, NULL), -EINVAL);
	assert_int_equal(job.nr_cmds, 0);
	assert_true(is_pattern(cmds, sizeof(cmds)));

	assert_int_equal(hmirror_job_migrate(&job, mem, 2 * pg,
					     HMIRROR_MIGRATE_TO_DEVICE, &moved[1]),
			 0);
	assert_int_equal(hmirror_job_migrate(&job, mem + pg, pg,
					     HMIRROR_MIGRATE_TO_SYSTEM, NULL), 0);
	/* The range travels in src/len, the target in value, the count in dst. */
	assert_cmd_equal(&cmds[0], &(struct hmirror_cmd){
		.op = HMIRROR_OP_MIGRATE, .src = UA(mem), .len = 2 * pg,
		.value = HMIRROR_MIGRATE_TO_DEVICE, .dst = UA(&moved[1]) });
	assert_cmd_equal(&cmds[1], &(struct hmirror_cmd){
		.op = HMIRROR_OP_MIGRATE, .src = UA(mem + pg), .len = pg,
		.value = HMIRROR_MIGRATE_TO_SYSTEM });
}

/* The flags of the last command: EXCLUSIVE on the 64-bit writes only. */
static void test_job_set_flags(void **state)
{
	struct hmirror_cmd cmds[4], before;
	struct hmirror_job job;
	_Alignas(8) uint64_t w[2];
	char buf[16];

	(void)state;
	assert_int_equal(hmirror_job_init(&job, cmds, 4), 0);
	/* No command yet, or no job. */
	assert_int_equal(hmirror_job_set_flags(&job, HMIRROR_CMD_F_EXCLUSIVE),
			 -EINVAL);
	assert_int_equal(hmirror_job_set_flags(NULL, 0), -EINVAL);

	assert_int_equal(hmirror_job_atomic_add(&job, &w[0], 5), 0);
	assert_int_equal(hmirror_job_set_flags(&job, HMIRROR_CMD_F_EXCLUSIVE), 0);
	assert_cmd_equal(&cmds[0], &(struct hmirror_cmd){
		.op = HMIRROR_OP_ATOMIC_ADD, .flags = HMIRROR_CMD_F_EXCLUSIVE,
		.dst = UA(&w[0]), .value = 5 });
	assert_int_equal(hmirror_job_write_value(&job, &w[1], 6), 0);
	assert_int_equal(hmirror_job_set_flags(&job, HMIRROR_CMD_F_EXCLUSIVE), 0);
	assert_int_equal(cmds[1].flags, HMIRROR_CMD_F_EXCLUSIVE);
	/* Only the last command changes, and 0 clears. */
	assert_int_equal(hmirror_job_set_flags(&job, 0), 0);
	assert_int_equal(cmds[1].flags, 0);
	assert_int_equal(cmds[0].flags, HMIRROR_CMD_F_EXCLUSIVE);

	/* Unknown flags, and EXCLUSIVE on other commands: nothing changes. */
	before = cmds[1];
	assert_int_equal(hmirror_job_set_flags(&job, 1U << 1), -EINVAL);
	assert_int_equal(hmirror_job_set_flags(&job, ~0U), -EINVAL);
	assert_cmd_equal(&cmds[1], &before);
	assert_int_equal(hmirror_job_fill(&job, buf, 1, sizeof(buf)), 0);
	before = cmds[2];
	assert_int_equal(hmirror_job_set_flags(&job, HMIRROR_CMD_F_EXCLUSIVE),
			 -EINVAL);
	assert_cmd_equal(&cmds[2], &before);
	assert_int_equal(job.nr_cmds, 3);
}

/* ---- configuration ------------------------------------------------------ */

static const struct hmirror_ctx_config *mock_cfg;

/* The kernel answers CONFIG with the context's configuration. */
static void reply_config(void *arg)
{
	memcpy(arg, mock_cfg, sizeof(*mock_cfg));
}

static struct hmirror_ctx_config sent_config(void)
{
	struct hmirror_ctx_config c;

	assert_int_equal(mock.req, HMIRROR_IOC_CONFIG);
	memcpy(&c, mock.arg_in, sizeof(c));
	return c;
}

/* Exactly one CONFIG call, carrying exactly @want. */
static void assert_sent_config(int calls_before,
			       const struct hmirror_ctx_config *want)
{
	struct hmirror_ctx_config got;

	assert_int_equal(mock.calls, calls_before + 1);
	got = sent_config();
	assert_int_equal(got.set, want->set);
	assert_memory_equal(&got, want, sizeof(got));
}

static void test_config_setters(void **state)
{
	struct hmirror *h = *state;
	int n;

	/* Out of range: -EINVAL, and the kernel is not asked. */
	assert_int_equal(hmirror_set_preempt(h, 2), -EINVAL);
	assert_int_equal(hmirror_set_preempt(h, ~0U), -EINVAL);
	assert_int_equal(hmirror_set_deadline(h, HMIRROR_DEADLINE_MIN_MS - 1), -EINVAL);
	assert_int_equal(hmirror_set_deadline(h, HMIRROR_DEADLINE_MAX_MS + 1), -EINVAL);
	assert_int_equal(hmirror_set_policy(h, 2), -EINVAL);
	assert_int_equal(hmirror_set_policy(h, ~0U), -EINVAL);
	assert_int_equal(hmirror_set_eventfd(h, -2), -EINVAL);
	assert_int_equal(hmirror_set_deadline(NULL, 100), -EINVAL);
	assert_int_equal(mock.calls, 0);

	/* In range: one CONFIG call with exactly the right bit and field. */
	n = mock.calls;
	assert_int_equal(hmirror_set_preempt(h, HMIRROR_PREEMPT_NONE), 0);
	assert_sent_config(n, &(struct hmirror_ctx_config){
		.set = HMIRROR_CFG_PREEMPT, .preempt = HMIRROR_PREEMPT_NONE });
	n = mock.calls;
	assert_int_equal(hmirror_set_preempt(h, HMIRROR_PREEMPT_PAGE), 0);
	assert_sent_config(n, &(struct hmirror_ctx_config){
		.set = HMIRROR_CFG_PREEMPT, .preempt = HMIRROR_PREEMPT_PAGE });
	n = mock.calls;
	assert_int_equal(hmirror_set_deadline(h, HMIRROR_DEADLINE_MIN_MS), 0);
	assert_sent_config(n, &(struct hmirror_ctx_config){
		.set = HMIRROR_CFG_DEADLINE, .deadline_ms = HMIRROR_DEADLINE_MIN_MS });
	n = mock.calls;
	assert_int_equal(hmirror_set_deadline(h, HMIRROR_DEADLINE_MAX_MS), 0);
	assert_sent_config(n, &(struct hmirror_ctx_config){
		.set = HMIRROR_CFG_DEADLINE, .deadline_ms = HMIRROR_DEADLINE_MAX_MS });
	n = mock.calls;
	assert_int_equal(hmirror_set_policy(h, HMIRROR_POLICY_REVOKE), 0);
	assert_sent_config(n, &(struct hmirror_ctx_config){
		.set = HMIRROR_CFG_POLICY, .policy = HMIRROR_POLICY_REVOKE });
	n = mock.calls;
	assert_int_equal(hmirror_set_policy(h, HMIRROR_POLICY_KILL), 0);
	assert_sent_config(n, &(struct hmirror_ctx_config){
		.set = HMIRROR_CFG_POLICY, .policy = HMIRROR_POLICY_KILL });
	n = mock.calls;
	assert_int_equal(hmirror_set_eventfd(h, -1), 0);
	assert_sent_config(n, &(struct hmirror_ctx_config){
		.set = HMIRROR_CFG_EVENTFD, .eventfd = -1 });
	n = mock.calls;
	assert_int_equal(hmirror_set_eventfd(h, 7), 0);
	assert_sent_config(n, &(struct hmirror_ctx_config){
		.set = HMIRROR_CFG_EVENTFD, .eventfd = 7 });

	/* The kernel's refusal is passed on. */
	mock.fail_errno = EBUSY;
	assert_int_equal(hmirror_set_preempt(h, HMIRROR_PREEMPT_NONE), -EBUSY);
}

static void test_config_get_set(void **state)
{
	const struct hmirror_ctx_config cur = {
		.preempt = HMIRROR_PREEMPT_NONE, .deadline_ms = 1234,
		.policy = HMIRROR_POLICY_REVOKE, .eventfd = -1,
	};
	struct hmirror *h = *state;
	struct hmirror_ctx_config got, cfg;
	int n;

	mock_cfg = &cur;
	mock.reply = reply_config;

	/* get: set == 0 and nothing else sent; the kernel's answer returned. */
	memset(&got, 0xff, sizeof(got));
	assert_int_equal(hmirror_config_get(h, &got), 0);
	assert_sent_config(0, &(struct hmirror_ctx_config){ .set = 0 });
	assert_memory_equal(&got, &cur, sizeof(cur));
	assert_int_equal(hmirror_config_get(h, NULL), -EINVAL);
	assert_int_equal(hmirror_config_get(NULL, &got), -EINVAL);

	/* set: only the named fields travel; the reply comes back in @cfg. */
	n = mock.calls;
	cfg = (struct hmirror_ctx_config){
		.set = HMIRROR_CFG_DEADLINE | HMIRROR_CFG_POLICY,
		.preempt = 77,		/* not named: neither checked nor sent */
		.deadline_ms = 500, .policy = HMIRROR_POLICY_KILL,
		.eventfd = 9, .pad = 1, .reserved = { 1, 2 },
	};
	assert_int_equal(hmirror_config_set(h, &cfg), 0);
	assert_sent_config(n, &(struct hmirror_ctx_config){
		.set = HMIRROR_CFG_DEADLINE | HMIRROR_CFG_POLICY,
		.deadline_ms = 500, .policy = HMIRROR_POLICY_KILL });
	assert_memory_equal(&cfg, &cur, sizeof(cur));

	/* Unknown bits, or a named field out of range: nothing sent. */
	n = mock.calls;
	cfg = (struct hmirror_ctx_config){ .set = HMIRROR_CFG_ALL + 1 };
	assert_int_equal(hmirror_config_set(h, &cfg), -EINVAL);
	cfg = (struct hmirror_ctx_config){
		.set = HMIRROR_CFG_ALL, .deadline_ms = 10, .preempt = 5,
	};
	assert_int_equal(hmirror_config_set(h, &cfg), -EINVAL);
	assert_int_equal(mock.calls, n);

	/* A failed call leaves @cfg as it was. */
	mock.fail_errno = EIO;
	cfg = (struct hmirror_ctx_config){
		.set = HMIRROR_CFG_DEADLINE, .deadline_ms = 10 };
	assert_int_equal(hmirror_config_set(h, &cfg), -EIO);
	assert_int_equal(cfg.set, HMIRROR_CFG_DEADLINE);
	assert_int_equal(cfg.deadline_ms, 10);
	mock_cfg = NULL;
}

/* ---- submit, wait, stats ------------------------------------------------ */

#define MOCK_FENCE	0x1122334455667788ULL

static void reply_submit(void *arg)
{
	struct hmirror_submit *s = arg;

	s->fence = MOCK_FENCE;
}

static void test_submit(void **state)
{
	struct hmirror *h = *state;
	struct hmirror_cmd cmds[4];
	struct hmirror_submit sent;
	struct hmirror_job job;
	uint64_t fence = 0;

	assert_int_equal(hmirror_job_init(&job, cmds, 4), 0);
	assert_int_equal(hmirror_job_delay(&job, 1), 0);
	assert_int_equal(hmirror_job_delay(&job, 2), 0);
	assert_int_equal(hmirror_job_delay(&job, 3), 0);

	mock.reply = reply_submit;
	assert_int_equal(hmirror_submit(h, &job, &fence), 0);
	assert_int_equal(mock.calls, 1);
	assert_int_equal(mock.req, HMIRROR_IOC_SUBMIT);
	memcpy(&sent, mock.arg_in, sizeof(sent));
	assert_int_equal(sent.cmds, UA(cmds));
	assert_int_equal(sent.nr_cmds, 3);
	assert_int_equal(sent.flags, 0);
	assert_int_equal(sent.fence, 0);
	/* The library's own stride, so the kernel reads the keys too. */
	assert_int_equal(sent.cmd_size, sizeof(struct hmirror_cmd));
	assert_int_equal(sent.pad, 0);
	assert_int_equal(sent.reserved, 0);
	assert_int_equal(fence, MOCK_FENCE);

	/* The fence may be ignored. */
	assert_int_equal(hmirror_submit(h, &job, NULL), 0);
	assert_int_equal(mock.calls, 2);

	/* Errors pass through and leave *fence alone. */
	mock.fail_errno = EFAULT;
	fence = 5;
	assert_int_equal(hmirror_submit(h, &job, &fence), -EFAULT);
	assert_int_equal(fence, 5);
	mock.fail_errno = 0;

	assert_int_equal(hmirror_submit(NULL, &job, &fence), -EINVAL);
	assert_int_equal(hmirror_submit(h, NULL, &fence), -EINVAL);
	assert_int_equal(mock.calls, 3);
}

static int mock_status;

static void reply_wait(void *arg)
{
	struct hmirror_wait *w = arg;

	w->status = mock_status;
}

static void test_wait(void **state)
{
	struct hmirror *h = *state;
	struct hmirror_wait sent;
	int status;

	mock.reply = reply_wait;

	/* Completed with an error: the call succeeds, the status says how. */
	mock_status = -ECANCELED;
	status = 12345;
	assert_int_equal(hmirror_wait(h, 77, 5000000, &status), 0);
	assert_int_equal(status, -ECANCELED);
	assert_int_equal(mock.req, HMIRROR_IOC_WAIT);
	memcpy(&sent, mock.arg_in, sizeof(sent));
	assert_int_equal(sent.fence, 77);
	assert_int_equal(sent.timeout_ns, 5000000);
	assert_int_equal(sent.status, 0);
	assert_int_equal(sent.pad, 0);
	assert_int_equal(sent.reserved[0], 0);
	assert_int_equal(sent.reserved[1], 0);

	mock_status = -ESTALE;
	assert_int_equal(hmirror_wait(h, 78, 0, &status), 0);
	assert_int_equal(status, -ESTALE);

	mock_status = 0;
	status = 12345;
	assert_int_equal(hmirror_wait(h, UINT64_MAX, UINT64_MAX, &status), 0);
	assert_int_equal(status, 0);
	memcpy(&sent, mock.arg_in, sizeof(sent));
	assert_int_equal(sent.fence, UINT64_MAX);
	assert_int_equal(sent.timeout_ns, UINT64_MAX);
	assert_int_equal(hmirror_wait(h, 1, 0, NULL), 0);

	/* Not completed in time: -ETIME, and *status is not written. */
	mock.fail_errno = ETIME;
	status = 12345;
	assert_int_equal(hmirror_wait(h, 79, 10, &status), -ETIME);
	assert_int_equal(status, 12345);
	mock.fail_errno = EINTR;
	assert_int_equal(hmirror_wait(h, 79, 10, &status), -EINTR);
	assert_int_equal(status, 12345);
	mock.fail_errno = 0;

	assert_int_equal(hmirror_wait(NULL, 1, 0, &status), -EINVAL);
}

static __u32 mock_stats_size;

static void reply_stats(void *arg)
{
	struct hmirror_stats *st = arg;
	unsigned int i;

	/* What the kernel would see, checked in the test body. */
	st->faults = 5;
	st->inval_refused = 6;
	for (i = 0; i < HMIRROR_WAIT_BUCKETS; i++)
		st->wait_hist[i] = 100 + i;
	if (mock_stats_size >= sizeof(*st)) {
		st->escalations = 7;
		st->pt_bytes = 4096;
	}
	st->size = mock_stats_size;
}

static void test_stats(void **state)
{
	struct hmirror *h = *state;
	struct hmirror_stats st, sent, zero;
	unsigned int i;

	memset(&zero, 0, sizeof(zero));
	mock.reply = reply_stats;
	mock_stats_size = sizeof(st);
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(hmirror_stats(h, &st), 0);
	assert_int_equal(mock.req, HMIRROR_IOC_STATS);
	memcpy(&sent, mock.arg_in, sizeof(sent));
	/* In: size = sizeof(struct hmirror_stats), everything else zero. */
	assert_int_equal(sent.size, sizeof(struct hmirror_stats));
	sent.size = 0;
	assert_memory_equal(&sent, &zero, sizeof(sent));
	/* Out: what the kernel filled. */
	assert_int_equal(st.size, sizeof(st));
	assert_int_equal(st.faults, 5);
	assert_int_equal(st.inval_refused, 6);
	for (i = 0; i < HMIRROR_WAIT_BUCKETS; i++)
		assert_int_equal(st.wait_hist[i], 100 + i);
	assert_int_equal(st.escalations, 7);
	assert_int_equal(st.pt_bytes, 4096);
	assert_int_equal(st.jobs_submitted, 0);
	assert_int_equal(st.pad, 0);

	/* An older kernel fills less: the rest reads zero, not garbage. */
	mock_stats_size = offsetof(struct hmirror_stats, escalations);
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(hmirror_stats(h, &st), 0);
	assert_int_equal(st.size, offsetof(struct hmirror_stats, escalations));
	assert_int_equal(st.faults, 5);
	assert_int_equal(st.escalations, 0);
	assert_int_equal(st.pt_bytes, 0);

	/* A kernel claiming more than it was given breaks the ABI. */
	mock_stats_size = sizeof(st) + 8;
	assert_int_equal(hmirror_stats(h, &st), -EPROTO);

	assert_int_equal(hmirror_stats(h, NULL), -EINVAL);
	assert_int_equal(hmirror_stats(NULL, &st), -EINVAL);
}

/* ---- memory regions ----------------------------------------------------- */

static void reply_mr_reg(void *arg)
{
	((struct hmirror_mr_reg *)arg)->key = 77;
}

static void test_mr_reg_flags(void **state)
{
	struct hmirror *h = *state;
	struct hmirror_mr_reg sent;
	char buf[64];
	uint32_t key = 5;

	mock.reply = reply_mr_reg;
	assert_int_equal(hmirror_mr_reg_flags(h, buf, sizeof(buf), HMIRROR_MR_ODP,
					      HMIRROR_ACCESS_READ,
					      HMIRROR_MR_F_NO_MIGRATE, &key), 0);
	assert_int_equal(mock.req, HMIRROR_IOC_MR_REG);
	memcpy(&sent, mock.arg_in, sizeof(sent));
	assert_int_equal(sent.addr, (uintptr_t)buf);
	assert_int_equal(sent.len, sizeof(buf));
	assert_int_equal(sent.mode, HMIRROR_MR_ODP);
	assert_int_equal(sent.access, HMIRROR_ACCESS_READ);
	assert_int_equal(sent.flags, HMIRROR_MR_F_NO_MIGRATE);
	assert_int_equal(sent.key, 5);
	assert_int_equal(key, 77);
	/* The plain call sends no flags. */
	assert_int_equal(hmirror_mr_reg(h, buf, 8, HMIRROR_MR_PINNED,
					HMIRROR_ACCESS_WRITE, &key), 0);
	memcpy(&sent, mock.arg_in, sizeof(sent));
	assert_int_equal(sent.flags, 0);
	/* A failure leaves the key alone. */
	key = 9;
	mock.fail_errno = EEXIST;
	assert_int_equal(hmirror_mr_reg_flags(h, buf, 8, HMIRROR_MR_ODP,
					      HMIRROR_ACCESS_READ, 0, &key),
			 -EEXIST);
	assert_int_equal(key, 9);
	assert_int_equal(hmirror_mr_reg_flags(h, buf, 8, 0, 1, 0, NULL), -EINVAL);
}

static void test_mr_advise(void **state)
{
	struct hmirror *h = *state;
	struct hmirror_mr_advise sent, zero;

	memset(&zero, 0, sizeof(zero));
	assert_int_equal(hmirror_mr_advise(h, 3, HMIRROR_ADVISE_PREFETCH_WRITE,
					   4096, 8192, HMIRROR_ADVISE_F_ASYNC), 0);
	assert_int_equal(mock.req, HMIRROR_IOC_MR_ADVISE);
	memcpy(&sent, mock.arg_in, sizeof(sent));
	assert_int_equal(sent.key, 3);
	assert_int_equal(sent.advice, HMIRROR_ADVISE_PREFETCH_WRITE);
	assert_int_equal(sent.offset, 4096);
	assert_int_equal(sent.len, 8192);
	assert_int_equal(sent.flags, HMIRROR_ADVISE_F_ASYNC);
	assert_int_equal(sent.pad, 0);
	assert_memory_equal(sent.reserved, zero.reserved, sizeof(sent.reserved));
	mock.fail_errno = EAGAIN;
	assert_int_equal(hmirror_mr_advise(h, 3, 0, 0, 1, 0), -EAGAIN);
	assert_int_equal(hmirror_mr_advise(NULL, 3, 0, 0, 1, 0), -EINVAL);
}

/* ---- helpers ------------------------------------------------------------ */

static void test_strerror(void **state)
{
	static const struct {
		int err;
		const char *text;
	} known[] = {
		{ -EACCES, "context used from another process" },
		{ -EIO, "context is dead (reset after holding up an invalidation)" },
		{ -ECANCELED, "job cancelled: the context was reset" },
		{ -ETIME, "timed out (the wait, or a WAIT_VALUE command)" },
		{ -ESTALE, "job completed too long ago for its status to be kept" },
		{ -EPROTO, "kernel module ABI mismatch" },
		{ -ENOTTY, "not an hmirror device (or an ioctl this module lacks)" },
		{ -ENOENT, "no such hmirror device (is the module loaded?)" },
		{ -ENOSPC, "job is full" },
		{ -E2BIG, "job footprint larger than the device's max_job_bytes" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		assert_string_equal(hmirror_strerror(known[i].err), known[i].text);
		/* A positive errno means the same. */
		assert_string_equal(hmirror_strerror(-known[i].err), known[i].text);
	}
	/* Others: the C library's description. */
	assert_string_equal(hmirror_strerror(-ENOMEM), "Cannot allocate memory");
	assert_string_equal(hmirror_strerror(-EINVAL), "Invalid argument");
	assert_string_equal(hmirror_strerror(0), "success");
	assert_string_equal(hmirror_strerror(-100000), "unknown error");
	assert_string_equal(hmirror_strerror(INT_MIN), "unknown error");
}

static void test_crc32c(void **state)
{
	unsigned char buf[32];
	size_t i;

	(void)state;
	/* The CRC-32C check value, inverted around the raw register. */
	assert_int_equal(hmirror_crc32c(~0U, "123456789", 9) ^ ~0U, 0xE3069283U);
	/* Nothing in: the seed comes back as is. */
	assert_int_equal(hmirror_crc32c(0x12345678U, "", 0), 0x12345678U);
	assert_int_equal(hmirror_crc32c(0xffffffffU, NULL, 0), 0xffffffffU);
	assert_int_equal(hmirror_crc32c(0, "", 0), 0);
	/* No inversion inside: zeros through a zero register stay zero. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(hmirror_crc32c(0, buf, sizeof(buf)), 0);
	/* RFC 3720 (iSCSI) B.4 vectors. */
	assert_int_equal(hmirror_crc32c(~0U, buf, 32) ^ ~0U, 0x8A9136AAU);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(hmirror_crc32c(~0U, buf, 32) ^ ~0U, 0x62A8AB43U);
	for (i = 0; i < 32; i++)
		buf[i] = (unsigned char)i;
	assert_int_equal(hmirror_crc32c(~0U, buf, 32) ^ ~0U, 0x46DD794EU);
	for (i = 0; i < 32; i++)
		buf[i] = (unsigned char)(31 - i);
	assert_int_equal(hmirror_crc32c(~0U, buf, 32) ^ ~0U, 0x113FDB5CU);
	/* Chaining, as a job's CRC32C with a seed from a previous one. */
	assert_int_equal(hmirror_crc32c(hmirror_crc32c(7, buf, 13), buf + 13, 19),
			 hmirror_crc32c(7, buf, 32));
}

/*
 * hmirror_inject(): names and values are checked before any file is
 * touched (a bad one never reaches debugfs); errno is left alone.
 */
static void test_inject_bad_args(void **state)
{
	struct hmirror_inject_spec s = HMIRROR_INJECT_SPEC_INIT, bad;
	static const char *const names[] = {
		"", "../objects", "a/b", "Job_alloc", "job alloc",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};

	(void)state;
	errno = 1234;
	assert_int_equal(hmirror_inject(NULL, &s), -EINVAL);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(hmirror_inject(names[i], &s), -EINVAL);
		assert_int_equal(hmirror_inject_get(names[i], &s), -EINVAL);
	}
	assert_int_equal(hmirror_inject_get("job_alloc", NULL), -EINVAL);
	bad = s;
	bad.ppm = HMIRROR_INJECT_PPM_MAX + 1;
	assert_int_equal(hmirror_inject("job_alloc", &bad), -EINVAL);
	bad = s;
	bad.times = -2;
	assert_int_equal(hmirror_inject("job_alloc", &bad), -EINVAL);
	bad = s;
	bad.ctx = (int64_t)UINT32_MAX + 1;
	assert_int_equal(hmirror_inject("job_alloc", &bad), -EINVAL);
	bad = s;
	bad.pid = -1;
	assert_int_equal(hmirror_inject("job_alloc", &bad), -EINVAL);
	bad = s;
	bad.delay_ms = 10001;
	assert_int_equal(hmirror_inject("job_alloc", &bad), -EINVAL);
	assert_int_equal(errno, 1234);
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
		cmocka_unit_test_setup_teardown(test_errno_untouched,
						setup_handle, teardown_handle),
		cmocka_unit_test(test_job_init),
		cmocka_unit_test(test_job_builders),
		cmocka_unit_test(test_job_full),
		cmocka_unit_test(test_job_invalid),
		cmocka_unit_test(test_job_migrate),
		cmocka_unit_test(test_job_set_flags),
		cmocka_unit_test_setup_teardown(test_config_setters,
						setup_handle, teardown_handle),
		cmocka_unit_test_setup_teardown(test_config_get_set,
						setup_handle, teardown_handle),
		cmocka_unit_test_setup_teardown(test_submit,
						setup_handle, teardown_handle),
		cmocka_unit_test_setup_teardown(test_wait,
						setup_handle, teardown_handle),
		cmocka_unit_test_setup_teardown(test_stats,
						setup_handle, teardown_handle),
		cmocka_unit_test_setup_teardown(test_mr_reg_flags,
						setup_handle, teardown_handle),
		cmocka_unit_test_setup_teardown(test_mr_advise,
						setup_handle, teardown_handle),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_crc32c),
		cmocka_unit_test(test_inject_bad_args),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("libhmirror", tests, NULL, NULL);
}
