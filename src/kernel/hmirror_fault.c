// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror fault injection: named sites where hmirror can be told to fail.
 */

#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/prandom.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "hmirror_internal.h"

/**
 * DOC: fault injection
 *
 * Every place hmirror can fail has a named site, a debugfs file
 * hmirror/fault/<site>; hmirror/fault/sites lists them, one line each
 * with what a failure there does. The sites work on any kernel, without
 * CONFIG_FAULT_INJECTION, and follow lib/fault-inject.c's semantics,
 * counted per call of the site that passes the filter:
 *
 * - space: that many calls pass first;
 * - interval: then only every interval-th call is a candidate (0 or 1:
 *   every call);
 * - probability: a candidate fails with this probability, drawn from the
 *   site's own PRNG (prandom, seeded with seed when the site is armed);
 * - times: failures left to inject (-1: no limit); 0 is disarmed;
 * - dev, ctx, pid: only calls for device instance dev (-1: any), context
 *   ctx of it (-1: any; context ids are per instance, as in
 *   hmirror<N>/contexts) and contexts owned by process pid (0: any) count.
 *   The sites with no context yet (ctx_alloc, devmem_alloc) match no ctx
 *   filter, and match pid against the calling process.
 * - delay: for the sites that make something slow (engine_stall,
 *   lost_completion, reset_slow, mr_check_slow), how long in ms (0: the
 *   site's default).
 *
 * Writing "key=value ..." (keys as above; probability in percent, or ppm=
 * per million) arms a site with those values, the others at their
 * defaults (probability 100, interval 1, times -1, space 0, no filter,
 * seed 0), and restarts its PRNG and its counters: the same seed and the
 * same workload give the same failures. "SKIP TIMES" (two numbers) is
 * short for "space=SKIP times=TIMES"; "0 0" or "times=0" disarms.
 * Reading gives the settings as they are now (space and times count
 * down) and two counters since the site was last armed: calls that
 * passed the filter, and failures injected.
 *
 * A failure injected anywhere leaves hmirror as a real one would: the
 * caller gets a clean errno, or its job a failed status, and nothing
 * leaks. The kernel's own injection (failslab, fail_page_alloc and, for
 * the functions marked ALLOW_ERROR_INJECTION, fail_function) works on
 * hmirror as well where the kernel has it.
 */

#define HMIRROR_FAULT_PPM	1000000U
#define HMIRROR_FAULT_DELAY_MAX	10000U	/* ms */

/**
 * struct hmirror_fault_spec - the settings of a site, as a write gives them
 * @ppm: probability of a candidate failing, per million
 * @interval: every interval-th call is a candidate
 * @times: failures left (-1: no limit)
 * @space: calls left to pass before any can fail
 * @dev: device instance filter (-1: any)
 * @ctx: context id filter (-1: any)
 * @pid: owner (or caller) pid filter (0: any)
 * @seed: the seed the site's PRNG starts from
 * @delay_ms: delay of a delaying site
 */
struct hmirror_fault_spec {
	u32 ppm;
	u32 interval;
	int times;
	u32 space;
	int dev;
	s64 ctx;
	pid_t pid;
	u64 seed;
	u32 delay_ms;
};

/**
 * struct hmirror_fault - one injection site
 * @name: its debugfs name
 * @what: what a failure there does, for hmirror/fault/sites
 * @def_delay_ms: delay when none is given, for the sites that delay
 * @armed: times != 0, read without the lock on the fast path
 * @lock: protects everything below
 * @set: its settings (@set.times counts down, @set.space too)
 * @rnd: the site's PRNG, started from @set.seed
 * @count: calls past @space, for @interval
 * @calls: calls that passed the filter since armed
 * @failed: failures injected since armed
 */
struct hmirror_fault {
	const char *name;
	const char *what;
	unsigned int def_delay_ms;
	bool armed;
	spinlock_t lock;	/* all below */
	struct hmirror_fault_spec set;
	struct rnd_state rnd;
	u64 count;
	u64 calls;
	u64 failed;
};

#define HMIRROR_FAULT_SITE(_site, _name, _what, _delay)		\
	[_site] = { .name = _name, .what = _what, .def_delay_ms = _delay }

static struct hmirror_fault hmirror_faults[HMIRROR_FAULT_NR] = {
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_CTX_ALLOC, "ctx_alloc",
			   "context allocation fails: open -ENOMEM", 0),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_RANGE_ALLOC, "range_alloc",
			   "mirror range allocation fails: -ENOMEM", 0),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_PTE_ALLOC, "pte_alloc",
			   "PTE array allocation fails: -ENOMEM", 0),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_NOTIFIER_INSERT, "notifier_insert",
			   "mmu_interval_notifier_insert fails: -ENOMEM", 0),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_HMM_BUSY, "hmm_busy",
			   "hmm_range_fault -EBUSY: retried, -EBUSY after 1 s", 0),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_HMM_FAULT, "hmm_fault",
			   "hmm_range_fault -EFAULT: -EFAULT", 0),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_JOB_ALLOC, "job_alloc",
			   "job or footprint allocation fails: submit -ENOMEM", 0),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_DEVMEM_ALLOC, "devmem_alloc",
			   "device memory allocation fails: page stays, -ENOMEM", 0),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_MIGRATE_PAGE, "migrate_page",
			   "migrate_vma leaves a 4 KiB page: page stays, -EBUSY", 0),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_ENGINE_STALL, "engine_stall",
			   "engine step makes no progress for delay ms", 20),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_LOST_COMPLETION, "lost_completion",
			   "completion held until the next kick or delay ms", 100),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_RESET_SLOW, "reset_slow",
			   "context reset acknowledged delay ms late", 50),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_COPY_ERROR, "copy_error",
			   "engine step fails the job: status -EIO", 0),
	HMIRROR_FAULT_SITE(HMIRROR_FAULT_MR_CHECK_SLOW, "mr_check_slow",
			   "pinned region's check after a zap starts delay ms late", 100),
};

/* Does a call for (@dev, @ctx, @pid) pass the site's filter? */
static bool __hmirror_fault_match(const struct hmirror_fault *f, int dev,
				  s64 ctx, pid_t pid)
{
	lockdep_assert_held(&f->lock);
	return (f->set.dev < 0 || f->set.dev == dev) &&
	       (f->set.ctx < 0 || f->set.ctx == ctx) &&
	       (!f->set.pid || f->set.pid == pid);
}

static bool hmirror_fault_check(enum hmirror_fault_site site, int dev,
				s64 ctx, pid_t pid)
{
	struct hmirror_fault *f = &hmirror_faults[site];
	unsigned long flags;
	bool fail = false;

	if (likely(!READ_ONCE(f->armed)))
		return false;

	spin_lock_irqsave(&f->lock, flags);
	if (!f->set.times || !__hmirror_fault_match(f, dev, ctx, pid))
		goto out;
	f->calls++;
	if (f->set.space) {
		f->set.space--;
		goto out;
	}
	if (f->set.interval > 1 && ++f->count % f->set.interval)
		goto out;
	if (f->set.ppm < HMIRROR_FAULT_PPM &&
	    ((u64)prandom_u32_state(&f->rnd) * HMIRROR_FAULT_PPM >> 32) >= f->set.ppm)
		goto out;
	if (f->set.times > 0 && !--f->set.times)
		WRITE_ONCE(f->armed, false);
	f->failed++;
	fail = true;
out:
	spin_unlock_irqrestore(&f->lock, flags);
	return fail;
}

/**
 * hmirror_fault_should_fail() - should this call at @site fail?
 * @site: enum hmirror_fault_site
 * @ctx: the context the call works for
 *
 * Return: true if the site is armed, @ctx passes its filter and its
 * space, interval, probability and times say so.
 */
bool hmirror_fault_should_fail(enum hmirror_fault_site site,
			       const struct hmirror_ctx *ctx)
{
	if (likely(!READ_ONCE(hmirror_faults[site].armed)))
		return false;
	return hmirror_fault_check(site, ctx->hdev->index, ctx->id,
				   pid_nr(ctx->owner));
}

/**
 * hmirror_fault_should_fail_dev() - ...for a call with no context
 * @site: enum hmirror_fault_site
 * @hdev: the device instance the call works for
 *
 * Matches no context filter; the pid filter is the calling process's.
 *
 * Return: true if the call must fail.
 */
bool hmirror_fault_should_fail_dev(enum hmirror_fault_site site,
				   const struct hmirror_device *hdev)
{
	if (likely(!READ_ONCE(hmirror_faults[site].armed)))
		return false;
	return hmirror_fault_check(site, hdev->index, -2,
				   task_tgid_nr(current));
}

/**
 * hmirror_fault_delay_ms() - how long a delaying site delays
 * @site: enum hmirror_fault_site
 *
 * Return: the delay it was armed with, or its default, in ms (at least 1).
 */
unsigned int hmirror_fault_delay_ms(enum hmirror_fault_site site)
{
	const struct hmirror_fault *f = &hmirror_faults[site];

	return max(READ_ONCE(f->set.delay_ms) ?: f->def_delay_ms, 1U);
}

static int hmirror_fault_parse_kv(char *tok, struct hmirror_fault_spec *s)
{
	char *val = strchr(tok, '=');
	u32 pct;
	int ret;

	if (!val)
		return -EINVAL;
	*val++ = '\0';
	if (!strcmp(tok, "probability")) {
		ret = kstrtou32(val, 10, &pct);
		if (!ret && pct > 100)
			ret = -EINVAL;
		s->ppm = pct * (HMIRROR_FAULT_PPM / 100);
	} else if (!strcmp(tok, "ppm")) {
		ret = kstrtou32(val, 10, &s->ppm);
		if (!ret && s->ppm > HMIRROR_FAULT_PPM)
			ret = -EINVAL;
	} else if (!strcmp(tok, "interval")) {
		ret = kstrtou32(val, 10, &s->interval);
	} else if (!strcmp(tok, "times")) {
		ret = kstrtoint(val, 10, &s->times);
		if (!ret && s->times < -1)
			ret = -EINVAL;
	} else if (!strcmp(tok, "space")) {
		ret = kstrtou32(val, 10, &s->space);
	} else if (!strcmp(tok, "dev")) {
		ret = kstrtoint(val, 10, &s->dev);
		if (!ret && s->dev < -1)
			ret = -EINVAL;
	} else if (!strcmp(tok, "ctx")) {
		ret = kstrtos64(val, 10, &s->ctx);
		if (!ret && (s->ctx < -1 || s->ctx > U32_MAX))
			ret = -EINVAL;
	} else if (!strcmp(tok, "pid")) {
		ret = kstrtoint(val, 10, &s->pid);
		if (!ret && s->pid < 0)
			ret = -EINVAL;
	} else if (!strcmp(tok, "seed")) {
		ret = kstrtou64(val, 0, &s->seed);
	} else if (!strcmp(tok, "delay")) {
		ret = kstrtou32(val, 10, &s->delay_ms);
		if (!ret && s->delay_ms > HMIRROR_FAULT_DELAY_MAX)
			ret = -EINVAL;
	} else {
		ret = -EINVAL;
	}
	return ret;
}

static int hmirror_fault_parse(char *buf, struct hmirror_fault_spec *s)
{
	char *tok;
	int skip, times, ret;

	*s = (struct hmirror_fault_spec){
		.ppm = HMIRROR_FAULT_PPM, .interval = 1, .times = -1,
		.dev = -1, .ctx = -1,
	};
	buf = strim(buf);
	/* The original format: "SKIP TIMES". */
	if (isdigit(*buf)) {
		if (sscanf(buf, "%d %d", &skip, &times) != 2 || skip < 0 ||
		    times < -1)
			return -EINVAL;
		s->space = skip;
		s->times = times;
		return 0;
	}
	while ((tok = strsep(&buf, " \t\n"))) {
		if (!*tok)
			continue;
		ret = hmirror_fault_parse_kv(tok, s);
		if (ret)
			return ret;
	}
	return 0;
}

static ssize_t hmirror_fault_write(struct file *file, const char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	struct hmirror_fault *f = file_inode(file)->i_private;
	struct hmirror_fault_spec s;
	unsigned long flags;
	char *buf;
	int ret;

	if (count > 256)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = hmirror_fault_parse(buf, &s);
	kfree(buf);
	if (ret)
		return ret;

	spin_lock_irqsave(&f->lock, flags);
	f->set = s;
	if (s.times) {
		prandom_seed_state(&f->rnd, s.seed);
		f->count = 0;
		f->calls = 0;
		f->failed = 0;
	}
	WRITE_ONCE(f->armed, s.times != 0);
	spin_unlock_irqrestore(&f->lock, flags);
	return count;
}

static ssize_t hmirror_fault_read(struct file *file, char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct hmirror_fault *f = file_inode(file)->i_private;
	unsigned long flags;
	char buf[256];
	int n;

	spin_lock_irqsave(&f->lock, flags);
	n = scnprintf(buf, sizeof(buf),
		      "ppm=%u interval=%u times=%d space=%u dev=%d ctx=%lld pid=%d seed=%llu delay=%u calls=%llu failed=%llu\n",
		      f->set.ppm, f->set.interval, f->set.times, f->set.space,
		      f->set.dev, f->set.ctx, f->set.pid, f->set.seed,
		      f->set.delay_ms ?: f->def_delay_ms,
		      f->calls, f->failed);
	spin_unlock_irqrestore(&f->lock, flags);
	return simple_read_from_buffer(ubuf, count, ppos, buf, n);
}

static const struct file_operations hmirror_fault_fops = {
	.owner = THIS_MODULE,
	.read = hmirror_fault_read,
	.write = hmirror_fault_write,
	.llseek = default_llseek,
};

static int hmirror_fault_sites_show(struct seq_file *m, void *unused)
{
	unsigned int i;

	for (i = 0; i < HMIRROR_FAULT_NR; i++)
		seq_printf(m, "%s %s\n", hmirror_faults[i].name,
			   hmirror_faults[i].what);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hmirror_fault_sites);

/**
 * hmirror_fault_debugfs_init() - create hmirror/fault/<site> and sites
 * @root: hmirror's debugfs directory
 */
void hmirror_fault_debugfs_init(struct dentry *root)
{
	struct dentry *dir = debugfs_create_dir("fault", root);
	unsigned int i;

	for (i = 0; i < HMIRROR_FAULT_NR; i++) {
		struct hmirror_fault *f = &hmirror_faults[i];

		spin_lock_init(&f->lock);
		f->set.ppm = HMIRROR_FAULT_PPM;
		f->set.interval = 1;
		f->set.dev = -1;
		f->set.ctx = -1;
		prandom_seed_state(&f->rnd, 0);
		debugfs_create_file(f->name, 0600, dir, f, &hmirror_fault_fops);
	}
	debugfs_create_file("sites", 0400, dir, NULL, &hmirror_fault_sites_fops);
}
