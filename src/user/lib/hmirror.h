/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libhmirror: the user-space API of hmirror.
 *
 * Conventions, as in liburing: every function returns 0 (or a non-negative
 * value where documented) on success and a negative errno on failure; errno
 * is never the result, and its value on entry is restored on return. The
 * library holds no global or static mutable state: everything lives in the
 * struct hmirror handle and the struct hmirror_job builders the caller owns,
 * so independent handles may be used from different threads. A handle is
 * not modified after hmirror_open(), so one handle may also be shared by
 * several threads; a struct hmirror_job must not be changed by one thread
 * while another uses it.
 *
 * Manual pages: libhmirror(3), hmirror_open(3), hmirror_config(3),
 * hmirror_submit(3), hmirror_stats(3), hmirror_strerror(3), hmirror_inject(3).
 */
#ifndef HMIRROR_LIB_H
#define HMIRROR_LIB_H

#include <stddef.h>
#include <stdint.h>
#include <linux/hmirror.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An open hmirror context: one open file of /dev/hmirror<N>. */
struct hmirror;

/**
 * hmirror_dev_path() - format the device node path of instance @index
 * @index: device instance number
 * @buf: output buffer
 * @len: size of @buf
 *
 * Return: 0, -EINVAL on a NULL @buf, -ENAMETOOLONG if @buf is too small.
 */
int hmirror_dev_path(unsigned int index, char *buf, size_t len);

/**
 * hmirror_open() - open a context on device instance @index
 * @index: device instance number (see struct hmirror_info.nr_devices)
 * @out: receives the new handle
 *
 * The context is bound to the calling process's address space: it cannot be
 * used from another process, even if its file descriptor is passed on.
 *
 * Return: 0, or -ENOENT (no such device: is the module loaded?), -ENOTTY
 * (the node is not an hmirror device), -EPROTO (ABI version mismatch), or
 * another negative errno from open(2).
 */
int hmirror_open(unsigned int index, struct hmirror **out);

/**
 * hmirror_open_path() - like hmirror_open(), on a device node named by path
 * @path: path of the device node
 * @out: receives the new handle
 *
 * Return: as hmirror_open().
 */
int hmirror_open_path(const char *path, struct hmirror **out);

/**
 * hmirror_close() - close a context and free its handle
 * @h: handle from hmirror_open(); NULL is ignored
 */
void hmirror_close(struct hmirror *h);

/**
 * hmirror_fd() - the file descriptor behind a handle, for poll(2)
 * @h: handle
 *
 * Return: the descriptor, or -EINVAL on a NULL handle.
 */
int hmirror_fd(const struct hmirror *h);

/**
 * hmirror_get_info() - query the device instance behind a handle
 * @h: handle
 * @info: receives the device's information
 *
 * Return: 0 or a negative errno.
 */
int hmirror_get_info(struct hmirror *h, struct hmirror_info *info);

/* ---- context configuration (HMIRROR_IOC_CONFIG) --------------------- */

/**
 * hmirror_config_get() - read a context's configuration
 * @h: handle
 * @out: receives the current preemption class, deadline, policy and eventfd
 *
 * Return: 0, -EINVAL on a NULL argument, or the kernel's negative errno
 * (-EIO: the context is dead).
 */
int hmirror_config_get(struct hmirror *h, struct hmirror_ctx_config *out);

/**
 * hmirror_config_set() - change several fields of a context at once
 * @h: handle
 * @cfg: in: @cfg->set names the fields to change (HMIRROR_CFG_*), which
 *	 hold their new values; the other fields and @cfg->reserved are
 *	 ignored and sent as zero. Out, on success: the context's current
 *	 configuration, all fields.
 *
 * All or nothing: a call that fails changes nothing, here or in the
 * kernel. The fields named by @cfg->set are checked here as the setters
 * below check them.
 *
 * Return: 0, -EINVAL (NULL argument, unknown bit in @cfg->set, or a named
 * field out of range), or the kernel's negative errno (-EBUSY: preemption
 * class changed after the first job; -EBADF: eventfd not open).
 */
int hmirror_config_set(struct hmirror *h, struct hmirror_ctx_config *cfg);

/**
 * hmirror_set_preempt() - choose the context's preemption class
 * @h: handle
 * @cls: HMIRROR_PREEMPT_PAGE or HMIRROR_PREEMPT_NONE
 *
 * Only before the context's first job.
 *
 * Return: 0, -EINVAL (unknown class), -EBUSY (a job was already submitted),
 * or another negative errno from the kernel.
 */
int hmirror_set_preempt(struct hmirror *h, unsigned int cls);

/**
 * hmirror_set_deadline() - how long an invalidation waits for this context
 * @h: handle
 * @ms: milliseconds, HMIRROR_DEADLINE_MIN_MS..HMIRROR_DEADLINE_MAX_MS
 *
 * Past the deadline the context is reset and its policy applied.
 *
 * Return: 0, -EINVAL (@ms out of range), or the kernel's negative errno.
 */
int hmirror_set_deadline(struct hmirror *h, unsigned int ms);

/**
 * hmirror_set_policy() - what happens when the context misses its deadline
 * @h: handle
 * @policy: HMIRROR_POLICY_KILL or HMIRROR_POLICY_REVOKE
 *
 * Return: 0, -EINVAL (unknown policy), or the kernel's negative errno.
 */
int hmirror_set_policy(struct hmirror *h, unsigned int policy);

/**
 * hmirror_set_eventfd() - eventfd to signal on every job completion
 * @h: handle
 * @fd: an eventfd(2) descriptor, or -1 for none
 *
 * Return: 0, -EINVAL (@fd below -1, or, from the kernel, not an eventfd),
 * -EBADF (@fd is not open), or another negative errno from the kernel.
 */
int hmirror_set_eventfd(struct hmirror *h, int fd);

/* ---- building jobs ---------------------------------------------------- */

/**
 * struct hmirror_job - a job being built, in storage the caller owns
 * @cmds: the command array given to hmirror_job_init()
 * @nr_cmds: commands added so far; @cmds[0..nr_cmds) are the job
 * @capacity: entries @cmds can hold
 *
 * No allocation: the caller provides the array, on the stack or anywhere
 * else, and keeps it alive while the job is built and submitted. The
 * fields may be read; change them only through the hmirror_job_*()
 * functions. Addresses given to the builders are addresses of the calling
 * process, which the device reaches through the mirror; they are not
 * dereferenced by the library.
 */
struct hmirror_job {
	struct hmirror_cmd *cmds;
	unsigned int nr_cmds;
	unsigned int capacity;
};

/**
 * hmirror_job_init() - start an empty job in caller-provided storage
 * @job: the job to initialise
 * @storage: array of at least @capacity commands
 * @capacity: entries in @storage, at least 1
 *
 * Return: 0, or -EINVAL on a NULL argument or a zero @capacity.
 */
int hmirror_job_init(struct hmirror_job *job, struct hmirror_cmd *storage,
		     unsigned int capacity);

/**
 * hmirror_job_reset() - empty a job, keeping its storage, to build another
 * @job: the job; NULL is ignored
 */
void hmirror_job_reset(struct hmirror_job *job);

/*
 * The builders below append one command, with every field the command does
 * not use set to zero, exactly as struct hmirror_cmd documents. Each returns
 * 0, -EINVAL (NULL @job, or an argument outside what the header allows:
 * misalignment, DELAY too long), or -ENOSPC when the job is full; on error
 * the job is unchanged. Limits that depend on the device (max_cmds,
 * max_job_bytes of struct hmirror_info) are checked by the kernel at submit.
 */

/**
 * hmirror_job_copy() - append COPY: @dst[0..@len) = @src[0..@len)
 * @job: the job
 * @dst: destination address
 * @src: source address
 * @len: bytes
 *
 * Return: 0, -EINVAL or -ENOSPC.
 */
int hmirror_job_copy(struct hmirror_job *job, void *dst, const void *src,
		     size_t len);

/**
 * hmirror_job_fill() - append FILL: @dst[0..@len) = @byte
 * @job: the job
 * @dst: destination address
 * @byte: the fill byte
 * @len: bytes
 *
 * Return: 0, -EINVAL or -ENOSPC.
 */
int hmirror_job_fill(struct hmirror_job *job, void *dst, uint8_t byte,
		     size_t len);

/**
 * hmirror_job_crc32c() - append CRC32C: *(u32 *)@result = crc32c(@seed, @src, @len)
 * @job: the job
 * @result: where the 32-bit result is written; 4-byte aligned
 * @src: the bytes to checksum
 * @len: how many
 * @seed: initial CRC register, used as is (see hmirror_crc32c())
 *
 * Return: 0, -EINVAL (@result misaligned) or -ENOSPC.
 */
int hmirror_job_crc32c(struct hmirror_job *job, void *result,
		       const void *src, size_t len, uint32_t seed);

/**
 * hmirror_job_atomic_add() - append ATOMIC_ADD: *(u64 *)@addr += @addend
 * @job: the job
 * @addr: the 64-bit operand; 8-byte aligned
 * @addend: what to add (wraps modulo 2^64)
 *
 * Return: 0, -EINVAL (@addr misaligned) or -ENOSPC.
 */
int hmirror_job_atomic_add(struct hmirror_job *job, void *addr,
			   uint64_t addend);

/**
 * hmirror_job_write_value() - append WRITE_VALUE: *(u64 *)@addr = @value
 * @job: the job
 * @addr: the 64-bit destination; 8-byte aligned
 * @value: the value to write
 *
 * Return: 0, -EINVAL (@addr misaligned) or -ENOSPC.
 */
int hmirror_job_write_value(struct hmirror_job *job, void *addr,
			    uint64_t value);

/**
 * hmirror_job_wait_value() - append WAIT_VALUE: wait until *(u64 *)@addr == @value
 * @job: the job
 * @addr: the 64-bit word to watch; 8-byte aligned
 * @value: the value to wait for
 * @timeout_us: microseconds after which the job fails with -ETIME;
 *		0 waits without a timeout
 *
 * Return: 0, -EINVAL (@addr misaligned) or -ENOSPC.
 */
int hmirror_job_wait_value(struct hmirror_job *job, const void *addr,
			   uint64_t value, uint64_t timeout_us);

/**
 * hmirror_job_delay() - append DELAY: keep the engine busy for @us
 * @job: the job
 * @us: microseconds, at most HMIRROR_DELAY_MAX_US
 *
 * Return: 0, -EINVAL (@us too large) or -ENOSPC.
 */
int hmirror_job_delay(struct hmirror_job *job, uint32_t us);

/**
 * hmirror_job_migrate() - append MIGRATE: move @addr[0..@len) in job order
 * @job: the job
 * @addr: page-aligned start
 * @len: bytes, a non-zero multiple of the page size
 * @target: HMIRROR_MIGRATE_TO_DEVICE or HMIRROR_MIGRATE_TO_SYSTEM
 * @moved: a uint64_t, 8-byte aligned, that receives the number of pages
 *	   moved, or NULL
 *
 * The command succeeds even if some pages cannot move; @moved and the
 * context's statistics tell. Use hmirror_migrate() for a page-by-page
 * status.
 *
 * Return: 0, -EINVAL (alignment, length, target) or -ENOSPC.
 */
int hmirror_job_migrate(struct hmirror_job *job, void *addr, size_t len,
			unsigned int target, uint64_t *moved);

/**
 * hmirror_job_set_flags() - set the flags of the command appended last
 * @job: the job, with at least one command
 * @flags: HMIRROR_CMD_F_* bits, replacing the command's flags
 *
 * HMIRROR_CMD_F_EXCLUSIVE is for ATOMIC_ADD and WRITE_VALUE only: the
 * device takes the page device-exclusive before the command runs, and
 * the CPU's next access to the page takes it back.
 *
 * Return: 0, or -EINVAL (NULL or empty @job, an unknown flag, or a flag
 * the last command does not take); on error the job is unchanged.
 */
int hmirror_job_set_flags(struct hmirror_job *job, uint32_t flags);

/**
 * hmirror_job_add_cmd() - append a command exactly as given
 * @job: the job
 * @cmd: the command, copied verbatim
 *
 * Nothing in @cmd is checked: this is the way to send the kernel commands
 * the other builders refuse, for instance to test its own checks.
 *
 * Return: 0, -EINVAL (NULL argument) or -ENOSPC.
 */
int hmirror_job_add_cmd(struct hmirror_job *job, const struct hmirror_cmd *cmd);

/* ---- running jobs ----------------------------------------------------- */

/**
 * hmirror_submit() - submit a job: validate, fault in its memory, queue it
 * @h: handle
 * @job: the job; its commands are read during the call only, so the job
 *	 may be reset or reused as soon as this returns
 * @fence: receives the job's fence, for hmirror_wait(); may be NULL
 *
 * The kernel checks every command and faults in the whole footprint before
 * anything runs; on any error no command of the job runs.
 *
 * Return: 0, -EINVAL (NULL @h or @job, empty job, a bad command, more
 * commands than hmirror_info.max_cmds), -E2BIG (footprint larger than
 * hmirror_info.max_job_bytes), -EFAULT (memory not mapped with the access a
 * command needs), -EAGAIN (too many jobs in flight: wait for some first),
 * -EIO (the context is dead), -EACCES (used from another process), or
 * another negative errno from the kernel.
 */
int hmirror_submit(struct hmirror *h, const struct hmirror_job *job,
		   uint64_t *fence);

/**
 * hmirror_wait() - wait for a job to complete
 * @h: handle
 * @fence: fence from hmirror_submit()
 * @timeout_ns: how long to wait; 0 only polls; UINT64_MAX in effect waits
 *		for ever
 * @status: on a 0 return, receives the job's outcome: 0 if it succeeded,
 *	    else its negative errno (-ECANCELED: the context was reset;
 *	    -ETIME: a WAIT_VALUE timed out; -EFAULT: the memory went away
 *	    under the job; -ESTALE: the job completed too long ago for its
 *	    status to be kept). May be NULL.
 *
 * Jobs of one context complete in submission order, so waiting for a fence
 * also waits for every job submitted before it.
 *
 * Return: 0 once the job completed (whatever its outcome), -ETIME if it did
 * not within @timeout_ns, -EINVAL (a fence never handed out, NULL @h),
 * -EINTR (a signal arrived; not retried, since that would restart the
 * timeout), or another negative errno from the kernel.
 */
int hmirror_wait(struct hmirror *h, uint64_t fence, uint64_t timeout_ns,
		 int *status);

/* ---- statistics --------------------------------------------------------- */

/**
 * hmirror_stats() - read the context's counters
 * @h: handle
 * @out: receives the counters; @out->size is set to the bytes the kernel
 *	 filled, and fields past them (a kernel older than this header) are 0
 *
 * The counters belong to the context (the open file), not to the device:
 * a fresh context reads all zeros. They can still be read once the context
 * is dead, for a post-mortem.
 *
 * Return: 0, -EINVAL on a NULL argument, -EPROTO if the kernel claims to
 * have filled more than it was given, or the kernel's negative errno.
 */
int hmirror_stats(struct hmirror *h, struct hmirror_stats *out);

/**
 * hmirror_mr_reg() - register a memory region
 * @h: the device handle
 * @addr: start (NULL with HMIRROR_MR_IMPLICIT_LEN: the whole address space)
 * @len: bytes, or HMIRROR_MR_IMPLICIT_LEN
 * @mode: HMIRROR_MR_ODP or HMIRROR_MR_PINNED
 * @access: HMIRROR_ACCESS_* flags
 * @key: in: 0 for a key of the kernel's choice, else the key wanted;
 *	 out: the region's key
 *
 * Return: 0, -EINVAL, -EEXIST (key taken), -ENOMEM (RLIMIT_MEMLOCK, for
 * PINNED), -EFAULT (PINNED over unmapped memory) or another -errno.
 */
int hmirror_mr_reg(struct hmirror *h, void *addr, uint64_t len,
		   unsigned int mode, unsigned int access, uint32_t *key);

/**
 * hmirror_mr_reg_flags() - hmirror_mr_reg() with registration flags
 * @h: the device handle
 * @addr: as for hmirror_mr_reg()
 * @len: as for hmirror_mr_reg()
 * @mode: as for hmirror_mr_reg()
 * @access: as for hmirror_mr_reg()
 * @flags: HMIRROR_MR_F_* (HMIRROR_MR_F_NO_MIGRATE: jobs on pages of the
 *	   region in another device's memory fail with -EXDEV)
 * @key: as for hmirror_mr_reg()
 *
 * Return: as hmirror_mr_reg(); -EINVAL for flags a PINNED region cannot
 * have.
 */
int hmirror_mr_reg_flags(struct hmirror *h, void *addr, uint64_t len,
			 unsigned int mode, unsigned int access,
			 unsigned int flags, uint32_t *key);

/**
 * hmirror_mr_advise() - prefetch or migrate part of an ODP region
 * @h: the device handle
 * @key: the region
 * @advice: HMIRROR_ADVISE_* (PREFETCH, PREFETCH_WRITE, PREFETCH_NO_FAULT,
 *	    MIGRATE_TO_DEVICE, MIGRATE_TO_SYSTEM)
 * @offset: first byte, from the region's start
 * @len: bytes
 * @flags: 0 to return when done, or HMIRROR_ADVISE_F_ASYNC to return at
 *	   once and get an HMIRROR_EVENT_ADVISE_DONE record (its status the
 *	   outcome) from hmirror_read_event() when done
 *
 * Return: 0, -ENOENT (no such key), -EINVAL (outside the region, bad
 * advice or flags), -EACCES (PREFETCH_WRITE on a region without WRITE),
 * -EOPNOTSUPP (a PINNED region; a MIGRATE hint without device memory),
 * -E2BIG, -EAGAIN (too much asynchronous advice queued or unread),
 * -EFAULT (a prefetch met unmapped memory) or another -errno.
 */
int hmirror_mr_advise(struct hmirror *h, uint32_t key, unsigned int advice,
		      uint64_t offset, uint64_t len, unsigned int flags);

/**
 * hmirror_mr_dereg() - deregister a memory region
 * @h: the device handle
 * @key: the region
 *
 * Return: 0, -ENOENT, or -EBUSY while a pending job names the region.
 */
int hmirror_mr_dereg(struct hmirror *h, uint32_t key);

/**
 * hmirror_job_use_keys() - name the last command's operands by region
 * @job: the job
 * @dst_key: if not 0, the command's dst is an offset into this region
 * @src_key: if not 0, the command's src is an offset into this region
 *
 * Build the command with the offsets in place of the addresses, then call
 * this.
 *
 * Return: 0 or -EINVAL (no command yet).
 */
int hmirror_job_use_keys(struct hmirror_job *job, uint32_t dst_key,
			 uint32_t src_key);

/**
 * hmirror_read_event() - read one event (a pinned region revoked, advice done)
 * @h: the device handle
 * @ev: the record
 *
 * Blocks unless the handle's descriptor is non-blocking; poll() reports
 * EPOLLPRI while events wait.
 *
 * Return: 0, -EAGAIN, -EINTR or another -errno.
 */
int hmirror_read_event(struct hmirror *h, struct hmirror_event *ev);

/**
 * hmirror_migrate() - move memory to the device or back
 * @h: handle
 * @addr: page-aligned start, in the calling process
 * @len: page-aligned length
 * @target: HMIRROR_MIGRATE_TO_DEVICE or HMIRROR_MIGRATE_TO_SYSTEM
 * @status: NULL, or len / page size entries: 0 for a page now at the
 *	    target, else the negative errno saying why it stayed
 * @moved: NULL, or receives the number of pages moved
 * @failed: NULL, or receives the number of pages left in place
 *
 * Return: 0 however many pages moved, or a negative errno.
 */
int hmirror_migrate(struct hmirror *h, void *addr, size_t len,
		    unsigned int target, int32_t *status, uint64_t *moved,
		    uint64_t *failed);

/* ---- fault injection ---------------------------------------------------- */

/* Where the module's injection sites are: one file per site. */
#define HMIRROR_INJECT_DIR	"/sys/kernel/debug/hmirror/fault"
#define HMIRROR_INJECT_PPM_MAX	1000000u

/**
 * struct hmirror_inject_spec - how an injection site fails
 * @ppm: probability that a candidate call fails, per million
 *	 (HMIRROR_INJECT_PPM_MAX: every one; 0: none)
 * @interval: only every interval-th call past @space is a candidate
 *	      (0 or 1: every one)
 * @times: failures to inject, -1 for no limit; 0 disarms the site
 * @space: calls that pass before any can fail
 * @dev: only calls for this device instance count; -1: any
 * @ctx: only calls for this context id of @dev count; -1: any
 * @pid: only calls for contexts of this process count; 0: any
 * @delay_ms: for the sites that delay (engine_stall, lost_completion,
 *	      reset_slow, mr_check_slow): how long; 0: the site's default
 * @seed: seed of the site's random numbers: the same seed and the same
 *	  calls give the same failures
 * @calls: out (hmirror_inject_get()): calls that passed the filter
 *	   since the site was armed
 * @failed: out: failures injected since then
 */
struct hmirror_inject_spec {
	uint32_t ppm;
	uint32_t interval;
	int32_t times;
	uint32_t space;
	int32_t dev;
	int32_t pid;
	int64_t ctx;
	uint32_t delay_ms;
	uint32_t pad;
	uint64_t seed;
	uint64_t calls;
	uint64_t failed;
};

/* Every call fails, from every context, for ever: adjust from there. */
#define HMIRROR_INJECT_SPEC_INIT { .ppm = HMIRROR_INJECT_PPM_MAX,	\
	.interval = 1, .times = -1, .dev = -1, .ctx = -1 }

/**
 * hmirror_inject() - arm (or disarm) one of the module's injection sites
 * @site: its name, as in HMIRROR_INJECT_DIR/sites (hmirrorctl inject --list)
 * @spec: how it is to fail; NULL disarms it. @calls and @failed are
 *	  ignored.
 *
 * Arming restarts the site's counters and random numbers from @spec->seed.
 * Needs root and debugfs mounted at /sys/kernel/debug.
 *
 * Return: 0, -EINVAL (a bad name or value), -ENOENT (no such site, or the
 * module is not loaded, or debugfs is not mounted), -EACCES, or another
 * negative errno from open(2) or write(2).
 */
int hmirror_inject(const char *site, const struct hmirror_inject_spec *spec);

/**
 * hmirror_inject_get() - read an injection site's settings and counters
 * @site: its name
 * @out: receives them (@times and @space as they are now, counting down)
 *
 * Return: 0, or as hmirror_inject(); -EPROTO if the file is not as
 * expected.
 */
int hmirror_inject_get(const char *site, struct hmirror_inject_spec *out);

/* ---- helpers ------------------------------------------------------------ */

/**
 * hmirror_strerror() - describe an error code as hmirror means it
 * @err: a negative errno as returned by this library (a positive errno is
 *	 taken the same way)
 *
 * For codes with an hmirror-specific meaning (-EACCES, -EIO, -ECANCELED,
 * -ETIME, -ESTALE, -EPROTO, -ENOTTY, ...) the text says what happened in
 * hmirror's terms; for others it is the C library's description.
 * Thread-safe: never formats into a buffer.
 *
 * Return: a constant string, never NULL; do not modify or free it.
 */
const char *hmirror_strerror(int err);

/**
 * hmirror_crc32c() - CRC32C exactly as the kernel's crc32c() computes it
 * @seed: initial CRC register, used as is
 * @buf: the bytes
 * @len: how many; 0 returns @seed
 *
 * Castagnoli polynomial, reflected (0x82F63B78), with no inversion before
 * or after: the same value a CRC32C command writes. For the standard
 * CRC-32C check value, invert around it:
 * hmirror_crc32c(~0U, "123456789", 9) ^ ~0U == 0xE3069283.
 *
 * Return: the CRC register after @buf.
 */
uint32_t hmirror_crc32c(uint32_t seed, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* HMIRROR_LIB_H */
