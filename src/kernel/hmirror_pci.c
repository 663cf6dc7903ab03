// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror PCI backend: the driver of the emulated accelerator of
 * qemu-models/, whose interface hmirror_pci_hw.h describes.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/interrupt.h>
#include <linux/memremap.h>
#include <linux/io.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "hmirror_internal.h"
#include "hmirror_pci_hw.h"

/**
 * DOC: PCI backend
 *
 * Unlike the sw engine, this device is a separate agent: it reads the
 * page table by DMA without taking pt_lock, caches translations in a TLB
 * of its own, runs jobs from rings in memory and interrupts the CPU. So:
 *
 * - The device's page table is the mirror's own: an L1 table is a
 *   range's PTE array (one 4 KiB page), and an L2 entry is the range's
 *   huge PTE or points at that array. The backend keeps the directory
 *   above (L4, L3, L2 pages, allocated when a range is created, freed with
 *   the context) and rewrites a range's L2 entry under pt_lock whenever
 *   the range's array or huge entry changes.
 * - Every zap that cleared a valid entry posts a TLB invalidation, and
 *   the invalidation callback returns only after the device acknowledged
 *   it (non-blockable: it returns false instead of waiting). A device
 *   that does not acknowledge within HMPCI_ACK_TIMEOUT_MS gets the
 *   context reset, and the context is escalated.
 * - A range's array is freed only after its L2 entry is cleared and an
 *   invalidation of the chunk acknowledged: the device walks nothing
 *   stale.
 * - Jobs are copied, commands and all, into ring entries the backend
 *   owns, so a job the host ends early (a failed refault) is never read
 *   from freed memory; slot.cancel_fence tells the device to drop those.
 * - A context reset that is not acknowledged within half its bound is
 *   followed by a whole-device reset (every other context loses its jobs
 *   in flight, -EIO); if that is not acknowledged either, bus mastering
 *   is switched off, the device is dead and every context on it fails.
 *   Either way ctx_reset returns within its bound, and afterwards no DMA
 *   of the device reaches memory.
 * - Interrupts only say "look": completions, parks and acks are read from
 *   memory, and a poll every HMPCI_POLL_MS finds what a lost interrupt
 *   did not announce.
 * - PINNED regions: the device reaches memory only through its page
 *   table, so a pinned region's pages get a mapping of their own in the
 *   upper half of the device's 48-bit address space (HMPCI_PIN_BASE up),
 *   which user addresses never reach: one window per region, 2 MiB
 *   aligned, never reused by the context. The backend rewrites the
 *   operands that name the region into the window when it copies a job
 *   into its ring, as an RDMA NIC translates a key through its own table.
 *   Revoking the region clears the window's PTEs and invalidates the TLB;
 *   a job then finds no translation there and fails with -ECANCELED.
 *
 * BAR2 is the model's shared memory, coherent with the CPU: it is mapped
 * write-back and accessed like memory, with acquire/release ordering on
 * the request and acknowledgment words.
 */

/**
 * DOC: PCI device memory
 *
 * The device's VRAM becomes the instance's device-private memory: the
 * mirror's allocator hands out ZONE_DEVICE pages of a free physical
 * range, and the driver sets the device's devpriv window to that range,
 * so the physical address of a device-private page is, to the device,
 * its VRAM page. PTEs naming device pages thus need no translation, and
 * jobs on device-resident memory never leave the device.
 *
 * Migrations copy with the device's copy engine: a round's copies go
 * into its ring in one submission, and the round waits once for the
 * device to get through them (bounded: an engine that does not finish in
 * HMPCI_COPY_TIMEOUT_MS gets a device reset, then bus mastering off). A
 * copy the device failed (a refused DMA) leaves its page where it was.
 * Copies the device never carried out (it was reset, or is dead) are
 * done by the CPU through the BAR instead: VRAM is still readable there,
 * so data on a dead device still comes home, on a CPU fault as on
 * unload.
 */

#define HMPCI_RING_SIZE		32	/* jobs in flight per context */
#define HMPCI_ACK_TIMEOUT_MS	200	/* TLB invalidation acknowledgment */
#define HMPCI_POLL_MS		20	/* finds what lost interrupts hid */
#define HMPCI_DRAIN_MS		10	/* DMA in flight after bus master off */
#define HMPCI_SPIN_US		100	/* a device between two steps acks by then */
#define HMPCI_COPY_RING		(PAGE_SIZE / sizeof(struct hmpci_copy))
#define HMPCI_PIN_BASE		BIT_ULL(47)	/* pinned windows: above user VAs */
#define HMPCI_VA_END		BIT_ULL(48)
#define HMPCI_COPY_TIMEOUT_MS	1000	/* a ring of copies, 2 MiB each at most */

/**
 * struct hmirror_pci_slot - the host side of one context's device slot
 * @ctx: its context
 * @index: slot number
 * @hw: the slot's registers in BAR2
 * @l4: root of the device's page table
 * @ring_page: the hmpci_job ring
 * @ring: its entries
 * @cmd_pages: a copy of each entry's commands
 * @fences: the fence of the job in each entry (pt_lock)
 * @tail: entries filled (free-running, pt_lock)
 * @done: entries seen ended (free-running, pt_lock)
 * @pushed: newest fence handed to the device (pt_lock)
 * @parked: fence of the job the device holds parked, or 0 (pt_lock)
 * @fault_seen: last hw->fault_seq looked at (pt_lock)
 * @cancel: last hw->cancel_fence written (pt_lock)
 * @inval_req: last invalidation posted (pt_lock)
 * @inval_start: the range of the invalidations posted and not yet
 *		 acknowledged: only ever widened while one is pending
 * @inval_end: its end
 * @resume_req: last resume posted (pt_lock)
 * @reset_req: last slot reset posted (pt_lock)
 * @pin_next: where the next pinned region's window goes (ctx->lock)
 */
struct hmirror_pci_slot {
	struct hmirror_ctx *ctx;
	unsigned int index;
	struct hmpci_slot *hw;
	struct page *l4;
	struct page *ring_page;
	struct hmpci_job *ring;
	struct page *cmd_pages[HMPCI_RING_SIZE];
	u64 fences[HMPCI_RING_SIZE];
	u32 tail;
	u32 done;
	u64 pushed;
	u64 parked;
	u32 fault_seen;
	u64 cancel;
	u32 inval_req;
	unsigned long inval_start;
	unsigned long inval_end;
	u32 resume_req;
	u32 reset_req;
	u64 pin_next;
};

/**
 * struct hmirror_pci - one accelerator
 * @hdev: its hmirror instance
 * @pdev: the PCI device
 * @bar0: ivshmem's registers (the doorbell)
 * @regs: device registers, at the start of BAR2
 * @slots_hw: the slots' registers in BAR2
 * @nr_slots: slots the device has
 * @slot_lock: protects @slots; taken before a context's pt_lock
 * @slots: the host side of each slot in use, or NULL
 * @ack_wq: woken by every interrupt: waiters for acknowledgments
 * @poll_work: scans the slots every HMPCI_POLL_MS
 * @reset_lock: serialises whole-device resets
 * @dead: bus mastering is off for good: nothing runs, nothing is waited for
 * @vram: the device's VRAM in BAR2, for the CPU's copies of a dead device
 * @vram_size: its size
 * @devpriv_base: physical address of device-private page 0 (the window)
 * @copy_lock: serialises use of the copy engine's ring
 * @copy_page: the copy engine's ring
 * @copy_ring: its entries
 * @copy_tail: entries filled (free-running, copy_lock)
 */
struct hmirror_pci {
	struct hmirror_device hdev;
	struct pci_dev *pdev;
	void __iomem *bar0;
	struct hmpci_regs *regs;
	struct hmpci_slot *slots_hw;
	unsigned int nr_slots;
	spinlock_t slot_lock;	/* slots */
	struct hmirror_pci_slot *slots[HMPCI_MAX_SLOTS];
	wait_queue_head_t ack_wq;
	struct delayed_work poll_work;
	struct mutex reset_lock;	/* device reset */
	bool dead;
	void *vram;
	u64 vram_size;
	u64 devpriv_base;
	struct mutex copy_lock;		/* copy ring */
	struct page *copy_page;
	struct hmpci_copy *copy_ring;
	u32 copy_tail;
};

static struct hmirror_pci *hmirror_pci_of(struct hmirror_device *hdev)
{
	return container_of(hdev, struct hmirror_pci, hdev);
}

static void hmirror_pci_doorbell(struct hmirror_pci *p)
{
	writel(READ_ONCE(p->regs->doorbell_peer) << 16,
	       p->bar0 + HMPCI_IVSHMEM_DOORBELL);
}

/* Sequence @ack has reached @req. */
static bool hmirror_pci_acked(const u32 *ack, u32 req)
{
	/* What the device did before acking is visible after this read. */
	return (s32)(smp_load_acquire(ack) - req) >= 0;
}

/*
 * Spin up to HMPCI_SPIN_US for @ack to reach @req, without sleeping: a
 * device that is not stuck acks between two page steps, far sooner than an
 * interrupt and a wakeup would tell us.
 */
static bool hmirror_pci_spin_ack(struct hmirror_pci *p, const u32 *ack,
				 u32 req)
{
	unsigned int us;

	for (us = 0; us < HMPCI_SPIN_US; us++) {
		if (hmirror_pci_acked(ack, req) || READ_ONCE(p->dead))
			return true;
		udelay(1);
	}
	return hmirror_pci_acked(ack, req);
}

/*
 * Wait until @ack reaches @req, at most @ms: a short spin, then sleeps.
 * Interrupts wake us; a lost one costs a millisecond, not the whole bound.
 */
static int hmirror_pci_wait_ack(struct hmirror_pci *p, const u32 *ack,
				u32 req, unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);

	if (hmirror_pci_spin_ack(p, ack, req))
		return 0;
	for (;;) {
		if (hmirror_pci_acked(ack, req) || READ_ONCE(p->dead))
			return 0;
		if (time_after(jiffies, end))
			return -ETIMEDOUT;
		wait_event_timeout(p->ack_wq, hmirror_pci_acked(ack, req) ||
				   READ_ONCE(p->dead), msecs_to_jiffies(1) ?: 1);
	}
}

/* Physical address of a page-sized table the mirror allocated. */
static u64 hmirror_pci_phys(void *p)
{
	if (is_vmalloc_addr(p))
		return page_to_phys(vmalloc_to_page(p)) + offset_in_page(p);
	return virt_to_phys(p);
}

/* The table an L4 or L3 entry points at, made if @alloc and missing. */
static u64 *hmirror_pci_dir_next(u64 *table, unsigned int i, bool alloc)
{
	u64 e = READ_ONCE(table[i]);
	struct page *page;

	if (e & HMPCI_DIR_VALID)
		return phys_to_virt(e & HMPCI_ADDR_MASK);
	if (!alloc)
		return NULL;
	page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!page)
		return NULL;
	/* Zeroed before the device can find it. */
	smp_store_release(&table[i], page_to_phys(page) | HMPCI_DIR_VALID);
	return page_address(page);
}

/* The L2 entry of the chunk of @addr; directory made if @alloc. */
static u64 *hmirror_pci_l2e(struct hmirror_pci_slot *s, unsigned long addr,
			    bool alloc)
{
	u64 *t = page_address(s->l4);

	t = hmirror_pci_dir_next(t, (addr >> 39) & 511, alloc);
	if (t)
		t = hmirror_pci_dir_next(t, (addr >> 30) & 511, alloc);
	return t ? &t[(addr >> 21) & 511] : NULL;
}

/* An L2 table; in the pinned windows also the L1 tables, which are ours. */
static void hmirror_pci_l2_free(u64 *t2, bool ours)
{
	unsigned int i;

	for (i = 0; ours && i < 512; i++)
		if (t2[i] & HMPCI_DIR_VALID)
			free_page((unsigned long)phys_to_virt(t2[i] &
							      HMPCI_ADDR_MASK));
	free_page((unsigned long)t2);
}

static void hmirror_pci_dir_free(struct page *l4)
{
	u64 *t4 = page_address(l4), *t3;
	unsigned int i, j;

	for (i = 0; i < 512; i++) {
		if (!(t4[i] & HMPCI_DIR_VALID))
			continue;
		t3 = phys_to_virt(t4[i] & HMPCI_ADDR_MASK);
		for (j = 0; j < 512; j++)
			if (t3[j] & HMPCI_DIR_VALID)
				hmirror_pci_l2_free(phys_to_virt(t3[j] &
								 HMPCI_ADDR_MASK),
						    i >= 256);
		free_page((unsigned long)t3);
	}
	__free_page(l4);
}

static int hmirror_pci_range_init(struct hmirror_range *r)
{
	lockdep_assert_held(&r->ctx->lock);
	return hmirror_pci_l2e(r->ctx->priv, r->start, true) ? 0 : -ENOMEM;
}

static void hmirror_pci_range_update(struct hmirror_range *r)
{
	u64 *l2e = hmirror_pci_l2e(r->ctx->priv, r->start, false);
	u64 e = 0;

	lockdep_assert_held(&r->ctx->pt_lock);
	if (r->huge)
		e = r->huge | HMPCI_PTE_HUGE;
	else if (r->ptes)
		e = hmirror_pci_phys(r->ptes) | HMPCI_DIR_VALID;
	/* The array is zeroed (or the PTE complete) before the device sees it. */
	smp_store_release(l2e, e);
}

/* Post an invalidation of [start, end) of the slot's TLB. */
static void __hmirror_pci_inval_post(struct hmirror_pci *p,
				     struct hmirror_pci_slot *s,
				     unsigned long start, unsigned long end)
{
	lockdep_assert_held(&s->ctx->pt_lock);
	if (READ_ONCE(p->dead))
		return;
	/*
	 * The device may be reading the range of the request still pending:
	 * widening it keeps whatever mix of old and new it reads a superset.
	 */
	if (!hmirror_pci_acked(&s->hw->inval_ack, s->inval_req)) {
		start = min(start, s->inval_start);
		end = max(end, s->inval_end);
	}
	s->inval_start = start;
	s->inval_end = end;
	WRITE_ONCE(s->hw->inval_start, start);
	WRITE_ONCE(s->hw->inval_end, end);
	/* The range is written before the device sees the request. */
	smp_store_release(&s->hw->inval_req, ++s->inval_req);
	hmirror_pci_doorbell(p);
}

static void hmirror_pci_tlb_flush(struct hmirror_ctx *ctx, unsigned long start,
				  unsigned long end)
{
	__hmirror_pci_inval_post(hmirror_pci_of(ctx->hdev), ctx->priv, start,
				 end);
}

static int hmirror_pci_ctx_reset(struct hmirror_ctx *ctx,
				 unsigned int timeout_ms);

static int hmirror_pci_tlb_sync(struct hmirror_ctx *ctx, bool blockable)
{
	struct hmirror_pci *p = hmirror_pci_of(ctx->hdev);
	struct hmirror_pci_slot *s = ctx->priv;
	u32 req = READ_ONCE(s->inval_req);

	if (hmirror_pci_acked(&s->hw->inval_ack, req) || READ_ONCE(p->dead))
		return 0;
	/* Non-blockable: a bounded spin, never a sleep. */
	if (!blockable)
		return hmirror_pci_spin_ack(p, &s->hw->inval_ack, req) ? 0 :
									 -EAGAIN;
	if (!hmirror_pci_wait_ack(p, &s->hw->inval_ack, req,
				  HMPCI_ACK_TIMEOUT_MS))
		return 0;
	dev_warn_ratelimited(&p->pdev->dev,
			     "context %u: TLB invalidation not acknowledged in %u ms: resetting it\n",
			     ctx->id, HMPCI_ACK_TIMEOUT_MS);
	/* Afterwards the slot's TLB is empty, or the device is off the bus. */
	hmirror_pci_ctx_reset(ctx, 2 * HMPCI_ACK_TIMEOUT_MS);
	return -ETIMEDOUT;
}

static void hmirror_pci_range_fini(struct hmirror_range *r)
{
	struct hmirror_ctx *ctx = r->ctx;
	struct hmirror_pci *p = hmirror_pci_of(ctx->hdev);

	spin_lock(&ctx->pt_lock);
	/* Cleared before the invalidation that makes the device see it. */
	smp_store_release(hmirror_pci_l2e(ctx->priv, r->start, false), 0ULL);
	__hmirror_pci_inval_post(p, ctx->priv, r->start,
				 r->start + HMIRROR_CHUNK_SIZE);
	spin_unlock(&ctx->pt_lock);
	/* No walk through the array is in flight once this returns. */
	hmirror_pci_tlb_sync(ctx, true);
}

/* The L1 entry of @va in a pinned window; tables made if @alloc. */
static u64 *hmirror_pci_pin_pte(struct hmirror_pci_slot *s, u64 va, bool alloc)
{
	u64 *l2e = hmirror_pci_l2e(s, va, alloc);
	struct page *page;

	if (!l2e)
		return NULL;
	if (!(READ_ONCE(*l2e) & HMPCI_DIR_VALID)) {
		if (!alloc)
			return NULL;
		page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
		if (!page)
			return NULL;
		/* Zeroed before the device can find it. */
		smp_store_release(l2e, page_to_phys(page) | HMPCI_DIR_VALID);
	}
	return (u64 *)phys_to_virt(READ_ONCE(*l2e) & HMPCI_ADDR_MASK) +
	       ((va >> PAGE_SHIFT) & 511);
}

/* Map the region's pages at @va, its window; tables made, pt_lock held. */
static void __hmirror_pci_mr_fill(struct hmirror_mr *mr, u64 va)
{
	u64 flags = HMPCI_PTE_VALID, *pte;
	unsigned long i;

	lockdep_assert_held(&mr->ctx->pt_lock);
	if (mr->access & HMIRROR_ACCESS_WRITE)
		flags |= HMPCI_PTE_WRITE;
	for (i = 0; i < mr->npages; i++) {
		pte = hmirror_pci_pin_pte(mr->ctx->priv, va + (i << PAGE_SHIFT),
					  false);
		WRITE_ONCE(*pte, page_to_phys(mr->pages[i]) | flags);
	}
}

static int hmirror_pci_mr_map(struct hmirror_mr *mr)
{
	struct hmirror_ctx *ctx = mr->ctx;
	struct hmirror_pci_slot *s = ctx->priv;
	u64 size = ALIGN((u64)mr->npages << PAGE_SHIFT, HMIRROR_CHUNK_SIZE);
	u64 va = s->pin_next;
	unsigned long i;

	lockdep_assert_held(&ctx->lock);
	if (size > HMPCI_VA_END - va)
		return -ENOSPC;	/* a context's windows are never reused */
	/* The tables first, outside pt_lock: they may sleep. */
	for (i = 0; i < mr->npages; i += 512)
		if (!hmirror_pci_pin_pte(s, va + (i << PAGE_SHIFT), true))
			return -ENOMEM;
	s->pin_next = va + size;

	spin_lock(&ctx->pt_lock);
	/*
	 * Revoked while being pinned or mapped: an empty window. Held: its
	 * check fills it, if the pages are still the mapping's.
	 */
	if (!mr->revoked && !mr->held)
		__hmirror_pci_mr_fill(mr, va);
	/*
	 * Kept after a revocation: jobs pushed later name the emptied
	 * window and fail there, never the user address behind it.
	 */
	mr->dev_addr = va + offset_in_page(mr->start);
	spin_unlock(&ctx->pt_lock);
	return 0;
}

static void hmirror_pci_mr_unmap(struct hmirror_mr *mr)
{
	struct hmirror_ctx *ctx = mr->ctx;
	u64 va = mr->dev_addr & PAGE_MASK;
	unsigned long i;

	lockdep_assert_held(&ctx->pt_lock);
	if (!mr->dev_addr)
		return;
	for (i = 0; i < mr->npages; i++)
		WRITE_ONCE(*hmirror_pci_pin_pte(ctx->priv,
						va + (i << PAGE_SHIFT), false),
			   0);
	__hmirror_pci_inval_post(hmirror_pci_of(ctx->hdev), ctx->priv, va,
				 va + ((u64)mr->npages << PAGE_SHIFT));
}

static void hmirror_pci_mr_remap(struct hmirror_mr *mr)
{
	lockdep_assert_held(&mr->ctx->pt_lock);
	/* Not mapped yet: mr_map fills the window itself. */
	if (mr->dev_addr)
		__hmirror_pci_mr_fill(mr, mr->dev_addr & PAGE_MASK);
}

/* A job's operand in a pinned region, moved into the region's window. */
static u64 hmirror_pci_opnd_addr(const struct hmirror_job *job, unsigned int i,
				 bool dst, u64 addr)
{
	struct hmirror_mr *mr = job->opmr ? job->opmr[2 * i + !dst] : NULL;

	if (!mr || mr->mode != HMIRROR_MR_PINNED || !mr->dev_addr)
		return addr;
	return mr->dev_addr + (addr - mr->start);
}

/*
 * End of the operand of command @c that @addr is in, for the refault: the
 * destination for a write, else the source. Operands are as long as the
 * command's, but for the fixed-size ones: a write fault must not ask for
 * write access past them (into some read-only mapping behind).
 */
static unsigned long hmirror_pci_opnd_end(const struct hmirror_cmd *c,
					  unsigned long addr, bool write)
{
	u64 base = write ? c->dst : c->src, len = c->len;

	switch (c->op) {
	case HMIRROR_OP_CRC32C:
		len = write ? 4 : c->len;
		break;
	case HMIRROR_OP_ATOMIC_ADD:
	case HMIRROR_OP_WRITE_VALUE:
	case HMIRROR_OP_WAIT_VALUE:
		len = 8;
		break;
	}
	if (addr >= base && addr - base < len)
		return base + len;
	return addr + 1;
}

/* The device parked the context's oldest job: hand it to the worker. */
static void __hmirror_pci_park(struct hmirror_pci_slot *s,
			       struct hmirror_job *job)
{
	struct hmirror_ctx *ctx = s->ctx;
	u32 flags = READ_ONCE(s->hw->fault_flags);
	u32 cmd = READ_ONCE(s->hw->fault_cmd);
	unsigned long addr = READ_ONCE(s->hw->fault_addr);
	const struct hmirror_cmd *c;

	lockdep_assert_held(&ctx->pt_lock);
	if (cmd >= job->nr_cmds) {
		hmirror_job_complete(job, -EIO);
		return;
	}
	s->parked = job->fence;
	job->cur = cmd;
	job->done = 0;
	c = &job->cmds[cmd];
	if (flags & HMPCI_FAULT_MIGRATE) {
		hmirror_job_park_migrate(job);
		return;
	}
	/*
	 * No translation in a pinned window: its region was revoked, or is
	 * held until the check after a zap answers, which resumes the job.
	 * Neither any more: the window was filled again meanwhile.
	 */
	if (addr >= HMPCI_PIN_BASE) {
		if (hmirror_job_revoked(job)) {
			hmirror_job_complete(job, -ECANCELED);
		} else if (hmirror_job_held(job)) {
			job->parked = true;
			job->held = true;
			ctx->stats.jobs_parked++;
		}
		return;
	}
	hmirror_job_park(job, addr,
			 hmirror_pci_opnd_end(c, addr, flags & HMPCI_FAULT_WRITE),
			 flags & HMPCI_FAULT_WRITE, flags & HMPCI_FAULT_EXCL);
	ctx->stats.jobs_parked++;
}

/* Fill ring entries with the context's jobs not yet on the device. */
static bool __hmirror_pci_push(struct hmirror_pci_slot *s)
{
	struct hmirror_ctx *ctx = s->ctx;
	struct hmirror_cmd *cmds;
	struct hmirror_job *job;
	struct hmpci_job *e;
	bool pushed = false;
	unsigned int i, k;

	lockdep_assert_held(&ctx->pt_lock);
	list_for_each_entry(job, &ctx->jobs, link) {
		if (job->fence <= s->pushed)
			continue;
		if (s->tail - s->done >= HMPCI_RING_SIZE)
			break;
		i = s->tail % HMPCI_RING_SIZE;
		cmds = page_address(s->cmd_pages[i]);
		memcpy(cmds, job->cmds, job->nr_cmds * sizeof(*cmds));
		for (k = 0; job->opmr && k < job->nr_cmds; k++) {
			cmds[k].dst = hmirror_pci_opnd_addr(job, k, true,
							    cmds[k].dst);
			cmds[k].src = hmirror_pci_opnd_addr(job, k, false,
							    cmds[k].src);
		}
		e = &s->ring[i];
		e->fence = job->fence;
		e->cmds = page_to_phys(s->cmd_pages[i]);
		e->nr_cmds = job->nr_cmds;
		e->cmd_size = sizeof(struct hmirror_cmd);
		e->status = 0;
		e->flags = 0;
		s->fences[i] = job->fence;
		s->pushed = job->fence;
		s->tail++;
		pushed = true;
	}
	if (pushed) {
		WRITE_ONCE(s->hw->preempt, ctx->preempt == HMIRROR_PREEMPT_PAGE ?
			   HMPCI_PREEMPT_PAGE : HMPCI_PREEMPT_NONE);
		/* The entries are complete before the device sees the tail. */
		smp_store_release(&s->hw->ring_tail, s->tail);
	}
	return pushed;
}

/*
 * Bring the device up to date with the host's view of the context: jobs
 * the host ended itself are cancelled, a job the worker is done with is
 * resumed, new jobs are pushed. Returns true if the device must look.
 */
static bool __hmirror_pci_sync(struct hmirror_pci_slot *s)
{
	struct hmirror_ctx *ctx = s->ctx;
	struct hmirror_job *head;
	bool bell = false;
	u64 gone;

	lockdep_assert_held(&ctx->pt_lock);
	if (ctx->state != HMIRROR_CTX_ALIVE)
		return false;
	head = list_first_entry_or_null(&ctx->jobs, struct hmirror_job, link);
	/* Jobs complete in order: every pushed fence before the head ended. */
	gone = min(head ? head->fence - 1 : s->pushed, s->pushed);
	if (gone > s->cancel) {
		s->cancel = gone;
		WRITE_ONCE(s->hw->cancel_fence, gone);
		bell = true;
	}
	if (s->parked && (!head || head->fence != s->parked || !head->parked)) {
		/* The worker is done with it, or the host ended it. */
		WRITE_ONCE(s->hw->resume_value, head ? head->result : 0);
		WRITE_ONCE(s->hw->resume_status,
			   head && head->fence == s->parked ? 0 : -ECANCELED);
		/* Value and status are in place before the request. */
		smp_store_release(&s->hw->resume_req, ++s->resume_req);
		s->parked = 0;
		bell = true;
	}
	return __hmirror_pci_push(s) || bell;
}

static void hmirror_pci_kick(struct hmirror_device *hdev,
			     struct hmirror_ctx *ctx)
{
	lockdep_assert_held(&ctx->pt_lock);
	if (__hmirror_pci_sync(ctx->priv))
		hmirror_pci_doorbell(hmirror_pci_of(hdev));
}

/* Read what the device did for one slot: ended jobs, a park. */
static void hmirror_pci_scan_slot(struct hmirror_pci *p,
				  struct hmirror_pci_slot *s)
{
	struct hmirror_ctx *ctx = s->ctx;
	struct hmirror_job *head;
	struct hmpci_job *e;
	u64 fence;
	int status;
	u32 seq;

	spin_lock(&ctx->pt_lock);
	while (s->done != s->tail) {
		e = &s->ring[s->done % HMPCI_RING_SIZE];
		/* DONE is written after the status: read it first. */
		if (!(smp_load_acquire(&e->flags) & HMPCI_JOB_DONE))
			break;
		status = READ_ONCE(e->status);
		fence = s->fences[s->done % HMPCI_RING_SIZE];
		s->done++;
		if (s->parked == fence)
			s->parked = 0;
		head = list_first_entry_or_null(&ctx->jobs, struct hmirror_job,
						link);
		/* Not the head: the host ended it before the device did. */
		if (!head || head->fence != fence)
			continue;
		/*
		 * A NONE-class job in a revoked region's window, or in a
		 * held one's (held still, or released by the time this
		 * looks): it cannot wait for the check.
		 */
		if (status == -EFAULT &&
		    (hmirror_job_revoked(head) || hmirror_job_was_held(head)))
			status = -ECANCELED;
		if (status == -EFAULT && ctx->preempt == HMIRROR_PREEMPT_NONE)
			/* Invariant broken: tests look for this line (BUG:). */
			dev_err_ratelimited(ctx->hdev->dev,
					    "BUG: NONE-class job %llu of context %u lost a translation on the device\n",
					    fence, ctx->id);
		hmirror_job_complete(head, status);
	}

	/* The fault_* words are written before the sequence moves. */
	seq = smp_load_acquire(&s->hw->fault_seq);
	if (seq != s->fault_seen) {
		s->fault_seen = seq;
		fence = READ_ONCE(s->hw->fault_fence);
		head = list_first_entry_or_null(&ctx->jobs, struct hmirror_job,
						link);
		if (head && head->fence == fence && !head->parked &&
		    ctx->state == HMIRROR_CTX_ALIVE)
			__hmirror_pci_park(s, head);
		else
			s->parked = fence;	/* resumed with -ECANCELED below */
	}
	if (__hmirror_pci_sync(s))
		hmirror_pci_doorbell(p);
	spin_unlock(&ctx->pt_lock);
}

static void hmirror_pci_scan(struct hmirror_pci *p)
{
	unsigned int i;

	spin_lock(&p->slot_lock);
	for (i = 0; i < p->nr_slots; i++)
		if (p->slots[i])
			hmirror_pci_scan_slot(p, p->slots[i]);
	spin_unlock(&p->slot_lock);
	wake_up_all(&p->ack_wq);
}

static irqreturn_t hmirror_pci_irq(int irq, void *data)
{
	hmirror_pci_scan(data);
	return IRQ_HANDLED;
}

static void hmirror_pci_poll_work(struct work_struct *work)
{
	struct hmirror_pci *p = container_of(to_delayed_work(work),
					     struct hmirror_pci, poll_work);

	hmirror_pci_scan(p);
	if (!READ_ONCE(p->dead))
		schedule_delayed_work(&p->poll_work,
				      msecs_to_jiffies(HMPCI_POLL_MS));
}

/*
 * The device forgot what it had of the slot (a reset): forget it too.
 * With @fail, the jobs it had fail (-EIO); the others are pushed again.
 */
static void __hmirror_pci_slot_forget(struct hmirror_pci_slot *s, bool fail)
{
	struct hmirror_ctx *ctx = s->ctx;
	struct hmirror_job *job, *next;
	u64 pushed = s->pushed;

	lockdep_assert_held(&ctx->pt_lock);
	s->done = s->tail;
	s->parked = 0;
	s->fault_seen = READ_ONCE(s->hw->fault_seq);
	if (!fail)
		return;
	list_for_each_entry_safe(job, next, &ctx->jobs, link) {
		if (job->fence > pushed)
			break;
		hmirror_job_complete(job, -EIO);
	}
	__hmirror_pci_sync(s);
}

/*
 * After a device reset (@dead false), every slot but @self loses its jobs
 * in flight; after bus mastering went off for good, every context dies.
 */
static void hmirror_pci_forget_all(struct hmirror_pci *p,
				   struct hmirror_pci_slot *self, bool dead)
{
	struct hmirror_pci_slot *s;
	unsigned int i;

	spin_lock(&p->slot_lock);
	for (i = 0; i < p->nr_slots; i++) {
		s = p->slots[i];
		if (!s)
			continue;
		spin_lock(&s->ctx->pt_lock);
		if (dead) {
			if (s->ctx->state == HMIRROR_CTX_ALIVE)
				WRITE_ONCE(s->ctx->state, HMIRROR_CTX_DEAD);
			hmirror_jobs_cancel(s->ctx);
			hmirror_pt_zap_all(s->ctx);
		}
		__hmirror_pci_slot_forget(s, !dead && s != self);
		spin_unlock(&s->ctx->pt_lock);
		wake_up_all(&s->ctx->wq);
	}
	spin_unlock(&p->slot_lock);
}

/* Bus mastering off: the device can reach no memory, now or ever. */
static void hmirror_pci_kill(struct hmirror_pci *p)
{
	WRITE_ONCE(p->dead, true);
	WRITE_ONCE(p->regs->control, 0);
	pci_clear_master(p->pdev);
	/* What was in flight on the bus lands before anything is freed. */
	msleep(HMPCI_DRAIN_MS);
	dev_err(&p->pdev->dev,
		"hmirror%u: device does not answer resets: bus mastering off, every context fails\n",
		p->hdev.index);

	hmirror_pci_forget_all(p, NULL, true);
	wake_up_all(&p->ack_wq);
}

/* Reset the whole device; every slot's jobs in flight fail but @self's. */
static int hmirror_pci_device_reset(struct hmirror_pci *p,
				    struct hmirror_pci_slot *self,
				    unsigned int ms)
{
	u32 req;
	int ret;

	mutex_lock(&p->reset_lock);
	req = READ_ONCE(p->regs->reset_req) + 1;
	/* Orders our earlier writes of the slots before the reset. */
	smp_store_release(&p->regs->reset_req, req);
	hmirror_pci_doorbell(p);
	ret = hmirror_pci_wait_ack(p, &p->regs->reset_ack, req, ms);
	mutex_unlock(&p->reset_lock);
	if (ret)
		return ret;

	dev_warn(&p->pdev->dev, "hmirror%u: device reset\n", p->hdev.index);
	hmirror_pci_forget_all(p, self, false);
	hmirror_pci_doorbell(p);	/* the jobs pushed again */
	return 0;
}

static int hmirror_pci_ctx_reset(struct hmirror_ctx *ctx,
				 unsigned int timeout_ms)
{
	struct hmirror_pci *p = hmirror_pci_of(ctx->hdev);
	struct hmirror_pci_slot *s = ctx->priv;
	unsigned int half = max(timeout_ms / 2, 1U);
	u32 req;

	if (READ_ONCE(p->dead))
		return 0;
	spin_lock(&ctx->pt_lock);
	req = ++s->reset_req;
	/* Orders our earlier writes of the slot before the reset. */
	smp_store_release(&s->hw->reset_req, req);
	spin_unlock(&ctx->pt_lock);
	hmirror_pci_doorbell(p);

	if (!hmirror_pci_wait_ack(p, &s->hw->reset_ack, req, half)) {
		spin_lock(&ctx->pt_lock);
		__hmirror_pci_slot_forget(s, false);
		spin_unlock(&ctx->pt_lock);
		return 0;
	}
	dev_warn(&p->pdev->dev,
		 "hmirror%u: context %u: slot reset not acknowledged in %u ms\n",
		 p->hdev.index, ctx->id, half);
	if (!hmirror_pci_device_reset(p, s, half))
		return 0;
	hmirror_pci_kill(p);
	return -ETIMEDOUT;
}

static void hmirror_pci_slot_free(struct hmirror_pci_slot *s)
{
	unsigned int i;

	for (i = 0; i < HMPCI_RING_SIZE; i++)
		if (s->cmd_pages[i])
			__free_page(s->cmd_pages[i]);
	if (s->ring_page)
		__free_page(s->ring_page);
	if (s->l4)
		hmirror_pci_dir_free(s->l4);
	kfree(s);
}

static struct hmirror_pci_slot *hmirror_pci_slot_alloc(void)
{
	struct hmirror_pci_slot *s;
	unsigned int i;

	s = kzalloc_obj(*s, GFP_KERNEL_ACCOUNT);
	if (!s)
		return NULL;
	s->l4 = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	s->ring_page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	for (i = 0; i < HMPCI_RING_SIZE; i++)
		s->cmd_pages[i] = alloc_page(GFP_KERNEL_ACCOUNT);
	for (i = 0; i < HMPCI_RING_SIZE && s->l4 && s->ring_page; i++)
		if (!s->cmd_pages[i])
			break;
	if (i < HMPCI_RING_SIZE) {
		hmirror_pci_slot_free(s);
		return NULL;
	}
	s->ring = page_address(s->ring_page);
	return s;
}

/* Program a free slot for @s; the sequences go on from the slot's last. */
static void hmirror_pci_slot_start(struct hmirror_pci_slot *s)
{
	struct hmpci_slot *hw = s->hw;

	s->tail = READ_ONCE(hw->ring_head);
	s->done = s->tail;
	s->pin_next = HMPCI_PIN_BASE;
	s->fault_seen = READ_ONCE(hw->fault_seq);
	s->inval_req = READ_ONCE(hw->inval_req);
	s->resume_req = READ_ONCE(hw->resume_req);
	s->reset_req = READ_ONCE(hw->reset_req);
	WRITE_ONCE(hw->cancel_fence, 0);
	WRITE_ONCE(hw->pt_root, page_to_phys(s->l4));
	WRITE_ONCE(hw->ring, page_to_phys(s->ring_page));
	WRITE_ONCE(hw->ring_size, HMPCI_RING_SIZE);
	WRITE_ONCE(hw->ring_tail, s->tail);
	/* The slot is programmed before the device runs it. */
	smp_store_release(&hw->enable, 1);
}

static int hmirror_pci_ctx_init(struct hmirror_ctx *ctx)
{
	struct hmirror_pci *p = hmirror_pci_of(ctx->hdev);
	struct hmirror_pci_slot *s;
	unsigned int i;

	if (READ_ONCE(p->dead))
		return -EIO;
	s = hmirror_pci_slot_alloc();
	if (!s)
		return -ENOMEM;
	s->ctx = ctx;
	spin_lock(&p->slot_lock);
	for (i = 0; i < p->nr_slots && p->slots[i]; i++)
		;
	if (i < p->nr_slots) {
		s->index = i;
		s->hw = &p->slots_hw[i];
		ctx->priv = s;
		hmirror_pci_slot_start(s);
		p->slots[i] = s;
	}
	spin_unlock(&p->slot_lock);
	if (i == p->nr_slots) {
		hmirror_pci_slot_free(s);
		return -EBUSY;	/* as many contexts as the device has slots */
	}
	return 0;
}

static void hmirror_pci_ctx_fini(struct hmirror_ctx *ctx)
{
	struct hmirror_pci *p = hmirror_pci_of(ctx->hdev);
	struct hmirror_pci_slot *s = ctx->priv;

	/* Reset already: the slot runs nothing and holds no translation. */
	spin_lock(&p->slot_lock);
	WRITE_ONCE(s->hw->enable, 0);
	WRITE_ONCE(s->hw->pt_root, 0);
	p->slots[s->index] = NULL;
	spin_unlock(&p->slot_lock);
	hmirror_pci_slot_free(s);
	ctx->priv = NULL;
}

/* Where the CPU reaches a VRAM page's data: through the BAR. */
static void *hmirror_pci_vram_map(struct hmirror_device *hdev,
				  struct page *page)
{
	struct hmirror_pci *p = hmirror_pci_of(hdev);
	void *addr = p->vram + (page_to_phys(page) - p->devpriv_base);

	/* hmirror_page_unmap() tells it from a kmap_local one by that. */
	WARN_ON_ONCE(!is_vmalloc_addr(addr));
	return addr;
}

/* The copy engine did not get through its ring in time. */
static void hmirror_pci_copy_stuck(struct hmirror_pci *p)
{
	dev_warn(&p->pdev->dev,
		 "hmirror%u: copy engine stuck for %u ms: resetting the device\n",
		 p->hdev.index, HMPCI_COPY_TIMEOUT_MS);
	if (hmirror_pci_device_reset(p, NULL, HMPCI_COPY_TIMEOUT_MS / 2))
		hmirror_pci_kill(p);
}

/* At most a ring of copies: submit, wait, read back. */
static void hmirror_pci_copy_ring(struct hmirror_pci *p, struct hmirror_copy *c,
				  unsigned int n)
{
	u32 first = p->copy_tail;
	struct hmpci_copy *e;
	unsigned int k;

	lockdep_assert_held(&p->copy_lock);
	if (!READ_ONCE(p->dead)) {
		for (k = 0; k < n; k++) {
			e = &p->copy_ring[(first + k) % HMPCI_COPY_RING];
			e->src = c[k].src ? page_to_phys(c[k].src) : 0;
			e->dst = page_to_phys(c[k].dst);
			e->len = c[k].nr << PAGE_SHIFT;
			e->flags = c[k].src ? 0 : HMPCI_COPY_ZERO;
			e->status = 0;
		}
		p->copy_tail = first + n;
		/* The entries are written before the device sees the tail. */
		smp_store_release(&p->regs->copy_tail, p->copy_tail);
		hmirror_pci_doorbell(p);
		if (hmirror_pci_wait_ack(p, &p->regs->copy_head, p->copy_tail,
					 HMPCI_COPY_TIMEOUT_MS))
			hmirror_pci_copy_stuck(p);
	}
	for (k = 0; k < n; k++) {
		e = &p->copy_ring[(first + k) % HMPCI_COPY_RING];
		/* DONE was written before copy_head: wait_ack's acquire. */
		if ((READ_ONCE(e->flags) & HMPCI_COPY_DONE) &&
		    (!READ_ONCE(e->status) || !READ_ONCE(p->dead)))
			c[k].status = READ_ONCE(e->status);
		else	/* dropped by a reset, or refused by a dead device */
			hmirror_copy_cpu(&c[k]);	/* through the BAR */
	}
}

static int hmirror_pci_copy(struct hmirror_device *hdev, struct hmirror_copy *c,
			    unsigned int n)
{
	struct hmirror_pci *p = hmirror_pci_of(hdev);
	unsigned int i, k;

	mutex_lock(&p->copy_lock);
	for (i = 0; i < n; i += k) {
		k = min_t(unsigned int, n - i, HMPCI_COPY_RING);
		hmirror_pci_copy_ring(p, c + i, k);
	}
	mutex_unlock(&p->copy_lock);
	return 0;
}

/* The slot a context runs in, for tests that inject faults into one. */
static void hmirror_pci_ctx_show(struct hmirror_ctx *ctx, struct seq_file *m)
{
	struct hmirror_pci_slot *s = ctx->priv;

	seq_printf(m, "slot %u\n", s->index);
}

static int hmirror_pci_init(struct hmirror_device *hdev)
{
	struct hmirror_pci *p = hmirror_pci_of(hdev);

	p->devpriv_base = hdev->devmem ? hdev->devmem->res->start : 0;
	WRITE_ONCE(p->regs->devpriv_base, p->devpriv_base);
	p->copy_tail = READ_ONCE(p->regs->copy_head);
	WRITE_ONCE(p->regs->copy_ring, page_to_phys(p->copy_page));
	WRITE_ONCE(p->regs->copy_tail, p->copy_tail);
	WRITE_ONCE(p->regs->copy_ring_size, HMPCI_COPY_RING);
	/* devpriv_base and the copy ring are in place before the device runs. */
	smp_store_release(&p->regs->control,
			  HMPCI_CTL_ENABLE | HMPCI_CTL_BUS_MASTER);
	schedule_delayed_work(&p->poll_work, msecs_to_jiffies(HMPCI_POLL_MS));
	return 0;
}

static void hmirror_pci_fini(struct hmirror_device *hdev)
{
	struct hmirror_pci *p = hmirror_pci_of(hdev);

	/* Every context is gone: nothing runs. */
	WRITE_ONCE(p->dead, true);
	cancel_delayed_work_sync(&p->poll_work);
	WRITE_ONCE(p->regs->control, 0);
	WRITE_ONCE(p->regs->copy_ring_size, 0);
	WRITE_ONCE(p->regs->devpriv_base, 0);
}

static const struct hmirror_backend_ops hmirror_pci_ops = {
	.name = "pci",
	.init = hmirror_pci_init,
	.fini = hmirror_pci_fini,
	.kick = hmirror_pci_kick,
	.ctx_reset = hmirror_pci_ctx_reset,
	.ctx_init = hmirror_pci_ctx_init,
	.ctx_fini = hmirror_pci_ctx_fini,
	.range_init = hmirror_pci_range_init,
	.range_update = hmirror_pci_range_update,
	.range_fini = hmirror_pci_range_fini,
	.tlb_flush = hmirror_pci_tlb_flush,
	.tlb_sync = hmirror_pci_tlb_sync,
	.mr_map = hmirror_pci_mr_map,
	.mr_unmap = hmirror_pci_mr_unmap,
	.mr_remap = hmirror_pci_mr_remap,
	.ctx_show = hmirror_pci_ctx_show,
	.copy = hmirror_pci_copy,
	.vram_map = hmirror_pci_vram_map,
};

/*
 * BAR2 holds our registers, not some other use of ivshmem. The layout is
 * read once, checked, and kept: the device could change its registers
 * afterwards, and nothing may then be sized by what it says.
 */
static int hmirror_pci_check(struct hmirror_pci *p, resource_size_t len)
{
	struct hmpci_regs *regs = p->regs;
	u32 slots = READ_ONCE(regs->nr_slots);
	u64 vram = READ_ONCE(regs->vram_offset);
	u64 size = READ_ONCE(regs->vram_size);

	if (READ_ONCE(regs->magic) != HMPCI_MAGIC) {
		dev_info(&p->pdev->dev, "ivshmem without the hmirror signature: not ours\n");
		return -ENODEV;
	}
	if (READ_ONCE(regs->version) != HMPCI_VERSION || !slots ||
	    slots > HMPCI_MAX_SLOTS ||
	    HMPCI_SLOTS_OFFSET + slots * sizeof(struct hmpci_slot) > vram ||
	    vram > len || size > len - vram ||
	    !(READ_ONCE(regs->status) & HMPCI_STS_READY)) {
		dev_err(&p->pdev->dev, "hmirror accelerator with a bad register block (version %u, %u slots)\n",
			READ_ONCE(regs->version), slots);
		return -ENODEV;
	}
	p->nr_slots = slots;
	p->vram = (void *)regs + vram;
	p->vram_size = size;
	return 0;
}

static void hmirror_pci_page_free(void *page)
{
	__free_page(page);
}

static int hmirror_pci_probe(struct pci_dev *pdev,
			     const struct pci_device_id *id)
{
	resource_size_t len = pci_resource_len(pdev, HMPCI_BAR_SHM);
	struct hmirror_pci *p;
	void *shm;
	int ret;

	if (len < HMPCI_SLOTS_OFFSET + sizeof(struct hmpci_slot))
		return -ENODEV;
	p = devm_kzalloc(&pdev->dev, sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	p->bar0 = pcim_iomap_region(pdev, HMPCI_BAR_REGS, "hmirror-pci");
	if (IS_ERR(p->bar0))
		return PTR_ERR(p->bar0);
	ret = pcim_request_region(pdev, HMPCI_BAR_SHM, "hmirror-pci");
	if (ret)
		return ret;
	shm = devm_memremap(&pdev->dev, pci_resource_start(pdev, HMPCI_BAR_SHM),
			    len, MEMREMAP_WB);
	if (IS_ERR(shm))
		return PTR_ERR(shm);
	p->pdev = pdev;
	p->regs = shm;
	ret = hmirror_pci_check(p, len);
	if (ret)
		return ret;
	p->slots_hw = shm + HMPCI_SLOTS_OFFSET;
	/* A context is a slot: the device has no more. */
	p->hdev.max_ctxs = p->nr_slots;
	spin_lock_init(&p->slot_lock);
	init_waitqueue_head(&p->ack_wq);
	INIT_DELAYED_WORK(&p->poll_work, hmirror_pci_poll_work);
	mutex_init(&p->reset_lock);
	mutex_init(&p->copy_lock);
	p->copy_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!p->copy_page)
		return -ENOMEM;
	ret = devm_add_action_or_reset(&pdev->dev, hmirror_pci_page_free,
				       p->copy_page);
	if (ret)
		return ret;
	p->copy_ring = page_address(p->copy_page);
	/* VRAM up to vram_mb, in whole 2 MiB blocks. */
	p->hdev.vram_mb = min_t(u64, p->vram_size >> 20,
				hmirror_vram_mb) & ~1U;

	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSIX);
	if (ret < 0)
		return ret;
	ret = devm_request_threaded_irq(&pdev->dev, pci_irq_vector(pdev, 0),
					NULL, hmirror_pci_irq, IRQF_ONESHOT,
					"hmirror-pci", p);
	if (ret)
		return ret;
	pci_set_master(pdev);

	p->hdev.ops = &hmirror_pci_ops;
	p->hdev.parent = &pdev->dev;
	p->hdev.priv = p;
	ret = hmirror_device_register(&p->hdev);
	if (ret) {
		pci_clear_master(pdev);
		return ret;
	}
	pci_set_drvdata(pdev, p);
	dev_info(&pdev->dev, "hmirror%u: accelerator with %u slots, %llu MiB of VRAM, %u MiB as device memory\n",
		 p->hdev.index, p->nr_slots, p->vram_size >> 20,
		 p->hdev.vram_mb);
	return 0;
}

static void hmirror_pci_remove(struct pci_dev *pdev)
{
	struct hmirror_pci *p = pci_get_drvdata(pdev);

	hmirror_device_unregister(&p->hdev);
	pci_clear_master(pdev);
}

static const struct pci_device_id hmirror_pci_ids[] = {
	{ PCI_DEVICE(HMPCI_VENDOR_ID, HMPCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, hmirror_pci_ids);

static struct pci_driver hmirror_pci_driver = {
	.name = "hmirror-pci",
	.id_table = hmirror_pci_ids,
	.probe = hmirror_pci_probe,
	.remove = hmirror_pci_remove,
	/* Instances go only at module unload, when no context is left. */
	.driver.suppress_bind_attrs = true,
};

/**
 * hmirror_pci_register() - register the PCI driver
 *
 * Return: 0 or a negative errno.
 */
int hmirror_pci_register(void)
{
	return pci_register_driver(&hmirror_pci_driver);
}

/**
 * hmirror_pci_unregister() - unbind every accelerator, unregister
 */
void hmirror_pci_unregister(void)
{
	pci_unregister_driver(&hmirror_pci_driver);
}
