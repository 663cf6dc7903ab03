// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror invalidation: the interval notifier callback, its bounded wait,
 * and escalation.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ktime.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>

#include "hmirror_internal.h"
#include "hmirror_trace.h"

/**
 * DOC: invalidation
 *
 * The callback follows the escalation state machine of ARCHITECTURE.md:
 *
 * Under pt_lock it sets the chunk's notifier sequence, so that no fault
 * racing with it can program a stale PTE. If no job of a NONE-class
 * context overlaps the range, it zaps the range's PTEs and flushes the
 * device TLB, still under pt_lock, and returns true: a PAGE-class engine
 * holds pt_lock for the page step in progress, so that is all it waits
 * for, and nothing here sleeps, which is what a non-blockable
 * invalidation (the OOM reaper) needs.
 *
 * A device that caches translations itself (the PCI backend) is told to
 * drop what a zap cleared, and the invalidation returns only once it
 * acknowledged that (tlb_sync): a non-blockable one spins for the
 * acknowledgment a little and returns false without it; a device that
 * does not answer within its bound is reset, and the context escalated.
 * A blockable one waits in the second pass of the interval notifier
 * (invalidate_finish, from 7.3), after every chunk it covers was zapped,
 * so that a munmap of K chunks costs one TLB round trip, not K, as Xe
 * pipelines its userptr TLB invalidations.
 *
 * One invalidation calls the callback of every chunk it covers in turn;
 * a context gets one deadline for all of them (keyed by the core's
 * cur_seq), not one per chunk, or K chunks could stall the CPU K times.
 *
 * If a NONE-class job overlaps, a non-blockable invalidation arms the
 * context's deadline timer and returns false; the core retries, and the
 * timer escalates if the job is still running at the deadline, so the
 * reaper is not locked out for ever. A blockable one waits for the
 * overlapping jobs (jobs complete in fence order, so it waits for the
 * newest overlapping fence) for at most the context's deadline, then
 * escalates: the context is marked dead and, under the kill policy, its
 * owner gets SIGKILL; then it is reset on the device, its jobs fail with
 * -ECANCELED and its PTEs go. The kill comes first so that the owner, woken
 * by its cancelled jobs, cannot run on before it dies. Killing alone would
 * not do: the owner's exit runs this very callback, blockable, from
 * exit_mmap(). When that happens (the mm has no users left) the context is
 * aborted at once instead; and when the process waiting in this callback
 * is the context's own and gets a fatal signal (an OOM kill, say), the
 * wait ends there and the context is reset then, since nobody is left to
 * be protected by the deadline.
 *
 * One munmap can be held up by many contexts of the same mm (on one or
 * several devices): the core calls their callbacks one after the other,
 * so waiting a full deadline in each would stall the CPU for the sum of
 * them. The first callback that has to wait therefore starts the deadline
 * clock of every other NONE-class context of the mm with a job in the
 * range, exactly as a refused non-blockable invalidation does; when their
 * own callbacks run, those contexts have drained or have already been
 * reset, and the whole invalidation is bounded by one deadline plus the
 * resets.
 *
 * Invalidations hmirror causes itself while migrating pages (to or from
 * device memory) are handled like any other: the pages move, so every
 * context's PTEs of them go, and the next job faults the new location in.
 * Skipping them for the migrating device, as test_hmm does, would leave
 * the device's other contexts pointing at freed pages.
 *
 * The one invalidation skipped is MMU_NOTIFY_EXCLUSIVE with this device
 * as owner: this device taking a page device-exclusive (see "device-
 * exclusive access" in hmirror_pt.c). The page does not move, so every
 * context of the device keeps its PTEs of it.
 */

static const unsigned int hmirror_wait_bucket_us[HMIRROR_WAIT_BUCKETS] =
	HMIRROR_WAIT_BUCKET_US;

/* Bound of a context reset on the device. */
#define HMIRROR_RESET_TIMEOUT_MS	100

static void __hmirror_wait_account(struct hmirror_ctx *ctx, u64 us)
{
	unsigned int i;

	lockdep_assert_held(&ctx->pt_lock);
	ctx->stats.inval_waits++;
	for (i = 0; i < HMIRROR_WAIT_BUCKETS - 1; i++)
		if (us <= hmirror_wait_bucket_us[i])
			break;
	ctx->stats.wait_hist[i]++;
}

/*
 * If @kill, SIGKILL the context's owner; mark the context dead (counted
 * as an escalation if @escalation); then reset it on the device and fail
 * everything it had. The kill goes first: an owner that saw its context
 * dead (poll, ioctls, which read the state without the lock) or its jobs
 * cancelled before the kill would run on, and could exit on its own,
 * instead of being killed. The count goes with the state: an invalidation
 * that finds the context dead returns at once, and whoever it let go must
 * find the escalation counted, though the reset may still be running.
 */
static bool hmirror_ctx_kill_device_state(struct hmirror_ctx *ctx, bool kill,
					  bool escalation)
{
	int ret;

	spin_lock(&ctx->pt_lock);
	if (ctx->state != HMIRROR_CTX_ALIVE) {
		spin_unlock(&ctx->pt_lock);
		return false;
	}
	if (kill)
		kill_pid(ctx->owner, SIGKILL, 1);
	/* After the kill; the engine checks it before every page step. */
	smp_store_release(&ctx->state, HMIRROR_CTX_DEAD);
	if (escalation)
		ctx->stats.escalations++;
	spin_unlock(&ctx->pt_lock);

	ret = ctx->hdev->ops->ctx_reset(ctx, HMIRROR_RESET_TIMEOUT_MS);
	if (ret)
		dev_err(ctx->hdev->dev,
			"context %u: reset not acknowledged (%d)\n", ctx->id,
			ret);

	spin_lock(&ctx->pt_lock);
	hmirror_jobs_cancel(ctx);
	hmirror_pt_zap_all(ctx);
	spin_unlock(&ctx->pt_lock);
	wake_up_all(&ctx->wq);
	return true;
}

/**
 * hmirror_ctx_escalate() - take the device's access away from a context
 * @ctx: the context that held an invalidation past its deadline
 * @start: start of the invalidation it held (0 if from the timer)
 * @end: end of it
 * @waited_us: how long the invalidation waited
 *
 * Idempotent: only the first call on a live context does anything.
 */
void hmirror_ctx_escalate(struct hmirror_ctx *ctx, unsigned long start,
			  unsigned long end, u64 waited_us)
{
	bool kill = READ_ONCE(ctx->policy) == HMIRROR_POLICY_KILL;

	if (!hmirror_ctx_kill_device_state(ctx, kill, true))
		return;

	trace_hmirror_escalate(ctx->hdev->index, ctx->id, pid_nr(ctx->owner),
			       waited_us, kill);
	/*
	 * From the deadline timer: armed by a refused non-blockable
	 * invalidation, or by a blockable one waiting on a peer context.
	 */
	if (start == end)
		dev_warn_ratelimited(ctx->hdev->dev,
				     "context %u of pid %d (%s) held up an invalidation past its deadline (%llu us): reset%s\n",
				     ctx->id, pid_nr(ctx->owner), ctx->comm,
				     waited_us, kill ? ", owner killed" : "");
	else
		dev_warn_ratelimited(ctx->hdev->dev,
				     "context %u of pid %d (%s) held an invalidation of [%#lx, %#lx) for %llu us: reset%s\n",
				     ctx->id, pid_nr(ctx->owner), ctx->comm, start,
				     end, waited_us, kill ? ", owner killed" : "");
}

/*
 * Start the deadline clock of a context whose job @newest holds an
 * invalidation up. The clock runs from the oldest refusal whose job is
 * still pending: a refusal that comes after the previous one drained
 * starts a fresh deadline instead of inheriting the old timer's.
 */
static void __hmirror_deadline_arm(struct hmirror_ctx *ctx, u64 newest)
{
	lockdep_assert_held(&ctx->pt_lock);
	if (ctx->completed >= ctx->refused_fence) {
		ctx->refused_at = ktime_get();
		hrtimer_start(&ctx->deadline_timer,
			      ms_to_ktime(ctx->deadline_ms), HRTIMER_MODE_REL);
	}
	ctx->refused_fence = max(ctx->refused_fence, newest);
}

/* Start the clocks of the mm's other contexts this invalidation will hit. */
static void hmirror_deadline_arm_peers(struct hmirror_ctx *self,
				       unsigned long start, unsigned long end)
{
	struct hmirror_ctx *ctx;
	u64 newest;

	spin_lock(&hmirror_ctx_all_lock);
	list_for_each_entry(ctx, &hmirror_ctx_all, all_link) {
		if (ctx == self || ctx->mm != self->mm)
			continue;
		spin_lock(&ctx->pt_lock);
		if (ctx->preempt == HMIRROR_PREEMPT_NONE &&
		    ctx->state == HMIRROR_CTX_ALIVE &&
		    hmirror_jobs_overlap(ctx, start, end, &newest))
			__hmirror_deadline_arm(ctx, newest);
		spin_unlock(&ctx->pt_lock);
	}
	spin_unlock(&hmirror_ctx_all_lock);
}

/* No job up to @newest is left, or the context is gone. */
static bool hmirror_drained(struct hmirror_ctx *ctx, u64 newest)
{
	return READ_ONCE(ctx->completed) >= newest ||
	       READ_ONCE(ctx->state) != HMIRROR_CTX_ALIVE;
}

/*
 * Sleep until the jobs up to @newest are done, at most until @expires, to the
 * microsecond (jiffies would add up to a tick to every deadline). Only the
 * context's own process may cut the wait short, by dying: a reclaimer of
 * another process with a fatal signal does not get to shorten this
 * context's deadline. Returns > 0 if drained, 0 on timeout, < 0 if killed.
 */
static long hmirror_wait_drained(struct hmirror_ctx *ctx, u64 newest,
				 ktime_t expires)
{
	bool killable = current->mm == ctx->mm;
	DEFINE_WAIT(wait);
	long ret = 1;

	for (;;) {
		prepare_to_wait(&ctx->wq, &wait, killable ? TASK_KILLABLE :
							    TASK_UNINTERRUPTIBLE);
		if (hmirror_drained(ctx, newest))
			break;
		if (killable && fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (!schedule_hrtimeout(&expires, HRTIMER_MODE_ABS)) {
			ret = hmirror_drained(ctx, newest);
			break;
		}
	}
	finish_wait(&ctx->wq, &wait);
	return ret;
}

/*
 * Wait for the overlapping jobs, up to the deadline; then escalate.
 * Returns the time waited, in microseconds; *escalated tells how it ended.
 */
static u64 hmirror_inval_wait(struct hmirror_ctx *ctx, unsigned long start,
			      unsigned long end, u64 newest,
			      unsigned long cur_seq, bool *escalated)
{
	u64 t0 = ktime_get_ns(), us;
	ktime_t expires;
	long left;

	/*
	 * One invalidation calls each chunk's callback in turn, all with the
	 * same cur_seq: the context gets one deadline for all of them, not
	 * one per chunk.
	 */
	spin_lock(&ctx->pt_lock);
	if (ctx->inval_seq != cur_seq || !ctx->inval_expires) {
		ctx->inval_seq = cur_seq;
		ctx->inval_expires = ktime_add_ms(ktime_get(), ctx->deadline_ms);
	}
	expires = ctx->inval_expires;
	spin_unlock(&ctx->pt_lock);

	left = hmirror_wait_drained(ctx, newest, expires);
	us = div_u64(ktime_get_ns() - t0, NSEC_PER_USEC);

	spin_lock(&ctx->pt_lock);
	__hmirror_wait_account(ctx, us);
	spin_unlock(&ctx->pt_lock);

	/* Deadline passed, or the owner is being killed: abort now. */
	*escalated = left <= 0 && READ_ONCE(ctx->completed) < newest &&
		     READ_ONCE(ctx->state) == HMIRROR_CTX_ALIVE;
	if (*escalated)
		hmirror_ctx_escalate(ctx, start, end, us);
	return us;
}

/**
 * hmirror_inval_tlb_sync() - wait for the device's TLB after a zap
 * @ctx: context whose PTEs were zapped (pt_lock not held)
 * @start: start of the range zapped, for the escalation's message
 * @end: its end
 * @blockable: the invalidation may sleep
 *
 * A device with a TLB of its own must have let go of what was zapped
 * before the callback may return true. One that does not answer was
 * reset by its backend (it cannot reach memory any more); the context is
 * escalated as if it had held the invalidation up.
 *
 * Return: false if the invalidation must fail (not blockable, and the
 * device has not answered yet); true otherwise.
 */
bool hmirror_inval_tlb_sync(struct hmirror_ctx *ctx, unsigned long start,
			    unsigned long end, bool blockable)
{
	int ret;

	if (!ctx->hdev->ops->tlb_sync)
		return true;
	ret = ctx->hdev->ops->tlb_sync(ctx, blockable);
	if (ret == -EAGAIN) {
		spin_lock(&ctx->pt_lock);
		ctx->stats.inval_refused++;
		spin_unlock(&ctx->pt_lock);
		return false;
	}
	if (ret)
		hmirror_ctx_escalate(ctx, start, end, 0);
	return true;
}

/*
 * The last step of a chunk's callback: the device's TLB must let go of
 * what the zap cleared. A blockable invalidation leaves that wait to its
 * second pass, once for all the chunks of the context it covers, since one
 * TLB round trip costs more than a chunk's zap: the first chunk claims
 * ctx->tlb_finish, the others of the same invalidation find it theirs.
 * The acknowledgment the second pass waits for is of the newest request,
 * so it covers every zap before it. An invalidation that finds the second
 * pass taken by another one running at the same time waits here.
 */
static bool hmirror_inval_tlb_defer(struct hmirror_ctx *ctx,
				    const struct mmu_notifier_range *range,
				    unsigned long start, unsigned long end,
				    struct mmu_interval_notifier_finish **finish)
{
	bool blockable = mmu_notifier_range_blockable(range);

	if (!ctx->hdev->ops->tlb_sync)
		return true;
	if (finish && blockable) {
		spin_lock(&ctx->pt_lock);
		if (!ctx->tlb_finish_range) {
			ctx->tlb_finish_range = range;
			ctx->tlb_finish_start = start;
			ctx->tlb_finish_end = end;
			*finish = &ctx->tlb_finish;
		}
		if (ctx->tlb_finish_range == range) {
			ctx->tlb_finish_start = min(start, ctx->tlb_finish_start);
			ctx->tlb_finish_end = max(end, ctx->tlb_finish_end);
			spin_unlock(&ctx->pt_lock);
			return true;
		}
		spin_unlock(&ctx->pt_lock);
	}
	return hmirror_inval_tlb_sync(ctx, start, end, blockable);
}

/*
 * The first pass (7.3), or the whole callback before it (@finish NULL): a
 * TLB wait it leaves to the second pass is claimed through *@finish.
 */
static bool
hmirror_range_invalidate_start(struct mmu_interval_notifier *mni,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq,
			       struct mmu_interval_notifier_finish **finish)
{
	struct hmirror_range *r = container_of(mni, struct hmirror_range,
					       notifier);
	struct hmirror_ctx *ctx = r->ctx;
	unsigned long start = max(range->start, r->start);
	unsigned long end = min(range->end, r->start + HMIRROR_CHUNK_SIZE);
	bool blockable = mmu_notifier_range_blockable(range);
	bool escalated = false, synced;
	u64 newest = 0, us = 0;

	/*
	 * This device taking a page device-exclusive: the page stays put
	 * and the access is ours. Leave the sequence alone too, or the
	 * read_retry right after make_device_exclusive() fails for ever.
	 */
	if (range->event == MMU_NOTIFY_EXCLUSIVE && range->owner == ctx->hdev)
		return true;

	trace_hmirror_invalidate_start(ctx->hdev->index, ctx->id, start, end,
				       range->event, blockable);
	spin_lock(&ctx->pt_lock);
	mmu_interval_set_seq(mni, cur_seq);
	if (blockable)
		ctx->stats.inval_blockable++;
	else
		ctx->stats.inval_nonblock++;

	/* A huge entry goes whole: whoever uses any of it must be waited for. */
	if (r->huge) {
		start = r->start;
		end = r->start + HMIRROR_CHUNK_SIZE;
	}
	/*
	 * While the context's oldest job is parked at a MIGRATE command, no
	 * job of it runs and every pending footprint is faulted again before
	 * it goes on: nothing to wait for (see hmirror_job_migrate()).
	 */
	if (ctx->preempt != HMIRROR_PREEMPT_NONE ||
	    ctx->state != HMIRROR_CTX_ALIVE || ctx->migrating ||
	    !hmirror_jobs_overlap(ctx, start, end, &newest)) {
		hmirror_pt_zap(r, start, end);
		/*
		 * Nothing mirrored is left (unmapped, zapped, migrated): let
		 * the range go too, if idle, as mlx5 frees an implicit ODP
		 * child whose pages are all invalidated.
		 */
		if (!r->nr_valid && ctx->state == HMIRROR_CTX_ALIVE) {
			/* Marked: the reclaim work looks at these only. */
			xa_set_mark(&ctx->ranges, r->start >> HMIRROR_CHUNK_SHIFT,
				    HMIRROR_RANGE_EMPTIED);
			queue_delayed_work(hmirror_wq, &ctx->reclaim_work,
					   HMIRROR_RECLAIM_DELAY);
		}
		spin_unlock(&ctx->pt_lock);
		synced = hmirror_inval_tlb_defer(ctx, range, start, end, finish);
		trace_hmirror_invalidate_end(ctx->hdev->index, ctx->id, 0,
					     synced, false);
		return synced;
	}

	if (!blockable) {
		ctx->stats.inval_refused++;
		__hmirror_deadline_arm(ctx, newest);
		spin_unlock(&ctx->pt_lock);
		trace_hmirror_invalidate_end(ctx->hdev->index, ctx->id, 0,
					     false, false);
		return false;
	}
	spin_unlock(&ctx->pt_lock);

	if (!atomic_read(&ctx->mm->mm_users)) {
		/* exit_mmap(): the owner is gone, abort rather than wait. */
		hmirror_ctx_kill_device_state(ctx, false, false);
	} else {
		hmirror_deadline_arm_peers(ctx, range->start, range->end);
		us = hmirror_inval_wait(ctx, start, end, newest, cur_seq,
					&escalated);
	}

	spin_lock(&ctx->pt_lock);
	hmirror_pt_zap(r, start, end);
	spin_unlock(&ctx->pt_lock);
	hmirror_inval_tlb_defer(ctx, range, start, end, finish);
	trace_hmirror_invalidate_end(ctx->hdev->index, ctx->id, us, true,
				     escalated);
	return true;
}

#if HMIRROR_HAVE_INTERVAL_FINISH
/* The second pass: one TLB wait for every chunk the first pass zapped. */
static void
hmirror_range_invalidate_finish(struct mmu_interval_notifier_finish *finish)
{
	struct hmirror_ctx *ctx = container_of(finish, struct hmirror_ctx,
					       tlb_finish);
	unsigned long start, end;

	spin_lock(&ctx->pt_lock);
	start = ctx->tlb_finish_start;
	end = ctx->tlb_finish_end;
	spin_unlock(&ctx->pt_lock);
	hmirror_inval_tlb_sync(ctx, start, end, true);
	spin_lock(&ctx->pt_lock);
	ctx->tlb_finish_range = NULL;
	spin_unlock(&ctx->pt_lock);
}

const struct mmu_interval_notifier_ops hmirror_range_ops = {
	.invalidate_start = hmirror_range_invalidate_start,
	.invalidate_finish = hmirror_range_invalidate_finish,
};
#else
static bool hmirror_range_invalidate(struct mmu_interval_notifier *mni,
				     const struct mmu_notifier_range *range,
				     unsigned long cur_seq)
{
	return hmirror_range_invalidate_start(mni, range, cur_seq, NULL);
}

const struct mmu_interval_notifier_ops hmirror_range_ops = {
	.invalidate = hmirror_range_invalidate,
};
#endif

/**
 * hmirror_deadline_timer_fn() - a refused invalidation's deadline passed
 * @t: ctx->deadline_timer
 *
 * Timers cannot sleep and a reset may: hand over to escalate_work. An
 * hrtimer, so that the deadline holds to the microsecond, not the tick.
 */
enum hrtimer_restart hmirror_deadline_timer_fn(struct hrtimer *t)
{
	struct hmirror_ctx *ctx = container_of(t, struct hmirror_ctx,
					       deadline_timer);

	queue_work(hmirror_wq, &ctx->escalate_work);
	return HRTIMER_NORESTART;
}

/**
 * hmirror_escalate_work_fn() - escalate if the refused job still runs
 * @work: ctx->escalate_work
 */
void hmirror_escalate_work_fn(struct work_struct *work)
{
	struct hmirror_ctx *ctx = container_of(work, struct hmirror_ctx,
					       escalate_work);
	ktime_t due;
	bool late;

	spin_lock(&ctx->pt_lock);
	late = ctx->state == HMIRROR_CTX_ALIVE &&
	       ctx->completed < ctx->refused_fence;
	due = ktime_add_ms(ctx->refused_at, ctx->deadline_ms);
	if (late && ktime_before(ktime_get(), due)) {
		/* A refusal newer than the timer's: its deadline is later. */
		hrtimer_start(&ctx->deadline_timer, due, HRTIMER_MODE_ABS);
		late = false;
	}
	spin_unlock(&ctx->pt_lock);
	if (late)
		hmirror_ctx_escalate(ctx, 0, 0,
				     (u64)READ_ONCE(ctx->deadline_ms) *
				     USEC_PER_MSEC);
}
