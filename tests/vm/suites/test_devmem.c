// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Guest suite: device memory. Pages move to a device instance's device
 * memory and back, with their data, through MIGRATE, CPU faults, eviction
 * and module unload; jobs use them in place; fork, munmap and THP splits
 * keep everybody's view right.
 *
 * Every test runs once per kind of device memory, as the kernel's
 * hmm-tests run their device-private and device-coherent variants: the
 * module is loaded with device-private memory (devmem_private_*), then
 * reloaded with device-coherent memory at the region tests/vm/run
 * reserves (devmem_coherent_*; skipped without one), and a few tests run
 * with a device-coherent instance 0 and a device-private instance 1
 * (devmem_mixed_*). Where the kinds differ
 * (a CPU access migrates a private page home, and uses a coherent page in
 * place), a test asserts its kind's behaviour.
 *
 * The module is loaded with 16 MiB of device memory per instance, so that
 * memory pressure is cheap to create.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "guest.h"

#define MiB (1UL << 20)
#define VRAM_MB 16
#define PG 4096UL

/* A kind of device memory per instance, as the module is loaded with. */
struct devmem_kind {
	const char *name;
	bool coherent[2];	/* instance 0, instance 1 */
};

static const struct devmem_kind kind_private = { "private", { false, false } };
static const struct devmem_kind kind_coherent = { "coherent", { true, true } };
static const struct devmem_kind kind_mixed = { "mixed", { true, false } };

/* The kind the module is loaded with now, or NULL when it is not loaded. */
static const struct devmem_kind *loaded;

/* Does instance @dev have device-coherent memory in this test? */
static bool coherent(unsigned int dev)
{
	return loaded->coherent[dev];
}

/* The region tests/vm/run reserved for device-coherent memory, or 0. */
static unsigned long coherent_base(unsigned long *mb)
{
	const char *a = getenv("hmvm_coherent_addr");
	const char *m = getenv("hmvm_coherent_mb");

	if (!a || !m)
		return 0;
	*mb = strtoul(m, NULL, 0);
	return strtoul(a, NULL, 0);
}

/*
 * Module parameters for @k: instance N's coherent memory at the start of
 * the Nth half of the reserved region.
 */
static void kind_params(const struct devmem_kind *k, char *buf, size_t len)
{
	unsigned long mb = 0, base = coherent_base(&mb);
	int n;

	n = snprintf(buf, len, "vram_mb=%u inval_deadline_ms=1000", VRAM_MB);
	if (k->coherent[0] || k->coherent[1])
		snprintf(buf + n, len - n, " coherent_addr=%#lx,%#lx",
			 k->coherent[0] ? base : 0,
			 k->coherent[1] ? base + mb / 2 * MiB : 0);
}

static void kind_load(const struct devmem_kind *k)
{
	char params[160];

	kind_params(k, params, sizeof(params));
	assert_int_equal(guest_module_load(guest_module_path(), params), 0);
	loaded = k;
}

static void kind_unload(void)
{
	hm_module_down();
	loaded = NULL;
}

/* One test, under one kind: what cmocka runs. */
struct devmem_variant {
	const struct devmem_kind *kind;
	void (*fn)(void **state);
};

static void devmem_run(void **state)
{
	const struct devmem_variant *v = *state;
	unsigned long mb = 0;

	if (v->kind->coherent[0] || v->kind->coherent[1])
		hm_need_coherent_backend();
	if ((v->kind->coherent[0] || v->kind->coherent[1]) &&
	    (!coherent_base(&mb) || mb / 2 < VRAM_MB))
		guest_skip("no device-coherent region reserved (tests/vm/run reserves one in a guest of 4 GiB or more)");
	if (loaded != v->kind) {
		if (loaded)
			kind_unload();
		kind_load(v->kind);
	}
	v->fn(state);
}

static int suite_down(void **state)
{
	(void)state;
	if (loaded)
		kind_unload();
	return 0;
}

static uint64_t resident(int fd)
{
	struct hmirror_stats st;

	hm_stats(fd, &st);
	return st.dev_resident;
}

/* The device's CRC32C of [p, p + len), computed by a job. */
static uint32_t dev_crc(int fd, const void *p, size_t len)
{
	uint32_t *out = hm_map(PG);
	struct hmirror_cmd c = { .op = HMIRROR_OP_CRC32C,
		.dst = (uintptr_t)out, .src = (uintptr_t)p, .len = len,
		.value = ~0U };
	uint32_t v;

	assert_int_equal(hm_run(fd, &c, 1), 0);
	v = *out;
	munmap(out, PG);
	return v;
}

/* The value of line @name of debugfs hmirror/hmirror<dev>/devmem. */
static int devmem_line(unsigned int dev, const char *name, char *val,
		       size_t len)
{
	char path[96], line[128], key[64], v[64];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmirror/hmirror%u/devmem",
		 dev);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %63s", key, v) == 2 &&
		    !strcmp(key, name)) {
			snprintf(val, len, "%s", v);
			found = 1;
		}
	fclose(f);
	return found;
}

/* A number of debugfs hmirror/hmirror<dev>/devmem; -1 if absent. */
static long long devmem_field(unsigned int dev, const char *name)
{
	char v[64];

	return devmem_line(dev, name, v, sizeof(v)) ? strtoll(v, NULL, 0) : -1;
}

/* Write a pattern over [buf, buf + len) and move all of it to the device. */
static void to_device(int fd, uint8_t *buf, size_t len, unsigned int seed)
{
	hm_pattern(buf, len, seed);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, NULL, NULL), 0);
	assert_int_equal(resident(fd), len / PG);
}

static void test_info(void **state)
{
	struct hmirror_info info = { 0 };
	struct hmirror_stats st;
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);

	char kind[64] = "";

	(void)state;
	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, &info), 0);
	assert_int_equal(info.vram_bytes, VRAM_MB * MiB);
	assert_int_equal(info.vram_kind, coherent(0) ? HMIRROR_VRAM_COHERENT :
							HMIRROR_VRAM_PRIVATE);
	assert_int_equal(info.reserved, 0);
	hm_stats(fd, &st);
	assert_int_equal(st.dev_vram_pages, VRAM_MB * MiB / PG);
	assert_int_equal(st.dev_resident, 0);
	assert_int_equal(st.dev_vram_kind, info.vram_kind);
	assert_true(devmem_line(0, "kind", kind, sizeof(kind)));
	assert_string_equal(kind, coherent(0) ? "coherent" : "private");
	assert_int_equal(devmem_field(0, "vram_pages"), VRAM_MB * MiB / PG);
	assert_int_equal(devmem_field(0, "free_pages"), VRAM_MB * MiB / PG);
	assert_int_equal(devmem_field(0, "blocks"), VRAM_MB / 2);
	close(fd);
}

/* sys -> dev -> sys, data checked at every step, the device's included. */
static void test_round_trip(void **state)
{
	size_t len = 4 * MiB, n = len / PG;
	uint8_t *buf = hm_map(len);
	int32_t *status = calloc(n, sizeof(*status));
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint64_t moved = 0, failed = 0;
	struct hmirror_stats st, z;
	uint32_t crc;

	(void)state;
	hm_pattern(buf, len, 1);
	crc = hm_crc32c(~0U, buf, len);
	hm_stats(fd, &z);
	memset(status, 0x55, n * sizeof(*status));
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 status, &moved, &failed), 0);
	assert_int_equal(moved, n);
	assert_int_equal(failed, 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(status[i], 0);
	assert_int_equal(resident(fd), n);
	assert_int_equal(devmem_field(0, "resident"), n);

	/* The device reads its own memory: no page comes back for it. */
	assert_int_equal(dev_crc(fd, buf, len), crc);
	hm_stats(fd, &st);
	assert_int_equal(st.dev_resident, n);
	assert_int_equal(st.dev_cpu_faults, z.dev_cpu_faults);
	assert_int_equal(st.migrated_to_dev, n);

	/* Already there: nothing moves, every page says 0. */
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 status, &moved, &failed), 0);
	assert_int_equal(moved, 0);
	assert_int_equal(failed, 0);

	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_SYSTEM,
				 status, &moved, &failed), 0);
	assert_int_equal(moved, n);
	assert_int_equal(failed, 0);
	assert_int_equal(resident(fd), 0);
	hm_stats(fd, &st);
	assert_int_equal(st.dev_cpu_faults, z.dev_cpu_faults);
	assert_true(hm_pattern_ok(buf, len, 1));
	close(fd);
	free(status);
	munmap(buf, len);
}

/*
 * A CPU read and a CPU write of a device-private page each bring it back;
 * a device-coherent page serves both in place and stays on the device.
 */
static void test_cpu_fault(void **state)
{
	size_t len = 64 * PG;
	uint8_t *buf = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st, st0;
	uint32_t crc;

	(void)state;
	hm_pattern(buf, len, 2);
	crc = hm_crc32c(~0U, buf, len);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, NULL, NULL), 0);
	assert_int_equal(resident(fd), 64);
	hm_stats(fd, &st0);
	/* Read page 3, write page 7. */
	assert_int_equal(*(volatile uint64_t *)(buf + 3 * PG),
			 (3 * PG / 8) * 0x9e3779b97f4a7c15ull + 2);
	buf[7 * PG + 1] = 0xee;
	hm_stats(fd, &st);
	if (coherent(0)) {
		assert_int_equal(st.dev_cpu_faults, st0.dev_cpu_faults);
		assert_int_equal(st.dev_resident, 64);
	} else {
		assert_int_equal(st.dev_cpu_faults - st0.dev_cpu_faults, 2);
		assert_int_equal(st.dev_resident, 62);
	}
	/* The device sees the CPU's writes; the rest is still its own. */
	assert_int_equal(dev_crc(fd, buf, len) == crc, 0);
	/* Undo, through the CPU: byte 1 of the page's first word. */
	buf[7 * PG + 1] = (uint8_t)(((7 * PG / 8) * 0x9e3779b97f4a7c15ull + 2) >> 8);
	assert_int_equal(dev_crc(fd, buf, len), crc);
	assert_int_equal(resident(fd), coherent(0) ? 64 : 62);
	assert_true(hm_pattern_ok(buf, len, 2));
	assert_int_equal(resident(fd), coherent(0) ? 64 : 0);
	hm_stats(fd, &st);
	if (coherent(0))
		assert_int_equal(st.dev_cpu_faults, st0.dev_cpu_faults);
	close(fd);
	munmap(buf, len);
}

/* A job writes device memory; the CPU then reads what it wrote. */
static void test_job_writes_device_memory(void **state)
{
	size_t len = 32 * PG;
	uint8_t *buf = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_NONE);
	struct hmirror_cmd c = hm_fill(buf + 100, 0x5a, len - 200);

	(void)state;
	memset(buf, 1, len);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, NULL, NULL), 0);
	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_int_equal(resident(fd), 32);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], i < 100 || i >= len - 100 ? 1 : 0x5a);
	/* The CPU read them where they are, or brought them home. */
	assert_int_equal(resident(fd), coherent(0) ? 32 : 0);
	close(fd);
	munmap(buf, len);
}

/* fork: device pages are shared copy-on-write like any anonymous page. */
static void test_fork_cow(void **state)
{
	size_t len = 16 * PG;
	uint8_t *buf = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE), status;
	uint32_t crc;
	pid_t pid;

	(void)state;
	hm_pattern(buf, len, 3);
	crc = hm_crc32c(~0U, buf, len);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, NULL, NULL), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The child sees the data, and its writes stay its own. */
		if (!hm_pattern_ok(buf, len, 3))
			_exit(1);
		memset(buf, 0x77, len);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* The parent's device view and CPU view are both untouched. */
	assert_int_equal(dev_crc(fd, buf, len), crc);
	assert_true(hm_pattern_ok(buf, len, 3));
	/* A write by the parent after the child is gone. */
	buf[0] = 9;
	assert_int_equal(buf[0], 9);
	close(fd);
	munmap(buf, len);
}

/* munmap of device-resident memory frees the device pages. */
static void test_munmap(void **state)
{
	size_t len = 2 * MiB;
	uint8_t *buf = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);

	(void)state;
	memset(buf, 3, len);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, NULL, NULL), 0);
	assert_int_equal(resident(fd), len / PG);
	assert_int_equal(munmap(buf + len / 2, len / 2), 0);
	assert_int_equal(resident(fd), len / PG / 2);
	assert_int_equal(munmap(buf, len / 2), 0);
	assert_int_equal(resident(fd), 0);
	close(fd);
}

/* Twice the device memory: the oldest data is evicted, none is lost. */
static void test_eviction(void **state)
{
	size_t len = VRAM_MB * MiB;
	uint8_t *a = hm_map(len), *b = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint64_t moved = 0, failed = 0;
	struct hmirror_stats st, st0;
	uint32_t crc;

	(void)state;
	assert_int_equal(madvise(a, len, MADV_NOHUGEPAGE), 0);
	assert_int_equal(madvise(b, len, MADV_NOHUGEPAGE), 0);
	hm_pattern(a, len, 4);
	hm_pattern(b, len, 5);
	crc = hm_crc32c(~0U, b, len);
	hm_stats(fd, &st0);
	assert_int_equal(hm_migrate(fd, a, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, &moved, &failed), 0);
	assert_int_equal(moved, len / PG);
	assert_int_equal(hm_migrate(fd, b, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, &moved, &failed), 0);
	assert_int_equal(moved, len / PG);
	assert_int_equal(failed, 0);
	hm_stats(fd, &st);
	assert_int_equal(st.dev_evicted - st0.dev_evicted, len / PG);
	assert_int_equal(st.dev_resident, len / PG);
	assert_int_equal(dev_crc(fd, b, len), crc);
	assert_true(hm_pattern_ok(a, len, 4));
	assert_true(hm_pattern_ok(b, len, 5));
	close(fd);
	munmap(a, len);
	munmap(b, len);
}

/*
 * Device 0 to device 1 and back, directly; both mirrors stay coherent.
 * Under the mixed kinds, coherent to private and private to coherent.
 */
static void test_dev_to_dev(void **state)
{
	size_t len = 1 * MiB, n = len / PG;
	uint8_t *buf = hm_map(len);
	int fd0 = hm_open(0, HMIRROR_PREEMPT_PAGE);
	int fd1 = hm_open(1, HMIRROR_PREEMPT_PAGE);
	uint64_t moved = 0, failed = 0;
	struct hmirror_stats st0, st1, z0, z1;
	uint32_t crc;

	(void)state;
	hm_pattern(buf, len, 6);
	crc = hm_crc32c(~0U, buf, len);
	hm_stats(fd0, &z0);
	assert_int_equal(hm_migrate(fd0, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, &moved, NULL), 0);
	assert_int_equal(moved, n);
	assert_int_equal(dev_crc(fd0, buf, len), crc);
	assert_int_equal(hm_migrate(fd1, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, &moved, &failed), 0);
	assert_int_equal(moved, n);
	assert_int_equal(failed, 0);
	hm_stats(fd0, &st0);
	hm_stats(fd1, &st1);
	assert_int_equal(st0.dev_resident, 0);
	assert_int_equal(st1.dev_resident, n);
	assert_int_equal(st0.dev_cpu_faults, z0.dev_cpu_faults);
	assert_int_equal(st0.dev_migrated_out - z0.dev_migrated_out, n);
	/*
	 * Device 1 reads in place; device 0 pulls private pages home to
	 * read them, and reads coherent ones where they are.
	 */
	assert_int_equal(dev_crc(fd1, buf, len), crc);
	hm_stats(fd1, &st1);
	assert_int_equal(st1.dev_resident, n);
	assert_int_equal(dev_crc(fd0, buf, len), crc);
	hm_stats(fd1, &st1);
	assert_int_equal(st1.dev_resident, coherent(1) ? n : 0);

	/* Back, device 1 to device 0, with no CPU fault on the way. */
	assert_int_equal(hm_migrate(fd1, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, NULL, &failed), 0);
	assert_int_equal(failed, 0);
	hm_stats(fd1, &z1);
	assert_int_equal(hm_migrate(fd0, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, &moved, &failed), 0);
	assert_int_equal(moved, n);
	assert_int_equal(failed, 0);
	hm_stats(fd1, &st1);
	assert_int_equal(st1.dev_resident, 0);
	assert_int_equal(st1.dev_cpu_faults, z1.dev_cpu_faults);
	assert_int_equal(st1.dev_migrated_out - z1.dev_migrated_out, n);
	assert_int_equal(resident(fd0), n);
	assert_int_equal(dev_crc(fd0, buf, len), crc);
	assert_true(hm_pattern_ok(buf, len, 6));
	assert_int_equal(resident(fd0), coherent(0) ? n : 0);
	close(fd0);
	close(fd1);
	munmap(buf, len);
}

/* A THP moves as one device folio; a partial munmap splits it. */
static void test_thp_split(void **state)
{
	size_t len = 2 * MiB;
	uint8_t *buf = hm_map_aligned(len, 1);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_cmd c = { .op = HMIRROR_OP_MIRROR,
				 .src = (uintptr_t)buf, .len = len };
	struct hmirror_stats st;

	(void)state;
	to_device(fd, buf, len, 7);
	assert_int_equal(hm_run(fd, &c, 1), 0);
	hm_stats(fd, &st);
	assert_int_equal(st.ptes, 512);
	if (coherent(0)) {
		/*
		 * Coherent memory takes 4 KiB pages only: the THP was split
		 * on its way, so the mirror needs a PTE array; half of it
		 * unmapped frees half, and the rest stays, read in place.
		 */
		assert_true(st.pt_bytes > 1024);
		assert_int_equal(devmem_field(0, "blocks_huge"), 0);
		assert_int_equal(munmap(buf + len / 2, len / 2), 0);
		assert_int_equal(resident(fd), 256);
		assert_true(hm_pattern_ok(buf, len / 2, 7));
		assert_int_equal(resident(fd), 256);
		close(fd);
		munmap(buf, len / 2);
		return;
	}
	/* Mirrored by one huge entry: no 4 KiB PTE array. */
	if (st.pt_bytes > 1024)
		guest_skip("device THP not mapped huge (kernel without device THP?)");
	/*
	 * The PMD is split; the folio's unmapped half is freed once the
	 * folio itself is split, at the latest when the CPU takes the rest
	 * back page by page.
	 */
	assert_int_equal(munmap(buf + len / 2, len / 2), 0);
	assert_true(resident(fd) <= 512);
	assert_true(hm_pattern_ok(buf, len / 2, 7));
	assert_int_equal(resident(fd), 0);
	close(fd);
	munmap(buf, len / 2);
}

#define PFN_MASK	((1ULL << 55) - 1)	/* pagemap: bits 0-54 */

/*
 * Is [p, p + 2 MiB) one THP in system memory? Its pages are present, one
 * physically contiguous run, and kpageflags calls them THP.
 */
static bool is_system_thp(const uint8_t *p)
{
	uint64_t e[2], flags;
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	bool thp;

	assert_true(pm >= 0 && kf >= 0);
	assert_int_equal(pread(pm, &e[0], 8, ((uintptr_t)p / PG) * 8), 8);
	assert_int_equal(pread(pm, &e[1], 8,
			       ((uintptr_t)p / PG + 511) * 8), 8);
	thp = (e[0] >> 63) && (e[1] >> 63) &&
	      (e[1] & PFN_MASK) == (e[0] & PFN_MASK) + 511;
	if (thp) {
		assert_int_equal(pread(kf, &flags, 8, (e[0] & PFN_MASK) * 8),
				 8);
		thp = flags & (1ULL << 22);	/* KPF_THP */
	}
	close(pm);
	close(kf);
	return thp;
}

/*
 * A device THP of the sw backend goes home as its backing folio: its block
 * was backed by one THP-sized folio, which becomes the anonymous THP, with
 * no allocation and no 2 MiB copy on the way.
 */
static void test_thp_home_whole(void **state)
{
	size_t len = 2 * MiB;
	long long folios, huge, huge_folios;
	uint64_t moved = 0;
	uint8_t *buf;
	int fd;

	(void)state;
	if (!strcmp(guest_backend(), "pci"))
		guest_skip("the pci backend's device memory is VRAM: no backing folio to hand over");
	buf = hm_map_aligned(len, 1);
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	to_device(fd, buf, len, 21);
	huge = devmem_field(0, "blocks_huge");
	huge_folios = devmem_field(0, "blocks_huge_folio");
	if (huge != 1 || huge_folios != 1) {
		/* Nothing of this test may outlive a skip. */
		close(fd);
		munmap(buf, len);
		if (huge != 1)
			guest_skip("no device THP (kernel without device THP?)");
		guest_skip("its block is backed page by page (no folio without reclaim, or used for 4 KiB pages before)");
	}
	folios = devmem_field(0, "blocks_folio");

	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_SYSTEM,
				 NULL, &moved, NULL), 0);
	assert_int_equal(moved, 512);
	assert_int_equal(devmem_field(0, "blocks_huge"), 0);
	/* The folio left the block with the data... */
	assert_int_equal(devmem_field(0, "blocks_folio"), folios - 1);
	/* ...and is the process's THP now. */
	assert_true(is_system_thp(buf));
	assert_true(hm_pattern_ok(buf, len, 21));
	assert_int_equal(resident(fd), 0);

	/* Taken whole again, the block gets a folio again. */
	to_device(fd, buf, len, 22);
	assert_int_equal(devmem_field(0, "blocks_huge_folio"), 1);
	assert_true(hm_pattern_ok(buf, len, 22));
	assert_int_equal(resident(fd), 0);
	close(fd);
	munmap(buf, len);
}

/* munmap of device THPs frees them whole. */
static void test_thp_munmap(void **state)
{
	size_t len = 8 * MiB;
	uint8_t *buf = hm_map_aligned(len, 1);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);

	(void)state;
	to_device(fd, buf, len, 10);
	/* Mirrored and read by the device, then unmapped under the mirror. */
	dev_crc(fd, buf, len);
	assert_int_equal(munmap(buf, len), 0);
	assert_int_equal(resident(fd), 0);
	close(fd);
}

/* Device THPs evicted to make room come back whole, data intact. */
static void test_thp_eviction(void **state)
{
	size_t len = VRAM_MB * MiB;
	uint8_t *a = hm_map_aligned(len, 1), *b = hm_map_aligned(len, 1);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint64_t moved = 0, failed = 0;

	(void)state;
	hm_pattern(a, len, 11);
	hm_pattern(b, len, 12);
	assert_int_equal(hm_migrate(fd, a, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, &moved, &failed), 0);
	assert_int_equal(moved, len / PG);
	assert_int_equal(hm_migrate(fd, b, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, &moved, &failed), 0);
	assert_int_equal(moved, len / PG);
	assert_int_equal(failed, 0);
	assert_int_equal(resident(fd), len / PG);
	assert_true(hm_pattern_ok(a, len, 11));
	assert_true(hm_pattern_ok(b, len, 12));
	assert_int_equal(resident(fd), coherent(0) ? len / PG : 0);
	close(fd);
	munmap(a, len);
	munmap(b, len);
}

/* 4 KiB pages in blocks that held device THPs before. */
static void test_thp_then_small(void **state)
{
	size_t len = VRAM_MB * MiB, n = len / PG;
	uint8_t *a = hm_map_aligned(len, 1), *b;
	int32_t *status = calloc(n, sizeof(*status));
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint64_t moved = 0, failed = 0;
	size_t bad = 0;

	(void)state;
	hm_pattern(a, len, 13);
	assert_int_equal(hm_migrate(fd, a, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, &moved, NULL), 0);
	assert_int_equal(moved, n);
	assert_int_equal(munmap(a, len), 0);
	assert_int_equal(resident(fd), 0);

	b = hm_map_aligned(len, 0);
	hm_pattern(b, len, 14);
	assert_int_equal(hm_migrate(fd, b, len, HMIRROR_MIGRATE_TO_DEVICE,
				 status, &moved, &failed), 0);
	for (size_t i = 0; i < n; i++)
		bad += status[i] != 0;
	print_message("# moved %llu failed %llu, %zu pages not on the device\n",
		      (unsigned long long)moved, (unsigned long long)failed, bad);
	assert_int_equal(bad, 0);
	assert_int_equal(moved, n);
	assert_int_equal(failed, 0);
	assert_true(hm_pattern_ok(b, len, 14));
	close(fd);
	free(status);
	munmap(b, len);
}

/* Allocation failure mid-migration: the rest stays in system memory. */
static void test_alloc_failure(void **state)
{
	const char *site = "/sys/kernel/debug/hmirror/fault/devmem_alloc";
	size_t len = 64 * PG, n = len / PG;
	uint8_t *buf = hm_map(len);
	int32_t status[64];
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint64_t moved = 0, failed = 0;
	uint32_t crc;

	(void)state;
	assert_int_equal(madvise(buf, len, MADV_NOHUGEPAGE), 0);
	hm_pattern(buf, len, 8);
	crc = hm_crc32c(~0U, buf, len);
	assert_int_equal(guest_write_file(site, "10 -1"), 0);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 status, &moved, &failed), 0);
	assert_int_equal(guest_write_file(site, "0 0"), 0);
	assert_int_equal(moved, 10);
	assert_int_equal(failed, n - 10);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(status[i], i < 10 ? 0 : -ENOMEM);
	assert_int_equal(resident(fd), 10);
	assert_int_equal(dev_crc(fd, buf, len), crc);
	assert_true(hm_pattern_ok(buf, len, 8));
	/*
	 * Disarmed, it all moves: the rest, and for private memory the
	 * first 10 again, which the CPU's reads brought home.
	 */
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 status, &moved, &failed), 0);
	assert_int_equal(moved, coherent(0) ? n - 10 : n);
	assert_int_equal(failed, 0);
	assert_int_equal(resident(fd), n);
	close(fd);
	munmap(buf, len);
}

/* A range over several VMAs moves whole; read-only pages too. */
static void test_several_vmas(void **state)
{
	size_t len = 12 * PG;
	uint8_t *buf = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint64_t moved = 0, failed = 0;

	(void)state;
	hm_pattern(buf, len, 15);
	assert_int_equal(mprotect(buf + 4 * PG, 4 * PG, PROT_READ), 0);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, &moved, &failed), 0);
	assert_int_equal(moved, 12);
	assert_int_equal(failed, 0);
	assert_int_equal(resident(fd), 12);
	assert_true(hm_pattern_ok(buf, len, 15));
	assert_int_equal(resident(fd), coherent(0) ? 12 : 0);
	close(fd);
	munmap(buf, len);
}

/*
 * Pages that cannot move are reported page by page with the reason:
 * pages a pipe holds references to (vmsplice) are busy, shared memory is
 * not private anonymous memory. The rest moves, and everything keeps its
 * data; once the pipe lets go, the busy pages move too.
 */
static void test_pinned_and_shared(void **state)
{
	size_t len = 8 * PG, n = len / PG;
	uint8_t *buf = hm_map(len), *sh, *sink = hm_map(2 * PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	uint64_t moved = 0, failed = 0;
	struct iovec iov[2];
	int32_t status[8];
	int pipefd[2];

	(void)state;
	assert_int_equal(madvise(buf, len, MADV_NOHUGEPAGE), 0);
	hm_pattern(buf, len, 23);
	assert_int_equal(pipe(pipefd), 0);
	iov[0] = (struct iovec){ .iov_base = buf + 2 * PG, .iov_len = PG };
	iov[1] = (struct iovec){ .iov_base = buf + 5 * PG, .iov_len = PG };
	assert_int_equal(vmsplice(pipefd[1], iov, 2, 0), (ssize_t)(2 * PG));
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 status, &moved, &failed), 0);
	assert_int_equal(moved, n - 2);
	assert_int_equal(failed, 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(status[i], i == 2 || i == 5 ? -EBUSY : 0);
	assert_int_equal(resident(fd), n - 2);
	/* The pipe still reads what was spliced, and lets go. */
	assert_int_equal(read(pipefd[0], sink, 2 * PG), (ssize_t)(2 * PG));
	assert_int_equal(memcmp(sink, buf + 2 * PG, PG), 0);
	assert_int_equal(memcmp(sink + PG, buf + 5 * PG, PG), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 status, &moved, &failed), 0);
	assert_int_equal(failed, 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(status[i], 0);
	assert_int_equal(resident(fd), n);
	assert_true(hm_pattern_ok(buf, len, 23));

	/* Shared memory stays, every page of it, with its data. */
	sh = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(sh != MAP_FAILED);
	hm_pattern(sh, 4 * PG, 24);
	assert_int_equal(hm_migrate(fd, sh, 4 * PG, HMIRROR_MIGRATE_TO_DEVICE,
				 status, &moved, &failed), 0);
	assert_int_equal(moved, 0);
	assert_int_equal(failed, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(status[i], -EFAULT);
	assert_true(hm_pattern_ok(sh, 4 * PG, 24));
	munmap(sh, 4 * PG);
	close(fd);
	munmap(sink, 2 * PG);
	munmap(buf, len);
}

/* Bad requests change nothing. */
static void test_bad_migrate(void **state)
{
	uint8_t *buf = hm_map(4 * PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_migrate m;
	uint8_t *hole;

	(void)state;
	hole = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_int_equal(munmap(hole, PG), 0);
	memset(buf, 1, 4 * PG);
	assert_int_equal(hm_migrate(fd, buf + 1, PG, 1, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(hm_migrate(fd, buf, PG + 1, 1, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(hm_migrate(fd, buf, 0, 1, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(hm_migrate(fd, buf, PG, 2, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(hm_migrate(fd, hole, PG, 1, NULL, NULL, NULL), -EFAULT);
	assert_int_equal(hm_migrate(fd, (void *)0xffff888000000000ull, PG, 1,
				 NULL, NULL, NULL), -EINVAL);
	m = (struct hmirror_migrate){ .addr = (uintptr_t)buf, .len = PG,
				      .target = 1, .flags = 1 };
	assert_int_equal(ioctl(fd, HMIRROR_IOC_MIGRATE, &m), -1);
	assert_int_equal(errno, EINVAL);
	m = (struct hmirror_migrate){ .addr = (uintptr_t)buf, .len = PG,
				      .target = 1, .reserved = { 1 } };
	assert_int_equal(ioctl(fd, HMIRROR_IOC_MIGRATE, &m), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(resident(fd), 0);
	close(fd);
	munmap(buf, 4 * PG);
}

static struct hmirror_cmd job_migrate(void *p, size_t len, unsigned int target,
				      uint64_t *moved)
{
	return (struct hmirror_cmd){ .op = HMIRROR_OP_MIGRATE,
		.src = (uintptr_t)p, .len = len, .value = target,
		.dst = (uintptr_t)moved };
}

/*
 * MIGRATE inside a job, in job order: the FILL before it writes system
 * memory, the COPY after it reads device memory, and a second MIGRATE
 * brings everything back.
 */
static void test_job_migrate(void **state)
{
	size_t len = 64 * PG, n = len / PG;
	uint8_t *buf = hm_map(len), *out = hm_map(len);
	uint64_t *moved = hm_map(PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st0, st;
	struct hmirror_cmd c[3];

	(void)state;
	memset(buf, 1, len);
	hm_stats(fd, &st0);
	c[0] = hm_fill(buf, 0x5a, len);
	c[1] = job_migrate(buf, len, HMIRROR_MIGRATE_TO_DEVICE, &moved[0]);
	c[2] = hm_copy(out, buf, len);
	assert_int_equal(hm_run(fd, c, 3), 0);
	assert_int_equal(moved[0], n);
	assert_int_equal(resident(fd), n);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(out[i], 0x5a);
	hm_stats(fd, &st);
	assert_int_equal(st.migrated_to_dev - st0.migrated_to_dev, n);

	/* Device to system in a job; nothing faults on the CPU for it. */
	c[0] = job_migrate(buf, len, HMIRROR_MIGRATE_TO_SYSTEM, &moved[1]);
	assert_int_equal(hm_run(fd, c, 1), 0);
	assert_int_equal(moved[1], n);
	assert_int_equal(resident(fd), 0);
	hm_stats(fd, &st);
	assert_int_equal(st.migrated_to_sys - st0.migrated_to_sys, n);
	assert_int_equal(st.dev_cpu_faults, st0.dev_cpu_faults);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], 0x5a);
	close(fd);
	munmap(moved, PG);
	munmap(out, len);
	munmap(buf, len);
}

/*
 * NONE class: a later job, submitted while the first is still delayed,
 * has its translations fixed at submit; the first job's MIGRATE moves the
 * pages under both, and both must run on the pages' new place.
 */
static void test_job_migrate_none(void **state)
{
	size_t len = 32 * PG, n = len / PG;
	uint8_t *buf = hm_map(len), *out = hm_map(len);
	uint64_t *moved = hm_map(PG);
	uint32_t *crc = hm_map(PG), want;
	int fd = hm_open(0, HMIRROR_PREEMPT_NONE);
	struct hmirror_cmd c[4], d;
	uint64_t f1 = 0, f2 = 0;
	int s1 = -1, s2 = -1;

	(void)state;
	memset(buf, 1, len);
	memset(out, 0x33, len);	/* what the first job will fill in */
	want = hm_crc32c(~0U, out, len);
	memset(out, 0, len);
	c[0] = (struct hmirror_cmd){ .op = HMIRROR_OP_DELAY, .aux = 50000 };
	c[1] = hm_fill(buf, 0x33, len);
	c[2] = job_migrate(buf, len, HMIRROR_MIGRATE_TO_DEVICE, moved);
	c[3] = hm_copy(out, buf, len);
	d = (struct hmirror_cmd){ .op = HMIRROR_OP_CRC32C,
		.dst = (uintptr_t)crc, .src = (uintptr_t)buf, .len = len,
		.value = ~0U };
	assert_int_equal(hm_submit(fd, c, 4, &f1), 0);
	assert_int_equal(hm_submit(fd, &d, 1, &f2), 0);
	assert_int_equal(hm_wait(fd, f2, 10000000000ull, &s2), 0);
	assert_int_equal(hm_wait(fd, f1, 0, &s1), 0);
	assert_int_equal(s1, 0);
	assert_int_equal(s2, 0);
	assert_int_equal(*moved, n);
	assert_int_equal(*crc, want);
	assert_int_equal(resident(fd), n);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(out[i], 0x33);
	/* The CPU takes its pages back; the data came through. */
	for (size_t i = 0; i < len; i++)
		assert_int_equal(buf[i], 0x33);
	assert_int_equal(resident(fd), 0);
	close(fd);
	munmap(crc, PG);
	munmap(moved, PG);
	munmap(out, len);
	munmap(buf, len);
}

/*
 * NONE class: moving half a THP splits it (a zap, not a migration event)
 * while the job that asked for it, and whose earlier COPY read it, is
 * parked. Nothing may wait for that job: no escalation, and the job and
 * its data come through.
 */
static void test_job_migrate_none_thp_split(void **state)
{
	size_t len = 2 * MiB;
	uint8_t *buf = hm_map_aligned(len, 1), *out = hm_map(len);
	uint64_t *moved = hm_map(PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_NONE);
	struct hmirror_stats st;
	struct hmirror_cmd c[3];

	(void)state;
	hm_pattern(buf, len, 41);
	memset(out, 0, len);
	c[0] = hm_copy(out, buf, len);
	c[1] = job_migrate(buf, len / 2, HMIRROR_MIGRATE_TO_DEVICE, moved);
	c[2] = hm_copy(out, buf, len);
	assert_int_equal(hm_run(fd, c, 3), 0);
	assert_int_equal(*moved, len / 2 / PG);
	hm_stats(fd, &st);
	assert_int_equal(st.escalations, 0);
	assert_true(hm_pattern_ok(out, len, 41));
	assert_true(hm_pattern_ok(buf, len, 41));
	close(fd);
	munmap(moved, PG);
	munmap(out, len);
	munmap(buf, len);
}

/* Device memory runs out inside the job: the rest stays, data intact. */
static void test_job_migrate_alloc_failure(void **state)
{
	const char *site = "/sys/kernel/debug/hmirror/fault/devmem_alloc";
	size_t len = 64 * PG, n = len / PG;
	uint8_t *buf = hm_map(len);
	uint64_t *moved = hm_map(PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_stats st0, st;
	struct hmirror_cmd c;
	uint32_t crc;

	(void)state;
	assert_int_equal(madvise(buf, len, MADV_NOHUGEPAGE), 0);
	hm_pattern(buf, len, 21);
	crc = hm_crc32c(~0U, buf, len);
	hm_stats(fd, &st0);
	c = job_migrate(buf, len, HMIRROR_MIGRATE_TO_DEVICE, moved);
	assert_int_equal(guest_write_file(site, "7 -1"), 0);
	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_int_equal(guest_write_file(site, "0 0"), 0);
	assert_int_equal(*moved, 7);
	assert_int_equal(resident(fd), 7);
	hm_stats(fd, &st);
	assert_int_equal(st.migrate_failed - st0.migrate_failed, n - 7);
	assert_int_equal(dev_crc(fd, buf, len), crc);
	assert_true(hm_pattern_ok(buf, len, 21));
	close(fd);
	munmap(moved, PG);
	munmap(buf, len);
}

/* Bad MIGRATE commands fail the submit, and nothing of the job runs. */
static void test_job_migrate_bad(void **state)
{
	uint8_t *buf = hm_map(4 * PG), *hole;
	uint64_t *moved = hm_map(PG);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct hmirror_cmd c[2], bad[7];

	(void)state;
	hole = mmap(NULL, PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_int_equal(munmap(hole, PG), 0);
	memset(buf, 1, 4 * PG);
	bad[0] = job_migrate(buf + 8, PG, 1, NULL);
	bad[1] = job_migrate(buf, PG + 8, 1, NULL);
	bad[2] = job_migrate(buf, 0, 1, NULL);
	bad[3] = job_migrate(buf, PG, 2, NULL);
	bad[4] = job_migrate(buf, PG, 1, (uint64_t *)((char *)moved + 4));
	bad[5] = job_migrate(buf, PG, 1, NULL);
	bad[5].aux = 1;
	bad[6] = job_migrate(hole, PG, 1, NULL);
	for (unsigned int i = 0; i < 7; i++) {
		c[0] = hm_fill(buf, 0x77, 4 * PG);
		c[1] = bad[i];
		assert_int_equal(hm_submit(fd, c, 2, NULL),
				 i == 6 ? -EFAULT : -EINVAL);
	}
	for (size_t i = 0; i < 4 * PG; i++)
		assert_int_equal(buf[i], 1);
	assert_int_equal(resident(fd), 0);
	close(fd);
	munmap(moved, PG);
	munmap(buf, 4 * PG);
}

/* Module unload with pages on the device: they come home first. */
static void test_unload_evicts(void **state)
{
	size_t len = 3 * MiB;
	uint8_t *buf = hm_map(len);
	int fd = hm_open(1, HMIRROR_PREEMPT_PAGE);

	(void)state;
	const struct devmem_kind *k = loaded;

	to_device(fd, buf, len, 9);
	close(fd);
	kind_unload();
	assert_true(hm_pattern_ok(buf, len, 9));
	kind_load(k);
	munmap(buf, len);
}

struct reader {
	const uint8_t *buf;
	size_t len;
	volatile int stop;
	size_t bad;
	size_t passes;
};

/* Read every page, last first, until told to stop; count wrong words. */
static void *reader_fn(void *arg)
{
	struct reader *r = arg;

	while (!r->stop) {
		for (size_t off = r->len; off; off -= PG) {
			size_t i = off - PG;
			uint64_t v = *(volatile const uint64_t *)(r->buf + i);

			r->bad += v != (i / 8) * 0x9e3779b97f4a7c15ull + 31;
		}
		r->passes++;
	}
	return NULL;
}

/*
 * CPU faults on device pages while the module unloads and evicts them:
 * every read sees the data, whichever of the fault and the eviction
 * moves the page.
 */
static void test_fault_during_unload(void **state)
{
	size_t len = 8 * MiB;
	uint8_t *buf = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	struct reader r = { .buf = buf, .len = len };
	const struct devmem_kind *k = loaded;
	pthread_t t;

	(void)state;
	to_device(fd, buf, len, 31);
	close(fd);
	assert_int_equal(pthread_create(&t, NULL, reader_fn, &r), 0);
	kind_unload();
	r.stop = 1;
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.bad, 0);
	assert_true(hm_pattern_ok(buf, len, 31));
	kind_load(k);
	munmap(buf, len);
}

/*
 * Device-coherent memory is used in place: the CPU writes pages that stay
 * on the device, a job reads what the CPU wrote, and migrating back
 * brings exactly that home.
 */
static void test_in_place(void **state)
{
	size_t len = 64 * PG, n = len / PG;
	uint8_t *buf = hm_map(len), *ref = hm_map(len);
	int fd = hm_open(0, HMIRROR_PREEMPT_NONE);
	uint64_t moved = 0, failed = 0;
	struct hmirror_stats st, st0;
	uint32_t crc;

	(void)state;
	hm_pattern(ref, len, 17);
	crc = hm_crc32c(~0U, ref, len);
	munmap(ref, len);
	assert_int_equal(madvise(buf, len, MADV_NOHUGEPAGE), 0);
	to_device(fd, buf, len, 16);
	hm_stats(fd, &st0);
	/* Every page rewritten by the CPU, in device memory. */
	hm_pattern(buf, len, 17);
	hm_stats(fd, &st);
	assert_int_equal(st.dev_cpu_faults, st0.dev_cpu_faults);
	assert_int_equal(st.dev_resident, n);
	assert_int_equal(st.dev_migrated_out, st0.dev_migrated_out);
	/* Still there: nothing to move, nothing stayed behind. */
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				 NULL, &moved, &failed), 0);
	assert_int_equal(moved, 0);
	assert_int_equal(failed, 0);
	/* The device reads the CPU's data from its own memory. */
	assert_int_equal(dev_crc(fd, buf, len), crc);
	assert_int_equal(resident(fd), n);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_SYSTEM,
				 NULL, &moved, &failed), 0);
	assert_int_equal(moved, n);
	assert_int_equal(failed, 0);
	assert_int_equal(resident(fd), 0);
	assert_true(hm_pattern_ok(buf, len, 17));
	close(fd);
	munmap(buf, len);
}

/* coherent_addr values the module must refuse at load, loading nothing. */
static void test_bad_params(void **state)
{
	unsigned long mb = 0, base = coherent_base(&mb);
	const char *ko = guest_module_path();
	char p[200];

	(void)state;
	kind_unload();
	/* Not 2 MiB aligned. */
	snprintf(p, sizeof(p), "vram_mb=16 coherent_addr=%#lx", base + PG);
	assert_int_equal(guest_module_load(ko, p), -EINVAL);
	/* Both instances on the same memory. */
	snprintf(p, sizeof(p), "vram_mb=16 coherent_addr=%#lx,%#lx", base,
		 base + 8 * MiB);
	assert_int_equal(guest_module_load(ko, p), -EINVAL);
	/* More than the reserved region. */
	snprintf(p, sizeof(p), "vram_mb=%lu coherent_addr=%#lx", mb + 2, base);
	assert_int_equal(guest_module_load(ko, p), -EINVAL);
	/* System RAM, not reserved memory. */
	assert_int_equal(guest_module_load(ko, "vram_mb=16 coherent_addr=0x40000000"),
			 -EINVAL);
	/* No memory to put there. */
	snprintf(p, sizeof(p), "vram_mb=0 coherent_addr=%#lx", base);
	assert_int_equal(guest_module_load(ko, p), -EINVAL);
	/* More entries than instances. */
	snprintf(p, sizeof(p), "nr_devices=1 vram_mb=16 coherent_addr=%#lx,0",
		 base);
	assert_int_equal(guest_module_load(ko, p), -EINVAL);
	assert_false(guest_path_exists("/sys/module/hmirror"));
	/* The region itself is fine, and free again after all that. */
	kind_load(&kind_coherent);
}

/* Which kinds a test runs under. */
#define K_PRIVATE	1
#define K_COHERENT	2
#define K_MIXED		4
#define K_BOTH		(K_PRIVATE | K_COHERENT)

/* Named after the function, devmem_<kind>_<name> in the TAP output. */
#define DEVMEM_TEST(f, k)	{ #f, test_##f, k }

static const struct {
	const char *name;
	void (*fn)(void **state);
	unsigned int kinds;
} devmem_tests[] = {
	DEVMEM_TEST(info, K_BOTH | K_MIXED),
	DEVMEM_TEST(round_trip, K_BOTH),
	DEVMEM_TEST(cpu_fault, K_BOTH),
	DEVMEM_TEST(job_writes_device_memory, K_BOTH),
	DEVMEM_TEST(fork_cow, K_BOTH),
	DEVMEM_TEST(munmap, K_BOTH),
	DEVMEM_TEST(eviction, K_BOTH),
	DEVMEM_TEST(dev_to_dev, K_BOTH | K_MIXED),
	DEVMEM_TEST(thp_split, K_BOTH),
	DEVMEM_TEST(thp_home_whole, K_PRIVATE),
	DEVMEM_TEST(thp_munmap, K_BOTH),
	DEVMEM_TEST(thp_eviction, K_BOTH),
	DEVMEM_TEST(thp_then_small, K_BOTH),
	DEVMEM_TEST(alloc_failure, K_BOTH),
	DEVMEM_TEST(several_vmas, K_BOTH),
	DEVMEM_TEST(pinned_and_shared, K_BOTH),
	DEVMEM_TEST(bad_migrate, K_BOTH),
	DEVMEM_TEST(job_migrate, K_BOTH),
	DEVMEM_TEST(job_migrate_none, K_PRIVATE),
	DEVMEM_TEST(job_migrate_none_thp_split, K_BOTH),
	DEVMEM_TEST(job_migrate_alloc_failure, K_BOTH),
	DEVMEM_TEST(job_migrate_bad, K_BOTH),
	DEVMEM_TEST(unload_evicts, K_BOTH | K_MIXED),
	DEVMEM_TEST(fault_during_unload, K_BOTH),
	DEVMEM_TEST(in_place, K_COHERENT),
	DEVMEM_TEST(bad_params, K_COHERENT),
};

#define NR_TESTS	(sizeof(devmem_tests) / sizeof(devmem_tests[0]))

int main(void)
{
	static const struct {
		const struct devmem_kind *kind;
		unsigned int bit;
	} kinds[] = {
		{ &kind_private, K_PRIVATE },
		{ &kind_coherent, K_COHERENT },
		{ &kind_mixed, K_MIXED },
	};
	static struct devmem_variant variants[3 * NR_TESTS];
	static struct CMUnitTest tests[3 * NR_TESTS];
	static char names[3 * NR_TESTS][64];
	size_t n = 0;

	/* Grouped by kind, so the module is reloaded once per kind. */
	for (size_t k = 0; k < 3; k++)
		for (size_t i = 0; i < NR_TESTS; i++) {
			if (!(devmem_tests[i].kinds & kinds[k].bit))
				continue;
			snprintf(names[n], sizeof(names[n]), "devmem_%s_%s",
				 kinds[k].kind->name, devmem_tests[i].name);
			variants[n].kind = kinds[k].kind;
			variants[n].fn = devmem_tests[i].fn;
			tests[n] = (struct CMUnitTest){
				.name = names[n],
				.test_func = devmem_run,
				.initial_state = &variants[n],
			};
			n++;
		}

	guest_suite_setup();
	return _cmocka_run_group_tests("devmem", tests, n, NULL, suite_down);
}
