/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmirror compatibility with older kernels.
 *
 * hmirror is written against the newest kernel it is tested on (7.x) and
 * must also build, warning-free, against the 6.12 LTS series. Every
 * difference between the two is decided here, once, at build time, by
 * what the kernel's headers offer rather than by its version number, so a
 * distribution kernel with a backport gets the feature. The rest of the
 * module tests HMIRROR_HAVE_* and never a kernel version.
 */
#ifndef _HMIRROR_COMPAT_H
#define _HMIRROR_COMPAT_H

#include <linux/gfp.h>
#include <linux/err.h>
#include <linux/hrtimer.h>
#include <linux/mm.h>
#include <linux/rmap.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

/*
 * Large (PMD-sized) device-private folios in migrate_vma_*
 * (MIGRATE_VMA_SELECT_COMPOUND, 6.18). Kbuild defines
 * HMIRROR_HAVE_DEVICE_THP when include/linux/migrate.h has it; without it,
 * device memory migrates in 4 KiB pages.
 */
#ifndef HMIRROR_HAVE_DEVICE_THP
#define HMIRROR_HAVE_DEVICE_THP 0
#endif

/* Typed allocation helpers (7.0). */
#ifndef kzalloc_obj
#define kzalloc_obj(P, GFP) kzalloc(sizeof(P), GFP)
#endif
#ifndef kvmalloc_obj
#define kvmalloc_obj(P, GFP) kvmalloc(sizeof(P), GFP)
#endif
#ifndef kvzalloc_obj
#define kvzalloc_obj(P, GFP) kvzalloc(sizeof(P), GFP)
#endif
#ifndef kzalloc_objs
#define kzalloc_objs(P, COUNT, GFP) kcalloc(COUNT, sizeof(P), GFP)
#endif

/*
 * system_dfl_wq replaced system_unbound_wq (6.17, which now warns):
 * hmirror_wq is the unbound system workqueue either way.
 */
#ifdef HMIRROR_HAVE_SYSTEM_DFL_WQ
#define hmirror_wq system_dfl_wq
#else
#define hmirror_wq system_unbound_wq
#endif

/* alloc_pages_bulk() took over the name of its array form (6.14). */
#ifdef alloc_pages_bulk_array
#define hmirror_alloc_pages_bulk alloc_pages_bulk_array
#else
#define hmirror_alloc_pages_bulk alloc_pages_bulk
#endif

/* hrtimer_setup() replaced hrtimer_init() plus ->function (6.15). */
#ifndef HMIRROR_HAVE_HRTIMER_SETUP
static inline void hrtimer_setup(struct hrtimer *timer,
				 enum hrtimer_restart (*fn)(struct hrtimer *),
				 clockid_t clock_id, enum hrtimer_mode mode)
{
	hrtimer_init(timer, clock_id, mode);
	timer->function = fn;
}
#endif

/*
 * crc32c() moved from <linux/crc32c.h> (libcrc32c) into <linux/crc32.h>
 * (6.14); Kbuild defines HMIRROR_HAVE_CRC32C_IN_CRC32_H for the latter.
 */
#ifdef HMIRROR_HAVE_CRC32C_IN_CRC32_H
#include <linux/crc32.h>
#else
#include <linux/crc32c.h>
#endif

/*
 * Device-private pages: 7.x frees them by folio (dev_pagemap_ops.folio_free)
 * and initialises them with their pgmap and order; 6.12 frees by page and
 * knows only order-0 device pages. Kbuild defines HMIRROR_HAVE_FOLIO_FREE
 * for the former.
 */
#ifdef HMIRROR_HAVE_FOLIO_FREE
#define HMIRROR_PGMAP_FREE_OP(fn)	.folio_free = (fn)
#define hmirror_zone_device_folio_init(folio, pgmap, order) \
	zone_device_folio_init(folio, pgmap, order)
#else
#define HMIRROR_PGMAP_FREE_OP(fn)	.page_free = fn##_page
static inline void hmirror_zone_device_folio_init(struct folio *folio,
						  struct dev_pagemap *pgmap,
						  unsigned int order)
{
	WARN_ON_ONCE(order || folio->page.pgmap != pgmap);
	zone_device_page_init(&folio->page);
}

static inline struct dev_pagemap *page_pgmap(const struct page *page)
{
	return page->pgmap;
}
#endif

/*
 * hmm_range_fault_unlocked_timeout() (7.3): a fault whose handler may drop
 * the mmap lock (userfaultfd). Kbuild defines HMIRROR_HAVE_HMM_UNLOCKED.
 */
#ifndef HMIRROR_HAVE_HMM_UNLOCKED
#define HMIRROR_HAVE_HMM_UNLOCKED 0
#endif

/*
 * The symbol namespace of hmirror's kernel interface, for
 * EXPORT_SYMBOL_NS_GPL() and MODULE_IMPORT_NS(): a string literal from
 * 6.13 on, a bare token (stringified by the macros) before; Kbuild
 * defines HMIRROR_HAVE_NS_TOKEN for the latter.
 */
#ifdef HMIRROR_HAVE_NS_TOKEN
#define HMIRROR_NS	HMIRROR
#else
#define HMIRROR_NS	"HMIRROR"
#endif

/*
 * make_device_exclusive() (6.15) takes one page and returns it locked and
 * referenced, or an ERR_PTR; before it, make_device_exclusive_range()
 * filled an array, leaving NULL where a page could not be taken (a page
 * it could not lock, a tail page of a large folio). Kbuild defines
 * HMIRROR_HAVE_MAKE_DEVICE_EXCLUSIVE for the former.
 */
/*
 * Two-pass interval notifiers (7.3): invalidate_start() may hand back a
 * struct mmu_interval_notifier_finish, whose invalidate_finish() runs once
 * every notifier of the invalidation had its first pass. Kbuild defines
 * HMIRROR_HAVE_INTERVAL_FINISH; without it the struct is only a place in
 * struct hmirror_ctx, never handed to the core.
 */
#ifndef HMIRROR_HAVE_INTERVAL_FINISH
#define HMIRROR_HAVE_INTERVAL_FINISH 0
struct mmu_interval_notifier_finish {
	struct mmu_interval_notifier *notifier;
};
#endif

#ifdef HMIRROR_HAVE_MAKE_DEVICE_EXCLUSIVE
#define hmirror_make_device_exclusive make_device_exclusive
#else
static inline struct page *
hmirror_make_device_exclusive(struct mm_struct *mm, unsigned long addr,
			      void *owner, struct folio **foliop)
{
	struct page *page = NULL;
	int n;

	addr &= PAGE_MASK;
	n = make_device_exclusive_range(mm, addr, addr + PAGE_SIZE, &page,
					owner);
	if (n < 0)
		return ERR_PTR(n);
	if (!n || !page)
		return ERR_PTR(-EBUSY);
	*foliop = page_folio(page);
	return page;
}
#endif

#endif /* _HMIRROR_COMPAT_H */
