// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror memory regions: ODP (explicit and implicit) and pinned regions,
 * named by key in job commands, and the revocation events of pinned ones.
 */

#include <linux/capability.h>
#include <linux/delay.h>
#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hmirror_internal.h"

/**
 * DOC: memory regions
 *
 * A region is a window of the context's address space with access rights
 * and a 32-bit key, in the manner of an RDMA memory region. Commands may
 * name memory as (key, offset) instead of by address; the operand is then
 * checked against the region's bounds (-EINVAL) and rights (-EACCES) at
 * submit, before anything runs.
 *
 * An ODP region is bookkeeping only: registering 64 GiB costs what
 * registering a page costs, and its pages are mirrored on demand by the
 * jobs that use it, through the context's device page table and its
 * interval notifiers, exactly like memory named by address. An implicit
 * region (address 0, length HMIRROR_MR_IMPLICIT_LEN) covers the whole user
 * address space; its mirror is the context's lazily created 2 MiB ranges.
 *
 * A PINNED region pins its pages at registration (FOLL_LONGTERM, charged
 * to the mm's pinned_vm against RLIMIT_MEMLOCK as ib_umem does) and the
 * engine uses those pages, not the device page table: the non-ODP model of
 * RDMA and PeerDirect. The pin keeps the pages, not the mapping: after a
 * munmap, mremap or madvise(DONTNEED) the process no longer sees what the
 * device would write. So an interval notifier watches the mapping: an
 * unmap revokes the region at once, a zap once a look at the page table
 * (after the zap) finds the pages gone. The engine refuses a revoked
 * region's pages from then on (jobs naming it fail with -ECANCELED,
 * checked under pt_lock at every page step, so none is in progress once
 * the callback returns), and one HMIRROR_EVENT_MR_REVOKED record is
 * queued for read(). The pages stay pinned until the region is
 * deregistered. Changes that keep the pages (mprotect, NUMA hinting,
 * soft-dirty) do not revoke.
 *
 * Between a zap and its check's answer the region is held: jobs naming
 * it wait (the sw engine polls them; on the pci device they park on the
 * window, which the hold empties) and go on, or fail with -ECANCELED,
 * once the check has answered. Without the hold, a job could write pages
 * the process no longer maps after madvise(DONTNEED) returned, and end
 * with status 0: data lost without a word. A NONE-class job fails with
 * -ECANCELED instead, on every backend: the class cannot be paused (a pci
 * device has no way to), and a sw job waiting behind the hold would hold
 * up, until their deadline, invalidations that wait for the jobs after it
 * while the check itself waits for those invalidations to end
 * (mmu_interval_read_begin()).
 *
 * Jobs hold a count of their operands on each region (@users), taken at
 * publication and dropped at completion: deregistration with such a job
 * pending fails with -EBUSY rather than pull pages from under it.
 */

/*
 * Unread revocation events kept after their regions were deregistered;
 * past this, deregistering another revoked region waits for a read().
 */
#define HMIRROR_MAX_ORPHAN_EVENTS	1024

/* Let go of a hold (the check answered, or the region goes); pt_lock held. */
static void __hmirror_mr_unhold(struct hmirror_mr *mr)
{
	lockdep_assert_held(&mr->ctx->pt_lock);
	if (!mr->held)
		return;
	mr->held = false;
	mr->ctx->mrs_held--;
}

/* Revoke @mr, once, for @reason over [start, end); pt_lock held. */
static void __hmirror_mr_revoke(struct hmirror_mr *mr, u32 reason,
				unsigned long start, unsigned long end)
{
	struct hmirror_ctx *ctx = mr->ctx;

	lockdep_assert_held(&ctx->pt_lock);
	if (mr->revoked)
		return;
	__hmirror_mr_unhold(mr);
	mr->revoked = true;
	ctx->revoke_gen++;
	/* The device's own mapping goes now; the caller waits for its TLB. */
	if (ctx->hdev->ops->mr_unmap)
		ctx->hdev->ops->mr_unmap(mr);
	mr->evn.ev = (struct hmirror_event){
		.type = HMIRROR_EVENT_MR_REVOKED,
		.key = mr->key,
		.reason = reason,
		.addr = start,
		.len = end > start ? end - start : 0,
	};
	list_add_tail(&mr->evn.link, &ctx->events);
	ctx->stats.mr_revoked++;
}

/*
 * Hold @mr for its check after a zap: the device must not use its pages
 * until the check answers. A backend with a mapping of its own loses it
 * here; its TLB must let go before the callback returns. pt_lock held.
 */
static void __hmirror_mr_hold(struct hmirror_mr *mr)
{
	struct hmirror_ctx *ctx = mr->ctx;

	lockdep_assert_held(&ctx->pt_lock);
	mr->zaps++;
	if (mr->revoked || mr->held)
		return;
	mr->held = true;
	ctx->mrs_held++;
	ctx->hold_gen++;
	if (ctx->hdev->ops->mr_unmap)
		ctx->hdev->ops->mr_unmap(mr);
}

/*
 * The context's oldest job, parked by the device on a window a hold
 * emptied, goes on once none of its regions is held, or fails if one was
 * revoked; pt_lock held.
 */
static void __hmirror_mr_resume(struct hmirror_ctx *ctx)
{
	struct hmirror_job *job;

	lockdep_assert_held(&ctx->pt_lock);
	job = list_first_entry_or_null(&ctx->jobs, struct hmirror_job, link);
	if (!job || !job->held || hmirror_job_held(job))
		return;
	job->held = false;
	if (hmirror_job_revoked(job))
		hmirror_job_complete(job, -ECANCELED);
	else
		job->parked = false;
	ctx->hdev->ops->kick(ctx->hdev, ctx);
}

/*
 * Does the CPU's page table still map the region's pinned pages? A
 * snapshot (no fault) taken once any invalidation in progress is over.
 */
static bool hmirror_mr_changed(struct hmirror_mr *mr)
{
	unsigned long first = ALIGN_DOWN(mr->start, PAGE_SIZE), *pfns;
	struct hmm_range range = { .notifier = &mr->notifier };
	struct mm_struct *mm = mr->ctx->mm;
	unsigned long i, done, n;
	bool changed = false;
	int ret;

	pfns = kvmalloc_array(HMIRROR_CHUNK_PAGES, sizeof(*pfns), GFP_KERNEL);
	if (!pfns || !mmget_not_zero(mm)) {
		kvfree(pfns);
		return true;	/* cannot tell: the safe answer */
	}
	mmap_read_lock(mm);
	for (done = 0; done < mr->npages && !changed; done += n) {
		n = min_t(unsigned long, mr->npages - done, HMIRROR_CHUNK_PAGES);
		range.start = first + (done << PAGE_SHIFT);
		range.end = range.start + (n << PAGE_SHIFT);
		range.hmm_pfns = pfns;
		do {
			range.notifier_seq = mmu_interval_read_begin(&mr->notifier);
			ret = hmm_range_fault(&range);
		} while (ret == -EBUSY);
		for (i = 0; i < n && !changed; i++)
			changed = ret || !(pfns[i] & HMM_PFN_VALID) ||
				  hmm_pfn_to_page(pfns[i]) != mr->pages[done + i];
	}
	mmap_read_unlock(mm);
	mmput(mm);
	kvfree(pfns);
	return changed;
}

/*
 * After a zap: revoke the region if its pages are not mapped any more,
 * else end its hold, unless another zap came meanwhile (its own check
 * follows, queued again by its callback).
 */
static void hmirror_mr_check_work(struct work_struct *work)
{
	struct hmirror_mr *mr = container_of(work, struct hmirror_mr,
					     check_work);
	struct hmirror_ctx *ctx = mr->ctx;
	unsigned int zaps;
	bool changed;

	if (hmirror_fault_should_fail(HMIRROR_FAULT_MR_CHECK_SLOW, ctx))
		msleep(hmirror_fault_delay_ms(HMIRROR_FAULT_MR_CHECK_SLOW));
	spin_lock(&ctx->pt_lock);
	zaps = mr->zaps;
	spin_unlock(&ctx->pt_lock);
	changed = !READ_ONCE(mr->revoked) && hmirror_mr_changed(mr);

	spin_lock(&ctx->pt_lock);
	if (changed) {
		__hmirror_mr_revoke(mr, HMIRROR_REVOKE_CLEAR, mr->start,
				    mr->start + mr->len);
	} else if (mr->held && mr->zaps == zaps) {
		__hmirror_mr_unhold(mr);
		if (ctx->hdev->ops->mr_remap)
			ctx->hdev->ops->mr_remap(mr);
	}
	__hmirror_mr_resume(ctx);
	spin_unlock(&ctx->pt_lock);
	if (changed)
		hmirror_inval_tlb_sync(ctx, mr->start, mr->start + mr->len,
				       true);
	wake_up_all(&ctx->wq);
}

/*
 * An unmap takes the pages away for sure. A zap (MMU_NOTIFY_CLEAR) may or
 * may not: madvise(DONTNEED) does, but a THP split, a migration or
 * reclaim attempt that fails on the pinned page, or KSM, sends one too and
 * then leaves the page mapped. So a zap only schedules a check of the
 * page table once it is over. Other events keep the pages.
 */
static bool hmirror_mr_invalidate(struct mmu_interval_notifier *mni,
				  const struct mmu_notifier_range *range,
				  unsigned long cur_seq)
{
	struct hmirror_mr *mr = container_of(mni, struct hmirror_mr, notifier);
	struct hmirror_ctx *ctx = mr->ctx;

	mmu_interval_set_seq(mni, cur_seq);
	if (range->event == MMU_NOTIFY_CLEAR) {
		if (!READ_ONCE(mr->pinned))
			return true;
		spin_lock(&ctx->pt_lock);
		__hmirror_mr_hold(mr);
		spin_unlock(&ctx->pt_lock);
		queue_work(hmirror_wq, &mr->check_work);
		/*
		 * Held already, or revoked: the TLB flush that went with it
		 * may still be in flight. Waited for every time, like UNMAP.
		 */
		return !ctx->hdev->ops->mr_unmap ||
		       hmirror_inval_tlb_sync(ctx, range->start, range->end,
					      mmu_notifier_range_blockable(range));
	}
	if (range->event != MMU_NOTIFY_UNMAP)
		return true;

	/* A spinlock and a list: fine for non-blockable ranges too. */
	spin_lock(&ctx->pt_lock);
	__hmirror_mr_revoke(mr, HMIRROR_REVOKE_UNMAP,
			    max(range->start, mr->start),
			    min(range->end, mr->start + mr->len));
	__hmirror_mr_resume(ctx);
	spin_unlock(&ctx->pt_lock);
	wake_up_all(&ctx->wq);
	/* Retried by the caller until the device let go: check every time. */
	return hmirror_inval_tlb_sync(ctx, range->start, range->end,
				      mmu_notifier_range_blockable(range));
}

static const struct mmu_interval_notifier_ops hmirror_mr_ops = {
	.invalidate = hmirror_mr_invalidate,
};

/* Charge @npages to the mm's pinned_vm, within RLIMIT_MEMLOCK. */
static int hmirror_mr_charge(struct mm_struct *mm, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	s64 pinned = atomic64_add_return(npages, &mm->pinned_vm);

	if (pinned > limit && !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	return 0;
}

static void hmirror_mr_unpin(struct hmirror_mr *mr)
{
	unpin_user_pages_dirty_lock(mr->pages, mr->npages,
				    mr->access & HMIRROR_ACCESS_WRITE);
	atomic64_sub(mr->npages, &mr->ctx->mm->pinned_vm);
	kvfree(mr->pages);
	mr->pages = NULL;
}

/* Pin the region's pages and start watching its mapping; ctx->lock held. */
static int hmirror_mr_pin(struct hmirror_mr *mr)
{
	struct mm_struct *mm = mr->ctx->mm;
	unsigned long first = ALIGN_DOWN(mr->start, PAGE_SIZE);
	unsigned int gup = FOLL_LONGTERM;
	unsigned long done = 0, seq;
	long n;
	int ret;

	mr->npages = (ALIGN(mr->start + mr->len, PAGE_SIZE) - first) >>
		     PAGE_SHIFT;
	ret = hmirror_mr_charge(mm, mr->npages);
	if (ret)
		return ret;
	/* Huge requests fail plainly (RLIMIT_MEMLOCK may be unlimited). */
	mr->pages = kvmalloc_array(mr->npages, sizeof(*mr->pages),
				   GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!mr->pages) {
		ret = -ENOMEM;
		goto err_uncharge;
	}
	if (mr->access & HMIRROR_ACCESS_WRITE)
		gup |= FOLL_WRITE;

	/* Watch first: a change during the pin must not go unseen. */
	ret = mmu_interval_notifier_insert(&mr->notifier, mm, first,
					   mr->npages << PAGE_SHIFT,
					   &hmirror_mr_ops);
	if (ret)
		goto err_free;
	seq = mmu_interval_read_begin(&mr->notifier);
	while (done < mr->npages) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_unpin;
		}
		n = pin_user_pages_fast(first + (done << PAGE_SHIFT),
					min_t(unsigned long, mr->npages - done,
					      SZ_64K),
					gup, mr->pages + done);
		if (n <= 0) {
			ret = n ? n : -EFAULT;
			goto err_unpin;
		}
		done += n;
	}
	/*
	 * Changed while being pinned (FOLL_LONGTERM may itself migrate pages
	 * first): the pages must be the mapping's now. Any change of the
	 * CPU's page table over the region moved the notifier's sequence;
	 * only then is the page table read again, page by page. Zaps from
	 * here on are the check work's (which looks once @pinned is set).
	 */
	WRITE_ONCE(mr->pinned, true);
	if (READ_ONCE(mr->revoked) ||
	    (mmu_interval_check_retry(&mr->notifier, seq) &&
	     hmirror_mr_changed(mr))) {
		ret = -EAGAIN;
		goto err_unpin;
	}
	return 0;

err_unpin:
	WRITE_ONCE(mr->pinned, false);
	mmu_interval_notifier_remove(&mr->notifier);
	cancel_work_sync(&mr->check_work);
	unpin_user_pages(mr->pages, done);
	/* A revocation of a region that never was: no event either. */
	spin_lock(&mr->ctx->pt_lock);
	__hmirror_mr_unhold(mr);
	list_del_init(&mr->evn.link);
	spin_unlock(&mr->ctx->pt_lock);
err_free:
	kvfree(mr->pages);
	mr->pages = NULL;
err_uncharge:
	atomic64_sub(mr->npages, &mm->pinned_vm);
	return ret;
}

static int hmirror_mr_check(const struct hmirror_mr_reg *req)
{
	bool implicit = req->len == HMIRROR_MR_IMPLICIT_LEN;
	u32 all = HMIRROR_ACCESS_READ | HMIRROR_ACCESS_WRITE |
		  HMIRROR_ACCESS_ATOMIC;
	u64 end;

	if (req->flags & ~HMIRROR_MR_F_NO_MIGRATE ||
	    memchr_inv(req->reserved, 0, sizeof(req->reserved)))
		return -EINVAL;
	if (req->mode != HMIRROR_MR_ODP && req->mode != HMIRROR_MR_PINNED)
		return -EINVAL;
	/* Pinned pages never move: the flag would mean nothing. */
	if (req->mode == HMIRROR_MR_PINNED && req->flags)
		return -EINVAL;
	if (!req->access || req->access & ~all)
		return -EINVAL;
	/* An atomic reads and writes. */
	if ((req->access & HMIRROR_ACCESS_ATOMIC) &&
	    (req->access & (HMIRROR_ACCESS_READ | HMIRROR_ACCESS_WRITE)) !=
	    (HMIRROR_ACCESS_READ | HMIRROR_ACCESS_WRITE))
		return -EINVAL;
	if (implicit)
		return req->addr || req->mode != HMIRROR_MR_ODP ? -EINVAL : 0;
	if (!req->len || check_add_overflow(req->addr, req->len, &end))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(untagged_addr(req->addr)), req->len))
		return -EINVAL;
	return 0;
}

/*
 * Take the region out; ctx->lock held. An unread revocation event
 * outlives it in @node, if given (else it is dropped: the context is
 * going away).
 */
static void hmirror_mr_free(struct hmirror_ctx *ctx, struct hmirror_mr *mr,
			    struct hmirror_event_node *node)
{
	lockdep_assert_held(&ctx->lock);
	xa_erase(&ctx->mrs, mr->key);
	if (mr->mode == HMIRROR_MR_PINNED) {
		mmu_interval_notifier_remove(&mr->notifier);
		cancel_work_sync(&mr->check_work);
	}
	/* The device lets go of the pages before they are unpinned. */
	if (mr->dev_addr && ctx->hdev->ops->mr_unmap) {
		spin_lock(&ctx->pt_lock);
		ctx->hdev->ops->mr_unmap(mr);
		spin_unlock(&ctx->pt_lock);
		hmirror_inval_tlb_sync(ctx, mr->start, mr->start + mr->len, true);
	}

	spin_lock(&ctx->pt_lock);
	__hmirror_mr_unhold(mr);
	if (!list_empty(&mr->evn.link)) {
		if (node) {
			node->ev = mr->evn.ev;
			node->alloc = true;
			list_replace(&mr->evn.link, &node->link);
			ctx->orphans++;
			node = NULL;
		} else {
			list_del(&mr->evn.link);
		}
	}
	ctx->stats.mrs--;
	spin_unlock(&ctx->pt_lock);
	kfree(node);

	if (mr->pages)
		hmirror_mr_unpin(mr);
	kfree(mr);
}

/**
 * hmirror_mr_reg() - HMIRROR_IOC_MR_REG
 * @ctx: context, used from its own mm
 * @req: the request
 * @ukey: where the caller learns the key
 *
 * The key is copied out before the region can be used (under ctx->lock,
 * which submit takes to resolve keys): a failed copy-out undoes a region
 * nobody can have used.
 *
 * Return: 0 or a negative errno; on error no region exists.
 */
int hmirror_mr_reg(struct hmirror_ctx *ctx, const struct hmirror_mr_reg *req,
		   u32 __user *ukey)
{
	struct hmirror_mr *mr;
	u32 key;
	int ret;

	ret = hmirror_mr_check(req);
	if (ret)
		return ret;
	/* The engine must reach a pinned region's own pages, not the PTEs. */
	if (req->mode == HMIRROR_MR_PINNED && !ctx->hdev->ops->pinned &&
	    !ctx->hdev->ops->mr_map)
		return -EOPNOTSUPP;
	mr = kzalloc_obj(*mr, GFP_KERNEL_ACCOUNT);
	if (!mr)
		return -ENOMEM;
	mr->ctx = ctx;
	mr->mode = req->mode;
	mr->access = req->access;
	mr->flags = req->flags;
	INIT_LIST_HEAD(&mr->evn.link);
	INIT_WORK(&mr->check_work, hmirror_mr_check_work);
	if (req->len == HMIRROR_MR_IMPLICIT_LEN) {
		mr->start = 0;
		mr->len = TASK_SIZE;
	} else {
		mr->start = untagged_addr(req->addr);
		mr->len = req->len;
	}

	mutex_lock(&ctx->lock);
	if (req->key) {
		key = req->key;
		ret = xa_insert(&ctx->mrs, key, mr, GFP_KERNEL_ACCOUNT);
		if (ret == -EBUSY)
			ret = -EEXIST;
	} else {
		ret = xa_alloc(&ctx->mrs, &key, mr, xa_limit_32b,
			       GFP_KERNEL_ACCOUNT);
		if (ret == -EBUSY)
			ret = -ENOSPC;
	}
	if (ret)
		goto err;
	mr->key = key;
	if (mr->mode == HMIRROR_MR_PINNED) {
		ret = hmirror_mr_pin(mr);
		if (ret) {
			xa_erase(&ctx->mrs, key);
			goto err;
		}
	}
	spin_lock(&ctx->pt_lock);
	ctx->stats.mrs++;
	spin_unlock(&ctx->pt_lock);
	if (mr->mode == HMIRROR_MR_PINNED && ctx->hdev->ops->mr_map)
		ret = ctx->hdev->ops->mr_map(mr);
	if (!ret && put_user(key, ukey))
		ret = -EFAULT;
	if (ret)
		hmirror_mr_free(ctx, mr, NULL);
	mutex_unlock(&ctx->lock);
	return ret;
err:
	mutex_unlock(&ctx->lock);
	kfree(mr);
	return ret;
}

/**
 * hmirror_mr_dereg() - HMIRROR_IOC_MR_DEREG
 * @ctx: context, used from its own mm
 * @req: the request
 *
 * Return: 0, -EINVAL, -ENOENT (no such key) or -EBUSY (pending jobs name
 * the region); on error the region stays.
 */
int hmirror_mr_dereg(struct hmirror_ctx *ctx, const struct hmirror_mr_dereg *req)
{
	struct hmirror_event_node *node;
	struct hmirror_mr *mr;
	int ret = 0;

	if (req->flags || memchr_inv(req->reserved, 0, sizeof(req->reserved)))
		return -EINVAL;
	/* Allocated up front: a failure must leave the region as it was. */
	node = kzalloc_obj(*node, GFP_KERNEL_ACCOUNT);
	if (!node)
		return -ENOMEM;

	mutex_lock(&ctx->lock);
	mr = xa_load(&ctx->mrs, req->key);
	if (!mr) {
		ret = -ENOENT;
	} else {
		spin_lock(&ctx->pt_lock);
		/* Jobs name it, or too many events wait unread already. */
		if (mr->users || (!list_empty(&mr->evn.link) &&
				  ctx->orphans >= HMIRROR_MAX_ORPHAN_EVENTS))
			ret = -EBUSY;
		spin_unlock(&ctx->pt_lock);
	}
	if (!ret) {
		hmirror_mr_free(ctx, mr, node);
		node = NULL;
	}
	mutex_unlock(&ctx->lock);
	kfree(node);
	return ret;
}

/**
 * hmirror_mrs_destroy() - free every region and unread event of a context
 * @ctx: context being released, no job left
 */
void hmirror_mrs_destroy(struct hmirror_ctx *ctx)
{
	struct hmirror_event_node *node, *tmp;
	struct hmirror_mr *mr;
	unsigned long key;

	mutex_lock(&ctx->lock);
	xa_for_each(&ctx->mrs, key, mr)
		hmirror_mr_free(ctx, mr, NULL);
	/* Only nodes are left: region events went with their regions. */
	list_for_each_entry_safe(node, tmp, &ctx->events, link) {
		list_del(&node->link);
		kfree(node);
	}
	mutex_unlock(&ctx->lock);
	xa_destroy(&ctx->mrs);
}

/**
 * hmirror_mr_resolve() - translate a (key, offset) operand
 * @ctx: context, ctx->lock held
 * @key: the region
 * @off: offset into it
 * @len: operand length
 * @need: HMIRROR_ACCESS_* the operand needs
 * @mrp: out: the region
 * @addr: out: the operand's user address
 *
 * Return: 0, -ENOENT (no such key), -EINVAL (outside the region), -EACCES
 * (rights), or -ECANCELED (a revoked pinned region).
 */
int hmirror_mr_resolve(struct hmirror_ctx *ctx, u32 key, u64 off, u64 len,
		       u32 need, struct hmirror_mr **mrp, u64 *addr)
{
	struct hmirror_mr *mr;
	u64 end;

	lockdep_assert_held(&ctx->lock);
	mr = xa_load(&ctx->mrs, key);
	if (!mr)
		return -ENOENT;
	if (check_add_overflow(off, len, &end) || end > mr->len)
		return -EINVAL;
	if ((mr->access & need) != need)
		return -EACCES;
	if (READ_ONCE(mr->revoked))
		return -ECANCELED;
	*mrp = mr;
	*addr = mr->start + off;
	return 0;
}

/**
 * hmirror_mr_page() - the pinned page holding @addr
 * @mr: a pinned region, pt_lock held
 * @addr: an address inside it
 *
 * Return: the page, or NULL once the region is revoked.
 */
struct page *hmirror_mr_page(struct hmirror_mr *mr, unsigned long addr)
{
	lockdep_assert_held(&mr->ctx->pt_lock);
	if (mr->revoked)
		return NULL;
	return mr->pages[(addr - ALIGN_DOWN(mr->start, PAGE_SIZE)) >>
			 PAGE_SHIFT];
}

/**
 * hmirror_mr_fault() - hmirror_pt_fault() of memory named through a region
 * @ctx: context, ctx->lock held
 * @mr: the ODP region, or NULL for memory named by address
 * @start: as for hmirror_pt_fault()
 * @end: as for hmirror_pt_fault()
 * @flags: as for hmirror_pt_fault()
 * @pfns: as for hmirror_pt_fault()
 * @rp: as for hmirror_pt_fault()
 * @seqp: as for hmirror_pt_fault()
 *
 * A region's pages in another instance's memory move here first
 * (HMIRROR_PT_PULL), or fail the call with -EXDEV for a region
 * registered with HMIRROR_MR_F_NO_MIGRATE (HMIRROR_PT_LOCAL), unless
 * @flags has HMIRROR_PT_PRESENT; the region's fault count grows by the
 * hmm_range_fault() calls made.
 *
 * Return: as hmirror_pt_fault().
 */
int hmirror_mr_fault(struct hmirror_ctx *ctx, struct hmirror_mr *mr,
		     unsigned long start, unsigned long end, unsigned int flags,
		     unsigned long *pfns, struct hmirror_range **rp,
		     unsigned long *seqp)
{
	u64 before;
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (!mr || mr->mode != HMIRROR_MR_ODP)
		return hmirror_pt_fault(ctx, start, end, flags, pfns, rp, seqp);

	/* Mirroring what is present moves nothing, wherever it is. */
	if (!(flags & HMIRROR_PT_PRESENT))
		flags |= mr->flags & HMIRROR_MR_F_NO_MIGRATE ?
			 HMIRROR_PT_LOCAL : HMIRROR_PT_PULL;
	/* Only ctx->lock's holder faults: the count moves by our calls. */
	before = READ_ONCE(ctx->stats.faults);
	ret = hmirror_pt_fault(ctx, start, end, flags, pfns, rp, seqp);
	spin_lock(&ctx->pt_lock);
	mr->faults += ctx->stats.faults - before;
	spin_unlock(&ctx->pt_lock);
	return ret;
}

/**
 * hmirror_mr_make_exclusive() - hmirror_pt_make_exclusive() through a region
 * @ctx: context, ctx->lock held
 * @mr: the ODP region, or NULL for memory named by address
 * @start: as for hmirror_pt_make_exclusive()
 * @end: as for hmirror_pt_make_exclusive()
 * @pfns: as for hmirror_pt_make_exclusive()
 * @rp: as for hmirror_pt_make_exclusive()
 * @seqp: as for hmirror_pt_make_exclusive()
 *
 * The region's rule for pages in another instance's memory applies first
 * (hmirror_mr_fault(), for writing): they move here, or -EXDEV.
 *
 * Return: as hmirror_pt_make_exclusive(), or -EXDEV.
 */
int hmirror_mr_make_exclusive(struct hmirror_ctx *ctx, struct hmirror_mr *mr,
			      unsigned long start, unsigned long end,
			      unsigned long *pfns, struct hmirror_range **rp,
			      unsigned long *seqp)
{
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (mr && mr->mode == HMIRROR_MR_ODP) {
		ret = hmirror_mr_fault(ctx, mr, start, end, HMIRROR_PT_WRITE,
				       pfns, rp, seqp);
		if (ret)
			return ret;
	}
	return hmirror_pt_make_exclusive(ctx, start, end, pfns, rp, seqp);
}

/**
 * hmirror_events_pending() - has the context events to read?
 * @ctx: context
 *
 * Return: true if read() would return a record now.
 */
bool hmirror_events_pending(struct hmirror_ctx *ctx)
{
	return !list_empty_careful(&ctx->events);
}

/* Something for a blocked reader: an event, or a context gone. */
static bool hmirror_events_ready(struct hmirror_ctx *ctx)
{
	return hmirror_events_pending(ctx) ||
	       READ_ONCE(ctx->state) != HMIRROR_CTX_ALIVE;
}

/**
 * hmirror_events_read() - read() of a context's file
 * @ctx: context, used from its own mm
 * @buf: user buffer
 * @count: its size; whole records only
 * @nonblock: O_NONBLOCK
 *
 * A record leaves the queue only once copied out: none is lost to a bad
 * buffer.
 *
 * Return: bytes read (a multiple of the record size), -EINVAL (@count
 * smaller than a record), -EAGAIN, -EINTR, -EIO (dead context) or -EFAULT.
 */
ssize_t hmirror_events_read(struct hmirror_ctx *ctx, char __user *buf,
			    size_t count, bool nonblock)
{
	struct hmirror_event_node *node;
	struct hmirror_event ev;
	size_t done = 0;
	int ret = 0;

	if (count < sizeof(ev))
		return -EINVAL;
	if (!nonblock) {
		ret = wait_event_interruptible(ctx->wq,
					       hmirror_events_ready(ctx));
		if (ret)
			return ret;
	}
	/* ctx->lock: one reader at a time, and no region freed meanwhile. */
	mutex_lock(&ctx->lock);
	while (count - done >= sizeof(ev)) {
		spin_lock(&ctx->pt_lock);
		node = list_first_entry_or_null(&ctx->events,
						struct hmirror_event_node, link);
		if (node)
			ev = node->ev;
		spin_unlock(&ctx->pt_lock);
		if (!node)
			break;
		if (copy_to_user(buf + done, &ev, sizeof(ev))) {
			ret = -EFAULT;
			break;
		}
		done += sizeof(ev);
		spin_lock(&ctx->pt_lock);
		list_del_init(&node->link);
		if (node->alloc && ev.type == HMIRROR_EVENT_ADVISE_DONE)
			ctx->advise_pending--;
		else if (node->alloc)
			ctx->orphans--;
		spin_unlock(&ctx->pt_lock);
		if (node->alloc)
			kfree(node);
	}
	mutex_unlock(&ctx->lock);
	if (done)
		return done;
	if (ret == -EFAULT)
		return ret;
	if (READ_ONCE(ctx->state) != HMIRROR_CTX_ALIVE)
		return -EIO;
	return -EAGAIN;
}
