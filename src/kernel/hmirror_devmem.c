// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror device memory: ZONE_DEVICE device-private or device-coherent
 * pages of a device instance, their allocator and their backing store.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/error-injection.h>
#include <linux/ioport.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "hmirror_internal.h"

/**
 * DOC: device memory
 *
 * Each device instance owns vram_mb of device memory: a free physical
 * address range (request_free_mem_region()) turned into ZONE_DEVICE
 * MEMORY_DEVICE_PRIVATE pages by memremap_pages(), with the instance as
 * the pgmap owner. The CPU cannot map these pages; the core mm puts a
 * device-private swap entry in the CPU page table instead, and a CPU
 * access calls back into hmirror (migrate_to_ram) to bring the data home.
 *
 * The allocator works in blocks of one PMD (2 MiB, 512 pages). A block is
 * free, allocated whole as one THP-sized device folio, or split into 4 KiB
 * pages tracked by a bitmap. Its metadata is struct hmirror_block: 64
 * bytes of bitmap, two list heads, the backing pointer and counters,
 * about 120 bytes per 2 MiB, 0.23 bytes per 4 KiB page; a block in use
 * adds its table of backing pages (8 bytes per page, sw backend only);
 * the kernel's own struct page array for the ZONE_DEVICE range (64 bytes
 * per page) comes on top, as for any ZONE_DEVICE memory. Small allocations fill partly
 * used blocks first, so 4 KiB pages do not fragment every block.
 *
 * Blocks holding pages sit on an LRU list, moved to its tail whenever
 * pages are allocated in them; when the memory is full, an allocation
 * evicts the block at the head (the least recently filled) back to system
 * memory with migrate_device_range(), as a GPU driver evicts VRAM. Module
 * unload evicts everything the same way before memunmap_pages().
 *
 * Backing store: the sw backend has no VRAM, so each device page is
 * backed by a system page of its own (allocated in bulk the first time
 * its block is used, kept until unload), which only the engine and the
 * migration copies touch, through hmirror_devmem_backing(); the CPU never
 * maps a device page. A backend with a copy engine (the PCI accelerator)
 * has VRAM instead: its pages need no backing store, the device reaches
 * their data at the device-private pfn's physical address (the driver
 * tells it where that window is), and only its copy engine moves data
 * in and out (hmirror_copy.c). Moving a device page back to system memory does not
 * copy it: the backing page itself becomes the destination (it holds the
 * data already), and the device page gets a fresh backing page when it is
 * next allocated. So a round trip costs one allocation and one copy, not
 * two of each, and the copy-free half is the one on the CPU's side (CPU
 * faults, MIGRATE to system). Backing pages are allocated unmovable, as
 * driver memory is; the ones handed over become ordinary anonymous pages.
 *
 * A block used whole (a device THP) is backed by one THP-sized folio
 * instead, if one comes without reclaim, so that the device THP goes home
 * the same way: its backing folio becomes the anonymous THP. Single pages
 * of such a folio cannot leave it, so 4 KiB device pages carved out of
 * that block later (or left by a split of the device THP) are copied home
 * as usual; a block whose folio went home gets a new one when next taken
 * whole, or single pages when taken page by page.
 */

/**
 * DOC: device-coherent memory
 *
 * An instance given coherent_addr has MEMORY_DEVICE_COHERENT memory
 * instead: a boot-reserved physical range, claimed with
 * request_mem_region() and mapped by memremap_pages() into the kernel's
 * direct map. The CPU maps these pages like system memory, so a CPU
 * access never faults them back (no migrate_to_ram; the core does not
 * call it for coherent pages), hmm_range_fault() reports them as present
 * pages, and the engine and the migration copies reach them with
 * kmap_local_page() like any page: no backing store.
 *
 * Coherent memory moves in 4 KiB pages only. In 7.3,
 * migrate_vma_collect_huge_pmd() collects a PMD-mapped folio only under
 * MIGRATE_VMA_SELECT_SYSTEM and without asking whether it is a device
 * folio, and skips it, unsplit, under SELECT_DEVICE_COHERENT; and
 * migrate_device_coherent_folio() (a FOLL_LONGTERM pin) WARNs on large
 * folios. A coherent THP could thus neither be migrated back nor pinned,
 * and would be taken for system memory by the next migration to a device.
 * So a migration to coherent memory does not ask for compound pages: the
 * core splits a THP when it collects it.
 */

static const struct dev_pagemap_ops hmirror_devmem_ops;

static inline struct hmirror_devmem *
hmirror_page_devmem(const struct page *page)
{
	return container_of(page_pgmap(page), struct hmirror_devmem, pgmap);
}

static inline struct hmirror_block *
hmirror_page_block(struct hmirror_devmem *dm, const struct page *page)
{
	return &dm->blocks[(page_to_pfn(page) - dm->pfn_first) >>
			   (HMIRROR_CHUNK_SHIFT - PAGE_SHIFT)];
}

/**
 * hmirror_page_is_mine() - is @page a device page of @hdev?
 * @hdev: device instance
 * @page: any page
 */
bool hmirror_page_is_mine(struct hmirror_device *hdev, const struct page *page)
{
	return (is_device_private_page(page) ||
		is_device_coherent_page(page)) &&
	       page_pgmap(page)->owner == hdev;
}

/**
 * hmirror_devmem_max_order() - largest folio @hdev's memory takes
 * @hdev: device instance with device memory
 *
 * Return: the order of a device THP, or 0 where only 4 KiB pages move:
 * device-coherent memory (see "device-coherent memory"), or a kernel
 * without device THP.
 */
unsigned int hmirror_devmem_max_order(struct hmirror_device *hdev)
{
	if (!HMIRROR_HAVE_DEVICE_THP || hdev->devmem->coherent)
		return 0;
	return HMIRROR_CHUNK_SHIFT - PAGE_SHIFT;
}

/* The slot of @page's backing page; dm->lock or an owner of the page. */
static struct page **hmirror_backing_slot(const struct page *page)
{
	struct hmirror_devmem *dm = hmirror_page_devmem(page);
	struct hmirror_block *b = hmirror_page_block(dm, page);

	return &b->backing[page_to_pfn(page) - b->pfn];
}

/**
 * hmirror_devmem_page_backed() - is @page's data in a backing page?
 * @page: any page
 *
 * Return: true for a device-private page of the sw backend's memory,
 * whose data is in a system page of its own (not in a device's VRAM).
 */
bool hmirror_devmem_page_backed(const struct page *page)
{
	return is_device_private_page(page) &&
	       page_pgmap(page)->ops == &hmirror_devmem_ops &&
	       hmirror_page_devmem(page)->backed;
}

/**
 * hmirror_devmem_backing() - the system page holding a device page's data
 * @page: an allocated device-private page of hmirror (coherent pages have
 *	  no backing store: kmap them)
 *
 * Return: the backing page, for kmap_local_page(); valid while @page is
 * allocated and not being migrated away.
 */
struct page *hmirror_devmem_backing(const struct page *page)
{
	return READ_ONCE(*hmirror_backing_slot(page));
}

/**
 * hmirror_devmem_backing_take() - hand a device page's backing page over
 * @page: a device-private page of hmirror being migrated to system memory,
 *	  locked by the migration
 *
 * The backing page leaves the device memory with one reference of the
 * caller's, and can be the migration's destination as it is. If the page
 * does not move after all, hmirror_devmem_backing_give() puts it back.
 *
 * Return: the backing page, or NULL if there is none to take.
 */
struct page *hmirror_devmem_backing_take(const struct page *page)
{
	struct hmirror_devmem *dm = hmirror_page_devmem(page);
	struct page **slot = hmirror_backing_slot(page);
	struct page *bpage;

	spin_lock(&dm->lock);
	/* A page of a backing folio cannot leave it alone: copy it. */
	if (hmirror_page_block(dm, page)->folio) {
		spin_unlock(&dm->lock);
		return NULL;
	}
	bpage = *slot;
	*slot = NULL;
	spin_unlock(&dm->lock);
	return bpage;
}

/**
 * hmirror_devmem_backing_give() - give a device page its backing page back
 * @page: the device page, still locked by the failed migration
 * @bpage: what hmirror_devmem_backing_take() returned for it
 */
void hmirror_devmem_backing_give(const struct page *page, struct page *bpage)
{
	struct hmirror_devmem *dm = hmirror_page_devmem(page);

	spin_lock(&dm->lock);
	*hmirror_backing_slot(page) = bpage;
	spin_unlock(&dm->lock);
}

/* Make @folio the backing store of @b, page i of it for device page i. */
static void __hmirror_block_back_folio(struct hmirror_block *b,
				       struct folio *folio)
{
	unsigned int i;

	b->folio = folio;
	for (i = 0; i < HMIRROR_CHUNK_PAGES; i++)
		b->backing[i] = folio_page(folio, i);
}

/**
 * hmirror_devmem_backing_take_folio() - hand a device THP's backing over
 * @page: head of a device-private THP of hmirror being migrated to system
 *	  memory, locked by the migration
 *
 * As hmirror_devmem_backing_take(), for a whole device THP whose block is
 * backed by one THP-sized folio: that folio holds its data already, and
 * becomes the migration's destination.
 *
 * Return: the backing folio, or NULL if the block is backed page by page.
 */
struct folio *hmirror_devmem_backing_take_folio(const struct page *page)
{
	struct hmirror_devmem *dm = hmirror_page_devmem(page);
	struct hmirror_block *b = hmirror_page_block(dm, page);
	struct folio *folio;

	spin_lock(&dm->lock);
	folio = b->folio;
	if (folio) {
		b->folio = NULL;
		memset(b->backing, 0, HMIRROR_CHUNK_PAGES * sizeof(*b->backing));
	}
	spin_unlock(&dm->lock);
	return folio;
}

/**
 * hmirror_devmem_backing_give_folio() - give a device THP its backing back
 * @page: the device THP's head, still locked by the failed migration
 * @folio: what hmirror_devmem_backing_take_folio() returned for it
 */
void hmirror_devmem_backing_give_folio(const struct page *page,
				       struct folio *folio)
{
	struct hmirror_devmem *dm = hmirror_page_devmem(page);

	spin_lock(&dm->lock);
	__hmirror_block_back_folio(hmirror_page_block(dm, page), folio);
	spin_unlock(&dm->lock);
}

/*
 * A THP-sized backing folio, if one comes cheaply: without reclaim or
 * compaction, since 512 single pages do as well, only slower on the way
 * home.
 */
static struct folio *hmirror_backing_folio_alloc(void)
{
	return folio_alloc(GFP_HIGHUSER | __GFP_NOWARN | __GFP_NORETRY |
			   __GFP_NOMEMALLOC, HMIRROR_CHUNK_SHIFT - PAGE_SHIFT);
}

static void __hmirror_block_lru_touch(struct hmirror_devmem *dm,
				      struct hmirror_block *b)
{
	lockdep_assert_held(&dm->lock);
	list_move_tail(&b->lru, &dm->lru);
}

/* Take pages from @b: a whole block (@order > 0) or one page. */
static unsigned long __hmirror_block_take(struct hmirror_devmem *dm,
					  struct hmirror_block *b,
					  unsigned int order)
{
	unsigned long bit;

	lockdep_assert_held(&dm->lock);
	if (order) {
		bitmap_fill(b->map, HMIRROR_CHUNK_PAGES);
		b->used = HMIRROR_CHUNK_PAGES;
		b->huge = true;
		list_del_init(&b->link);
	} else {
		bit = find_first_zero_bit(b->map, HMIRROR_CHUNK_PAGES);
		__set_bit(bit, b->map);
		if (!b->used++)		/* from the free list */
			list_move(&b->link, &dm->partial);
		if (b->used == HMIRROR_CHUNK_PAGES)
			list_del_init(&b->link);
		b->huge = false;
	}
	dm->free_pages -= 1UL << order;
	__hmirror_block_lru_touch(dm, b);
	return b->pfn + (order ? 0 : bit);
}

/* A free block, or one with a free page, in the order they are preferred. */
static struct hmirror_block *__hmirror_block_find(struct hmirror_devmem *dm,
						  unsigned int order)
{
	lockdep_assert_held(&dm->lock);
	if (!order && !list_empty(&dm->partial))
		return list_first_entry(&dm->partial, struct hmirror_block,
					link);
	return list_first_entry_or_null(&dm->free, struct hmirror_block, link);
}

/*
 * Free the backing store of a block: its folio, or its pages (the slots
 * handed over are NULL).
 */
static void hmirror_backing_free(struct page **backing, struct folio *folio)
{
	unsigned int i;

	if (folio)
		folio_put(folio);
	for (i = 0; !folio && backing && i < HMIRROR_CHUNK_PAGES; i++)
		if (backing[i])
			__free_page(backing[i]);
	kvfree(backing);
}

/* Give the backing store to a block about to be used for the first time. */
static int hmirror_devmem_back(struct hmirror_devmem *dm, unsigned int order)
{
	struct folio *folio;
	struct hmirror_block *b;
	struct page **mem;
	unsigned long n;

	if (!dm->backed)
		return 0;	/* the pages themselves hold the data */
	spin_lock(&dm->lock);
	b = __hmirror_block_find(dm, order);
	mem = b ? b->backing : NULL;
	spin_unlock(&dm->lock);
	if (!b || mem)
		return 0;

	mem = kvcalloc(HMIRROR_CHUNK_PAGES, sizeof(*mem), GFP_KERNEL);
	if (!mem)
		return -ENOMEM;
	/* A block first used whole gets a folio, to go home whole. */
	folio = order ? hmirror_backing_folio_alloc() : NULL;
	/* Bulk allocation is best effort, without reclaim: the rest singly. */
	if (!folio)
		hmirror_alloc_pages_bulk(GFP_HIGHUSER, HMIRROR_CHUNK_PAGES, mem);
	for (n = 0; !folio && n < HMIRROR_CHUNK_PAGES; n++) {
		if (!mem[n])
			mem[n] = alloc_page(GFP_HIGHUSER);
		if (!mem[n]) {
			hmirror_backing_free(mem, NULL);
			return -ENOMEM;
		}
	}
	spin_lock(&dm->lock);
	if (!b->backing) {
		b->backing = mem;
		if (folio)
			__hmirror_block_back_folio(b, folio);
		mem = NULL;
		folio = NULL;
	}
	spin_unlock(&dm->lock);
	hmirror_backing_free(mem, folio);
	return 0;
}

/*
 * A new backing folio for the whole block at @pfn, allocated as a device
 * THP, if its last one went home whole (every slot empty). Returns 0 if
 * the block is backed now, else the slots are left to be filled singly.
 */
static int hmirror_devmem_refill_folio(struct hmirror_devmem *dm,
				       unsigned long pfn)
{
	struct hmirror_block *b = hmirror_page_block(dm, pfn_to_page(pfn));
	struct folio *folio;
	unsigned int i;

	/* Only the allocation that took the block touches it now. */
	if (b->folio)
		return 0;
	for (i = 0; i < HMIRROR_CHUNK_PAGES; i++)
		if (b->backing[i])
			return -EEXIST;
	folio = hmirror_backing_folio_alloc();
	if (!folio)
		return -ENOMEM;
	spin_lock(&dm->lock);
	__hmirror_block_back_folio(b, folio);
	spin_unlock(&dm->lock);
	return 0;
}

/*
 * Backing pages for device pages [pfn, pfn + nr) whose own were handed
 * over. Returns 0 or -ENOMEM (the slots filled so far stay filled).
 */
static int hmirror_devmem_refill(struct hmirror_devmem *dm, unsigned long pfn,
				 unsigned long nr)
{
	struct page **slot, *bpage;
	unsigned long i;

	if (!dm->backed)
		return 0;
	if (nr == HMIRROR_CHUNK_PAGES && !hmirror_devmem_refill_folio(dm, pfn))
		return 0;
	for (i = 0; i < nr; i++) {
		slot = hmirror_backing_slot(pfn_to_page(pfn + i));
		if (READ_ONCE(*slot))
			continue;
		bpage = alloc_page(GFP_HIGHUSER);
		if (!bpage)
			return -ENOMEM;
		spin_lock(&dm->lock);
		*slot = bpage;
		spin_unlock(&dm->lock);
	}
	return 0;
}

/* Give device pages [pfn, pfn + nr) back to the allocator. */
static void hmirror_devmem_put(struct hmirror_devmem *dm, unsigned long pfn,
			       unsigned long nr)
{
	struct hmirror_block *b = hmirror_page_block(dm, pfn_to_page(pfn));
	bool was_full;

	spin_lock(&dm->lock);
	was_full = b->used == HMIRROR_CHUNK_PAGES;
	if (nr == HMIRROR_CHUNK_PAGES) {
		bitmap_zero(b->map, HMIRROR_CHUNK_PAGES);
		b->used = 0;
	} else {
		__clear_bit(pfn - b->pfn, b->map);
		b->used -= nr;
	}
	b->huge = false;
	if (!b->used) {
		list_move(&b->link, &dm->free);
		list_del_init(&b->lru);
	} else if (was_full) {
		list_add(&b->link, &dm->partial);
	}
	dm->free_pages += nr;
	spin_unlock(&dm->lock);
	atomic64_sub(nr, &dm->resident);
	/* Every page freed passes here: no waitqueue lock when nobody waits. */
	if (wq_has_sleeper(&dm->freed_wq))
		wake_up_all(&dm->freed_wq);
}

/**
 * hmirror_devmem_alloc() - allocate device memory for a migration
 * @hdev: device instance
 * @order: 0 for a page, HMIRROR_CHUNK_SHIFT - PAGE_SHIFT for a device THP
 * @evict: evict least recently used memory if the device is full
 *
 * Return: the head page, locked, with one reference (the state
 * migrate_vma_pages() wants of a destination), or NULL.
 */
struct page *hmirror_devmem_alloc(struct hmirror_device *hdev,
				  unsigned int order, bool evict)
{
	struct hmirror_devmem *dm = hdev->devmem;
	struct hmirror_block *b;
	struct page *page;
	unsigned long pfn;
	int tries = 2;

	if (!dm || order > hmirror_devmem_max_order(hdev))
		return NULL;
	if (hmirror_fault_should_fail_dev(HMIRROR_FAULT_DEVMEM_ALLOC, hdev))
		return NULL;
	/* Armed by hmirror_ctx_fail_huge_alloc(): one failure, then off. */
	if (order && atomic_read(&hdev->fail_huge_alloc) &&
	    atomic_xchg(&hdev->fail_huge_alloc, 0))
		return NULL;
	for (;;) {
		if (hmirror_devmem_back(dm, order))
			return NULL;
		spin_lock(&dm->lock);
		b = __hmirror_block_find(dm, order);
		if (b && (b->backing || !dm->backed)) {
			pfn = __hmirror_block_take(dm, b, order);
			spin_unlock(&dm->lock);
			break;
		}
		spin_unlock(&dm->lock);
		if (b)
			continue;	/* raced with another allocation */
		if (!evict || !tries-- || hmirror_devmem_evict(hdev, 1) <= 0)
			return NULL;
	}

	page = pfn_to_page(pfn);
	atomic64_add(1UL << order, &dm->resident);
	if (hmirror_devmem_refill(dm, pfn, 1UL << order)) {
		hmirror_devmem_put(dm, pfn, 1UL << order);
		return NULL;
	}
	/*
	 * Not page_folio(): a page that was the tail of a device THP still
	 * points at its old head until it is initialised.
	 */
	hmirror_zone_device_folio_init((struct folio *)page, &dm->pgmap, order);
	return page;
}
ALLOW_ERROR_INJECTION(hmirror_devmem_alloc, NULL);

static void hmirror_devmem_folio_free(struct folio *folio)
{
	hmirror_devmem_put(hmirror_page_devmem(&folio->page),
			   folio_pfn(folio), folio_nr_pages(folio));
}

#ifndef HMIRROR_HAVE_FOLIO_FREE
static void hmirror_devmem_folio_free_page(struct page *page)
{
	hmirror_devmem_folio_free(page_folio(page));
}
#endif

static const struct dev_pagemap_ops hmirror_devmem_ops = {
	HMIRROR_PGMAP_FREE_OP(hmirror_devmem_folio_free),
	.migrate_to_ram = hmirror_migrate_to_ram,
};

/* The CPU maps coherent pages: nothing to migrate on a CPU fault. */
static const struct dev_pagemap_ops hmirror_devmem_coherent_ops = {
	HMIRROR_PGMAP_FREE_OP(hmirror_devmem_folio_free),
};

/* The physical range of @dm's memory: found free, or the one given. */
static struct resource *hmirror_devmem_region(struct hmirror_devmem *dm,
					      unsigned long size,
					      phys_addr_t coherent_addr)
{
	struct resource *res;

	if (!dm->coherent)
		return request_free_mem_region(&iomem_resource, size,
					       "hmirror");
	/* Inside the boot-reserved range hmirror_init() checked. */
	res = request_mem_region(coherent_addr, size, "hmirror");
	if (!res) {
		pr_err("device %u: [%pa+%#lx] is busy\n", dm->hdev->index,
		       &coherent_addr, size);
		return ERR_PTR(-EBUSY);
	}
	return res;
}

/**
 * hmirror_devmem_init() - give a device instance its device memory
 * @hdev: device instance
 * @mb: size in MiB, a multiple of 2; 0 for none
 * @coherent_addr: physical address of device-coherent memory, 2 MiB
 *		   aligned and boot-reserved; 0 for device-private memory
 *
 * Return: 0 or a negative errno.
 */
int hmirror_devmem_init(struct hmirror_device *hdev, unsigned int mb,
			phys_addr_t coherent_addr)
{
	unsigned long size = (unsigned long)mb << 20, i;
	struct hmirror_devmem *dm;
	struct resource *res;
	void *ptr;
	int ret;

	if (!mb)
		return 0;
	dm = kzalloc_obj(*dm, GFP_KERNEL);
	if (!dm)
		return -ENOMEM;
	dm->hdev = hdev;
	dm->coherent = !!coherent_addr;
	dm->backed = !dm->coherent && !hdev->ops->copy;
	spin_lock_init(&dm->lock);
	INIT_LIST_HEAD(&dm->free);
	INIT_LIST_HEAD(&dm->partial);
	INIT_LIST_HEAD(&dm->lru);
	init_waitqueue_head(&dm->freed_wq);
	dm->nr_blocks = size >> HMIRROR_CHUNK_SHIFT;
	dm->blocks = kvcalloc(dm->nr_blocks, sizeof(*dm->blocks), GFP_KERNEL);
	if (!dm->blocks) {
		ret = -ENOMEM;
		goto err_free;
	}

	res = hmirror_devmem_region(dm, size, coherent_addr);
	if (IS_ERR_OR_NULL(res)) {
		ret = res ? PTR_ERR(res) : -ENOMEM;
		goto err_blocks;
	}
	dm->res = res;
	dm->pgmap.type = dm->coherent ? MEMORY_DEVICE_COHERENT :
					MEMORY_DEVICE_PRIVATE;
	dm->pgmap.range.start = res->start;
	dm->pgmap.range.end = res->end;
	dm->pgmap.nr_range = 1;
	dm->pgmap.ops = dm->coherent ? &hmirror_devmem_coherent_ops :
				       &hmirror_devmem_ops;
	dm->pgmap.owner = hdev;
	ptr = memremap_pages(&dm->pgmap, numa_node_id());
	if (IS_ERR_OR_NULL(ptr)) {
		ret = ptr ? PTR_ERR(ptr) : -EFAULT;
		goto err_region;
	}

	dm->pfn_first = PHYS_PFN(res->start);
	for (i = 0; i < dm->nr_blocks; i++) {
		struct hmirror_block *b = &dm->blocks[i];

		b->pfn = dm->pfn_first + i * HMIRROR_CHUNK_PAGES;
		INIT_LIST_HEAD(&b->lru);
		list_add_tail(&b->link, &dm->free);
	}
	dm->free_pages = size >> PAGE_SHIFT;
	hdev->devmem = dm;
	return 0;

err_region:
	release_mem_region(res->start, resource_size(res));
err_blocks:
	kvfree(dm->blocks);
err_free:
	kfree(dm);
	return ret;
}

/**
 * hmirror_devmem_fini() - take a device instance's memory away
 * @hdev: device instance, with no context left
 *
 * Every page still in use (anonymous memory of running processes) is
 * evicted to system memory first: their data survives the unload.
 */
void hmirror_devmem_fini(struct hmirror_device *hdev)
{
	struct hmirror_devmem *dm = hdev->devmem;
	unsigned int i;

	if (!dm)
		return;
	/* Eviction can fail for a while (a THP-sized allocation): retry. */
	while (atomic64_read(&dm->resident)) {
		if (hmirror_devmem_evict(hdev, dm->nr_blocks) <= 0 &&
		    atomic64_read(&dm->resident))
			wait_event_timeout(dm->freed_wq,
					   !atomic64_read(&dm->resident),
					   HZ / 10);
	}
	memunmap_pages(&dm->pgmap);
	release_mem_region(dm->res->start, resource_size(dm->res));
	for (i = 0; i < dm->nr_blocks; i++)
		hmirror_backing_free(dm->blocks[i].backing,
				     dm->blocks[i].folio);
	kvfree(dm->blocks);
	kfree(dm);
	hdev->devmem = NULL;
}

/**
 * hmirror_devmem_stats() - the device memory counters of STATS
 * @hdev: device instance
 * @st: where to put them
 */
void hmirror_devmem_stats(struct hmirror_device *hdev, struct hmirror_stats *st)
{
	struct hmirror_devmem *dm = hdev->devmem;

	if (!dm)
		return;
	st->dev_vram_pages = (u64)dm->nr_blocks * HMIRROR_CHUNK_PAGES;
	st->dev_resident = atomic64_read(&dm->resident);
	st->dev_migrated_in = atomic64_read(&dm->migrated_in);
	st->dev_migrated_out = atomic64_read(&dm->migrated_out);
	st->dev_cpu_faults = atomic64_read(&dm->cpu_faults);
	st->dev_evicted = atomic64_read(&dm->evicted);
	st->dev_vram_kind = dm->coherent ? HMIRROR_VRAM_COHERENT :
					   HMIRROR_VRAM_PRIVATE;
}
