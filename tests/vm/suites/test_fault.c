// SPDX-License-Identifier: GPL-2.0
/*
 * Guest suite: hmirror's fault injection sites (debugfs hmirror/fault/,
 * driven through libhmirror's hmirror_inject()). For every site a workload
 * hits it many times at a fixed seed, and after each run: data correct or
 * a clean errno (the ones each site may give are listed at its test),
 * STATS counters consistent, the site's failure count > 0 (it was really
 * hit), nothing left (hmirror/objects 0), and the module unloads: every
 * test loads it in its setup and unloads it in its teardown. The run
 * itself fails on any WARN, lockdep or KASAN report (tests/vm/run); the
 * debug flavour adds the kernel's own failslab (fail-nth), fail_page_alloc
 * (fail-nth, and runs of failures for this task only), fail_function and
 * a kmemleak scan.
 */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "guest.h"
#include "hmirror.h"

#define PG	4096ul
#define CHUNK	(2ul << 20)
#define FI	"/sys/kernel/debug/"

static const char *const sites[] = {
	"ctx_alloc", "range_alloc", "pte_alloc", "notifier_insert",
	"hmm_busy", "hmm_fault", "job_alloc", "devmem_alloc", "migrate_page",
	"engine_stall", "lost_completion", "reset_slow", "copy_error",
	"mr_check_slow",
};

static int fi_up(void **state)
{
	(void)state;
	hm_module_up("inval_deadline_ms=1000");
	return 0;
}

/*
 * Every site off, nothing left, the module unloads. Descriptors a failed
 * test left open are closed first, as its exit would close them, so one
 * failure does not fail the tests after it.
 */
static int fi_down(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++)
		assert_int_equal(hmirror_inject(sites[i], NULL), 0);
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	hm_module_down();
	return 0;
}

static void arm(const char *site, uint32_t pct, int times, uint64_t seed)
{
	struct hmirror_inject_spec s = HMIRROR_INJECT_SPEC_INIT;

	s.ppm = pct * 10000;
	s.times = times;
	s.seed = seed;
	assert_int_equal(hmirror_inject(site, &s), 0);
}

static void arm_delay(const char *site, uint32_t pct, int times,
		      uint32_t delay_ms)
{
	struct hmirror_inject_spec s = HMIRROR_INJECT_SPEC_INIT;

	s.ppm = pct * 10000;
	s.times = times;
	s.delay_ms = delay_ms;
	s.seed = 7;
	assert_int_equal(hmirror_inject(site, &s), 0);
}

/* Failures injected at @site since it was armed. */
static uint64_t injected(const char *site)
{
	struct hmirror_inject_spec s;

	assert_int_equal(hmirror_inject_get(site, &s), 0);
	print_message("# %s: %llu calls, %llu failed\n", site,
		      (unsigned long long)s.calls, (unsigned long long)s.failed);
	return s.failed;
}

/* Once idle, every job accepted ended one way. */
static void assert_jobs_add_up(int fd)
{
	struct hmirror_stats st;

	hm_stats(fd, &st);
	assert_int_equal(st.jobs_submitted,
			 st.jobs_completed + st.jobs_failed + st.jobs_cancelled);
}

/* The id of the context of ours opened last on device @dev. */
static long long last_ctx_id(unsigned int dev)
{
	char path[96], line[256];
	long long id = -1;
	unsigned int i;
	int pid;
	FILE *f;

	snprintf(path, sizeof(path), FI "hmirror/hmirror%u/contexts", dev);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%u %d", &i, &pid) == 2 && pid == getpid())
			id = i;
	fclose(f);
	assert_true(id >= 0);
	return id;
}

/*
 * ctx_alloc: 200 opens at 30%: each opens or fails with ENOMEM, as many
 * fail as the site says it failed. Breaks if a failed open leaked (objects)
 * or the site were not on the open path (failed == 0).
 */
static void test_ctx_alloc(void **state)
{
	unsigned int fails = 0;

	(void)state;
	arm("ctx_alloc", 30, -1, 1);
	for (int i = 0; i < 200; i++) {
		int fd = open("/dev/hmirror0", O_RDWR | O_CLOEXEC);

		if (fd < 0) {
			assert_int_equal(errno, ENOMEM);
			fails++;
		} else {
			close(fd);
		}
	}
	assert_int_equal(injected("ctx_alloc"), fails);
	assert_true(fails > 0 && fails < 200);
	assert_int_equal(guest_read_ll(HM_OBJECTS), 0);
}

/*
 * range_alloc, notifier_insert, pte_alloc: each job writes 8 bytes into a
 * chunk no job touched before, so each makes a new range (and its PTE
 * array). A failed submit gives ENOMEM and writes nothing; a good one
 * writes its value; STATS' ranges count exactly the chunks that worked.
 * Breaks if a failed range stayed published (ranges too high) or a job of
 * a failed submit ran (value written).
 */
static void chunk_workload(const char *site)
{
	size_t n = 200, len = n * CHUNK;
	uint8_t *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st;
	unsigned int ok = 0, fails = 0;
	struct hmirror_cmd c;

	assert_true(buf != MAP_FAILED);
	assert_int_equal(madvise(buf, len, MADV_NOHUGEPAGE), 0);
	for (size_t i = 0; i < n; i++)
		*(uint64_t *)(buf + i * CHUNK) = 0;
	arm(site, 30, -1, 2);
	for (size_t i = 0; i < n; i++) {
		uint64_t *p = (uint64_t *)(buf + i * CHUNK);
		int ret;

		c = hm_write_value(p, i + 1);
		ret = hm_run(fd, &c, 1);
		if (ret) {
			assert_int_equal(ret, -ENOMEM);
			assert_int_equal(*p, 0);
			fails++;
		} else {
			assert_int_equal(*p, i + 1);
			ok++;
		}
	}
	assert_int_equal(injected(site), fails);
	assert_true(fails > 0 && ok > 0);
	hm_stats(fd, &st);
	assert_int_equal(st.ranges, ok);
	assert_int_equal(st.jobs_submitted, ok);
	assert_jobs_add_up(fd);
	/* Disarmed, the chunks that failed work. */
	assert_int_equal(hmirror_inject(site, NULL), 0);
	c = hm_write_value((uint64_t *)buf, 77);
	assert_int_equal(hm_run(fd, &c, 1), 0);
	for (size_t i = 0; i < n; i++) {
		c = hm_write_value((uint64_t *)(buf + i * CHUNK), 5);
		assert_int_equal(hm_run(fd, &c, 1), 0);
	}
	hm_stats(fd, &st);
	assert_int_equal(st.ranges, n);
	close(fd);
	munmap(buf, len);
	assert_int_equal(guest_read_ll(HM_OBJECTS), 0);
}

static void test_range_alloc(void **state)
{
	(void)state;
	chunk_workload("range_alloc");
}

static void test_notifier_insert(void **state)
{
	(void)state;
	chunk_workload("notifier_insert");
}

static void test_pte_alloc(void **state)
{
	(void)state;
	chunk_workload("pte_alloc");
}

/*
 * A job per page that no job mapped before (so each needs a walk): FILL of
 * page i. Returns the number of failed submits, each with @err, and checks
 * every page: filled if its job ran, untouched otherwise.
 */
static unsigned int page_workload(int fd, uint8_t *buf, size_t n, int err)
{
	unsigned int fails = 0;

	for (size_t i = 0; i < n; i++) {
		struct hmirror_cmd c = hm_fill(buf + i * PG, 0x5a, PG);
		int ret = hm_run(fd, &c, 1);

		if (ret) {
			assert_int_equal(ret, err);
			fails++;
		}
		for (size_t b = 0; b < PG; b += 512)
			assert_int_equal(buf[i * PG + b], ret ? 0 : 0x5a);
	}
	return fails;
}

/*
 * hmm_busy at 30%: a storm of -EBUSY walks, every one retried: all 200
 * jobs succeed and STATS counts the retries. At 100%, for ever, a submit
 * gives up after HMM_RANGE_DEFAULT_TIMEOUT (1 s) with EBUSY instead of
 * spinning: breaks if the retry loop were unbounded (hang) or gave up at
 * the first -EBUSY (failed submits at 30%).
 */
static void test_hmm_busy(void **state)
{
	size_t n = 200;
	uint8_t *buf = hm_map(n * PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st;
	uint64_t t0, dt, inj;
	struct hmirror_cmd c;

	(void)state;
	arm("hmm_busy", 30, -1, 3);
	assert_int_equal(page_workload(fd, buf, n, 0), 0);
	inj = injected("hmm_busy");
	assert_true(inj > 0);
	hm_stats(fd, &st);
	assert_true(st.fault_retries >= inj);
	assert_int_equal(st.jobs_completed, n);

	arm("hmm_busy", 100, -1, 3);
	c = hm_fill(buf, 1, PG);
	assert_int_equal(madvise(buf, PG, MADV_DONTNEED), 0);
	t0 = hm_now_ns();
	assert_int_equal(hm_submit(fd, &c, 1, NULL), -EBUSY);
	dt = hm_now_ns() - t0;
	print_message("# a storm that never ends: -EBUSY after %llu ms\n",
		      (unsigned long long)dt / 1000000);
	assert_true(dt >= 900000000ull && dt < 5000000000ull);
	assert_jobs_add_up(fd);
	close(fd);
	munmap(buf, n * PG);
}

/* hmm_fault at 30%: EFAULT, nothing of the job runs; or the job runs. */
static void test_hmm_fault(void **state)
{
	size_t n = 200;
	uint8_t *buf = hm_map(n * PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	unsigned int fails;

	(void)state;
	arm("hmm_fault", 30, -1, 4);
	fails = page_workload(fd, buf, n, -EFAULT);
	assert_int_equal(injected("hmm_fault"), fails);
	assert_true(fails > 0 && fails < n);
	assert_jobs_add_up(fd);
	close(fd);
	munmap(buf, n * PG);
}

/*
 * job_alloc at 30% (two calls a submit: the job, its footprint): ENOMEM or
 * the job runs. Breaks if a half-built job leaked (objects) or ran.
 */
static void test_job_alloc(void **state)
{
	size_t n = 200;
	uint8_t *buf = hm_map(n * PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_NONE);
	struct hmirror_stats st;
	unsigned int fails;

	(void)state;
	arm("job_alloc", 30, -1, 5);
	fails = page_workload(fd, buf, n, -ENOMEM);
	assert_int_equal(injected("job_alloc"), fails);
	assert_true(fails > 0 && fails < n);
	hm_stats(fd, &st);
	assert_int_equal(st.jobs_submitted, n - fails);
	assert_jobs_add_up(fd);
	close(fd);
	munmap(buf, n * PG);
	assert_int_equal(guest_read_ll(HM_OBJECTS), 0);
}

/* The device's CRC32C of [p, p + len), by a job. */
static uint32_t dev_crc(int fd, const void *p, size_t len)
{
	uint32_t *out = hm_map(PG), v;
	struct hmirror_cmd c = { .op = HMIRROR_OP_CRC32C,
		.dst = (uintptr_t)out, .src = (uintptr_t)p, .len = len,
		.value = ~0U };

	assert_int_equal(hm_run(fd, &c, 1), 0);
	v = *out;
	munmap(out, PG);
	return v;
}

/*
 * 20 round trips of 64 pages, to the device and back, with @site at 20%:
 * every page is at the target (status 0) or says why not (@err), moved +
 * failed is the whole range, the device and the CPU read the same data.
 * Breaks if a page that stayed lost its data, or was reported moved.
 */
static void migrate_workload(const char *site, int err, int both_ways)
{
	size_t len = 64 * PG, n = len / PG;
	uint8_t *buf = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	int32_t status[64];
	uint64_t moved, failed, total_failed = 0;
	uint32_t crc;

	assert_int_equal(madvise(buf, len, MADV_NOHUGEPAGE), 0);
	hm_pattern(buf, len, 3);
	crc = hm_crc32c(~0U, buf, len);
	arm(site, 20, -1, 6);
	for (int round = 0; round < 20; round++) {
		for (int dir = 0; dir < 2; dir++) {
			unsigned int target = dir ? HMIRROR_MIGRATE_TO_SYSTEM :
						    HMIRROR_MIGRATE_TO_DEVICE;
			size_t bad = 0;

			assert_int_equal(hm_migrate(fd, buf, len, target,
						    status, &moved, &failed), 0);
			for (size_t i = 0; i < n; i++) {
				if (status[i]) {
					assert_int_equal(status[i], err);
					bad++;
				}
			}
			assert_int_equal(bad, failed);
			if (dir == 0 || both_ways)
				total_failed += failed;
			assert_int_equal(dev_crc(fd, buf, len), crc);
		}
		/* The CPU's reads bring everything home. */
		assert_true(hm_pattern_ok(buf, len, 3));
	}
	assert_true(injected(site) > 0);
	assert_true(total_failed > 0);
	assert_int_equal(hmirror_inject(site, NULL), 0);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				    status, &moved, &failed), 0);
	assert_int_equal(failed, 0);
	assert_int_equal(dev_crc(fd, buf, len), crc);
	assert_jobs_add_up(fd);
	close(fd);
	munmap(buf, len);
}

/* devmem_alloc: pages stay in system memory, -ENOMEM. */
static void test_devmem_alloc(void **state)
{
	(void)state;
	migrate_workload("devmem_alloc", -ENOMEM, 0);
}

/* migrate_page: the core leaves pages where they are (both ways), -EBUSY. */
static void test_migrate_page(void **state)
{
	(void)state;
	migrate_workload("migrate_page", -EBUSY, 1);
}

/*
 * engine_stall at 5% per step, 5 ms each: 100 copies of 4 pages all
 * complete with the right data, and take at least the stalls' time.
 * Then a NONE-class job stalled for 3 s holds a munmap past a 100 ms
 * deadline: the context is reset (escalations 1, the job cancelled, the
 * context -EIO), the munmap returns within deadline + reset bound. Breaks
 * if a stall were never resumed (timeouts) or the deadline missed a stall.
 */
static void engine_stall(void **state)
{
	size_t len = 4 * PG;
	uint8_t *src = hm_map(len), *dst = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE), status;
	struct hmirror_ctx_config cfg = {
		.set = HMIRROR_CFG_DEADLINE | HMIRROR_CFG_POLICY,
		.deadline_ms = 100, .policy = HMIRROR_POLICY_REVOKE,
	};
	struct hmirror_stats st;
	struct hmirror_cmd c = hm_copy(dst, src, len);
	uint64_t t0, dt, inj, fence = 0;

	(void)state;
	arm_delay("engine_stall", 5, -1, 5);
	t0 = hm_now_ns();
	for (int i = 0; i < 100; i++) {
		hm_pattern(src, len, i);
		assert_int_equal(hm_run(fd, &c, 1), 0);
		assert_true(hm_pattern_ok(dst, len, i));
	}
	dt = hm_now_ns() - t0;
	inj = injected("engine_stall");
	assert_true(inj > 0);
	assert_true(dt >= inj * 5000000ull);
	assert_jobs_add_up(fd);
	close(fd);

	fd = hm_open(0, HMIRROR_PREEMPT_NONE);
	assert_int_equal(hm_config(fd, &cfg), 0);
	arm_delay("engine_stall", 100, 1, 3000);
	c = hm_fill(dst, 1, len);
	assert_int_equal(hm_submit(fd, &c, 1, &fence), 0);
	t0 = hm_now_ns();
	assert_int_equal(munmap(dst, len), 0);
	dt = hm_now_ns() - t0;
	print_message("# munmap held by a stalled job: %llu ms\n",
		      (unsigned long long)dt / 1000000);
	assert_true(dt >= 90000000ull && dt < 1000000000ull);
	hm_stats(fd, &st);
	assert_int_equal(st.escalations, 1);
	assert_int_equal(st.jobs_cancelled, 1);
	assert_int_equal(hm_wait(fd, fence, 0, &status), -EIO);
	assert_jobs_add_up(fd);
	close(fd);
	munmap(src, len);
}

/*
 * lost_completion at 30%, 300 ms: WAIT with a 100 ms timeout gets the job
 * or -ETIME; a lost one is there by 2 s (the timeout finds it), status 0,
 * and took at least the delay (a loaded host may make others slow too).
 * A completion lost for 5 s is found at once by the next submit's kick.
 * Breaks if a lost completion were lost for good, or a kick did not find it.
 */
static void lost_completion(void **state)
{
	uint64_t *v = hm_map(PG), fence = 0, f2 = 0, t0, dt, inj;
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE), status;
	unsigned int late = 0, timeouts = 0;
	struct hmirror_cmd c;

	(void)state;
	arm_delay("lost_completion", 30, -1, 300);
	for (int i = 0; i < 40; i++) {
		c = hm_write_value(v, i + 1);
		t0 = hm_now_ns();
		assert_int_equal(hm_submit(fd, &c, 1, &fence), 0);
		if (hm_wait(fd, fence, 100000000ull, &status) == -ETIME) {
			timeouts++;
			assert_int_equal(hm_wait(fd, fence, 2000000000ull,
						 &status), 0);
		}
		late += hm_now_ns() - t0 >= 300000000ull;
		assert_int_equal(status, 0);
		assert_int_equal(*v, i + 1);
	}
	inj = injected("lost_completion");
	print_message("# %u timed out, %u took 300 ms or more\n", timeouts,
		      late);
	assert_true(inj > 0 && timeouts > 0);
	assert_true(late >= inj);
	assert_jobs_add_up(fd);

	arm_delay("lost_completion", 100, 1, 5000);
	c = hm_write_value(v, 100);
	assert_int_equal(hm_submit(fd, &c, 1, &fence), 0);
	/* The device does the work; only its completion goes missing. */
	for (int i = 0; i < 200 && *(volatile uint64_t *)v != 100; i++)
		usleep(10000);
	assert_int_equal(*v, 100);
	assert_int_equal(hm_wait(fd, fence, 50000000ull, &status), -ETIME);
	c = hm_write_value(v, 101);
	t0 = hm_now_ns();
	assert_int_equal(hm_submit(fd, &c, 1, &f2), 0);
	assert_int_equal(hm_wait(fd, fence, 2000000000ull, &status), 0);
	dt = hm_now_ns() - t0;
	assert_int_equal(status, 0);
	assert_true(dt < 1000000000ull);
	assert_int_equal(hm_wait(fd, f2, 2000000000ull, &status), 0);
	assert_int_equal(status, 0);
	assert_jobs_add_up(fd);
	close(fd);
	munmap(v, PG);
}

/*
 * A NONE-class job that waits for a value nobody writes, and a munmap of
 * its footprint: held for the deadline, then the context is reset.
 * Returns the dead context; *dt how long munmap took.
 */
static int held_munmap(uint32_t deadline_ms, uint64_t *dt)
{
	uint64_t *gate = hm_map(PG), fence = 0, t0;
	uint8_t *buf = hm_map(4 * PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_NONE);
	struct hmirror_ctx_config cfg = {
		.set = HMIRROR_CFG_DEADLINE | HMIRROR_CFG_POLICY,
		.deadline_ms = deadline_ms, .policy = HMIRROR_POLICY_REVOKE,
	};
	struct hmirror_cmd c[2] = {
		hm_wait_value(gate, 1, 10000000), hm_fill(buf, 1, 4 * PG),
	};

	assert_int_equal(hm_config(fd, &cfg), 0);
	assert_int_equal(hm_submit(fd, c, 2, &fence), 0);
	t0 = hm_now_ns();
	assert_int_equal(munmap(buf, 4 * PG), 0);
	*dt = hm_now_ns() - t0;
	munmap(gate, PG);
	return fd;
}

/*
 * reset_slow: a reset acknowledged 50 ms late (within the 100 ms reset
 * bound) makes each escalating munmap last deadline + 50 ms; one 1000 ms
 * late is given up on at the bound (the munmap returns by deadline + 100
 * ms and some slack, "reset not acknowledged"), and closing the context
 * waits for the rest of that same acknowledgment, not for a new one.
 * Breaks if the delay were not applied (too fast) or the reset bound did
 * not hold (too slow).
 */
static void reset_slow(void **state)
{
	struct hmirror_stats st;
	uint64_t dt, t0;
	int fd;

	(void)state;
	arm_delay("reset_slow", 100, -1, 50);
	for (int i = 0; i < 10; i++) {
		fd = held_munmap(50, &dt);
		assert_true(dt >= 95000000ull && dt < 600000000ull);
		hm_stats(fd, &st);
		assert_int_equal(st.escalations, 1);
		assert_int_equal(st.jobs_cancelled, 1);
		assert_jobs_add_up(fd);
		close(fd);
	}
	assert_int_equal(injected("reset_slow"), 10 + 10);

	arm_delay("reset_slow", 100, 1, 1000);
	fd = held_munmap(50, &dt);
	print_message("# munmap with a reset 1000 ms late: %llu ms\n",
		      (unsigned long long)dt / 1000000);
	assert_true(dt >= 140000000ull && dt < 800000000ull);
	t0 = hm_now_ns();
	close(fd);
	t0 = hm_now_ns() - t0;
	print_message("# close waited %llu ms for the rest\n",
		      (unsigned long long)t0 / 1000000);
	/*
	 * Injected 50 ms into the munmap, acknowledged 1000 ms after that:
	 * not before (the late acknowledgment forgotten), and not a second
	 * delay on top (a new one for the close's reset).
	 */
	assert_true(dt + t0 >= 1000000000ull && dt + t0 < 1900000000ull);
	assert_int_equal(injected("reset_slow"), 1);
}

/*
 * The owner of kill_first(): a NONE-class context (deadline 100 ms, policy
 * kill) whose job waits over a page of the memfd, then it watches the
 * context, as a user would, until something shows: the context dead
 * (poll's POLLERR, WAIT's -EIO) or the job ended. It reports what it saw
 * on @wfd; an owner killed first reports nothing.
 */
static void kill_first_owner(int memfd, int wfd)
{
	uint64_t *gate = hm_map(PG), fence = 0;
	uint8_t *shared = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED,
			       memfd, 0);
	int fd = hm_open(0, HMIRROR_PREEMPT_NONE), status, ret;
	struct hmirror_ctx_config cfg = {
		.set = HMIRROR_CFG_DEADLINE | HMIRROR_CFG_POLICY,
		.deadline_ms = 100, .policy = HMIRROR_POLICY_KILL,
	};
	struct hmirror_cmd c[2];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char seen;

	if (shared == MAP_FAILED)
		_exit(10);
	c[0] = hm_wait_value(gate, 1, 10000000);
	c[1] = hm_fill(shared, 1, PG);
	if (hm_config(fd, &cfg) || hm_submit(fd, c, 2, &fence))
		_exit(11);
	if (write(wfd, "R", 1) != 1)
		_exit(12);
	for (;;) {
		if (poll(&p, 1, 1) > 0 && (p.revents & POLLERR)) {
			seen = 'E';
			break;
		}
		ret = hm_wait(fd, fence, 0, &status);
		if (ret != -ETIME) {
			seen = ret ? 'D' : 'C';
			break;
		}
	}
	if (write(wfd, &seen, 1) != 1)
		_exit(13);
	_exit(0);
}

/*
 * reset_slow under the kill policy, across processes: another process's
 * punch of a memfd page that a child's stuck job uses escalates at the
 * deadline, and the child's reset is acknowledged 80 ms late. The child
 * watches its context every millisecond, but must die of SIGKILL without
 * having seen anything: the kill comes before the context is marked dead
 * and before its jobs are cancelled. Breaks if the owner were signalled
 * after the state change or the cancellation (it would see POLLERR during
 * the slow reset, or its job end, and exit on its own).
 */
static void kill_first(void **state)
{
	int memfd = memfd_create("hmirror-kill-first", MFD_CLOEXEC);
	int pfd[2], status;
	uint64_t t0, dt;
	ssize_t n;
	char c;
	pid_t pid;

	(void)state;
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, PG), 0);
	assert_int_equal(pipe(pfd), 0);
	arm_delay("reset_slow", 100, -1, 80);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(pfd[0]);
		kill_first_owner(memfd, pfd[1]);
	}
	close(pfd[1]);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	assert_int_equal(c, 'R');
	t0 = hm_now_ns();
	/* Unmaps the page from the child's mm: a blockable invalidation. */
	assert_int_equal(fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				   0, PG), 0);
	dt = hm_now_ns() - t0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	n = read(pfd[0], &c, 1);
	print_message("# punch held %llu ms; the owner %s\n",
		      (unsigned long long)dt / 1000000,
		      n == 1 ? (c == 'E' ? "saw POLLERR" : c == 'D' ?
				"saw -EIO" : "saw its job end") :
		      "saw nothing");
	assert_int_equal(n, 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* The deadline and the late reset, not more than the reset bound. */
	assert_true(dt >= 95000000ull && dt < 700000000ull);
	assert_true(injected("reset_slow") > 0);
	close(pfd[0]);
	close(memfd);
}

static int is_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/*
 * copy_error at 10% per step: 200 COPYs of 4 pages end 0 (all copied) or
 * -EIO, with the pages before the failing step copied and none after it.
 * STATS' jobs_failed is the number of -EIO jobs. Breaks if a failed job
 * were reported done, or went on copying.
 */
static void copy_error(void **state)
{
	size_t len = 4 * PG;
	uint8_t *src = hm_map(len), *dst = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st;
	unsigned int fails = 0;
	struct hmirror_cmd c = hm_copy(dst, src, len);

	(void)state;
	arm("copy_error", 10, -1, 8);
	for (int i = 1; i <= 200; i++) {
		int ret, copied = 1;

		hm_pattern(src, len, i);
		memset(dst, 0, len);
		ret = hm_run(fd, &c, 1);
		for (size_t p = 0; p < 4; p++) {
			int ok = is_zero(dst + p * PG, PG) ||
				 !memcmp(dst + p * PG, src + p * PG, PG);

			/* Each page whole: copied, or untouched (zero). */
			assert_true(ok);
			if (memcmp(dst + p * PG, src + p * PG, PG)) {
				copied = 0;
			} else {
				/* No page copied after one that was not. */
				assert_true(copied);
			}
		}
		if (ret) {
			assert_int_equal(ret, -EIO);
			assert_false(copied);
			fails++;
		} else {
			assert_true(copied);
		}
	}
	assert_int_equal(injected("copy_error"), fails);
	assert_true(fails > 0);
	hm_stats(fd, &st);
	assert_int_equal(st.jobs_failed, fails);
	assert_jobs_add_up(fd);
	close(fd);
	munmap(src, len);
	munmap(dst, len);
}

/* 100 submits' outcomes, as a bit string, with job_alloc armed at @seed. */
static void outcomes(int fd, uint64_t *buf, uint64_t seed, char *out)
{
	struct hmirror_cmd c = hm_write_value(buf, 1);

	arm("job_alloc", 30, -1, seed);
	for (int i = 0; i < 100; i++)
		out[i] = hm_run(fd, &c, 1) ? 'x' : '.';
	out[100] = '\0';
	print_message("# seed %llu: %s\n", (unsigned long long)seed, out);
}

/*
 * The same seed twice gives the same failures; another seed others.
 * Breaks if arming did not restart the PRNG from the seed.
 */
static void test_reproducible(void **state)
{
	uint64_t *v = hm_map(PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	char a[101], b[101], c[101];

	(void)state;
	outcomes(fd, v, 1234, a);
	outcomes(fd, v, 1234, b);
	outcomes(fd, v, 99, c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_non_null(strchr(a, 'x'));
	close(fd);
	munmap(v, PG);
}

/*
 * A site filtered to one context fails only that one: job_alloc at 100%
 * for context A leaves context B (same process, same device) alone, and
 * for device 1 leaves device 0 alone; ctx_alloc for a child's pid fails
 * the child's opens only. Breaks if the filter were ignored.
 */
static void test_filter(void **state)
{
	struct hmirror_inject_spec s = HMIRROR_INJECT_SPEC_INIT;
	uint64_t *v = hm_map(PG);
	int a = hm_open(0, HMIRROR_PREEMPT_PAGE), b, st;
	struct hmirror_cmd c = hm_write_value(v, 3);
	long long ida = last_ctx_id(0);
	pid_t pid;
	int pfd[2];
	char go = 0;

	(void)state;
	b = hm_open(0, HMIRROR_PREEMPT_PAGE);
	s.dev = 0;
	s.ctx = ida;
	assert_int_equal(hmirror_inject("job_alloc", &s), 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(hm_run(a, &c, 1), -ENOMEM);
		assert_int_equal(hm_run(b, &c, 1), 0);
	}
	assert_int_equal(injected("job_alloc"), 50);
	close(b);

	s = (struct hmirror_inject_spec)HMIRROR_INJECT_SPEC_INIT;
	s.dev = 1;
	assert_int_equal(hmirror_inject("job_alloc", &s), 0);
	assert_int_equal(hm_run(a, &c, 1), 0);
	b = hm_open(1, HMIRROR_PREEMPT_PAGE);
	assert_int_equal(hm_run(b, &c, 1), -ENOMEM);
	close(b);
	close(a);

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (read(pfd[0], &go, 1) != 1)
			_exit(10);
		for (int i = 0; i < 20; i++) {
			int fd = open("/dev/hmirror0", O_RDWR | O_CLOEXEC);

			if (fd >= 0 || errno != ENOMEM)
				_exit(11);
		}
		_exit(0);
	}
	s = (struct hmirror_inject_spec)HMIRROR_INJECT_SPEC_INIT;
	s.pid = pid;
	assert_int_equal(hmirror_inject("ctx_alloc", &s), 0);
	assert_int_equal(write(pfd[1], &go, 1), 1);
	for (int i = 0; i < 20; i++)
		close(hm_open(0, HMIRROR_PREEMPT_PAGE));
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(injected("ctx_alloc"), 20);
	close(pfd[0]);
	close(pfd[1]);
	munmap(v, PG);
}

/*
 * The debugfs format: "SKIP TIMES" (what test_devmem writes) still arms
 * space and times; interval; bad input is refused; the library refuses
 * bad names; hmirror/fault/sites lists every site.
 */
static void test_format(void **state)
{
	const char *site = FI "hmirror/fault/ctx_alloc";
	struct hmirror_inject_spec s = HMIRROR_INJECT_SPEC_INIT;
	char want[] = "...xx.....", got[11], line[256];
	unsigned int n = 0;
	FILE *f;

	(void)state;
	assert_int_equal(guest_write_file(site, "3 2"), 0);
	for (int i = 0; i < 10; i++) {
		int fd = open("/dev/hmirror0", O_RDWR | O_CLOEXEC);

		got[i] = fd < 0 ? 'x' : '.';
		if (fd >= 0)
			close(fd);
	}
	got[10] = '\0';
	assert_string_equal(got, want);
	assert_int_equal(hmirror_inject_get("ctx_alloc", &s), 0);
	assert_int_equal(s.times, 0);
	assert_int_equal(s.failed, 2);

	/* Every third call past the first two, three times. */
	assert_int_equal(guest_write_file(site, "space=2 interval=3 times=3"), 0);
	for (int i = 0; i < 14; i++) {
		int fd = open("/dev/hmirror0", O_RDWR | O_CLOEXEC);

		got[i % 10] = fd < 0 ? 'x' : '.';
		if (fd >= 0)
			close(fd);
		if (i == 9)
			assert_memory_equal(got, "....x..x..", 10);
	}
	assert_memory_equal(got, "x...", 4);
	assert_int_equal(guest_write_file(site, "0 0"), 0);

	assert_int_equal(guest_write_file(site, "probability=101"), -EINVAL);
	assert_int_equal(guest_write_file(site, "bogus=1"), -EINVAL);
	assert_int_equal(guest_write_file(site, "times=-2"), -EINVAL);
	assert_int_equal(hmirror_inject("../objects", &s), -EINVAL);
	assert_int_equal(hmirror_inject("no_such_site", &s), -ENOENT);
	s.ppm = HMIRROR_INJECT_PPM_MAX + 1;
	assert_int_equal(hmirror_inject("ctx_alloc", &s), -EINVAL);

	f = fopen(FI "hmirror/fault/sites", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		assert_true(strncmp(line, sites[n], strlen(sites[n])) == 0);
		n++;
	}
	fclose(f);
	assert_int_equal(n, sizeof(sites) / sizeof(sites[0]));
}

/* ---- the kernel's own fault injection (debug flavour) -------------------- */

static void fi_need(const char *path)
{
	if (!guest_path_exists(path))
		guest_skip("no %s: kernel without the kernel's fault injection (use KERNEL_FLAVOUR=debug)",
			   path);
}

/*
 * fail_function on hmirror's ALLOW_ERROR_INJECTION functions: submits
 * failing in hmirror_job_submit, hmirror_range_get or hmirror_pt_fault
 * (retval -ENOMEM) give ENOMEM; a migration whose hmirror_devmem_alloc
 * gives NULL leaves pages in place with -ENOMEM. Breaks if a function is
 * not marked (the inject write fails) or an error path leaks.
 */
static void test_fail_function(void **state)
{
	static const char *const fns[] = {
		"hmirror_job_submit", "hmirror_range_get", "hmirror_pt_fault",
	};
	char path[128];
	size_t n = 20;
	uint8_t *buf = hm_map(n * PG * 3);
	int32_t status[16];
	uint64_t moved, failed;
	int fd;

	(void)state;
	fi_need(FI "fail_function/inject");
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	assert_int_equal(guest_write_file(FI "fail_function/probability", "100"), 0);
	assert_int_equal(guest_write_file(FI "fail_function/interval", "1"), 0);
	assert_int_equal(guest_write_file(FI "fail_function/verbose", "0"), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(guest_write_file(FI "fail_function/inject", fns[i]), 0);
		snprintf(path, sizeof(path), FI "fail_function/%s/retval", fns[i]);
		/* A u64 attribute: -ENOMEM as its two's complement. */
		assert_int_equal(guest_write_file(path, "0xfffffffffffffff4"), 0);
		assert_int_equal(guest_write_file(FI "fail_function/times", "10"), 0);
		assert_int_equal(page_workload(fd, buf + i * n * PG, n, -ENOMEM), 10);
		assert_int_equal(guest_write_file(FI "fail_function/inject", "\n"), 0);
	}
	assert_jobs_add_up(fd);

	assert_int_equal(guest_write_file(FI "fail_function/inject",
					  "hmirror_devmem_alloc"), 0);
	assert_int_equal(guest_write_file(FI "fail_function/hmirror_devmem_alloc/retval",
					  "0"), 0);
	assert_int_equal(guest_write_file(FI "fail_function/times", "-1"), 0);
	assert_int_equal(hm_migrate(fd, buf, 16 * PG, HMIRROR_MIGRATE_TO_DEVICE,
				    status, &moved, &failed), 0);
	assert_int_equal(guest_write_file(FI "fail_function/inject", "\n"), 0);
	assert_int_equal(moved, 0);
	assert_int_equal(failed, 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(status[i], -ENOMEM);
	close(fd);
	munmap(buf, n * PG * 3);
	assert_int_equal(guest_read_ll(HM_OBJECTS), 0);
}

/*
 * The next @t page allocations of the tasks that set make-it-fail fail,
 * every one of them (task-filter, probability 100, times @t); 0: none
 * (probability 0, times and task-filter at their defaults).
 */
static void fa_first(unsigned int t)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", t);
	assert_int_equal(guest_write_file(FI "fail_page_alloc/probability",
					  t ? "100" : "0"), 0);
	assert_int_equal(guest_write_file(FI "fail_page_alloc/task-filter",
					  t ? "Y" : "N"), 0);
	assert_int_equal(guest_write_file(FI "fail_page_alloc/times", t ? v : "1"), 0);
}

/*
 * What the kernel's fault injection fails: @slab, every slab allocation
 * (failslab's ignore-gfp-wait off); @pages, every page allocation, of any
 * order, highmem (user pages, vmalloc's pages) included. Off, each is back
 * at the kernel's default (sleeping allocations ignored, and for pages
 * order 0 and highmem too). Only fail-nth fails anything (probability 0,
 * times at its default); fa_first() adds a run of failures. Nothing
 * printed: a failure is a clean errno, not a report.
 */
static void fi_counts(int slab, int pages)
{
	fi_need(FI "failslab/ignore-gfp-wait");
	fi_need(FI "fail_page_alloc/min-order");
	fi_need("/proc/thread-self/fail-nth");
	assert_int_equal(guest_write_file(FI "failslab/ignore-gfp-wait",
					  slab ? "N" : "Y"), 0);
	assert_int_equal(guest_write_file(FI "failslab/verbose", "0"), 0);
	assert_int_equal(guest_write_file(FI "failslab/probability", "0"), 0);
	assert_int_equal(guest_write_file(FI "fail_page_alloc/ignore-gfp-wait",
					  pages ? "N" : "Y"), 0);
	assert_int_equal(guest_write_file(FI "fail_page_alloc/ignore-gfp-highmem",
					  pages ? "N" : "Y"), 0);
	assert_int_equal(guest_write_file(FI "fail_page_alloc/min-order",
					  pages ? "0" : "1"), 0);
	assert_int_equal(guest_write_file(FI "fail_page_alloc/verbose", "0"), 0);
	assert_int_equal(guest_write_file(FI "fail_page_alloc/interval", "1"), 0);
	fa_first(0);
}

/*
 * Where failures may happen: around each call of the workload, fail-nth
 * armed for the @n-th counted allocation (@left: how many were still to
 * come after the call; 0: the n-th failed), or with @n 0 make-it-fail set
 * (fail_page_alloc's task-filter: this thread, during the call only).
 */
struct fi_window {
	int fd;			/* /proc/thread-self/fail-nth or make-it-fail */
	unsigned int n;
	int left;
};

/* The first thing these tests make: without the knobs, skip before it. */
static struct fi_window fi_window(int nth)
{
	const char *f = nth ? "/proc/thread-self/fail-nth" :
			      "/proc/thread-self/make-it-fail";
	struct fi_window w;

	fi_need(FI "failslab/ignore-gfp-wait");
	fi_need(FI "fail_page_alloc/min-order");
	fi_need(f);
	w = (struct fi_window){ .fd = open(f, O_RDWR | O_CLOEXEC) };
	assert_true(w.fd >= 0);
	return w;
}

static void fi_on(struct fi_window *w)
{
	char v[16];

	snprintf(v, sizeof(v), "%u", w->n ? w->n : 1);
	assert_int_equal(pwrite(w->fd, v, strlen(v), 0), (ssize_t)strlen(v));
}

static void fi_off(struct fi_window *w)
{
	char v[16] = { 0 };

	if (w->n) {
		assert_true(pread(w->fd, v, sizeof(v) - 1, 0) > 0);
		w->left = atoi(v);
	}
	assert_int_equal(pwrite(w->fd, "0", 1, 0), 1);
}

/* One open(): ENOMEM or a context. Returns 1 if it failed. */
static int fi_open(struct fi_window *w)
{
	int fd, err;

	fi_on(w);
	fd = open("/dev/hmirror0", O_RDWR | O_CLOEXEC);
	err = errno;
	fi_off(w);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	assert_int_equal(err, ENOMEM);
	return 1;
}

/*
 * One SUBMIT of a WRITE_VALUE of @v to @p, on a new chunk (range, notifier,
 * PTE array, job; and if the page is not there yet, the page tables and
 * the page, faulted in by the submit): a clean errno and the page
 * untouched, or the value written. Returns 1 if it failed.
 */
static int fi_submit(struct fi_window *w, uint64_t *p, uint64_t v)
{
	struct hmirror_cmd c = hm_write_value(p, v);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE), ret, status;
	uint64_t fence = 0;

	fi_on(w);
	ret = hm_submit(fd, &c, 1, &fence);
	fi_off(w);
	if (ret) {
		assert_true(ret == -ENOMEM || ret == -EFAULT);
		assert_int_equal(*p, 0);
	} else {
		assert_int_equal(hm_wait(fd, fence, 10000000000ull, &status), 0);
		assert_int_equal(status, 0);
		assert_int_equal(*p, v);
	}
	assert_jobs_add_up(fd);
	close(fd);
	return !!ret;
}

/*
 * One MIGRATE of [buf, buf + len) to @target: ENOMEM, or every page moved
 * or saying ENOMEM (moved + failed the whole range, failed the ENOMEM
 * statuses); the data intact for the device (@crc) and the CPU (pattern
 * 5), wherever the pages are. Returns 1 if the call or a page failed.
 */
static int fi_migrate(struct fi_window *w, int fd, uint8_t *buf, size_t len,
		      uint32_t crc, unsigned int target)
{
	uint64_t moved = 0, failed = 0;
	size_t np = len / PG, bad = 0;
	int32_t status[16];
	int ret;

	assert_true(np <= 16);
	fi_on(w);
	ret = hm_migrate(fd, buf, len, target, status, &moved, &failed);
	fi_off(w);
	if (ret) {
		assert_int_equal(ret, -ENOMEM);
	} else {
		for (size_t i = 0; i < np; i++) {
			if (status[i]) {
				assert_int_equal(status[i], -ENOMEM);
				bad++;
			}
		}
		assert_int_equal(bad, failed);
		assert_int_equal(moved + failed, np);
	}
	assert_int_equal(dev_crc(fd, buf, len), crc);
	return ret || failed;
}

/*
 * What the workloads below work on: a context, 16 pages of pattern 5
 * (their CRC32C @crc) and new chunks, untouched and without THP (each a
 * new range, its page not there yet), @next the next of them to use.
 */
struct fi_load {
	int fd;
	size_t len;
	uint8_t *buf;
	uint32_t crc;
	uint8_t *chunks;
	size_t nr_chunks, next;
	int touch;		/* write the chunk's page before the submit */
};

static struct fi_load fi_load(size_t nr_chunks, int touch)
{
	struct fi_load l = {
		.fd = hm_open(0, HMIRROR_PREEMPT_PAGE), .len = 16 * PG,
		.nr_chunks = nr_chunks, .touch = touch,
	};

	l.buf = hm_map(l.len);
	hm_pattern(l.buf, l.len, 5);
	l.crc = hm_crc32c(~0U, l.buf, l.len);
	l.chunks = mmap(NULL, nr_chunks * CHUNK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(l.chunks != MAP_FAILED);
	assert_int_equal(madvise(l.chunks, nr_chunks * CHUNK, MADV_NOHUGEPAGE), 0);
	return l;
}

/* The pages where they were written, every job accounted for, all gone. */
static void fi_load_end(struct fi_load *l, struct fi_window *w)
{
	assert_true(hm_pattern_ok(l->buf, l->len, 5));
	assert_jobs_add_up(l->fd);
	close(l->fd);
	munmap(l->buf, l->len);
	munmap(l->chunks, l->nr_chunks * CHUNK);
	close(w->fd);
	assert_int_equal(guest_read_ll(HM_OBJECTS), 0);
}

/* The calls, each returning 1 if it (or a page of it) failed. */
static int load_open(struct fi_window *w, struct fi_load *l)
{
	(void)l;
	return fi_open(w);
}

static int load_submit(struct fi_window *w, struct fi_load *l)
{
	uint64_t *p;

	assert_true(l->next < l->nr_chunks);
	p = (uint64_t *)(l->chunks + l->next++ * CHUNK);
	if (l->touch)
		*p = 0;
	return fi_submit(w, p, l->next);
}

static int load_to_device(struct fi_window *w, struct fi_load *l)
{
	int ret = fi_migrate(w, l->fd, l->buf, l->len, l->crc,
			     HMIRROR_MIGRATE_TO_DEVICE);

	/* The CPU's reads bring everything home. */
	assert_true(hm_pattern_ok(l->buf, l->len, 5));
	return ret;
}

/* To the device first (no failures there), then home under failures. */
static int load_to_system(struct fi_window *w, struct fi_load *l)
{
	uint64_t failed = 1;
	int32_t status[16];

	assert_int_equal(hm_migrate(l->fd, l->buf, l->len,
				    HMIRROR_MIGRATE_TO_DEVICE, status, NULL,
				    &failed), 0);
	assert_int_equal(failed, 0);
	return fi_migrate(w, l->fd, l->buf, l->len, l->crc,
			  HMIRROR_MIGRATE_TO_SYSTEM);
}

#define NTH_MAX	400

/*
 * fail-nth over @call, for n = 1, 2, ... until the call makes fewer
 * counted allocations than n. Returns the call's number of allocations.
 */
static unsigned int nth_loop(struct fi_window *w, struct fi_load *l,
			     const char *what,
			     int (*call)(struct fi_window *, struct fi_load *))
{
	unsigned int hits = 0;

	for (w->n = 1; w->n < NTH_MAX; w->n++) {
		hits += call(w, l);
		if (w->left)
			break;
	}
	print_message("# %s: %u allocations, %u calls failed\n", what,
		      w->n - 1, hits);
	return w->n - 1;
}

/*
 * Systematic failslab (fail-nth, as syzkaller does it): the n-th slab
 * allocation of one open(), one SUBMIT (a new chunk: range, notifier, PTE
 * array, job) fails, for n = 1, 2, ... until the call makes fewer. Each
 * gives a clean errno or succeeds with the right data; nothing leaks.
 */
static void test_failslab_nth(void **state)
{
	struct fi_window w = fi_window(1);
	struct fi_load l = fi_load(NTH_MAX, 1);

	(void)state;
	fi_counts(1, 0);
	assert_true(nth_loop(&w, &l, "open", load_open) > 0);
	assert_true(nth_loop(&w, &l, "submit", load_submit) > 2);
	fi_load_end(&l, &w);
}

#define FIRST_MAX	16

/*
 * A run of failures over @call: its first t page allocations fail, every
 * one, for t = 1 ... FIRST_MAX, so that fallbacks fail too (a kvmalloc()
 * whose kmalloc failed goes to vmalloc, whose pages fail in turn: high
 * order, bulk, one by one). Returns how many failures the call took at
 * the most.
 */
static unsigned int first_loop(struct fi_window *w, struct fi_load *l,
			       const char *what,
			       int (*call)(struct fi_window *, struct fi_load *))
{
	unsigned int t, hits = 0, used, most = 0;

	for (t = 1; t <= FIRST_MAX; t++) {
		fa_first(t);
		hits += call(w, l);
		used = t - guest_read_ll(FI "fail_page_alloc/times");
		most = used > most ? used : most;
	}
	fa_first(0);
	print_message("# %s: up to %u page allocations failed in one call, %u calls failed\n",
		      what, most, hits);
	return most;
}

typedef unsigned int (*fi_loop)(struct fi_window *w, struct fi_load *l,
				const char *what,
				int (*call)(struct fi_window *, struct fi_load *));

/*
 * Page allocations failing, by @loop (fail-nth, @nth, or a run of
 * failures), in open(), a SUBMIT on a new chunk, MIGRATE of 16 pages to
 * the device and back: each of the last three hit at least once.
 */
static void page_alloc_workload(int nth, fi_loop loop)
{
	struct fi_window w = fi_window(nth);
	struct fi_load l = fi_load(NTH_MAX, 0);

	fi_counts(0, 1);
	loop(&w, &l, "open", load_open);
	assert_true(loop(&w, &l, "submit", load_submit) > 0);
	assert_true(loop(&w, &l, "migrate to device", load_to_device) > 0);
	assert_true(loop(&w, &l, "migrate to system", load_to_system) > 0);
	fi_counts(0, 0);
	fi_load_end(&l, &w);
}

/*
 * Systematic fail_page_alloc: as test_failslab_nth, but fail-nth counts
 * page allocations (any order, sleeping or not, user pages too): those of
 * open(), of a SUBMIT that faults its page in (page tables, the page),
 * and of MIGRATE of 16 pages both ways (the migration's arrays, device
 * memory's backing pages, the system pages to come home to). Clean
 * errnos, the data intact, nothing left, and no kernel report.
 */
static void test_fail_page_alloc_nth(void **state)
{
	(void)state;
	page_alloc_workload(1, nth_loop);
}

/*
 * fail_page_alloc's runs of failures, as under real pressure, where one
 * failure rarely comes alone: the first 1 ... 16 page allocations of one
 * open(), SUBMIT on a new chunk, MIGRATE to the device and back fail
 * (task-filter, make-it-fail set around the call only: no other task, nor
 * the test's own page faults). Clean errnos, the data intact, nothing
 * left, and no kernel report: hmirror's kvmalloc() arrays are __GFP_NOWARN,
 * their failure an ENOMEM to the caller and not a vmalloc warning with a
 * stack trace. Breaks if a fallback's failure were not handled, or warned.
 */
static void test_fail_page_alloc_first(void **state)
{
	(void)state;
	page_alloc_workload(0, first_loop);
}

/* Debug flavour: kmemleak finds nothing of hmirror's after all of the above. */
static void test_kmemleak(void **state)
{
	(void)state;
	assert_int_equal(hm_kmemleak_suspects(), 0);
}

#define FI_TEST(t) cmocka_unit_test_setup_teardown(t, fi_up, fi_down)

/*
 * engine_stall, lost_completion, reset_slow and copy_error are sites of the
 * sw engine; the pci backend's device is told to misbehave through its
 * model instead (test_pci).
 */
static void need_sw_engine(void)
{
	if (strcmp(guest_backend(), "sw"))
		guest_skip("a site of the sw engine: the %s backend's device injects its own faults (test_pci)",
			   guest_backend());
}

static void test_engine_stall(void **state)
{
	need_sw_engine();
	engine_stall(state);
}

static void test_lost_completion(void **state)
{
	need_sw_engine();
	lost_completion(state);
}

static void test_reset_slow(void **state)
{
	need_sw_engine();
	reset_slow(state);
}

static void test_copy_error(void **state)
{
	need_sw_engine();
	copy_error(state);
}

/* reset_slow is the sw engine's site. */
static void test_kill_first(void **state)
{
	need_sw_engine();
	kill_first(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FI_TEST(test_ctx_alloc),
		FI_TEST(test_range_alloc),
		FI_TEST(test_notifier_insert),
		FI_TEST(test_pte_alloc),
		FI_TEST(test_hmm_busy),
		FI_TEST(test_hmm_fault),
		FI_TEST(test_job_alloc),
		FI_TEST(test_devmem_alloc),
		FI_TEST(test_migrate_page),
		FI_TEST(test_engine_stall),
		FI_TEST(test_lost_completion),
		FI_TEST(test_reset_slow),
		FI_TEST(test_kill_first),
		FI_TEST(test_copy_error),
		FI_TEST(test_reproducible),
		FI_TEST(test_filter),
		FI_TEST(test_format),
		FI_TEST(test_fail_function),
		FI_TEST(test_failslab_nth),
		FI_TEST(test_fail_page_alloc_nth),
		FI_TEST(test_fail_page_alloc_first),
		cmocka_unit_test(test_kmemleak),
	};

	guest_suite_setup();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
