// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror debugfs: per device, the list of its contexts; per context,
 * its counters.
 */

#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "hmirror_internal.h"

/**
 * DOC: debugfs
 *
 * hmirror/objects                live objects of the whole module
 * hmirror/hmm_fault_floor        the benchmark floor (hmirror_floor.c)
 * hmirror/hmirror<N>/contexts    one line per context of device N
 * hmirror/hmirror<N>/mrs         one line per memory region of device N
 * hmirror/hmirror<N>/ctx<ID>     every counter of one context, as STATS,
 *                                then the backend's own lines (pci: slot)
 *
 * The counters are the ones HMIRROR_IOC_STATS returns, read under the
 * context's pt_lock so that a line is a consistent snapshot.
 */

static const char *const hmirror_state_names[] = {
	[HMIRROR_CTX_ALIVE] = "alive",
	[HMIRROR_CTX_DEAD] = "dead",
	[HMIRROR_CTX_CLOSING] = "closing",
};

static int hmirror_contexts_show(struct seq_file *m, void *unused)
{
	struct hmirror_device *hdev = m->private;
	struct hmirror_ctx *ctx;

	seq_puts(m, "id pid comm class policy deadline_ms state inflight ranges ptes pt_bytes escalations\n");
	mutex_lock(&hdev->ctxs_lock);
	list_for_each_entry(ctx, &hdev->ctxs, link) {
		spin_lock(&ctx->pt_lock);
		seq_printf(m, "%u %d %s %s %s %u %s %llu %llu %llu %llu %llu\n",
			   ctx->id, pid_nr(ctx->owner), ctx->comm,
			   ctx->preempt == HMIRROR_PREEMPT_NONE ? "none" : "page",
			   ctx->policy == HMIRROR_POLICY_KILL ? "kill" : "revoke",
			   ctx->deadline_ms, hmirror_state_names[ctx->state],
			   ctx->submitted - ctx->completed, ctx->stats.ranges,
			   ctx->stats.ptes, ctx->stats.pt_bytes,
			   ctx->stats.escalations);
		spin_unlock(&ctx->pt_lock);
	}
	mutex_unlock(&hdev->ctxs_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hmirror_contexts);

static const char *hmirror_mr_mode_name(const struct hmirror_mr *mr)
{
	if (mr->mode == HMIRROR_MR_PINNED)
		return "pinned";
	return mr->start == 0 && mr->len == TASK_SIZE ? "implicit" : "odp";
}

/*
 * Pages of @mr the device maps now, and how many of them are in its own
 * memory; ctx->lock held, so no range goes away meanwhile.
 */
static void hmirror_mr_count(struct hmirror_mr *mr, u64 *mapped, u64 *local)
{
	struct hmirror_ctx *ctx = mr->ctx;
	unsigned long addr, end = mr->start + mr->len, next;
	struct hmirror_range *r;
	unsigned long idx;
	u64 pte;

	lockdep_assert_held(&ctx->lock);
	*mapped = *local = 0;
	if (mr->mode == HMIRROR_MR_PINNED) {
		*mapped = mr->revoked ? 0 : mr->npages;
		return;
	}
	xa_for_each_range(&ctx->ranges, idx, r, mr->start >> HMIRROR_CHUNK_SHIFT,
			  (end - 1) >> HMIRROR_CHUNK_SHIFT) {
		addr = max(ALIGN_DOWN(mr->start, PAGE_SIZE), r->start);
		next = min(end, r->start + HMIRROR_CHUNK_SIZE);
		spin_lock(&ctx->pt_lock);
		for (; addr < next; addr += PAGE_SIZE) {
			pte = hmirror_pt_lookup(ctx, addr);
			if (!(pte & HMIRROR_PTE_VALID))
				continue;
			(*mapped)++;
			*local += hmirror_page_is_mine(ctx->hdev,
						       pfn_to_page(pte >> PAGE_SHIFT));
		}
		spin_unlock(&ctx->pt_lock);
		cond_resched();
	}
}

static int hmirror_mrs_show(struct seq_file *m, void *unused)
{
	struct hmirror_device *hdev = m->private;
	struct hmirror_ctx *ctx;
	struct hmirror_mr *mr;
	unsigned long key;
	u64 mapped, local;

	seq_puts(m, "ctx pid key mode access flags start len mapped on_device faults users revoked\n");
	mutex_lock(&hdev->ctxs_lock);
	list_for_each_entry(ctx, &hdev->ctxs, link) {
		/* A reader stuck behind a long submit can give up. */
		if (mutex_lock_interruptible(&ctx->lock)) {
			mutex_unlock(&hdev->ctxs_lock);
			return -EINTR;
		}
		xa_for_each(&ctx->mrs, key, mr) {
			hmirror_mr_count(mr, &mapped, &local);
			spin_lock(&ctx->pt_lock);
			seq_printf(m, "%u %d %u %s %s%s%s %s 0x%lx %lu %llu %llu %llu %u %d\n",
				   ctx->id, pid_nr(ctx->owner), mr->key,
				   hmirror_mr_mode_name(mr),
				   mr->access & HMIRROR_ACCESS_READ ? "r" : "-",
				   mr->access & HMIRROR_ACCESS_WRITE ? "w" : "-",
				   mr->access & HMIRROR_ACCESS_ATOMIC ? "a" : "-",
				   mr->flags & HMIRROR_MR_F_NO_MIGRATE ?
				   "no_migrate" : "-",
				   mr->start, mr->len, mapped, local,
				   mr->faults, mr->users, mr->revoked);
			spin_unlock(&ctx->pt_lock);
		}
		mutex_unlock(&ctx->lock);
	}
	mutex_unlock(&hdev->ctxs_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hmirror_mrs);

static int hmirror_ctx_stats_show(struct seq_file *m, void *unused)
{
	struct hmirror_ctx *ctx = m->private;
	struct hmirror_stats st;
	unsigned int i;

	spin_lock(&ctx->pt_lock);
	st = ctx->stats;
	spin_unlock(&ctx->pt_lock);

#define HMIRROR_SHOW(f) seq_printf(m, "%s %llu\n", #f, st.f)
	HMIRROR_SHOW(faults);
	HMIRROR_SHOW(pages_faulted);
	HMIRROR_SHOW(fault_retries);
	HMIRROR_SHOW(inval_blockable);
	HMIRROR_SHOW(inval_nonblock);
	HMIRROR_SHOW(inval_refused);
	HMIRROR_SHOW(inval_waits);
	for (i = 0; i < HMIRROR_WAIT_BUCKETS; i++)
		seq_printf(m, "wait_hist%u %llu\n", i, st.wait_hist[i]);
	HMIRROR_SHOW(escalations);
	HMIRROR_SHOW(jobs_submitted);
	HMIRROR_SHOW(jobs_completed);
	HMIRROR_SHOW(jobs_failed);
	HMIRROR_SHOW(jobs_cancelled);
	HMIRROR_SHOW(jobs_parked);
	HMIRROR_SHOW(ptes);
	HMIRROR_SHOW(ranges);
	HMIRROR_SHOW(pt_bytes);
	HMIRROR_SHOW(excl_taken);
	HMIRROR_SHOW(excl_revoked);
	HMIRROR_SHOW(mrs);
	HMIRROR_SHOW(mr_revoked);
	HMIRROR_SHOW(advices);
	HMIRROR_SHOW(advices_failed);
	HMIRROR_SHOW(pt_hits);
#undef HMIRROR_SHOW
	if (ctx->hdev->ops->ctx_show)
		ctx->hdev->ops->ctx_show(ctx, m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hmirror_ctx_stats);

static int hmirror_devmem_show(struct seq_file *m, void *unused)
{
	struct hmirror_device *hdev = m->private;
	struct hmirror_devmem *dm = hdev->devmem;
	unsigned int i, full = 0, huge = 0, partial = 0, backed = 0;
	unsigned int folios = 0, huge_folios = 0;
	struct hmirror_stats st = {};
	unsigned long free_pages;

	if (!dm) {
		seq_puts(m, "vram_pages 0\n");
		return 0;
	}
	spin_lock(&dm->lock);
	for (i = 0; i < dm->nr_blocks; i++) {
		struct hmirror_block *b = &dm->blocks[i];

		huge += b->huge;
		full += b->used == HMIRROR_CHUNK_PAGES;
		partial += b->used && b->used < HMIRROR_CHUNK_PAGES;
		backed += !!b->backing;
		folios += !!b->folio;
		huge_folios += b->huge && b->folio;
	}
	free_pages = dm->free_pages;
	spin_unlock(&dm->lock);
	hmirror_devmem_stats(hdev, &st);

	seq_printf(m, "kind %s\n", dm->coherent ? "coherent" : "private");
	seq_printf(m, "vram_pages %llu\nfree_pages %lu\nresident %llu\n",
		   st.dev_vram_pages, free_pages, st.dev_resident);
	seq_printf(m, "blocks %u\nblocks_full %u\nblocks_huge %u\nblocks_partial %u\nblocks_backed %u\n",
		   dm->nr_blocks, full, huge, partial, backed);
	seq_printf(m, "blocks_folio %u\nblocks_huge_folio %u\n", folios,
		   huge_folios);
	seq_printf(m, "migrated_in %llu\nmigrated_out %llu\ncpu_faults %llu\nevicted %llu\n",
		   st.dev_migrated_in, st.dev_migrated_out, st.dev_cpu_faults,
		   st.dev_evicted);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hmirror_devmem);

/**
 * hmirror_debugfs_device_init() - debugfs files of a device instance
 * @hdev: the instance, its debugfs directory created
 */
void hmirror_debugfs_device_init(struct hmirror_device *hdev)
{
	debugfs_create_file("contexts", 0444, hdev->debugfs, hdev,
			    &hmirror_contexts_fops);
	debugfs_create_file("devmem", 0444, hdev->debugfs, hdev,
			    &hmirror_devmem_fops);
	debugfs_create_file("mrs", 0444, hdev->debugfs, hdev,
			    &hmirror_mrs_fops);
}

/**
 * hmirror_debugfs_ctx_init() - debugfs file of a new context
 * @ctx: the context
 */
void hmirror_debugfs_ctx_init(struct hmirror_ctx *ctx)
{
	char name[16];

	snprintf(name, sizeof(name), "ctx%u", ctx->id);
	ctx->debugfs = debugfs_create_file(name, 0444, ctx->hdev->debugfs, ctx,
					   &hmirror_ctx_stats_fops);
}

/**
 * hmirror_debugfs_ctx_fini() - remove a context's debugfs file
 * @ctx: the context
 *
 * Waits for readers of the file to finish, so the context can be freed.
 */
void hmirror_debugfs_ctx_fini(struct hmirror_ctx *ctx)
{
	debugfs_remove(ctx->debugfs);
}
