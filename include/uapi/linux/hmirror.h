/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hmirror: coherent address-space mirroring for devices.
 *
 * This header is the only contract between the hmirror kernel module and
 * user space. Every structure has explicit padding; reserved fields and
 * unknown flags must be zero, and the kernel rejects anything else with
 * -EINVAL, changing nothing, so that they can be given a meaning later.
 *
 * A context is an open file of /dev/hmirror<N>. It is bound to the mm of
 * the process that opened it: any ioctl from another mm fails with -EACCES.
 * Work is submitted as jobs: short lists of commands naming user virtual
 * addresses of that mm. Each job gets a 64-bit fence (seqno); jobs of one
 * context complete in submission order.
 *
 * poll() on a context reports EPOLLIN while no job is in flight, and
 * EPOLLERR once the context is dead: reset after holding an invalidation
 * past its deadline. A dead context answers every ioctl but STATS with
 * -EIO.
 */
#ifndef _UAPI_LINUX_HMIRROR_H
#define _UAPI_LINUX_HMIRROR_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped on every incompatible change of this header. */
#define HMIRROR_ABI_VERSION	1

/* Character devices are /dev/hmirror<N>, N < hmirror_info.nr_devices. */
#define HMIRROR_DEV_PREFIX	"hmirror"

/**
 * struct hmirror_info - what HMIRROR_IOC_GET_INFO reports
 * @abi_version: HMIRROR_ABI_VERSION of the running module
 * @device_index: N of the /dev/hmirror<N> the file was opened on
 * @nr_devices: number of device instances the module created
 * @pad: must be zero
 * @backend: name of the device backend driving this instance ("sw", "pci")
 * @max_cmds: most commands one job may carry
 * @max_contexts: most contexts open on the instance at once (0: no limit
 *		  but memory; a device with hardware context slots has that
 *		  many, and opening one more fails with EBUSY); must be zero
 *		  on input
 * @max_job_bytes: largest footprint (sum of command lengths) of one job
 * @vram_bytes: device memory of this instance (0: none on this kernel)
 * @vram_kind: HMIRROR_VRAM_* of that memory; must be zero on input
 * @reserved: must be zero on input; zero on output
 */
struct hmirror_info {
	__u32 abi_version;
	__u32 device_index;
	__u32 nr_devices;
	__u32 pad;
	char backend[16];
	__u32 max_cmds;
	__u32 max_contexts;
	__u64 max_job_bytes;
	__u64 vram_bytes;
	__u32 vram_kind;
	__u32 reserved;
};

/*
 * Kinds of device memory (hmirror_info.vram_kind, hmirror_stats.
 * dev_vram_kind). Kernels before the field existed report 0: theirs is
 * device-private.
 *
 * HMIRROR_VRAM_PRIVATE: the CPU cannot map it; a CPU access migrates the
 * page to system memory.
 * HMIRROR_VRAM_COHERENT: the CPU maps it and accesses it in place; pages
 * stay on the device until migrated or evicted.
 */
#define HMIRROR_VRAM_PRIVATE	0
#define HMIRROR_VRAM_COHERENT	1

/*
 * Preemption classes, chosen per context before its first job.
 *
 * PAGE: the engine looks the device PTE up at every page step; a missing
 * PTE parks the job until the kernel refaults the page. An invalidation
 * never waits for a job, only for the page step in progress (an ODP NIC).
 *
 * NONE: the job's translations are fixed when it is submitted and used
 * until it ends; an invalidation overlapping a running job must wait for
 * it, up to the context's deadline (a GPU without recoverable faults).
 */
#define HMIRROR_PREEMPT_PAGE	0
#define HMIRROR_PREEMPT_NONE	1

/* What happens to a context that holds an invalidation past its deadline. */
#define HMIRROR_POLICY_KILL	0	/* reset, mark dead, SIGKILL the owner */
#define HMIRROR_POLICY_REVOKE	1	/* reset, mark dead, nobody signalled */

/* Bounds of hmirror_ctx_config.deadline_ms. */
#define HMIRROR_DEADLINE_MIN_MS	1
#define HMIRROR_DEADLINE_MAX_MS	60000

/* hmirror_ctx_config.set: which fields the call changes. */
#define HMIRROR_CFG_PREEMPT	(1U << 0)
#define HMIRROR_CFG_DEADLINE	(1U << 1)
#define HMIRROR_CFG_POLICY	(1U << 2)
#define HMIRROR_CFG_EVENTFD	(1U << 3)
#define HMIRROR_CFG_ALL		(HMIRROR_CFG_PREEMPT | HMIRROR_CFG_DEADLINE | \
				 HMIRROR_CFG_POLICY | HMIRROR_CFG_EVENTFD)

/**
 * struct hmirror_ctx_config - HMIRROR_IOC_CONFIG: read and change a context
 * @set: HMIRROR_CFG_* bits of the fields to change; 0 only reads
 * @preempt: HMIRROR_PREEMPT_*; can change only before the first job
 *	     (-EBUSY after)
 * @deadline_ms: how long an invalidation waits for this context's jobs
 *		 before escalating, HMIRROR_DEADLINE_MIN_MS..MAX_MS
 * @policy: HMIRROR_POLICY_*
 * @eventfd: eventfd signalled on every job completion; -1 for none
 * @reserved: must be zero
 *
 * On return every field holds the context's current value. A call that
 * fails changes nothing.
 */
struct hmirror_ctx_config {
	__u32 set;
	__u32 preempt;
	__u32 deadline_ms;
	__u32 policy;
	__s32 eventfd;
	__u32 pad;
	__u64 reserved[2];
};

/* Command opcodes. */
enum hmirror_op {
	HMIRROR_OP_COPY = 1,		/* dst[0..len) = src[0..len) */
	HMIRROR_OP_FILL,		/* dst[0..len) = (u8)value */
	HMIRROR_OP_CRC32C,		/* *(u32 *)dst = crc32c(value, src, len) */
	HMIRROR_OP_ATOMIC_ADD,		/* *(u64 *)dst += value */
	HMIRROR_OP_WRITE_VALUE,		/* *(u64 *)dst = value */
	HMIRROR_OP_WAIT_VALUE,		/* wait until *(u64 *)src == value */
	HMIRROR_OP_DELAY,		/* the job takes aux us more */
	HMIRROR_OP_MIRROR,		/* mirror src[0..len): fault only */
	HMIRROR_OP_MIGRATE,		/* move src[0..len) to target value */
	HMIRROR_OP_MAX,
};

/*
 * Most microseconds one DELAY command may take. A delayed job keeps its
 * place (and its pages, for NONE class) but not the engine: other jobs run.
 */
#define HMIRROR_DELAY_MAX_US	1000000
/* Longest WAIT_VALUE timeout, microseconds. */
#define HMIRROR_WAIT_TIMEOUT_MAX_US	0xffffffffULL

/*
 * hmirror_cmd.flags.
 *
 * EXCLUSIVE (ATOMIC_ADD and WRITE_VALUE only): the device takes exclusive
 * access to the page of @dst before the command runs, as a device does
 * for atomics that the CPU must not interleave with: the CPU's page table
 * maps the page device-exclusive (make_device_exclusive()) and any CPU
 * access to it, read or write, faults, restores the CPU's mapping and
 * revokes the device's access. The page must be private anonymous memory
 * (-EOPNOTSUPP otherwise). A page already in the device's own memory is
 * exclusive to it anyway and is used in place. A PAGE-class job whose
 * page lost its exclusivity before the command ran takes it again.
 */
#define HMIRROR_CMD_F_EXCLUSIVE	(1U << 0)

/**
 * struct hmirror_cmd - one command of a job
 * @op: enum hmirror_op
 * @flags: HMIRROR_CMD_F_* allowed for @op; zero otherwise
 * @dst: destination user address (COPY, FILL, CRC32C result, ATOMIC_ADD,
 *	 WRITE_VALUE); 8-byte aligned for 64-bit operands, 4 for CRC32C;
 *	 MIGRATE: 0, or an 8-byte aligned u64 that receives the number of
 *	 pages moved
 * @src: source user address (COPY, CRC32C, WAIT_VALUE, MIRROR, MIGRATE;
 *	 8-byte aligned for WAIT_VALUE, page-aligned for MIGRATE)
 * @len: bytes (COPY, FILL, CRC32C, MIRROR, MIGRATE), at least 1, a
 *	 multiple of the page size for MIGRATE; zero for the others
 * @value: fill byte, CRC seed, addend, value to write or wait for;
 *	   MIRROR: 1 to mirror for writing, 0 for reading; MIGRATE: the
 *	   target, HMIRROR_MIGRATE_TO_SYSTEM or HMIRROR_MIGRATE_TO_DEVICE
 * @aux: DELAY: microseconds, 1..HMIRROR_DELAY_MAX_US; WAIT_VALUE: timeout
 *	 in microseconds, at most HMIRROR_WAIT_TIMEOUT_MAX_US, after which
 *	 the job fails with -ETIME (0: no timeout); zero otherwise
 * @dst_key: with HMIRROR_CMD_F_DST_KEY, the region @dst is an offset into
 * @src_key: with HMIRROR_CMD_F_SRC_KEY, the region @src is an offset into
 *
 * Fields a command does not use must be zero.
 *
 * MIGRATE moves memory as HMIRROR_IOC_MIGRATE does, in job order: the
 * job's later commands see the pages at their new place. It is not part
 * of the footprint faulted at submit (moving pages just faulted in would
 * be wasted work), but its range must be mapped then. Pages that cannot
 * move stay where they are and the command still succeeds: the count at
 * @dst and the context's STATS tell how many moved.
 */
struct hmirror_cmd {
	__u32 op;
	__u32 flags;
	__u64 dst;
	__u64 src;
	__u64 len;
	__u64 value;
	__u64 aux;
	__u32 dst_key;
	__u32 src_key;
};

/*
 * hmirror_cmd.flags: the operand names memory as an offset into the
 * memory region dst_key / src_key (HMIRROR_IOC_MR_REG) instead of by
 * address, and is checked against the region's bounds and access flags.
 */
#define HMIRROR_CMD_F_DST_KEY	(1U << 8)
#define HMIRROR_CMD_F_SRC_KEY	(1U << 9)
#define HMIRROR_CMD_F_ALL	(HMIRROR_CMD_F_EXCLUSIVE | \
				 HMIRROR_CMD_F_DST_KEY | HMIRROR_CMD_F_SRC_KEY)

/**
 * struct hmirror_submit - HMIRROR_IOC_SUBMIT: validate, fault in, queue
 * @cmds: user pointer to an array of struct hmirror_cmd
 * @nr_cmds: entries in @cmds, 1..hmirror_info.max_cmds
 * @flags: must be zero
 * @fence: out: the job's fence
 * @cmd_size: sizeof(struct hmirror_cmd) as the caller knows it: the stride
 *	      of @cmds. 0 means HMIRROR_CMD_SIZE_V1 (programs built before
 *	      the structure grew); anything else the kernel does not know is
 *	      -EINVAL
 * @pad: must be zero
 * @reserved: must be zero
 *
 * Every command is checked before anything runs, and the job's whole
 * footprint is faulted in (for writing where a command writes). Memory that
 * is not mapped, or not with the access a command needs, fails the submit
 * with -EFAULT, and no command of the job runs.
 *
 * Errors: -EINVAL (a bad command or field), -EFAULT, -E2BIG (footprint
 * over hmirror_info.max_job_bytes), -EAGAIN (1024 jobs already in flight),
 * -EIO (the context is dead), -EINTR (fatal signal while faulting),
 * -ENOSPC (the context already mirrors 512 GiB worth of 2 MiB chunks),
 * -EOPNOTSUPP (an EXCLUSIVE command on memory that is not private
 * anonymous), -EBUSY (an EXCLUSIVE page could not be taken: kernels
 * before 6.15 refuse pages of large folios; or the memory kept changing
 * under the fault for a second: try again), -EXDEV (see
 * HMIRROR_MR_F_NO_MIGRATE).
 */
struct hmirror_submit {
	__u64 cmds;
	__u32 nr_cmds;
	__u32 flags;
	__u64 fence;
	__u32 cmd_size;
	__u32 pad;
	__u64 reserved;
};

/* Size of the first struct hmirror_cmd, without the region keys. */
#define HMIRROR_CMD_SIZE_V1	48

/**
 * struct hmirror_wait - HMIRROR_IOC_WAIT: wait for a fence
 * @fence: fence from HMIRROR_IOC_SUBMIT
 * @timeout_ns: how long to wait; 0 only polls
 * @status: out: 0 if the job succeeded, else its negative errno
 *	    (-ECANCELED: the context was reset; -ETIME: a WAIT_VALUE timed
 *	    out; -EFAULT: the memory went away under a job; -EBUSY: the
 *	    memory kept changing under a PAGE-class job's refault for a
 *	    second; -EXDEV: see HMIRROR_MR_F_NO_MIGRATE; -EIO: an injected
 *	    copy error; -ESTALE: the job completed too long ago for its
 *	    status to be kept)
 * @pad: must be zero
 * @reserved: must be zero
 *
 * Return: 0 once the job completed (its outcome in @status), -ETIME if it
 * did not within @timeout_ns, -EINVAL for a fence never handed out,
 * -EINTR on a signal, -EIO once the context is dead (a WAIT already
 * sleeping when the context is reset returns 0 with -ECANCELED).
 */
struct hmirror_wait {
	__u64 fence;
	__u64 timeout_ns;
	__s32 status;
	__u32 pad;
	__u64 reserved[2];
};

/* Upper bounds (in microseconds) of the invalidation wait histogram. */
#define HMIRROR_WAIT_BUCKETS	8
#define HMIRROR_WAIT_BUCKET_US	{ 10, 100, 1000, 10000, 100000, 1000000, \
				  10000000, ~0U }

/**
 * struct hmirror_stats - HMIRROR_IOC_STATS: the context's counters
 * @size: in: sizeof(struct hmirror_stats) as the caller knows it; out:
 *	  bytes the kernel filled. Lets the struct grow at its end.
 * @pad: must be zero
 * @faults: hmm_range_fault() calls
 * @pages_faulted: pages mirrored by them
 * @fault_retries: faults redone because an invalidation raced them
 * @inval_blockable: invalidations that could sleep
 * @inval_nonblock: invalidations that could not
 * @inval_refused: non-blockable invalidations refused (returned false)
 * @inval_waits: invalidations that waited for a NONE-class job
 * @wait_hist: those waits by duration, see HMIRROR_WAIT_BUCKET_US
 * @escalations: times this context was reset for holding up an invalidation
 * @jobs_submitted: jobs accepted
 * @jobs_completed: jobs that ended successfully
 * @jobs_failed: jobs that ended with an error other than -ECANCELED
 * @jobs_cancelled: jobs ended with -ECANCELED
 * @jobs_parked: times a PAGE-class job parked on a missing PTE
 * @ptes: device PTEs valid now (huge entries count as 512)
 * @ranges: mirror ranges (notifiers) now
 * @pt_bytes: memory used by the device page table now
 * @migrated_to_dev: pages this context's MIGRATE calls moved to the device
 * @migrated_to_sys: pages this context's MIGRATE calls moved to system memory
 * @migrate_failed: pages this context's MIGRATE calls left where they were
 * @dev_vram_pages: device memory of the instance, in pages
 * @dev_resident: pages resident in the instance's device memory now
 * @dev_migrated_in: pages the instance took in, whoever asked
 * @dev_migrated_out: pages the instance gave back (CPU faults, MIGRATE to
 *	system, eviction, other devices)
 * @dev_cpu_faults: CPU faults on the instance's pages
 * @dev_evicted: pages evicted to make room or at module unload
 * @dev_vram_kind: HMIRROR_VRAM_* of the instance's device memory
 * @excl_taken: times this context took device-exclusive access to a page
 * @excl_revoked: device-exclusive PTEs of this context taken away (the
 *	CPU touched the page, or any other invalidation)
 * @mrs: memory regions registered on this context
 * @mr_revoked: pinned regions of this context revoked by a mapping change
 * @advices: HMIRROR_IOC_MR_ADVISE calls carried out (synchronous, or
 *	asynchronous and done)
 * @advices_failed: ...of which ended with an error
 * @pt_hits: pieces of a job's footprint (or a prefetch) found mirrored
 *	already, with the access needed: no hmm_range_fault() call
 *
 * The structure grows at the end: user space sets @size to the size it
 * knows and gets that much back, and the ioctl number's size bits are not
 * checked, so old binaries keep working.
 */
struct hmirror_stats {
	__u32 size;
	__u32 pad;
	__u64 faults;
	__u64 pages_faulted;
	__u64 fault_retries;
	__u64 inval_blockable;
	__u64 inval_nonblock;
	__u64 inval_refused;
	__u64 inval_waits;
	__u64 wait_hist[HMIRROR_WAIT_BUCKETS];
	__u64 escalations;
	__u64 jobs_submitted;
	__u64 jobs_completed;
	__u64 jobs_failed;
	__u64 jobs_cancelled;
	__u64 jobs_parked;
	__u64 ptes;
	__u64 ranges;
	__u64 pt_bytes;
	__u64 migrated_to_dev;
	__u64 migrated_to_sys;
	__u64 migrate_failed;
	__u64 dev_vram_pages;
	__u64 dev_resident;
	__u64 dev_migrated_in;
	__u64 dev_migrated_out;
	__u64 dev_cpu_faults;
	__u64 dev_evicted;
	__u64 dev_vram_kind;
	__u64 excl_taken;
	__u64 excl_revoked;
	__u64 mrs;
	__u64 mr_revoked;
	__u64 advices;
	__u64 advices_failed;
	__u64 pt_hits;
};

/* HMIRROR_IOC_MIGRATE targets. */
#define HMIRROR_MIGRATE_TO_SYSTEM	0
#define HMIRROR_MIGRATE_TO_DEVICE	1	/* this context's device */

/**
 * struct hmirror_migrate - HMIRROR_IOC_MIGRATE: move pages of a range
 * @addr: page-aligned start of the range, in the caller's address space
 * @len: page-aligned length, at most hmirror_info.max_job_bytes
 * @target: HMIRROR_MIGRATE_TO_*
 * @flags: must be zero
 * @status: 0, or a user pointer to one __s32 per page of the range, set
 *	    to 0 for a page now at the target (moved, or already there) or
 *	    to the negative errno saying why it stayed: -EBUSY (pinned,
 *	    shared or locked elsewhere), -ENOMEM (no memory at the target),
 *	    -EFAULT (not anonymous memory), -ENOENT (not present: nothing to
 *	    move back to system memory)
 * @moved: out: pages moved by this call
 * @failed: out: pages that stayed where they were
 * @reserved: must be zero
 *
 * Partial success is success: the call returns 0 and says page by page
 * what happened. Moving to the device of the context takes pages from
 * system memory and from the other device instances; moving to system
 * memory takes this device's pages.
 *
 * Errors: -EINVAL (a bad field), -EFAULT (some of the range is not mapped
 * at all, or @status is not writable), -EOPNOTSUPP (no device memory),
 * -EIO (the context is dead), -EINTR (fatal signal).
 */
struct hmirror_migrate {
	__u64 addr;
	__u64 len;
	__u32 target;
	__u32 flags;
	__u64 status;
	__u64 moved;
	__u64 failed;
	__u64 reserved[2];
};

/* hmirror_mr_reg.mode */
#define HMIRROR_MR_ODP		0	/* mirrored on demand */
#define HMIRROR_MR_PINNED	1	/* pinned at registration */

/* hmirror_mr_reg.access */
#define HMIRROR_ACCESS_READ	(1U << 0)
#define HMIRROR_ACCESS_WRITE	(1U << 1)
#define HMIRROR_ACCESS_ATOMIC	(1U << 2)	/* needs READ and WRITE */

/*
 * hmirror_mr_reg.flags. NO_MIGRATE (ODP only): a job naming pages of the
 * region that are in another device instance's memory fails with -EXDEV
 * instead of moving them here.
 */
#define HMIRROR_MR_F_NO_MIGRATE	(1U << 0)

/* An implicit ODP region: addr 0, this length, the whole address space. */
#define HMIRROR_MR_IMPLICIT_LEN	(~0ULL)

/**
 * struct hmirror_mr_reg - HMIRROR_IOC_MR_REG: register a memory region
 * @addr: start, any alignment; 0 for an implicit region
 * @len: bytes, at least 1; HMIRROR_MR_IMPLICIT_LEN for an implicit region
 * @mode: HMIRROR_MR_ODP or HMIRROR_MR_PINNED (-EOPNOTSUPP on an instance
 *	  whose backend has no pinned regions; both backends have them)
 * @access: HMIRROR_ACCESS_* (at least one)
 * @key: in: 0 for a key chosen by the kernel, else the key wanted
 *	 (-EEXIST if taken); out: the region's key
 * @flags: HMIRROR_MR_F_*
 * @reserved: must be zero
 *
 * An ODP region costs the same whatever its size: nothing is faulted or
 * pinned until jobs use it. A PINNED region's pages are pinned now
 * (FOLL_LONGTERM, charged to RLIMIT_MEMLOCK unless CAP_IPC_LOCK); if the
 * mapping under it changes anyway (munmap, mremap, madvise), the region is
 * revoked: its jobs fail with -ECANCELED and one HMIRROR_EVENT_MR_REVOKED
 * record can be read() from the context's file (poll: EPOLLPRI).
 * Registering fails with -EAGAIN if the mapping changed while the pages
 * were being pinned (try again).
 *
 * An ODP region's pages may live in device memory. Those in this
 * device's memory are used in place; those in another instance's memory
 * are moved here, device to device, when a job names them through the
 * region (or, with HMIRROR_MR_F_NO_MIGRATE, fail the submit with -EXDEV).
 * A pending job of a NONE-class context that overlaps them leaves them
 * where they are (moving would wait for it): they then come to system
 * memory, as memory named by address does.
 */
struct hmirror_mr_reg {
	__u64 addr;
	__u64 len;
	__u32 mode;
	__u32 access;
	__u32 key;
	__u32 flags;
	__u64 reserved[2];
};

/**
 * struct hmirror_mr_dereg - HMIRROR_IOC_MR_DEREG
 * @key: the region
 * @flags: must be zero
 * @reserved: must be zero
 *
 * -EBUSY while a job that names the region is pending.
 */
struct hmirror_mr_dereg {
	__u32 key;
	__u32 flags;
	__u64 reserved[2];
};

/* hmirror_mr_advise.advice */
#define HMIRROR_ADVISE_PREFETCH		0	/* mirror, faulting for reading */
#define HMIRROR_ADVISE_PREFETCH_WRITE	1	/* mirror, faulting for writing */
#define HMIRROR_ADVISE_PREFETCH_NO_FAULT 2	/* mirror what is present only */
#define HMIRROR_ADVISE_MIGRATE_TO_DEVICE 3	/* move to this device's memory */
#define HMIRROR_ADVISE_MIGRATE_TO_SYSTEM 4	/* move to system memory */

/* hmirror_mr_advise.flags */
#define HMIRROR_ADVISE_F_ASYNC	(1U << 0)	/* return now, event when done */

/* Most asynchronous advice a context may have queued or unread. */
#define HMIRROR_ADVISE_MAX_ASYNC	256

/**
 * struct hmirror_mr_advise - HMIRROR_IOC_MR_ADVISE: advice on an ODP region
 * @key: the region (ODP; a PINNED region is -EOPNOTSUPP)
 * @advice: HMIRROR_ADVISE_*
 * @offset: first byte, relative to the region's start
 * @len: bytes, at least 1, at most hmirror_info.max_job_bytes (-E2BIG)
 * @flags: HMIRROR_ADVISE_F_*
 * @pad: must be zero
 * @reserved: must be zero
 *
 * PREFETCH and PREFETCH_WRITE mirror the pages now, as a job's submit
 * would, so the first job using them faults nothing: memory not mapped
 * (or not writable, for PREFETCH_WRITE, which the region must allow:
 * -EACCES) is -EFAULT, and pages before it stay mirrored. PREFETCH_NO_FAULT
 * mirrors only the pages the CPU maps already, with the CPU's access,
 * and never fails for a hole. The MIGRATE hints move the pages as
 * HMIRROR_IOC_MIGRATE does (whole pages covering the range; pages that
 * cannot move stay, and that is no error), -EOPNOTSUPP without device
 * memory.
 *
 * Synchronous advice returns when done, with its outcome. With
 * HMIRROR_ADVISE_F_ASYNC the call returns 0 once the advice is queued
 * (-EAGAIN with HMIRROR_ADVISE_MAX_ASYNC queued or unread) and the
 * context's worker carries it out in order; one HMIRROR_EVENT_ADVISE_DONE
 * record then says how it went. Deregistering the region meanwhile is
 * -EBUSY.
 */
struct hmirror_mr_advise {
	__u32 key;
	__u32 advice;
	__u64 offset;
	__u64 len;
	__u32 flags;
	__u32 pad;
	__u64 reserved[2];
};

/* hmirror_event.type */
#define HMIRROR_EVENT_MR_REVOKED	1
#define HMIRROR_EVENT_ADVISE_DONE	2	/* asynchronous advice done */

/* hmirror_event.reason of HMIRROR_EVENT_MR_REVOKED */
#define HMIRROR_REVOKE_UNMAP	1	/* munmap, mremap */
#define HMIRROR_REVOKE_CLEAR	2	/* pages zapped: madvise(DONTNEED) */

/**
 * struct hmirror_event - a record read() from a context's file
 * @type: HMIRROR_EVENT_*
 * @key: the region concerned
 * @reason: MR_REVOKED: HMIRROR_REVOKE_*; ADVISE_DONE: the HMIRROR_ADVISE_*
 * @status: ADVISE_DONE: 0 or the advice's negative errno (-ECANCELED if
 *	    the context was reset first); zero otherwise
 * @pad: the name @status had before it had a meaning
 * @addr: MR_REVOKED: start of the change that caused it; ADVISE_DONE:
 *	  the advice's offset
 * @len: MR_REVOKED: its length (within the region); ADVISE_DONE: the
 *	 advice's length
 */
struct hmirror_event {
	__u32 type;
	__u32 key;
	__u32 reason;
	union {
		__s32 status;
		__u32 pad;
	};
	__u64 addr;
	__u64 len;
};

#define HMIRROR_IOC_MAGIC	0xb9

#define HMIRROR_IOC_GET_INFO	_IOWR(HMIRROR_IOC_MAGIC, 0x00, struct hmirror_info)
#define HMIRROR_IOC_CONFIG	_IOWR(HMIRROR_IOC_MAGIC, 0x01, struct hmirror_ctx_config)
#define HMIRROR_IOC_SUBMIT	_IOWR(HMIRROR_IOC_MAGIC, 0x02, struct hmirror_submit)
#define HMIRROR_IOC_WAIT	_IOWR(HMIRROR_IOC_MAGIC, 0x03, struct hmirror_wait)
#define HMIRROR_IOC_STATS	_IOWR(HMIRROR_IOC_MAGIC, 0x04, struct hmirror_stats)
#define HMIRROR_IOC_MIGRATE	_IOWR(HMIRROR_IOC_MAGIC, 0x05, struct hmirror_migrate)
#define HMIRROR_IOC_MR_REG	_IOWR(HMIRROR_IOC_MAGIC, 0x06, struct hmirror_mr_reg)
#define HMIRROR_IOC_MR_DEREG	_IOW(HMIRROR_IOC_MAGIC, 0x07, struct hmirror_mr_dereg)
#define HMIRROR_IOC_MR_ADVISE	_IOW(HMIRROR_IOC_MAGIC, 0x08, struct hmirror_mr_advise)

#endif /* _UAPI_LINUX_HMIRROR_H */
