// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror migration: moving anonymous memory between system memory and
 * the device memory of hmirror's device instances.
 */

#include <linux/error-injection.h>
#include <linux/hmm.h>
#include <linux/hugetlb.h>
#include <linux/memremap.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hmirror_internal.h"
#include "hmirror_trace.h"

/**
 * DOC: migration
 *
 * Migration works in windows of at most one naturally aligned 2 MiB
 * chunk, each a migrate_vma_setup() / copy / migrate_vma_pages() /
 * migrate_vma_finalize() round, so that a THP is collected whole
 * (MIGRATE_VMA_SELECT_COMPOUND, where the kernel has it) and moves to one
 * device folio, or to 512 device pages if no whole block is free, in
 * which case the core splits the THP.
 *
 * To the device: system pages first (SELECT_SYSTEM), then, in a second
 * pass, pages in the device memory of the other hmirror instances
 * (SELECT_DEVICE_PRIVATE or SELECT_DEVICE_COHERENT, by that instance's
 * kind, with that instance as owner), copied directly from one device's
 * memory to the other's: the GPU-to-GPU path, between kinds too. Back to
 * system memory: explicitly (MIGRATE to system), on a CPU fault
 * (migrate_to_ram, device-private memory only: the CPU maps coherent
 * pages and uses them in place), and by eviction (migrate_device_range(),
 * no mm needed). A round's copies are collected and run together before
 * migrate_vma_pages(), by the CPU or by the device's copy engine (see
 * hmirror_copy.c); a copy that fails leaves its page where it was.
 *
 * The mirror's PTEs are not updated here: the core sends MMU_NOTIFY_MIGRATE
 * invalidations for every page that moves, they zap the PTEs of every
 * context like any other invalidation, and the next job faults the new
 * location in (hmm_range_fault() reports this device's own pages as they
 * are, with dev_private_owner set, migrates other devices' private pages
 * back, and reports coherent pages, anybody's, as the present pages they
 * are).
 *
 * What moved is read back afterwards from the CPU page table itself
 * (an hmm_range_fault() snapshot of the window), so the status a caller
 * gets for each page is the truth, not the migration code's belief:
 * 0 if the page is now at the target, else why it stayed.
 */

#define HMIRROR_PMD_ORDER	(HMIRROR_CHUNK_SHIFT - PAGE_SHIFT)

#if HMIRROR_HAVE_DEVICE_THP
#define HMIRROR_SELECT_COMPOUND	MIGRATE_VMA_SELECT_COMPOUND
#define HMIRROR_MPFN_COMPOUND	MIGRATE_PFN_COMPOUND
#else
#define HMIRROR_SELECT_COMPOUND	0
#define HMIRROR_MPFN_COMPOUND	0
#endif

/* What migrate_vma selects to collect @hdev's device pages. */
static unsigned long hmirror_mig_select_dev(struct hmirror_device *hdev)
{
	return hdev->devmem->coherent ? MIGRATE_VMA_SELECT_DEVICE_COHERENT :
					MIGRATE_VMA_SELECT_DEVICE_PRIVATE;
}

/* In any device's memory, either kind: not in system memory. */
static bool hmirror_page_on_device(const struct page *page)
{
	return is_device_private_page(page) || is_device_coherent_page(page);
}

/* Scratch space of one window. */
struct hmirror_mig {
	unsigned long src[HMIRROR_CHUNK_PAGES];
	unsigned long dst[HMIRROR_CHUNK_PAGES];
	unsigned long hpfns[HMIRROR_CHUNK_PAGES];
	s32 why[HMIRROR_CHUNK_PAGES];	/* a reason a page did not move */
	struct page *pages[HMIRROR_CHUNK_PAGES];	/* bulk allocations */
	DECLARE_BITMAP(handed, HMIRROR_CHUNK_PAGES);	/* backing handed over */
	struct hmirror_copy copies[HMIRROR_CHUNK_PAGES];
	struct hmirror_device *from;	/* to the device: only from this one */
	bool evict;	/* may evict to make room */
};

/*
 * Run the copies of a round. Those that failed leave their entries
 * without a destination (freed here): the pages stay where they are, and
 * @why, if given, says why. Returns true if @fault_page's copy failed.
 */
static bool hmirror_mig_copy(struct hmirror_copy_batch *b,
			     const unsigned long *src, unsigned long *dst,
			     s32 *why, const struct page *fault_page)
{
	bool fault_failed = false;
	struct folio *folio;
	unsigned int i, idx;

	hmirror_copy_run(b);
	for (i = 0; i < b->n; i++) {
		if (!b->c[i].status)
			continue;
		idx = b->c[i].idx;
		folio = page_folio(migrate_pfn_to_page(dst[idx]));
		folio_unlock(folio);
		folio_put(folio);
		dst[idx] = 0;
		if (why)
			why[idx] = b->c[i].status;
		if (fault_page && migrate_pfn_to_page(src[idx]) == fault_page)
			fault_failed = true;
	}
	b->n = 0;
	return fault_failed;
}

static unsigned long hmirror_mpfn_write(unsigned long src,
					struct vm_area_struct *vma,
					bool hole)
{
	if ((src & MIGRATE_PFN_WRITE) || (hole && (vma->vm_flags & VM_WRITE)))
		return MIGRATE_PFN_WRITE;
	return 0;
}

/*
 * migrate_page injection: the core leaves this 4 KiB entry where it is, as
 * it does a page it cannot move. Done by giving it no destination, which
 * migrate_vma_pages() takes as such (clearing MIGRATE_PFN_MIGRATE on a
 * collected page would not stop it from migrating the page's mapping).
 */
static bool hmirror_mig_inject(struct hmirror_ctx *ctx, unsigned long s,
			       s32 *why)
{
	if (!ctx || (s & HMIRROR_MPFN_COMPOUND) ||
	    !hmirror_fault_should_fail(HMIRROR_FAULT_MIGRATE_PAGE, ctx))
		return false;
	*why = -EBUSY;
	return true;
}

/* Destinations in @hdev's memory for everything collected in @args. */
static void hmirror_alloc_copy_to_dev(struct hmirror_ctx *ctx,
				      struct hmirror_device *hdev,
				      struct migrate_vma *args, s32 *why,
				      bool evict, struct hmirror_copy_batch *b)
{
	unsigned long i, j, n = args->npages, s;
	struct page *spage, *dpage;

	for (i = 0; i < n; i++) {
		s = args->src[i];
		if (!(s & MIGRATE_PFN_MIGRATE))
			continue;
		if (hmirror_mig_inject(ctx, s, &why[i]))
			continue;
		spage = migrate_pfn_to_page(s);
		if (s & HMIRROR_MPFN_COMPOUND) {
			dpage = hmirror_devmem_alloc(hdev, HMIRROR_PMD_ORDER,
						     evict);
			if (dpage) {
				hmirror_copy_add(b, dpage, spage,
						 HMIRROR_CHUNK_PAGES, i);
				args->dst[i] = migrate_pfn(page_to_pfn(dpage)) |
					HMIRROR_MPFN_COMPOUND |
					hmirror_mpfn_write(s, args->vma, !spage);
				i += HMIRROR_CHUNK_PAGES - 1;
				continue;
			}
			/* No whole block: 4 KiB pages, the core splits. */
			for (j = 0; j < HMIRROR_CHUNK_PAGES && i + j < n; j++) {
				dpage = hmirror_devmem_alloc(hdev, 0, evict);
				if (!dpage) {
					why[i + j] = -ENOMEM;
					continue;
				}
				hmirror_copy_add(b, dpage, spage ? spage + j :
							     NULL, 1, i + j);
				args->dst[i + j] =
					migrate_pfn(page_to_pfn(dpage)) |
					hmirror_mpfn_write(s, args->vma, !spage);
			}
			i += HMIRROR_CHUNK_PAGES - 1;
			continue;
		}
		dpage = hmirror_devmem_alloc(hdev, 0, evict);
		if (!dpage) {
			why[i] = -ENOMEM;	/* stays in system memory */
			continue;
		}
		hmirror_copy_add(b, dpage, spage, 1, i);
		args->dst[i] = migrate_pfn(page_to_pfn(dpage)) |
			       hmirror_mpfn_write(s, args->vma, !spage);
	}
	hmirror_mig_copy(b, args->src, args->dst, why, NULL);
}

/* A THP-sized system folio for a device folio coming home, if any. */
static struct folio *hmirror_alloc_pmd_folio(struct vm_area_struct *vma,
					     unsigned long addr)
{
#if HMIRROR_HAVE_DEVICE_THP
	return vma_alloc_folio(GFP_HIGHUSER_MOVABLE | __GFP_NOWARN,
			       HMIRROR_PMD_ORDER, vma, addr);
#else
	return NULL;	/* no device folios on this kernel */
#endif
}

/*
 * Fresh system pages for the 4 KiB entries of @args that need a copy (not
 * device-private pages: their backing pages are handed over), in one bulk
 * allocation when the VMA has no memory policy of its own to honour.
 */
static void hmirror_alloc_bulk(struct migrate_vma *args, struct page **pages)
{
	unsigned long i, n = 0;

	memset(pages, 0, args->npages * sizeof(*pages));
	if (vma_policy(args->vma))
		return;
	for (i = 0; i < args->npages; i++) {
		if (args->src[i] & HMIRROR_MPFN_COMPOUND)
			i += HMIRROR_CHUNK_PAGES - 1;
		else if (migrate_pfn_to_page(args->src[i]) &&
			 (args->src[i] & MIGRATE_PFN_MIGRATE) &&
			 !hmirror_devmem_page_backed(migrate_pfn_to_page(args->src[i])))
			n++;
	}
	/* Short of @n, the rest come from alloc_page_vma() one by one. */
	if (n)
		hmirror_alloc_pages_bulk(GFP_HIGHUSER_MOVABLE, n, pages);
}

/*
 * A device page's own backing page as its destination, or with @whole a
 * device THP's backing folio: no allocation, no copy. The extra reference
 * keeps it if the migration fails and hmirror_mig_handback() gives it back
 * to the device page.
 */
static struct page *hmirror_handover(struct page *spage, unsigned long i,
				     unsigned long *handed, bool whole)
{
	struct folio *folio;
	struct page *dpage;

	if (!handed || !hmirror_devmem_page_backed(spage))
		return NULL;
	if (whole) {
		folio = hmirror_devmem_backing_take_folio(spage);
		dpage = folio ? &folio->page : NULL;
	} else {
		dpage = hmirror_devmem_backing_take(spage);
	}
	if (!dpage)
		return NULL;
	folio_get(page_folio(dpage));
	folio_lock(page_folio(dpage));
	__set_bit(i, handed);
	return dpage;
}

/*
 * Between migrate_vma_pages() and migrate_vma_finalize(): backing pages
 * of entries that did not move go back to their device pages (still
 * locked, so nobody read them meanwhile); the others are the CPU's now.
 * After finalize, hmirror_mig_handback_done() drops the extra references
 * of those that moved.
 */
static void hmirror_mig_handback(struct migrate_vma *args,
				 unsigned long *handed)
{
	struct page *spage, *dpage;
	unsigned long i;

	for_each_set_bit(i, handed, args->npages) {
		if (args->src[i] & MIGRATE_PFN_MIGRATE)
			continue;
		spage = migrate_pfn_to_page(args->src[i]);
		dpage = migrate_pfn_to_page(args->dst[i]);
		if (folio_test_large(page_folio(dpage)))
			hmirror_devmem_backing_give_folio(spage,
							  page_folio(dpage));
		else
			hmirror_devmem_backing_give(spage, dpage);
		__clear_bit(i, handed);
	}
}

static void hmirror_mig_handback_done(const unsigned long *dst,
				      unsigned long *handed,
				      unsigned long npages)
{
	unsigned long i;

	for_each_set_bit(i, handed, npages)
		put_page(migrate_pfn_to_page(dst[i]));
	bitmap_zero(handed, npages);
}

/*
 * System memory destinations for device pages collected in @args. With
 * @handed, 4 KiB device-private pages move by handing their backing pages
 * over (see hmirror_handover()), recorded there. @ctx: the context of an
 * explicit migration (NULL for a CPU fault), for migrate_page injection.
 */
static vm_fault_t hmirror_alloc_copy_to_sys(struct hmirror_ctx *ctx,
					    struct migrate_vma *args,
					    struct page *fault_page,
					    struct page **bulk,
					    unsigned long *handed,
					    struct hmirror_copy_batch *cb)
{
	unsigned long i, j, n = args->npages, s, addr, b = 0;
	struct page *spage, *dpage;
	struct folio *folio;
	vm_fault_t ret = 0;
	s32 why;

	if (bulk)
		hmirror_alloc_bulk(args, bulk);
	for (i = 0; i < n; i++) {
		s = args->src[i];
		spage = migrate_pfn_to_page(s);
		if (!spage || !(s & MIGRATE_PFN_MIGRATE))
			continue;
		if (hmirror_mig_inject(ctx, s, &why))
			continue;
		addr = args->start + (i << PAGE_SHIFT);
		dpage = hmirror_handover(spage, i, handed,
					 s & HMIRROR_MPFN_COMPOUND);
		if (dpage) {
			args->dst[i] = migrate_pfn(page_to_pfn(dpage)) |
				       (s & (HMIRROR_MPFN_COMPOUND |
					     MIGRATE_PFN_WRITE));
			if (s & HMIRROR_MPFN_COMPOUND)
				i += HMIRROR_CHUNK_PAGES - 1;
			continue;
		}
		if (s & HMIRROR_MPFN_COMPOUND) {
			folio = hmirror_alloc_pmd_folio(args->vma, addr);
			if (folio) {
				folio_lock(folio);
				hmirror_copy_add(cb, &folio->page, spage,
						 HMIRROR_CHUNK_PAGES, i);
				args->dst[i] = migrate_pfn(folio_pfn(folio)) |
					       HMIRROR_MPFN_COMPOUND |
					       (s & MIGRATE_PFN_WRITE);
				i += HMIRROR_CHUNK_PAGES - 1;
				continue;
			}
			/* 4 KiB pages: the core splits the device folio. */
			for (j = 0; j < HMIRROR_CHUNK_PAGES && i + j < n; j++) {
				dpage = alloc_page_vma(GFP_HIGHUSER_MOVABLE,
						       args->vma,
						       addr + (j << PAGE_SHIFT));
				if (!dpage) {
					ret = VM_FAULT_OOM;
					break;
				}
				lock_page(dpage);
				hmirror_copy_add(cb, dpage, spage + j, 1, i + j);
				args->dst[i + j] = migrate_pfn(page_to_pfn(dpage)) |
						   (s & MIGRATE_PFN_WRITE);
			}
			i += HMIRROR_CHUNK_PAGES - 1;
			continue;
		}
		dpage = bulk && bulk[b] ? bulk[b++] :
			alloc_page_vma(GFP_HIGHUSER_MOVABLE, args->vma, addr);
		if (!dpage) {
			if (spage == fault_page)
				ret = VM_FAULT_OOM;
			continue;
		}
		lock_page(dpage);
		hmirror_copy_add(cb, dpage, spage, 1, i);
		args->dst[i] = migrate_pfn(page_to_pfn(dpage)) |
			       (s & MIGRATE_PFN_WRITE);
	}
	/* Pages allocated for entries an OOM break skipped. */
	while (bulk && b < n && bulk[b])
		__free_page(bulk[b++]);
	/* The faulting page not brought home: the CPU cannot have it. */
	if (hmirror_mig_copy(cb, args->src, args->dst, NULL, fault_page) &&
	    !ret)
		ret = VM_FAULT_SIGBUS;
	return ret;
}

/*
 * Pages that moved, once migrate_vma_pages() or migrate_device_pages()
 * has run over @src / @dst, counted from the head entries.
 */
static unsigned long hmirror_mig_moved(const unsigned long *src,
				       const unsigned long *dst,
				       unsigned long npages)
{
	unsigned long i, moved = 0;
	struct page *page;

	for (i = 0; i < npages; i++) {
		if (!(src[i] & MIGRATE_PFN_MIGRATE) ||
		    !(dst[i] & MIGRATE_PFN_VALID))
			continue;
		page = migrate_pfn_to_page(dst[i]);
		moved += (dst[i] & HMIRROR_MPFN_COMPOUND) ?
			 folio_nr_pages(page_folio(page)) : 1;
	}
	return moved;
}

/*
 * One migrate_vma round over [start, end) of @vma, to or from @hdev's
 * memory; returns pages moved. THPs are collected whole only where
 * @hdev's memory takes device folios.
 */
static long hmirror_mig_round(struct hmirror_ctx *ctx,
			      struct hmirror_device *hdev,
			      struct vm_area_struct *vma, unsigned long start,
			      unsigned long end, struct hmirror_mig *m,
			      bool to_dev, void *owner, unsigned long select)
{
	struct migrate_vma args = {
		.vma = vma,
		.src = m->src,
		.dst = m->dst,
		.start = start,
		.end = end,
		.pgmap_owner = owner,
		.flags = select | (hmirror_devmem_max_order(hdev) ?
				   HMIRROR_SELECT_COMPOUND : 0),
	};
	struct hmirror_copy_batch b = {
		.max = ARRAY_SIZE(m->copies),
		.c = m->copies,
	};
	unsigned long moved;
	int ret;

	memset(m->src, 0, sizeof(m->src));
	memset(m->dst, 0, sizeof(m->dst));
	bitmap_zero(m->handed, HMIRROR_CHUNK_PAGES);
	ret = migrate_vma_setup(&args);
	if (ret)
		return ret;
	if (args.cpages) {
		if (to_dev)
			hmirror_alloc_copy_to_dev(ctx, hdev, &args, m->why,
						  m->evict, &b);
		else
			hmirror_alloc_copy_to_sys(ctx, &args, NULL, m->pages,
						  m->handed, &b);
		migrate_vma_pages(&args);
		if (!to_dev)
			hmirror_mig_handback(&args, m->handed);
	}
	moved = hmirror_mig_moved(args.src, args.dst, args.npages);
	migrate_vma_finalize(&args);
	if (!to_dev)
		hmirror_mig_handback_done(args.dst, m->handed, args.npages);
	return moved;
}

static bool hmirror_snapshot_invalidate(struct mmu_interval_notifier *mni,
					const struct mmu_notifier_range *range,
					unsigned long cur_seq)
{
	mmu_interval_set_seq(mni, cur_seq);
	return true;
}

/*
 * A snapshot's throwaway notifier: only for hmm_range_fault()'s own retry
 * check, no lock to pair with, nothing to zap.
 */
const struct mmu_interval_notifier_ops hmirror_snapshot_ops = {
	.invalidate = hmirror_snapshot_invalidate,
};

/* Why the page at @hpfn (an hmm snapshot entry) is or is not at the target. */
static s32 hmirror_mig_where(struct hmirror_device *hdev, unsigned long hpfn,
			     bool to_dev)
{
	struct page *page;

	if (!(hpfn & HMM_PFN_VALID))
		return to_dev ? -EBUSY : -ENOENT;
	page = hmm_pfn_to_page(hpfn);
	if (to_dev)
		return hmirror_page_is_mine(hdev, page) ? 0 : -EBUSY;
	return hmirror_page_on_device(page) ? -EBUSY : 0;
}

/* Snapshot [start, end) after migrating it, for the per-page status. */
static int hmirror_mig_status(struct hmirror_device *hdev,
			      struct mmu_interval_notifier *notifier,
			      unsigned long start, unsigned long end,
			      struct hmirror_mig *m, bool to_dev, s32 *status,
			      u64 *failed)
{
	struct hmm_range range = {
		.notifier = notifier,
		.start = start,
		.end = end,
		.hmm_pfns = m->hpfns,
		.dev_private_owner = hdev,
	};
	unsigned long i, n = (end - start) >> PAGE_SHIFT;
	int ret;

	/* No fault requested: a snapshot, under the caller's mmap_lock. */
	do {
		range.notifier_seq = mmu_interval_read_begin(notifier);
		ret = hmm_range_fault(&range);
	} while (ret == -EBUSY);
	if (ret)
		return ret;

	for (i = 0; i < n; i++) {
		status[i] = hmirror_mig_where(hdev, m->hpfns[i], to_dev);
		if (status[i]) {
			if (m->why[i])
				status[i] = m->why[i];
			(*failed)++;
		}
	}
	return 0;
}

/*
 * Entries the last round did not collect: pages in another device's
 * memory, or pages the core would not move. Tails of a collected THP are
 * not counted.
 */
static unsigned long hmirror_mig_uncollected(const struct hmirror_mig *m,
					     unsigned long n)
{
	unsigned long i, left = 0;

	for (i = 0; i < n; i++) {
		if (m->src[i] & HMIRROR_MPFN_COMPOUND)
			i += HMIRROR_CHUNK_PAGES - 1;
		else if (!(m->src[i] & MIGRATE_PFN_MIGRATE))
			left++;
	}
	return left;
}

/*
 * Private mappings: migrate_vma moves their anonymous pages only (those of
 * a private file mapping once written, copied on write); the page-cache
 * pages of such a mapping stay and are reported so.
 */
static bool hmirror_mig_vma_ok(struct vm_area_struct *vma)
{
	return !(vma->vm_flags & (VM_SHARED | VM_SPECIAL)) &&
	       !is_vm_hugetlb_page(vma) && !vma_is_dax(vma);
}

static int hmirror_mig_window(struct hmirror_ctx *ctx,
			      struct vm_area_struct *vma,
			      struct mmu_interval_notifier *notifier,
			      unsigned long start, unsigned long end,
			      bool to_dev, unsigned int flags,
			      struct hmirror_mig *m, s32 *status,
			      struct hmirror_migrate *req)
{
	struct hmirror_device *hdev = ctx->hdev, *other;
	unsigned long n = (end - start) >> PAGE_SHIFT, i, left;
	long moved = 0, r;

	memset(m->why, 0, sizeof(m->why));
	if (!hmirror_mig_vma_ok(vma)) {
		for (i = 0; i < n; i++)
			status[i] = -EFAULT;
		req->failed += n;
		return 0;
	}

	if (to_dev) {
		left = n;
		if (!m->from) {
			r = hmirror_mig_round(ctx, hdev, vma, start, end, m, true,
					      hdev, MIGRATE_VMA_SELECT_SYSTEM);
			if (r < 0)
				return r;
			moved += r;
			left = flags & HMIRROR_MIG_SYSTEM_ONLY ? 0 :
			       hmirror_mig_uncollected(m, n);
		}
		/* Pages in the other instances' memory, device to device. */
		for (i = 0; left && i < HMIRROR_MAX_DEVICES; i++) {
			other = hmirror_device_get(i);
			if (!other || other == hdev || !other->devmem ||
			    (m->from && other != m->from))
				continue;
			r = hmirror_mig_round(ctx, hdev, vma, start, end, m, true,
					      other, hmirror_mig_select_dev(other));
			if (r < 0)
				return r;
			if (r)
				atomic64_add(r, &other->devmem->migrated_out);
			moved += r;
		}
		atomic64_add(moved, &hdev->devmem->migrated_in);
	} else {
		r = hmirror_mig_round(ctx, hdev, vma, start, end, m, false, hdev,
				      hmirror_mig_select_dev(hdev));
		if (r < 0)
			return r;
		moved = r;
		atomic64_add(moved, &hdev->devmem->migrated_out);
	}
	req->moved += moved;
	trace_hmirror_devmem_move(hdev->index, "migrate", to_dev, start, end,
				  moved);

	return hmirror_mig_status(hdev, notifier, start, end, m, to_dev,
				  status, &req->failed);
}

static int __hmirror_migrate_range(struct hmirror_ctx *ctx,
				   unsigned long start, unsigned long end,
				   bool to_dev, unsigned int flags,
				   struct hmirror_device *from,
				   s32 __user *ustatus, u64 *moved, u64 *failed)
{
	struct mmu_interval_notifier notifier = {};
	struct hmirror_migrate req = {};
	struct vm_area_struct *vma;
	struct hmirror_mig *m;
	unsigned long s, e;
	s32 *status;
	int ret;

	m = kvmalloc_obj(*m, HMIRROR_GFP_ARRAY);
	status = kvmalloc_array(HMIRROR_CHUNK_PAGES, sizeof(*status),
				GFP_KERNEL);
	if (!m || !status) {
		ret = -ENOMEM;
		goto out;
	}
	m->from = from;
	m->evict = !(flags & HMIRROR_MIG_NO_EVICT);
	ret = mmu_interval_notifier_insert(&notifier, ctx->mm, start, end - start,
					   &hmirror_snapshot_ops);
	if (ret)
		goto out;

	for (s = start; s < end && !ret; s = e) {
		e = min(ALIGN(s + 1, HMIRROR_CHUNK_SIZE), end);
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		/* Closing or reset (a worker sees no signal): stop here. */
		if (READ_ONCE(ctx->state) != HMIRROR_CTX_ALIVE) {
			ret = -EIO;
			break;
		}
		mmap_read_lock(ctx->mm);
		/* A window never spans two VMAs: migrate_vma works in one. */
		vma = vma_lookup(ctx->mm, s);
		if (vma) {
			e = min(e, vma->vm_end);
			ret = hmirror_mig_window(ctx, vma, &notifier, s, e,
						 to_dev, flags, m, status, &req);
		} else {
			ret = -EFAULT;
		}
		mmap_read_unlock(ctx->mm);
		if (!ret && ustatus &&
		    copy_to_user(ustatus + ((s - start) >> PAGE_SHIFT), status,
				 ((e - s) >> PAGE_SHIFT) * sizeof(*status)))
			ret = -EFAULT;
		cond_resched();
	}
	mmu_interval_notifier_remove(&notifier);

	spin_lock(&ctx->pt_lock);
	if (to_dev)
		ctx->stats.migrated_to_dev += req.moved;
	else
		ctx->stats.migrated_to_sys += req.moved;
	ctx->stats.migrate_failed += req.failed;
	spin_unlock(&ctx->pt_lock);
	*moved = req.moved;
	*failed = req.failed;
out:
	kvfree(status);
	kvfree(m);
	return ret;
}

/**
 * hmirror_migrate_range() - move [@start, @end) of the context's mm
 * @ctx: context
 * @start: page-aligned start
 * @end: page-aligned end
 * @to_dev: to this context's device memory, else to system memory
 * @flags: HMIRROR_MIG_SYSTEM_ONLY: to the device, leave pages that are in
 *	   another device's memory where they are (no device-to-device move)
 * @ustatus: user array of one s32 per page for the status, or NULL
 * @moved: out: pages moved
 * @failed: out: pages not at the target afterwards
 *
 * Works from the ioctl, in the context's own process, and from the
 * context's worker for a MIGRATE command, with the mm pinned by the caller
 * in both cases. Stops with -EIO once the context is no longer alive.
 *
 * Return: 0 (even if some pages stayed) or a negative errno.
 */
noinline int hmirror_migrate_range(struct hmirror_ctx *ctx, unsigned long start,
				   unsigned long end, bool to_dev,
				   unsigned int flags, s32 __user *ustatus,
				   u64 *moved, u64 *failed)
{
	return __hmirror_migrate_range(ctx, start, end, to_dev, flags, NULL,
				       ustatus, moved, failed);
}
ALLOW_ERROR_INJECTION(hmirror_migrate_range, ERRNO);

/**
 * hmirror_migrate_pull() - move another instance's pages here
 * @ctx: context, its mm pinned by the caller
 * @from: the instance whose device memory holds pages of the range
 * @start: page-aligned start
 * @end: page-aligned end
 *
 * Device to device, only @from's pages of [@start, @end) and only into
 * free device memory: a submit pulling its pages must not evict somebody
 * else's, nor invalidate more than the pages it moves.
 *
 * Return: 0 (even if some pages stayed) or a negative errno.
 */
int hmirror_migrate_pull(struct hmirror_ctx *ctx, struct hmirror_device *from,
			 unsigned long start, unsigned long end)
{
	u64 moved, failed;

	return __hmirror_migrate_range(ctx, start, end, true,
				       HMIRROR_MIG_NO_EVICT, from, NULL, &moved,
				       &failed);
}

/**
 * hmirror_migrate() - HMIRROR_IOC_MIGRATE
 * @ctx: context, used from its own mm
 * @req: the request, copied from user space; @req->moved and
 *	 @req->failed are set on success
 *
 * Return: 0 (even if some pages stayed: see @req) or a negative errno.
 */
int hmirror_migrate(struct hmirror_ctx *ctx, struct hmirror_migrate *req)
{
	s32 __user *ustatus = u64_to_user_ptr(req->status);
	unsigned long start = req->addr, end = req->addr + req->len;
	u64 newest;
	bool busy;

	if (req->flags || memchr_inv(req->reserved, 0, sizeof(req->reserved)) ||
	    req->target > HMIRROR_MIGRATE_TO_DEVICE || !req->len ||
	    req->len > HMIRROR_MAX_JOB_BYTES || end < start ||
	    !PAGE_ALIGNED(start) || !PAGE_ALIGNED(req->len))
		return -EINVAL;
	start = untagged_addr(start);
	end = start + req->len;
	if (!access_ok((void __user *)start, req->len))
		return -EINVAL;
	if (!ctx->hdev->devmem)
		return -EOPNOTSUPP;
	if (ustatus && !access_ok(ustatus, (req->len >> PAGE_SHIFT) *
					   sizeof(*ustatus)))
		return -EFAULT;

	/* A NONE-class job holds its pages: moving them would wait on it. */
	spin_lock(&ctx->pt_lock);
	busy = ctx->preempt == HMIRROR_PREEMPT_NONE &&
	       hmirror_jobs_overlap(ctx, start, end, &newest);
	spin_unlock(&ctx->pt_lock);
	if (busy)
		return -EBUSY;

	return hmirror_migrate_range(ctx, start, end,
				     req->target == HMIRROR_MIGRATE_TO_DEVICE, 0,
				     ustatus, &req->moved, &req->failed);
}

/**
 * hmirror_migrate_to_ram() - dev_pagemap_ops.migrate_to_ram: a CPU fault
 * @vmf: the fault, on one of hmirror's device-private pages (locked by
 *	 the core; coherent pages never fault)
 *
 * Brings the page back, or the whole device folio when it is mapped by a
 * PMD.
 *
 * Return: 0 (the fault is retried and finds the page, or a racing
 * migration moved it) or VM_FAULT_OOM / VM_FAULT_SIGBUS.
 */
vm_fault_t hmirror_migrate_to_ram(struct vm_fault *vmf)
{
	struct page *page = vmf->page;
	struct hmirror_device *hdev = page_pgmap(page)->owner;
	struct hmirror_devmem *dm = hdev->devmem;
	unsigned long start = vmf->address & PAGE_MASK, end;
	unsigned long src1 = 0, dst1 = 0, moved = 0, handed1 = 0;
	struct hmirror_copy c1;
	struct hmirror_copy_batch b = { .max = 1, .c = &c1 };
	struct hmirror_mig *m = NULL;
	struct migrate_vma args = {};
	unsigned long *handed = &handed1;
	vm_fault_t ret;

	args.vma = vmf->vma;
	args.pgmap_owner = hdev;
	args.fault_page = page;
	args.flags = MIGRATE_VMA_SELECT_DEVICE_PRIVATE | HMIRROR_SELECT_COMPOUND;
	if (vmf->pte) {
		/* One page, the common case: no allocation for the arrays. */
		end = start + PAGE_SIZE;
		args.src = &src1;
		args.dst = &dst1;
	} else {
		/* A PMD-mapped device folio comes back whole. */
		start = ALIGN_DOWN(vmf->address, HMIRROR_CHUNK_SIZE);
		end = start + HMIRROR_CHUNK_SIZE;
		m = kvzalloc_obj(*m, HMIRROR_GFP_ARRAY);
		if (!m)
			return VM_FAULT_OOM;
		args.src = m->src;
		args.dst = m->dst;
		handed = m->handed;
		b.max = ARRAY_SIZE(m->copies);
		b.c = m->copies;
	}
	args.start = start;
	args.end = end;

	if (migrate_vma_setup(&args)) {
		kvfree(m);
		return VM_FAULT_SIGBUS;
	}
	ret = 0;
	if (args.cpages) {
		ret = hmirror_alloc_copy_to_sys(NULL, &args, page,
						m ? m->pages : NULL, handed, &b);
		migrate_vma_pages(&args);
		hmirror_mig_handback(&args, handed);
		moved = hmirror_mig_moved(args.src, args.dst, args.npages);
		atomic64_add(moved, &dm->migrated_out);
	}
	migrate_vma_finalize(&args);
	hmirror_mig_handback_done(args.dst, handed, args.npages);
	atomic64_inc(&dm->cpu_faults);
	trace_hmirror_devmem_move(hdev->index, "fault", false, start, end,
				  moved);
	kvfree(m);
	return ret;
}

/**
 * hmirror_devmem_evict() - move device pages back to system memory
 * @hdev: device instance
 * @nr_blocks: how many 2 MiB blocks to empty, least recently filled first
 *
 * The same for both kinds: migrate_device_range() takes device-coherent
 * pfns as it takes device-private ones, and unmaps them from every mm.
 *
 * Return: pages evicted, or a negative errno.
 */
long hmirror_devmem_evict(struct hmirror_device *hdev, unsigned int nr_blocks)
{
	struct hmirror_devmem *dm = hdev->devmem;
	unsigned long i, pfn, s, evicted = 0;
	struct hmirror_copy_batch cb = {};
	struct hmirror_block *b;
	struct page *spage, *dpage;
	struct folio *folio;
	struct hmirror_mig *m;

	if (!dm)
		return 0;
	m = kvmalloc_obj(*m, HMIRROR_GFP_ARRAY);
	if (!m)
		return -ENOMEM;
	cb.max = ARRAY_SIZE(m->copies);
	cb.c = m->copies;
	while (nr_blocks--) {
		spin_lock(&dm->lock);
		b = list_first_entry_or_null(&dm->lru, struct hmirror_block,
					     lru);
		if (b)	/* to the tail: concurrent evictors take others */
			list_move_tail(&b->lru, &dm->lru);
		pfn = b ? b->pfn : 0;
		spin_unlock(&dm->lock);
		if (!b)
			break;

		memset(m->dst, 0, sizeof(m->dst));
		migrate_device_range(m->src, pfn, HMIRROR_CHUNK_PAGES);
		for (i = 0; i < HMIRROR_CHUNK_PAGES; i++) {
			s = m->src[i];
			spage = migrate_pfn_to_page(s);
			if (!spage || !(s & MIGRATE_PFN_MIGRATE))
				continue;
			/*
			 * A page whose backing went home with a migration
			 * still finishing (a CPU fault's, say): its data is
			 * gone with it, and the page about to be freed. The
			 * range walk took it while that migration let it go.
			 */
			if (hmirror_devmem_page_backed(spage) &&
			    !hmirror_devmem_backing(spage)) {
				if (s & HMIRROR_MPFN_COMPOUND)
					i += HMIRROR_CHUNK_PAGES - 1;
				continue;
			}
			if (s & HMIRROR_MPFN_COMPOUND) {
				/* Without a vma the core does not split. */
				folio = folio_alloc(GFP_HIGHUSER_MOVABLE |
						    __GFP_RETRY_MAYFAIL |
						    __GFP_NOWARN,
						    HMIRROR_PMD_ORDER);
				if (folio) {
					folio_lock(folio);
					hmirror_copy_add(&cb, &folio->page, spage,
							 HMIRROR_CHUNK_PAGES, i);
					m->dst[i] = migrate_pfn(folio_pfn(folio)) |
						    HMIRROR_MPFN_COMPOUND;
				}
				i += HMIRROR_CHUNK_PAGES - 1;
				continue;
			}
			dpage = alloc_page(GFP_HIGHUSER_MOVABLE | __GFP_NOFAIL);
			lock_page(dpage);
			hmirror_copy_add(&cb, dpage, spage, 1, i);
			m->dst[i] = migrate_pfn(page_to_pfn(dpage));
		}
		hmirror_mig_copy(&cb, m->src, m->dst, NULL, NULL);
		migrate_device_pages(m->src, m->dst, HMIRROR_CHUNK_PAGES);
		s = hmirror_mig_moved(m->src, m->dst, HMIRROR_CHUNK_PAGES);
		migrate_device_finalize(m->src, m->dst, HMIRROR_CHUNK_PAGES);
		trace_hmirror_devmem_move(hdev->index, "evict", false,
					  PFN_PHYS(pfn),
					  PFN_PHYS(pfn + HMIRROR_CHUNK_PAGES), s);
		evicted += s;
	}
	kvfree(m);
	atomic64_add(evicted, &dm->evicted);
	atomic64_add(evicted, &dm->migrated_out);
	return evicted;
}
