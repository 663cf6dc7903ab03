// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libhmirror: opening contexts and talking to the hmirror char devices.
 *
 * No global or static mutable state: the only static data are constant
 * tables. Every entry point saves errno and restores it before returning,
 * so that errno is never part of a result.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strerrordesc_np() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hmirror.h"

struct hmirror {
	int fd;
	struct hmirror_info info;
};

int hmirror_dev_path(unsigned int index, char *buf, size_t len)
{
	int n;

	if (!buf)
		return -EINVAL;
	n = snprintf(buf, len, "/dev/" HMIRROR_DEV_PREFIX "%u", index);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* ioctl() as 0 / -errno, leaving errno as it found it. */
static int hm_ioctl(int fd, unsigned long req, void *arg)
{
	int saved = errno, ret = 0;

	if (ioctl(fd, req, arg) < 0)
		ret = -errno;
	errno = saved;
	return ret;
}

static int hmirror_query(int fd, struct hmirror_info *info)
{
	int ret;

	memset(info, 0, sizeof(*info));
	ret = hm_ioctl(fd, HMIRROR_IOC_GET_INFO, info);
	/* Any other driver's node answers with ENOTTY or EINVAL. */
	return ret == -EINVAL ? -ENOTTY : ret;
}

int hmirror_open_path(const char *path, struct hmirror **out)
{
	struct hmirror *h;
	int saved = errno;
	int ret;

	if (!path || !out)
		return -EINVAL;

	h = calloc(1, sizeof(*h));
	if (!h) {
		errno = saved;
		return -ENOMEM;
	}

	h->fd = open(path, O_RDWR | O_CLOEXEC);
	if (h->fd < 0) {
		ret = -errno;
		goto err_free;
	}

	ret = hmirror_query(h->fd, &h->info);
	if (ret)
		goto err_close;
	if (h->info.abi_version != HMIRROR_ABI_VERSION) {
		ret = -EPROTO;
		goto err_close;
	}

	*out = h;
	errno = saved;
	return 0;

err_close:
	close(h->fd);
err_free:
	free(h);
	errno = saved;
	return ret;
}

int hmirror_open(unsigned int index, struct hmirror **out)
{
	char path[64];
	int ret;

	ret = hmirror_dev_path(index, path, sizeof(path));
	if (ret)
		return ret;
	return hmirror_open_path(path, out);
}

void hmirror_close(struct hmirror *h)
{
	int saved = errno;

	if (!h)
		return;
	close(h->fd);
	free(h);
	errno = saved;
}

int hmirror_fd(const struct hmirror *h)
{
	return h ? h->fd : -EINVAL;
}

int hmirror_get_info(struct hmirror *h, struct hmirror_info *info)
{
	struct hmirror_info tmp;
	int ret;

	if (!h || !info)
		return -EINVAL;
	/* Into a local: the handle stays unchanged after open, for threads. */
	ret = hmirror_query(h->fd, &tmp);
	if (ret)
		return ret;
	*info = tmp;
	return 0;
}

/* ---- context configuration ---------------------------------------------- */

static int check_config(const struct hmirror_ctx_config *cfg)
{
	if (cfg->set & ~HMIRROR_CFG_ALL)
		return -EINVAL;
	if ((cfg->set & HMIRROR_CFG_PREEMPT) &&
	    cfg->preempt != HMIRROR_PREEMPT_PAGE &&
	    cfg->preempt != HMIRROR_PREEMPT_NONE)
		return -EINVAL;
	if ((cfg->set & HMIRROR_CFG_DEADLINE) &&
	    (cfg->deadline_ms < HMIRROR_DEADLINE_MIN_MS ||
	     cfg->deadline_ms > HMIRROR_DEADLINE_MAX_MS))
		return -EINVAL;
	if ((cfg->set & HMIRROR_CFG_POLICY) &&
	    cfg->policy != HMIRROR_POLICY_KILL &&
	    cfg->policy != HMIRROR_POLICY_REVOKE)
		return -EINVAL;
	if ((cfg->set & HMIRROR_CFG_EVENTFD) && cfg->eventfd < -1)
		return -EINVAL;
	return 0;
}

int hmirror_config_set(struct hmirror *h, struct hmirror_ctx_config *cfg)
{
	struct hmirror_ctx_config k;
	int ret;

	if (!h || !cfg)
		return -EINVAL;
	ret = check_config(cfg);
	if (ret)
		return ret;

	/* Only the named fields travel; everything else is zero. */
	memset(&k, 0, sizeof(k));
	k.set = cfg->set;
	if (k.set & HMIRROR_CFG_PREEMPT)
		k.preempt = cfg->preempt;
	if (k.set & HMIRROR_CFG_DEADLINE)
		k.deadline_ms = cfg->deadline_ms;
	if (k.set & HMIRROR_CFG_POLICY)
		k.policy = cfg->policy;
	if (k.set & HMIRROR_CFG_EVENTFD)
		k.eventfd = cfg->eventfd;

	ret = hm_ioctl(h->fd, HMIRROR_IOC_CONFIG, &k);
	if (ret)
		return ret;
	*cfg = k;
	return 0;
}

int hmirror_config_get(struct hmirror *h, struct hmirror_ctx_config *out)
{
	struct hmirror_ctx_config cfg = { .set = 0 };
	int ret;

	if (!h || !out)
		return -EINVAL;
	ret = hmirror_config_set(h, &cfg);
	if (ret)
		return ret;
	*out = cfg;
	return 0;
}

int hmirror_set_preempt(struct hmirror *h, unsigned int cls)
{
	struct hmirror_ctx_config cfg = {
		.set = HMIRROR_CFG_PREEMPT, .preempt = cls,
	};

	return hmirror_config_set(h, &cfg);
}

int hmirror_set_deadline(struct hmirror *h, unsigned int ms)
{
	struct hmirror_ctx_config cfg = {
		.set = HMIRROR_CFG_DEADLINE, .deadline_ms = ms,
	};

	return hmirror_config_set(h, &cfg);
}

int hmirror_set_policy(struct hmirror *h, unsigned int policy)
{
	struct hmirror_ctx_config cfg = {
		.set = HMIRROR_CFG_POLICY, .policy = policy,
	};

	return hmirror_config_set(h, &cfg);
}

int hmirror_set_eventfd(struct hmirror *h, int fd)
{
	struct hmirror_ctx_config cfg = {
		.set = HMIRROR_CFG_EVENTFD, .eventfd = fd,
	};

	return hmirror_config_set(h, &cfg);
}

/* ---- building jobs ------------------------------------------------------- */

int hmirror_job_init(struct hmirror_job *job, struct hmirror_cmd *storage,
		     unsigned int capacity)
{
	if (!job || !storage || !capacity)
		return -EINVAL;
	job->cmds = storage;
	job->nr_cmds = 0;
	job->capacity = capacity;
	return 0;
}

void hmirror_job_reset(struct hmirror_job *job)
{
	if (job)
		job->nr_cmds = 0;
}

static inline __u64 uaddr(const void *p)
{
	return (__u64)(uintptr_t)p;
}

static inline int misaligned(const void *p, uintptr_t align)
{
	return ((uintptr_t)p & (align - 1)) != 0;
}

/*
 * Appends @cmd; every builder below starts from a zeroed command, so fields
 * a command does not use are zero as the uAPI requires.
 */
static int job_push(struct hmirror_job *job, const struct hmirror_cmd *cmd)
{
	if (!job || !job->cmds)
		return -EINVAL;
	if (job->nr_cmds >= job->capacity)
		return -ENOSPC;
	job->cmds[job->nr_cmds++] = *cmd;
	return 0;
}

int hmirror_job_add_cmd(struct hmirror_job *job, const struct hmirror_cmd *cmd)
{
	if (!cmd)
		return -EINVAL;
	return job_push(job, cmd);
}

int hmirror_job_copy(struct hmirror_job *job, void *dst, const void *src,
		     size_t len)
{
	struct hmirror_cmd c = {
		.op = HMIRROR_OP_COPY,
		.dst = uaddr(dst),
		.src = uaddr(src),
		.len = len,
	};

	return job_push(job, &c);
}

int hmirror_job_fill(struct hmirror_job *job, void *dst, uint8_t byte,
		     size_t len)
{
	struct hmirror_cmd c = {
		.op = HMIRROR_OP_FILL,
		.dst = uaddr(dst),
		.len = len,
		.value = byte,
	};

	return job_push(job, &c);
}

int hmirror_job_crc32c(struct hmirror_job *job, void *result,
		       const void *src, size_t len, uint32_t seed)
{
	struct hmirror_cmd c = {
		.op = HMIRROR_OP_CRC32C,
		.dst = uaddr(result),
		.src = uaddr(src),
		.len = len,
		.value = seed,
	};

	if (misaligned(result, 4))
		return -EINVAL;
	return job_push(job, &c);
}

int hmirror_job_atomic_add(struct hmirror_job *job, void *addr,
			   uint64_t addend)
{
	struct hmirror_cmd c = {
		.op = HMIRROR_OP_ATOMIC_ADD,
		.dst = uaddr(addr),
		.value = addend,
	};

	if (misaligned(addr, 8))
		return -EINVAL;
	return job_push(job, &c);
}

int hmirror_job_write_value(struct hmirror_job *job, void *addr,
			    uint64_t value)
{
	struct hmirror_cmd c = {
		.op = HMIRROR_OP_WRITE_VALUE,
		.dst = uaddr(addr),
		.value = value,
	};

	if (misaligned(addr, 8))
		return -EINVAL;
	return job_push(job, &c);
}

int hmirror_job_wait_value(struct hmirror_job *job, const void *addr,
			   uint64_t value, uint64_t timeout_us)
{
	struct hmirror_cmd c = {
		.op = HMIRROR_OP_WAIT_VALUE,
		.src = uaddr(addr),
		.value = value,
		.aux = timeout_us,
	};

	if (misaligned(addr, 8))
		return -EINVAL;
	return job_push(job, &c);
}

int hmirror_job_delay(struct hmirror_job *job, uint32_t us)
{
	struct hmirror_cmd c = {
		.op = HMIRROR_OP_DELAY,
		.aux = us,
	};

	if (us > HMIRROR_DELAY_MAX_US)
		return -EINVAL;
	return job_push(job, &c);
}

int hmirror_job_migrate(struct hmirror_job *job, void *addr, size_t len,
			unsigned int target, uint64_t *moved)
{
	struct hmirror_cmd c = {
		.op = HMIRROR_OP_MIGRATE,
		.dst = uaddr(moved),
		.src = uaddr(addr),
		.len = len,
		.value = target,
	};
	long page = sysconf(_SC_PAGESIZE);

	if (page <= 0 || !len || misaligned(addr, (size_t)page) ||
	    len % (size_t)page || misaligned(moved, 8) ||
	    target > HMIRROR_MIGRATE_TO_DEVICE)
		return -EINVAL;
	return job_push(job, &c);
}

int hmirror_job_set_flags(struct hmirror_job *job, uint32_t flags)
{
	struct hmirror_cmd *c;

	if (!job || !job->cmds || !job->nr_cmds)
		return -EINVAL;
	c = &job->cmds[job->nr_cmds - 1];
	/* Region keys come with hmirror_job_use_keys(), which sets theirs. */
	if (flags & ~(uint32_t)HMIRROR_CMD_F_EXCLUSIVE)
		return -EINVAL;
	if ((flags & HMIRROR_CMD_F_EXCLUSIVE) &&
	    c->op != HMIRROR_OP_ATOMIC_ADD && c->op != HMIRROR_OP_WRITE_VALUE)
		return -EINVAL;
	c->flags = (c->flags & (HMIRROR_CMD_F_DST_KEY | HMIRROR_CMD_F_SRC_KEY)) |
		   flags;
	return 0;
}

/* ---- running jobs -------------------------------------------------------- */

int hmirror_submit(struct hmirror *h, const struct hmirror_job *job,
		   uint64_t *fence)
{
	struct hmirror_submit s;
	int ret;

	if (!h || !job || !job->cmds)
		return -EINVAL;
	memset(&s, 0, sizeof(s));
	s.cmds = uaddr(job->cmds);
	s.nr_cmds = job->nr_cmds;
	s.cmd_size = sizeof(*job->cmds);
	ret = hm_ioctl(h->fd, HMIRROR_IOC_SUBMIT, &s);
	if (ret)
		return ret;
	if (fence)
		*fence = s.fence;
	return 0;
}

int hmirror_wait(struct hmirror *h, uint64_t fence, uint64_t timeout_ns,
		 int *status)
{
	struct hmirror_wait w;
	int ret;

	if (!h)
		return -EINVAL;
	memset(&w, 0, sizeof(w));
	w.fence = fence;
	w.timeout_ns = timeout_ns;
	ret = hm_ioctl(h->fd, HMIRROR_IOC_WAIT, &w);
	if (ret)
		return ret;
	if (status)
		*status = w.status;
	return 0;
}

/* ---- statistics ---------------------------------------------------------- */

int hmirror_stats(struct hmirror *h, struct hmirror_stats *out)
{
	struct hmirror_stats st;
	int ret;

	if (!h || !out)
		return -EINVAL;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	ret = hm_ioctl(h->fd, HMIRROR_IOC_STATS, &st);
	if (ret)
		return ret;
	/* A kernel that reports more than it was given broke the contract. */
	if (st.size > sizeof(st))
		return -EPROTO;
	*out = st;
	return 0;
}

int hmirror_migrate(struct hmirror *h, void *addr, size_t len,
		    unsigned int target, int32_t *status, uint64_t *moved,
		    uint64_t *failed)
{
	struct hmirror_migrate m = {
		.addr = (uintptr_t)addr,
		.len = len,
		.target = target,
		.status = (uintptr_t)status,
	};
	int ret;

	if (!h)
		return -EINVAL;
	ret = hm_ioctl(h->fd, HMIRROR_IOC_MIGRATE, &m);
	if (ret)
		return ret;
	if (moved)
		*moved = m.moved;
	if (failed)
		*failed = m.failed;
	return 0;
}

/* ---- fault injection ------------------------------------------------------ */

/* HMIRROR_INJECT_DIR/@site into @buf; -EINVAL unless @site is a plain name. */
static int hm_inject_path(const char *site, char *buf, size_t len)
{
	size_t i, n;

	if (!site)
		return -EINVAL;
	n = strlen(site);
	if (!n || n > 64)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!((site[i] >= 'a' && site[i] <= 'z') ||
		      (site[i] >= '0' && site[i] <= '9') || site[i] == '_'))
			return -EINVAL;
	snprintf(buf, len, HMIRROR_INJECT_DIR "/%s", site);
	return 0;
}

static int hm_inject_check(const struct hmirror_inject_spec *s)
{
	if (s->ppm > HMIRROR_INJECT_PPM_MAX || s->times < -1 || s->dev < -1 ||
	    s->ctx < -1 || s->ctx > UINT32_MAX || s->pid < 0 ||
	    s->delay_ms > 10000)
		return -EINVAL;
	return 0;
}

int hmirror_inject(const char *site, const struct hmirror_inject_spec *spec)
{
	char path[128], buf[256];
	int saved = errno, fd, n, ret;

	ret = hm_inject_path(site, path, sizeof(path));
	if (!ret && spec)
		ret = hm_inject_check(spec);
	if (ret)
		return ret;
	if (spec)
		n = snprintf(buf, sizeof(buf),
			     "ppm=%u interval=%u times=%d space=%u dev=%d ctx=%lld pid=%d seed=%llu delay=%u\n",
			     spec->ppm, spec->interval, spec->times, spec->space,
			     spec->dev, (long long)spec->ctx, spec->pid,
			     (unsigned long long)spec->seed, spec->delay_ms);
	else
		n = snprintf(buf, sizeof(buf), "times=0\n");

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errno = saved;
		return ret;
	}
	/* One write: the kernel takes a setting whole or not at all. */
	errno = 0;
	if (write(fd, buf, n) != n)
		ret = errno ? -errno : -EIO;
	close(fd);
	errno = saved;
	return ret;
}

int hmirror_inject_get(const char *site, struct hmirror_inject_spec *out)
{
	struct hmirror_inject_spec s = { 0 };
	unsigned long long seed, calls, failed;
	char path[128], buf[512];
	int saved = errno, fd, ret;
	long long ctx;
	ssize_t n;

	if (!out)
		return -EINVAL;
	ret = hm_inject_path(site, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		errno = saved;
		return ret;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		ret = -errno;
	close(fd);
	errno = saved;
	if (ret)
		return ret;
	buf[n] = '\0';
	if (sscanf(buf, "ppm=%u interval=%u times=%d space=%u dev=%d ctx=%lld pid=%d seed=%llu delay=%u calls=%llu failed=%llu",
		   &s.ppm, &s.interval, &s.times, &s.space, &s.dev, &ctx,
		   &s.pid, &seed, &s.delay_ms, &calls, &failed) != 11)
		return -EPROTO;
	s.ctx = ctx;
	s.seed = seed;
	s.calls = calls;
	s.failed = failed;
	*out = s;
	return 0;
}

/* ---- memory regions ------------------------------------------------------ */

int hmirror_mr_reg(struct hmirror *h, void *addr, uint64_t len,
		   unsigned int mode, unsigned int access, uint32_t *key)
{
	return hmirror_mr_reg_flags(h, addr, len, mode, access, 0, key);
}

int hmirror_mr_reg_flags(struct hmirror *h, void *addr, uint64_t len,
			 unsigned int mode, unsigned int access,
			 unsigned int flags, uint32_t *key)
{
	struct hmirror_mr_reg r = {
		.addr = (uintptr_t)addr,
		.len = len,
		.mode = mode,
		.access = access,
		.flags = flags,
	};
	int ret;

	if (!h || !key)
		return -EINVAL;
	r.key = *key;
	ret = hm_ioctl(h->fd, HMIRROR_IOC_MR_REG, &r);
	if (ret)
		return ret;
	*key = r.key;
	return 0;
}

int hmirror_mr_dereg(struct hmirror *h, uint32_t key)
{
	struct hmirror_mr_dereg d = { .key = key };

	if (!h)
		return -EINVAL;
	return hm_ioctl(h->fd, HMIRROR_IOC_MR_DEREG, &d);
}

int hmirror_mr_advise(struct hmirror *h, uint32_t key, unsigned int advice,
		      uint64_t offset, uint64_t len, unsigned int flags)
{
	struct hmirror_mr_advise a = {
		.key = key,
		.advice = advice,
		.offset = offset,
		.len = len,
		.flags = flags,
	};

	if (!h)
		return -EINVAL;
	return hm_ioctl(h->fd, HMIRROR_IOC_MR_ADVISE, &a);
}

int hmirror_job_use_keys(struct hmirror_job *job, uint32_t dst_key,
			 uint32_t src_key)
{
	struct hmirror_cmd *c;

	if (!job || !job->cmds || !job->nr_cmds)
		return -EINVAL;
	c = &job->cmds[job->nr_cmds - 1];
	if (dst_key) {
		c->flags |= HMIRROR_CMD_F_DST_KEY;
		c->dst_key = dst_key;
	}
	if (src_key) {
		c->flags |= HMIRROR_CMD_F_SRC_KEY;
		c->src_key = src_key;
	}
	return 0;
}

int hmirror_read_event(struct hmirror *h, struct hmirror_event *ev)
{
	ssize_t n;

	if (!h || !ev)
		return -EINVAL;
	n = read(h->fd, ev, sizeof(*ev));
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*ev) ? 0 : -EIO;
}

/* ---- helpers ------------------------------------------------------------- */

static const struct {
	int err;
	const char *text;
} hmirror_errors[] = {
	{ EACCES, "context used from another process" },
	{ EIO, "context is dead (reset after holding up an invalidation)" },
	{ ECANCELED, "job cancelled: the context was reset" },
	{ ETIME, "timed out (the wait, or a WAIT_VALUE command)" },
	{ ESTALE, "job completed too long ago for its status to be kept" },
	{ EPROTO, "kernel module ABI mismatch" },
	{ ENOTTY, "not an hmirror device (or an ioctl this module lacks)" },
	{ ENOENT, "no such hmirror device (is the module loaded?)" },
	{ EFAULT, "memory not mapped with the access a command needs" },
	{ EBUSY, "busy: no free context on the device, pages that would not move, or a preemption class fixed by a job" },
	{ ENOSPC, "job is full" },
	{ E2BIG, "job footprint larger than the device's max_job_bytes" },
};

const char *hmirror_strerror(int err)
{
	const char *text = NULL;
	size_t i;

	if (err == INT_MIN)
		return "unknown error";
	if (err < 0)
		err = -err;
	if (err == 0)
		return "success";
	for (i = 0; i < sizeof(hmirror_errors) / sizeof(hmirror_errors[0]); i++)
		if (hmirror_errors[i].err == err)
			return hmirror_errors[i].text;
#if defined(__GLIBC__) && \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
	text = strerrordesc_np(err);
#else
	/* No thread-safe strerrordesc_np(): the codes this library meets. */
	static const struct {
		int err;
		const char *text;
	} libc_errors[] = {
		{ EPERM, "Operation not permitted" },
		{ ESRCH, "No such process" },
		{ EINTR, "Interrupted system call" },
		{ ENXIO, "No such device or address" },
		{ E2BIG, "Argument list too long" },
		{ EBADF, "Bad file descriptor" },
		{ EAGAIN, "Resource temporarily unavailable" },
		{ ENOMEM, "Cannot allocate memory" },
		{ EEXIST, "File exists" },
		{ ENODEV, "No such device" },
		{ EINVAL, "Invalid argument" },
		{ EMFILE, "Too many open files" },
		{ ENAMETOOLONG, "File name too long" },
		{ ENOSYS, "Function not implemented" },
		{ EOVERFLOW, "Value too large for defined data type" },
		{ EOPNOTSUPP, "Operation not supported" },
	};

	for (i = 0; i < sizeof(libc_errors) / sizeof(libc_errors[0]); i++)
		if (libc_errors[i].err == err)
			text = libc_errors[i].text;
#endif
	return text ? text : "unknown error";
}

/*
 * CRC32C (Castagnoli), reflected polynomial 0x82F63B78, no inversion: the
 * kernel's crc32c(). Four bits at a time from a constant 16-entry table,
 * entry n being the CRC register after shifting nibble n through it.
 */
uint32_t hmirror_crc32c(uint32_t seed, const void *buf, size_t len)
{
	static const uint32_t nibble[16] = {
		0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1,
		0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
		0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
		0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
	};
	const unsigned char *p = buf;
	uint32_t crc = seed;

	if (!p)
		return seed;
	while (len--) {
		crc ^= *p++;
		crc = (crc >> 4) ^ nibble[crc & 0xf];
		crc = (crc >> 4) ^ nibble[crc & 0xf];
	}
	return crc;
}
