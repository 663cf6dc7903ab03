// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror device page table: mirror ranges, their PTEs, and faulting CPU
 * translations into them with hmm_range_fault().
 */

#include <linux/error-injection.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "hmirror_internal.h"
#include "hmirror_trace.h"

/**
 * DOC: device page table
 *
 * A context's device page table is a set of mirror ranges, one per
 * naturally aligned 2 MiB chunk of user address space that some job has
 * touched, kept in an xarray indexed by chunk number. Each range carries
 * its own mmu_interval_notifier, so an invalidation finds exactly the
 * chunks it overlaps through the core's interval tree, and a chunk's
 * notifier sequence protects exactly that chunk's PTEs.
 *
 * Why fixed chunks rather than ranges sized to each job: the notifier
 * sequence protocol needs a one-to-one map between a notifier and the
 * PTEs it guards, and PMD-aligned chunks make that map trivial, keep a
 * THP in one range, and bound the work of one invalidation callback to
 * 512 entries. Implicit (whole address space) regions reuse the same
 * chunks, created as jobs touch memory.
 *
 * A range's PTEs are a flat array of 512 u64 (pfn << PAGE_SHIFT | flags),
 * allocated the first time the chunk gets a 4 KiB mapping: 8 bytes per
 * mirrored page plus the range itself. The array is written once, whole,
 * with its first PTEs, and only then published (a device that walks it
 * never sees it half made). When hmm_range_fault() reports a CPU mapping
 * of order >= PMD_ORDER the whole chunk is mapped by one huge entry
 * instead and no array is needed; a fault asks hmm for the chunk's first
 * page alone first, since one pfn then says all, unless the chunk before
 * was mapped small.
 *
 * A range whose PTEs are all gone after an invalidation (an unmap, a zap
 * such as madvise(DONTNEED) or reclaim, a migration), and that no job's
 * footprint touches, is freed by the context's reclaim work a little
 * later, as mlx5 frees an implicit ODP child whose pages are all
 * invalidated: neither a process that maps and unmaps memory for ever nor
 * an implicit region swept over a large address space grows the mirror
 * for ever, and the next job on the chunk makes it anew.
 * Ranges are never merged: a chunk is the unit of both notifier and PTE
 * table, and two chunks are exactly as cheap as one range over both.
 *
 * All PTE updates and lookups happen under the context's pt_lock, a
 * spinlock, so that a non-blockable invalidation can zap without sleeping
 * and the engine can hold a translation for exactly one page step.
 */

static size_t hmirror_range_bytes(const struct hmirror_range *r)
{
	return sizeof(*r) + (r->ptes ? HMIRROR_CHUNK_PAGES * sizeof(u64) : 0);
}

/**
 * hmirror_range_get() - find or create the mirror range of a chunk
 * @ctx: context
 * @addr: any address in the chunk
 *
 * Creating a range inserts its interval notifier, which may sleep and
 * takes the mm's locks: callers hold ctx->lock, never pt_lock.
 *
 * Return: the range or an ERR_PTR().
 */
noinline struct hmirror_range *hmirror_range_get(struct hmirror_ctx *ctx,
						 unsigned long addr)
{
	unsigned long idx = addr >> HMIRROR_CHUNK_SHIFT;
	struct hmirror_range *r;
	int ret;

	lockdep_assert_held(&ctx->lock);

	r = xa_load(&ctx->ranges, idx);
	if (r)
		return r;
	/* Bounded whatever user space asks: 512 GiB of mirror per context. */
	if (READ_ONCE(ctx->stats.ranges) >= HMIRROR_MAX_RANGES)
		return ERR_PTR(-ENOSPC);

	if (hmirror_fault_should_fail(HMIRROR_FAULT_RANGE_ALLOC, ctx))
		return ERR_PTR(-ENOMEM);
	r = kzalloc_obj(*r, GFP_KERNEL_ACCOUNT);
	if (!r)
		return ERR_PTR(-ENOMEM);
	r->ctx = ctx;
	r->start = idx << HMIRROR_CHUNK_SHIFT;

	if (hmirror_fault_should_fail(HMIRROR_FAULT_NOTIFIER_INSERT, ctx))
		ret = -ENOMEM;
	else
		ret = mmu_interval_notifier_insert(&r->notifier, ctx->mm,
						   r->start, HMIRROR_CHUNK_SIZE,
						   &hmirror_range_ops);
	if (ret)
		goto err_free;

	/* The device's directory down to this chunk (PCI backend). */
	if (ctx->hdev->ops->range_init) {
		ret = ctx->hdev->ops->range_init(r);
		if (ret)
			goto err_remove;
	}

	ret = xa_err(xa_store(&ctx->ranges, idx, r, GFP_KERNEL));
	if (ret)
		goto err_remove;

	hmirror_obj_get();
	spin_lock(&ctx->pt_lock);
	ctx->stats.ranges++;
	ctx->stats.pt_bytes += hmirror_range_bytes(r);
	spin_unlock(&ctx->pt_lock);
	return r;

err_remove:
	mmu_interval_notifier_remove(&r->notifier);
err_free:
	kfree(r);
	return ERR_PTR(ret);
}
ALLOW_ERROR_INJECTION(hmirror_range_get, ERRNO);

static void hmirror_range_free(struct hmirror_ctx *ctx, struct hmirror_range *r)
{
	/* Waits for a callback in flight on this range. */
	mmu_interval_notifier_remove(&r->notifier);
	kvfree(r->ptes);
	kfree(r);
	hmirror_obj_put();
}

/*
 * Free an unpublished range of a live context: first the device lets go
 * of its PTE array (a dying context's device state is reset already).
 */
static void hmirror_range_release(struct hmirror_ctx *ctx,
				  struct hmirror_range *r)
{
	if (ctx->hdev->ops->range_fini)
		ctx->hdev->ops->range_fini(r);
	hmirror_range_free(ctx, r);
}

/* Unpublish @r if it is idle: no PTE, no job using its chunk. */
static bool __hmirror_range_unlink_idle(struct hmirror_ctx *ctx,
					struct hmirror_range *r)
{
	u64 newest;

	lockdep_assert_held(&ctx->pt_lock);
	if (r->nr_valid || r->huge ||
	    hmirror_jobs_overlap(ctx, r->start, r->start + HMIRROR_CHUNK_SIZE,
				 &newest))
		return false;
	xa_erase(&ctx->ranges, r->start >> HMIRROR_CHUNK_SHIFT);
	ctx->stats.ranges--;
	ctx->stats.pt_bytes -= hmirror_range_bytes(r);
	return true;
}

/**
 * hmirror_ranges_reclaim_work() - free the idle ranges of a context
 * @work: ctx->reclaim_work, queued (delayed) when an invalidation empties
 *	  a range, which it marks HMIRROR_RANGE_EMPTIED
 *
 * Looks at the marked ranges only, so its cost follows the invalidations,
 * not the size of the mirror. Runs under ctx->lock, so no submit holds a
 * range it is about to free; an engine lookup that races finds no range,
 * as it would find no PTE.
 */
void hmirror_ranges_reclaim_work(struct work_struct *work)
{
	struct hmirror_ctx *ctx = container_of(to_delayed_work(work),
					       struct hmirror_ctx, reclaim_work);
	struct hmirror_range *r;
	unsigned long idx;
	bool idle;

	mutex_lock(&ctx->lock);
	xa_for_each_marked(&ctx->ranges, idx, r, HMIRROR_RANGE_EMPTIED) {
		xa_clear_mark(&ctx->ranges, idx, HMIRROR_RANGE_EMPTIED);
		spin_lock(&ctx->pt_lock);
		idle = __hmirror_range_unlink_idle(ctx, r);
		spin_unlock(&ctx->pt_lock);
		if (idle)
			hmirror_range_release(ctx, r);
		cond_resched();
	}
	mutex_unlock(&ctx->lock);
}

/**
 * hmirror_ranges_destroy() - remove every range of a dying context
 * @ctx: context, with no job left and the engine reset
 */
void hmirror_ranges_destroy(struct hmirror_ctx *ctx)
{
	struct hmirror_range *r;
	unsigned long idx;

	xa_for_each(&ctx->ranges, idx, r) {
		spin_lock(&ctx->pt_lock);
		xa_erase(&ctx->ranges, idx);
		ctx->stats.ranges--;
		ctx->stats.pt_bytes -= hmirror_range_bytes(r);
		spin_unlock(&ctx->pt_lock);
		hmirror_range_free(ctx, r);
	}
	xa_destroy(&ctx->ranges);
}

/* A failed fault must not leave an empty range behind. */
static void hmirror_range_drop_idle(struct hmirror_ctx *ctx,
				    struct hmirror_range *r)
{
	bool idle;

	spin_lock(&ctx->pt_lock);
	idle = __hmirror_range_unlink_idle(ctx, r);
	spin_unlock(&ctx->pt_lock);
	if (idle)
		hmirror_range_release(ctx, r);
}

/* Tell a device that walks the table itself where @r's entries now are. */
static void __hmirror_range_update(struct hmirror_range *r)
{
	lockdep_assert_held(&r->ctx->pt_lock);
	if (r->ctx->hdev->ops->range_update)
		r->ctx->hdev->ops->range_update(r);
}

/*
 * A new array of 4 KiB PTEs, not yet @r's: hmirror_pt_fault() fills and
 * publishes it with its first PTEs, so the whole array is written once.
 */
static int hmirror_range_new_ptes(struct hmirror_range *r, u64 **ptesp)
{
	struct hmirror_ctx *ctx = r->ctx;

	lockdep_assert_held(&ctx->lock);
	if (r->ptes || *ptesp)
		return 0;
	if (hmirror_fault_should_fail(HMIRROR_FAULT_PTE_ALLOC, ctx))
		return -ENOMEM;
	/* Sleeping allocation: before pt_lock, never under it. */
	*ptesp = kvmalloc_array(HMIRROR_CHUNK_PAGES, sizeof(u64),
				GFP_KERNEL_ACCOUNT);
	return *ptesp ? 0 : -ENOMEM;
}

/*
 * Make *@ptesp @r's array, if @r has none: entries outside [@first,
 * @first + @n) are zeroed, those inside are the caller's to write before
 * it lets go of pt_lock (a device walks the array once it is published).
 * Return: true if the array is new.
 */
static bool __hmirror_range_install_ptes(struct hmirror_range *r,
					 u64 **ptesp, unsigned int first,
					 unsigned int n)
{
	lockdep_assert_held(&r->ctx->pt_lock);
	if (r->ptes || !*ptesp)	/* none new: nothing present to program */
		return false;
	memset(*ptesp, 0, first * sizeof(u64));
	memset(*ptesp + first + n, 0,
	       (HMIRROR_CHUNK_PAGES - first - n) * sizeof(u64));
	r->ptes = *ptesp;
	*ptesp = NULL;
	r->ctx->stats.pt_bytes += HMIRROR_CHUNK_PAGES * sizeof(u64);
	return true;
}

/* Give @r its array of 4 KiB PTEs, all clear, if it has none yet. */
static int hmirror_range_alloc_ptes(struct hmirror_range *r)
{
	struct hmirror_ctx *ctx = r->ctx;
	u64 *ptes = NULL;
	int ret;

	ret = hmirror_range_new_ptes(r, &ptes);
	if (ret || !ptes)
		return ret;
	spin_lock(&ctx->pt_lock);
	if (__hmirror_range_install_ptes(r, &ptes, 0, 0))
		__hmirror_range_update(r);
	spin_unlock(&ctx->pt_lock);
	kvfree(ptes);
	return 0;
}

static void __hmirror_pt_set(struct hmirror_range *r, unsigned int i, u64 pte)
{
	struct hmirror_ctx *ctx = r->ctx;
	bool was = r->ptes[i] & HMIRROR_PTE_VALID;

	lockdep_assert_held(&ctx->pt_lock);
	if ((r->ptes[i] & HMIRROR_PTE_EXCL) && !(pte & HMIRROR_PTE_EXCL))
		ctx->stats.excl_revoked++;
	r->ptes[i] = pte;
	if (!was && pte) {
		r->nr_valid++;
		ctx->stats.ptes++;
	} else if (was && !pte) {
		r->nr_valid--;
		ctx->stats.ptes--;
	}
}

static void __hmirror_pt_clear_huge(struct hmirror_range *r)
{
	lockdep_assert_held(&r->ctx->pt_lock);
	if (r->huge) {
		r->huge = 0;
		r->ctx->stats.ptes -= HMIRROR_CHUNK_PAGES;
		__hmirror_range_update(r);
	}
}

static u64 hmirror_pte_from_hmm(unsigned long hpfn)
{
	u64 pte = ((u64)(hpfn & ~HMM_PFN_FLAGS) << PAGE_SHIFT) |
		  HMIRROR_PTE_VALID;

	if (hpfn & HMM_PFN_WRITE)
		pte |= HMIRROR_PTE_WRITE;
	return pte;
}

/*
 * Program the PTEs of [start, start + npages pages) from hmm's output;
 * *@ptesp, from hmirror_range_new_ptes(), becomes @r's array if it has
 * none (and is then NULL).
 */
static void __hmirror_pt_program(struct hmirror_range *r, unsigned long start,
				 unsigned long npages, const unsigned long *pfns,
				 bool huge, u64 **ptesp)
{
	unsigned long first = (start - r->start) >> PAGE_SHIFT;
	unsigned long i, added = 0;
	bool fresh;

	lockdep_assert_held(&r->ctx->pt_lock);

	if (huge) {
		/* The CPU maps the whole chunk with one PMD: so do we. */
		if (!r->huge)
			r->ctx->stats.ptes += HMIRROR_CHUNK_PAGES;
		r->huge = hmirror_pte_from_hmm(pfns[0]) - (first << PAGE_SHIFT);
		__hmirror_range_update(r);
		for (i = 0; r->ptes && r->nr_valid && i < HMIRROR_CHUNK_PAGES; i++)
			__hmirror_pt_set(r, i, 0);
		return;
	}

	/* hmm_range_fault() succeeded: every pfn it gave is valid. */
	fresh = __hmirror_range_install_ptes(r, ptesp, first, npages);
	for (i = 0; i < npages; i++) {
		/* A new array's entries here are unwritten: none was valid. */
		if (!fresh)
			added += !(r->ptes[first + i] & HMIRROR_PTE_VALID);
		r->ptes[first + i] = hmirror_pte_from_hmm(pfns[i]);
	}
	if (fresh)
		added = npages;
	r->nr_valid += added;
	r->ctx->stats.ptes += added;
	/* A small mapping after a huge one: the CPU split the THP. */
	if (r->huge)
		__hmirror_pt_clear_huge(r);	/* publishes the array */
	else if (fresh)
		__hmirror_range_update(r);
}

/*
 * PREFETCH_NO_FAULT: program only what hmm_range_fault() found present;
 * a page it did not find keeps its PTE (a device-exclusive page is not
 * present for the CPU, yet ours), since an invalidation zapped any PTE
 * whose CPU page went away. Return: pages programmed.
 */
static unsigned long __hmirror_pt_program_present(struct hmirror_range *r,
						  unsigned long start,
						  unsigned long npages,
						  const unsigned long *pfns,
						  u64 **ptesp)
{
	unsigned long first = (start - r->start) >> PAGE_SHIFT, i, n = 0;
	bool fresh;

	lockdep_assert_held(&r->ctx->pt_lock);
	fresh = __hmirror_range_install_ptes(r, ptesp, 0, 0);
	for (i = 0; i < npages; i++) {
		if (!(pfns[i] & HMM_PFN_VALID))
			continue;
		__hmirror_pt_set(r, first + i, hmirror_pte_from_hmm(pfns[i]));
		n++;
	}
	if (fresh)
		__hmirror_range_update(r);
	return n;
}

static unsigned long hmirror_pfns_present(const unsigned long *pfns,
					  unsigned long npages)
{
	unsigned long i, n = 0;

	for (i = 0; i < npages; i++)
		n += !!(pfns[i] & HMM_PFN_VALID);
	return n;
}

static bool hmirror_pfns_writable(const unsigned long *pfns,
				  unsigned long npages)
{
	unsigned long i;

	for (i = 0; i < npages; i++)
		if (!(pfns[i] & HMM_PFN_WRITE))
			return false;
	return true;
}

/*
 * Does the device map every page of [start, end) already, with the access
 * wanted? Its PTEs are never stale (invalidations zap them under pt_lock
 * before the CPU's change), so if they are all there, as after a
 * prefetch, there is nothing for hmm_range_fault() to do.
 */
static bool __hmirror_pt_covered(struct hmirror_range *r, unsigned long start,
				 unsigned long end, bool write)
{
	unsigned long i, first = (start - r->start) >> PAGE_SHIFT;
	unsigned long n = (end - start) >> PAGE_SHIFT;
	u64 need = HMIRROR_PTE_VALID | (write ? HMIRROR_PTE_WRITE : 0);

	lockdep_assert_held(&r->ctx->pt_lock);
	if (r->huge)
		return (r->huge & need) == need;
	if (!r->ptes || r->nr_valid < n)
		return false;
	for (i = 0; i < n; i++)
		if ((r->ptes[first + i] & need) != need)
			return false;
	return true;
}

/* One hmm_range_fault() walk, the mmap lock held or, unlocked, droppable. */
static int hmirror_pt_hmm_fault(struct hmm_range *range, unsigned int flags)
{
	int ret;

#if HMIRROR_HAVE_HMM_UNLOCKED
	/* Takes the lock and restarts (new notifier_seq) itself. */
	if (flags & HMIRROR_PT_UNLOCKED)
		return hmm_range_fault_unlocked_timeout(range, 0);
#endif
	range->notifier_seq = mmu_interval_read_begin(range->notifier);
	mmap_read_lock(range->notifier->mm);
	ret = hmm_range_fault(range);
	mmap_read_unlock(range->notifier->mm);
	return ret;
}

/* Is the hmm pfn @hpfn a page of @hdev's device memory? */
static bool hmirror_pfn_is(struct hmirror_device *hdev, unsigned long hpfn)
{
	return (hpfn & HMM_PFN_VALID) &&
	       hmirror_page_is_mine(hdev, hmm_pfn_to_page(hpfn));
}

/*
 * Pages of a region in another instance's memory: refuse them
 * (HMIRROR_PT_LOCAL: -EXDEV), or move them here, device to device, run by
 * run and from their own instance only, so that the move invalidates no
 * more than the pages that move. Only instances holding pages are asked,
 * one walk without faults each: their private pages show only to their
 * owner. A move that cannot be made (no free device memory here, a
 * pending NONE-class job of this context on the pages, an error) is no
 * failure: the fault that follows brings those pages to system memory,
 * as it does for memory named by address.
 */
static int hmirror_pt_pull(struct hmirror_range *r, unsigned long start,
			   unsigned long end, unsigned int flags,
			   unsigned long *pfns)
{
	struct hmirror_ctx *ctx = r->ctx;
	unsigned long i, run, n = (end - start) >> PAGE_SHIFT;
	struct hmm_range range = {
		.notifier = &r->notifier,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
	};
	struct hmirror_device *other;
	unsigned int d;
	u64 newest;
	bool busy;
	int ret;

	for (d = 0; d < HMIRROR_MAX_DEVICES; d++) {
		other = hmirror_device_get(d);
		if (!other || other == ctx->hdev || !other->devmem ||
		    !atomic64_read(&other->devmem->resident))
			continue;
		range.dev_private_owner = other;
		do {
			if (fatal_signal_pending(current))
				return -EINTR;
			ret = hmirror_pt_hmm_fault(&range, 0);
		} while (ret == -EBUSY);
		if (ret)
			return 0;	/* the fault will tell */

		for (i = 0; i < n; i = run) {
			while (i < n && !hmirror_pfn_is(other, pfns[i]))
				i++;
			for (run = i; run < n && hmirror_pfn_is(other, pfns[run]);)
				run++;
			if (i == run)
				break;
			if (flags & HMIRROR_PT_LOCAL)
				return -EXDEV;
			if (!ctx->hdev->devmem)
				return 0;
			spin_lock(&ctx->pt_lock);
			busy = ctx->preempt == HMIRROR_PREEMPT_NONE &&
			       hmirror_jobs_overlap(ctx, start + (i << PAGE_SHIFT),
						    start + (run << PAGE_SHIFT),
						    &newest);
			spin_unlock(&ctx->pt_lock);
			if (busy)
				continue;
			ret = hmirror_migrate_pull(ctx, other,
						   start + (i << PAGE_SHIFT),
						   start + (run << PAGE_SHIFT));
			if (ret == -EINTR)
				return ret;
		}
	}
	return 0;
}

/**
 * hmirror_pt_fault() - mirror [start, end) of one chunk into the device PT
 * @ctx: context; its mm must be pinned (mmget) by the caller
 * @start: page-aligned start
 * @end: page-aligned end, in the same chunk as @start
 * @flags: HMIRROR_PT_WRITE (fault for writing), HMIRROR_PT_UNLOCKED (let
 *	   the fault handlers drop the mmap lock, as userfaultfd needs),
 *	   HMIRROR_PT_EPERM (report a write to a read-only mapping as -EPERM),
 *	   HMIRROR_PT_PRESENT (fault nothing: mirror the pages the CPU maps,
 *	   with the CPU's access), HMIRROR_PT_PULL (pages in another
 *	   instance's memory move to this one's first), HMIRROR_PT_LOCAL
 *	   (...or fail the call with -EXDEV)
 * @pfns: scratch space for HMIRROR_CHUNK_PAGES hmm pfns
 * @rp: out: the chunk's range (NULL after a HMIRROR_PT_PRESENT call
 *	that found nothing present)
 * @seqp: out: the notifier sequence the PTEs were programmed under
 *
 * Follows the mmu_interval_read_begin() / hmm_range_fault() /
 * mmu_interval_read_retry() protocol: the PTEs are programmed under
 * pt_lock only if no invalidation of the chunk ran since read_begin.
 * Retries (hmm_range_fault() -EBUSY, or a sequence that moved) give up
 * after HMM_RANGE_DEFAULT_TIMEOUT, as amdgpu's and nouveau's do: a storm
 * of invalidations that never lets a walk through fails the call with
 * -EBUSY instead of spinning in it for ever. A fatal signal ends them
 * sooner.
 *
 * Return: 0, -EFAULT if some page is not mapped with the access wanted
 * (-EPERM for a write to a read-only mapping under HMIRROR_PT_EPERM),
 * -EINTR on a fatal signal, -ENOMEM, -EOPNOTSUPP for HMIRROR_PT_UNLOCKED
 * on a kernel without hmm_range_fault_unlocked_timeout(), -EXDEV, -EBUSY
 * (retried for HMM_RANGE_DEFAULT_TIMEOUT ms), -EIO (context dead).
 */
noinline int hmirror_pt_fault(struct hmirror_ctx *ctx, unsigned long start,
			      unsigned long end, unsigned int flags,
			      unsigned long *pfns, struct hmirror_range **rp,
			      unsigned long *seqp)
{
	unsigned long npages = (end - start) >> PAGE_SHIFT;
	bool present = flags & HMIRROR_PT_PRESENT;
	bool write = (flags & HMIRROR_PT_WRITE) && !present;
	struct hmm_range range = {
		.start = start,
		.end = end,
		.default_flags = present ? 0 : HMM_PFN_REQ_FAULT |
				 (write ? HMM_PFN_REQ_WRITE : 0),
		.dev_private_owner = ctx->hdev,
		.hmm_pfns = pfns,
	};
	unsigned long timeout, nfault;
	struct hmirror_range *r;
	unsigned long done = 0;
	u64 *ptes = NULL;
	bool huge, probe;
	int ret;

	lockdep_assert_held(&ctx->lock);

	if ((flags & HMIRROR_PT_UNLOCKED) && !HMIRROR_HAVE_HMM_UNLOCKED)
		return -EOPNOTSUPP;
	r = hmirror_range_get(ctx, start);
	if (IS_ERR(r))
		return PTR_ERR(r);

	range.notifier = &r->notifier;

	/*
	 * Mirrored already (prefetched, or by an earlier job): the sequence
	 * now vouches for the PTEs as a fault's would, as drm_gpusvm does
	 * for ranges whose pages are valid. Publication checks it again.
	 */
	if (!present) {
		range.notifier_seq = mmu_interval_read_begin(&r->notifier);
		spin_lock(&ctx->pt_lock);
		ret = ctx->state == HMIRROR_CTX_ALIVE &&
		      !mmu_interval_read_retry(&r->notifier, range.notifier_seq) &&
		      __hmirror_pt_covered(r, start, end, write);
		if (ret)
			ctx->stats.pt_hits++;
		spin_unlock(&ctx->pt_lock);
		if (ret) {
			*rp = r;
			*seqp = range.notifier_seq;
			return 0;
		}
	}

	if (flags & (HMIRROR_PT_PULL | HMIRROR_PT_LOCAL)) {
		ret = hmirror_pt_pull(r, start, end, flags, pfns);
		if (ret)
			goto out;
	}

	/*
	 * A chunk the CPU maps with one PMD needs one pfn, not 512: ask for
	 * the first page, and for the rest only if it is not mapped huge.
	 * Where the chunk before was mapped small, the next likely is too,
	 * and the probe would be a walk more for nothing.
	 */
	probe = !present && !ctx->fault_small && npages > 1;
	timeout = jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	for (;; cond_resched()) {
		range.end = probe ? start + PAGE_SIZE : end;
		nfault = probe ? 1 : npages;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (time_after(jiffies, timeout)) {
			ret = -EBUSY;
			break;
		}
		ret = hmirror_pt_hmm_fault(&range, flags);
		/* The walk is done either way: a storm costs what it would. */
		if (!ret && hmirror_fault_should_fail(HMIRROR_FAULT_HMM_BUSY, ctx))
			ret = -EBUSY;
		else if (!ret &&
			 hmirror_fault_should_fail(HMIRROR_FAULT_HMM_FAULT, ctx))
			ret = -EFAULT;
		if (ret == -EBUSY) {
			spin_lock(&ctx->pt_lock);
			ctx->stats.fault_retries++;
			spin_unlock(&ctx->pt_lock);
			continue;
		}
		if (ret) {
			/* A write to a read-only mapping: not mapped as needed. */
			if (ret == -EPERM && !(flags & HMIRROR_PT_EPERM))
				ret = -EFAULT;
			break;
		}

		/*
		 * hmm_range_fault() reports this device's own pages as they
		 * are, read-only ones too (after a fork, say), whatever
		 * HMM_PFN_REQ_WRITE asked: to write, fault them back to
		 * system memory like anybody else's.
		 */
		if (write && range.dev_private_owner &&
		    !hmirror_pfns_writable(pfns, nfault)) {
			range.dev_private_owner = NULL;
			continue;
		}

		huge = (pfns[0] & HMM_PFN_VALID) &&
		       hmm_pfn_to_map_order(pfns[0]) >= PMD_ORDER;
		if (probe && !huge) {
			probe = false;
			continue;
		}
		done = present ? hmirror_pfns_present(pfns, npages) : npages;
		if (!huge && done) {
			ret = hmirror_range_new_ptes(r, &ptes);
			if (ret)
				break;
		}

		spin_lock(&ctx->pt_lock);
		if (ctx->state != HMIRROR_CTX_ALIVE) {
			/* Reset or closing: its PTEs are gone, keep it so. */
			spin_unlock(&ctx->pt_lock);
			ret = -EIO;
			break;
		}
		if (mmu_interval_read_retry(&r->notifier, range.notifier_seq)) {
			ctx->stats.fault_retries++;
			spin_unlock(&ctx->pt_lock);
			continue;
		}
		if (present && !huge)
			__hmirror_pt_program_present(r, start, npages, pfns,
						     &ptes);
		else
			__hmirror_pt_program(r, start, npages, pfns, huge,
					     &ptes);
		ctx->stats.faults++;
		ctx->stats.pages_faulted += done;
		spin_unlock(&ctx->pt_lock);
		if (!present)
			ctx->fault_small = !huge;
		*rp = r;
		*seqp = range.notifier_seq;
		break;
	}
out:
	kvfree(ptes);	/* not needed after all: huge, or a failure */
	/*
	 * A failure leaves no empty range, nor does a PREFETCH_NO_FAULT that
	 * found nothing present (its caller uses no range). A successful
	 * fault's range is never dropped here: a zap racing after pt_lock
	 * went may have emptied it, but the caller's marks still point to
	 * it; the reclaim work that zap queued takes it once it is idle.
	 */
	if (ret || (present && !done)) {
		hmirror_range_drop_idle(ctx, r);
		if (!ret)
			*rp = NULL;
	}
	trace_hmirror_fault(ctx->hdev->index, ctx->id, start, end, write, ret);
	return ret;
}
ALLOW_ERROR_INJECTION(hmirror_pt_fault, ERRNO);

/**
 * DOC: device-exclusive access
 *
 * A device that runs atomics on system memory over a link that cannot
 * make them atomic with the CPU's (PCIe without atomics, a NIC) needs the
 * CPU kept off the page while it works on it. hmirror_pt_make_exclusive()
 * asks the kernel for that with make_device_exclusive(): the CPU's PTE
 * becomes a device-exclusive swap entry, and the device's PTE gets
 * HMIRROR_PTE_EXCL. Any CPU access to the page, read or write, faults,
 * restores the CPU's PTE and first sends an invalidation of that page;
 * the callback zaps the device's PTE like any other, which is the
 * revocation. The engine runs an EXCLUSIVE command only through a PTE
 * with the bit (or on the device's own memory, which the CPU cannot
 * reach anyway), so it never works on a page the CPU is using.
 *
 * make_device_exclusive() works on one 4 KiB PTE: a THP's PMD is split
 * first (the folio stays whole), and that split invalidates the chunk's
 * huge entry, so exclusive pages always have 4 KiB device PTEs. It first
 * faults the page in writable (so a page exclusive to someone else comes
 * back to the CPU first) and sends its own invalidation,
 * MMU_NOTIFY_EXCLUSIVE, with this device as owner. The callbacks of this
 * device's contexts ignore that one event, without even moving the
 * notifier sequence: the page stays where it is, the exclusivity is this
 * device's, and moving the sequence would fail the read_retry check that
 * follows it for ever. A context of another device zaps as usual.
 *
 * The page is mapped as nouveau does it: under the notifier sequence
 * taken before the fault, checked under pt_lock while the folio lock
 * still holds off the CPU's restore. A page whose device PTE already has
 * the bit is left alone: taking it again would restore it first and
 * count a revocation nobody caused.
 */

/* Is the page of @addr device-exclusive for us, or in our own memory? */
static bool __hmirror_pt_exclusive(struct hmirror_ctx *ctx, unsigned long addr)
{
	u64 pte = hmirror_pt_lookup(ctx, addr);

	lockdep_assert_held(&ctx->pt_lock);
	if (!(pte & HMIRROR_PTE_VALID) || !(pte & HMIRROR_PTE_WRITE))
		return false;
	return (pte & HMIRROR_PTE_EXCL) ||
	       is_device_private_page(pfn_to_page(pte >> PAGE_SHIFT));
}

/* Take one page of @r exclusive under @seq; -EAGAIN if @seq went stale. */
static int hmirror_pt_take_exclusive(struct hmirror_range *r,
				     unsigned long addr, unsigned long seq)
{
	struct hmirror_ctx *ctx = r->ctx;
	struct folio *folio;
	struct page *page;
	unsigned int i = (addr - r->start) >> PAGE_SHIFT;
	int ret = 0;

	mmap_read_lock(ctx->mm);
	page = hmirror_make_device_exclusive(ctx->mm, addr, ctx->hdev, &folio);
	mmap_read_unlock(ctx->mm);
	if (IS_ERR(page))
		return PTR_ERR(page);

	/* The folio lock holds a CPU fault's restore off until we are done. */
	spin_lock(&ctx->pt_lock);
	if (ctx->state != HMIRROR_CTX_ALIVE) {
		ret = -EIO;
	} else if (mmu_interval_read_retry(&r->notifier, seq)) {
		ctx->stats.fault_retries++;
		ret = -EAGAIN;
	} else {
		__hmirror_pt_set(r, i, ((u64)page_to_pfn(page) << PAGE_SHIFT) |
			       HMIRROR_PTE_VALID | HMIRROR_PTE_WRITE |
			       HMIRROR_PTE_EXCL);
		ctx->stats.excl_taken++;
	}
	spin_unlock(&ctx->pt_lock);
	folio_unlock(folio);
	folio_put(folio);
	return ret;
}

/**
 * hmirror_pt_make_exclusive() - map pages device-exclusive into the PT
 * @ctx: context; its mm must be pinned (mmget) by the caller
 * @start: page-aligned start
 * @end: page-aligned end, in the same chunk as @start
 * @pfns: scratch space for HMIRROR_CHUNK_PAGES hmm pfns
 * @rp: out: the chunk's range
 * @seqp: out: the notifier sequence every page was mapped under
 *
 * Each page is faulted in for writing (hmirror_pt_fault()); a page in
 * this device's memory is then mapped as is, any other is made
 * device-exclusive (make_device_exclusive()) and mapped with
 * HMIRROR_PTE_EXCL. An invalidation of the chunk while this runs starts
 * it again from @start (pages already exclusive are skipped).
 *
 * Return: 0, -EFAULT if some page is not mapped writable, -EOPNOTSUPP if
 * some page is not private anonymous memory, -EBUSY (older kernels: a
 * page could not be taken), -EINTR, -ENOMEM, -EIO (context dead).
 */
int hmirror_pt_make_exclusive(struct hmirror_ctx *ctx, unsigned long start,
			      unsigned long end, unsigned long *pfns,
			      struct hmirror_range **rp, unsigned long *seqp)
{
	struct hmirror_range *r;
	unsigned long addr, seq, fseq;
	bool done;
	u64 pte;
	int ret;

	lockdep_assert_held(&ctx->lock);

	r = hmirror_range_get(ctx, start);
	if (IS_ERR(r))
		return PTR_ERR(r);
	ret = hmirror_range_alloc_ptes(r);
	if (ret)
		goto out;
again:
	seq = mmu_interval_read_begin(&r->notifier);
	for (addr = start; addr < end; addr += PAGE_SIZE) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out;
		}
		spin_lock(&ctx->pt_lock);
		done = __hmirror_pt_exclusive(ctx, addr);
		spin_unlock(&ctx->pt_lock);
		if (done)
			continue;

		/* On failure it has let go of an idle @r: so do we. */
		ret = hmirror_pt_fault(ctx, addr, addr + PAGE_SIZE,
				       HMIRROR_PT_WRITE, pfns,
				       &r, &fseq);
		if (ret)
			return ret;
		/*
		 * The sequence moved, maybe by this very fault restoring a
		 * page still device-exclusive for us (after a THP split, an
		 * mprotect): start again under the new one, which finds
		 * the page present.
		 */
		if (fseq != seq)
			goto again;
		/*
		 * Our own memory: no CPU can reach it, nothing to take. The
		 * PTE says so (the fault may have found it mapped already
		 * and left @pfns alone), and @seq vouches for it.
		 */
		spin_lock(&ctx->pt_lock);
		pte = hmirror_pt_lookup(ctx, addr);
		spin_unlock(&ctx->pt_lock);
		if ((pte & HMIRROR_PTE_VALID) &&
		    is_device_private_page(pfn_to_page(pte >> PAGE_SHIFT)))
			continue;
		ret = hmirror_pt_take_exclusive(r, addr, seq);
		if (ret == -EAGAIN)
			goto again;
		if (ret)
			goto out;
	}

	/* Every page was checked or mapped under @seq: is it still good? */
	spin_lock(&ctx->pt_lock);
	done = !mmu_interval_read_retry(&r->notifier, seq);
	spin_unlock(&ctx->pt_lock);
	if (!done)
		goto again;
	*rp = r;
	*seqp = seq;
out:
	if (ret)
		hmirror_range_drop_idle(ctx, r);
	return ret;
}

/**
 * hmirror_pt_lookup() - the device's translation of one user address
 * @ctx: context, with pt_lock held
 * @addr: user address
 *
 * Return: the PTE of @addr's page (pfn << PAGE_SHIFT | HMIRROR_PTE_*), or
 * 0 if the device has no translation for it.
 */
u64 hmirror_pt_lookup(struct hmirror_ctx *ctx, unsigned long addr)
{
	struct hmirror_range *r;
	unsigned long i;

	lockdep_assert_held(&ctx->pt_lock);

	r = xa_load(&ctx->ranges, addr >> HMIRROR_CHUNK_SHIFT);
	if (!r)
		return 0;
	i = (addr - r->start) >> PAGE_SHIFT;
	if (r->huge)
		return r->huge + ((u64)i << PAGE_SHIFT);
	return r->ptes ? r->ptes[i] : 0;
}

/**
 * hmirror_pt_map() - kernel address of the page the device maps at @addr
 * @ctx: context, with pt_lock held until hmirror_pt_unmap()
 * @addr: user address
 * @write: the device wants to write there
 * @excl: ...and needs the page device-exclusive: a page in system (or
 *	  coherent) memory whose PTE lacks HMIRROR_PTE_EXCL is as good as
 *	  missing; the device's own private pages are always its own
 *
 * This is the device's own view: what its PTE says, never the CPU's page
 * tables. pt_lock keeps the page from being freed (invalidations zap the
 * PTE under it before the page goes).
 *
 * Return: the kernel address of @addr (a kmap_local_page() of its page, or
 * of the backing page of this device's private pages, or the VRAM page
 * through the BAR), or NULL if the device has no translation allowing the
 * access.
 */
void *hmirror_pt_map(struct hmirror_ctx *ctx, unsigned long addr, bool write,
		     bool excl)
{
	u64 pte = hmirror_pt_lookup(ctx, addr);
	struct page *page;

	if (!(pte & HMIRROR_PTE_VALID) || (write && !(pte & HMIRROR_PTE_WRITE)))
		return NULL;
	page = pfn_to_page(pte >> PAGE_SHIFT);
	/* The device's own memory is its own: always exclusive. */
	if (excl && !is_device_private_page(page) && !(pte & HMIRROR_PTE_EXCL))
		return NULL;
	return hmirror_page_map(page) + offset_in_page(addr);
}

/**
 * hmirror_pt_unmap() - let go of what hmirror_pt_map() gave
 * @addr: the address it returned
 */
void hmirror_pt_unmap(void *addr)
{
	hmirror_page_unmap(addr);
}

/**
 * hmirror_pt_zap() - remove the device's translations of part of a range
 * @r: range, its context's pt_lock held
 * @start: start of the part
 * @end: end of the part
 *
 * A huge entry overlapping the part goes whole. The backend's TLB is
 * flushed before this returns.
 */
void hmirror_pt_zap(struct hmirror_range *r, unsigned long start,
		    unsigned long end)
{
	struct hmirror_ctx *ctx = r->ctx;
	unsigned long i, last;
	bool mapped;

	lockdep_assert_held(&ctx->pt_lock);

	start = max(start, r->start);
	end = min(end, r->start + HMIRROR_CHUNK_SIZE);
	if (start >= end)
		return;

	/*
	 * A device TLB caches valid entries only, and every earlier zap
	 * flushed what it cleared: with nothing valid here it holds nothing.
	 */
	mapped = r->huge || (r->ptes && r->nr_valid);
	__hmirror_pt_clear_huge(r);
	if (r->ptes && r->nr_valid) {
		last = (end - 1 - r->start) >> PAGE_SHIFT;
		for (i = (start - r->start) >> PAGE_SHIFT; i <= last; i++)
			__hmirror_pt_set(r, i, 0);
	}
	if (mapped && ctx->hdev->ops->tlb_flush)
		ctx->hdev->ops->tlb_flush(ctx, start, end);
}

/**
 * hmirror_pt_zap_all() - remove every translation of a context
 * @ctx: context, pt_lock held
 */
void hmirror_pt_zap_all(struct hmirror_ctx *ctx)
{
	struct hmirror_range *r;
	unsigned long idx;

	lockdep_assert_held(&ctx->pt_lock);
	xa_for_each(&ctx->ranges, idx, r)
		hmirror_pt_zap(r, r->start, r->start + HMIRROR_CHUNK_SIZE);
}
