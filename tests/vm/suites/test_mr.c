// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Guest suite: memory regions. Registration and deregistration edge
 * cases, commands naming memory by (key, offset) checked against bounds
 * and rights, explicit and implicit ODP regions over a sparse 64 GiB
 * space, pinned regions used by the device through their own pages and
 * revoked (once, with one event) when the mapping under them changes;
 * advice (prefetch variants, synchronous and asynchronous, migration
 * hints) and regions on another device's memory (moved here, or -EXDEV).
 */
#include <poll.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "guest.h"
#include "hmirror.h"

#define PG 4096UL
#define MiB (1UL << 20)
#define GiB (1UL << 30)
#define RW (HMIRROR_ACCESS_READ | HMIRROR_ACCESS_WRITE)

/* MR_REG; returns -errno, the key in *key (in: the key wanted). */
static int mr_reg(int fd, const void *addr, uint64_t len, unsigned int mode,
		  unsigned int access, uint32_t *key)
{
	struct hmirror_mr_reg r = { .addr = (uintptr_t)addr, .len = len,
		.mode = mode, .access = access, .key = key ? *key : 0 };

	if (ioctl(fd, HMIRROR_IOC_MR_REG, &r))
		return -errno;
	if (key)
		*key = r.key;
	return 0;
}

static int mr_dereg(int fd, uint32_t key)
{
	struct hmirror_mr_dereg d = { .key = key };

	return ioctl(fd, HMIRROR_IOC_MR_DEREG, &d) ? -errno : 0;
}

static struct hmirror_cmd keyed(struct hmirror_cmd c, uint32_t dkey,
				uint32_t skey)
{
	if (dkey) {
		c.flags |= HMIRROR_CMD_F_DST_KEY;
		c.dst_key = dkey;
	}
	if (skey) {
		c.flags |= HMIRROR_CMD_F_SRC_KEY;
		c.src_key = skey;
	}
	return c;
}

static struct hmirror_stats stats(int fd)
{
	struct hmirror_stats st;

	hm_stats(fd, &st);
	return st;
}

static int all(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

/* Registration edge cases: each fails with its errno and adds nothing. */
static void test_reg_bad(void **state)
{
	uint8_t *buf = hm_map(4 * PG), *none;
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_mr_reg r;
	uint32_t key = 0, k2;

	(void)state;
	none = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(none != MAP_FAILED);
	/* Zero length, overflow, kernel addresses. */
	assert_int_equal(mr_reg(fd, buf, 0, HMIRROR_MR_ODP, RW, NULL), -EINVAL);
	assert_int_equal(mr_reg(fd, (void *)~0xfffUL, 2 * PG, HMIRROR_MR_ODP, RW,
				NULL), -EINVAL);
	assert_int_equal(mr_reg(fd, (void *)0xffff888000000000ull, PG,
				HMIRROR_MR_ODP, RW, NULL), -EINVAL);
	/* Modes, rights, flags, reserved words. */
	assert_int_equal(mr_reg(fd, buf, PG, 2, RW, NULL), -EINVAL);
	assert_int_equal(mr_reg(fd, buf, PG, HMIRROR_MR_ODP, 0, NULL), -EINVAL);
	assert_int_equal(mr_reg(fd, buf, PG, HMIRROR_MR_ODP, 8, NULL), -EINVAL);
	assert_int_equal(mr_reg(fd, buf, PG, HMIRROR_MR_ODP,
				HMIRROR_ACCESS_ATOMIC | HMIRROR_ACCESS_READ,
				NULL), -EINVAL);
	r = (struct hmirror_mr_reg){ .addr = (uintptr_t)buf, .len = PG,
				     .access = RW, .flags = 2 };	/* unknown */
	assert_int_equal(ioctl(fd, HMIRROR_IOC_MR_REG, &r), -1);
	assert_int_equal(errno, EINVAL);
	r = (struct hmirror_mr_reg){ .addr = (uintptr_t)buf, .len = PG,
				     .access = RW, .reserved = { 0, 1 } };
	assert_int_equal(ioctl(fd, HMIRROR_IOC_MR_REG, &r), -1);
	assert_int_equal(errno, EINVAL);
	/* Implicit: address 0, ODP only. */
	assert_int_equal(mr_reg(fd, buf, HMIRROR_MR_IMPLICIT_LEN, HMIRROR_MR_ODP,
				RW, NULL), -EINVAL);
	assert_int_equal(mr_reg(fd, NULL, HMIRROR_MR_IMPLICIT_LEN,
				HMIRROR_MR_PINNED, RW, NULL), -EINVAL);
	/* Pinned over PROT_NONE or nothing. */
	assert_int_equal(mr_reg(fd, none, PG, HMIRROR_MR_PINNED, RW, NULL),
			 -EFAULT);
	assert_int_equal(munmap(none, PG), 0);
	assert_int_equal(mr_reg(fd, none, PG, HMIRROR_MR_PINNED, RW, NULL),
			 -EFAULT);
	assert_int_equal(stats(fd).mrs, 0);

	/* A key asked for, then asked for again. */
	key = 77;
	assert_int_equal(mr_reg(fd, buf, PG, HMIRROR_MR_ODP, RW, &key), 0);
	assert_int_equal(key, 77);
	k2 = 77;
	assert_int_equal(mr_reg(fd, buf, PG, HMIRROR_MR_PINNED, RW, &k2),
			 -EEXIST);
	k2 = 0;
	assert_int_equal(mr_reg(fd, buf, 4 * PG, HMIRROR_MR_PINNED, RW, &k2), 0);
	assert_int_not_equal(k2, 0);
	assert_int_not_equal(k2, 77);
	assert_int_equal(stats(fd).mrs, 2);
	assert_int_equal(mr_dereg(fd, 12345), -ENOENT);
	assert_int_equal(mr_dereg(fd, key), 0);
	assert_int_equal(mr_dereg(fd, key), -ENOENT);
	assert_int_equal(mr_dereg(fd, k2), 0);
	assert_int_equal(stats(fd).mrs, 0);
	close(fd);
	munmap(buf, 4 * PG);
}

/*
 * Operands named by (key, offset): bounds, rights and keys are checked at
 * submit, and a refused job runs nothing.
 */
static void test_access(void **state)
{
	uint8_t *buf = hm_map(4 * PG), *out = hm_map(4 * PG);
	uint64_t *ctr = hm_map(PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint32_t ro = 0, rw = 0, at = 0, wo = 0;
	struct hmirror_cmd c[2];

	(void)state;
	memset(buf, 3, 4 * PG);
	memset(out, 0, 4 * PG);
	assert_int_equal(mr_reg(fd, buf, 4 * PG, HMIRROR_MR_ODP,
				HMIRROR_ACCESS_READ, &ro), 0);
	assert_int_equal(mr_reg(fd, out, 4 * PG, HMIRROR_MR_ODP, RW, &rw), 0);
	assert_int_equal(mr_reg(fd, out, 4 * PG, HMIRROR_MR_ODP,
				HMIRROR_ACCESS_WRITE, &wo), 0);
	assert_int_equal(mr_reg(fd, ctr, PG, HMIRROR_MR_ODP,
				RW | HMIRROR_ACCESS_ATOMIC, &at), 0);

	/* Read from ro at offset PG, write to rw at offset 2 PG. */
	c[0] = keyed(hm_copy((void *)(2 * PG), (void *)PG, PG), rw, ro);
	assert_int_equal(hm_run(fd, c, 1), 0);
	assert_true(all(out + 2 * PG, PG, 3));
	assert_true(all(out, 2 * PG, 0));

	/* Each refused: the FILL before it must not run. */
	c[0] = hm_fill(out, 9, PG);
	c[1] = keyed(hm_fill((void *)0, 1, PG), ro, 0);		/* write to ro */
	assert_int_equal(hm_submit(fd, c, 2, NULL), -EACCES);
	c[1] = keyed(hm_copy(out, (void *)0, PG), 0, wo);	/* read of wo */
	assert_int_equal(hm_submit(fd, c, 2, NULL), -EACCES);
	c[1] = keyed((struct hmirror_cmd){ .op = HMIRROR_OP_ATOMIC_ADD,
					   .value = 1 }, rw, 0);	/* no ATOMIC */
	assert_int_equal(hm_submit(fd, c, 2, NULL), -EACCES);
	c[1] = keyed(hm_copy(out, (void *)(3 * PG + 1), PG), 0, ro); /* bounds */
	assert_int_equal(hm_submit(fd, c, 2, NULL), -EINVAL);
	c[1] = keyed(hm_copy(out, (void *)0, ~0ULL), 0, ro);	/* overflow */
	assert_int_equal(hm_submit(fd, c, 2, NULL), -EINVAL);
	c[1] = keyed(hm_copy(out, (void *)0, PG), 0, 999);	/* no key */
	assert_int_equal(hm_submit(fd, c, 2, NULL), -ENOENT);
	c[1] = hm_copy(out, buf, PG);
	c[1].src_key = ro;					/* key, no flag */
	assert_int_equal(hm_submit(fd, c, 2, NULL), -EINVAL);
	c[1] = keyed(hm_fill((void *)0, 1, PG), 0, rw);		/* FILL: no src */
	assert_int_equal(hm_submit(fd, c, 2, NULL), -EINVAL);
	c[1] = hm_copy(out, buf, PG);
	c[1].flags = 1;						/* unknown flag */
	assert_int_equal(hm_submit(fd, c, 2, NULL), -EINVAL);
	assert_true(all(out, 2 * PG, 0));

	/* An atomic through an ATOMIC region. */
	*ctr = 40;
	c[0] = keyed((struct hmirror_cmd){ .op = HMIRROR_OP_ATOMIC_ADD,
					   .value = 2 }, at, 0);
	assert_int_equal(hm_run(fd, c, 1), 0);
	assert_int_equal(*ctr, 42);
	close(fd);
	munmap(ctr, PG);
	munmap(out, 4 * PG);
	munmap(buf, 4 * PG);
}

/* A 64 GiB PROT_NONE reservation with three small windows made usable. */
static uint8_t *sparse_map(const size_t *offs, unsigned int n)
{
	uint8_t *base = mmap(NULL, 64 * GiB, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	assert_true(base != MAP_FAILED);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(mprotect(base + offs[i], 2 * PG,
					  PROT_READ | PROT_WRITE), 0);
		memset(base + offs[i], 0x10 + i, 2 * PG);
	}
	return base;
}

/*
 * Explicit ODP over 64 GiB of sparse address space: registration faults
 * and mirrors nothing; jobs through the key mirror just what they touch.
 * Then the same through an implicit region, whose offsets are addresses.
 */
static void test_odp_sparse(void **state)
{
	static const size_t offs[] = { 0, 17 * GiB + 5 * PG, 64 * GiB - 2 * PG };
	/* Aligned: two pages across a chunk boundary would be two ranges. */
	uint8_t *base = sparse_map(offs, 3), *out = hm_map_aligned(2 * PG, 0);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st0, st;
	uint32_t key = 0, imp = 0;
	struct hmirror_cmd c;

	(void)state;
	st0 = stats(fd);
	assert_int_equal(mr_reg(fd, base, 64 * GiB, HMIRROR_MR_ODP, RW, &key), 0);
	st = stats(fd);
	assert_int_equal(st.pages_faulted, st0.pages_faulted);
	assert_int_equal(st.ranges, 0);
	assert_int_equal(st.mrs, 1);
	for (unsigned int i = 0; i < 3; i++) {
		memset(out, 0, 2 * PG);
		c = keyed(hm_copy(out, (void *)offs[i], 2 * PG), 0, key);
		assert_int_equal(hm_run(fd, &c, 1), 0);
		assert_true(all(out, 2 * PG, 0x10 + i));
	}
	st = stats(fd);
	assert_int_equal(st.ranges, 3 + 1);	/* + the out buffer's */
	/* Between the windows there is nothing to touch. */
	c = keyed(hm_copy(out, (void *)(8 * GiB), PG), 0, key);
	assert_int_equal(hm_submit(fd, &c, 1, NULL), -EFAULT);

	assert_int_equal(mr_reg(fd, NULL, HMIRROR_MR_IMPLICIT_LEN,
				HMIRROR_MR_ODP, HMIRROR_ACCESS_READ, &imp), 0);
	for (unsigned int i = 0; i < 3; i++) {
		memset(out, 0, 2 * PG);
		c = keyed(hm_copy(out, base + offs[i], 2 * PG), 0, imp);
		assert_int_equal(hm_run(fd, &c, 1), 0);
		assert_true(all(out, 2 * PG, 0x10 + i));
	}
	/* Read-only, however large. */
	c = keyed(hm_fill(base, 1, PG), imp, 0);
	assert_int_equal(hm_submit(fd, &c, 1, NULL), -EACCES);
	assert_int_equal(mr_dereg(fd, imp), 0);
	assert_int_equal(mr_dereg(fd, key), 0);
	close(fd);
	munmap(out, 2 * PG);
	munmap(base, 64 * GiB);
}

/*
 * A pinned region: the device uses its pages, not the mirror (no range,
 * no fault), and the CPU sees what it wrote. mprotect keeps the pages and
 * does not revoke it.
 */
static void test_pinned(void **state)
{
	uint8_t *buf = hm_map(8 * PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st0, st;
	struct pollfd pfd = { .fd = fd, .events = POLLPRI };
	uint32_t key = 0;
	struct hmirror_cmd c;
	uint32_t *crc = hm_map(PG);

	(void)state;
	memset(buf, 1, 8 * PG);
	st0 = stats(fd);
	assert_int_equal(mr_reg(fd, buf + 100, 8 * PG - 200, HMIRROR_MR_PINNED,
				RW, &key), 0);
	c = keyed(hm_fill((void *)0, 0x6b, 8 * PG - 200), key, 0);
	assert_int_equal(hm_run(fd, &c, 1), 0);
	for (size_t i = 0; i < 8 * PG; i++)
		assert_int_equal(buf[i], i < 100 || i >= 8 * PG - 100 ? 1 : 0x6b);
	st = stats(fd);
	assert_int_equal(st.ranges, st0.ranges);
	assert_int_equal(st.pages_faulted, st0.pages_faulted);

	assert_int_equal(mprotect(buf, 8 * PG, PROT_READ), 0);
	assert_int_equal(mprotect(buf, 8 * PG, PROT_READ | PROT_WRITE), 0);
	c = (struct hmirror_cmd){ .op = HMIRROR_OP_CRC32C,
		.dst = (uintptr_t)crc, .src = 0, .len = 8 * PG - 200,
		.value = ~0U };
	c = keyed(c, 0, key);
	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_int_equal(*crc, hm_crc32c(~0U, buf + 100, 8 * PG - 200));
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(stats(fd).mr_revoked, 0);
	/* Pinned pages cannot also be device-exclusive. */
	c = keyed((struct hmirror_cmd){ .op = HMIRROR_OP_WRITE_VALUE,
					.flags = HMIRROR_CMD_F_EXCLUSIVE,
					.dst = 4096 - 100 }, key, 0);
	assert_int_equal(hm_submit(fd, &c, 1, NULL), -EINVAL);
	c.flags &= ~HMIRROR_CMD_F_EXCLUSIVE;
	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_int_equal(mr_dereg(fd, key), 0);
	close(fd);
	munmap(crc, PG);
	munmap(buf, 8 * PG);
}

/*
 * Splitting a THP under a pinned region zaps its PMD but keeps the pages:
 * no revocation, no event, and the device still writes where the CPU
 * reads.
 */
static void test_pinned_thp_split(void **state)
{
	size_t len = 2 * MiB;
	uint8_t *buf = hm_map_aligned(len, 1);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct pollfd pfd = { .fd = fd, .events = POLLPRI };
	struct hmirror_cmd c;
	uint32_t key = 0;

	(void)state;
	memset(buf, 1, len);
	assert_int_equal(mr_reg(fd, buf, len, HMIRROR_MR_PINNED, RW, &key), 0);
	assert_int_equal(mprotect(buf + len / 2, len / 2, PROT_READ), 0);
	assert_int_equal(mprotect(buf + len / 2, len / 2,
				  PROT_READ | PROT_WRITE), 0);
	usleep(200000);		/* the check after a zap runs in a worker */
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(stats(fd).mr_revoked, 0);
	c = keyed(hm_fill((void *)(len / 2 - PG), 0x5c, 2 * PG), key, 0);
	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_true(all(buf + len / 2 - PG, 2 * PG, 0x5c));
	assert_int_equal(mr_dereg(fd, key), 0);
	close(fd);
	munmap(buf, len);
}

/* Read one event without blocking; -errno if none. */
static int event(int fd, struct hmirror_event *ev)
{
	ssize_t n = read(fd, ev, sizeof(*ev));

	if (n < 0)
		return -errno;
	assert_int_equal(n, sizeof(*ev));
	return 0;
}

enum change { CH_MUNMAP, CH_DONTNEED, CH_MREMAP };

/*
 * The mapping under a pinned region changes: the region is revoked, one
 * event says so (and no second one), and jobs naming it fail.
 */
static void revoke_by(enum change how, uint32_t reason)
{
	uint8_t *buf = hm_map(8 * PG), *dst;
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct pollfd pfd = { .fd = fd, .events = POLLPRI };
	struct hmirror_event ev;
	uint32_t key = 0;
	struct hmirror_cmd c;
	int fl;

	memset(buf, 1, 8 * PG);
	assert_int_equal(mr_reg(fd, buf, 8 * PG, HMIRROR_MR_PINNED, RW, &key), 0);
	fl = fcntl(fd, F_GETFL);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
	assert_int_equal(event(fd, &ev), -EAGAIN);
	assert_int_equal(poll(&pfd, 1, 0), 0);

	switch (how) {
	case CH_MUNMAP:
		assert_int_equal(munmap(buf + 2 * PG, PG), 0);
		break;
	case CH_DONTNEED:
		assert_int_equal(madvise(buf + 2 * PG, PG, MADV_DONTNEED), 0);
		break;
	case CH_MREMAP:
		dst = mmap(NULL, 8 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
		assert_true(mremap(buf, 8 * PG, 8 * PG,
				   MREMAP_MAYMOVE | MREMAP_FIXED, dst) == dst);
		buf = dst;
		break;
	}
	assert_int_equal(poll(&pfd, 1, 1000), 1);
	assert_true(pfd.revents & POLLPRI);
	assert_int_equal(event(fd, &ev), 0);
	assert_int_equal(ev.type, HMIRROR_EVENT_MR_REVOKED);
	assert_int_equal(ev.key, key);
	assert_int_equal(ev.reason, reason);
	assert_true(ev.len > 0);
	assert_int_equal(event(fd, &ev), -EAGAIN);	/* exactly once */
	assert_int_equal(stats(fd).mr_revoked, 1);

	c = keyed(hm_fill((void *)0, 2, PG), key, 0);
	assert_int_equal(hm_submit(fd, &c, 1, NULL), -ECANCELED);
	/* Another change: still one event. */
	assert_int_equal(madvise(buf + 5 * PG, PG, MADV_DONTNEED), 0);
	assert_int_equal(event(fd, &ev), -EAGAIN);
	assert_int_equal(mr_dereg(fd, key), 0);
	close(fd);
	munmap(buf, 8 * PG);
}

static void test_revoke_munmap(void **state)
{
	(void)state;
	revoke_by(CH_MUNMAP, HMIRROR_REVOKE_UNMAP);
}

static void test_revoke_dontneed(void **state)
{
	(void)state;
	revoke_by(CH_DONTNEED, HMIRROR_REVOKE_CLEAR);
}

static void test_revoke_mremap(void **state)
{
	(void)state;
	revoke_by(CH_MREMAP, HMIRROR_REVOKE_UNMAP);
}

/* Submit a job that waits for *@flag == 1, then fills (@key, @off). */
static uint64_t fill_after(int fd, const uint64_t *flag, uint32_t key,
			   uint64_t off, uint64_t len, uint8_t v)
{
	struct hmirror_cmd c[2];
	uint64_t fence = 0;

	c[0] = hm_wait_value(flag, 1, 0);
	c[1] = keyed(hm_fill((void *)off, v, len), key, 0);
	assert_int_equal(hm_submit(fd, c, 2, &fence), 0);
	return fence;
}

/*
 * A job that waits, then writes through a pinned region: the region is
 * revoked meanwhile, and the job fails with -ECANCELED, writing nothing.
 * Deregistration is refused while the job is pending.
 */
static void test_revoke_pending_job(void **state)
{
	uint8_t *buf = hm_map(4 * PG);
	uint64_t *flag = hm_map(PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint32_t key = 0;
	uint64_t fence = 0;
	int status = 0;

	(void)state;
	memset(buf, 1, 4 * PG);
	*flag = 0;
	assert_int_equal(mr_reg(fd, buf, 4 * PG, HMIRROR_MR_PINNED, RW, &key), 0);
	fence = fill_after(fd, flag, key, 0, 4 * PG, 7);
	assert_int_equal(mr_dereg(fd, key), -EBUSY);
	assert_int_equal(madvise(buf, PG, MADV_DONTNEED), 0);
	*flag = 1;
	assert_int_equal(hm_wait(fd, fence, 10000000000ull, &status), 0);
	assert_int_equal(status, -ECANCELED);
	assert_true(all(buf + PG, 3 * PG, 1));
	assert_int_equal(mr_dereg(fd, key), 0);
	close(fd);
	munmap(flag, PG);
	munmap(buf, 4 * PG);
}

/* Slow the next check of a pinned region after a zap by @ms. */
static void check_slow(uint32_t ms)
{
	struct hmirror_inject_spec s = HMIRROR_INJECT_SPEC_INIT;

	s.times = 1;
	s.delay_ms = ms;
	s.pid = getpid();	/* not a context an earlier test left open */
	assert_int_equal(hmirror_inject("mr_check_slow", &s), 0);
}

static uint64_t check_slowed(void)
{
	struct hmirror_inject_spec s;

	assert_int_equal(hmirror_inject_get("mr_check_slow", &s), 0);
	assert_int_equal(hmirror_inject("mr_check_slow", NULL), 0);
	return s.failed;
}

/*
 * A zap holds a pinned region until its check answers: a job that goes on
 * once madvise(DONTNEED) returned waits for the check (1 s late here)
 * and fails -ECANCELED, instead of writing the pages the process lost
 * and ending 0 before the check revokes the region. A NONE-class job
 * cannot wait: it fails at once.
 */
static void hold_dontneed(uint32_t preempt)
{
	uint8_t *buf = hm_map(4 * PG);
	uint64_t *flag = hm_map(PG);
	int fd = hm_open(0, preempt);
	struct pollfd pfd = { .fd = fd, .events = POLLPRI };
	uint32_t key = 0;
	uint64_t fence = 0;
	int status = 0;

	memset(buf, 1, 4 * PG);
	*flag = 0;
	assert_int_equal(mr_reg(fd, buf, 4 * PG, HMIRROR_MR_PINNED, RW, &key), 0);
	fence = fill_after(fd, flag, key, 0, 4 * PG, 7);
	check_slow(1000);
	assert_int_equal(madvise(buf, PG, MADV_DONTNEED), 0);
	*flag = 1;
	/* The check cannot have answered yet: the job waits for it. */
	if (preempt == HMIRROR_PREEMPT_PAGE)
		assert_int_equal(hm_wait(fd, fence, 300000000ull, &status),
				 -ETIME);
	assert_int_equal(hm_wait(fd, fence, 10000000000ull, &status), 0);
	assert_int_equal(status, -ECANCELED);
	/* A NONE-class job on pci may end before the check even starts. */
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(check_slowed(), 1);
	assert_int_equal(stats(fd).mr_revoked, 1);
	assert_true(all(buf + PG, 3 * PG, 1));
	assert_int_equal(mr_dereg(fd, key), 0);
	close(fd);
	munmap(flag, PG);
	munmap(buf, 4 * PG);
}

static void test_hold_dontneed(void **state)
{
	(void)state;
	hold_dontneed(HMIRROR_PREEMPT_PAGE);
	hold_dontneed(HMIRROR_PREEMPT_NONE);
}

/*
 * A zap that leaves the pages mapped (a THP split) holds the region as
 * well: the job waits for the check, then goes on and ends 0, its data
 * where the process sees it, and the region is not revoked. A NONE-class
 * job cannot wait: it fails -ECANCELED, writing nothing, though the
 * region lives on.
 */
static void hold_split(uint32_t preempt)
{
	size_t len = 2 * MiB;
	uint8_t *buf = hm_map_aligned(len, 1);
	uint64_t *flag = hm_map(PG);
	int fd = hm_open(0, preempt);
	int page = preempt == HMIRROR_PREEMPT_PAGE;
	uint32_t key = 0;
	uint64_t fence = 0;
	int status = 0;
	long huge;

	memset(buf, 1, len);
	assert_int_equal(mr_reg(fd, buf, len, HMIRROR_MR_PINNED, RW, &key), 0);
	/* After the pin, which may have moved the pages. */
	huge = hm_vma_anon_huge_kb(buf);
	if (huge < 2048) {
		assert_int_equal(mr_dereg(fd, key), 0);
		close(fd);
		guest_skip("no THP under the region (AnonHugePages %ld kB): no split",
			   huge);
	}
	*flag = 0;
	fence = fill_after(fd, flag, key, len / 2 - PG, 2 * PG, 0x5c);
	check_slow(1000);
	assert_int_equal(mprotect(buf + len / 2, len / 2, PROT_READ), 0);
	assert_int_equal(mprotect(buf + len / 2, len / 2,
				  PROT_READ | PROT_WRITE), 0);
	*flag = 1;
	if (page)
		assert_int_equal(hm_wait(fd, fence, 300000000ull, &status),
				 -ETIME);
	assert_int_equal(hm_wait(fd, fence, 10000000000ull, &status), 0);
	assert_int_equal(status, page ? 0 : -ECANCELED);
	if (!page) {
		struct hmirror_cmd c = keyed(hm_fill((void *)(len / 2 - PG),
						     0x5c, 2 * PG), key, 0);

		assert_true(all(buf + len / 2 - PG, 2 * PG, 1));
		/* Cancelled until the check answers, then through. */
		for (int i = 0; i < 100 && status; i++) {
			status = hm_run(fd, &c, 1);
			assert_true(!status || status == -ECANCELED);
			if (status)
				usleep(100000);
		}
		assert_int_equal(status, 0);
	}
	assert_int_equal(check_slowed(), 1);
	assert_int_equal(stats(fd).mr_revoked, 0);
	assert_true(all(buf + len / 2 - PG, 2 * PG, 0x5c));
	assert_true(all(buf, len / 2 - PG, 1));
	assert_int_equal(mr_dereg(fd, key), 0);
	close(fd);
	munmap(flag, PG);
	munmap(buf, len);
}

static void test_hold_split(void **state)
{
	(void)state;
	hold_split(HMIRROR_PREEMPT_PAGE);
	hold_split(HMIRROR_PREEMPT_NONE);
}

/* capset(2) without libcap: drop CAP_IPC_LOCK from the effective set. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_IPC_LOCK / 32].effective &= ~(1U << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/*
 * Pinned pages count against RLIMIT_MEMLOCK without CAP_IPC_LOCK, and
 * deregistration gives them back. Run in a child that drops the
 * capability.
 */
static void test_memlock(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct rlimit rl = { 16 * PG, 16 * PG };
		uint8_t *buf = hm_map(32 * PG);
		uint32_t k1 = 0, k2 = 0;
		int fd = open("/dev/hmirror0", O_RDWR);

		memset(buf, 1, 32 * PG);
		if (fd < 0 || drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(10);
		if (mr_reg(fd, buf, 32 * PG, HMIRROR_MR_PINNED, RW, &k1) != -ENOMEM)
			_exit(11);
		if (mr_reg(fd, buf, 12 * PG, HMIRROR_MR_PINNED, RW, &k1))
			_exit(12);
		if (mr_reg(fd, buf, 8 * PG, HMIRROR_MR_PINNED, RW, &k2) != -ENOMEM)
			_exit(13);
		/* ODP regions pin nothing: no limit. */
		if (mr_reg(fd, buf, 32 * PG, HMIRROR_MR_ODP, RW, &k2))
			_exit(14);
		if (mr_dereg(fd, k1))
			_exit(15);
		k1 = 0;
		if (mr_reg(fd, buf, 16 * PG, HMIRROR_MR_PINNED, RW, &k1))
			_exit(16);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * A program built before struct hmirror_cmd grew (cmd_size 0: 48-byte
 * records) still submits jobs that work.
 */
static void test_legacy_stride(void **state)
{
	uint8_t *buf = hm_map(2 * PG);
	unsigned char recs[2 * HMIRROR_CMD_SIZE_V1];
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_cmd c[2];
	struct hmirror_submit s = { .cmds = (uintptr_t)recs, .nr_cmds = 2 };
	struct hmirror_wait w = { .timeout_ns = 10000000000ull };

	(void)state;
	memset(buf, 0, 2 * PG);
	c[0] = hm_fill(buf, 0x11, PG);
	c[1] = hm_fill(buf + PG, 0x22, PG);
	memcpy(recs, &c[0], HMIRROR_CMD_SIZE_V1);
	memcpy(recs + HMIRROR_CMD_SIZE_V1, &c[1], HMIRROR_CMD_SIZE_V1);
	assert_int_equal(ioctl(fd, HMIRROR_IOC_SUBMIT, &s), 0);
	w.fence = s.fence;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_WAIT, &w), 0);
	assert_int_equal(w.status, 0);
	assert_true(all(buf, PG, 0x11));
	assert_true(all(buf + PG, PG, 0x22));
	close(fd);
	munmap(buf, 2 * PG);
}

/* The events of a context are its process's alone. */
static void test_read_other_process(void **state)
{
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE), status;
	struct hmirror_event ev;
	uint8_t *buf = hm_map(PG);
	uint32_t key = 0;
	pid_t pid;

	(void)state;
	memset(buf, 1, PG);
	assert_int_equal(mr_reg(fd, buf, PG, HMIRROR_MR_PINNED, RW, &key), 0);
	assert_int_equal(madvise(buf, PG, MADV_DONTNEED), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid)
		_exit(read(fd, &ev, sizeof(ev)) == -1 && errno == EACCES ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Still there for the owner, and short reads are refused. */
	assert_int_equal(read(fd, &ev, sizeof(ev) - 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
	assert_int_equal(read(fd, &ev, sizeof(ev)), (ssize_t)sizeof(ev));
	assert_int_equal(ev.key, key);
	close(fd);
	munmap(buf, PG);
}

/* MR_ADVISE; returns -errno. */
static int advise(int fd, uint32_t key, unsigned int advice, uint64_t off,
		  uint64_t len, unsigned int flags)
{
	struct hmirror_mr_advise a = { .key = key, .advice = advice,
		.offset = off, .len = len, .flags = flags };

	return ioctl(fd, HMIRROR_IOC_MR_ADVISE, &a) ? -errno : 0;
}

/* The next event, waiting up to 10 s for it. */
static struct hmirror_event next_event(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLPRI };
	struct hmirror_event ev;

	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_true(p.revents & POLLPRI);
	assert_int_equal(read(fd, &ev, sizeof(ev)), (ssize_t)sizeof(ev));
	return ev;
}

/* CRC32C of @len bytes at offset @off of region @key, by a job. */
static uint32_t key_crc(int fd, uint32_t key, uint64_t off, size_t len,
			uint32_t *out)
{
	struct hmirror_cmd c = keyed((struct hmirror_cmd){
		.op = HMIRROR_OP_CRC32C, .dst = (uintptr_t)out, .src = off,
		.len = len, .value = ~0U }, 0, key);

	assert_int_equal(hm_run(fd, &c, 1), 0);
	return *out;
}

/*
 * PREFETCH mirrors the range now: a job on it afterwards calls
 * hmm_range_fault() for nothing but its result page, and the prefetched
 * PTEs are invalidated like faulted ones. Without the prefetch (or with a
 * fast path that trusted stale PTEs) the counts or the data would differ.
 */
static void test_prefetch(void **state)
{
	const size_t len = 4 * MiB;
	uint8_t *buf = hm_map_aligned(len, 0);
	uint32_t *out = hm_map(PG), key = 0, crc;
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st0, st1, st2;

	(void)state;
	hm_pattern(buf, len, 7);
	*out = 0;	/* the result page is faulted in and mirrored first */
	assert_int_equal(mr_reg(fd, buf, len, HMIRROR_MR_ODP, RW, &key), 0);
	(void)key_crc(fd, key, 0, 8, out);
	st0 = stats(fd);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH, 0, len, 0), 0);
	st1 = stats(fd);
	assert_int_equal(st1.advices, st0.advices + 1);
	assert_int_equal(st1.ptes, len / PG + 1);
	assert_true(st1.pages_faulted >= st0.pages_faulted + len / PG - 1);

	crc = key_crc(fd, key, 0, len, out);
	assert_int_equal(crc, hm_crc32c(~0U, buf, len));
	st2 = stats(fd);
	/* The two chunks and the result page were all found mirrored. */
	assert_int_equal(st2.faults, st1.faults);
	assert_int_equal(st2.pt_hits, st1.pt_hits + 3);

	/* Prefetched PTEs go with the pages: the job sees the zeros. */
	assert_int_equal(madvise(buf + MiB, MiB, MADV_DONTNEED), 0);
	assert_int_equal(stats(fd).ptes, (len - MiB) / PG + 1);
	crc = key_crc(fd, key, 0, len, out);
	assert_int_equal(crc, hm_crc32c(~0U, buf, len));
	assert_true(all(buf + MiB, MiB, 0));

	/* Bad advice changes nothing. */
	st0 = stats(fd);
	assert_int_equal(advise(fd, key, 5, 0, PG, 0), -EINVAL);
	assert_int_equal(advise(fd, key, 0, 0, PG, 2), -EINVAL);
	assert_int_equal(advise(fd, key, 0, 0, 0, 0), -EINVAL);
	assert_int_equal(advise(fd, key, 0, len - PG, 2 * PG, 0), -EINVAL);
	assert_int_equal(advise(fd, key, 0, 0, ~0ULL, 0), -EINVAL);
	assert_int_equal(advise(fd, key + 1, 0, 0, PG, 0), -ENOENT);
	{
		struct hmirror_mr_advise a = { .key = key, .len = PG,
					       .reserved = { 1 } };

		assert_int_equal(ioctl(fd, HMIRROR_IOC_MR_ADVISE, &a), -1);
		assert_int_equal(errno, EINVAL);
	}
	st1 = stats(fd);
	assert_int_equal(st1.advices, st0.advices);
	assert_int_equal(st1.ptes, st0.ptes);
	close(fd);
	munmap(out, PG);
	munmap(buf, len);
}

/*
 * PREFETCH_WRITE needs a writable region and mapping, and mirrors for
 * writing: a write job after it faults nothing, where one after a read
 * prefetch of never-touched memory (the zero page, read-only) must.
 * A read-only page fails PREFETCH_WRITE, a hole any prefetch, with
 * -EFAULT.
 */
static void test_prefetch_write(void **state)
{
	const size_t len = 2 * MiB;
	uint8_t *buf = hm_map_aligned(len, 0);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint32_t key = 0, ro = 0;
	struct hmirror_stats st0, st1;
	struct hmirror_cmd c;

	(void)state;
	assert_int_equal(mr_reg(fd, buf, len, HMIRROR_MR_ODP, RW, &key), 0);
	assert_int_equal(mr_reg(fd, buf, len, HMIRROR_MR_ODP,
				HMIRROR_ACCESS_READ, &ro), 0);
	assert_int_equal(advise(fd, ro, HMIRROR_ADVISE_PREFETCH_WRITE, 0, PG, 0),
			 -EACCES);

	/* Read prefetch of untouched memory, then a write: a fault. */
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH, 0, len / 2, 0), 0);
	st0 = stats(fd);
	c = keyed(hm_fill((void *)0, 0x33, len / 2), key, 0);
	assert_int_equal(hm_run(fd, &c, 1), 0);
	st1 = stats(fd);
	assert_true(st1.faults > st0.faults);
	assert_true(all(buf, len / 2, 0x33));

	/* Write prefetch, then a write: none. */
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH_WRITE,
				len / 2, len / 2, 0), 0);
	st0 = stats(fd);
	c = keyed(hm_fill((void *)(len / 2), 0x44, len / 2), key, 0);
	assert_int_equal(hm_run(fd, &c, 1), 0);
	st1 = stats(fd);
	assert_int_equal(st1.faults, st0.faults);
	assert_true(all(buf + len / 2, len / 2, 0x44));

	/* A read-only page in the middle, then a hole. */
	assert_int_equal(mprotect(buf + MiB, PG, PROT_READ), 0);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH_WRITE, 0, len, 0),
			 -EFAULT);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH, 0, len, 0), 0);
	assert_int_equal(munmap(buf + MiB, PG), 0);
	st0 = stats(fd);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH, 0, len, 0),
			 -EFAULT);
	st1 = stats(fd);
	assert_int_equal(st1.advices_failed, st0.advices_failed + 1);
	close(fd);
	munmap(buf, len);
}

/*
 * PREFETCH_NO_FAULT over a sparse 64 GiB region: it mirrors exactly the
 * pages the CPU maps, faults nothing in, and leaves no range behind for
 * the thousands of chunks with nothing present.
 */
static void test_prefetch_no_fault(void **state)
{
	static const size_t offs[] = { 0, 17 * GiB + 5 * PG, 64 * GiB - 2 * PG };
	uint8_t *base = sparse_map(offs, 3);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st0, st;
	unsigned int chunks = 0;
	uint32_t key = 0;

	(void)state;
	/* The base is only page-aligned: a window may span two chunks. */
	for (unsigned int i = 0; i < 2; i++)
		chunks += (((uintptr_t)base + offs[i] + 2 * PG - 1) >> 21) -
			  (((uintptr_t)base + offs[i]) >> 21) + 1;
	assert_int_equal(mr_reg(fd, base, 64 * GiB, HMIRROR_MR_ODP, RW, &key), 0);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH_NO_FAULT, 0,
				4 * GiB + PG, 0), -E2BIG);
	st0 = stats(fd);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH_NO_FAULT, 0,
				4 * GiB, 0), 0);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH_NO_FAULT,
				16 * GiB, 4 * GiB, 0), 0);
	st = stats(fd);
	assert_int_equal(st.ptes, st0.ptes + 4);
	assert_int_equal(st.ranges, st0.ranges + chunks);
	assert_int_equal(st.pages_faulted, st0.pages_faulted + 4);
	/* Untouched pages of a window's chunk stay untouched. */
	assert_int_equal(mprotect(base + PG * 4, PG, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH_NO_FAULT, 0,
				8 * PG, 0), 0);
	assert_int_equal(stats(fd).ptes, st.ptes);
	close(fd);
	munmap(base, 64 * GiB);
}

/*
 * Asynchronous advice: one ADVISE_DONE event per call, in order, with
 * the outcome; at most HMIRROR_ADVISE_MAX_ASYNC queued or unread (an
 * unbounded queue would take the 257th); closing with advice queued
 * leaves nothing behind (the suite's object count and kmemleak).
 */
static void test_advise_async(void **state)
{
	const size_t len = 4 * MiB;
	uint8_t *buf = hm_map_aligned(len, 0);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_event ev;
	uint32_t key = 0;
	unsigned int i;

	(void)state;
	memset(buf, 1, len);
	assert_int_equal(mr_reg(fd, buf, len, HMIRROR_MR_ODP, RW, &key), 0);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH_WRITE, PG,
				len - PG, HMIRROR_ADVISE_F_ASYNC), 0);
	ev = next_event(fd);
	assert_int_equal(ev.type, HMIRROR_EVENT_ADVISE_DONE);
	assert_int_equal(ev.key, key);
	assert_int_equal(ev.reason, HMIRROR_ADVISE_PREFETCH_WRITE);
	assert_int_equal(ev.status, 0);
	assert_int_equal(ev.addr, PG);
	assert_int_equal(ev.len, len - PG);
	assert_int_equal(stats(fd).ptes, len / PG - 1);

	/* A failure is reported by the event, not the call. */
	assert_int_equal(munmap(buf + len - PG, PG), 0);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH, 0, len,
				HMIRROR_ADVISE_F_ASYNC), 0);
	ev = next_event(fd);
	assert_int_equal(ev.status, -EFAULT);

	for (i = 0; i < HMIRROR_ADVISE_MAX_ASYNC; i++)
		assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH,
					(i % 16) * PG, PG,
					HMIRROR_ADVISE_F_ASYNC), 0);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH, 0, PG,
				HMIRROR_ADVISE_F_ASYNC), -EAGAIN);
	for (i = 0; i < HMIRROR_ADVISE_MAX_ASYNC; i++) {
		ev = next_event(fd);
		assert_int_equal(ev.status, 0);
		assert_int_equal(ev.addr, (i % 16) * PG);
	}
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH, 0, PG,
				HMIRROR_ADVISE_F_ASYNC), 0);
	(void)next_event(fd);

	/* Queued and unread at close. */
	for (i = 0; i < 64; i++)
		assert_int_equal(advise(fd, key, HMIRROR_ADVISE_PREFETCH, 0,
					len - PG, HMIRROR_ADVISE_F_ASYNC), 0);
	close(fd);
	munmap(buf, len - PG);
}

/*
 * Migration hints move the pages covering the range (whole pages, an
 * unaligned range included) and keep the data; pinned regions take no
 * advice.
 */
static void test_advise_migrate(void **state)
{
	const size_t len = 2 * MiB;
	uint8_t *buf = hm_map_aligned(len, 0);
	uint32_t *out = hm_map(PG), key = 0, pin = 0, crc;
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st0, st;

	(void)state;
	hm_pattern(buf, len, 3);
	assert_int_equal(mr_reg(fd, buf, len, HMIRROR_MR_ODP, RW, &key), 0);
	assert_int_equal(mr_reg(fd, buf, PG, HMIRROR_MR_PINNED, RW, &pin), 0);
	assert_int_equal(advise(fd, pin, HMIRROR_ADVISE_PREFETCH, 0, PG, 0),
			 -EOPNOTSUPP);
	assert_int_equal(advise(fd, pin, HMIRROR_ADVISE_MIGRATE_TO_DEVICE, 0,
				PG, 0), -EOPNOTSUPP);
	assert_int_equal(mr_dereg(fd, pin), 0);

	st0 = stats(fd);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_MIGRATE_TO_DEVICE,
				PG / 2, PG, 0), 0);
	st = stats(fd);
	assert_int_equal(st.migrated_to_dev, st0.migrated_to_dev + 2);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_MIGRATE_TO_DEVICE, 0,
				len, HMIRROR_ADVISE_F_ASYNC), 0);
	assert_int_equal(next_event(fd).status, 0);
	st = stats(fd);
	assert_int_equal(st.migrated_to_dev, st0.migrated_to_dev + len / PG);
	assert_int_equal(st.dev_resident, st0.dev_resident + len / PG);
	crc = hm_crc32c(~0U, buf, len);	/* brings the pages back */
	assert_int_equal(key_crc(fd, key, 0, len, out), crc);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_MIGRATE_TO_DEVICE, 0,
				len, 0), 0);
	assert_int_equal(advise(fd, key, HMIRROR_ADVISE_MIGRATE_TO_SYSTEM, 0,
				len, 0), 0);
	st = stats(fd);
	assert_int_equal(st.dev_resident, st0.dev_resident);
	assert_true(hm_pattern_ok(buf, len, 3));
	close(fd);
	munmap(out, PG);
	munmap(buf, len);
}

/*
 * A region whose pages are in the other instance's memory: a job through
 * it moves them here, device to device (the same job by address brings
 * them to system memory instead); with HMIRROR_MR_F_NO_MIGRATE the submit
 * fails with -EXDEV and nothing moves, and so does a PAGE-class job
 * already submitted whose pages move there before it runs.
 */
static void test_foreign_pages(void **state)
{
	const size_t len = 2 * MiB;
	uint8_t *buf = hm_map_aligned(len, 0);
	uint32_t *out = hm_map(PG), key = 0, local = 0, crc;
	uint64_t *flag = hm_map(PG), fence = 0;
	int fd0 = hm_open(0, HMIRROR_PREEMPT_PAGE);
	int fd1 = hm_open(1, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats a0, a1;
	struct hmirror_cmd c[2];
	int32_t status;

	(void)state;
	hm_pattern(buf, len, 9);
	/* Now: a CPU read of device-private pages later would move them. */
	crc = hm_crc32c(~0U, buf, len);
	assert_int_equal(mr_reg(fd0, buf, len, HMIRROR_MR_ODP, RW, &key), 0);
	{
		struct hmirror_mr_reg r = { .addr = (uintptr_t)buf, .len = PG,
			.mode = HMIRROR_MR_PINNED, .access = RW,
			.flags = HMIRROR_MR_F_NO_MIGRATE };

		assert_int_equal(ioctl(fd0, HMIRROR_IOC_MR_REG, &r), -1);
		assert_int_equal(errno, EINVAL);
		r.mode = HMIRROR_MR_ODP;
		r.flags = 2;
		assert_int_equal(ioctl(fd0, HMIRROR_IOC_MR_REG, &r), -1);
		assert_int_equal(errno, EINVAL);
		r.flags = HMIRROR_MR_F_NO_MIGRATE;
		assert_int_equal(ioctl(fd0, HMIRROR_IOC_MR_REG, &r), 0);
		local = r.key;
	}

	/* By address: device 1's pages come back to system memory. */
	assert_int_equal(hm_migrate(fd1, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				    NULL, NULL, NULL), 0);
	assert_int_equal(stats(fd1).dev_resident, len / PG);
	a0 = stats(fd0);
	c[0] = (struct hmirror_cmd){ .op = HMIRROR_OP_CRC32C,
		.dst = (uintptr_t)out, .src = (uintptr_t)buf, .len = len,
		.value = ~0U };
	assert_int_equal(hm_run(fd0, c, 1), 0);
	assert_int_equal(stats(fd1).dev_resident, 0);
	assert_int_equal(stats(fd0).migrated_to_dev, a0.migrated_to_dev);

	/* Through the NO_MIGRATE region: -EXDEV, nothing moves or runs. */
	assert_int_equal(hm_migrate(fd1, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				    NULL, NULL, NULL), 0);
	*out = 0;
	c[0] = keyed((struct hmirror_cmd){ .op = HMIRROR_OP_CRC32C,
		.dst = (uintptr_t)out, .src = 0, .len = PG, .value = ~0U },
		0, local);
	assert_int_equal(hm_submit(fd0, c, 1, NULL), -EXDEV);
	assert_int_equal(*out, 0);
	assert_int_equal(stats(fd1).dev_resident, len / PG);

	/* Through the ODP region: moved here, device to device. */
	a0 = stats(fd0);
	a1 = stats(fd1);
	assert_int_equal(key_crc(fd0, key, 0, len, out), crc);
	assert_int_equal(stats(fd0).migrated_to_dev, a0.migrated_to_dev + len / PG);
	assert_int_equal(stats(fd1).dev_resident, 0);
	assert_int_equal(stats(fd1).dev_migrated_out, a1.dev_migrated_out + len / PG);
	assert_int_equal(stats(fd0).dev_cpu_faults, a0.dev_cpu_faults);

	/* Submitted on system pages that move to device 1 before it runs. */
	assert_int_equal(hm_migrate(fd0, buf, len, HMIRROR_MIGRATE_TO_SYSTEM,
				    NULL, NULL, NULL), 0);
	*flag = 0;
	c[0] = hm_wait_value(flag, 1, 0);
	c[1] = keyed((struct hmirror_cmd){ .op = HMIRROR_OP_CRC32C,
		.dst = (uintptr_t)out, .src = 0, .len = PG, .value = ~0U },
		0, local);
	assert_int_equal(hm_submit(fd0, c, 2, &fence), 0);
	assert_int_equal(hm_migrate(fd1, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				    NULL, NULL, NULL), 0);
	*flag = 1;
	assert_int_equal(hm_wait(fd0, fence, 10000000000ULL, &status), 0);
	assert_int_equal(status, -EXDEV);
	assert_int_equal(stats(fd1).dev_resident, len / PG);

	/*
	 * What mirrors only what is present moves nothing, even through a
	 * NO_MIGRATE region; an EXCLUSIVE operand follows the region's rule.
	 */
	assert_int_equal(advise(fd0, local, HMIRROR_ADVISE_PREFETCH_NO_FAULT, 0,
				PG, 0), 0);
	assert_int_equal(stats(fd1).dev_resident, len / PG);
	c[0] = keyed((struct hmirror_cmd){ .op = HMIRROR_OP_WRITE_VALUE,
		.flags = HMIRROR_CMD_F_EXCLUSIVE, .value = 1 }, local, 0);
	assert_int_equal(hm_submit(fd0, c, 1, NULL), -EXDEV);
	assert_int_equal(stats(fd1).dev_resident, len / PG);

	assert_true(hm_pattern_ok(buf, len, 9));
	close(fd1);
	close(fd0);
	munmap(flag, PG);
	munmap(out, PG);
	munmap(buf, len);
}

/*
 * A region pulls only the pages that are in another instance's memory:
 * the move must invalidate nothing else, or a NONE-class job of that
 * instance on a neighbouring system page would hold the submit up to its
 * deadline and be reset (policy kill: its owner, this process, killed).
 */
static void test_foreign_pull_runs(void **state)
{
	const size_t len = 2 * MiB;
	uint8_t *buf = hm_map_aligned(len, 0);
	uint64_t *flag = hm_map(PG), fence = 0;
	uint32_t *out = hm_map(PG), key = 0, crc;
	int fd0 = hm_open(0, HMIRROR_PREEMPT_PAGE);
	int fd1 = hm_open(1, HMIRROR_PREEMPT_NONE);
	struct hmirror_ctx_config cfg = {
		.set = HMIRROR_CFG_DEADLINE | HMIRROR_CFG_POLICY,
		.deadline_ms = 2000, .policy = HMIRROR_POLICY_REVOKE,
	};
	struct hmirror_stats b0, b1;
	struct hmirror_cmd c[2];
	uint64_t moved, t0;
	int status;

	(void)state;
	assert_int_equal(hm_config(fd1, &cfg), 0);
	hm_pattern(buf, len, 11);
	crc = hm_crc32c(~0U, buf, 101 * PG);
	/* Page 100 in device 1's memory, the rest at home. */
	assert_int_equal(hm_migrate(fd1, buf + 100 * PG, PG,
				    HMIRROR_MIGRATE_TO_DEVICE, NULL, &moved,
				    NULL), 0);
	assert_int_equal(moved, 1);
	/* Device 1's NONE-class job holds page 0 until the flag is set. */
	*flag = 0;
	c[0] = hm_wait_value(flag, 1, 0);
	c[1] = hm_copy(out, buf, 8);
	assert_int_equal(hm_submit(fd1, c, 2, &fence), 0);
	b1 = stats(fd1);

	assert_int_equal(mr_reg(fd0, buf, len, HMIRROR_MR_ODP, RW, &key), 0);
	b0 = stats(fd0);
	t0 = hm_now_ns();
	assert_int_equal(key_crc(fd0, key, 0, 101 * PG, out), crc);
	assert_true(hm_now_ns() - t0 < 1000000000ull);	/* deadline: 2 s */
	assert_int_equal(stats(fd0).migrated_to_dev, b0.migrated_to_dev + 1);
	assert_int_equal(stats(fd1).inval_waits, b1.inval_waits);
	assert_int_equal(stats(fd1).escalations, 0);

	*flag = 1;
	assert_int_equal(hm_wait(fd1, fence, 10000000000ULL, &status), 0);
	assert_int_equal(status, 0);
	assert_true(hm_pattern_ok(buf, len, 11));
	close(fd1);
	close(fd0);
	munmap(out, PG);
	munmap(flag, PG);
	munmap(buf, len);
}

/* Columns of a region's line in debugfs hmirror<dev>/mrs; 0 if absent. */
struct mr_line {
	char mode[16], access[8], flags[16];
	unsigned long long mapped, on_device, faults;
};

/*
 * The line of region @key of this process's newest context on @dev: a
 * test that failed earlier may have left its own context open, keys and
 * all.
 */
static int mr_line(unsigned int dev, uint32_t key, struct mr_line *l)
{
	char path[64], line[256];
	unsigned int ctx, k;
	int pid, found = 0;
	long newest = -1;
	struct mr_line t;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmirror/hmirror%u/mrs", dev);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u %d %u %15s %7s %15s %*s %*s %llu %llu %llu",
			   &ctx, &pid, &k, t.mode, t.access, t.flags,
			   &t.mapped, &t.on_device, &t.faults) == 9 &&
		    k == key && pid == getpid() && (long)ctx >= newest) {
			found = (long)ctx == newest ? found + 1 : 1;
			newest = ctx;
			*l = t;
		}
	fclose(f);
	return found == 1;
}

/* Does `hmirrorctl mr list -d 0` print a line with all of @words? */
static int ctl_lists(const char *const *words, unsigned int n)
{
	const char *ko = getenv("HMIRROR_KO");
	char cmd[512], line[512];
	int found = 0;
	FILE *p;

	/* HMIRROR_KO is <repo>/src/kernel/hmirror.ko. */
	assert_non_null(ko);
	snprintf(cmd, sizeof(cmd), "%.*s/build/tools/hmirrorctl mr list -d 0",
		 (int)(strstr(ko, "/src/kernel/") - ko), ko);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		unsigned int i;

		for (i = 0; i < n && strstr(line, words[i]); i++)
			;
		found |= i == n;
	}
	assert_int_equal(pclose(p), 0);
	return found;
}

/*
 * hmirrorctl mr list and the debugfs file under it: mode, rights, flags,
 * pages mapped and in device memory, faults, per region.
 */
static void test_mr_list(void **state)
{
	const size_t len = 4 * MiB;
	uint8_t *buf = hm_map_aligned(len, 0);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint32_t odp = 0, imp = 0, pin = 0, loc = 0;
	char k_odp[16], k_pin[16];
	struct mr_line l;

	(void)state;
	memset(buf, 5, len);
	assert_int_equal(mr_reg(fd, buf, len, HMIRROR_MR_ODP, RW, &odp), 0);
	assert_int_equal(mr_reg(fd, NULL, HMIRROR_MR_IMPLICIT_LEN,
				HMIRROR_MR_ODP, HMIRROR_ACCESS_READ, &imp), 0);
	assert_int_equal(mr_reg(fd, buf, 2 * PG, HMIRROR_MR_PINNED, RW, &pin), 0);
	{
		struct hmirror_mr_reg r = { .addr = (uintptr_t)buf, .len = PG,
			.mode = HMIRROR_MR_ODP, .access = RW,
			.flags = HMIRROR_MR_F_NO_MIGRATE };

		assert_int_equal(ioctl(fd, HMIRROR_IOC_MR_REG, &r), 0);
		loc = r.key;
	}
	assert_int_equal(mr_dereg(fd, pin), 0);	/* it would keep pages home */
	assert_int_equal(advise(fd, odp, HMIRROR_ADVISE_MIGRATE_TO_DEVICE, 0,
				PG, 0), 0);
	assert_int_equal(advise(fd, odp, HMIRROR_ADVISE_PREFETCH, 0, MiB, 0), 0);

	assert_true(mr_line(0, odp, &l));
	assert_string_equal(l.mode, "odp");
	assert_string_equal(l.access, "rw-");
	assert_string_equal(l.flags, "-");
	assert_int_equal(l.mapped, MiB / PG);
	assert_int_equal(l.on_device, 1);
	assert_true(l.faults >= 1);
	assert_true(mr_line(0, imp, &l));
	assert_string_equal(l.mode, "implicit");
	assert_int_equal(l.mapped, MiB / PG);
	assert_int_equal(l.faults, 0);	/* nothing named through it */
	assert_true(mr_line(0, loc, &l));
	assert_string_equal(l.flags, "no_migrate");
	assert_int_equal(l.mapped, 1);
	pin = 0;
	assert_int_equal(mr_reg(fd, buf + PG, 2 * PG, HMIRROR_MR_PINNED,
				HMIRROR_ACCESS_READ, &pin), 0);
	assert_true(mr_line(0, pin, &l));
	assert_string_equal(l.mode, "pinned");
	assert_string_equal(l.access, "r--");
	assert_int_equal(l.mapped, 2);

	snprintf(k_odp, sizeof(k_odp), " %u ", odp);
	snprintf(k_pin, sizeof(k_pin), " %u ", pin);
	assert_true(ctl_lists((const char *const[]){ k_odp, "odp", "rw-",
						     "4 MiB", " 256 " }, 5));
	assert_true(ctl_lists((const char *const[]){ k_pin, "pinned", "r--",
						     "8 KiB" }, 4));
	assert_true(ctl_lists((const char *const[]){ "implicit" }, 1));
	assert_true(ctl_lists((const char *const[]){ "no_migrate" }, 1));
	close(fd);
	munmap(buf, len);
}

/* Wait up to 2 s for the context's ranges to reach @n. */
static uint64_t ranges_settle(int fd, uint64_t n)
{
	struct hmirror_stats st = stats(fd);

	for (int i = 0; i < 200 && st.ranges != n; i++) {
		usleep(10000);
		st = stats(fd);
	}
	return st.ranges;
}

/*
 * The ranges an implicit region's jobs made go once idle and empty, as
 * mlx5's implicit ODP children do: after a zap (DONTNEED) and after a
 * migration to device memory (whose pages the next job maps anew), not
 * only after an unmap.
 */
static void test_implicit_reclaim(void **state)
{
	const size_t len = 16 * MiB;
	uint8_t *buf = hm_map_aligned(len, 0);
	uint32_t *out = hm_map(PG), imp = 0;
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint64_t base;
	uint32_t crc;

	(void)state;
	hm_pattern(buf, len, 4);
	crc = hm_crc32c(~0U, buf, len);
	assert_int_equal(mr_reg(fd, NULL, HMIRROR_MR_IMPLICIT_LEN,
				HMIRROR_MR_ODP, RW, &imp), 0);
	*out = 0;
	base = stats(fd).ranges;	/* none yet: the result page's comes */
	assert_int_equal(key_crc(fd, imp, (uintptr_t)buf, len, out), crc);
	assert_int_equal(stats(fd).ranges, base + len / (2 * MiB) + 1);

	assert_int_equal(madvise(buf, len / 2, MADV_DONTNEED), 0);
	assert_int_equal(ranges_settle(fd, base + len / (4 * MiB) + 1),
			 base + len / (4 * MiB) + 1);
	hm_pattern(buf, len / 2, 4);
	assert_int_equal(key_crc(fd, imp, (uintptr_t)buf, len, out), crc);
	assert_int_equal(stats(fd).ranges, base + len / (2 * MiB) + 1);

	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				    NULL, NULL, NULL), 0);
	assert_int_equal(ranges_settle(fd, base + 1), base + 1);
	assert_int_equal(key_crc(fd, imp, (uintptr_t)buf, len, out), crc);
	assert_int_equal(stats(fd).ranges, base + len / (2 * MiB) + 1);
	assert_true(hm_pattern_ok(buf, len, 4));
	close(fd);
	munmap(out, PG);
	munmap(buf, len);
}

/*
 * Tests of what the pci backend does not have yet: pinned regions (its
 * device reaches memory through the page table only) and device memory.
 */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reg_bad),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_odp_sparse),
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_pinned_thp_split),
		cmocka_unit_test(test_revoke_munmap),
		cmocka_unit_test(test_revoke_dontneed),
		cmocka_unit_test(test_revoke_mremap),
		cmocka_unit_test(test_revoke_pending_job),
		cmocka_unit_test(test_hold_dontneed),
		cmocka_unit_test(test_hold_split),
		cmocka_unit_test(test_memlock),
		cmocka_unit_test(test_read_other_process),
		cmocka_unit_test(test_legacy_stride),
		cmocka_unit_test(test_prefetch),
		cmocka_unit_test(test_prefetch_write),
		cmocka_unit_test(test_prefetch_no_fault),
		cmocka_unit_test(test_advise_async),
		cmocka_unit_test(test_advise_migrate),
		cmocka_unit_test(test_foreign_pages),
		cmocka_unit_test(test_foreign_pull_runs),
		cmocka_unit_test(test_mr_list),
		cmocka_unit_test(test_implicit_reclaim),
	};

	guest_suite_setup();
	return cmocka_run_group_tests_name("mr", tests, hm_suite_up, hm_suite_down);
}
