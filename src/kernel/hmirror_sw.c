// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror sw backend: an in-kernel device engine, one kernel thread per
 * device instance.
 */

#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/sched.h>

#include "hmirror_internal.h"

/**
 * DOC: sw engine
 *
 * The engine thread takes contexts with queued jobs round-robin from the
 * device's run queue and runs the oldest job of each for a bounded number
 * of page steps. It reaches memory only through the device page table: a
 * step takes the context's pt_lock, looks the PTE up, maps that one page
 * (kmap_local_page()), does at most one page of work and lets go. It never
 * dereferences a user pointer, so a stale PTE shows up as wrong data in a
 * test, and KASAN sees a use after free, as a real device would show it.
 *
 * Since a step runs under pt_lock, an invalidation that takes pt_lock
 * waits for the step in progress and no more. A missing PTE parks a
 * PAGE-class job and queues the context's fault work; for a NONE-class job
 * it cannot happen (invalidations wait for such jobs before zapping) and
 * fails the job with -EFAULT after a WARN. An EXCLUSIVE command treats a
 * system page whose PTE lacks HMIRROR_PTE_EXCL as missing: the CPU took
 * the page back, and the fault work takes it exclusive again.
 *
 * WAIT_VALUE and DELAY do not busy the engine: a job blocked on either is
 * polled again on the next pass, and the thread sleeps when nothing else
 * can run, 50 us at first, doubling up to 1 ms while nothing progresses.
 * A context reset marks the context dead under pt_lock (the engine checks
 * before every step), takes it off the run
 * queue and waits until the engine is not inside it, which takes at most
 * one step.
 *
 * Fault injection (see hmirror_fault.c) models what a real device does
 * wrong, each within the bounds the mirror already relies on:
 *
 * - engine_stall: before a step, the job stops making progress for the
 *   site's delay, as if the device hung on it; it is polled like a DELAY.
 *   A NONE-class job stalled past the deadline gets its context reset.
 * - copy_error: a step that would touch memory (COPY, FILL, CRC32C,
 *   ATOMIC_ADD, WRITE_VALUE) fails the job with -EIO instead, its earlier
 *   steps done: what a DMA error does. The pages before are written, the
 *   one it failed at and those after are not.
 * - lost_completion: a job that finished has its completion held back: it
 *   stays the context's oldest job, its fence unsignalled, until the next
 *   kick of the context (a submit) or the site's delay passes, whichever
 *   comes first, as a driver's fence timeout or the next interrupt finds a
 *   lost one. A WAIT with a shorter timeout returns -ETIME; an
 *   invalidation waits for it like for any pending job, up to the
 *   deadline; a reset cancels it (-ECANCELED).
 * - reset_slow: the device acknowledges a reset the site's delay late.
 *   ctx_reset still returns within its timeout: -ETIMEDOUT if the
 *   acknowledgment is not in by then, and a later reset of the same
 *   context waits for the rest of that same delay, not a new one.
 */

#define HMIRROR_SW_BUDGET	64	/* steps per context per turn */
#define HMIRROR_SW_POLL_US	50	/* first poll period of blocked jobs */
#define HMIRROR_SW_POLL_MAX_US	1000	/* ...doubling up to this */

enum hmirror_step {
	HMIRROR_STEP_PROGRESS,	/* did some work, the command goes on */
	HMIRROR_STEP_CMD_DONE,	/* the command finished */
	HMIRROR_STEP_BLOCKED,	/* waiting for a value or time */
	HMIRROR_STEP_PARKED,	/* waiting for a page */
};

/*
 * Map the page of @addr for the step, or park/fail the job. @end is the
 * end of the command's operand that @addr is in: a parked job gets the
 * rest of it, up to the chunk's end, mirrored in one go. @excl: the
 * command needs the page device-exclusive (a system page whose PTE lacks
 * HMIRROR_PTE_EXCL is as good as missing). Returns the kernel address of
 * @addr, NULL if the job cannot go on now.
 */
static void *hmirror_sw_map_excl(struct hmirror_job *job, unsigned long addr,
				 unsigned long end, bool write, bool excl,
				 int *err)
{
	struct hmirror_mr *mr = job->opmr ?
		job->opmr[2 * job->cur + !write] : NULL;
	struct hmirror_ctx *ctx = job->ctx;
	struct page *page;
	void *kaddr;

	/* A pinned region's own pages, until it is revoked. */
	if (mr && mr->mode == HMIRROR_MR_PINNED) {
		page = hmirror_mr_page(mr, addr);
		if (!page) {
			*err = -ECANCELED;
			return NULL;
		}
		return kmap_local_page(page) + offset_in_page(addr);
	}

	kaddr = hmirror_pt_map(ctx, addr, write, excl);

	if (kaddr)
		return kaddr;

	if (ctx->preempt == HMIRROR_PREEMPT_NONE) {
		/* Invariant broken: tests look for this line (BUG:). */
		dev_err_ratelimited(ctx->hdev->dev,
				    "BUG: NONE-class job of context %u lost its PTE at %#lx\n",
				    ctx->id, addr);
		*err = -EFAULT;
		return NULL;
	}
	hmirror_job_park(job, addr, end, write, excl);
	ctx->stats.jobs_parked++;
	return NULL;
}

static void *hmirror_sw_map(struct hmirror_job *job, unsigned long addr,
			    unsigned long end, bool write, int *err)
{
	return hmirror_sw_map_excl(job, addr, end, write, false, err);
}

static u64 hmirror_sw_chunk(const struct hmirror_cmd *c, u64 done,
			    bool two)
{
	u64 n = min_t(u64, c->len - done, PAGE_SIZE - offset_in_page(c->dst + done));

	if (two)
		n = min_t(u64, n, PAGE_SIZE - offset_in_page(c->src + done));
	return n;
}

/*
 * A page copied by plain loads and stores, 64 bytes a turn, as
 * copy_page_regs() does. Not copy_page(): its rep movsq, under TCG (where
 * this engine runs its benchmarks), copied a 1 GiB COPY job in 0.96 s in
 * some runs and in 3.6 to 9.1 s in others, the same guest, pinned or not;
 * this loop took 1.26 to 1.64 s in every one.
 */
static void hmirror_sw_copy_page(void *dst, const void *src)
{
	const u64 *s = src;
	u64 *d = dst, a, b, c, e, f, g, h, k;
	unsigned int i;

	for (i = 0; i < PAGE_SIZE / sizeof(u64); i += 8) {
		a = READ_ONCE(s[i]);
		b = READ_ONCE(s[i + 1]);
		c = READ_ONCE(s[i + 2]);
		e = READ_ONCE(s[i + 3]);
		f = READ_ONCE(s[i + 4]);
		g = READ_ONCE(s[i + 5]);
		h = READ_ONCE(s[i + 6]);
		k = READ_ONCE(s[i + 7]);
		d[i] = a;
		d[i + 1] = b;
		d[i + 2] = c;
		d[i + 3] = e;
		d[i + 4] = f;
		d[i + 5] = g;
		d[i + 6] = h;
		d[i + 7] = k;
	}
}

/* Does the command touch memory (a copy error can hit it)? */
static bool hmirror_sw_dma_op(u32 op)
{
	return op == HMIRROR_OP_COPY || op == HMIRROR_OP_FILL ||
	       op == HMIRROR_OP_CRC32C || op == HMIRROR_OP_ATOMIC_ADD ||
	       op == HMIRROR_OP_WRITE_VALUE;
}

/*
 * Injected engine faults before a step: returns true if the step must
 * not run now (stalled: *blocked set), with *err set if the job fails.
 */
static bool hmirror_sw_inject(struct hmirror_job *job, bool *blocked,
			      int *err)
{
	struct hmirror_ctx *ctx = job->ctx;
	u64 now;

	lockdep_assert_held(&ctx->pt_lock);
	if (job->stall_until) {
		now = ktime_get_ns();
		if (now < job->stall_until) {
			*blocked = true;
			return true;
		}
		job->stall_until = 0;
	} else if (hmirror_fault_should_fail(HMIRROR_FAULT_ENGINE_STALL, ctx)) {
		job->stall_until = ktime_get_ns() +
			(u64)hmirror_fault_delay_ms(HMIRROR_FAULT_ENGINE_STALL) *
			NSEC_PER_MSEC;
		*blocked = true;
		return true;
	}
	if (hmirror_sw_dma_op(job->cmds[job->cur].op) &&
	    hmirror_fault_should_fail(HMIRROR_FAULT_COPY_ERROR, ctx)) {
		*err = -EIO;
		return true;
	}
	return false;
}

/* The job ran its last command: complete it, or lose its completion. */
static void hmirror_sw_finish(struct hmirror_job *job, bool *blocked)
{
	lockdep_assert_held(&job->ctx->pt_lock);
	if (hmirror_fault_should_fail(HMIRROR_FAULT_LOST_COMPLETION, job->ctx)) {
		job->lost_until = ktime_get_ns() +
			(u64)hmirror_fault_delay_ms(HMIRROR_FAULT_LOST_COMPLETION) *
			NSEC_PER_MSEC;
		*blocked = true;
		return;
	}
	hmirror_job_complete(job, 0);
}

/* One step of the job's current command; returns enum hmirror_step. */
static int hmirror_sw_step(struct hmirror_job *job, int *err)
{
	const struct hmirror_cmd *c = &job->cmds[job->cur];
	u64 now, n;
	void *s, *d;

	switch (c->op) {
	case HMIRROR_OP_COPY:
		n = hmirror_sw_chunk(c, job->done, true);
		s = hmirror_sw_map(job, c->src + job->done, c->src + c->len,
				   false, err);
		if (!s)
			return HMIRROR_STEP_PARKED;
		d = hmirror_sw_map(job, c->dst + job->done, c->dst + c->len,
				   true, err);
		if (!d) {
			hmirror_pt_unmap(s);
			return HMIRROR_STEP_PARKED;
		}
		/*
		 * Whole aligned pages with copy_page(), the rest with memcpy
		 * where it can: memmove is the slow path on x86.
		 */
		if (n == PAGE_SIZE && PAGE_ALIGNED(d) && PAGE_ALIGNED(s) &&
		    d != s)
			hmirror_sw_copy_page(d, s);
		else if (d + n <= s || s + n <= d)
			memcpy(d, s, n);
		else
			memmove(d, s, n);
		hmirror_pt_unmap(d);
		hmirror_pt_unmap(s);
		break;
	case HMIRROR_OP_FILL:
		n = hmirror_sw_chunk(c, job->done, false);
		d = hmirror_sw_map(job, c->dst + job->done, c->dst + c->len,
				   true, err);
		if (!d)
			return HMIRROR_STEP_PARKED;
		memset(d, (u8)c->value, n);
		hmirror_pt_unmap(d);
		break;
	case HMIRROR_OP_CRC32C:
		if (!job->done)
			job->acc = c->value;
		if (job->done == c->len) {
			d = hmirror_sw_map(job, c->dst, c->dst + 4, true, err);
			if (!d)
				return HMIRROR_STEP_PARKED;
			*(u32 *)d = job->acc;
			hmirror_pt_unmap(d);
			return HMIRROR_STEP_CMD_DONE;
		}
		n = min_t(u64, c->len - job->done,
			  PAGE_SIZE - offset_in_page(c->src + job->done));
		s = hmirror_sw_map(job, c->src + job->done, c->src + c->len,
				   false, err);
		if (!s)
			return HMIRROR_STEP_PARKED;
		job->acc = crc32c(job->acc, s, n);
		hmirror_pt_unmap(s);
		job->done += n;
		return HMIRROR_STEP_PROGRESS;
	case HMIRROR_OP_ATOMIC_ADD:
		d = hmirror_sw_map_excl(job, c->dst, c->dst + 8, true,
					c->flags & HMIRROR_CMD_F_EXCLUSIVE, err);
		if (!d)
			return HMIRROR_STEP_PARKED;
		atomic64_add(c->value, (atomic64_t *)d);
		hmirror_pt_unmap(d);
		return HMIRROR_STEP_CMD_DONE;
	case HMIRROR_OP_WRITE_VALUE:
		d = hmirror_sw_map_excl(job, c->dst, c->dst + 8, true,
					c->flags & HMIRROR_CMD_F_EXCLUSIVE, err);
		if (!d)
			return HMIRROR_STEP_PARKED;
		/* Earlier writes of the job are visible before the value. */
		smp_store_release((u64 *)d, c->value);
		hmirror_pt_unmap(d);
		return HMIRROR_STEP_CMD_DONE;
	case HMIRROR_OP_WAIT_VALUE:
		now = ktime_get_ns();
		if (!job->done) {
			job->until = c->aux ? now + c->aux * NSEC_PER_USEC : 0;
			job->done = 1;
		}
		s = hmirror_sw_map(job, c->src, c->src + 8, false, err);
		if (!s)
			return HMIRROR_STEP_PARKED;
		/* Later reads of the job see what preceded the value. */
		n = smp_load_acquire((u64 *)s);
		hmirror_pt_unmap(s);
		if (n == c->value)
			return HMIRROR_STEP_CMD_DONE;
		if (job->until && now >= job->until) {
			*err = -ETIME;
			return HMIRROR_STEP_PARKED;
		}
		return HMIRROR_STEP_BLOCKED;
	case HMIRROR_OP_DELAY:
		now = ktime_get_ns();
		if (!job->done) {
			job->until = now + c->aux * NSEC_PER_USEC;
			job->done = 1;
		}
		return now >= job->until ? HMIRROR_STEP_CMD_DONE :
					   HMIRROR_STEP_BLOCKED;
	case HMIRROR_OP_MIRROR:
		/* The footprint was mirrored at submit: nothing to run. */
		return HMIRROR_STEP_CMD_DONE;
	case HMIRROR_OP_MIGRATE:
		/* Moving pages sleeps: the worker does it, then sets done. */
		if (!job->done) {
			hmirror_job_park_migrate(job);
			return HMIRROR_STEP_PARKED;
		}
		if (c->dst) {
			d = hmirror_sw_map(job, c->dst, c->dst + 8, true, err);
			if (!d)
				return HMIRROR_STEP_PARKED;
			WRITE_ONCE(*(u64 *)d, job->result);
			hmirror_pt_unmap(d);
		}
		return HMIRROR_STEP_CMD_DONE;
	default:
		*err = -EINVAL;
		return HMIRROR_STEP_PARKED;
	}
	job->done += n;
	return job->done == c->len ? HMIRROR_STEP_CMD_DONE :
				     HMIRROR_STEP_PROGRESS;
}

/*
 * Run up to HMIRROR_SW_BUDGET steps of the context's jobs. Sets *blocked
 * if a job waits for a value or time. Returns true if anything progressed.
 */
static bool hmirror_sw_run_ctx(struct hmirror_ctx *ctx, bool *blocked)
{
	bool progress = false, held;
	struct hmirror_job *job;
	unsigned int budget;
	int step, err;

	for (budget = HMIRROR_SW_BUDGET; budget; budget--) {
		spin_lock(&ctx->pt_lock);
		job = list_first_entry_or_null(&ctx->jobs, struct hmirror_job,
					       link);
		if (ctx->state != HMIRROR_CTX_ALIVE || !job || job->parked) {
			spin_unlock(&ctx->pt_lock);
			break;
		}
		/*
		 * A job on a held region is polled until the check after the
		 * zap answers; a NONE-class one cannot wait (see hmirror_mr.c).
		 */
		held = hmirror_job_held(job);
		if (hmirror_job_revoked(job) ||
		    (held && ctx->preempt == HMIRROR_PREEMPT_NONE)) {
			hmirror_job_complete(job, -ECANCELED);
			spin_unlock(&ctx->pt_lock);
			progress = true;
			continue;
		}
		if (held) {
			*blocked = true;
			spin_unlock(&ctx->pt_lock);
			break;
		}
		/* Done, its completion lost: found again when it is due. */
		if (job->lost_until) {
			if (ktime_get_ns() < job->lost_until) {
				*blocked = true;
				spin_unlock(&ctx->pt_lock);
				break;
			}
			hmirror_job_complete(job, 0);
			spin_unlock(&ctx->pt_lock);
			progress = true;
			continue;
		}
		err = 0;
		if (hmirror_sw_inject(job, blocked, &err)) {
			if (err)
				hmirror_job_complete(job, err);
			spin_unlock(&ctx->pt_lock);
			if (!err)
				break;
			progress = true;
			continue;
		}
		step = hmirror_sw_step(job, &err);
		if (err) {
			hmirror_job_complete(job, err);
			progress = true;
		} else if (step == HMIRROR_STEP_CMD_DONE) {
			job->done = 0;
			if (++job->cur == job->nr_cmds)
				hmirror_sw_finish(job, blocked);
			progress = true;
		} else if (step == HMIRROR_STEP_PROGRESS) {
			progress = true;
		} else if (step == HMIRROR_STEP_BLOCKED) {
			*blocked = true;
		}
		spin_unlock(&ctx->pt_lock);
		if (step == HMIRROR_STEP_BLOCKED || step == HMIRROR_STEP_PARKED)
			break;
	}
	return progress;
}

/* Take the next context off the run queue, round-robin. */
static struct hmirror_ctx *hmirror_sw_next(struct hmirror_device *hdev)
{
	struct hmirror_ctx *ctx;

	spin_lock(&hdev->lock);
	ctx = list_first_entry_or_null(&hdev->runq, struct hmirror_ctx,
				       run_link);
	if (ctx) {
		list_move_tail(&ctx->run_link, &hdev->runq);
		hdev->running = ctx;
	}
	spin_unlock(&hdev->lock);
	return ctx;
}

static void hmirror_sw_put(struct hmirror_device *hdev,
			   struct hmirror_ctx *ctx)
{
	spin_lock(&hdev->lock);
	hdev->running = NULL;
	/* Idle contexts leave the queue; a kick puts them back. */
	if (list_empty(&ctx->jobs) && !list_empty(&ctx->run_link))
		list_del_init(&ctx->run_link);
	spin_unlock(&hdev->lock);
	wake_up_all(&hdev->reset_wq);
}

static unsigned int hmirror_sw_queued(struct hmirror_device *hdev)
{
	struct hmirror_ctx *ctx;
	unsigned int n = 0;

	spin_lock(&hdev->lock);
	list_for_each_entry(ctx, &hdev->runq, run_link)
		n++;
	spin_unlock(&hdev->lock);
	return n;
}

static int hmirror_sw_thread(void *data)
{
	struct hmirror_device *hdev = data;
	unsigned int poll_us = HMIRROR_SW_POLL_US;
	struct hmirror_ctx *ctx;
	bool progress, blocked;
	unsigned int n;
	int seq;

	while (!kthread_should_stop()) {
		seq = atomic_read(&hdev->work_seq);
		progress = false;
		blocked = false;
		for (n = hmirror_sw_queued(hdev); n; n--) {
			ctx = hmirror_sw_next(hdev);
			if (!ctx)
				break;
			progress |= hmirror_sw_run_ctx(ctx, &blocked);
			hmirror_sw_put(hdev, ctx);
		}
		if (progress) {
			poll_us = HMIRROR_SW_POLL_US;
			cond_resched();
		} else if (blocked) {
			/* A job waiting long for a value costs ever less. */
			usleep_range(poll_us, 2 * poll_us);
			poll_us = min(2 * poll_us, HMIRROR_SW_POLL_MAX_US);
		} else {
			wait_event_interruptible(hdev->engine_wq,
						 kthread_should_stop() ||
						 atomic_read(&hdev->work_seq) != seq);
		}
	}
	return 0;
}

static int hmirror_sw_init(struct hmirror_device *hdev)
{
	struct task_struct *t;

	t = kthread_run(hmirror_sw_thread, hdev, "hmirror%u", hdev->index);
	if (IS_ERR(t))
		return PTR_ERR(t);
	hdev->engine = t;
	return 0;
}

static void hmirror_sw_fini(struct hmirror_device *hdev)
{
	kthread_stop(hdev->engine);
}

static void hmirror_sw_kick(struct hmirror_device *hdev,
			    struct hmirror_ctx *ctx)
{
	struct hmirror_job *job;

	lockdep_assert_held(&ctx->pt_lock);
	/* A kick finds a lost completion, as the next interrupt would. */
	job = list_first_entry_or_null(&ctx->jobs, struct hmirror_job, link);
	if (job && job->lost_until)
		job->lost_until = 1;

	spin_lock(&hdev->lock);
	if (list_empty(&ctx->run_link))
		list_add_tail(&ctx->run_link, &hdev->runq);
	spin_unlock(&hdev->lock);
	atomic_inc(&hdev->work_seq);
	wake_up(&hdev->engine_wq);
}

/* The engine is out of @ctx, read under the lock its put() holds. */
static bool hmirror_sw_left(struct hmirror_device *hdev,
			    struct hmirror_ctx *ctx)
{
	bool left;

	spin_lock(&hdev->lock);
	left = hdev->running != ctx;
	spin_unlock(&hdev->lock);
	return left;
}

/*
 * reset_slow injection: wait for a late acknowledgment, at most
 * @timeout_ms; returns the ms of @timeout_ms left, or -ETIMEDOUT.
 */
static long hmirror_sw_reset_ack(struct hmirror_ctx *ctx,
				 unsigned int timeout_ms)
{
	struct hmirror_device *hdev = ctx->hdev;
	bool inject = hmirror_fault_should_fail(HMIRROR_FAULT_RESET_SLOW, ctx);
	ktime_t at;
	s64 wait;

	spin_lock(&hdev->lock);
	if (inject && !ctx->reset_ack_at)
		ctx->reset_ack_at = ktime_add_ms(ktime_get(),
						 hmirror_fault_delay_ms(HMIRROR_FAULT_RESET_SLOW));
	at = ctx->reset_ack_at;
	spin_unlock(&hdev->lock);
	if (!at)
		return timeout_ms;

	wait = max_t(s64, ktime_ms_delta(at, ktime_get()), 0);
	if (wait > timeout_ms) {
		msleep(timeout_ms);
		return -ETIMEDOUT;
	}
	msleep(wait);
	spin_lock(&hdev->lock);
	ctx->reset_ack_at = 0;
	spin_unlock(&hdev->lock);
	return timeout_ms - wait;
}

static int hmirror_sw_ctx_reset(struct hmirror_ctx *ctx,
				unsigned int timeout_ms)
{
	struct hmirror_device *hdev = ctx->hdev;
	long left;

	spin_lock(&hdev->lock);
	list_del_init(&ctx->run_link);
	spin_unlock(&hdev->lock);

	left = hmirror_sw_reset_ack(ctx, timeout_ms);
	if (left < 0)
		return left;
	/* A timeout of 0 still looks once. */
	left = wait_event_timeout(hdev->reset_wq, hmirror_sw_left(hdev, ctx),
				  msecs_to_jiffies(left));
	return left ? 0 : -ETIMEDOUT;
}

const struct hmirror_backend_ops hmirror_sw_ops = {
	.name = "sw",
	.pinned = true,
	.init = hmirror_sw_init,
	.fini = hmirror_sw_fini,
	.kick = hmirror_sw_kick,
	.ctx_reset = hmirror_sw_ctx_reset,
};
