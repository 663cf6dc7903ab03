// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror_dmirror: the uAPI of the kernel's HMM test driver (lib/test_hmm.c,
 * /dev/hmm_dmirror<N>) on hmirror's core, so that the kernel's own HMM
 * selftest (tools/testing/selftests/mm/hmm-tests.c) runs against hmirror.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <linux/hmirror.h>
#include <test_hmm_uapi.h>

#include "../hmirror_compat.h"
#include "../hmirror_kapi.h"

/**
 * DOC: test_hmm's semantics on hmirror's core
 *
 * /dev/hmm_dmirror<N> is hmirror instance N seen through test_hmm's ioctls:
 * 0 and 1 when those instances have device-private memory, 2 and 3 when
 * they have device-coherent memory (hmirror nr_devices=4
 * coherent_addr=0,0,A2,A3). An instance of the other kind gets no node, as
 * test_hmm has none without spm_addr_dev0/1. Opening a node creates an
 * hmirror context for the opener's mm (hmirror_ctx_create()); closing it
 * destroys the context. This module keeps no page table, no notifier and
 * no migration code: each ioctl is a few calls into the core.
 *
 * READ / WRITE: the device copies between the mirrored pages and a bounce
 * buffer through its page table (hmirror_ctx_access()); at the first page
 * it has no (writable) translation for, the rest of the range is faulted
 * in (hmirror_ctx_fault(), i.e. hmm_range_fault() into the device page
 * table, one notifier per 2 MiB chunk) and the copy goes on. Each such
 * fault of the remaining range counts as one in cmd.faults, as test_hmm
 * counts them. Errors are test_hmm's: -EFAULT for no access, -EPERM for a
 * write to a read-only mapping. READ_UNLOCKED faults with the mmap lock
 * droppable (userfaultfd), where the kernel has
 * hmm_range_fault_unlocked_timeout().
 *
 * MIGRATE_TO_DEV: hmirror_migrate_range() of system pages only (test_hmm
 * does not move pages from another device's memory: that page stays, and
 * the test expects it to). test_hmm then maps what moved into its page
 * table and reads it back; hmirror's migration maps nothing (the moving
 * pages' invalidations zap every context's PTEs), so the device reads the
 * range back as READ does, faulting the pages in where they now are. A
 * page that did not reach the device makes the call fail with -ENOENT,
 * test_hmm's answer for a page its device cannot read. MIGRATE_TO_SYS:
 * the device's pages of the range come home; cpages is how many moved.
 * Both fail with -EINVAL when part of the range has no readable VMA.
 *
 * SNAPSHOT: hmm_range_fault() without faulting, with this device as the
 * owner of device-private pages (hmirror_ctx_snapshot()), each page
 * encoded as test_hmm_uapi.h says. The device page table is not used.
 *
 * The uAPI is the kernel's own header, so this module offers what the
 * kernel it is built for has: FLAGS and READ_UNLOCKED only where
 * test_hmm_uapi.h defines them.
 *
 * FLAGS (FAIL_ALLOC): test_hmm fails the next device page allocation of
 * that file once; it is always the allocation of a THP's device folio in
 * the tests, which then fall back to 4 KiB pages. Here the flag arms the
 * instance's one-shot THP allocation failure
 * (hmirror_ctx_fail_huge_alloc()) for the next MIGRATE_TO_DEV of the file
 * and disarms it after; MIGRATE_TO_SYS only consumes the flag (hmirror
 * has no injection site for system memory).
 *
 * RELEASE: the instance's memory is emptied back to system memory
 * (hmirror_ctx_devmem_evict()). test_hmm also does that on every close;
 * hmirror keeps device pages until they are evicted, freed or unloaded.
 *
 * mmap of the node: zeroed kernel pages inserted into the VMA, a mixed
 * mapping for the tests that look at one.
 *
 * EXCLUSIVE: the core takes the range device-exclusive
 * (hmirror_ctx_fault(HMIRROR_KF_EXCLUSIVE): make_device_exclusive(), the
 * device's PTEs marked exclusive), and the device reads it back through
 * those PTEs, without faulting (a fault would give the pages back to the
 * CPU); a page it cannot read is -ENOENT. CHECK_EXCLUSIVE is -EPERM while
 * any page of the range still has an exclusive device PTE: a CPU access
 * revokes it (its invalidation zaps the PTE), which is what the tests
 * check.
 */

#define DMIRROR_NODES	4

/* Nodes 0 and 1 are device-private, 2 and 3 device-coherent. */
static int dmirror_kind(unsigned int n)
{
	return n < 2 ? HMIRROR_VRAM_PRIVATE : HMIRROR_VRAM_COHERENT;
}

struct dmirror_node {
	struct cdev cdev;
	struct device *dev;
	unsigned int index;
};

/* One open file: an hmirror context and test_hmm's per-file flags. */
struct dmirror_file {
	struct hmirror_ctx *ctx;
	struct mutex lock;	/* fail_alloc */
	bool fail_alloc;
};

static const struct class dmirror_class = {
	.name = "hmirror_dmirror",
};

static dev_t dmirror_devt;
static struct dmirror_node dmirror_nodes[DMIRROR_NODES];

static int dmirror_open(struct inode *inode, struct file *file)
{
	struct dmirror_node *node =
		container_of(inode->i_cdev, struct dmirror_node, cdev);
	struct dmirror_file *df;

	df = kzalloc_obj(*df, GFP_KERNEL);
	if (!df)
		return -ENOMEM;
	df->ctx = hmirror_ctx_create(node->index);
	if (IS_ERR(df->ctx)) {
		int ret = PTR_ERR(df->ctx);

		kfree(df);
		return ret;
	}
	mutex_init(&df->lock);
	file->private_data = df;
	return 0;
}

static int dmirror_release(struct inode *inode, struct file *file)
{
	struct dmirror_file *df = file->private_data;

	hmirror_ctx_destroy(df->ctx);
	mutex_destroy(&df->lock);
	kfree(df);
	return 0;
}

/* The bounce buffer: one window of the range at a time. */
#define DMIRROR_WINDOW_PAGES	512UL

/* Flag for dmirror_rw(): a page the device has no PTE for is -ENOENT. */
#define DMIRROR_NO_FAULT	BIT(31)

/*
 * Copy between the range and cmd->ptr through the device page table, a
 * window at a time. At the first page of a window the device has no
 * (writable) PTE for, the whole rest of the range is faulted in at once
 * (one fault, in test_hmm's count) and the copy goes on; under
 * DMIRROR_NO_FAULT that page ends the call with -ENOENT instead.
 */
static int dmirror_rw(struct dmirror_file *df, struct hmm_dmirror_cmd *cmd,
		      bool write, unsigned int flags)
{
	unsigned long end = cmd->addr + (cmd->npages << PAGE_SHIFT);
	unsigned long addr, n, i = 0;
	void __user *uptr;
	void *buf;
	int ret = 0;

	/* A failure is the caller's -ENOMEM, not a vmalloc warning. */
	buf = kvmalloc(min(cmd->npages, DMIRROR_WINDOW_PAGES) << PAGE_SHIFT,
		       GFP_KERNEL | __GFP_NOWARN);
	if (!buf)
		return -ENOMEM;
	if (write)
		flags |= HMIRROR_KF_WRITE;
	while (cmd->cpages < cmd->npages && !ret) {
		addr = cmd->addr + (cmd->cpages << PAGE_SHIFT);
		uptr = u64_to_user_ptr(cmd->ptr) + (cmd->cpages << PAGE_SHIFT);
		n = min(cmd->npages - cmd->cpages, DMIRROR_WINDOW_PAGES);
		if (write && copy_from_user(buf, uptr, n << PAGE_SHIFT)) {
			ret = -EFAULT;
			break;
		}
		for (i = 0; !ret; cmd->faults++) {
			i += hmirror_ctx_access(df->ctx, addr + (i << PAGE_SHIFT),
						buf + (i << PAGE_SHIFT), n - i,
						write);
			if (i == n)
				break;
			if (flags & DMIRROR_NO_FAULT)
				ret = -ENOENT;
			else
				ret = hmirror_ctx_fault(df->ctx,
							addr + (i << PAGE_SHIFT),
							end, flags);
		}
		if (!ret && !write && copy_to_user(uptr, buf, n << PAGE_SHIFT))
			ret = -EFAULT;
		if (!ret)
			cmd->cpages += n;
	}
	kvfree(buf);
	return ret;
}

/* test_hmm's check: every page of the range in a readable VMA. */
static int dmirror_check_vmas(unsigned long start, unsigned long end)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long addr;
	int ret = 0;

	mmap_read_lock(mm);
	for (addr = start; addr < end; addr = vma->vm_end) {
		vma = vma_lookup(mm, addr);
		if (!vma || !(vma->vm_flags & VM_READ)) {
			ret = -EINVAL;
			break;
		}
	}
	mmap_read_unlock(mm);
	return ret;
}

static int dmirror_migrate(struct dmirror_file *df, struct hmm_dmirror_cmd *cmd,
			   bool to_dev)
{
	unsigned long start = cmd->addr, end = start + (cmd->npages << PAGE_SHIFT);
	u64 moved = 0, failed = 0;
	bool fail_alloc;
	int ret;

	ret = dmirror_check_vmas(start, end);
	if (ret)
		return ret;

	mutex_lock(&df->lock);
	fail_alloc = df->fail_alloc;
	df->fail_alloc = false;
	mutex_unlock(&df->lock);

	if (!to_dev) {
		ret = hmirror_ctx_migrate(df->ctx, start, end, 0, &moved,
					  &failed);
		cmd->cpages = moved;
		return ret;
	}

	if (fail_alloc)
		hmirror_ctx_fail_huge_alloc(df->ctx, true);
	ret = hmirror_ctx_migrate(df->ctx, start, end,
				  HMIRROR_KM_TO_DEVICE | HMIRROR_KM_SYSTEM_ONLY,
				  &moved, &failed);
	if (fail_alloc)
		hmirror_ctx_fail_huge_alloc(df->ctx, false);
	if (ret)
		return ret;
	if (failed)
		return -ENOENT;
	/* What the device now reads there, for the caller to check. */
	return dmirror_rw(df, cmd, false, 0);
}

static int dmirror_exclusive(struct dmirror_file *df,
			     struct hmm_dmirror_cmd *cmd)
{
	int ret;

	ret = hmirror_ctx_fault(df->ctx, cmd->addr,
				cmd->addr + (cmd->npages << PAGE_SHIFT),
				HMIRROR_KF_EXCLUSIVE);
	if (ret)
		return ret;
	/* A fault would hand the pages back to the CPU: read what is there. */
	return dmirror_rw(df, cmd, false, DMIRROR_NO_FAULT);
}

/* One page of hmirror_ctx_snapshot(), in test_hmm_uapi.h's encoding. */
static u8 dmirror_prot(u32 snap)
{
	unsigned int shift = PAGE_SHIFT + (u8)(snap >> HMIRROR_SNAP_ORDER_SHIFT);
	u8 prot;

	if (snap & HMIRROR_SNAP_ERROR)
		return HMM_DMIRROR_PROT_ERROR;
	if (!(snap & HMIRROR_SNAP_VALID))
		return HMM_DMIRROR_PROT_NONE;

	if (snap & HMIRROR_SNAP_PRIVATE)
		prot = snap & HMIRROR_SNAP_LOCAL ?
		       HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL :
		       HMM_DMIRROR_PROT_DEV_PRIVATE_REMOTE;
	else if (snap & HMIRROR_SNAP_COHERENT)
		prot = snap & HMIRROR_SNAP_LOCAL ?
		       HMM_DMIRROR_PROT_DEV_COHERENT_LOCAL :
		       HMM_DMIRROR_PROT_DEV_COHERENT_REMOTE;
	else if (snap & HMIRROR_SNAP_ZERO)
		prot = HMM_DMIRROR_PROT_ZERO;
	else
		prot = HMM_DMIRROR_PROT_NONE;

	prot |= snap & HMIRROR_SNAP_WRITE ? HMM_DMIRROR_PROT_WRITE :
					    HMM_DMIRROR_PROT_READ;
	if (shift == PMD_SHIFT)
		prot |= HMM_DMIRROR_PROT_PMD;
	else if (shift == PUD_SHIFT)
		prot |= HMM_DMIRROR_PROT_PUD;
	return prot;
}

#define DMIRROR_SNAP_BATCH	512UL

static int dmirror_snapshot(struct dmirror_file *df,
			    struct hmm_dmirror_cmd *cmd)
{
	u8 __user *uptr = u64_to_user_ptr(cmd->ptr);
	unsigned long i, n, done;
	u32 *snap;
	u8 *prot;
	int ret = 0;

	snap = kmalloc_array(DMIRROR_SNAP_BATCH, sizeof(*snap), GFP_KERNEL);
	prot = kmalloc(DMIRROR_SNAP_BATCH, GFP_KERNEL);
	if (!snap || !prot) {
		ret = -ENOMEM;
		goto out;
	}
	for (done = 0; done < cmd->npages && !ret; done += n) {
		n = min(cmd->npages - done, DMIRROR_SNAP_BATCH);
		ret = hmirror_ctx_snapshot(df->ctx,
					   cmd->addr + (done << PAGE_SHIFT), n,
					   snap);
		if (ret)
			break;
		for (i = 0; i < n; i++)
			prot[i] = dmirror_prot(snap[i]);
		if (copy_to_user(uptr + done, prot, n))
			ret = -EFAULT;
		else
			cmd->cpages += n;
	}
out:
	kfree(prot);
	kfree(snap);
	return ret;
}

static long dmirror_ioctl(struct file *file, unsigned int command,
			  unsigned long arg)
{
	struct dmirror_file *df = file->private_data;
	void __user *uarg = (void __user *)arg;
	struct hmm_dmirror_cmd cmd;
	long evicted;
	int ret;

	ret = hmirror_ctx_check(df->ctx);
	if (ret)
		return ret;
	if (copy_from_user(&cmd, uarg, sizeof(cmd)))
		return -EFAULT;
	if (!PAGE_ALIGNED(cmd.addr) || cmd.npages > (ULONG_MAX >> PAGE_SHIFT) ||
	    cmd.addr >= cmd.addr + (cmd.npages << PAGE_SHIFT))
		return -EINVAL;
	cmd.cpages = 0;
	cmd.faults = 0;

	switch (command) {
	case HMM_DMIRROR_READ:
		ret = dmirror_rw(df, &cmd, false, 0);
		break;
	case HMM_DMIRROR_WRITE:
		ret = dmirror_rw(df, &cmd, true, 0);
		break;
#ifdef HMM_DMIRROR_READ_UNLOCKED	/* not in 6.12 */
	case HMM_DMIRROR_READ_UNLOCKED:
		ret = dmirror_rw(df, &cmd, false, HMIRROR_KF_UNLOCKED);
		break;
#endif
	case HMM_DMIRROR_MIGRATE_TO_DEV:
		ret = dmirror_migrate(df, &cmd, true);
		break;
	case HMM_DMIRROR_MIGRATE_TO_SYS:
		ret = dmirror_migrate(df, &cmd, false);
		break;
	case HMM_DMIRROR_SNAPSHOT:
		ret = dmirror_snapshot(df, &cmd);
		break;
	case HMM_DMIRROR_RELEASE:
		evicted = hmirror_ctx_devmem_evict(df->ctx);
		ret = evicted < 0 ? evicted : 0;
		break;
#ifdef HMM_DMIRROR_FLAGS	/* not in 6.12 */
	case HMM_DMIRROR_FLAGS:
		mutex_lock(&df->lock);
		df->fail_alloc = cmd.npages & HMM_DMIRROR_FLAG_FAIL_ALLOC;
		mutex_unlock(&df->lock);
		break;
#endif
	case HMM_DMIRROR_EXCLUSIVE:
		ret = dmirror_exclusive(df, &cmd);
		break;
	case HMM_DMIRROR_CHECK_EXCLUSIVE:
		if (hmirror_ctx_exclusive_pages(df->ctx, cmd.addr, cmd.npages))
			ret = -EPERM;
		break;
	default:
		return -EINVAL;	/* test_hmm's answer */
	}
	if (ret)
		return ret;
	return copy_to_user(uarg, &cmd, sizeof(cmd)) ? -EFAULT : 0;
}

/* Zeroed kernel pages, each mapped with its own reference. */
static int dmirror_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long addr;
	struct page *page;
	int ret;

	for (addr = vma->vm_start; addr < vma->vm_end; addr += PAGE_SIZE) {
		page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!page)
			return -ENOMEM;
		ret = vm_insert_page(vma, addr, page);
		put_page(page);
		if (ret)
			return ret;
	}
	return 0;
}

static const struct file_operations dmirror_fops = {
	.owner = THIS_MODULE,
	.open = dmirror_open,
	.release = dmirror_release,
	.unlocked_ioctl = dmirror_ioctl,
	.mmap = dmirror_mmap,
	.llseek = default_llseek,
};

static void dmirror_nodes_destroy(void)
{
	unsigned int n;

	for (n = 0; n < DMIRROR_NODES; n++) {
		if (!dmirror_nodes[n].dev)
			continue;
		device_destroy(&dmirror_class, MKDEV(MAJOR(dmirror_devt), n));
		cdev_del(&dmirror_nodes[n].cdev);
		dmirror_nodes[n].dev = NULL;
	}
}

static int dmirror_node_create(unsigned int n)
{
	struct dmirror_node *node = &dmirror_nodes[n];
	dev_t devt = MKDEV(MAJOR(dmirror_devt), n);
	struct device *dev;
	int ret;

	node->index = n;
	cdev_init(&node->cdev, &dmirror_fops);
	node->cdev.owner = THIS_MODULE;
	ret = cdev_add(&node->cdev, devt, 1);
	if (ret)
		return ret;
	dev = device_create(&dmirror_class, NULL, devt, node, "hmm_dmirror%u",
			    n);
	if (IS_ERR(dev)) {
		cdev_del(&node->cdev);
		return PTR_ERR(dev);
	}
	node->dev = dev;
	return 0;
}

static int __init dmirror_init(void)
{
	unsigned int n, made = 0;
	int ret;

	ret = alloc_chrdev_region(&dmirror_devt, 0, DMIRROR_NODES,
				  "hmm_dmirror");
	if (ret)
		return ret;
	ret = class_register(&dmirror_class);
	if (ret)
		goto err_region;
	for (n = 0; n < DMIRROR_NODES; n++) {
		if (hmirror_device_vram_kind(n) != dmirror_kind(n))
			continue;
		ret = dmirror_node_create(n);
		if (ret)
			goto err_nodes;
		made++;
	}
	pr_info("%u test_hmm node(s) on hmirror instances\n", made);
	return 0;

err_nodes:
	dmirror_nodes_destroy();
	class_unregister(&dmirror_class);
err_region:
	unregister_chrdev_region(dmirror_devt, DMIRROR_NODES);
	return ret;
}

static void __exit dmirror_exit(void)
{
	dmirror_nodes_destroy();
	class_unregister(&dmirror_class);
	unregister_chrdev_region(dmirror_devt, DMIRROR_NODES);
}

module_init(dmirror_init);
module_exit(dmirror_exit);

MODULE_IMPORT_NS(HMIRROR_NS);
MODULE_DESCRIPTION("test_hmm's uAPI (/dev/hmm_dmirror<N>) on hmirror's core");
MODULE_LICENSE("GPL");
