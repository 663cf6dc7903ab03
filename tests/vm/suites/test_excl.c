// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Guest suite: device-exclusive access (HMIRROR_CMD_F_EXCLUSIVE). An
 * exclusive atomic leaves the CPU's PTE a device-exclusive swap entry
 * (seen in /proc/self/pagemap) and the device a PTE marked exclusive; any
 * CPU access, read or write, takes the page back and the device's PTE
 * away; fork restores the page; a parked PAGE-class job takes the page
 * again; pages in device memory need no exclusivity; bad flags change
 * nothing.
 */
#include <sys/wait.h>

#include "guest.h"

static unsigned int cls_page = HMIRROR_PREEMPT_PAGE;
static unsigned int cls_none = HMIRROR_PREEMPT_NONE;

#define CLS(state) (*(unsigned int *)*(state))
#define PG 4096UL

#define PM_PRESENT	(1ULL << 63)
#define PM_SWAP		(1ULL << 62)
#define PM_FRAME	((1ULL << 55) - 1)
#define PM_SWP_TYPE_BITS	5	/* MAX_SWAPFILES_SHIFT */

static int suite_up(void **state)
{
	(void)state;
	hm_module_up("inval_deadline_ms=1000");
	return 0;
}

static int suite_down(void **state)
{
	(void)state;
	hm_module_down();
	return 0;
}

/* The pagemap entry of @p's page: reading it does not touch the page. */
static uint64_t pagemap(const void *p)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &e, sizeof(e),
			       ((uintptr_t)p / PG) * sizeof(e)), sizeof(e));
	close(fd);
	return e;
}

/* The pfn the CPU maps @p's page with; fails unless it is present. */
static uint64_t present_pfn(const void *p)
{
	uint64_t e = pagemap(p);

	assert_true(e & PM_PRESENT);
	assert_false(e & PM_SWAP);
	return e & PM_FRAME;
}

/*
 * The CPU's PTE of @p is a device-exclusive entry for page @pfn: not
 * present, a swap-type entry, and (unlike a real swap entry) carrying the
 * pfn of the page it stands for.
 */
static void assert_device_exclusive(const void *p, uint64_t pfn)
{
	uint64_t e = pagemap(p);

	assert_false(e & PM_PRESENT);
	assert_true(e & PM_SWAP);
	assert_int_equal((e & PM_FRAME) >> PM_SWP_TYPE_BITS, pfn);
}

static struct hmirror_cmd excl_add(uint64_t *p, uint64_t v)
{
	return (struct hmirror_cmd){ .op = HMIRROR_OP_ATOMIC_ADD,
		.flags = HMIRROR_CMD_F_EXCLUSIVE, .dst = (uintptr_t)p,
		.value = v };
}

/* One CPU access the compiler cannot drop or merge. */
static uint64_t cpu_read(const uint64_t *p)
{
	return *(const volatile uint64_t *)p;
}

static void cpu_write(uint64_t *p, uint64_t v)
{
	*(volatile uint64_t *)p = v;
}

/*
 * A page with v[0] = 40, an exclusive add of 2 run on it; the CPU has not
 * touched it since. Returns its pfn.
 */
static uint64_t excl_setup(int fd, uint64_t *v)
{
	struct hmirror_cmd c = excl_add(&v[0], 2);
	struct hmirror_stats st;
	uint64_t pfn;

	cpu_write(&v[0], 40);
	pfn = present_pfn(v);
	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_device_exclusive(v, pfn);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_taken, 1);
	assert_int_equal(st.excl_revoked, 0);
	assert_int_equal(st.ptes, 1);
	return pfn;
}

/* The add is right, and the CPU's page table really gave the page away. */
static void test_excl_atomic_add(void **state)
{
	uint64_t *v = hm_map(PG);
	int fd = hm_open(0, CLS(state));
	struct hmirror_cmd c = excl_add(&v[0], 5);
	struct hmirror_stats st;
	uint64_t pfn = excl_setup(fd, v);

	/* A second exclusive job on the page the device still holds. */
	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_device_exclusive(v, pfn);
	hm_stats(fd, &st);
	/* Already ours: not taken again, nothing revoked. */
	assert_int_equal(st.excl_taken, 1);
	assert_int_equal(st.excl_revoked, 0);
	assert_int_equal(st.jobs_completed, 2);

	assert_int_equal(cpu_read(&v[0]), 47);

	/* WRITE_VALUE takes the flag too. */
	c = hm_write_value(&v[1], 9);
	c.flags = HMIRROR_CMD_F_EXCLUSIVE;
	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_device_exclusive(v, pfn);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_taken, 2);
	assert_int_equal(cpu_read(&v[1]), 9);
	close(fd);
	munmap(v, PG);
}

/*
 * Other commands of the job on the same page do not take the page back:
 * the job runs through the exclusive PTE, and the page is still the
 * device's at the end.
 */
static void test_excl_mixed_job(void **state)
{
	uint64_t *v = hm_map(PG);
	int fd = hm_open(0, CLS(state));
	struct hmirror_cmd c[3];
	struct hmirror_stats st;
	uint64_t pfn;

	cpu_write(&v[0], 40);
	pfn = present_pfn(v);
	c[0] = excl_add(&v[0], 2);
	c[1] = hm_copy(&v[2], &v[0], 8);
	c[2] = hm_write_value(&v[3], 3);
	assert_int_equal(hm_run(fd, c, 3), 0);
	assert_device_exclusive(v, pfn);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_taken, 1);
	assert_int_equal(st.excl_revoked, 0);
	assert_int_equal(cpu_read(&v[0]), 42);
	assert_int_equal(cpu_read(&v[2]), 42);
	assert_int_equal(cpu_read(&v[3]), 3);
	close(fd);
	munmap(v, PG);
}

/*
 * A THP: make_device_exclusive() maps the folio with PTEs and takes one of
 * them; the device's huge entry goes and one 4 KiB exclusive PTE remains.
 */
static void test_excl_thp(void **state)
{
	size_t len = 2UL << 20;
	uint8_t *buf = hm_map_aligned(len, 1);
	uint64_t *v = (uint64_t *)(buf + len / 2);
	int fd = hm_open(0, CLS(state));
	struct hmirror_cmd m = { .op = HMIRROR_OP_MIRROR,
				 .src = (uintptr_t)buf, .len = len };
	struct hmirror_cmd c = excl_add(v, 2);
	struct hmirror_stats st;
	uint64_t pfn;

	memset(buf, 0, len);
	cpu_write(v, 40);
	pfn = present_pfn(v);
	assert_int_equal(hm_run(fd, &m, 1), 0);
	hm_stats(fd, &st);
	if (st.ptes != 512 || st.pt_bytes > 4096)
		guest_skip("no THP for the buffer (ptes %llu)",
			   (unsigned long long)st.ptes);

	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_device_exclusive(v, pfn);
	/* Its neighbours stay mapped by the CPU, with the same folio's pages. */
	assert_int_equal(present_pfn(buf + len / 2 - PG), pfn - 1);
	assert_int_equal(present_pfn(buf + len / 2 + PG), pfn + 1);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_taken, 1);
	assert_int_equal(st.ptes, 1);
	assert_int_equal(cpu_read(v), 42);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_revoked, 1);
	close(fd);
	munmap(buf, len);
}

/* A CPU write revokes; both writes are in memory; the device takes it again. */
static void test_excl_revoked_by_cpu_write(void **state)
{
	uint64_t *v = hm_map(PG);
	int fd = hm_open(0, CLS(state));
	struct hmirror_cmd c = excl_add(&v[0], 100);
	struct hmirror_stats st;
	uint64_t pfn = excl_setup(fd, v);

	cpu_write(&v[1], 7);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_revoked, 1);
	assert_int_equal(st.ptes, 0);
	/* The same page, back in the CPU's page table. */
	assert_int_equal(present_pfn(v), pfn);
	assert_int_equal(cpu_read(&v[0]), 42);
	assert_int_equal(cpu_read(&v[1]), 7);

	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_device_exclusive(v, pfn);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_taken, 2);
	assert_int_equal(st.excl_revoked, 1);
	assert_int_equal(st.ptes, 1);
	assert_int_equal(cpu_read(&v[0]), 142);
	assert_int_equal(cpu_read(&v[1]), 7);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_revoked, 2);
	close(fd);
	munmap(v, PG);
}

/* A read is enough: device-exclusive entries fault on any access. */
static void test_excl_revoked_by_cpu_read(void **state)
{
	uint64_t *v = hm_map(PG);
	int fd = hm_open(1, CLS(state));
	struct hmirror_stats st;
	uint64_t pfn = excl_setup(fd, v);

	assert_int_equal(hm_ctx_counter(1, getpid(), "excl_taken"), 1);
	assert_int_equal(hm_ctx_counter(1, getpid(), "excl_revoked"), 0);
	assert_int_equal(cpu_read(&v[0]), 42);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_revoked, 1);
	assert_int_equal(st.ptes, 0);
	assert_int_equal(present_pfn(v), pfn);
	assert_int_equal(hm_ctx_counter(1, getpid(), "excl_revoked"), 1);
	close(fd);
	munmap(v, PG);
}

/*
 * PAGE class: the engine runs an exclusive command only through an
 * exclusive PTE. The page is revoked while the job waits, then mapped
 * again, not exclusive, by a later job's submit: the waiting job must
 * park and take the page exclusive again before it adds.
 */
static void test_excl_park_retakes(void **state)
{
	uint64_t *v = hm_map(PG), *w = hm_map(PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_cmd a[2], b = hm_write_value(&v[1], 5);
	struct hmirror_stats st;
	uint64_t fa = 0, fb = 0, pfn;
	int status = -1;

	(void)state;
	cpu_write(&v[0], 40);
	pfn = present_pfn(v);
	a[0] = hm_wait_value(&w[0], 1, 0);
	a[1] = excl_add(&v[0], 2);
	assert_int_equal(hm_submit(fd, a, 2, &fa), 0);
	assert_device_exclusive(v, pfn);

	assert_int_equal(cpu_read(&v[0]), 40);		/* revokes */
	assert_int_equal(hm_submit(fd, &b, 1, &fb), 0);	/* maps it plainly */
	assert_int_equal(present_pfn(v), pfn);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_taken, 1);
	assert_int_equal(st.excl_revoked, 1);
	assert_int_equal(st.ptes, 2);

	__atomic_store_n(&w[0], 1, __ATOMIC_RELEASE);
	assert_int_equal(hm_wait(fd, fb, 10000000000ull, &status), 0);
	assert_int_equal(status, 0);
	assert_int_equal(hm_wait(fd, fa, 0, &status), 0);
	assert_int_equal(status, 0);
	hm_stats(fd, &st);
	assert_true(st.jobs_parked >= 1);
	assert_int_equal(st.excl_taken, 2);
	assert_device_exclusive(v, pfn);
	assert_int_equal(cpu_read(&v[0]), 42);
	assert_int_equal(cpu_read(&v[1]), 5);
	close(fd);
	munmap(v, PG);
	munmap(w, PG);
}

/* Unknown flags and flags on other commands: -EINVAL, nothing runs. */
static void test_excl_bad_flags(void **state)
{
	uint64_t *v = hm_map(2 * PG);
	uint64_t *ro = hm_map(PG);
	uint64_t *shared = mmap(NULL, PG, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int fd = hm_open(0, CLS(state));
	uintptr_t d = (uintptr_t)&v[512];
	struct hmirror_cmd c[2];
	struct hmirror_stats st;
	const struct {
		struct hmirror_cmd cmd;
		int err;
	} cases[] = {
		{ { .op = HMIRROR_OP_ATOMIC_ADD, .flags = 1U << 1, .dst = d }, -EINVAL },
		{ { .op = HMIRROR_OP_ATOMIC_ADD, .flags = 1U << 31, .dst = d }, -EINVAL },
		{ { .op = HMIRROR_OP_ATOMIC_ADD,
		    .flags = HMIRROR_CMD_F_EXCLUSIVE | 2, .dst = d }, -EINVAL },
		{ { .op = HMIRROR_OP_WRITE_VALUE, .flags = 4, .dst = d }, -EINVAL },
		{ { .op = HMIRROR_OP_COPY, .flags = HMIRROR_CMD_F_EXCLUSIVE,
		    .dst = d, .src = d + 8, .len = 8 }, -EINVAL },
		{ { .op = HMIRROR_OP_FILL, .flags = HMIRROR_CMD_F_EXCLUSIVE,
		    .dst = d, .len = 8 }, -EINVAL },
		{ { .op = HMIRROR_OP_CRC32C, .flags = HMIRROR_CMD_F_EXCLUSIVE,
		    .dst = d, .src = d + 8, .len = 8 }, -EINVAL },
		{ { .op = HMIRROR_OP_WAIT_VALUE, .flags = HMIRROR_CMD_F_EXCLUSIVE,
		    .src = d }, -EINVAL },
		{ { .op = HMIRROR_OP_DELAY, .flags = HMIRROR_CMD_F_EXCLUSIVE,
		    .aux = 1 }, -EINVAL },
		{ { .op = HMIRROR_OP_MIRROR, .flags = HMIRROR_CMD_F_EXCLUSIVE,
		    .src = d, .len = 8 }, -EINVAL },
		/* Well-formed, but the memory cannot be taken. */
		{ { .op = HMIRROR_OP_ATOMIC_ADD, .flags = HMIRROR_CMD_F_EXCLUSIVE,
		    .dst = (uintptr_t)shared }, -EOPNOTSUPP },
		{ { .op = HMIRROR_OP_WRITE_VALUE, .flags = HMIRROR_CMD_F_EXCLUSIVE,
		    .dst = (uintptr_t)ro }, -EFAULT },
	};
	uint64_t pfn = present_pfn(&v[512]);

	assert_true(shared != MAP_FAILED);
	shared[0] = 0;
	assert_int_equal(mprotect(ro, PG, PROT_READ), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* A valid first command that must not run. */
		c[0] = hm_write_value(&v[0], 0xbad);
		c[1] = cases[i].cmd;
		if (hm_submit(fd, c, 2, NULL) != cases[i].err)
			fail_msg("case %zu: want %d", i, cases[i].err);
	}
	hm_stats(fd, &st);
	assert_int_equal(st.jobs_submitted, 0);
	assert_int_equal(st.excl_taken, 0);
	/* Nothing was taken from the CPU either. */
	assert_int_equal(present_pfn(&v[512]), pfn);
	assert_true(pagemap(shared) & PM_PRESENT);
	assert_int_equal(v[0], 0);
	assert_int_equal(shared[0], 0);
	close(fd);
	munmap(v, 2 * PG);
	munmap(ro, PG);
	munmap(shared, PG);
}

/*
 * fork with an exclusive page: copy_nonpresent_pte() restores the CPU's
 * PTE in the parent (after the COW invalidation has taken the device's
 * PTEs) and the child gets the data. The parent can take it again.
 */
static void test_excl_fork(void **state)
{
	uint64_t *v = hm_map(PG);
	int fd = hm_open(0, CLS(state));
	struct hmirror_cmd c = excl_add(&v[0], 1);
	struct hmirror_stats st;
	uint64_t pfn = excl_setup(fd, v);
	int status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child sees the device's add, and writes its own copy. */
		if (cpu_read(&v[0]) != 42)
			_exit(1);
		cpu_write(&v[0], 1000);
		_exit(0);
	}
	/* Before the parent touches it: restored by fork itself. */
	assert_int_equal(present_pfn(v), pfn);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_revoked, 1);
	assert_int_equal(st.ptes, 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(cpu_read(&v[0]), 42);

	assert_int_equal(hm_run(fd, &c, 1), 0);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_taken, 2);
	assert_false(pagemap(v) & PM_PRESENT);
	assert_int_equal(cpu_read(&v[0]), 43);
	close(fd);
	munmap(v, PG);
}

/*
 * A page in the device's own memory is exclusive to it already: the add
 * runs there, nothing is taken, and the page stays on the device.
 */
static void test_excl_device_memory(void **state)
{
	struct hmirror_migrate m = { .len = PG,
				     .target = HMIRROR_MIGRATE_TO_DEVICE };
	struct hmirror_stats st;
	struct hmirror_cmd c;
	uint64_t faults0, *v;
	int fd;

	(void)state;
	/* Before anything is made: a skip leaves the test at once. */
	hm_need_vram(0);
	v = hm_map(PG);
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	c = excl_add(&v[0], 2);
	m.addr = (uintptr_t)v;
	cpu_write(&v[0], 40);
	assert_int_equal(ioctl(fd, HMIRROR_IOC_MIGRATE, &m), 0);
	assert_int_equal(m.moved, 1);
	/* Device-wide: other suites' faults count too. */
	hm_stats(fd, &st);
	faults0 = st.dev_cpu_faults;
	assert_int_equal(hm_run(fd, &c, 1), 0);
	hm_stats(fd, &st);
	assert_int_equal(st.excl_taken, 0);
	assert_int_equal(st.dev_cpu_faults, faults0);
	assert_int_equal(st.jobs_completed, 1);
	/* Still a device-private entry: non-present, swap-type. */
	assert_false(pagemap(v) & PM_PRESENT);
	assert_true(pagemap(v) & PM_SWAP);
	assert_int_equal(cpu_read(&v[0]), 42);
	hm_stats(fd, &st);
	assert_int_equal(st.dev_cpu_faults, faults0 + 1);
	close(fd);
	munmap(v, PG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_prestate(test_excl_atomic_add, &cls_page),
		cmocka_unit_test_prestate(test_excl_atomic_add, &cls_none),
		cmocka_unit_test_prestate(test_excl_revoked_by_cpu_write, &cls_page),
		cmocka_unit_test_prestate(test_excl_revoked_by_cpu_write, &cls_none),
		cmocka_unit_test_prestate(test_excl_revoked_by_cpu_read, &cls_page),
		cmocka_unit_test_prestate(test_excl_revoked_by_cpu_read, &cls_none),
		cmocka_unit_test_prestate(test_excl_mixed_job, &cls_page),
		cmocka_unit_test_prestate(test_excl_mixed_job, &cls_none),
		cmocka_unit_test_prestate(test_excl_thp, &cls_page),
		cmocka_unit_test_prestate(test_excl_thp, &cls_none),
		cmocka_unit_test(test_excl_park_retakes),
		cmocka_unit_test_prestate(test_excl_bad_flags, &cls_page),
		cmocka_unit_test_prestate(test_excl_fork, &cls_page),
		cmocka_unit_test_prestate(test_excl_fork, &cls_none),
		cmocka_unit_test(test_excl_device_memory),
	};

	guest_suite_setup();
	return cmocka_run_group_tests_name("excl", tests, suite_up, suite_down);
}
