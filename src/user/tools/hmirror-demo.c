// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * hmirror-demo: what hmirror does, shown as it happens, in words a person
 * can follow. It uses libhmirror's public API (hmirror.h) and nothing else
 * of hmirror's, on device 0 (the module must be loaded, and /dev/hmirror0
 * open to the caller).
 *
 *   1. A job checksums (CRC32C) a buffer the CPU just wrote; the CPU
 *      computes the same checksum itself.
 *   2. PAGE class: the CPU drops (MADV_DONTNEED) and rewrites the source of
 *      a job waiting at a gate; the job copies the new data. munmap under
 *      another waiting job returns at once, and that job fails cleanly.
 *   3. NONE class: a child process's job waits at a gate that never opens
 *      while another thread of the child unmaps the job's memory. The
 *      munmap is held up to the context's deadline; then the context is
 *      reset and the child killed (policy kill). The parent's own context
 *      goes on working.
 *
 *   hmirror-demo [--pause]
 *
 * --pause: in part 3, once the child's job is stuck, print a line starting
 * with "(Paused" and wait for a line on standard input, so that the
 * contexts can be looked at (hmirrorctl contexts) before the munmap.
 *
 * Exit status: 0 if every check passed, 1 if one failed, 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hmirror.h"

#define KiB		1024UL
#define MiB		(1024UL * KiB)
#define NSEC_PER_SEC	1000000000ULL
/* How long the demo waits for any job: far more than any of them takes. */
#define JOB_TIMEOUT_NS	(10ULL * NSEC_PER_SEC)
/* Safety net for the gates of part 2, in microseconds. */
#define GATE_TIMEOUT_US	(10ULL * 1000000ULL)
/* "At once": the bound the guest suites put on a PAGE-class invalidation. */
#define AT_ONCE_NS	(200ULL * 1000000ULL)
/* Part 3: the child's context. */
#define CHILD_DEADLINE_MS	500U
#define CHILD_NAME		"demo-child"
/* Part 3: longest the parent waits for the child to die. */
#define CHILD_TIMEOUT_NS	(10ULL * NSEC_PER_SEC)

/* A check that failed: the device did not do what the demo expected. */
#define E_CHECK		EPROTO

struct demo {
	unsigned int dev;	/* device instance */
	struct hmirror *h;	/* the parent's context: PAGE class */
	int pause;		/* --pause */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		printf("   FAILED: mmap of %zu bytes: %s\n", len,
		       hmirror_strerror(-errno));
		return NULL;
	}
	return p;
}

static void unmap(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}

/* Pseudo-random bytes, different for each @seed (xorshift64). */
static void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* Does @p hold exactly what fill_random(@seed) writes? */
static int holds_random(const uint8_t *p, size_t len, uint64_t seed)
{
	uint8_t *want = malloc(len);
	int same;

	if (!want)
		return 0;
	fill_random(want, len, seed);
	same = !memcmp(p, want, len);
	free(want);
	return same;
}

static int api_failed(const char *what, int err)
{
	printf("   FAILED: %s: %s\n", what, hmirror_strerror(err));
	return err;
}

/* Submit @job and wait for it; its outcome goes to @status. */
static int run_job(struct hmirror *h, const struct hmirror_job *job,
		   int *status)
{
	uint64_t fence;
	int ret;

	ret = hmirror_submit(h, job, &fence);
	if (ret)
		return api_failed("submitting a job", ret);
	ret = hmirror_wait(h, fence, JOB_TIMEOUT_NS, status);
	if (ret)
		return api_failed("waiting for a job", ret);
	return 0;
}

static void open_gate(uint64_t *gate)
{
	atomic_store_explicit((_Atomic uint64_t *)gate, 1, memory_order_release);
}

/* ---- 1: the device reads what the CPU wrote -------------------------- */

static int part_checksum(struct demo *d)
{
	const size_t len = 1 * MiB;
	uint8_t *buf = map(len);
	uint32_t *result = map(4096);
	struct hmirror_stats st;
	struct hmirror_cmd cmds[1];
	struct hmirror_job job;
	uint32_t cpu;
	int status, ret = -ENOMEM;

	printf("1. A job on the device reads what the CPU just wrote.\n");
	if (!buf || !result)
		goto out;
	fill_random(buf, len, 1);
	*result = 0;
	printf("   The CPU filled a 1 MiB buffer with pseudo-random bytes.\n");

	hmirror_job_init(&job, cmds, 1);
	ret = hmirror_job_crc32c(&job, result, buf, len, ~0U);
	if (ret) {
		api_failed("building the CRC32C job", ret);
		goto out;
	}
	ret = run_job(d->h, &job, &status);
	if (ret)
		goto out;
	if (status) {
		ret = api_failed("the CRC32C job", status);
		goto out;
	}
	cpu = hmirror_crc32c(~0U, buf, len);
	/* Both are the raw CRC register: invert for the usual CRC32C. */
	printf("   A job on device %u checksummed it through the mirror: "
	       "CRC32C %08" PRIx32 "\n", d->dev, *result ^ ~0U);
	printf("   The CPU checksummed it too (hmirror_crc32c):        "
	       "CRC32C %08" PRIx32 "\n", cpu ^ ~0U);
	if (*result != cpu) {
		printf("   FAILED: the two checksums differ.\n");
		ret = -E_CHECK;
		goto out;
	}
	ret = hmirror_stats(d->h, &st);
	if (ret) {
		api_failed("reading the context's counters", ret);
		goto out;
	}
	printf("   They agree. When the job was submitted, the kernel mirrored "
	       "%" PRIu64 " pages\n   (the buffer's and the result's) into the "
	       "device's page table.\n", (uint64_t)st.pages_faulted);
	ret = 0;
out:
	unmap(buf, len);
	unmap(result, 4096);
	return ret;
}

/* ---- 2: PAGE class, memory taken away under a waiting job ------------ */

/* Submit "wait until *@gate == 1, then copy @len bytes from @src to @dst". */
static int submit_gated_copy(struct hmirror *h, uint64_t *gate, void *dst,
			     const void *src, size_t len, uint64_t timeout_us,
			     uint64_t *fence)
{
	struct hmirror_cmd cmds[2];
	struct hmirror_job job;
	int ret;

	hmirror_job_init(&job, cmds, 2);
	ret = hmirror_job_wait_value(&job, gate, 1, timeout_us);
	if (!ret)
		ret = hmirror_job_copy(&job, dst, src, len);
	if (ret)
		return api_failed("building a gated copy", ret);
	ret = hmirror_submit(h, &job, fence);
	if (ret)
		return api_failed("submitting a gated copy", ret);
	return 0;
}

/* Drop the source of a waiting job and write new data there. */
static int dontneed_under_job(struct demo *d, uint8_t *src, uint8_t *dst,
			      uint64_t *gate, size_t len)
{
	struct hmirror_stats before, after;
	uint64_t fence, t0, dt;
	int status, ret;

	fill_random(src, len, 2);	/* the old data */
	*gate = 0;
	ret = hmirror_stats(d->h, &before);
	if (ret)
		return api_failed("reading the context's counters", ret);
	ret = submit_gated_copy(d->h, gate, dst, src, len, GATE_TIMEOUT_US,
				&fence);
	if (ret)
		return ret;
	printf("   A job waits at a gate (a word in memory it watches), then "
	       "will copy\n   %zu KiB. Its source is mirrored already: the "
	       "kernel faulted it in at\n   submission.\n", len / KiB);

	t0 = now_ns();
	if (madvise(src, len, MADV_DONTNEED)) {
		ret = -errno;
		open_gate(gate);
		hmirror_wait(d->h, fence, JOB_TIMEOUT_NS, NULL);
		return api_failed("madvise(MADV_DONTNEED)", ret);
	}
	dt = now_ns() - t0;
	printf("   While it waits, the CPU drops those pages, "
	       "madvise(MADV_DONTNEED):\n   that returned after %" PRIu64
	       " us; the job did not hold it up.\n", dt / 1000);
	fill_random(src, len, 3);	/* the new data */
	printf("   The CPU writes new data into the source and opens the "
	       "gate.\n");
	open_gate(gate);
	ret = hmirror_wait(d->h, fence, JOB_TIMEOUT_NS, &status);
	if (ret)
		return api_failed("waiting for the gated copy", ret);
	if (status)
		return api_failed("the gated copy", status);
	if (dt >= AT_ONCE_NS) {
		printf("   FAILED: the madvise took %" PRIu64 " ms, too long for "
		       "a PAGE-class context.\n", dt / 1000000);
		return -E_CHECK;
	}
	if (holds_random(dst, len, 2)) {
		printf("   FAILED: the job copied the OLD data, from pages the "
		       "CPU had dropped.\n");
		return -E_CHECK;
	}
	if (!holds_random(dst, len, 3)) {
		printf("   FAILED: the job's copy is neither the old nor the new "
		       "data.\n");
		return -E_CHECK;
	}
	ret = hmirror_stats(d->h, &after);
	if (ret)
		return api_failed("reading the context's counters", ret);
	printf("   The job copied the NEW data: all %zu KiB match what the CPU "
	       "wrote last.\n", len / KiB);
	if (after.jobs_parked > before.jobs_parked)
		printf("   (On its way it stopped %" PRIu64 " time%s at a page "
		       "that was no longer mirrored,\n   and went on once the "
		       "kernel had mirrored the new one.)\n",
		       (uint64_t)(after.jobs_parked - before.jobs_parked),
		       after.jobs_parked - before.jobs_parked == 1 ? "" : "s");
	return 0;
}

/* Unmap the source of a waiting job: munmap returns, the job fails. */
static int munmap_under_job(struct demo *d, uint8_t *dst, uint64_t *gate,
			    size_t len)
{
	uint8_t *src = map(len);
	uint64_t fence, t0, dt;
	int status, ret;

	if (!src)
		return -ENOMEM;
	fill_random(src, len, 4);
	*gate = 0;
	ret = submit_gated_copy(d->h, gate, dst, src, len, GATE_TIMEOUT_US,
				&fence);
	if (ret) {
		munmap(src, len);
		return ret;
	}
	printf("   Another job waits at a gate to copy from a second buffer, "
	       "and the CPU\n   unmaps that buffer altogether: ");
	t0 = now_ns();
	if (munmap(src, len)) {
		ret = -errno;
		printf("\n");
		open_gate(gate);
		hmirror_wait(d->h, fence, JOB_TIMEOUT_NS, NULL);
		return api_failed("munmap", ret);
	}
	dt = now_ns() - t0;
	printf("munmap returned after %" PRIu64 " us.\n", dt / 1000);
	open_gate(gate);
	ret = hmirror_wait(d->h, fence, JOB_TIMEOUT_NS, &status);
	if (ret)
		return api_failed("waiting for the second gated copy", ret);
	if (dt >= AT_ONCE_NS) {
		printf("   FAILED: the munmap took %" PRIu64 " ms, too long for "
		       "a PAGE-class context.\n", dt / 1000000);
		return -E_CHECK;
	}
	if (status != -EFAULT) {
		printf("   FAILED: the job ended with \"%s\", not with EFAULT.\n",
		       hmirror_strerror(status));
		return -E_CHECK;
	}
	printf("   Gate opened: that job ended with EFAULT, \"its memory went "
	       "away\". It read\n   nothing from pages the CPU had given back.\n");
	return 0;
}

static int part_page_class(struct demo *d)
{
	const size_t len = 256 * KiB;
	uint8_t *src = map(len), *dst = map(len);
	uint64_t *gate = map(4096);
	int ret = -ENOMEM;

	printf("2. The CPU takes memory away from a job that can be preempted "
	       "(class PAGE,\n   the context's default: the device looks every "
	       "page up as it goes).\n");
	if (src && dst && gate) {
		ret = dontneed_under_job(d, src, dst, gate, len);
		if (!ret)
			ret = munmap_under_job(d, dst, &gate[1], len);
	}
	unmap(src, len);
	unmap(dst, len);
	unmap(gate, 4096);
	return ret;
}

/* ---- 3: NONE class, a stuck job and the deadline ---------------------- */

struct unmapper {
	int tfd;		/* where the munmap's start time goes */
	void *addr;
	size_t len;
};

static void *unmap_thread(void *arg)
{
	struct unmapper *u = arg;
	uint64_t t0 = now_ns();

	/* Tell the parent first: munmap does not return before the reset. */
	if (write(u->tfd, &t0, sizeof(t0)) != (ssize_t)sizeof(t0))
		return NULL;
	munmap(u->addr, u->len);
	return NULL;
}

static _Noreturn void child_fail(const char *what, int err)
{
	fprintf(stderr, "   FAILED in the child: %s: %s\n", what,
		hmirror_strerror(err));
	_exit(1);
}

/*
 * The child: its own context, class NONE, deadline CHILD_DEADLINE_MS,
 * policy kill; a job stuck at a gate; then, on the parent's word, a thread
 * unmaps the job's memory while the main thread waits for the job. The
 * kernel is to kill the child: getting to the end is a failure (exit 3).
 */
static _Noreturn void child_main(unsigned int dev, int tfd, int gofd)
{
	const size_t len = 64 * KiB;
	struct hmirror_cmd cmds[2];
	struct hmirror_ctx_config cfg;
	struct hmirror_job job;
	struct unmapper u;
	struct hmirror *h;
	uint8_t *src, *dst;
	uint64_t *gate, fence;
	pthread_t t;
	char go;
	int ret;

	prctl(PR_SET_NAME, CHILD_NAME, 0, 0, 0);
	ret = hmirror_open(dev, &h);
	if (ret)
		child_fail("opening a context", ret);
	ret = hmirror_set_preempt(h, HMIRROR_PREEMPT_NONE);
	if (!ret)
		ret = hmirror_set_deadline(h, CHILD_DEADLINE_MS);
	if (!ret)
		ret = hmirror_set_policy(h, HMIRROR_POLICY_KILL);
	if (!ret)
		ret = hmirror_config_get(h, &cfg);
	if (ret)
		child_fail("configuring the context", ret);
	if (cfg.preempt != HMIRROR_PREEMPT_NONE ||
	    cfg.deadline_ms != CHILD_DEADLINE_MS ||
	    cfg.policy != HMIRROR_POLICY_KILL)
		child_fail("the context's configuration did not stick", -E_CHECK);

	src = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gate = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED || gate == MAP_FAILED)
		child_fail("mmap", -errno);
	/*
	 * The CPU writes everything the job reads before the job exists: a
	 * page still backed by the shared zero page would be replaced on the
	 * CPU's first write, itself an invalidation that waits for the job.
	 */
	fill_random(src, len, 5);
	*gate = 0;

	hmirror_job_init(&job, cmds, 2);
	ret = hmirror_job_wait_value(&job, gate, 1, 0);	/* no timeout */
	if (!ret)
		ret = hmirror_job_copy(&job, dst, src, len);
	if (!ret)
		ret = hmirror_submit(h, &job, &fence);
	if (ret)
		child_fail("submitting the stuck job", ret);

	/* Job in place: tell the parent, then wait for its go. */
	go = 'R';
	if (write(tfd, &go, 1) != 1 || read(gofd, &go, 1) < 0)
		child_fail("talking to the parent", -errno);

	u = (struct unmapper){ .tfd = tfd, .addr = src, .len = len };
	ret = pthread_create(&t, NULL, unmap_thread, &u);
	if (ret)
		child_fail("starting the unmapping thread", -ret);
	/* Like a program waiting for its GPU. */
	hmirror_wait(h, fence, JOB_TIMEOUT_NS, NULL);
	pthread_join(t, NULL);
	_exit(3);
}

/* Wait up to CHILD_TIMEOUT_NS for @pid; its end time goes to @t_end. */
static int reap(pid_t pid, int *wstatus, uint64_t *t_end)
{
	const struct timespec ms = { .tv_nsec = 1000000 };
	uint64_t t0 = now_ns();
	pid_t r;

	for (;;) {
		r = waitpid(pid, wstatus, WNOHANG);
		if (r == pid) {
			*t_end = now_ns();
			return 0;
		}
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ns() - t0 > CHILD_TIMEOUT_NS) {
			kill(pid, SIGKILL);
			waitpid(pid, wstatus, 0);
			return -ETIMEDOUT;
		}
		nanosleep(&ms, NULL);
	}
}

static void describe_exit(int wstatus)
{
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 3)
		printf("   FAILED: the child was not killed: its munmap "
		       "returned and it went on.\n");
	else if (WIFEXITED(wstatus))
		printf("   FAILED: the child exited with status %d.\n",
		       WEXITSTATUS(wstatus));
	else if (WIFSIGNALED(wstatus))
		printf("   FAILED: the child was killed by signal %d (%s), not "
		       "by SIGKILL.\n", WTERMSIG(wstatus),
		       strsignal(WTERMSIG(wstatus)));
}

/* The parent's context, after the child's was reset: a job still runs. */
static int parent_still_works(struct demo *d)
{
	uint64_t *word = map(4096);
	struct hmirror_cmd cmds[1];
	struct hmirror_stats st;
	struct hmirror_job job;
	int status, ret;

	if (!word)
		return -ENOMEM;
	*word = 0;
	hmirror_job_init(&job, cmds, 1);
	ret = hmirror_job_write_value(&job, word, 42);
	if (ret)
		api_failed("building a job", ret);
	if (!ret)
		ret = run_job(d->h, &job, &status);
	if (!ret && status)
		ret = api_failed("the parent's job", status);
	if (!ret)
		ret = hmirror_stats(d->h, &st);
	if (!ret && (*word != 42 || st.escalations)) {
		printf("   FAILED: the parent's job wrote %" PRIu64 " (42 "
		       "expected), escalations %" PRIu64 ".\n", *word,
		       (uint64_t)st.escalations);
		ret = -E_CHECK;
	}
	if (!ret)
		printf("   The parent's own context, on the same device, was not "
		       "touched: a new job\n   on it wrote 42, and the CPU reads "
		       "%" PRIu64 ".\n", *word);
	munmap(word, 4096);
	return ret;
}

static int part_none_class(struct demo *d)
{
	int c2p[2], p2c[2], wstatus = 0, ret;
	uint64_t t_unmap = 0, t_end = 0, stall_ms;
	char msg;
	pid_t pid;

	printf("3. A job that cannot be preempted (class NONE: its pages are "
	       "fixed while it\n   runs, like a GPU without recoverable "
	       "faults) makes the CPU wait before\n   taking its memory away, "
	       "but only until its context's deadline.\n");
	if (pipe(c2p))
		return api_failed("pipe", -errno);
	if (pipe(p2c)) {
		ret = -errno;
		close(c2p[0]);
		close(c2p[1]);
		return api_failed("pipe", ret);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(c2p[0]);
		close(c2p[1]);
		close(p2c[0]);
		close(p2c[1]);
		return api_failed("fork", ret);
	}
	if (pid == 0) {
		close(c2p[0]);
		close(p2c[1]);
		child_main(d->dev, c2p[1], p2c[0]);
	}
	close(c2p[1]);
	close(p2c[0]);

	ret = -E_CHECK;
	if (read(c2p[0], &msg, 1) != 1) {
		reap(pid, &wstatus, &t_end);
		printf("   FAILED: the child ended before its job was in "
		       "place.\n");
		goto out;
	}
	printf("   A child process (\"" CHILD_NAME "\") opened its own context "
	       "on device %u:\n   class NONE, deadline %u ms, policy kill. "
	       "Its job waits at a gate that\n   never opens.\n", d->dev,
	       CHILD_DEADLINE_MS);
	if (d->pause) {
		char line[64];

		printf("(Paused with the child's job stuck: hmirrorctl contexts "
		       "shows it. Press Enter to go on.)\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			clearerr(stdin);
	}
	printf("   Now another thread of the child unmaps the job's memory. "
	       "munmap cannot\n   finish while the job may still use those "
	       "pages...\n");
	fflush(stdout);
	msg = 'G';
	if (write(p2c[1], &msg, 1) != 1) {
		ret = api_failed("telling the child to go on", -errno);
		kill(pid, SIGKILL);
		reap(pid, &wstatus, &t_end);
		goto out;
	}
	if (read(c2p[0], &t_unmap, sizeof(t_unmap)) != (ssize_t)sizeof(t_unmap)) {
		reap(pid, &wstatus, &t_end);
		printf("   FAILED: the child ended before its munmap.\n");
		describe_exit(wstatus);
		goto out;
	}
	ret = reap(pid, &wstatus, &t_end);
	if (ret == -ETIMEDOUT) {
		printf("   FAILED: the child was still alive %llu s after its "
		       "munmap began.\n", CHILD_TIMEOUT_NS / NSEC_PER_SEC);
		goto out;
	}
	if (ret) {
		api_failed("waiting for the child", ret);
		goto out;
	}
	ret = -E_CHECK;
	if (!WIFSIGNALED(wstatus) || WTERMSIG(wstatus) != SIGKILL) {
		describe_exit(wstatus);
		goto out;
	}
	stall_ms = (t_end - t_unmap) / 1000000;
	printf("   The child was killed by SIGKILL %" PRIu64 " ms after its "
	       "munmap began (deadline\n   %u ms): at the deadline the kernel "
	       "reset the context, so the job can no\n   longer touch the "
	       "memory, let the munmap go on, and the kill policy\n   killed "
	       "the context's owner.\n", stall_ms, CHILD_DEADLINE_MS);
	/* The deadline, not much less; plus reset and process teardown. */
	if (stall_ms < CHILD_DEADLINE_MS * 9 / 10 ||
	    stall_ms > CHILD_DEADLINE_MS + 2000) {
		printf("   FAILED: that is not what a %u ms deadline allows.\n",
		       CHILD_DEADLINE_MS);
		goto out;
	}
	ret = parent_still_works(d);
out:
	close(c2p[0]);
	close(p2c[1]);
	return ret;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct demo d = { .dev = 0 };
	struct hmirror_info info;
	int failed = 0, ret, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pause")) {
			d.pause = 1;
		} else {
			fprintf(stderr, "usage: hmirror-demo [--pause]\n");
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A child dead early must fail a write to its pipe, not kill us. */
	signal(SIGPIPE, SIG_IGN);

	ret = hmirror_open(d.dev, &d.h);
	if (ret) {
		printf("Cannot open /dev/" HMIRROR_DEV_PREFIX "%u: %s\n", d.dev,
		       hmirror_strerror(ret));
		return 1;
	}
	ret = hmirror_get_info(d.h, &info);
	if (!ret)
		ret = hmirror_set_preempt(d.h, HMIRROR_PREEMPT_PAGE);
	if (ret) {
		printf("Cannot set up a context on device %u: %s\n", d.dev,
		       hmirror_strerror(ret));
		hmirror_close(d.h);
		return 1;
	}
	printf("hmirror-demo, process %d: a context on device %u (backend %.*s). "
	       "Jobs name\nthis process's own addresses; the device reaches them "
	       "through the mirror.\n\n", (int)getpid(), d.dev,
	       (int)sizeof(info.backend), info.backend);

	failed += part_checksum(&d) != 0;
	printf("\n");
	failed += part_page_class(&d) != 0;
	printf("\n");
	failed += part_none_class(&d) != 0;
	printf("\n");

	hmirror_close(d.h);
	if (failed) {
		printf("%d of 3 parts FAILED.\n", failed);
		return 1;
	}
	printf("Every check passed.\n");
	return 0;
}
