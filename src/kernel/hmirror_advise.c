// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror advice on memory regions: prefetch (mirror now what jobs will
 * use) and migration hints, synchronous or carried out by the context's
 * worker with a completion event.
 */

#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "hmirror_internal.h"

/**
 * DOC: advice
 *
 * HMIRROR_IOC_MR_ADVISE is ibv_advise_mr() for hmirror's ODP regions.
 * PREFETCH and PREFETCH_WRITE fault the range into the device page table
 * exactly as a job's submit would, chunk by chunk through
 * hmirror_pt_fault(), so the first job on the range finds its PTEs and
 * faults nothing; PREFETCH_NO_FAULT mirrors only what the CPU maps
 * already and creates no range for a chunk with nothing present, so it
 * can sweep a sparse region cheaply. The migration hints move the pages
 * covering the range as HMIRROR_IOC_MIGRATE does. Prefetched PTEs are no
 * different from faulted ones: invalidations zap them as usual.
 *
 * Asynchronous advice is queued on the context and carried out in order
 * by one work item, under ctx->lock like a submit (let go between chunks
 * of a prefetch), with the mm pinned for the duration. Its completion
 * record (HMIRROR_EVENT_ADVISE_DONE) is allocated at queueing, so
 * finishing can never fail, and it counts
 * against HMIRROR_ADVISE_MAX_ASYNC until read: a program that never
 * reads its events gets -EAGAIN, not an unbounded queue. Each queued
 * advice holds its region (@users), so deregistering it meanwhile is
 * -EBUSY, as with a pending job. Closing the context stops the advice in
 * progress at the next chunk (of a prefetch or a migration) and drops the
 * queue.
 */

/**
 * struct hmirror_advice - one queued asynchronous advice
 * @link: in ctx->advices
 * @mr: the region, held through its @users
 * @advice: HMIRROR_ADVISE_*
 * @offset: the request's offset, for the event
 * @len: the request's length
 * @node: the completion record, preallocated
 */
struct hmirror_advice {
	struct list_head link;
	struct hmirror_mr *mr;
	u32 advice;
	u64 offset;
	u64 len;
	struct hmirror_event_node *node;
};

/*
 * Mirror [start, end) chunk by chunk; pages before a failure stay. With
 * @yield (asynchronous advice, which holds @mr through its @users), let
 * ctx->lock go between chunks: the owner's submits need not wait for a
 * prefetch of gigabytes.
 */
static int hmirror_advise_prefetch(struct hmirror_ctx *ctx,
				   struct hmirror_mr *mr, u32 advice,
				   unsigned long start, unsigned long end,
				   bool yield)
{
	unsigned int flags = 0;
	struct hmirror_range *r;
	unsigned long *pfns, s, e, seq;
	int ret = 0;

	lockdep_assert_held(&ctx->lock);
	if (advice == HMIRROR_ADVISE_PREFETCH_WRITE)
		flags |= HMIRROR_PT_WRITE;
	else if (advice == HMIRROR_ADVISE_PREFETCH_NO_FAULT)
		flags |= HMIRROR_PT_PRESENT;

	pfns = kvmalloc_array(HMIRROR_CHUNK_PAGES, sizeof(*pfns), GFP_KERNEL);
	if (!pfns)
		return -ENOMEM;
	for (s = ALIGN_DOWN(start, PAGE_SIZE); s < end && !ret; s = e) {
		e = min(ALIGN(s + 1, HMIRROR_CHUNK_SIZE), ALIGN(end, PAGE_SIZE));
		/* A closing context stops at the next chunk. */
		if (READ_ONCE(ctx->state) != HMIRROR_CTX_ALIVE)
			ret = -ECANCELED;
		else
			ret = hmirror_mr_fault(ctx, mr, s, e, flags, pfns, &r,
					       &seq);
		if (yield)
			mutex_unlock(&ctx->lock);
		cond_resched();
		if (yield)
			mutex_lock(&ctx->lock);
	}
	kvfree(pfns);
	return ret;
}

static int hmirror_advise_migrate(struct hmirror_ctx *ctx, u32 advice,
				  unsigned long start, unsigned long end)
{
	struct hmirror_migrate req = {
		.addr = ALIGN_DOWN(start, PAGE_SIZE),
		.len = ALIGN(end, PAGE_SIZE) - ALIGN_DOWN(start, PAGE_SIZE),
		.target = advice == HMIRROR_ADVISE_MIGRATE_TO_DEVICE ?
			  HMIRROR_MIGRATE_TO_DEVICE : HMIRROR_MIGRATE_TO_SYSTEM,
	};

	return hmirror_migrate(ctx, &req);
}

/* Carry one advice out; ctx->lock held, the mm pinned. */
static int hmirror_advise_run(struct hmirror_ctx *ctx, struct hmirror_mr *mr,
			      u32 advice, u64 offset, u64 len, bool async)
{
	unsigned long start = mr->start + offset, end = start + len;
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (advice == HMIRROR_ADVISE_MIGRATE_TO_DEVICE ||
	    advice == HMIRROR_ADVISE_MIGRATE_TO_SYSTEM)
		ret = hmirror_advise_migrate(ctx, advice, start, end);
	else
		ret = hmirror_advise_prefetch(ctx, mr, advice, start, end,
					      async);

	spin_lock(&ctx->pt_lock);
	ctx->stats.advices++;
	if (ret)
		ctx->stats.advices_failed++;
	spin_unlock(&ctx->pt_lock);
	return ret;
}

/* Check a request and find its region; ctx->lock held. */
static int hmirror_advise_check(struct hmirror_ctx *ctx,
				const struct hmirror_mr_advise *req,
				struct hmirror_mr **mrp)
{
	u32 need = req->advice == HMIRROR_ADVISE_PREFETCH_WRITE ?
		   HMIRROR_ACCESS_WRITE : 0;
	struct hmirror_mr *mr;
	unsigned long start;
	u64 addr;
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (req->flags & ~HMIRROR_ADVISE_F_ASYNC || req->pad ||
	    memchr_inv(req->reserved, 0, sizeof(req->reserved)) ||
	    req->advice > HMIRROR_ADVISE_MIGRATE_TO_SYSTEM || !req->len)
		return -EINVAL;
	ret = hmirror_mr_resolve(ctx, req->key, req->offset, req->len, need,
				 &mr, &addr);
	if (ret)
		return ret;
	/* Pinned pages are resident and cannot move: nothing to advise. */
	if (mr->mode != HMIRROR_MR_ODP)
		return -EOPNOTSUPP;
	start = ALIGN_DOWN(addr, PAGE_SIZE);
	if (ALIGN(addr + req->len, PAGE_SIZE) - start > HMIRROR_MAX_JOB_BYTES)
		return -E2BIG;
	if ((req->advice == HMIRROR_ADVISE_MIGRATE_TO_DEVICE ||
	     req->advice == HMIRROR_ADVISE_MIGRATE_TO_SYSTEM) &&
	    !ctx->hdev->devmem)
		return -EOPNOTSUPP;
	*mrp = mr;
	return 0;
}

/* Queue an asynchronous advice; ctx->lock held. */
static int hmirror_advise_queue(struct hmirror_ctx *ctx, struct hmirror_mr *mr,
				const struct hmirror_mr_advise *req)
{
	struct hmirror_advice *a;
	int ret = 0;

	lockdep_assert_held(&ctx->lock);
	a = kzalloc_obj(*a, GFP_KERNEL_ACCOUNT);
	if (a)
		a->node = kzalloc_obj(*a->node, GFP_KERNEL_ACCOUNT);
	if (!a || !a->node) {
		kfree(a);
		return -ENOMEM;
	}
	a->mr = mr;
	a->advice = req->advice;
	a->offset = req->offset;
	a->len = req->len;

	spin_lock(&ctx->pt_lock);
	if (ctx->advise_pending >= HMIRROR_ADVISE_MAX_ASYNC) {
		ret = -EAGAIN;
	} else {
		ctx->advise_pending++;
		mr->users++;
		list_add_tail(&a->link, &ctx->advices);
	}
	spin_unlock(&ctx->pt_lock);
	if (ret) {
		kfree(a->node);
		kfree(a);
		return ret;
	}
	queue_work(hmirror_wq, &ctx->advise_work);
	return 0;
}

/**
 * hmirror_mr_advise() - HMIRROR_IOC_MR_ADVISE
 * @ctx: context, used from its own mm
 * @req: the request
 *
 * Return: 0 or a negative errno; a request that fails its checks changes
 * nothing.
 */
int hmirror_mr_advise(struct hmirror_ctx *ctx,
		      const struct hmirror_mr_advise *req)
{
	struct hmirror_mr *mr;
	int ret;

	mutex_lock(&ctx->lock);
	ret = hmirror_advise_check(ctx, req, &mr);
	if (!ret && (req->flags & HMIRROR_ADVISE_F_ASYNC))
		ret = hmirror_advise_queue(ctx, mr, req);
	else if (!ret)
		ret = hmirror_advise_run(ctx, mr, req->advice, req->offset,
					 req->len, false);
	mutex_unlock(&ctx->lock);
	return ret;
}

/* Queue the completion record of @a and let go of it; pt_lock held. */
static void __hmirror_advice_done(struct hmirror_ctx *ctx,
				  struct hmirror_advice *a, int status)
{
	lockdep_assert_held(&ctx->pt_lock);
	a->mr->users--;
	a->node->alloc = true;
	a->node->ev = (struct hmirror_event){
		.type = HMIRROR_EVENT_ADVISE_DONE,
		.key = a->mr->key,
		.reason = a->advice,
		.status = status,
		.addr = a->offset,
		.len = a->len,
	};
	list_add_tail(&a->node->link, &ctx->events);
	kfree(a);
}

/**
 * hmirror_advise_work() - carry out a context's asynchronous advice
 * @work: ctx->advise_work
 *
 * One advice at a time, in order, each under ctx->lock: a submit or a
 * synchronous call may run between two of them.
 */
void hmirror_advise_work(struct work_struct *work)
{
	struct hmirror_ctx *ctx = container_of(work, struct hmirror_ctx,
					       advise_work);
	struct hmirror_advice *a;
	int ret;

	for (;;) {
		mutex_lock(&ctx->lock);
		spin_lock(&ctx->pt_lock);
		a = list_first_entry_or_null(&ctx->advices,
					     struct hmirror_advice, link);
		if (a)
			list_del(&a->link);
		spin_unlock(&ctx->pt_lock);
		if (!a) {
			mutex_unlock(&ctx->lock);
			return;
		}

		if (READ_ONCE(ctx->state) != HMIRROR_CTX_ALIVE) {
			ret = -ECANCELED;
		} else if (mmget_not_zero(ctx->mm)) {
			ret = hmirror_advise_run(ctx, a->mr, a->advice,
						 a->offset, a->len, true);
			mmput(ctx->mm);
		} else {
			ret = -EFAULT;
		}

		spin_lock(&ctx->pt_lock);
		__hmirror_advice_done(ctx, a, ret);
		spin_unlock(&ctx->pt_lock);
		mutex_unlock(&ctx->lock);
		wake_up_all(&ctx->wq);
		cond_resched();
	}
}

/**
 * hmirror_advise_destroy() - drop a closing context's queued advice
 * @ctx: context being released, its state no longer ALIVE
 *
 * Waits for the advice in progress, which stops at its next chunk.
 */
void hmirror_advise_destroy(struct hmirror_ctx *ctx)
{
	struct hmirror_advice *a, *tmp;

	cancel_work_sync(&ctx->advise_work);
	spin_lock(&ctx->pt_lock);
	list_for_each_entry_safe(a, tmp, &ctx->advices, link) {
		list_del(&a->link);
		a->mr->users--;
		kfree(a->node);
		kfree(a);
	}
	spin_unlock(&ctx->pt_lock);
}
