// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror's kernel interface: contexts, faults, device accesses,
 * snapshots and migrations for other kernel modules (namespace HMIRROR).
 */

#include <linux/export.h>
#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "hmirror_internal.h"

/**
 * DOC: kernel interface
 *
 * Another kernel module (the test_hmm front end in compat_dmirror/, for
 * one) can drive hmirror's core without a file of /dev/hmirror<N>: it
 * creates a context for the current process on a device instance, and
 * then works on that context with the core's own machinery: faults
 * follow the hmirror_pt_fault() protocol into the device page table,
 * reads and writes go through that page table under pt_lock as the
 * engine's do, migrations are hmirror_migrate_range(). Nothing here keeps
 * a page table or a notifier of its own, except the snapshot's throwaway
 * notifier, which only detects that a snapshot raced with a change.
 *
 * A context is bound to the mm of the process that created it; every
 * function but hmirror_ctx_destroy() must be called from that process.
 * Kernel contexts are of preemption class PAGE and run no jobs, so no
 * invalidation ever waits for them.
 */

/**
 * hmirror_device_vram_kind() - what device memory an instance has
 * @index: instance number N of /dev/hmirror<N>
 *
 * Return: HMIRROR_VRAM_PRIVATE or HMIRROR_VRAM_COHERENT, -ENOMEM if the
 * instance has no device memory (vram_mb=0), -ENODEV if there is no such
 * instance.
 */
int hmirror_device_vram_kind(unsigned int index)
{
	struct hmirror_device *hdev;

	hdev = hmirror_device_get(index);
	if (!hdev)
		return -ENODEV;
	if (!hdev->devmem)
		return -ENOMEM;
	return hdev->devmem->coherent ? HMIRROR_VRAM_COHERENT :
					HMIRROR_VRAM_PRIVATE;
}
EXPORT_SYMBOL_NS_GPL(hmirror_device_vram_kind, HMIRROR_NS);

/**
 * hmirror_ctx_create() - a context of instance @index for current's mm
 * @index: instance number N of /dev/hmirror<N>
 *
 * The same context a file of /dev/hmirror<N> has (STATS, debugfs and
 * invalidations see it), with no file.
 *
 * Return: the context or an ERR_PTR(): -ENODEV, -EINVAL from a kernel
 * thread, -ENOMEM.
 */
struct hmirror_ctx *hmirror_ctx_create(unsigned int index)
{
	struct hmirror_device *hdev = hmirror_device_get(index);

	if (!hdev)
		return ERR_PTR(-ENODEV);
	return __hmirror_ctx_create(hdev);
}
EXPORT_SYMBOL_NS_GPL(hmirror_ctx_create, HMIRROR_NS);

/**
 * hmirror_ctx_destroy() - free a context made by hmirror_ctx_create()
 * @ctx: the context; from any process
 */
void hmirror_ctx_destroy(struct hmirror_ctx *ctx)
{
	__hmirror_ctx_destroy(ctx);
}
EXPORT_SYMBOL_NS_GPL(hmirror_ctx_destroy, HMIRROR_NS);

/**
 * hmirror_ctx_check() - may the current process use @ctx now?
 * @ctx: context
 *
 * Return: 0, -EACCES from another mm than the context's (a file passed or
 * inherited), -EIO if the context is dead.
 */
int hmirror_ctx_check(struct hmirror_ctx *ctx)
{
	if (current->mm != ctx->mm)
		return -EACCES;
	if (READ_ONCE(ctx->state) != HMIRROR_CTX_ALIVE)
		return -EIO;
	return 0;
}
EXPORT_SYMBOL_NS_GPL(hmirror_ctx_check, HMIRROR_NS);

/**
 * hmirror_ctx_fault() - mirror [@start, @end) into the device page table
 * @ctx: context, from its own process
 * @start: page-aligned start
 * @end: page-aligned end
 * @flags: HMIRROR_KF_WRITE, HMIRROR_KF_UNLOCKED, HMIRROR_KF_EXCLUSIVE
 *
 * One hmirror_pt_fault() per 2 MiB chunk, in order; stops at the first
 * chunk that fails. PTEs of earlier chunks stay (until an invalidation).
 * Under HMIRROR_KF_EXCLUSIVE the pages are taken device-exclusive instead
 * (hmirror_pt_make_exclusive(): faulted in for writing, then the CPU's
 * PTE becomes a device-exclusive entry and the device's gets
 * HMIRROR_PTE_EXCL, until the CPU touches the page again); the device's
 * own private pages are mapped as they are.
 *
 * Return: 0, -EFAULT (some page not mapped, or no access), -EPERM (a
 * write to a read-only mapping), -EINTR, -ENOMEM, -EIO (context dead),
 * -EOPNOTSUPP (HMIRROR_KF_UNLOCKED on a kernel without it; under
 * HMIRROR_KF_EXCLUSIVE, memory that is not private anonymous), -EBUSY
 * (HMIRROR_KF_EXCLUSIVE, older kernels: a page could not be taken).
 */
int hmirror_ctx_fault(struct hmirror_ctx *ctx, unsigned long start,
		      unsigned long end, unsigned int flags)
{
	unsigned int ptf = HMIRROR_PT_EPERM;
	struct hmirror_range *r;
	unsigned long s, e, seq;
	int ret = 0;

	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || end < start)
		return -EINVAL;
	if (flags & HMIRROR_KF_WRITE)
		ptf |= HMIRROR_PT_WRITE;
	if (flags & HMIRROR_KF_UNLOCKED)
		ptf |= HMIRROR_PT_UNLOCKED;
	if (!mmget_not_zero(ctx->mm))
		return -EFAULT;
	mutex_lock(&ctx->lock);
	if (!ctx->fault_pfns)
		ctx->fault_pfns = kvmalloc_array(HMIRROR_CHUNK_PAGES,
						 sizeof(unsigned long),
						 GFP_KERNEL);
	if (!ctx->fault_pfns)
		ret = -ENOMEM;
	for (s = start; s < end && !ret; s = e) {
		e = min(ALIGN(s + 1, HMIRROR_CHUNK_SIZE), end);
		if (flags & HMIRROR_KF_EXCLUSIVE)
			ret = hmirror_pt_make_exclusive(ctx, s, e,
							ctx->fault_pfns, &r,
							&seq);
		else
			ret = hmirror_pt_fault(ctx, s, e, ptf, ctx->fault_pfns,
					       &r, &seq);
	}
	mutex_unlock(&ctx->lock);
	mmput(ctx->mm);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(hmirror_ctx_fault, HMIRROR_NS);

/**
 * hmirror_ctx_exclusive_pages() - how many pages the device holds exclusive
 * @ctx: context
 * @addr: page-aligned user address
 * @npages: pages from @addr
 *
 * Counts the device PTEs of the range with HMIRROR_PTE_EXCL: pages the
 * CPU has not touched since hmirror_ctx_fault(HMIRROR_KF_EXCLUSIVE) took
 * them (a CPU access revokes the device's PTE).
 *
 * Return: the number of such pages.
 */
unsigned long hmirror_ctx_exclusive_pages(struct hmirror_ctx *ctx,
					  unsigned long addr,
					  unsigned long npages)
{
	unsigned long i, n = 0;

	for (i = 0; i < npages; i++, addr += PAGE_SIZE) {
		spin_lock(&ctx->pt_lock);
		n += !!(hmirror_pt_lookup(ctx, addr) & HMIRROR_PTE_EXCL);
		spin_unlock(&ctx->pt_lock);
		cond_resched();
	}
	return n;
}
EXPORT_SYMBOL_NS_GPL(hmirror_ctx_exclusive_pages, HMIRROR_NS);

/**
 * hmirror_ctx_access() - the device reads or writes whole pages
 * @ctx: context
 * @addr: page-aligned user address
 * @buf: kernel buffer of @npages pages
 * @npages: pages to copy
 * @write: copy @buf to the pages, else the pages to @buf
 *
 * Goes through the device page table only, page by page under pt_lock,
 * as the sw engine does: it never faults and never looks at the CPU's
 * page tables. It stops at the first page the device has no translation
 * for (no PTE, or a read-only one for a write): fault that in with
 * hmirror_ctx_fault() and call again for the rest.
 *
 * Return: pages copied, from the first.
 */
unsigned long hmirror_ctx_access(struct hmirror_ctx *ctx, unsigned long addr,
				 void *buf, unsigned long npages, bool write)
{
	unsigned long i;
	void *kaddr;

	for (i = 0; i < npages; i++, addr += PAGE_SIZE, buf += PAGE_SIZE) {
		spin_lock(&ctx->pt_lock);
		kaddr = ctx->state == HMIRROR_CTX_ALIVE ?
			hmirror_pt_map(ctx, addr, write, false) : NULL;
		if (kaddr) {
			if (write)
				memcpy(kaddr, buf, PAGE_SIZE);
			else
				memcpy(buf, kaddr, PAGE_SIZE);
			hmirror_pt_unmap(kaddr);
		}
		spin_unlock(&ctx->pt_lock);
		if (!kaddr)
			break;
		cond_resched();
	}
	return i;
}
EXPORT_SYMBOL_NS_GPL(hmirror_ctx_access, HMIRROR_NS);

static u32 hmirror_snap_page(struct hmirror_device *hdev, unsigned long hpfn)
{
	struct page *page;
	u32 v;

	if (hpfn & HMM_PFN_ERROR)
		return HMIRROR_SNAP_ERROR;
	if (!(hpfn & HMM_PFN_VALID))
		return 0;
	page = hmm_pfn_to_page(hpfn);
	v = HMIRROR_SNAP_VALID |
	    hmm_pfn_to_map_order(hpfn) << HMIRROR_SNAP_ORDER_SHIFT;
	if (hpfn & HMM_PFN_WRITE)
		v |= HMIRROR_SNAP_WRITE;
	if (is_device_private_page(page))
		v |= HMIRROR_SNAP_PRIVATE;
	else if (is_device_coherent_page(page))
		v |= HMIRROR_SNAP_COHERENT;
	else if (is_zero_pfn(page_to_pfn(page)))
		v |= HMIRROR_SNAP_ZERO;
	if (hmirror_page_is_mine(hdev, page))
		v |= HMIRROR_SNAP_LOCAL;
	return v;
}

/**
 * hmirror_ctx_snapshot() - what the CPU maps, as the device would see it
 * @ctx: context, from its own process
 * @start: page-aligned start
 * @npages: pages
 * @out: HMIRROR_SNAP_* of each page
 *
 * hmm_range_fault() without faulting, with the context's device as the
 * owner of device-private pages (so they are reported, not migrated; the
 * other instances' private pages show as not present), one 2 MiB chunk at
 * a time, retried until no invalidation raced with it. The device page
 * table is not touched.
 *
 * Return: 0, -EFAULT (the mm is gone), -ENOMEM, -EINTR.
 */
int hmirror_ctx_snapshot(struct hmirror_ctx *ctx, unsigned long start,
			 unsigned long npages, u32 *out)
{
	unsigned long end = start + (npages << PAGE_SHIFT), s, e, i;
	struct mmu_interval_notifier notifier = {};
	struct hmm_range range = {
		.notifier = &notifier,
		.dev_private_owner = ctx->hdev,
	};
	int ret;

	if (!PAGE_ALIGNED(start) || end <= start)
		return -EINVAL;
	range.hmm_pfns = kvmalloc_array(HMIRROR_CHUNK_PAGES,
					sizeof(unsigned long), GFP_KERNEL);
	if (!range.hmm_pfns)
		return -ENOMEM;
	if (!mmget_not_zero(ctx->mm)) {
		ret = -EFAULT;
		goto out_free;
	}
	ret = mmu_interval_notifier_insert(&notifier, ctx->mm, start,
					   end - start, &hmirror_snapshot_ops);
	if (ret)
		goto out_put;

	for (s = start; s < end && !ret; s = e) {
		e = min(ALIGN(s + 1, HMIRROR_CHUNK_SIZE), end);
		range.start = s;
		range.end = e;
		do {
			if (fatal_signal_pending(current)) {
				ret = -EINTR;
				break;
			}
			range.notifier_seq = mmu_interval_read_begin(&notifier);
			mmap_read_lock(ctx->mm);
			ret = hmm_range_fault(&range);
			mmap_read_unlock(ctx->mm);
		} while (ret == -EBUSY ||
			 (!ret && mmu_interval_read_retry(&notifier,
							  range.notifier_seq)));
		for (i = 0; !ret && i < (e - s) >> PAGE_SHIFT; i++)
			out[((s - start) >> PAGE_SHIFT) + i] =
				hmirror_snap_page(ctx->hdev, range.hmm_pfns[i]);
	}
	mmu_interval_notifier_remove(&notifier);
out_put:
	mmput(ctx->mm);
out_free:
	kvfree(range.hmm_pfns);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(hmirror_ctx_snapshot, HMIRROR_NS);

/**
 * hmirror_ctx_migrate() - move [@start, @end) to or from the device
 * @ctx: context, from its own process
 * @start: page-aligned start
 * @end: page-aligned end
 * @flags: HMIRROR_KM_TO_DEVICE (else to system memory),
 *	   HMIRROR_KM_SYSTEM_ONLY (to the device: system pages only, leave
 *	   those in other instances' memory)
 * @moved: out: pages moved
 * @failed: out: pages not at the target afterwards
 *
 * hmirror_migrate_range(), as HMIRROR_IOC_MIGRATE does it.
 *
 * Return: 0 (even if some pages stayed) or a negative errno: -EOPNOTSUPP
 * if the instance has no device memory, -EFAULT if the mm is gone or part
 * of the range has no VMA.
 */
int hmirror_ctx_migrate(struct hmirror_ctx *ctx, unsigned long start,
			unsigned long end, unsigned int flags, u64 *moved,
			u64 *failed)
{
	int ret;

	if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || end <= start)
		return -EINVAL;
	if (!ctx->hdev->devmem)
		return -EOPNOTSUPP;
	if (!mmget_not_zero(ctx->mm))
		return -EFAULT;
	ret = hmirror_migrate_range(ctx, start, end,
				    flags & HMIRROR_KM_TO_DEVICE,
				    flags & HMIRROR_KM_SYSTEM_ONLY ?
				    HMIRROR_MIG_SYSTEM_ONLY : 0,
				    NULL, moved, failed);
	mmput(ctx->mm);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(hmirror_ctx_migrate, HMIRROR_NS);

/**
 * hmirror_ctx_fail_huge_alloc() - make the next device THP allocation fail
 * @ctx: context; its device instance is the one armed
 * @arm: arm (true) or disarm (false)
 *
 * Once armed, the instance's next allocation of a whole 2 MiB block (a
 * THP moving to the device) fails, as on a device whose memory is too
 * fragmented for one, and the migration falls back to 4 KiB pages; then
 * the site disarms itself. Instances without device THPs (coherent
 * memory, older kernels) never allocate one: disarm after use.
 */
void hmirror_ctx_fail_huge_alloc(struct hmirror_ctx *ctx, bool arm)
{
	atomic_set(&ctx->hdev->fail_huge_alloc, arm);
}
EXPORT_SYMBOL_NS_GPL(hmirror_ctx_fail_huge_alloc, HMIRROR_NS);

/**
 * hmirror_ctx_devmem_evict() - empty the device memory of @ctx's instance
 * @ctx: context
 *
 * Every page in the instance's memory, of any process, goes back to
 * system memory (hmirror_devmem_evict() over every block).
 *
 * Return: pages evicted, or a negative errno.
 */
long hmirror_ctx_devmem_evict(struct hmirror_ctx *ctx)
{
	struct hmirror_device *hdev = ctx->hdev;

	if (!hdev->devmem)
		return 0;
	return hmirror_devmem_evict(hdev, hdev->devmem->nr_blocks);
}
EXPORT_SYMBOL_NS_GPL(hmirror_ctx_devmem_evict, HMIRROR_NS);
