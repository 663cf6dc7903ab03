// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror jobs: validation, fault-in of the footprint, publication,
 * completion and waiting.
 */

#include <linux/error-injection.h>
#include <linux/eventfd.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hmirror_internal.h"
#include "hmirror_trace.h"

/**
 * DOC: submission
 *
 * A job is checked whole before anything happens: every command's opcode,
 * unused fields, lengths, alignment and address range. Its footprint, the
 * byte ranges the commands read and write, is then faulted into the device
 * page table chunk by chunk (hmm_range_fault(), for writing where a
 * command writes), and each chunk's notifier sequence is remembered. The
 * page of an EXCLUSIVE command is then made device-exclusive instead
 * (hmirror_pt_make_exclusive()), after every other piece, since faulting
 * another operand on that page would take the exclusivity away again.
 *
 * The job is published, which makes it visible to the engine and to
 * invalidations, under pt_lock and only if none of those sequences moved
 * since its chunk was faulted: a chunk invalidated in the meantime is
 * faulted again. Invalidations set the sequence under the same lock, so a
 * published job never runs on a translation older than the notifier
 * sequence it was submitted under, and an invalidation that starts after
 * publication sees the job (and, for NONE-class contexts, waits for it).
 *
 * Jobs of a context complete in fence order. The status of the last
 * HMIRROR_STATUS_RING completed jobs is kept for HMIRROR_IOC_WAIT.
 *
 * A job made only of MIRROR commands has nothing left for the device once
 * it is published: if no older job of the context is pending, its fence
 * signals at submit, as a prefetch ioctl returns when the pages are
 * mapped, and costs no round trip through the engine. Behind an older job
 * it is queued like any other, so fences still signal in order.
 */

#define HMIRROR_MAX_JOBS_INFLIGHT	1024

/* One chunk-sized piece of the footprint, as faulted. */
struct hmirror_mark {
	unsigned long start;
	unsigned long end;
	bool write;
	bool excl;
	struct hmirror_mr *mr;
	struct hmirror_range *range;
	unsigned long seq;
};

/* The region operand dst (or src) of command @i names, or NULL. */
static struct hmirror_mr *hmirror_opnd_mr(const struct hmirror_job *job,
					  unsigned int i, bool dst)
{
	return job->opmr ? job->opmr[2 * i + !dst] : NULL;
}

static bool hmirror_opnd_pinned(const struct hmirror_job *job, unsigned int i,
				bool dst)
{
	struct hmirror_mr *mr = hmirror_opnd_mr(job, i, dst);

	return mr && mr->mode == HMIRROR_MR_PINNED;
}

/*
 * Check operand dst (or src) of command job->cur and add it to the
 * footprint, to be taken device-exclusive if @excl. An operand in a
 * pinned region is checked alike but is no footprint: the engine uses the
 * region's pages, and nothing is faulted or waited for.
 */
static int hmirror_opnd_add_excl(struct hmirror_job *job, bool dst, u64 addr,
				 u64 len, bool write, bool excl, u64 *total)
{
	u64 end;

	if (!len)
		return -EINVAL;
	if (check_add_overflow(addr, len, &end))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(addr), len))
		return -EFAULT;
	*total += len;
	if (*total > HMIRROR_MAX_JOB_BYTES)
		return -E2BIG;
	if (hmirror_opnd_pinned(job, job->cur, dst))
		return 0;
	job->segs[job->nr_segs++] = (struct hmirror_seg){
		.start = addr, .end = end, .write = write, .excl = excl,
		.mr = hmirror_opnd_mr(job, job->cur, dst),
	};
	return 0;
}

static int hmirror_opnd_add(struct hmirror_job *job, bool dst, u64 addr,
			    u64 len, bool write, u64 *total)
{
	return hmirror_opnd_add_excl(job, dst, addr, len, write, false, total);
}

/*
 * MIGRATE: the range it moves is checked here and against the VMAs at
 * submit, but is not footprint; only the count it writes is.
 */
static int hmirror_cmd_check_migrate(struct hmirror_job *job,
				     const struct hmirror_cmd *c, u64 *total)
{
	u64 end;

	if (c->aux || c->value > HMIRROR_MIGRATE_TO_DEVICE || !c->len ||
	    !PAGE_ALIGNED(c->src) || !PAGE_ALIGNED(c->len) ||
	    !IS_ALIGNED(c->dst, 8) || check_add_overflow(c->src, c->len, &end))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(c->src), c->len))
		return -EFAULT;
	*total += c->len;
	if (*total > HMIRROR_MAX_JOB_BYTES)
		return -E2BIG;
	return c->dst ? hmirror_opnd_add(job, true, c->dst, 8, true, total) : 0;
}

/*
 * Check command job->cur (its keys already resolved) and add its
 * footprint to the job.
 */
static int hmirror_cmd_check(struct hmirror_job *job, u64 *total)
{
	const struct hmirror_cmd *c = &job->cmds[job->cur];
	int ret;

	/*
	 * Exclusive access is for the 64-bit writes a device does atomically,
	 * on pages the CPU maps: not on a pinned region's.
	 */
	if ((c->flags & HMIRROR_CMD_F_EXCLUSIVE) &&
	    ((c->op != HMIRROR_OP_ATOMIC_ADD &&
	      c->op != HMIRROR_OP_WRITE_VALUE) ||
	     hmirror_opnd_pinned(job, job->cur, true)))
		return -EINVAL;

	switch (c->op) {
	case HMIRROR_OP_COPY:
		if (c->value || c->aux)
			return -EINVAL;
		ret = hmirror_opnd_add(job, false, c->src, c->len, false, total);
		return ret ?: hmirror_opnd_add(job, true, c->dst, c->len, true, total);
	case HMIRROR_OP_FILL:
		if (c->src || c->value > U8_MAX || c->aux)
			return -EINVAL;
		return hmirror_opnd_add(job, true, c->dst, c->len, true, total);
	case HMIRROR_OP_CRC32C:
		if (c->value > U32_MAX || c->aux || !IS_ALIGNED(c->dst, 4))
			return -EINVAL;
		ret = hmirror_opnd_add(job, false, c->src, c->len, false, total);
		return ret ?: hmirror_opnd_add(job, true, c->dst, 4, true, total);
	case HMIRROR_OP_ATOMIC_ADD:
	case HMIRROR_OP_WRITE_VALUE:
		if (c->src || c->len || c->aux || !IS_ALIGNED(c->dst, 8))
			return -EINVAL;
		return hmirror_opnd_add_excl(job, true, c->dst, 8, true,
					     c->flags & HMIRROR_CMD_F_EXCLUSIVE,
					     total);
	case HMIRROR_OP_WAIT_VALUE:
		if (c->dst || c->len || !IS_ALIGNED(c->src, 8) ||
		    c->aux > HMIRROR_WAIT_TIMEOUT_MAX_US)
			return -EINVAL;
		return hmirror_opnd_add(job, false, c->src, 8, false, total);
	case HMIRROR_OP_DELAY:
		if (c->dst || c->src || c->len || c->value || !c->aux ||
		    c->aux > HMIRROR_DELAY_MAX_US)
			return -EINVAL;
		return 0;
	case HMIRROR_OP_MIRROR:
		/* Mirroring or moving pinned pages means nothing. */
		if (c->dst || c->value > 1 || c->aux ||
		    hmirror_opnd_pinned(job, job->cur, false))
			return -EINVAL;
		return hmirror_opnd_add(job, false, c->src, c->len, c->value, total);
	case HMIRROR_OP_MIGRATE:
		if (hmirror_opnd_pinned(job, job->cur, false))
			return -EINVAL;
		return hmirror_cmd_check_migrate(job, c, total);
	default:
		return -EINVAL;
	}
}

static void hmirror_job_free(struct hmirror_job *job)
{
	kfree(job->opmr);
	kfree(job->segs);
	kfree(job);
	hmirror_obj_put();
}

/* Let go of the job's regions; pt_lock held. */
static void __hmirror_job_put_mrs(struct hmirror_job *job)
{
	unsigned int i;

	lockdep_assert_held(&job->ctx->pt_lock);
	for (i = 0; job->opmr && i < 2 * job->nr_cmds; i++)
		if (job->opmr[i])
			job->opmr[i]->users--;
}

/* Free a job that was never published. */
static void hmirror_job_discard(struct hmirror_job *job)
{
	spin_lock(&job->ctx->pt_lock);
	__hmirror_job_put_mrs(job);
	spin_unlock(&job->ctx->pt_lock);
	hmirror_job_free(job);
}

/* Operand dst (or src) of @c: its length and the rights it needs. */
static bool hmirror_cmd_opnd(const struct hmirror_cmd *c, bool dst, u64 *len,
			     u32 *need)
{
	*need = dst ? HMIRROR_ACCESS_WRITE : HMIRROR_ACCESS_READ;
	switch (c->op) {
	case HMIRROR_OP_COPY:
		*len = c->len;
		return true;
	case HMIRROR_OP_CRC32C:
	case HMIRROR_OP_MIGRATE:
		*len = dst ? (c->op == HMIRROR_OP_CRC32C ? 4 : 8) : c->len;
		return true;
	case HMIRROR_OP_FILL:
		*len = c->len;
		return dst;
	case HMIRROR_OP_ATOMIC_ADD:
		*need = HMIRROR_ACCESS_ATOMIC;
		fallthrough;
	case HMIRROR_OP_WRITE_VALUE:
		*len = 8;
		return dst;
	case HMIRROR_OP_WAIT_VALUE:
		*len = 8;
		return !dst;
	case HMIRROR_OP_MIRROR:
		*len = c->len;
		if (c->value)
			*need = HMIRROR_ACCESS_WRITE;
		return !dst;
	default:
		return false;
	}
}

/*
 * Turn (key, offset) operands into addresses, checking each against its
 * region, and count the job as a user of the regions; ctx->lock held, so
 * no region goes away meanwhile.
 */
static int hmirror_job_resolve(struct hmirror_ctx *ctx, struct hmirror_job *job)
{
	const u32 keys = HMIRROR_CMD_F_DST_KEY | HMIRROR_CMD_F_SRC_KEY;
	struct hmirror_cmd *c;
	struct hmirror_mr *mr;
	unsigned int i, d;
	u64 len, addr;
	u32 need;
	int ret;

	lockdep_assert_held(&ctx->lock);
	for (i = 0; i < job->nr_cmds; i++) {
		c = &job->cmds[i];
		if (c->flags & ~HMIRROR_CMD_F_ALL ||
		    (!(c->flags & HMIRROR_CMD_F_DST_KEY) && c->dst_key) ||
		    (!(c->flags & HMIRROR_CMD_F_SRC_KEY) && c->src_key))
			return -EINVAL;
		if (!(c->flags & keys))
			continue;
		if (!job->opmr) {
			job->opmr = kcalloc(2 * job->nr_cmds, sizeof(*job->opmr),
					    GFP_KERNEL_ACCOUNT);
			if (!job->opmr)
				return -ENOMEM;
		}
		for (d = 0; d < 2; d++) {	/* d == 0: dst */
			if (!(c->flags & (d ? HMIRROR_CMD_F_SRC_KEY :
					      HMIRROR_CMD_F_DST_KEY)))
				continue;
			if (!hmirror_cmd_opnd(c, !d, &len, &need))
				return -EINVAL;
			ret = hmirror_mr_resolve(ctx, d ? c->src_key : c->dst_key,
						 d ? c->src : c->dst, len, need,
						 &mr, &addr);
			if (ret)
				return ret;
			spin_lock(&ctx->pt_lock);
			mr->users++;
			spin_unlock(&ctx->pt_lock);
			job->opmr[2 * i + d] = mr;
			if (d)
				c->src = addr;
			else
				c->dst = addr;
		}
	}
	return 0;
}

/* Check every command, resolved, and build the footprint. */
static int hmirror_job_check(struct hmirror_job *job)
{
	u64 total = 0;
	int ret;

	for (job->cur = 0; job->cur < job->nr_cmds; job->cur++) {
		ret = hmirror_cmd_check(job, &total);
		if (ret)
			return ret;
	}
	job->cur = 0;
	return 0;
}

/*
 * Copy the commands in, at the caller's stride: a program built when the
 * structure was smaller gets the fields it did not know zeroed.
 */
static int hmirror_cmds_copy(struct hmirror_cmd *cmds,
			     const struct hmirror_submit *sub)
{
	const char __user *ucmds = u64_to_user_ptr(sub->cmds);
	size_t stride = sub->cmd_size ?: HMIRROR_CMD_SIZE_V1;
	unsigned int i;

	BUILD_BUG_ON(offsetof(struct hmirror_cmd, dst_key) !=
		     HMIRROR_CMD_SIZE_V1);
	if (stride == sizeof(*cmds))
		return copy_from_user(cmds, ucmds,
				      array_size(sub->nr_cmds, stride)) ?
		       -EFAULT : 0;
	for (i = 0; i < sub->nr_cmds; i++)
		if (copy_from_user(&cmds[i], ucmds + i * stride, stride))
			return -EFAULT;
	return 0;
}

static struct hmirror_job *hmirror_job_create(struct hmirror_ctx *ctx,
					      const struct hmirror_submit *sub)
{
	struct hmirror_job *job;
	unsigned int i;
	int ret;

	/* kfree()d under pt_lock on completion: must come from kmalloc. */
	BUILD_BUG_ON(struct_size_t(struct hmirror_job, cmds, HMIRROR_MAX_CMDS) >
		     PAGE_SIZE);
	if (hmirror_fault_should_fail(HMIRROR_FAULT_JOB_ALLOC, ctx))
		return ERR_PTR(-ENOMEM);
	job = kzalloc(struct_size(job, cmds, sub->nr_cmds), GFP_KERNEL_ACCOUNT);
	if (!job)
		return ERR_PTR(-ENOMEM);
	job->nr_cmds = sub->nr_cmds;
	job->ctx = ctx;
	hmirror_obj_get();

	if (!hmirror_fault_should_fail(HMIRROR_FAULT_JOB_ALLOC, ctx))
		job->segs = kcalloc(2 * sub->nr_cmds, sizeof(*job->segs),
				    GFP_KERNEL_ACCOUNT);
	if (!job->segs) {
		ret = -ENOMEM;
		goto err;
	}
	if (hmirror_cmds_copy(job->cmds, sub)) {
		ret = -EFAULT;
		goto err;
	}
	for (i = 0; i < job->nr_cmds; i++) {
		/* Tagged pointers (LAM, TBI) name the same memory. */
		job->cmds[i].src = untagged_addr(job->cmds[i].src);
		job->cmds[i].dst = untagged_addr(job->cmds[i].dst);
	}
	return job;
err:
	hmirror_job_free(job);
	return ERR_PTR(ret);
}

/* Split a footprint into chunk-sized, page-aligned pieces. */
static int hmirror_segs_marks(const struct hmirror_seg *segs,
			      unsigned int nr_segs,
			      struct hmirror_mark **marksp, unsigned int *nrp)
{
	struct hmirror_mark *marks;
	unsigned int i, n = 0, max = 0;
	unsigned long s, e, next;

	for (i = 0; i < nr_segs; i++)
		max += ((ALIGN(segs[i].end, HMIRROR_CHUNK_SIZE) -
			 ALIGN_DOWN(segs[i].start, HMIRROR_CHUNK_SIZE)) >>
			HMIRROR_CHUNK_SHIFT);
	*marksp = NULL;
	*nrp = 0;
	if (!max)
		return 0;
	marks = kvcalloc(max, sizeof(*marks), HMIRROR_GFP_ARRAY);
	if (!marks)
		return -ENOMEM;

	for (i = 0; i < nr_segs; i++) {
		s = ALIGN_DOWN(segs[i].start, PAGE_SIZE);
		e = ALIGN(segs[i].end, PAGE_SIZE);
		for (; s < e; s = next) {
			next = min(ALIGN(s + 1, HMIRROR_CHUNK_SIZE), e);
			marks[n++] = (struct hmirror_mark){
				.start = s, .end = next,
				.write = segs[i].write,
				.excl = segs[i].excl,
				.mr = segs[i].mr,
			};
		}
	}
	*marksp = marks;
	*nrp = n;
	return 0;
}

static int hmirror_mark_fault(struct hmirror_ctx *ctx, struct hmirror_mark *m,
			      unsigned long *pfns)
{
	if (m->excl)
		return hmirror_mr_make_exclusive(ctx, m->mr, m->start, m->end,
						 pfns, &m->range, &m->seq);
	return hmirror_mr_fault(ctx, m->mr, m->start, m->end,
				m->write ? HMIRROR_PT_WRITE : 0, pfns,
				&m->range, &m->seq);
}

/*
 * Fault every mark in, exclusive pages last: faulting another operand on
 * the same page would restore the CPU's PTE and revoke them at once.
 */
static int hmirror_marks_fault(struct hmirror_ctx *ctx,
			       struct hmirror_mark *marks, unsigned int n,
			       unsigned long *pfns)
{
	unsigned int i, pass;
	int ret = 0;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n && !ret; i++)
			if (marks[i].excl == pass)
				ret = hmirror_mark_fault(ctx, &marks[i], pfns);
	return ret;
}

/* Does the job have work for the device, or only a footprint to mirror? */
static bool hmirror_job_mirror_only(const struct hmirror_job *job)
{
	unsigned int i;

	for (i = 0; i < job->nr_cmds; i++)
		if (job->cmds[i].op != HMIRROR_OP_MIRROR)
			return false;
	return true;
}

/* The first mark whose chunk was invalidated since it was faulted. */
static struct hmirror_mark *__hmirror_marks_stale(struct hmirror_ctx *ctx,
						  struct hmirror_mark *marks,
						  unsigned int n)
{
	unsigned int i;

	lockdep_assert_held(&ctx->pt_lock);
	for (i = 0; i < n; i++)
		if (mmu_interval_read_retry(&marks[i].range->notifier,
					    marks[i].seq))
			return &marks[i];
	return NULL;
}

/*
 * Fault the footprint in and publish the job; ctx->lock held. Once
 * published the job belongs to the engine and may be freed at any time:
 * its fence is returned through @fence, never read from it afterwards.
 */
static int hmirror_job_publish(struct hmirror_ctx *ctx, struct hmirror_job *job,
			       u64 *fence)
{
	struct hmirror_mark *marks, *stale;
	unsigned long *pfns;
	unsigned int n;
	bool idle;
	int ret;

	lockdep_assert_held(&ctx->lock);

	ret = hmirror_segs_marks(job->segs, job->nr_segs, &marks, &n);
	if (ret)
		return ret;
	/* One scratch array for every chunk of the job. */
	pfns = kvmalloc_array(HMIRROR_CHUNK_PAGES, sizeof(*pfns), GFP_KERNEL);
	if (!pfns) {
		kvfree(marks);
		return -ENOMEM;
	}
	ret = hmirror_marks_fault(ctx, marks, n, pfns);

	while (!ret) {
		spin_lock(&ctx->pt_lock);
		stale = __hmirror_marks_stale(ctx, marks, n);
		if (!stale) {
			if (ctx->state != HMIRROR_CTX_ALIVE) {
				ret = -EIO;
			} else {
				job->ctx = ctx;
				job->fence = ++ctx->submitted;
				/* A hold in place now counts as a later one. */
				job->hold_gen = ctx->hold_gen - !!ctx->mrs_held;
				*fence = job->fence;
				idle = list_empty(&ctx->jobs);
				list_add_tail(&job->link, &ctx->jobs);
				ctx->stats.jobs_submitted++;
				trace_hmirror_submit(ctx->hdev->index, ctx->id,
						     job->fence, job->nr_cmds,
						     job->nr_segs);
				/*
				 * Mirroring is all there was to do: with no
				 * older job to finish first, the fence
				 * signals now, without a trip to the device.
				 */
				if (idle && hmirror_job_mirror_only(job))
					hmirror_job_complete(job, 0);
				else
					ctx->hdev->ops->kick(ctx->hdev, ctx);
			}
			spin_unlock(&ctx->pt_lock);
			break;
		}
		ctx->stats.fault_retries++;
		spin_unlock(&ctx->pt_lock);
		/* Another thread may invalidate the chunk for ever. */
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
		ret = hmirror_mark_fault(ctx, stale, pfns);
	}
	kvfree(pfns);
	kvfree(marks);
	return ret;
}

/* MIGRATE commands need device memory and a mapped range. */
static int hmirror_job_check_migrate(struct hmirror_ctx *ctx,
				     const struct hmirror_job *job)
{
	const struct hmirror_cmd *c;
	struct vm_area_struct *vma;
	unsigned long addr, end;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < job->nr_cmds && !ret; i++) {
		c = &job->cmds[i];
		if (c->op != HMIRROR_OP_MIGRATE)
			continue;
		if (!ctx->hdev->devmem)
			return -EOPNOTSUPP;
		mmap_read_lock(ctx->mm);
		for (addr = c->src, end = c->src + c->len; addr < end;
		     addr = vma->vm_end) {
			vma = vma_lookup(ctx->mm, addr);
			if (!vma) {
				ret = -EFAULT;
				break;
			}
		}
		mmap_read_unlock(ctx->mm);
	}
	return ret;
}

/**
 * hmirror_job_submit() - HMIRROR_IOC_SUBMIT
 * @ctx: context, used from its own mm
 * @sub: the request, copied from user space; @sub->fence is set on success
 *
 * Return: 0 or a negative errno; on error no command of the job runs.
 */
int hmirror_job_submit(struct hmirror_ctx *ctx, struct hmirror_submit *sub)
{
	struct hmirror_job *job;
	u64 fence = 0;
	int ret;

	if (sub->flags || sub->pad || sub->reserved)
		return -EINVAL;
	if (sub->cmd_size && sub->cmd_size != HMIRROR_CMD_SIZE_V1 &&
	    sub->cmd_size != sizeof(struct hmirror_cmd))
		return -EINVAL;
	if (!sub->nr_cmds || sub->nr_cmds > HMIRROR_MAX_CMDS)
		return -EINVAL;

	job = hmirror_job_create(ctx, sub);
	if (IS_ERR(job))
		return PTR_ERR(job);

	mutex_lock(&ctx->lock);
	if (READ_ONCE(ctx->state) != HMIRROR_CTX_ALIVE)
		ret = -EIO;
	else if (ctx->submitted - READ_ONCE(ctx->completed) >=
		 HMIRROR_MAX_JOBS_INFLIGHT)
		ret = -EAGAIN;
	else
		ret = hmirror_job_resolve(ctx, job) ?:
		      hmirror_job_check(job) ?:
		      hmirror_job_check_migrate(ctx, job) ?:
		      hmirror_job_publish(ctx, job, &fence);
	mutex_unlock(&ctx->lock);

	if (ret) {
		hmirror_job_discard(job);
		return ret;
	}
	sub->fence = fence;
	return 0;
}
ALLOW_ERROR_INJECTION(hmirror_job_submit, ERRNO);

/**
 * hmirror_job_complete() - end a job and free it
 * @job: the context's oldest job
 * @status: 0 or the job's negative errno
 */
void hmirror_job_complete(struct hmirror_job *job, int status)
{
	struct hmirror_ctx *ctx = job->ctx;
	unsigned int slot = job->fence % HMIRROR_STATUS_RING;

	lockdep_assert_held(&ctx->pt_lock);

	trace_hmirror_job_done(ctx->hdev->index, ctx->id, job->fence, status);
	list_del(&job->link);
	ctx->status[slot] = status;
	ctx->status_fence[slot] = job->fence;
	WRITE_ONCE(ctx->completed, job->fence);
	if (!status)
		ctx->stats.jobs_completed++;
	else if (status == -ECANCELED)
		ctx->stats.jobs_cancelled++;
	else
		ctx->stats.jobs_failed++;
	wake_up_all(&ctx->wq);
	if (ctx->eventfd)
		eventfd_signal(ctx->eventfd);
	__hmirror_job_put_mrs(job);
	hmirror_job_free(job);
}

/**
 * hmirror_job_revoked() - does the job name a revoked pinned region?
 * @job: a published job, its context's pt_lock held
 *
 * Cheap unless a region of the context was revoked since the job last
 * looked.
 *
 * Return: true if the job must fail with -ECANCELED.
 */
bool hmirror_job_revoked(struct hmirror_job *job)
{
	struct hmirror_ctx *ctx = job->ctx;
	unsigned int i;

	lockdep_assert_held(&ctx->pt_lock);
	if (!job->opmr || job->revoke_gen == ctx->revoke_gen)
		return false;
	for (i = 0; i < 2 * job->nr_cmds; i++)
		if (job->opmr[i] && job->opmr[i]->revoked)
			return true;
	job->revoke_gen = ctx->revoke_gen;
	return false;
}

/**
 * hmirror_job_held() - does the job name a pinned region that is held?
 * @job: a published job, its context's pt_lock held
 *
 * A region is held between a zap of its mapping and the answer of the
 * check that follows (see hmirror_mr.c): its pages may be the process's
 * no longer. Cheap unless some region of the context is held.
 *
 * Return: true if the job must not touch memory now.
 */
bool hmirror_job_held(struct hmirror_job *job)
{
	unsigned int i;

	lockdep_assert_held(&job->ctx->pt_lock);
	if (!job->opmr || !job->ctx->mrs_held)
		return false;
	for (i = 0; i < 2 * job->nr_cmds; i++)
		if (job->opmr[i] && job->opmr[i]->held)
			return true;
	return false;
}

/**
 * hmirror_job_was_held() - was a region of the job's context held since?
 * @job: a published job, its context's pt_lock held
 *
 * A NONE-class job the device failed in a held region's window may be
 * found only after the check released the hold: it must still read as
 * cancelled, not as a lost translation.
 *
 * Return: true if the job names a region and some region of the context
 * was held at any time since the job was published.
 */
bool hmirror_job_was_held(struct hmirror_job *job)
{
	lockdep_assert_held(&job->ctx->pt_lock);
	return job->opmr && job->hold_gen != job->ctx->hold_gen;
}

/* End every job of the context with @status, oldest first; pt_lock held. */
static void __hmirror_jobs_fail(struct hmirror_ctx *ctx, int status)
{
	struct hmirror_job *job;

	lockdep_assert_held(&ctx->pt_lock);
	while ((job = list_first_entry_or_null(&ctx->jobs, struct hmirror_job,
					       link)))
		hmirror_job_complete(job, status);
}

/**
 * hmirror_jobs_cancel() - end every job of a context with -ECANCELED
 * @ctx: context, pt_lock held; the engine must not be running its jobs
 */
void hmirror_jobs_cancel(struct hmirror_ctx *ctx)
{
	__hmirror_jobs_fail(ctx, -ECANCELED);
}

/**
 * hmirror_jobs_overlap() - do jobs of the context use [start, end)?
 * @ctx: context, pt_lock held
 * @start: start of the range
 * @end: end of the range
 * @newest: out: the newest overlapping job's fence
 *
 * Return: true if some job not yet completed has a footprint overlapping
 * the range.
 */
bool hmirror_jobs_overlap(struct hmirror_ctx *ctx, unsigned long start,
			  unsigned long end, u64 *newest)
{
	struct hmirror_job *job;
	unsigned int i;

	lockdep_assert_held(&ctx->pt_lock);
	/* Newest first: the first hit is the answer. */
	list_for_each_entry_reverse(job, &ctx->jobs, link) {
		for (i = 0; i < job->nr_segs; i++) {
			if (job->segs[i].start < end &&
			    job->segs[i].end > start) {
				*newest = job->fence;
				return true;
			}
		}
	}
	return false;
}

/**
 * hmirror_job_wait() - HMIRROR_IOC_WAIT
 * @ctx: context
 * @w: the request; @w->status is set when the job completed
 *
 * Return: 0 when the job completed, -ETIME, -EINVAL, -EINTR.
 */
int hmirror_job_wait(struct hmirror_ctx *ctx, struct hmirror_wait *w)
{
	unsigned int slot = w->fence % HMIRROR_STATUS_RING;
	long left;

	if (w->pad || memchr_inv(w->reserved, 0, sizeof(w->reserved)))
		return -EINVAL;
	if (!w->fence || w->fence > READ_ONCE(ctx->submitted))
		return -EINVAL;

	left = wait_event_interruptible_timeout(ctx->wq,
						READ_ONCE(ctx->completed) >=
						w->fence,
						nsecs_to_jiffies(w->timeout_ns));
	if (left < 0)
		return -EINTR;
	if (READ_ONCE(ctx->completed) < w->fence)
		return -ETIME;

	spin_lock(&ctx->pt_lock);
	w->status = ctx->status_fence[slot] == w->fence ? ctx->status[slot] :
							   -ESTALE;
	spin_unlock(&ctx->pt_lock);
	return 0;
}

/*
 * The footprint of every pending job, copied under pt_lock; ctx->lock
 * held, so no job is added meanwhile, though some may complete.
 */
static int hmirror_jobs_segs(struct hmirror_ctx *ctx, struct hmirror_seg **segsp,
			     unsigned int *nrp)
{
	struct hmirror_seg *segs;
	struct hmirror_job *job;
	unsigned int n = 0, max = 0;

	lockdep_assert_held(&ctx->lock);
	spin_lock(&ctx->pt_lock);
	list_for_each_entry(job, &ctx->jobs, link)
		max += job->nr_segs;
	spin_unlock(&ctx->pt_lock);

	segs = kvcalloc(max ?: 1, sizeof(*segs), HMIRROR_GFP_ARRAY);
	if (!segs)
		return -ENOMEM;
	spin_lock(&ctx->pt_lock);
	list_for_each_entry(job, &ctx->jobs, link) {
		if (n + job->nr_segs > max)
			break;
		memcpy(segs + n, job->segs, job->nr_segs * sizeof(*segs));
		n += job->nr_segs;
	}
	spin_unlock(&ctx->pt_lock);
	*segsp = segs;
	*nrp = n;
	return 0;
}

/*
 * A MIGRATE command of the context's oldest job, run by its worker; the
 * job is parked meanwhile, so the engine runs nothing of the context.
 *
 * A NONE-class context keeps its translations from submit to completion,
 * and invalidations wait for its jobs. A job parked at MIGRATE cannot be
 * waited for: the worker serving it needs mmap_lock and causes
 * invalidations of its own (THP splits as well as the migration). So from
 * the moment the engine parks it (ctx->migrating, set under pt_lock) until
 * it goes on, every invalidation of the context zaps without waiting, and
 * the footprints of all its pending jobs are faulted in again afterwards,
 * at the pages' new places, before the job goes on. If that fails (the
 * memory went away meanwhile), all of them fail: none has its
 * translations any more.
 */
static int hmirror_job_migrate(struct hmirror_ctx *ctx,
			       const struct hmirror_cmd *c, u64 *moved,
			       struct hmirror_mark **marksp, unsigned int *nrp,
			       unsigned long *pfns)
{
	struct hmirror_seg *segs;
	unsigned int n;
	u64 failed;
	int ret;

	lockdep_assert_held(&ctx->lock);
	if (!mmget_not_zero(ctx->mm))
		return -EFAULT;
	ret = hmirror_migrate_range(ctx, c->src, c->src + c->len,
				    c->value == HMIRROR_MIGRATE_TO_DEVICE, 0,
				    NULL, moved, &failed);
	if (ret || ctx->preempt != HMIRROR_PREEMPT_NONE)
		goto out;

	ret = hmirror_jobs_segs(ctx, &segs, &n);
	if (ret)
		goto out;
	ret = hmirror_segs_marks(segs, n, marksp, nrp);
	kvfree(segs);
	if (!ret)
		ret = hmirror_marks_fault(ctx, *marksp, *nrp, pfns);
out:
	mmput(ctx->mm);
	return ret;
}

/*
 * Back from the worker: the job goes on, or fails with @ret. The marks
 * of a NONE-class MIGRATE must all still hold under pt_lock first.
 */
static int hmirror_job_fault_done(struct hmirror_ctx *ctx, u64 fence, int ret,
				  bool migrate, u64 moved,
				  struct hmirror_mark *marks, unsigned int n,
				  unsigned long *pfns)
{
	struct hmirror_mark *stale;
	struct hmirror_job *job;

	for (;;) {
		spin_lock(&ctx->pt_lock);
		stale = ret ? NULL : __hmirror_marks_stale(ctx, marks, n);
		if (!stale)
			break;
		ctx->stats.fault_retries++;
		spin_unlock(&ctx->pt_lock);
		cond_resched();
		if (!mmget_not_zero(ctx->mm)) {
			ret = -EFAULT;
			continue;
		}
		ret = hmirror_mark_fault(ctx, stale, pfns);
		mmput(ctx->mm);
	}

	if (migrate)
		ctx->migrating = false;
	job = list_first_entry_or_null(&ctx->jobs, struct hmirror_job, link);
	if (ctx->state == HMIRROR_CTX_ALIVE && job && job->fence == fence) {
		if (ret && migrate && ctx->preempt == HMIRROR_PREEMPT_NONE) {
			/* None has its translations: all fail, in order. */
			__hmirror_jobs_fail(ctx, ret);
		} else if (ret) {
			hmirror_job_complete(job, ret);
		} else {
			if (migrate) {
				job->done = 1;
				job->result = moved;
			}
			job->parked = false;
		}
		ctx->hdev->ops->kick(ctx->hdev, ctx);
	}
	spin_unlock(&ctx->pt_lock);
	return ret;
}

/**
 * hmirror_job_park() - leave a job to its context's worker
 * @job: the context's oldest job, stopped at command job->cur
 * @addr: the address it needs mapped (or the MIGRATE command's source)
 * @end: end of the operand @addr is in: the worker maps the rest of it,
 *	 up to the chunk's end, in one go
 * @write: ...for writing
 * @excl: ...device-exclusive
 *
 * A page to fault, or a MIGRATE command to run: either sleeps, which a
 * device engine cannot. The worker unparks the job and kicks the backend.
 */
void hmirror_job_park(struct hmirror_job *job, unsigned long addr,
		      unsigned long end, bool write, bool excl)
{
	lockdep_assert_held(&job->ctx->pt_lock);
	job->parked = true;
	job->fault_addr = addr;
	job->fault_end = end;
	job->fault_write = write;
	job->fault_excl = excl;
	queue_work(hmirror_wq, &job->ctx->fault_work);
}

/**
 * hmirror_job_park_migrate() - leave a MIGRATE command to the worker
 * @job: the context's oldest job, stopped at the MIGRATE command job->cur
 *
 * From now on invalidations need not wait for the context's jobs: none
 * runs until the worker is done (see hmirror_job_migrate()).
 */
void hmirror_job_park_migrate(struct hmirror_job *job)
{
	const struct hmirror_cmd *c = &job->cmds[job->cur];

	lockdep_assert_held(&job->ctx->pt_lock);
	job->ctx->migrating = true;
	hmirror_job_park(job, c->src, c->src + c->len, false, false);
}

/**
 * hmirror_job_fault_work() - the worker of a context's parked job
 * @work: ctx->fault_work
 *
 * Refaults the page a parked PAGE-class job needs, or runs the MIGRATE
 * command a job is parked at.
 *
 * Runs in a worker, on behalf of a context whose owner may be anywhere: it
 * pins the mm for the fault and gives up (the job fails with -EFAULT) if
 * the mm is gone.
 */
void hmirror_job_fault_work(struct work_struct *work)
{
	struct hmirror_ctx *ctx = container_of(work, struct hmirror_ctx,
					       fault_work);
	struct hmirror_mark *marks = NULL;
	unsigned long addr, end, seq;
	struct hmirror_range *r;
	struct hmirror_job *job;
	struct hmirror_cmd c;
	struct hmirror_mr *mr;
	unsigned int nr_marks = 0;
	bool write, excl, migrate;
	u64 fence, moved = 0;
	int ret;

	mutex_lock(&ctx->lock);
	spin_lock(&ctx->pt_lock);
	job = list_first_entry_or_null(&ctx->jobs, struct hmirror_job, link);
	if (ctx->state != HMIRROR_CTX_ALIVE || !job || !job->parked) {
		/* Its job is gone: nothing parked at MIGRATE any more. */
		ctx->migrating = false;
		spin_unlock(&ctx->pt_lock);
		goto out;
	}
	/* Parked on a held region: the region's check resumes it. */
	if (job->held) {
		spin_unlock(&ctx->pt_lock);
		goto out;
	}
	/* A copy: a reset may cancel and free the job meanwhile. */
	c = job->cmds[job->cur];
	migrate = c.op == HMIRROR_OP_MIGRATE && !job->done;
	/* The rest of the operand in this chunk, in one hmm_range_fault(). */
	addr = job->fault_addr & PAGE_MASK;
	end = min(ALIGN(job->fault_end, PAGE_SIZE),
		  ALIGN(addr + 1, HMIRROR_CHUNK_SIZE));
	write = job->fault_write;
	excl = job->fault_excl;
	/* The engine writes dst operands only, and reads src ones. */
	mr = hmirror_opnd_mr(job, job->cur, write);
	fence = job->fence;
	spin_unlock(&ctx->pt_lock);

	if (!ctx->fault_pfns)
		ctx->fault_pfns = kvmalloc_array(HMIRROR_CHUNK_PAGES,
						 sizeof(unsigned long),
						 GFP_KERNEL);
	if (!ctx->fault_pfns) {
		ret = -ENOMEM;
	} else if (migrate) {
		ret = hmirror_job_migrate(ctx, &c, &moved, &marks, &nr_marks,
					  ctx->fault_pfns);
	} else if (mmget_not_zero(ctx->mm)) {
		if (excl)
			ret = hmirror_mr_make_exclusive(ctx, mr, addr, end,
							ctx->fault_pfns, &r,
							&seq);
		else
			ret = hmirror_mr_fault(ctx, mr, addr, end,
					       write ? HMIRROR_PT_WRITE : 0,
					       ctx->fault_pfns, &r, &seq);
		mmput(ctx->mm);
	} else {
		ret = -EFAULT;
	}
	hmirror_job_fault_done(ctx, fence, ret, migrate, moved, marks,
			       nr_marks, ctx->fault_pfns);
	kvfree(marks);
out:
	mutex_unlock(&ctx->lock);
}
