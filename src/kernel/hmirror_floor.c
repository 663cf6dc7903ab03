// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror benchmark floor: a bare hmm_range_fault() pass, for comparing
 * the mirror's fault-in path against the least any HMM driver must do.
 */

#include <linux/debugfs.h>
#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hmirror_internal.h"

/**
 * DOC: fault floor
 *
 * Writing "ADDR LEN W" to debugfs hmirror/hmm_fault_floor faults
 * [ADDR, ADDR + LEN) of the writer's address space with hmm_range_fault()
 * (for writing if W is 1) under one interval notifier, in the same 2 MiB
 * pieces the mirror uses, and throws the result away: no device page
 * table, no job. hmirror-bench times it against a MIRROR job over the same
 * range, so that the mirror's own cost (ranges, PTEs, jobs) is measured,
 * not hmm's. Root only (debugfs).
 */

struct hmirror_floor {
	struct mmu_interval_notifier notifier;
	spinlock_t lock;	/* pairs set_seq with read_retry */
};

static bool hmirror_floor_invalidate(struct mmu_interval_notifier *mni,
				     const struct mmu_notifier_range *range,
				     unsigned long cur_seq)
{
	struct hmirror_floor *f = container_of(mni, struct hmirror_floor,
					       notifier);

	spin_lock(&f->lock);
	mmu_interval_set_seq(mni, cur_seq);
	spin_unlock(&f->lock);
	return true;
}

static const struct mmu_interval_notifier_ops hmirror_floor_ops = {
	.invalidate = hmirror_floor_invalidate,
};

static int hmirror_floor_piece(struct hmirror_floor *f, struct mm_struct *mm,
			       unsigned long start, unsigned long end,
			       bool write, unsigned long *pfns)
{
	struct hmm_range range = {
		.notifier = &f->notifier,
		.start = start,
		.end = end,
		.hmm_pfns = pfns,
		.default_flags = HMM_PFN_REQ_FAULT |
				 (write ? HMM_PFN_REQ_WRITE : 0),
	};
	int ret;

	for (;;) {
		if (fatal_signal_pending(current))
			return -EINTR;
		range.notifier_seq = mmu_interval_read_begin(&f->notifier);
		mmap_read_lock(mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			return ret;
		spin_lock(&f->lock);
		ret = mmu_interval_read_retry(&f->notifier, range.notifier_seq);
		spin_unlock(&f->lock);
		if (!ret)
			return 0;
	}
}

static int hmirror_floor_run(unsigned long addr, unsigned long len, bool write)
{
	struct mm_struct *mm = current->mm;
	unsigned long s, e, next;
	struct hmirror_floor *f;
	unsigned long *pfns;
	int ret;

	if (!mm || !len || addr + len < addr || !PAGE_ALIGNED(addr) ||
	    !PAGE_ALIGNED(len) || !access_ok((void __user *)addr, len))
		return -EINVAL;

	f = kzalloc_obj(*f, GFP_KERNEL);
	pfns = kvmalloc_array(HMIRROR_CHUNK_PAGES, sizeof(*pfns), GFP_KERNEL);
	if (!f || !pfns) {
		ret = -ENOMEM;
		goto out;
	}
	spin_lock_init(&f->lock);
	ret = mmu_interval_notifier_insert(&f->notifier, mm, addr, len,
					   &hmirror_floor_ops);
	if (ret)
		goto out;
	for (s = addr, e = addr + len; s < e && !ret; s = next) {
		next = min(ALIGN(s + 1, HMIRROR_CHUNK_SIZE), e);
		ret = hmirror_floor_piece(f, mm, s, next, write, pfns);
	}
	mmu_interval_notifier_remove(&f->notifier);
out:
	kvfree(pfns);
	kfree(f);
	return ret;
}

static ssize_t hmirror_floor_write(struct file *file, const char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	unsigned long addr, len;
	unsigned int write;
	char buf[64];
	int ret;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (sscanf(buf, "%lx %lx %u", &addr, &len, &write) != 3 || write > 1)
		return -EINVAL;
	ret = hmirror_floor_run(addr, len, write);
	return ret ?: count;
}

static const struct file_operations hmirror_floor_fops = {
	.owner = THIS_MODULE,
	.write = hmirror_floor_write,
};

/**
 * hmirror_floor_debugfs_init() - create debugfs hmirror/hmm_fault_floor
 * @root: hmirror's debugfs directory
 */
void hmirror_floor_debugfs_init(struct dentry *root)
{
	debugfs_create_file("hmm_fault_floor", 0200, root, NULL,
			    &hmirror_floor_fops);
}
