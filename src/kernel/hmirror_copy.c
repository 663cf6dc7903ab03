// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror migration copies: who copies a page between system memory and
 * device memory, the CPU or a device's copy engine.
 */

#include <linux/highmem.h>
#include <linux/memremap.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>

#include "hmirror_internal.h"

/**
 * DOC: migration copies
 *
 * A migration round collects its copies in a batch and runs them all
 * before migrate_vma_pages(), so that a device with a copy engine gets
 * them in one submission and the round waits once, not once a page.
 *
 * Which agent copies depends on where the data is:
 *
 * - system memory, device-coherent memory and the sw backend's backing
 *   pages are all CPU-addressable: the CPU copies (kmap, copy_page);
 * - a device page of a backend with a copy engine (the PCI accelerator's
 *   VRAM) is reached by that device's engine only, which takes the
 *   copies of a batch that involve its memory in one call, with the
 *   other side a system page (a sw device page is handed to it as its
 *   backing page);
 * - between the VRAM of two such devices there is no peer-to-peer path
 *   (the model's devices reach host memory only, as PCI devices without
 *   P2P DMA do): the copy is staged through a system page, the source
 *   device copying out and the destination device copying in.
 *
 * Each copy gets a status. A failed copy leaves the migration entry
 * without a destination, so the page stays where it is and the caller
 * reports it, page by page.
 */

/* The device whose own engine must reach @page, or NULL: the CPU can. */
static struct hmirror_device *hmirror_copy_engine(struct page *page)
{
	struct hmirror_device *hdev;

	if (!page || !is_device_private_page(page))
		return NULL;
	hdev = page_pgmap(page)->owner;
	return hdev->ops->copy ? hdev : NULL;
}

/*
 * Where the CPU (or an engine) finds a page's data: a sw device page's is
 * its backing page; any other page holds its own.
 */
static struct page *hmirror_copy_cpu_page(struct page *page)
{
	if (page && hmirror_devmem_page_backed(page))
		return hmirror_devmem_backing(page);
	return page;
}

/**
 * hmirror_copy_add() - add a copy to a batch
 * @b: the batch, with room for one more
 * @dst: first destination page
 * @src: first source page, or NULL for zeroes
 * @nr: pages: 1, or HMIRROR_CHUNK_PAGES
 * @idx: the caller's index of the copy
 */
void hmirror_copy_add(struct hmirror_copy_batch *b, struct page *dst,
		      struct page *src, unsigned int nr, unsigned int idx)
{
	if (WARN_ON_ONCE(b->n >= b->max))
		return;
	b->c[b->n++] = (struct hmirror_copy){
		.dst = dst, .src = src, .nr = nr, .idx = idx,
	};
}

/**
 * hmirror_page_map() - the CPU's address of a page's data
 * @page: a system or device-coherent page, or a device-private page of
 *	  hmirror's: a sw device page's data is its backing page, a VRAM
 *	  page's is reached through its device's BAR
 *
 * Return: the kernel address, to be let go with hmirror_page_unmap(), in
 * the reverse order of mapping (kmap_local_page() rules).
 */
void *hmirror_page_map(struct page *page)
{
	struct hmirror_device *hdev;

	if (!is_device_private_page(page))
		return kmap_local_page(page);
	if (hmirror_devmem_page_backed(page))
		return kmap_local_page(hmirror_devmem_backing(page));
	hdev = page_pgmap(page)->owner;
	return hdev->ops->vram_map(hdev, page);
}

/**
 * hmirror_page_unmap() - let go of what hmirror_page_map() gave
 * @addr: an address in the page it returned
 */
void hmirror_page_unmap(void *addr)
{
	/* VRAM stays mapped; kmap_local addresses are never vmalloc ones. */
	if (!is_vmalloc_addr(addr))
		kunmap_local(addr);
}

/**
 * hmirror_copy_cpu() - carry out one copy with the CPU
 * @c: the copy; VRAM is reached through the BAR (what a dead device or
 *     a reset left undone)
 */
void hmirror_copy_cpu(struct hmirror_copy *c)
{
	unsigned int i;
	void *d, *s;

	for (i = 0; i < c->nr; i++) {
		d = hmirror_page_map(c->dst + i);
		if (c->src) {
			s = hmirror_page_map(c->src + i);
			copy_page(d, s);
			hmirror_page_unmap(s);
		} else {
			clear_page(d);
		}
		hmirror_page_unmap(d);
	}
	c->status = 0;
}

/* One page by @hdev's engine; @dst and @src the CPU can reach or are its. */
static int hmirror_copy_page_by(struct hmirror_device *hdev, struct page *dst,
				struct page *src)
{
	struct hmirror_copy c = { .dst = dst, .src = src, .nr = 1 };
	int ret;

	ret = hdev->ops->copy(hdev, &c, 1);
	return ret ?: c.status;
}

/*
 * The rare copies: between two devices' VRAM (staged through a system
 * page), or between VRAM and a sw device page, whose backing pages are
 * not contiguous. Page by page.
 */
static void hmirror_copy_slow(struct hmirror_copy *c, struct hmirror_device *de,
			      struct hmirror_device *se)
{
	struct page *dst, *src, *bounce = NULL;
	unsigned int i;
	int ret = 0;

	if (de && se) {
		bounce = alloc_page(GFP_HIGHUSER);
		if (!bounce) {
			c->status = -ENOMEM;
			return;
		}
	}
	for (i = 0; i < c->nr && !ret; i++) {
		src = c->src ? c->src + i : NULL;
		dst = c->dst + i;
		if (bounce) {
			ret = hmirror_copy_page_by(se, bounce, src);
			if (!ret)
				ret = hmirror_copy_page_by(de, dst, bounce);
		} else if (de) {
			ret = hmirror_copy_page_by(de, dst,
						   hmirror_copy_cpu_page(src));
		} else {
			ret = hmirror_copy_page_by(se,
						   hmirror_copy_cpu_page(dst),
						   src);
		}
	}
	if (bounce)
		__free_page(bounce);
	c->status = ret;
}

/*
 * The engine that takes @c in a batch call, or NULL if the CPU copies it
 * or it needs hmirror_copy_slow() (*@slow).
 */
static struct hmirror_device *hmirror_copy_route(struct hmirror_copy *c,
						 bool *slow)
{
	struct hmirror_device *de = hmirror_copy_engine(c->dst);
	struct hmirror_device *se = hmirror_copy_engine(c->src);
	struct page *page;

	*slow = false;
	if (!de && !se)
		return NULL;
	if (de && se && de != se) {
		*slow = true;
		return NULL;
	}
	page = de ? c->src : c->dst;
	if (page && hmirror_devmem_page_backed(page) && c->nr > 1) {
		*slow = true;
		return NULL;
	}
	return de ?: se;
}

/**
 * hmirror_copy_run() - carry out every copy of a batch
 * @b: the batch; each copy's status is set, and the copies may be
 *     reordered (find them by their idx)
 *
 * May sleep.
 */
void hmirror_copy_run(struct hmirror_copy_batch *b)
{
	struct hmirror_device *e, *e2;
	unsigned int i, j, k;
	bool slow;
	int ret;

	for (i = 0; i < b->n;) {
		e = hmirror_copy_route(&b->c[i], &slow);
		if (!e) {
			if (slow)
				hmirror_copy_slow(&b->c[i],
						  hmirror_copy_engine(b->c[i].dst),
						  hmirror_copy_engine(b->c[i].src));
			else
				hmirror_copy_cpu(&b->c[i]);
			i++;
			continue;
		}
		/* Gather every copy of the same engine behind this one. */
		for (j = i + 1, k = i + 1; k < b->n; k++) {
			e2 = hmirror_copy_route(&b->c[k], &slow);
			if (e2 == e) {
				swap(b->c[j], b->c[k]);
				j++;
			}
		}
		for (k = i; k < j; k++) {
			b->c[k].src = hmirror_copy_cpu_page(b->c[k].src);
			b->c[k].dst = hmirror_copy_cpu_page(b->c[k].dst);
		}
		ret = e->ops->copy(e, &b->c[i], j - i);
		for (k = i; ret && k < j; k++)
			b->c[k].status = ret;
		i = j;
	}
}
