// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Guest suite: hostile input. A structure-aware, seeded fuzzer of every
 * hmirror ioctl, with each errno it sees tabulated and checked against the
 * ones the uAPI documents, and explicit tests for kernel addresses,
 * overflowing ranges, reserved fields, huge counts, a context outliving
 * its owner, close racing with submit and wait, and fork plus exec.
 *
 *   HMIRROR_FUZZ_SEED=S   the fuzzer's seed (default 1)
 *   HMIRROR_FUZZ_ITERS=N  its iterations (default 20000)
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "guest.h"

#define PG 4096UL
#define MiB (1UL << 20)
#define GiB (1UL << 30)
#define RW (HMIRROR_ACCESS_READ | HMIRROR_ACCESS_WRITE)
/*
 * A kernel address (the direct map) and one that is canonical for no
 * paging mode (0x800000000000 is user space under LA57, which the TCG
 * guest's CPU has).
 */
#define KADDR 0xffff888000000000ULL
#define NONCANON 0x8000000000000000ULL

/* ---- the fuzzer ----------------------------------------------------------- */

/* xorshift64*: the same seed gives the same run. */
static uint64_t fz_state;

static uint64_t fz_next(void)
{
	fz_state ^= fz_state >> 12;
	fz_state ^= fz_state << 25;
	fz_state ^= fz_state >> 27;
	return fz_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t fz(uint64_t n)
{
	return n ? fz_next() % n : 0;
}

static int fz_chance(unsigned int one_in)
{
	return fz(one_in) == 0;
}

enum fz_ioc {
	FZ_GET_INFO, FZ_CONFIG, FZ_SUBMIT, FZ_WAIT, FZ_STATS, FZ_MIGRATE,
	FZ_MR_REG, FZ_MR_DEREG, FZ_MR_ADVISE, FZ_READ, FZ_BOGUS, FZ_NR,
};

static const char *const fz_name[FZ_NR] = {
	"GET_INFO", "CONFIG", "SUBMIT", "WAIT", "STATS", "MIGRATE", "MR_REG",
	"MR_DEREG", "MR_ADVISE", "read", "bogus ioctl",
};

/*
 * The errnos each call may give (0: success), from the uAPI header. Any
 * other is a bug: an error path the documentation does not know, or a
 * leak of an internal code (-ERESTARTSYS, -ENOSPC from the wrong place).
 */
static const int fz_allowed[FZ_NR][16] = {
	[FZ_GET_INFO] = { 0, EINVAL, EFAULT, EIO },
	[FZ_CONFIG] = { 0, EINVAL, EFAULT, EBUSY, EBADF, EIO },
	[FZ_SUBMIT] = { 0, EINVAL, EFAULT, E2BIG, EAGAIN, EIO, ENOSPC,
			EOPNOTSUPP, EBUSY, EACCES, ENOENT, ECANCELED, EXDEV,
			EPERM },
	[FZ_WAIT] = { 0, EINVAL, EFAULT, ETIME, EIO },
	[FZ_STATS] = { 0, EINVAL, EFAULT },
	[FZ_MIGRATE] = { 0, EINVAL, EFAULT, EOPNOTSUPP, EIO, EBUSY },
	[FZ_MR_REG] = { 0, EINVAL, EEXIST, ENOSPC, ENOMEM, EFAULT, EAGAIN,
			EIO, EOPNOTSUPP },
	[FZ_MR_DEREG] = { 0, EINVAL, ENOENT, EBUSY, EIO },
	[FZ_MR_ADVISE] = { 0, EINVAL, ENOENT, EACCES, EOPNOTSUPP, E2BIG,
			   EAGAIN, EFAULT, EIO, ECANCELED, EBUSY, EXDEV },
	[FZ_READ] = { 0, EINVAL, EAGAIN, EFAULT, EIO },
	[FZ_BOGUS] = { ENOTTY, EIO },
};

#define FZ_MAX_ERRNO 140

struct fz_run {
	unsigned long count[FZ_NR][FZ_MAX_ERRNO];
	unsigned long unexpected;
	unsigned long poisoned, poison_ok;
	/* Mapped memory to name, and addresses that are not. */
	uint8_t *buf, *ro, *none, *hole;
	uint64_t *flag;
	int fd;
	unsigned int ctxs;
	/* What this context did, for the consistency check at its close. */
	uint64_t submitted;
	uint32_t keys[8];
	unsigned int nr_keys;
	uint64_t fences[8];
};

#define FZ_BUF (4 * MiB)

static uint64_t fz_addr(struct fz_run *r)
{
	switch (fz(12)) {
	case 0: return 0;
	case 1: return KADDR + fz(1 << 20) * PG;
	case 2: return NONCANON;
	case 3: return (uintptr_t)r->ro + fz(PG);
	case 4: return (uintptr_t)r->none;
	case 5: return (uintptr_t)r->hole + fz(PG);
	case 6: return 0x7ffffffff000ULL;
	case 7: return fz_next();
	case 8: return (uintptr_t)r->buf + FZ_BUF - fz(64);
	default: return (uintptr_t)r->buf + fz(FZ_BUF / PG) * PG +
			(fz_chance(4) ? fz(PG) : 0);
	}
}

static uint64_t fz_len(void)
{
	static const uint64_t v[] = { 0, 1, 4, 7, 8, 64, PG, PG + 1, 2 * MiB,
				      4 * GiB, 4 * GiB + 1, ~0ULL, ~0ULL - PG,
				      1ULL << 63 };

	return fz_chance(3) ? fz(2 * PG) + 1 : v[fz(sizeof(v) / sizeof(v[0]))];
}

static uint64_t fz_value(void)
{
	static const uint64_t v[] = { 0, 1, 2, 0xff, 0x100, ~0ULL, 1ULL << 63,
				      HMIRROR_DELAY_MAX_US,
				      HMIRROR_DELAY_MAX_US + 1ULL };

	return fz_chance(2) ? fz_next() : v[fz(sizeof(v) / sizeof(v[0]))];
}

/* A key: one of this context's, 0, or anything. */
static uint32_t fz_key(struct fz_run *r)
{
	if (r->nr_keys && fz_chance(2))
		return r->keys[fz(r->nr_keys)];
	return fz_chance(2) ? 0 : (uint32_t)fz_next();
}

static int fz_errno_ok(enum fz_ioc ioc, int err)
{
	for (unsigned int i = 0; i < 16; i++) {
		if (fz_allowed[ioc][i] == err)
			return 1;
		if (i && !fz_allowed[ioc][i])
			break;
	}
	return 0;
}

/* Record the outcome of a call; @poisoned: a reserved field was set. */
static void fz_note(struct fz_run *r, enum fz_ioc ioc, long ret, int poisoned)
{
	int err = ret < 0 ? errno : 0;

	r->count[ioc][err < FZ_MAX_ERRNO ? err : FZ_MAX_ERRNO - 1]++;
	if (!fz_errno_ok(ioc, err)) {
		r->unexpected++;
		printf("# fuzz: %s gave unexpected %s (%d)\n", fz_name[ioc],
		       strerror(err), err);
	}
	if (poisoned) {
		r->poisoned++;
		/* A dead context says so before looking at anything. */
		if (err == EINVAL || err == EIO)
			r->poison_ok++;
		else
			printf("# fuzz: %s with a reserved field set gave %s\n",
			       fz_name[ioc], err ? strerror(err) : "success");
	}
}

static void fz_poison(void *field, size_t len, int *poisoned)
{
	uint8_t *p = field;

	p[fz(len)] = (uint8_t)(fz(255) + 1);
	*poisoned = 1;
}

/* Poison one of two reserved fields, each with its own size. */
#define FZ_POISON2(a, b, poisoned)					\
	do {								\
		if (fz_chance(2))					\
			fz_poison(&(a), sizeof(a), poisoned);		\
		else							\
			fz_poison(&(b), sizeof(b), poisoned);		\
	} while (0)

/* A valid command of a random op on the fuzzer's buffer. */
static struct hmirror_cmd fz_cmd_valid(struct fz_run *r)
{
	uint64_t off = fz(FZ_BUF / PG - 16) * PG, len = fz(8 * PG) + 1;
	uint8_t *p = r->buf + off;
	struct hmirror_cmd c = { 0 };

	switch (fz(8)) {
	case 0: return hm_copy(p, p + 8 * PG, len);
	case 1: return hm_fill(p, (uint8_t)fz(256), len);
	case 2:
		c = (struct hmirror_cmd){ .op = HMIRROR_OP_CRC32C,
			.dst = (uintptr_t)p, .src = (uintptr_t)p + 4 * PG,
			.len = len, .value = fz_next() };
		return c;
	case 3:
		c = (struct hmirror_cmd){ .op = HMIRROR_OP_ATOMIC_ADD,
			.dst = (uintptr_t)p, .value = fz_next(),
			.flags = fz_chance(4) ? HMIRROR_CMD_F_EXCLUSIVE : 0 };
		return c;
	case 4: return hm_write_value((uint64_t *)p, fz_next());
	case 5: return hm_wait_value(r->flag, *r->flag, fz(1000) + 1);
	case 6:
		c = (struct hmirror_cmd){ .op = HMIRROR_OP_DELAY,
			.aux = fz(100) + 1 };
		return c;
	default:
		c = (struct hmirror_cmd){ .op = HMIRROR_OP_MIRROR,
			.src = (uintptr_t)p, .len = len, .value = fz(2) };
		return c;
	}
}

/* Anything goes, field by field. */
static struct hmirror_cmd fz_cmd_wild(struct fz_run *r)
{
	static const uint32_t flags[] = { 0, 0, 0, HMIRROR_CMD_F_EXCLUSIVE,
					  HMIRROR_CMD_F_DST_KEY,
					  HMIRROR_CMD_F_SRC_KEY,
					  HMIRROR_CMD_F_DST_KEY |
					  HMIRROR_CMD_F_SRC_KEY, 1U << 31 };
	struct hmirror_cmd c = {
		.op = fz_chance(4) ? (uint32_t)fz(HMIRROR_OP_MAX + 3) :
		      1 + (uint32_t)fz(HMIRROR_OP_MAX - 1),
		.flags = flags[fz(8)],
		.dst = fz_addr(r),
		.src = fz_addr(r),
		.len = fz_len(),
		.value = fz_value(),
	};

	/* Short delays and timeouts, mostly: a stuck job stalls the run. */
	if (c.op == HMIRROR_OP_DELAY)
		c.aux = fz_chance(8) ? fz_value() : fz(100) + 1;
	else if (c.op == HMIRROR_OP_WAIT_VALUE)
		c.aux = fz_chance(8) ? 0 : fz(1000) + 1;
	else if (fz_chance(8))
		c.aux = fz_value();
	if (c.op == HMIRROR_OP_WAIT_VALUE && fz_chance(2)) {
		c.src = (uintptr_t)r->flag;
		c.value = *r->flag;
	}
	if (c.flags & HMIRROR_CMD_F_DST_KEY || fz_chance(16))
		c.dst_key = fz_key(r);
	if (c.flags & HMIRROR_CMD_F_SRC_KEY || fz_chance(16))
		c.src_key = fz_key(r);
	if (c.flags & (HMIRROR_CMD_F_DST_KEY | HMIRROR_CMD_F_SRC_KEY)) {
		if (fz_chance(2))
			c.dst = fz(FZ_BUF);
		if (fz_chance(2))
			c.src = fz(FZ_BUF);
	}
	return c;
}

/* Mostly valid commands with at most one field mutated, some wild. */
static struct hmirror_cmd fz_cmd(struct fz_run *r)
{
	struct hmirror_cmd c, w;

	if (fz_chance(8))
		return fz_cmd_wild(r);
	c = fz_cmd_valid(r);
	if (fz_chance(2))
		return c;
	w = fz_cmd_wild(r);
	switch (fz(9)) {
	case 0: c.op = w.op; break;
	case 1: c.flags = w.flags; c.dst_key = w.dst_key; c.src_key = w.src_key;
		break;
	case 2: c.dst = w.dst; break;
	case 3: c.src = w.src; break;
	case 4: c.len = w.len; break;
	case 5: c.value = w.value; break;
	case 6: c.aux = w.aux; break;
	case 7: c.dst_key = w.dst_key; break;
	default: c.src_key = w.src_key; break;
	}
	return c;
}

static void fz_submit(struct fz_run *r)
{
	struct hmirror_cmd cmds[70];
	struct hmirror_submit s = { .cmds = (uintptr_t)cmds };
	unsigned int n = fz_chance(8) ? (unsigned int)fz(70) : 1 + fz(4);
	int poisoned = 0;
	long ret;

	for (unsigned int i = 0; i < n && i < 70; i++)
		cmds[i] = fz_cmd(r);
	s.nr_cmds = fz_chance(32) ? (uint32_t)fz_next() : n;
	if (fz_chance(16))
		s.cmds = fz_addr(r);
	switch (fz(8)) {
	case 0: s.cmd_size = HMIRROR_CMD_SIZE_V1; break;
	case 1: s.cmd_size = (uint32_t)fz(128); break;
	default: s.cmd_size = sizeof(struct hmirror_cmd); break;
	}
	if (fz_chance(16)) {
		switch (fz(3)) {
		case 0: fz_poison(&s.flags, sizeof(s.flags), &poisoned); break;
		case 1: fz_poison(&s.pad, sizeof(s.pad), &poisoned); break;
		default: fz_poison(&s.reserved, sizeof(s.reserved), &poisoned);
		}
	}
	ret = ioctl(r->fd, HMIRROR_IOC_SUBMIT, &s);
	fz_note(r, FZ_SUBMIT, ret, poisoned);
	if (!ret) {
		r->submitted++;
		r->fences[fz(8)] = s.fence;
	}
}

static void fz_wait(struct fz_run *r)
{
	struct hmirror_wait w = {
		.fence = fz_chance(4) ? fz_next() : r->fences[fz(8)],
		.timeout_ns = fz(2000000),
	};
	int poisoned = 0;

	if (fz_chance(32)) {
		fz_note(r, FZ_WAIT, ioctl(r->fd, HMIRROR_IOC_WAIT,
					  (void *)(uintptr_t)KADDR), 0);
		return;
	}
	if (fz_chance(16))
		FZ_POISON2(w.pad, w.reserved, &poisoned);
	fz_note(r, FZ_WAIT, ioctl(r->fd, HMIRROR_IOC_WAIT, &w), poisoned);
}

static void fz_config(struct fz_run *r)
{
	struct hmirror_ctx_config c = {
		.set = fz_chance(8) ? (uint32_t)fz_next() : (uint32_t)fz(16),
		.preempt = (uint32_t)fz(3),
		.deadline_ms = fz_chance(4) ? (uint32_t)fz_next() :
			       (uint32_t)fz(100) + 1,
		.policy = HMIRROR_POLICY_REVOKE,
		.eventfd = fz_chance(2) ? -1 : (int)fz(64) - 2,
	};
	int poisoned = 0;

	/* Never the kill policy: an escalation would kill the fuzzer. */
	if (c.set & HMIRROR_CFG_POLICY && fz_chance(4))
		c.policy = 2 + (uint32_t)fz(100);
	if (fz_chance(16))
		FZ_POISON2(c.pad, c.reserved, &poisoned);
	fz_note(r, FZ_CONFIG, ioctl(r->fd, HMIRROR_IOC_CONFIG, &c), poisoned);
}

static void fz_migrate(struct fz_run *r)
{
	int32_t status[64];
	struct hmirror_migrate m = {
		.addr = fz_addr(r) & (fz_chance(4) ? ~0ULL : ~(PG - 1)),
		.len = fz_chance(2) ? (fz(64) + 1) * PG : fz_len(),
		.target = (uint32_t)fz(3),
		.status = fz_chance(2) ? 0 : fz_chance(2) ?
			  (uintptr_t)status : fz_addr(r),
	};
	int poisoned = 0;

	if (m.status == (uintptr_t)status && m.len > sizeof(status) / 4 * PG)
		m.status = 0;
	if (fz_chance(16))
		FZ_POISON2(m.flags, m.reserved, &poisoned);
	fz_note(r, FZ_MIGRATE, ioctl(r->fd, HMIRROR_IOC_MIGRATE, &m), poisoned);
}

static void fz_mr_reg(struct fz_run *r)
{
	struct hmirror_mr_reg g = {
		.addr = fz_addr(r),
		.len = fz_chance(8) ? HMIRROR_MR_IMPLICIT_LEN : fz_len(),
		.mode = (uint32_t)fz(3),
		.access = (uint32_t)fz(9),
		.key = fz_chance(2) ? 0 : fz_key(r),
		.flags = fz_chance(4) ? (uint32_t)fz(3) : 0,
	};
	int poisoned = 0;
	long ret;

	if (g.len == HMIRROR_MR_IMPLICIT_LEN && fz_chance(2))
		g.addr = 0;
	if (fz_chance(16))
		fz_poison(g.reserved, sizeof(g.reserved), &poisoned);
	ret = ioctl(r->fd, HMIRROR_IOC_MR_REG, &g);
	fz_note(r, FZ_MR_REG, ret, poisoned);
	if (!ret && r->nr_keys < 8)
		r->keys[r->nr_keys++] = g.key;
	else if (!ret)
		r->keys[fz(8)] = g.key;	/* still registered: STATS counts it */
}

static void fz_mr_dereg(struct fz_run *r)
{
	struct hmirror_mr_dereg d = { .key = fz_key(r) };
	int poisoned = 0;

	if (fz_chance(16))
		FZ_POISON2(d.flags, d.reserved, &poisoned);
	fz_note(r, FZ_MR_DEREG, ioctl(r->fd, HMIRROR_IOC_MR_DEREG, &d),
		poisoned);
}

static void fz_advise(struct fz_run *r)
{
	struct hmirror_mr_advise a = {
		.key = fz_key(r),
		.advice = (uint32_t)fz(7),
		.offset = fz_chance(2) ? fz(FZ_BUF) : fz_addr(r),
		.len = fz_chance(2) ? fz(FZ_BUF) + 1 : fz_len(),
		.flags = (uint32_t)fz(3),
	};
	int poisoned = 0;

	if (fz_chance(16))
		FZ_POISON2(a.pad, a.reserved, &poisoned);
	fz_note(r, FZ_MR_ADVISE, ioctl(r->fd, HMIRROR_IOC_MR_ADVISE, &a),
		poisoned);
}

static void fz_misc(struct fz_run *r)
{
	struct hmirror_event ev[4];
	struct hmirror_stats st = { .size = sizeof(st) };
	struct hmirror_info info = { 0 };
	int poisoned = 0;

	switch (fz(4)) {
	case 0:
		if (fz_chance(8))
			fz_poison(&info.reserved, sizeof(info.reserved),
				  &poisoned);
		fz_note(r, FZ_GET_INFO, ioctl(r->fd, HMIRROR_IOC_GET_INFO,
					      &info), poisoned);
		break;
	case 1:
		st.size = fz_chance(4) ? (uint32_t)fz(1024) : sizeof(st);
		fz_note(r, FZ_STATS, ioctl(r->fd, HMIRROR_IOC_STATS,
					   fz_chance(32) ? (void *)(uintptr_t)KADDR :
					   (void *)&st), 0);
		break;
	case 2:
		fz_note(r, FZ_READ, read(r->fd, ev, fz(sizeof(ev) + 1)), 0);
		break;
	default:
		fz_note(r, FZ_BOGUS, ioctl(r->fd, _IOC(fz(4), HMIRROR_IOC_MAGIC,
						       0x09 + fz(200), fz(64)),
					   r->buf), 0);
	}
}

/*
 * Close the context after checking it kept count: every successful
 * SUBMIT is in jobs_submitted, and it is still usable if it is alive.
 */
static void fz_ctx_close(struct fz_run *r)
{
	struct hmirror_stats st;

	hm_stats(r->fd, &st);
	assert_int_equal(st.jobs_submitted, r->submitted);
	close(r->fd);
	r->fd = -1;
}

static void fz_ctx_open(struct fz_run *r)
{
	struct hmirror_ctx_config c = {
		.set = HMIRROR_CFG_POLICY | HMIRROR_CFG_DEADLINE,
		.policy = HMIRROR_POLICY_REVOKE,
		.deadline_ms = 20,
	};

	r->fd = hm_open(r->ctxs % 2, r->ctxs % 3 == 2 ? HMIRROR_PREEMPT_NONE :
				     HMIRROR_PREEMPT_PAGE);
	assert_int_equal(fcntl(r->fd, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(hm_config(r->fd, &c), 0);
	r->ctxs++;
	r->submitted = 0;
	r->nr_keys = 0;
	memset(r->fences, 0, sizeof(r->fences));
}

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static void fz_table(const struct fz_run *r)
{
	char line[1024];
	size_t n;

	for (unsigned int i = 0; i < FZ_NR; i++) {
		n = snprintf(line, sizeof(line), "# %-11s", fz_name[i]);
		for (unsigned int e = 0; e < FZ_MAX_ERRNO && n < sizeof(line); e++)
			if (r->count[i][e])
				n += snprintf(line + n, sizeof(line) - n, " %s:%lu",
					      e ? strerrorname_np(e) : "ok",
					      r->count[i][e]);
		printf("%s\n", line);
	}
}

/*
 * The fuzzer: every ioctl with fields drawn from interesting and random
 * values, against a few mapped, read-only, PROT_NONE and unmapped pages,
 * with the CPU changing that memory under it (munmap, mprotect, DONTNEED)
 * and contexts opened and closed. It fails on an errno the uAPI does not
 * document for the call, on a reserved field not refused, on a context
 * whose STATS lost count, and (the suite's teardown) on anything left
 * behind; the kernel's own reports fail the VM run.
 */
static void test_fuzz(void **state)
{
	unsigned long seed = env_ul("HMIRROR_FUZZ_SEED", 1);
	unsigned long iters = env_ul("HMIRROR_FUZZ_ITERS", 20000), i;
	struct fz_run *r = calloc(1, sizeof(*r));
	uint8_t *pages;

	(void)state;
	assert_non_null(r);
	fz_state = seed * 0x9e3779b97f4a7c15ULL + 1;
	r->buf = hm_map_aligned(FZ_BUF, 0);
	memset(r->buf, 0x5a, FZ_BUF);
	pages = hm_map(4 * PG);
	r->ro = pages;
	r->none = pages + PG;
	r->hole = pages + 2 * PG;
	r->flag = (uint64_t *)(pages + 3 * PG);
	assert_int_equal(mprotect(r->ro, PG, PROT_READ), 0);
	assert_int_equal(mprotect(r->none, PG, PROT_NONE), 0);
	assert_int_equal(munmap(r->hole, PG), 0);
	fz_ctx_open(r);

	for (i = 0; i < iters; i++) {
		switch (fz(20)) {
		case 0 ... 6: fz_submit(r); break;
		case 7 ... 8: fz_wait(r); break;
		case 9: fz_config(r); break;
		case 10: fz_migrate(r); break;
		case 11 ... 12: fz_mr_reg(r); break;
		case 13: fz_mr_dereg(r); break;
		case 14 ... 15: fz_advise(r); break;
		case 16: fz_misc(r); break;
		case 17:
			/* The CPU changes the memory under it. */
			switch (fz(4)) {
			case 0:
				madvise(r->buf + fz(FZ_BUF / PG) * PG,
					fz(64) * PG, MADV_DONTNEED);
				break;
			case 1:
				mprotect(r->buf + fz(FZ_BUF / PG) * PG, PG,
					 PROT_READ);
				break;
			case 2:
				mprotect(r->buf, FZ_BUF, PROT_READ | PROT_WRITE);
				break;
			default:
				(*r->flag)++;
			}
			break;
		case 18:
			if (fz_chance(20)) {
				fz_ctx_close(r);
				fz_ctx_open(r);
			}
			break;
		default:
			fz_misc(r);
		}
	}
	fz_ctx_close(r);
	printf("# fuzz: seed %lu, %lu calls on %u contexts, errnos by call:\n",
	       seed, iters, r->ctxs);
	fz_table(r);
	printf("# fuzz: %lu calls with a reserved field set, %lu refused\n",
	       r->poisoned, r->poison_ok);
	assert_int_equal(r->unexpected, 0);
	assert_int_equal(r->poison_ok, r->poisoned);
	/* It really reached the kernel's paths, not only its checks. */
	assert_true(r->count[FZ_SUBMIT][0] > 0);
	assert_true(r->count[FZ_MR_REG][0] > 0);
	assert_true(r->count[FZ_SUBMIT][EFAULT] > 0);
	assert_true(r->count[FZ_SUBMIT][EINVAL] > 0);

	/* After all that, a fresh context works. */
	{
		int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
		struct hmirror_cmd c;

		assert_int_equal(mprotect(r->buf, FZ_BUF, PROT_READ | PROT_WRITE), 0);
		memset(r->buf, 3, 2 * PG);
		c = hm_copy(r->buf + 2 * PG, r->buf, 2 * PG);
		assert_int_equal(hm_run(fd, &c, 1), 0);
		assert_int_equal(memcmp(r->buf, r->buf + 2 * PG, 2 * PG), 0);
		close(fd);
	}
	munmap(r->buf, FZ_BUF);
	munmap(pages, 4 * PG);
	free(r);
}

/* ---- explicit cases --------------------------------------------------- */

/*
 * Kernel and non-canonical addresses, in every field that takes an
 * address: refused, with nothing run or registered.
 */
static void test_kernel_addresses(void **state)
{
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint8_t *buf = hm_map(PG);
	static const uint64_t bad[] = { KADDR, NONCANON, ~0ULL - PG + 1 };
	struct hmirror_stats st0, st;

	(void)state;
	memset(buf, 0, PG);
	hm_stats(fd, &st0);
	for (unsigned int i = 0; i < 3; i++) {
		struct hmirror_cmd c = hm_copy(buf, (void *)(uintptr_t)bad[i], 8);
		struct hmirror_submit s = { .cmds = bad[i], .nr_cmds = 1 };
		struct hmirror_migrate m = { .addr = bad[i] & ~(PG - 1),
					     .len = PG };
		struct hmirror_mr_reg g = { .addr = bad[i], .len = PG,
					    .access = RW };

		assert_int_equal(hm_submit(fd, &c, 1, NULL), -EFAULT);
		c = hm_copy((void *)(uintptr_t)bad[i], buf, 8);
		assert_int_equal(hm_submit(fd, &c, 1, NULL), -EFAULT);
		assert_int_equal(ioctl(fd, HMIRROR_IOC_SUBMIT, &s), -1);
		assert_int_equal(errno, EFAULT);
		assert_int_equal(ioctl(fd, HMIRROR_IOC_MIGRATE, &m), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(ioctl(fd, HMIRROR_IOC_MR_REG, &g), -1);
		assert_int_equal(errno, EINVAL);
		g.mode = HMIRROR_MR_PINNED;
		assert_int_equal(ioctl(fd, HMIRROR_IOC_MR_REG, &g), -1);
		assert_int_equal(errno, EINVAL);
		/* The argument itself in kernel memory. */
		assert_int_equal(ioctl(fd, HMIRROR_IOC_STATS, (void *)(uintptr_t)bad[i]), -1);
		assert_int_equal(errno, EFAULT);
		assert_int_equal(ioctl(fd, HMIRROR_IOC_WAIT, (void *)(uintptr_t)bad[i]), -1);
		assert_int_equal(errno, EFAULT);
		assert_int_equal(read(fd, (void *)(uintptr_t)bad[i], 32), -1);
		assert_true(errno == EFAULT || errno == EAGAIN);
	}
	hm_stats(fd, &st);
	assert_int_equal(st.jobs_submitted, st0.jobs_submitted);
	assert_int_equal(st.mrs, 0);
	assert_int_equal(st.ranges, st0.ranges);
	close(fd);
	munmap(buf, PG);
}

/* Ranges that wrap around the address space, in every call that takes one. */
static void test_overflow(void **state)
{
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint8_t *buf = hm_map(2 * PG);
	uint64_t top = ~0ULL - PG + 1;
	struct hmirror_cmd c;
	uint32_t key;

	(void)state;
	c = hm_copy(buf, (void *)(uintptr_t)top, 2 * PG);
	assert_true(hm_submit(fd, &c, 1, NULL) == -EINVAL ||
		    hm_submit(fd, &c, 1, NULL) == -EFAULT);
	c = hm_copy(buf, buf, ~0ULL);
	assert_int_equal(hm_submit(fd, &c, 1, NULL), -EINVAL);
	c = hm_fill(buf + PG, 1, ~0ULL - (uintptr_t)buf);
	assert_true(hm_submit(fd, &c, 1, NULL) == -EINVAL ||
		    hm_submit(fd, &c, 1, NULL) == -EFAULT);
	{
		struct hmirror_migrate m = { .addr = (uintptr_t)buf,
					     .len = ~0ULL & ~(PG - 1) };

		assert_int_equal(ioctl(fd, HMIRROR_IOC_MIGRATE, &m), -1);
		assert_int_equal(errno, EINVAL);
	}
	{
		struct hmirror_mr_reg g = { .addr = (uintptr_t)buf,
					    .len = ~0ULL - 1, .access = RW };

		assert_int_equal(ioctl(fd, HMIRROR_IOC_MR_REG, &g), -1);
		assert_int_equal(errno, EINVAL);
		g.len = 2 * PG;
		assert_int_equal(ioctl(fd, HMIRROR_IOC_MR_REG, &g), 0);
		key = g.key;
	}
	{
		struct hmirror_mr_advise a = { .key = key, .offset = PG,
					       .len = ~0ULL };

		assert_int_equal(ioctl(fd, HMIRROR_IOC_MR_ADVISE, &a), -1);
		assert_int_equal(errno, EINVAL);
		a.offset = ~0ULL;
		a.len = 2;
		assert_int_equal(ioctl(fd, HMIRROR_IOC_MR_ADVISE, &a), -1);
		assert_int_equal(errno, EINVAL);
	}
	c = (struct hmirror_cmd){ .op = HMIRROR_OP_COPY, .dst = (uintptr_t)buf,
		.src = ~0ULL, .len = 2, .flags = HMIRROR_CMD_F_SRC_KEY,
		.src_key = key };
	assert_int_equal(hm_submit(fd, &c, 1, NULL), -EINVAL);
	close(fd);
	munmap(buf, 2 * PG);
}

/* Every reserved field and pad of every structure, one byte at a time. */
static void test_reserved_fields(void **state)
{
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint8_t *buf = hm_map(PG);
	struct hmirror_cmd c = hm_fill(buf, 1, 8);
	struct hmirror_stats st0, st;
	unsigned int i;

	(void)state;
	hm_stats(fd, &st0);
#define HM_POKE(type, ioc, init, field)					\
	for (i = 0; i < sizeof(((type *)0)->field); i++) {		\
		type v = init;						\
		((uint8_t *)&v.field)[i] = 1;				\
		assert_int_equal(ioctl(fd, ioc, &v), -1);		\
		assert_int_equal(errno, EINVAL);			\
	}
	HM_POKE(struct hmirror_submit, HMIRROR_IOC_SUBMIT,
		((struct hmirror_submit){ .cmds = (uintptr_t)&c, .nr_cmds = 1 }),
		flags);
	HM_POKE(struct hmirror_submit, HMIRROR_IOC_SUBMIT,
		((struct hmirror_submit){ .cmds = (uintptr_t)&c, .nr_cmds = 1 }),
		pad);
	HM_POKE(struct hmirror_submit, HMIRROR_IOC_SUBMIT,
		((struct hmirror_submit){ .cmds = (uintptr_t)&c, .nr_cmds = 1 }),
		reserved);
	HM_POKE(struct hmirror_wait, HMIRROR_IOC_WAIT,
		((struct hmirror_wait){ 0 }), pad);
	HM_POKE(struct hmirror_wait, HMIRROR_IOC_WAIT,
		((struct hmirror_wait){ 0 }), reserved);
	HM_POKE(struct hmirror_ctx_config, HMIRROR_IOC_CONFIG,
		((struct hmirror_ctx_config){ 0 }), pad);
	HM_POKE(struct hmirror_ctx_config, HMIRROR_IOC_CONFIG,
		((struct hmirror_ctx_config){ 0 }), reserved);
	HM_POKE(struct hmirror_info, HMIRROR_IOC_GET_INFO,
		((struct hmirror_info){ 0 }), reserved);
	HM_POKE(struct hmirror_migrate, HMIRROR_IOC_MIGRATE,
		((struct hmirror_migrate){ .addr = (uintptr_t)buf, .len = PG }),
		flags);
	HM_POKE(struct hmirror_migrate, HMIRROR_IOC_MIGRATE,
		((struct hmirror_migrate){ .addr = (uintptr_t)buf, .len = PG }),
		reserved);
	HM_POKE(struct hmirror_mr_reg, HMIRROR_IOC_MR_REG,
		((struct hmirror_mr_reg){ .addr = (uintptr_t)buf, .len = PG,
					  .access = RW }), reserved);
	HM_POKE(struct hmirror_mr_dereg, HMIRROR_IOC_MR_DEREG,
		((struct hmirror_mr_dereg){ .key = 1 }), flags);
	HM_POKE(struct hmirror_mr_dereg, HMIRROR_IOC_MR_DEREG,
		((struct hmirror_mr_dereg){ .key = 1 }), reserved);
	HM_POKE(struct hmirror_mr_advise, HMIRROR_IOC_MR_ADVISE,
		((struct hmirror_mr_advise){ .key = 1, .len = PG }), pad);
	HM_POKE(struct hmirror_mr_advise, HMIRROR_IOC_MR_ADVISE,
		((struct hmirror_mr_advise){ .key = 1, .len = PG }), reserved);
#undef HM_POKE
	/* Fields a command does not use. */
	c.aux = 1;
	assert_int_equal(hm_submit(fd, &c, 1, NULL), -EINVAL);
	c = hm_fill(buf, 1, 8);
	c.src = (uintptr_t)buf;
	assert_int_equal(hm_submit(fd, &c, 1, NULL), -EINVAL);
	hm_stats(fd, &st);
	assert_int_equal(st.jobs_submitted, st0.jobs_submitted);
	assert_int_equal(st.mrs, 0);
	assert_int_equal(buf[0], 0);
	close(fd);
	munmap(buf, PG);
}

/* Command counts and strides past every bound. */
static void test_huge_counts(void **state)
{
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_info info = { 0 };
	struct hmirror_cmd *cmds;
	uint8_t *buf = hm_map(PG);
	struct hmirror_submit s;
	unsigned int n;

	(void)state;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, &info), 0);
	n = info.max_cmds + 1;
	cmds = calloc(n, sizeof(*cmds));
	assert_non_null(cmds);
	for (unsigned int i = 0; i < n; i++)
		cmds[i] = hm_fill(buf, 1, 8);
	s = (struct hmirror_submit){ .cmds = (uintptr_t)cmds, .nr_cmds = n };
	assert_int_equal(ioctl(fd, HMIRROR_IOC_SUBMIT, &s), -1);
	assert_int_equal(errno, EINVAL);
	s.nr_cmds = 0xffffffff;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_SUBMIT, &s), -1);
	assert_int_equal(errno, EINVAL);
	s.nr_cmds = 0;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_SUBMIT, &s), -1);
	assert_int_equal(errno, EINVAL);
	s.nr_cmds = info.max_cmds;
	s.cmd_size = 0xffffffff;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_SUBMIT, &s), -1);
	assert_int_equal(errno, EINVAL);
	/* At the 48-byte stride of before, these are no valid commands. */
	s.cmd_size = HMIRROR_CMD_SIZE_V1;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_SUBMIT, &s), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(buf[0], 0);
	s.cmd_size = sizeof(*cmds);
	assert_int_equal(ioctl(fd, HMIRROR_IOC_SUBMIT, &s), 0);
	{
		int status;

		assert_int_equal(hm_wait(fd, s.fence, 10000000000ULL, &status), 0);
		assert_int_equal(status, 0);
	}
	assert_int_equal(buf[0], 1);
	/* A footprint past max_job_bytes. */
	cmds[0] = hm_copy(buf, buf, info.max_job_bytes);
	assert_int_equal(hm_submit(fd, cmds, 1, NULL), -E2BIG);
	free(cmds);
	close(fd);
	munmap(buf, PG);
}

/*
 * The context outlives its owner: a child that inherited the descriptor,
 * and a process it was passed to, get -EACCES and change nothing, and
 * their close frees it.
 */
static void test_owner_died(void **state)
{
	int sv[2], status;
	pid_t owner, holder;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	holder = fork();
	assert_true(holder >= 0);
	if (holder == 0) {
		struct hmirror_stats st = { .size = sizeof(st) };
		char b;
		uint64_t v = 0;
		struct hmirror_cmd c = hm_write_value(&v, 1);
		struct pollfd p;
		int fd;

		close(sv[0]);
		fd = hm_recv_fd(sv[1]);
		if (fd < 0)
			_exit(10);
		/* The owner is gone by now (it exits after sending). */
		if (read(sv[1], &b, 1) != 0)
			_exit(11);
		if (hm_submit(fd, &c, 1, NULL) != -EACCES)
			_exit(12);
		if (ioctl(fd, HMIRROR_IOC_STATS, &st) == 0 || errno != EACCES)
			_exit(13);
		if (read(fd, &st, 32) != -1 || errno != EACCES)
			_exit(14);
		/* Nothing to wait for: poll answers at once. */
		p = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 0) < 0)
			_exit(15);
		if (close(fd))
			_exit(16);
		_exit(v == 0 ? 0 : 17);
	}
	owner = fork();
	assert_true(owner >= 0);
	if (owner == 0) {
		uint8_t *buf = hm_map(PG);
		struct hmirror_cmd c = hm_fill(buf, 1, PG);
		int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);

		close(sv[1]);
		if (hm_run(fd, &c, 1))
			_exit(20);
		if (hm_send_fd(sv[0], fd))
			_exit(21);
		_exit(0);	/* the socket closes with it */
	}
	close(sv[0]);
	close(sv[1]);
	assert_int_equal(waitpid(owner, &status, 0), owner);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(waitpid(holder, &status, 0), holder);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The suite's teardown checks that nothing is left. */
}

struct racer {
	int fd;
	uint8_t *buf;
	volatile int stop;
	unsigned long ok, badf;
};

static void *racer_fn(void *arg)
{
	struct racer *r = arg;
	struct hmirror_cmd c = hm_fill(r->buf, 7, 64 * 1024);
	uint64_t fence = 0;
	int ret, status;

	while (!r->stop) {
		ret = hm_submit(r->fd, &c, 1, &fence);
		if (ret == -EBADF) {
			r->badf++;
			break;
		}
		if (!ret)
			r->ok++;
		if (!ret && hm_wait(r->fd, fence, 1000000, &status) == -EBADF) {
			r->badf++;
			break;
		}
	}
	return NULL;
}

/*
 * close() racing with submit and wait on other threads, many times: the
 * file lives until their calls return, they then get -EBADF, and the
 * context is freed with nothing left (the teardown's object count).
 */
static void test_close_races(void **state)
{
	uint8_t *buf = hm_map(64 * 1024);
	unsigned long ok = 0;

	(void)state;
	for (int round = 0; round < 40; round++) {
		struct racer r = { .fd = hm_open(round % 2, round % 3 ?
						 HMIRROR_PREEMPT_PAGE :
						 HMIRROR_PREEMPT_NONE),
				   .buf = buf };
		pthread_t t[2];

		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&t[i], NULL, racer_fn, &r), 0);
		usleep(1000 + (round % 7) * 700);
		assert_int_equal(close(r.fd), 0);
		usleep(2000);
		r.stop = 1;
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_join(t[i], NULL), 0);
		ok += r.ok;
	}
	assert_true(ok > 0);
	munmap(buf, 64 * 1024);
}

/*
 * fork plus exec: the new program inherits the descriptor (no
 * O_CLOEXEC) but has another mm, so every call is -EACCES; the parent's
 * context keeps working.
 */
static void test_fork_exec(void **state)
{
	char path[64], arg[32];
	int fd, status;
	pid_t pid;

	(void)state;
	fd = open("/dev/hmirror0", O_RDWR);
	assert_true(fd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		snprintf(path, sizeof(path), "/proc/self/exe");
		snprintf(arg, sizeof(arg), "%d", fd);
		execl(path, path, "--exec-child", arg, (char *)NULL);
		_exit(99);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	{
		uint8_t *buf = hm_map(PG);
		struct hmirror_cmd c = hm_fill(buf, 9, PG);

		assert_int_equal(hm_run(fd, &c, 1), 0);
		assert_int_equal(buf[PG - 1], 9);
		munmap(buf, PG);
	}
	close(fd);
}

/* The exec'd side of test_fork_exec. */
static int exec_child(int fd)
{
	struct hmirror_stats st = { .size = sizeof(st) };
	uint64_t v = 0;
	struct hmirror_cmd c = hm_write_value(&v, 1);
	struct hmirror_submit s = { .cmds = (uintptr_t)&c, .nr_cmds = 1 };

	if (ioctl(fd, HMIRROR_IOC_SUBMIT, &s) == 0 || errno != EACCES)
		return 1;
	if (ioctl(fd, HMIRROR_IOC_STATS, &st) == 0 || errno != EACCES)
		return 2;
	if (read(fd, &st, 32) != -1 || errno != EACCES)
		return 3;
	return v ? 4 : 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_addresses),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_reserved_fields),
		cmocka_unit_test(test_huge_counts),
		cmocka_unit_test(test_owner_died),
		cmocka_unit_test(test_close_races),
		cmocka_unit_test(test_fork_exec),
		cmocka_unit_test(test_fuzz),
	};

	if (argc == 3 && !strcmp(argv[1], "--exec-child"))
		return exec_child(atoi(argv[2]));
	guest_suite_setup();
	return cmocka_run_group_tests_name("hostile", tests, hm_suite_up,
					   hm_suite_down);
}
