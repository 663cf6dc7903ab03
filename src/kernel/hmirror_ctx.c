// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror contexts: one per open file, bound to the opener's mm and owner.
 */

#include <linux/fs.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "hmirror_internal.h"

/**
 * DOC: contexts
 *
 * Opening /dev/hmirror<N> creates a context bound to the opener's mm and
 * thread group. The context holds an mmgrab() reference, which keeps the
 * mm_struct alive but not its address space: the mirror must never extend
 * the life of the pages it mirrors, and exit_mmap() must run as usual when
 * the process dies.
 *
 * Every ioctl first checks that it comes from the context's mm and fails
 * with -EACCES otherwise, before it looks at its argument. A file passed
 * over a unix socket or inherited across fork() therefore gives its new
 * holder nothing, and cannot be used to reach the opener's memory.
 */

static int hmirror_ctx_open(struct inode *inode, struct file *file)
{
	struct hmirror_device *hdev =
		container_of(inode->i_cdev, struct hmirror_device, cdev);
	struct hmirror_ctx *ctx;

	/* Kernel threads have no address space to mirror. */
	if (!current->mm)
		return -EINVAL;

	ctx = kzalloc_obj(*ctx, GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;

	ctx->hdev = hdev;
	ctx->mm = current->mm;
	mmgrab(ctx->mm);
	ctx->owner = get_task_pid(current, PIDTYPE_TGID);
	hmirror_obj_get();

	file->private_data = ctx;
	return nonseekable_open(inode, file);
}

static int hmirror_ctx_release(struct inode *inode, struct file *file)
{
	struct hmirror_ctx *ctx = file->private_data;

	put_pid(ctx->owner);
	mmdrop(ctx->mm);
	kfree(ctx);
	hmirror_obj_put();
	return 0;
}

static int hmirror_ioc_get_info(struct hmirror_ctx *ctx, void __user *uarg)
{
	struct hmirror_info info;

	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (info.pad || memchr_inv(info.reserved, 0, sizeof(info.reserved)))
		return -EINVAL;

	memset(&info, 0, sizeof(info));
	info.abi_version = HMIRROR_ABI_VERSION;
	info.device_index = ctx->hdev->index;
	info.nr_devices = hmirror_nr_devices;
	strscpy(info.backend, ctx->hdev->backend, sizeof(info.backend));

	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long hmirror_ctx_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct hmirror_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;

	if (current->mm != ctx->mm)
		return -EACCES;

	switch (cmd) {
	case HMIRROR_IOC_GET_INFO:
		return hmirror_ioc_get_info(ctx, uarg);
	default:
		return -ENOTTY;
	}
}

const struct file_operations hmirror_ctx_fops = {
	.owner = THIS_MODULE,
	.open = hmirror_ctx_open,
	.release = hmirror_ctx_release,
	.unlocked_ioctl = hmirror_ctx_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};
