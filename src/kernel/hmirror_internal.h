/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmirror internal interfaces shared between the files of the module.
 */
#ifndef _HMIRROR_INTERNAL_H
#define _HMIRROR_INTERNAL_H

#include <linux/atomic.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/list.h>
#include <linux/memremap.h>
#include <linux/mm_types.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <linux/hmirror.h>

#include "hmirror_compat.h"
#include "hmirror_kapi.h"

struct dentry;
struct eventfd_ctx;
struct vm_fault;
struct hmirror_ctx;
struct hmirror_device;
struct hmirror_copy;
struct hmirror_mr;
struct seq_file;
struct hmirror_job;
struct hmirror_range;

/* A mirror range covers one naturally aligned chunk of this size. */
#define HMIRROR_CHUNK_SHIFT	PMD_SHIFT
#define HMIRROR_CHUNK_SIZE	BIT(HMIRROR_CHUNK_SHIFT)
#define HMIRROR_CHUNK_PAGES	(HMIRROR_CHUNK_SIZE >> PAGE_SHIFT)

#define HMIRROR_MAX_CMDS	64
#define HMIRROR_MAX_RANGES	BIT(18)	/* per context: 512 GiB */
#define HMIRROR_MAX_JOB_BYTES	(4ULL << 30)
/*
 * Idle ranges are freed this long after the unmap that emptied them: one
 * pass after the whole munmap, not a worker racing its callbacks.
 */
#define HMIRROR_RECLAIM_DELAY	msecs_to_jiffies(20)
/* ctx->ranges mark: an invalidation emptied the range (reclaim looks) */
#define HMIRROR_RANGE_EMPTIED	XA_MARK_0
/* Completed jobs whose status HMIRROR_IOC_WAIT can still report. */
#define HMIRROR_STATUS_RING	1024
/*
 * kvmalloc() of an array bigger than a page, whose failure the caller
 * handles (-ENOMEM, a page that stays where it is): vmalloc's fallback
 * failing must not warn with a stack trace on top, which any user could
 * have printed at will under memory pressure.
 */
#define HMIRROR_GFP_ARRAY	(GFP_KERNEL | __GFP_NOWARN)

/*
 * Device PTE: pfn << PAGE_SHIFT | flags. One u64 per 4 KiB page, or one
 * per chunk for a PMD-sized mapping.
 */
#define HMIRROR_PTE_VALID	BIT_ULL(0)
#define HMIRROR_PTE_WRITE	BIT_ULL(1)
/* The CPU maps the page device-exclusive for us (4 KiB PTEs only). */
#define HMIRROR_PTE_EXCL	BIT_ULL(2)
#define HMIRROR_PTE_FLAGS	(HMIRROR_PTE_VALID | HMIRROR_PTE_WRITE | \
				 HMIRROR_PTE_EXCL)

/**
 * struct hmirror_backend_ops - what the mirror asks of a device backend
 * @name: backend name reported by GET_INFO
 * @pinned: the engine reaches PINNED regions through their pinned pages
 *	    (without it or @mr_map, registering one fails with -EOPNOTSUPP)
 * @init: bring the device's engine up
 * @fini: stop the engine; no job of any context runs after it returns
 * @kick: there is new work (a job queued or unparked) on @ctx, or a job
 *	  of it ended without the device (failed by the host)
 * @ctx_reset: stop running @ctx's jobs; returns once no page step of @ctx
 *	       is in progress and none will start, or -ETIMEDOUT after
 *	       @timeout_ms
 * @ctx_init: optional: give a new context its device state (may sleep)
 * @ctx_fini: optional: free it, after a successful @ctx_reset
 * @range_init: optional: a range is created (ctx->lock held, may sleep)
 * @range_update: optional: @r's PTE array or huge entry changed
 * @range_fini: optional: a range of a live context is about to be freed;
 *		returns once the device can no longer reach its PTE array
 *		(may sleep)
 * @tlb_flush: optional: drop any cached translation of [@start, @end) of
 *	       @ctx; the device may still use them until @tlb_sync returns 0
 * @tlb_sync: optional: wait until every @tlb_flush of @ctx so far is
 *	      done: 0; -EAGAIN if not done and !@blockable; -ETIMEDOUT if
 *	      the device did not answer within its bound
 * @mr_map: optional: give the device a mapping of its own of a PINNED
 *	    region's pages, at @mr->dev_addr (ctx->lock held, may sleep);
 *	    nothing is mapped once the region is revoked, or while it is
 *	    held
 * @mr_unmap: optional: take that mapping away (pt_lock held, must not
 *	      sleep); the device may use it until @tlb_sync returns 0
 * @mr_remap: with @mr_map: give a held region its mapping back, the
 *	      check having found its pages still mapped (pt_lock held,
 *	      must not sleep)
 * @ctx_show: optional: the backend's own lines of a context's debugfs
 *	      file ("key value", as the counters above them)
 * @copy: optional: carry out @n copies of a migration with the device's
 *	  own copy engine, each between system pages and this device's
 *	  memory, setting each one's status (may sleep). A backend with
 *	  @copy has device memory of its own (VRAM); one without has its
 *	  device memory backed by system pages the CPU copies (see
 *	  hmirror_devmem.c)
 * @vram_map: with @copy: the kernel address of a page of the device's
 *	      memory, through the BAR, for the CPU reading or writing it in
 *	      the device's stead (hmirror_ctx_access(), copies a reset or a
 *	      dead device left undone); a vmalloc-space address, mapped for
 *	      the device's life (must not sleep)
 *
 * The mirror calls @kick, @range_update and @tlb_flush with the context's
 * pt_lock held; they must not sleep. A backend whose device reads the
 * page table only under pt_lock (the sw engine) needs none of the
 * optional ones.
 */
struct hmirror_backend_ops {
	const char *name;
	bool pinned;
	int (*init)(struct hmirror_device *hdev);
	void (*fini)(struct hmirror_device *hdev);
	void (*kick)(struct hmirror_device *hdev, struct hmirror_ctx *ctx);
	int (*ctx_reset)(struct hmirror_ctx *ctx, unsigned int timeout_ms);
	int (*ctx_init)(struct hmirror_ctx *ctx);
	void (*ctx_fini)(struct hmirror_ctx *ctx);
	int (*range_init)(struct hmirror_range *r);
	void (*range_update)(struct hmirror_range *r);
	void (*range_fini)(struct hmirror_range *r);
	void (*tlb_flush)(struct hmirror_ctx *ctx, unsigned long start,
			  unsigned long end);
	int (*tlb_sync)(struct hmirror_ctx *ctx, bool blockable);
	int (*mr_map)(struct hmirror_mr *mr);
	void (*mr_unmap)(struct hmirror_mr *mr);
	void (*mr_remap)(struct hmirror_mr *mr);
	void (*ctx_show)(struct hmirror_ctx *ctx, struct seq_file *m);
	int (*copy)(struct hmirror_device *hdev, struct hmirror_copy *c,
		    unsigned int n);
	void *(*vram_map)(struct hmirror_device *hdev, struct page *page);
};

/**
 * struct hmirror_copy - one copy of a migration
 * @dst: first destination page
 * @src: first source page, or NULL: fill @dst with zeroes
 * @nr: pages: 1, or HMIRROR_CHUNK_PAGES (a THP, physically contiguous)
 * @idx: the caller's index of the copy (its migrate_vma entry)
 * @status: set by the copy: 0, or a negative errno (@dst holds garbage)
 */
struct hmirror_copy {
	struct page *dst;
	struct page *src;
	unsigned int nr;
	unsigned int idx;
	int status;
};

/**
 * struct hmirror_copy_batch - the copies of one migration round
 * @n: copies added
 * @max: room in @c
 * @c: the copies
 */
struct hmirror_copy_batch {
	unsigned int n;
	unsigned int max;
	struct hmirror_copy *c;
};

/**
 * struct hmirror_block - 2 MiB of device memory: allocation and eviction unit
 * @link: in the device memory's free or partial list, or none when full
 * @lru: in the device memory's LRU list while it holds pages
 * @pfn: its first device pfn
 * @backing: the sw backend's store for its contents: one system page per
 *	     device page (NULL while handed over), or NULL until used
 *	      (always NULL in device-coherent memory: the pages hold them)
 * @folio: when @backing is one THP-sized system folio (@backing[i] its
 *	   i-th page), that folio, which a device THP coming home takes
 *	   whole; its pages are never handed over one by one
 * @used: pages allocated
 * @huge: allocated whole, as one device folio
 * @map: allocated pages
 */
struct hmirror_block {
	struct list_head link;
	struct list_head lru;
	unsigned long pfn;
	struct page **backing;
	struct folio *folio;
	unsigned int used;
	bool huge;
	DECLARE_BITMAP(map, HMIRROR_CHUNK_PAGES);
};

/**
 * struct hmirror_devmem - the device memory of a device instance
 * @hdev: its instance
 * @coherent: device-coherent (CPU-addressable) memory, not device-private
 * @backed: device-private memory whose data lives in system pages of its
 *	    own (the sw backend's), not in a device's VRAM
 * @pgmap: the ZONE_DEVICE mapping; owner @hdev
 * @res: the physical address range it occupies
 * @pfn_first: first pfn of @res
 * @nr_blocks: size in 2 MiB blocks
 * @blocks: the blocks, by (pfn - @pfn_first) / 512
 * @lock: protects the lists, @free_pages and the blocks' fields
 * @free: blocks with nothing allocated
 * @partial: blocks with some 4 KiB pages allocated and some free
 * @lru: blocks holding pages, least recently filled first
 * @free_pages: pages free
 * @freed_wq: woken when pages are freed
 * @resident: pages allocated (the device's resident set)
 * @migrated_in: pages moved in
 * @migrated_out: pages moved out, by any path
 * @cpu_faults: CPU faults on this memory
 * @evicted: pages evicted
 */
struct hmirror_devmem {
	struct hmirror_device *hdev;
	bool coherent;
	bool backed;
	struct dev_pagemap pgmap;
	struct resource *res;
	unsigned long pfn_first;
	unsigned int nr_blocks;
	struct hmirror_block *blocks;
	spinlock_t lock;	/* lists, free_pages, blocks */
	struct list_head free;
	struct list_head partial;
	struct list_head lru;
	unsigned long free_pages;
	wait_queue_head_t freed_wq;
	atomic64_t resident;
	atomic64_t migrated_in;
	atomic64_t migrated_out;
	atomic64_t cpu_faults;
	atomic64_t evicted;
};

/* Named fault injection sites (hmirror_fault.c). */
enum hmirror_fault_site {
	HMIRROR_FAULT_CTX_ALLOC,
	HMIRROR_FAULT_RANGE_ALLOC,
	HMIRROR_FAULT_PTE_ALLOC,
	HMIRROR_FAULT_NOTIFIER_INSERT,
	HMIRROR_FAULT_HMM_BUSY,
	HMIRROR_FAULT_HMM_FAULT,
	HMIRROR_FAULT_JOB_ALLOC,
	HMIRROR_FAULT_DEVMEM_ALLOC,
	HMIRROR_FAULT_MIGRATE_PAGE,
	HMIRROR_FAULT_ENGINE_STALL,
	HMIRROR_FAULT_LOST_COMPLETION,
	HMIRROR_FAULT_RESET_SLOW,
	HMIRROR_FAULT_COPY_ERROR,
	HMIRROR_FAULT_MR_CHECK_SLOW,
	HMIRROR_FAULT_NR,
};

/**
 * struct hmirror_device - one device instance (/dev/hmirror<N>)
 * @index: N
 * @cdev: character device
 * @dev: the struct device of the class device, for messages and sysfs
 * @ops: the backend driving this instance (set before registering)
 * @parent: the hardware device behind it, or NULL (sw backend)
 * @vram_mb: device memory it gets, in MiB (set before registering)
 * @max_ctxs: contexts it can have open at once, 0 for no limit (set
 *	      before registering)
 * @debugfs: this instance's debugfs directory
 * @ctxs_lock: protects @ctxs; taken before a context's pt_lock
 * @ctxs: every context of the device (for debugfs)
 * @lock: protects @runq and @running; taken after a context's pt_lock
 * @runq: contexts with queued jobs, in round-robin order
 * @engine: the sw backend's engine thread
 * @engine_wq: the engine sleeps here when nothing is runnable
 * @running: the context the engine is running steps of, or NULL
 * @reset_wq: woken when the engine leaves a context
 * @work_seq: bumped on every kick, so the engine cannot miss one
 * @next_ctx_id: id of the next context opened
 * @devmem: its device memory, or NULL
 * @fail_huge_alloc: fail the next THP-sized device memory allocation
 * @priv: the backend's own state of the instance
 */
struct hmirror_device {
	unsigned int index;
	struct cdev cdev;
	struct device *dev;
	const struct hmirror_backend_ops *ops;
	struct device *parent;
	unsigned int vram_mb;
	unsigned int max_ctxs;
	struct dentry *debugfs;
	struct mutex ctxs_lock;	/* ctxs */
	struct list_head ctxs;
	spinlock_t lock;	/* runq, running */
	struct list_head runq;
	struct task_struct *engine;
	wait_queue_head_t engine_wq;
	struct hmirror_ctx *running;
	wait_queue_head_t reset_wq;
	atomic_t work_seq;
	u32 next_ctx_id;
	struct hmirror_devmem *devmem;
	atomic_t fail_huge_alloc;
	void *priv;
};

/**
 * struct hmirror_range - the mirror of one chunk of a context's VA space
 * @notifier: interval notifier over [@start, @start + HMIRROR_CHUNK_SIZE)
 * @ctx: owning context
 * @start: chunk-aligned start address
 * @ptes: HMIRROR_CHUNK_PAGES device PTEs, allocated on first small mapping
 * @huge: the PTE of a PMD-sized mapping of the whole chunk, or 0
 * @nr_valid: valid entries in @ptes
 */
struct hmirror_range {
	struct mmu_interval_notifier notifier;
	struct hmirror_ctx *ctx;
	unsigned long start;
	u64 *ptes;
	u64 huge;
	unsigned int nr_valid;
};

/**
 * struct hmirror_event_node - an unread event
 * @link: in ctx->events while unread
 * @ev: the record read() returns
 * @alloc: kmalloc()ed (it outlived its region), freed once read
 */
struct hmirror_event_node {
	struct list_head link;
	struct hmirror_event ev;
	bool alloc;
};

/**
 * struct hmirror_mr - a registered memory region of a context
 * @ctx: owning context
 * @key: its key, the index in ctx->mrs
 * @mode: HMIRROR_MR_ODP or HMIRROR_MR_PINNED
 * @access: HMIRROR_ACCESS_*
 * @flags: HMIRROR_MR_F_*
 * @start: first byte (0 for an implicit region)
 * @len: bytes (TASK_SIZE for an implicit region)
 * @users: operands of pending jobs (and queued advice) that name it
 *	   (pt_lock)
 * @faults: hmm_range_fault() calls for memory named through it (pt_lock)
 * @pages: PINNED: the pinned pages, from the page holding @start
 * @npages: PINNED: entries in @pages
 * @dev_addr: PINNED, backends with @mr_map: where the device reaches
 *	      @start (kept once revoked), or 0 before it is mapped
 * @notifier: PINNED: watches the mapping under the region
 * @revoked: PINNED: the mapping changed; no job may use @pages (pt_lock)
 * @held: PINNED: a zap came and its check has not answered yet; no job
 *	  may use @pages meanwhile (pt_lock)
 * @zaps: PINNED: zaps seen, so a check answers only for those before it
 *	  (pt_lock)
 * @pinned: PINNED: @pages are all pinned
 * @check_work: PINNED: after a zap, checks whether the mapping still
 *		maps @pages
 * @evn: PINNED: its revocation event, queued on ctx->events once
 */
struct hmirror_mr {
	struct hmirror_ctx *ctx;
	u32 key;
	u32 mode;
	u32 access;
	u32 flags;
	unsigned long start;
	unsigned long len;
	unsigned int users;
	u64 faults;
	struct page **pages;
	unsigned long npages;
	u64 dev_addr;
	struct mmu_interval_notifier notifier;
	bool revoked;
	bool held;
	unsigned int zaps;
	bool pinned;
	struct work_struct check_work;
	struct hmirror_event_node evn;
};

enum hmirror_ctx_state {
	HMIRROR_CTX_ALIVE,
	HMIRROR_CTX_DEAD,	/* reset after an escalation, or mm gone */
	HMIRROR_CTX_CLOSING,
};

/**
 * struct hmirror_ctx - a context: one per open file of a device
 * @hdev: the device instance the file was opened on
 * @mm: the mm of the opener; the context works only from this mm
 * @owner: thread-group pid of the opener, the process escalation signals
 * @comm: the opener's command name, for messages
 * @id: context number within the device, for debugfs and messages
 * @link: in hdev->ctxs
 * @all_link: in the module-wide list of contexts, to find those of an mm
 * @run_link: in hdev->runq while the context has queued jobs
 * @lock: serialises submit, config and range creation (sleeping)
 * @pt_lock: protects the device page table, @jobs, @state and the
 *	     counters; taken by invalidations, so never held while sleeping
 * @ranges: struct hmirror_range by chunk index (address >> CHUNK_SHIFT)
 * @jobs: submitted, not yet completed jobs, in fence order
 * @state: enum hmirror_ctx_state
 * @preempt: HMIRROR_PREEMPT_*
 * @policy: HMIRROR_POLICY_*
 * @deadline_ms: invalidation wait bound
 * @submitted: fence of the last job submitted
 * @completed: fence of the last job completed (jobs complete in order)
 * @status: status of recently completed jobs, by fence % size
 * @status_fence: the fence each @status entry belongs to
 * @wq: woken on every job completion and state change
 * @eventfd: signalled on every job completion, or NULL
 * @eventfd_fd: the descriptor @eventfd was given as, for CONFIG
 * @fault_work: refaults the page a parked PAGE-class job needs
 * @fault_pfns: fault_work's hmm pfn array, allocated on first use
 * @fault_small: the last chunk hmirror_pt_fault() mirrored was mapped by
 *		 4 KiB pages: the next one skips the one-page probe for a
 *		 PMD (ctx->lock)
 * @migrating: fault_work runs a MIGRATE command: migration invalidations
 *	       zap without waiting for this context's jobs
 * @deadline_timer: armed by a refused non-blockable invalidation
 * @escalate_work: escalation from the deadline timer
 * @reclaim_work: frees ranges an invalidation left empty, a little later
 * @refused_fence: newest job that made a non-blockable invalidation fail
 * @refused_at: when the oldest refusal still pending began
 * @inval_seq: the invalidation (core cur_seq) @inval_expires belongs to
 * @inval_expires: when the deadline of that invalidation passes
 * @tlb_finish: the second pass of a blockable invalidation, which waits
 *		for the device's TLB once for all the chunks the first pass
 *		zapped; one invalidation at a time owns it (pt_lock)
 * @tlb_finish_range: the invalidation that owns @tlb_finish, or NULL
 * @tlb_finish_start: the range it zapped, for the escalation's message
 * @tlb_finish_end: its end
 * @mrs: struct hmirror_mr by key; changed under @lock
 * @events: unread struct hmirror_event_node, under @pt_lock
 * @orphans: unread events that outlived their regions (kmalloc()ed)
 * @revoke_gen: bumped on every revocation, so jobs recheck their regions
 * @mrs_held: pinned regions held for a check after a zap (pt_lock)
 * @hold_gen: bumped on every hold of a pinned region (pt_lock)
 * @advices: queued asynchronous advice, in order (pt_lock)
 * @advise_work: carries @advices out
 * @advise_pending: advice queued, or done with its event unread (pt_lock)
 * @stats: counters, as STATS reports them
 * @debugfs: this context's debugfs file
 * @reset_ack_at: reset_slow injection: when the device acknowledges the
 *		  reset asked for (sw backend, under hdev->lock), or 0
 * @priv: the backend's own state of the context
 */
struct hmirror_ctx {
	struct hmirror_device *hdev;
	struct mm_struct *mm;
	struct pid *owner;
	char comm[TASK_COMM_LEN];
	u32 id;
	struct list_head link;
	struct list_head all_link;
	struct list_head run_link;

	struct mutex lock;	/* submit, config, range creation */
	spinlock_t pt_lock;	/* PTEs, jobs, state, counters */
	struct xarray ranges;
	struct list_head jobs;
	enum hmirror_ctx_state state;
	u32 preempt;
	u32 policy;
	u32 deadline_ms;

	u64 submitted;
	u64 completed;
	int status[HMIRROR_STATUS_RING];
	u64 status_fence[HMIRROR_STATUS_RING];
	wait_queue_head_t wq;
	struct eventfd_ctx *eventfd;
	int eventfd_fd;

	struct work_struct fault_work;
	unsigned long *fault_pfns;
	bool fault_small;
	bool migrating;
	struct hrtimer deadline_timer;
	struct work_struct escalate_work;
	struct delayed_work reclaim_work;
	u64 refused_fence;
	ktime_t refused_at;
	unsigned long inval_seq;
	ktime_t inval_expires;
	struct mmu_interval_notifier_finish tlb_finish;
	const struct mmu_notifier_range *tlb_finish_range;
	unsigned long tlb_finish_start;
	unsigned long tlb_finish_end;

	struct xarray mrs;
	struct list_head events;
	unsigned int orphans;
	unsigned int revoke_gen;
	unsigned int mrs_held;
	unsigned int hold_gen;
	struct list_head advices;
	struct work_struct advise_work;
	unsigned int advise_pending;

	struct hmirror_stats stats;
	struct dentry *debugfs;
	ktime_t reset_ack_at;
	void *priv;
};

/**
 * struct hmirror_seg - one piece of a job's footprint
 * @start: first byte
 * @end: one past the last byte
 * @write: the job writes it
 * @excl: the job needs it device-exclusive (HMIRROR_CMD_F_EXCLUSIVE)
 * @mr: the ODP region the operand named it through, or NULL
 */
struct hmirror_seg {
	unsigned long start;
	unsigned long end;
	bool write;
	bool excl;
	struct hmirror_mr *mr;
};

/**
 * struct hmirror_job - a submitted job
 * @link: in ctx->jobs
 * @ctx: owning context
 * @fence: its fence
 * @nr_cmds: commands in @cmds
 * @cur: command being executed
 * @done: bytes of @cur already processed
 * @acc: CRC32C accumulator of @cur
 * @until: DELAY end, or WAIT_VALUE timeout (0: none), in ns
 * @result: MIGRATE: pages moved
 * @parked: PAGE class: waiting for the page at @fault_addr; any class:
 *	    waiting for the worker to run the MIGRATE command @cur
 * @held: parked by the device on a held pinned region's window: the
 *	  region's check resumes it, not the worker
 * @fault_addr: the address a parked job needs
 * @fault_end: end of the operand @fault_addr is in
 * @fault_write: ...for writing
 * @fault_excl: ...device-exclusive
 * @segs: the footprint, used to find jobs an invalidation overlaps
 * @nr_segs: entries in @segs
 * @opmr: regions the operands name, 2 per command (dst, src), or NULL
 *	  when no operand names a region
 * @revoke_gen: ctx->revoke_gen when the job last checked its regions
 * @hold_gen: ctx->hold_gen when the job was published, less one if a
 *	      region was held then
 * @stall_until: engine_stall injection: no step of the job runs before
 *		 this (ktime_get_ns()), or 0
 * @lost_until: lost_completion injection: the job is done but its
 *		completion is held until this, or until the next kick; 0:
 *		not done
 * @cmds: the commands, as validated at submit
 */
struct hmirror_job {
	struct list_head link;
	struct hmirror_ctx *ctx;
	u64 fence;
	unsigned int nr_cmds;
	unsigned int cur;
	u64 done;
	u32 acc;
	u64 until;
	u64 result;
	bool parked;
	bool held;
	unsigned long fault_addr;
	unsigned long fault_end;
	bool fault_write;
	bool fault_excl;
	struct hmirror_seg *segs;
	unsigned int nr_segs;
	struct hmirror_mr **opmr;
	unsigned int revoke_gen;
	unsigned int hold_gen;
	u64 stall_until;
	u64 lost_until;
	struct hmirror_cmd cmds[] __counted_by(nr_cmds);
};

/* hmirror_main.c */
extern unsigned int hmirror_nr_devices;
extern unsigned int hmirror_inval_deadline_ms;
extern unsigned int hmirror_inval_policy;
extern unsigned int hmirror_vram_mb;
extern unsigned long hmirror_coherent_addr[];

#define HMIRROR_MAX_DEVICES	16
struct hmirror_device *hmirror_device_get(unsigned int index);
unsigned int hmirror_device_count(void);
int hmirror_device_register(struct hmirror_device *hdev);
void hmirror_device_unregister(struct hmirror_device *hdev);

void hmirror_obj_get(void);
void hmirror_obj_put(void);

/* hmirror_device.c */
int hmirror_device_create(struct hmirror_device *hdev, unsigned int index,
			  dev_t devt, const struct class *class,
			  struct dentry *debugfs_root);
void hmirror_device_destroy(struct hmirror_device *hdev);

/* hmirror_ctx.c */
extern const struct file_operations hmirror_ctx_fops;
struct hmirror_ctx *__hmirror_ctx_create(struct hmirror_device *hdev);
void __hmirror_ctx_destroy(struct hmirror_ctx *ctx);
extern struct list_head hmirror_ctx_all;
extern spinlock_t hmirror_ctx_all_lock;

/* hmirror_pt.c */
struct hmirror_range *hmirror_range_get(struct hmirror_ctx *ctx,
					unsigned long addr);
void hmirror_ranges_destroy(struct hmirror_ctx *ctx);
void hmirror_ranges_reclaim_work(struct work_struct *work);
/* hmirror_pt_fault() flags */
#define HMIRROR_PT_WRITE	BIT(0)
#define HMIRROR_PT_UNLOCKED	BIT(1)
#define HMIRROR_PT_EPERM	BIT(2)
#define HMIRROR_PT_PRESENT	BIT(3)
#define HMIRROR_PT_PULL		BIT(4)
#define HMIRROR_PT_LOCAL	BIT(5)
int hmirror_pt_fault(struct hmirror_ctx *ctx, unsigned long start,
		     unsigned long end, unsigned int flags, unsigned long *pfns,
		     struct hmirror_range **rp, unsigned long *seqp);
int hmirror_pt_make_exclusive(struct hmirror_ctx *ctx, unsigned long start,
			      unsigned long end, unsigned long *pfns,
			      struct hmirror_range **rp, unsigned long *seqp);
u64 hmirror_pt_lookup(struct hmirror_ctx *ctx, unsigned long addr);
void *hmirror_pt_map(struct hmirror_ctx *ctx, unsigned long addr, bool write,
		     bool excl);
void hmirror_pt_unmap(void *addr);
void hmirror_pt_zap(struct hmirror_range *r, unsigned long start,
		    unsigned long end);
void hmirror_pt_zap_all(struct hmirror_ctx *ctx);

/* hmirror_job.c */
int hmirror_job_submit(struct hmirror_ctx *ctx, struct hmirror_submit *sub);
int hmirror_job_wait(struct hmirror_ctx *ctx, struct hmirror_wait *w);
void hmirror_job_complete(struct hmirror_job *job, int status);
void hmirror_jobs_cancel(struct hmirror_ctx *ctx);
bool hmirror_jobs_overlap(struct hmirror_ctx *ctx, unsigned long start,
			  unsigned long end, u64 *newest);
void hmirror_job_park(struct hmirror_job *job, unsigned long addr,
		      unsigned long end, bool write, bool excl);
void hmirror_job_park_migrate(struct hmirror_job *job);
void hmirror_job_fault_work(struct work_struct *work);
bool hmirror_job_revoked(struct hmirror_job *job);
bool hmirror_job_held(struct hmirror_job *job);
bool hmirror_job_was_held(struct hmirror_job *job);

/* hmirror_inval.c */
extern const struct mmu_interval_notifier_ops hmirror_range_ops;
bool hmirror_inval_tlb_sync(struct hmirror_ctx *ctx, unsigned long start,
			    unsigned long end, bool blockable);
void hmirror_ctx_escalate(struct hmirror_ctx *ctx, unsigned long start,
			  unsigned long end, u64 waited_us);
enum hrtimer_restart hmirror_deadline_timer_fn(struct hrtimer *t);
void hmirror_escalate_work_fn(struct work_struct *work);

/* hmirror_debugfs.c */
void hmirror_debugfs_device_init(struct hmirror_device *hdev);
void hmirror_debugfs_ctx_init(struct hmirror_ctx *ctx);
void hmirror_debugfs_ctx_fini(struct hmirror_ctx *ctx);

/* hmirror_floor.c */
void hmirror_floor_debugfs_init(struct dentry *root);

/* hmirror_devmem.c */
int hmirror_devmem_init(struct hmirror_device *hdev, unsigned int mb,
			phys_addr_t coherent_addr);
void hmirror_devmem_fini(struct hmirror_device *hdev);
struct page *hmirror_devmem_alloc(struct hmirror_device *hdev,
				  unsigned int order, bool evict);
bool hmirror_devmem_page_backed(const struct page *page);
struct page *hmirror_devmem_backing(const struct page *page);
struct page *hmirror_devmem_backing_take(const struct page *page);
void hmirror_devmem_backing_give(const struct page *page, struct page *bpage);
struct folio *hmirror_devmem_backing_take_folio(const struct page *page);
void hmirror_devmem_backing_give_folio(const struct page *page,
				       struct folio *folio);
bool hmirror_page_is_mine(struct hmirror_device *hdev, const struct page *page);
unsigned int hmirror_devmem_max_order(struct hmirror_device *hdev);
void hmirror_devmem_stats(struct hmirror_device *hdev, struct hmirror_stats *st);

/* hmirror_copy.c */
void hmirror_copy_add(struct hmirror_copy_batch *b, struct page *dst,
		      struct page *src, unsigned int nr, unsigned int idx);
void hmirror_copy_run(struct hmirror_copy_batch *b);
void *hmirror_page_map(struct page *page);
void hmirror_page_unmap(void *addr);
void hmirror_copy_cpu(struct hmirror_copy *c);

/* hmirror_migrate.c */
extern const struct mmu_interval_notifier_ops hmirror_snapshot_ops;
/* hmirror_migrate_range() flags */
#define HMIRROR_MIG_SYSTEM_ONLY	BIT(0)
#define HMIRROR_MIG_NO_EVICT	BIT(1)
int hmirror_migrate_range(struct hmirror_ctx *ctx, unsigned long start,
			  unsigned long end, bool to_dev, unsigned int flags,
			  s32 __user *ustatus, u64 *moved, u64 *failed);
int hmirror_migrate_pull(struct hmirror_ctx *ctx, struct hmirror_device *from,
			 unsigned long start, unsigned long end);
int hmirror_migrate(struct hmirror_ctx *ctx, struct hmirror_migrate *req);
vm_fault_t hmirror_migrate_to_ram(struct vm_fault *vmf);
long hmirror_devmem_evict(struct hmirror_device *hdev, unsigned int nr_blocks);

/* hmirror_mr.c */
int hmirror_mr_reg(struct hmirror_ctx *ctx, const struct hmirror_mr_reg *req,
		   u32 __user *ukey);
int hmirror_mr_dereg(struct hmirror_ctx *ctx, const struct hmirror_mr_dereg *req);
void hmirror_mrs_destroy(struct hmirror_ctx *ctx);
int hmirror_mr_resolve(struct hmirror_ctx *ctx, u32 key, u64 off, u64 len,
		       u32 need, struct hmirror_mr **mrp, u64 *addr);
struct page *hmirror_mr_page(struct hmirror_mr *mr, unsigned long addr);
int hmirror_mr_make_exclusive(struct hmirror_ctx *ctx, struct hmirror_mr *mr,
			      unsigned long start, unsigned long end,
			      unsigned long *pfns, struct hmirror_range **rp,
			      unsigned long *seqp);
int hmirror_mr_fault(struct hmirror_ctx *ctx, struct hmirror_mr *mr,
		     unsigned long start, unsigned long end, unsigned int flags,
		     unsigned long *pfns, struct hmirror_range **rp,
		     unsigned long *seqp);
ssize_t hmirror_events_read(struct hmirror_ctx *ctx, char __user *buf,
			    size_t count, bool nonblock);
bool hmirror_events_pending(struct hmirror_ctx *ctx);

/* hmirror_advise.c */
int hmirror_mr_advise(struct hmirror_ctx *ctx,
		      const struct hmirror_mr_advise *req);
void hmirror_advise_work(struct work_struct *work);
void hmirror_advise_destroy(struct hmirror_ctx *ctx);

/* hmirror_fault.c */
bool hmirror_fault_should_fail(enum hmirror_fault_site site,
			       const struct hmirror_ctx *ctx);
bool hmirror_fault_should_fail_dev(enum hmirror_fault_site site,
				   const struct hmirror_device *hdev);
unsigned int hmirror_fault_delay_ms(enum hmirror_fault_site site);
void hmirror_fault_debugfs_init(struct dentry *root);

/* hmirror_sw.c */
extern const struct hmirror_backend_ops hmirror_sw_ops;

/* hmirror_pci.c */
int hmirror_pci_register(void);
void hmirror_pci_unregister(void);

#endif /* _HMIRROR_INTERNAL_H */
