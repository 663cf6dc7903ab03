// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror contexts: one per open file, bound to the opener's mm and owner;
 * the ioctl front end.
 */

#include <linux/error-injection.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/poll.h>
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
 *
 * A context that was reset for holding up an invalidation is dead: every
 * ioctl but STATS (kept for the post-mortem) fails with -EIO, and poll()
 * reports EPOLLERR. poll() reports EPOLLIN while no job is in flight,
 * and EPOLLPRI while events (struct hmirror_event) wait to be read().
 *
 * Closing the file aborts everything at once: the context is reset on the
 * device, its jobs are cancelled, and its notifiers and page table freed.
 */

/* Every context of every device, so an invalidation can find an mm's. */
LIST_HEAD(hmirror_ctx_all);
DEFINE_SPINLOCK(hmirror_ctx_all_lock);

/**
 * __hmirror_ctx_create() - a new context of @hdev for the current process
 * @hdev: device instance
 *
 * The context is bound to current's mm and thread group, whoever creates
 * it: the char device's open, or another kernel module through
 * hmirror_ctx_create().
 *
 * Return: the context or an ERR_PTR().
 */
noinline struct hmirror_ctx *__hmirror_ctx_create(struct hmirror_device *hdev)
{
	struct hmirror_ctx *ctx;
	int ret;

	/* Kernel threads have no address space to mirror. */
	if (!current->mm)
		return ERR_PTR(-EINVAL);

	if (hmirror_fault_should_fail_dev(HMIRROR_FAULT_CTX_ALLOC, hdev))
		return ERR_PTR(-ENOMEM);
	ctx = kzalloc_obj(*ctx, GFP_KERNEL);
	if (!ctx)
		return ERR_PTR(-ENOMEM);

	ctx->hdev = hdev;
	ctx->mm = current->mm;
	mmgrab(ctx->mm);
	ctx->owner = get_task_pid(current, PIDTYPE_TGID);
	get_task_comm(ctx->comm, current);
	mutex_init(&ctx->lock);
	spin_lock_init(&ctx->pt_lock);
	xa_init(&ctx->ranges);
	xa_init_flags(&ctx->mrs, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&ctx->events);
	INIT_LIST_HEAD(&ctx->advices);
	INIT_WORK(&ctx->advise_work, hmirror_advise_work);
	INIT_LIST_HEAD(&ctx->jobs);
	INIT_LIST_HEAD(&ctx->run_link);
	init_waitqueue_head(&ctx->wq);
	INIT_WORK(&ctx->fault_work, hmirror_job_fault_work);
	INIT_WORK(&ctx->escalate_work, hmirror_escalate_work_fn);
	INIT_DELAYED_WORK(&ctx->reclaim_work, hmirror_ranges_reclaim_work);
	hrtimer_setup(&ctx->deadline_timer, hmirror_deadline_timer_fn,
		      CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	ctx->state = HMIRROR_CTX_ALIVE;
	ctx->preempt = HMIRROR_PREEMPT_PAGE;
	ctx->policy = READ_ONCE(hmirror_inval_policy);
	ctx->deadline_ms = READ_ONCE(hmirror_inval_deadline_ms);
	ctx->eventfd_fd = -1;

	ret = hdev->ops->ctx_init ? hdev->ops->ctx_init(ctx) : 0;
	if (ret) {
		put_pid(ctx->owner);
		mmdrop(ctx->mm);
		mutex_destroy(&ctx->lock);
		kfree(ctx);
		return ERR_PTR(ret);
	}

	mutex_lock(&hdev->ctxs_lock);
	ctx->id = hdev->next_ctx_id++;
	list_add_tail(&ctx->link, &hdev->ctxs);
	mutex_unlock(&hdev->ctxs_lock);
	spin_lock(&hmirror_ctx_all_lock);
	list_add_tail(&ctx->all_link, &hmirror_ctx_all);
	spin_unlock(&hmirror_ctx_all_lock);
	hmirror_debugfs_ctx_init(ctx);
	hmirror_obj_get();
	return ctx;
}
ALLOW_ERROR_INJECTION(__hmirror_ctx_create, ERRNO);

static int hmirror_ctx_open(struct inode *inode, struct file *file)
{
	struct hmirror_device *hdev =
		container_of(inode->i_cdev, struct hmirror_device, cdev);
	struct hmirror_ctx *ctx = __hmirror_ctx_create(hdev);

	if (IS_ERR(ctx))
		return PTR_ERR(ctx);
	file->private_data = ctx;
	return nonseekable_open(inode, file);
}

/**
 * __hmirror_ctx_destroy() - abort and free a context
 * @ctx: context from __hmirror_ctx_create(), not used by anybody else
 *
 * Resets it on the device, cancels its jobs, removes its notifiers and
 * page table: everything at once, as closing its file does.
 */
void __hmirror_ctx_destroy(struct hmirror_ctx *ctx)
{
	struct hmirror_device *hdev = ctx->hdev;

	spin_lock(&ctx->pt_lock);
	WRITE_ONCE(ctx->state, HMIRROR_CTX_CLOSING);
	spin_unlock(&ctx->pt_lock);
	/* No invalidation can arm our timer once we are off this list. */
	spin_lock(&hmirror_ctx_all_lock);
	list_del(&ctx->all_link);
	spin_unlock(&hmirror_ctx_all_lock);

	/* The context is freed below: no engine may be left in it. */
	while (hdev->ops->ctx_reset(ctx, 1000))
		dev_warn(hdev->dev, "context %u: engine slow to leave it\n",
			 ctx->id);
	/* Nothing re-arms it: invalidations arm only live contexts. */
	hrtimer_cancel(&ctx->deadline_timer);
	cancel_work_sync(&ctx->escalate_work);
	cancel_work_sync(&ctx->fault_work);
	cancel_delayed_work_sync(&ctx->reclaim_work);

	spin_lock(&ctx->pt_lock);
	hmirror_jobs_cancel(ctx);
	spin_unlock(&ctx->pt_lock);
	wake_up_all(&ctx->wq);

	hmirror_advise_destroy(ctx);
	hmirror_mrs_destroy(ctx);
	hmirror_ranges_destroy(ctx);
	/* No reader of the debugfs file asks the backend any more. */
	hmirror_debugfs_ctx_fini(ctx);
	if (hdev->ops->ctx_fini)
		hdev->ops->ctx_fini(ctx);

	mutex_lock(&hdev->ctxs_lock);
	list_del(&ctx->link);
	mutex_unlock(&hdev->ctxs_lock);

	if (ctx->eventfd)
		eventfd_ctx_put(ctx->eventfd);
	kvfree(ctx->fault_pfns);
	put_pid(ctx->owner);
	mmdrop(ctx->mm);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
	hmirror_obj_put();
}

static int hmirror_ctx_release(struct inode *inode, struct file *file)
{
	__hmirror_ctx_destroy(file->private_data);
	return 0;
}

static int hmirror_ioc_get_info(struct hmirror_ctx *ctx, void __user *uarg)
{
	struct hmirror_info info;

	if (copy_from_user(&info, uarg, sizeof(info)))
		return -EFAULT;
	if (info.pad || info.max_contexts || info.vram_kind || info.reserved)
		return -EINVAL;

	memset(&info, 0, sizeof(info));
	info.abi_version = HMIRROR_ABI_VERSION;
	info.device_index = ctx->hdev->index;
	info.nr_devices = hmirror_device_count();
	strscpy(info.backend, ctx->hdev->ops->name, sizeof(info.backend));
	info.max_cmds = HMIRROR_MAX_CMDS;
	info.max_contexts = ctx->hdev->max_ctxs;
	info.max_job_bytes = HMIRROR_MAX_JOB_BYTES;
	if (ctx->hdev->devmem) {
		info.vram_bytes = (u64)ctx->hdev->devmem->nr_blocks *
				  HMIRROR_CHUNK_SIZE;
		info.vram_kind = ctx->hdev->devmem->coherent ?
				 HMIRROR_VRAM_COHERENT : HMIRROR_VRAM_PRIVATE;
	}

	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static int hmirror_config_check(struct hmirror_ctx *ctx,
				const struct hmirror_ctx_config *cfg)
{
	lockdep_assert_held(&ctx->lock);

	if (cfg->set & ~HMIRROR_CFG_ALL || cfg->pad ||
	    memchr_inv(cfg->reserved, 0, sizeof(cfg->reserved)))
		return -EINVAL;
	if (cfg->set & HMIRROR_CFG_PREEMPT) {
		if (cfg->preempt != HMIRROR_PREEMPT_PAGE &&
		    cfg->preempt != HMIRROR_PREEMPT_NONE)
			return -EINVAL;
		/* Jobs already in the mirror were faulted for one class. */
		if (ctx->submitted && cfg->preempt != ctx->preempt)
			return -EBUSY;
	}
	if (cfg->set & HMIRROR_CFG_DEADLINE &&
	    (cfg->deadline_ms < HMIRROR_DEADLINE_MIN_MS ||
	     cfg->deadline_ms > HMIRROR_DEADLINE_MAX_MS))
		return -EINVAL;
	if (cfg->set & HMIRROR_CFG_POLICY &&
	    cfg->policy != HMIRROR_POLICY_KILL &&
	    cfg->policy != HMIRROR_POLICY_REVOKE)
		return -EINVAL;
	if (cfg->set & HMIRROR_CFG_EVENTFD && cfg->eventfd < -1)
		return -EINVAL;
	return 0;
}

static int hmirror_ioc_config(struct hmirror_ctx *ctx, void __user *uarg)
{
	struct eventfd_ctx *efd = NULL, *old = NULL;
	struct hmirror_ctx_config cfg, out;
	int ret;

	if (copy_from_user(&cfg, uarg, sizeof(cfg)))
		return -EFAULT;

	mutex_lock(&ctx->lock);
	ret = hmirror_config_check(ctx, &cfg);
	if (ret)
		goto unlock;
	if (cfg.set & HMIRROR_CFG_EVENTFD && cfg.eventfd >= 0) {
		efd = eventfd_ctx_fdget(cfg.eventfd);
		if (IS_ERR(efd)) {
			ret = PTR_ERR(efd);
			goto unlock;
		}
	}

	/*
	 * Report the values the call leads to before making them so: a
	 * failed copy-out then changes nothing. ctx->lock keeps them stable.
	 */
	out = cfg;
	out.set = 0;
	if (!(cfg.set & HMIRROR_CFG_PREEMPT))
		out.preempt = ctx->preempt;
	if (!(cfg.set & HMIRROR_CFG_DEADLINE))
		out.deadline_ms = ctx->deadline_ms;
	if (!(cfg.set & HMIRROR_CFG_POLICY))
		out.policy = ctx->policy;
	if (!(cfg.set & HMIRROR_CFG_EVENTFD))
		out.eventfd = ctx->eventfd_fd;
	else if (!efd)
		out.eventfd = -1;
	if (copy_to_user(uarg, &out, sizeof(out))) {
		if (efd)
			eventfd_ctx_put(efd);
		ret = -EFAULT;
		goto unlock;
	}

	spin_lock(&ctx->pt_lock);
	if (cfg.set & HMIRROR_CFG_PREEMPT)
		ctx->preempt = cfg.preempt;
	if (cfg.set & HMIRROR_CFG_DEADLINE)
		ctx->deadline_ms = cfg.deadline_ms;
	if (cfg.set & HMIRROR_CFG_POLICY)
		ctx->policy = cfg.policy;
	if (cfg.set & HMIRROR_CFG_EVENTFD) {
		old = ctx->eventfd;
		ctx->eventfd = efd;
		ctx->eventfd_fd = out.eventfd;
	}
	spin_unlock(&ctx->pt_lock);

	if (old)
		eventfd_ctx_put(old);
unlock:
	mutex_unlock(&ctx->lock);
	return ret;
}

static int hmirror_ioc_submit(struct hmirror_ctx *ctx, void __user *uarg)
{
	struct hmirror_submit sub;
	int ret;

	if (copy_from_user(&sub, uarg, sizeof(sub)))
		return -EFAULT;
	ret = hmirror_job_submit(ctx, &sub);
	if (ret)
		return ret;
	/* The job runs whatever happens to the copy-out. */
	return put_user(sub.fence, &((struct hmirror_submit __user *)uarg)->fence);
}

static int hmirror_ioc_wait(struct hmirror_ctx *ctx, void __user *uarg)
{
	struct hmirror_wait w;
	int ret;

	if (copy_from_user(&w, uarg, sizeof(w)))
		return -EFAULT;
	ret = hmirror_job_wait(ctx, &w);
	if (ret)
		return ret;
	return put_user(w.status, &((struct hmirror_wait __user *)uarg)->status);
}

static int hmirror_ioc_stats(struct hmirror_ctx *ctx, void __user *uarg)
{
	struct hmirror_stats st;
	u32 size;

	if (copy_from_user(&st, uarg, offsetofend(struct hmirror_stats, pad)))
		return -EFAULT;
	size = st.size;
	if (size < offsetofend(struct hmirror_stats, pad) || st.pad)
		return -EINVAL;
	size = min_t(u32, size, sizeof(st));

	spin_lock(&ctx->pt_lock);
	st = ctx->stats;
	spin_unlock(&ctx->pt_lock);
	hmirror_devmem_stats(ctx->hdev, &st);
	st.size = size;
	return copy_to_user(uarg, &st, size) ? -EFAULT : 0;
}

static int hmirror_ioc_migrate(struct hmirror_ctx *ctx, void __user *uarg)
{
	struct hmirror_migrate req;
	int ret;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	ret = hmirror_migrate(ctx, &req);
	if (ret)
		return ret;
	return copy_to_user(uarg, &req, sizeof(req)) ? -EFAULT : 0;
}

static int hmirror_ioc_mr_reg(struct hmirror_ctx *ctx, void __user *uarg)
{
	struct hmirror_mr_reg req;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	return hmirror_mr_reg(ctx, &req,
			      &((struct hmirror_mr_reg __user *)uarg)->key);
}

static int hmirror_ioc_mr_dereg(struct hmirror_ctx *ctx, void __user *uarg)
{
	struct hmirror_mr_dereg req;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	return hmirror_mr_dereg(ctx, &req);
}

static int hmirror_ioc_mr_advise(struct hmirror_ctx *ctx, void __user *uarg)
{
	struct hmirror_mr_advise req;

	if (copy_from_user(&req, uarg, sizeof(req)))
		return -EFAULT;
	return hmirror_mr_advise(ctx, &req);
}

static long hmirror_ctx_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct hmirror_ctx *ctx = file->private_data;
	void __user *uarg = (void __user *)arg;

	if (current->mm != ctx->mm)
		return -EACCES;
	/* STATS grows at the end: its number's size bits are not checked. */
	if (_IOC_TYPE(cmd) == HMIRROR_IOC_MAGIC &&
	    _IOC_NR(cmd) == _IOC_NR(HMIRROR_IOC_STATS) &&
	    _IOC_DIR(cmd) == (_IOC_READ | _IOC_WRITE))
		return hmirror_ioc_stats(ctx, uarg);
	if (READ_ONCE(ctx->state) != HMIRROR_CTX_ALIVE)
		return -EIO;

	switch (cmd) {
	case HMIRROR_IOC_GET_INFO:
		return hmirror_ioc_get_info(ctx, uarg);
	case HMIRROR_IOC_CONFIG:
		return hmirror_ioc_config(ctx, uarg);
	case HMIRROR_IOC_SUBMIT:
		return hmirror_ioc_submit(ctx, uarg);
	case HMIRROR_IOC_WAIT:
		return hmirror_ioc_wait(ctx, uarg);
	case HMIRROR_IOC_MIGRATE:
		return hmirror_ioc_migrate(ctx, uarg);
	case HMIRROR_IOC_MR_REG:
		return hmirror_ioc_mr_reg(ctx, uarg);
	case HMIRROR_IOC_MR_DEREG:
		return hmirror_ioc_mr_dereg(ctx, uarg);
	case HMIRROR_IOC_MR_ADVISE:
		return hmirror_ioc_mr_advise(ctx, uarg);
	default:
		return -ENOTTY;
	}
}

static ssize_t hmirror_ctx_read(struct file *file, char __user *buf,
				size_t count, loff_t *ppos)
{
	struct hmirror_ctx *ctx = file->private_data;

	if (current->mm != ctx->mm)
		return -EACCES;
	return hmirror_events_read(ctx, buf, count,
				   file->f_flags & O_NONBLOCK);
}

static __poll_t hmirror_ctx_poll(struct file *file, poll_table *wait)
{
	struct hmirror_ctx *ctx = file->private_data;
	__poll_t mask = 0;

	poll_wait(file, &ctx->wq, wait);
	if (hmirror_events_pending(ctx))
		mask |= EPOLLPRI;
	if (READ_ONCE(ctx->state) != HMIRROR_CTX_ALIVE)
		return mask | EPOLLERR;
	if (READ_ONCE(ctx->completed) == READ_ONCE(ctx->submitted))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

const struct file_operations hmirror_ctx_fops = {
	.owner = THIS_MODULE,
	.open = hmirror_ctx_open,
	.release = hmirror_ctx_release,
	.read = hmirror_ctx_read,
	.unlocked_ioctl = hmirror_ctx_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.poll = hmirror_ctx_poll,
};
