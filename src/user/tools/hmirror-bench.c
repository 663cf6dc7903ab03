// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * hmirror-bench: hmirror's figures against their anchors. Runs in the test
 * VM as root, with hmirror.ko and the kernel's test_hmm.ko loaded (see
 * tests/bench/run). Each figure is the median of several repetitions
 * (the escalation stall: the worst), every one on fresh memory and, where
 * a context is used, a fresh context.
 *
 *   fault_in_copy_*     a CPU-written buffer copied whole by one COPY job
 *                       into a buffer of the caller's, submit to
 *                       completion, MB/s; anchor: test_hmm's
 *                       HMM_DMIRROR_READ, the same work, on the same kind
 *                       of buffer
 *   mirror_fault_*      one MIRROR job over a CPU-written buffer, ms;
 *                       anchor: debugfs hmirror/hmm_fault_floor, a bare
 *                       hmm_range_fault() pass over the same kind of buffer
 *   inval_*             munmap / MADV_DONTNEED of a buffer a PAGE-class
 *                       context mirrored, ms; anchor: the same, unmirrored
 *   escalation_stall_*  munmap of a region K NONE-class contexts' jobs wait
 *                       on, worst of the repetitions after one not
 *                       counted, ms; anchor: the contexts' deadline
 *   pt_bytes_per_page_* device page-table bytes per mirrored page after a
 *                       MIRROR job (STATS pt_bytes / ptes); anchor: 8 B
 *   migrate_to_dev_*,   MIGRATE of a written buffer to device memory and
 *   migrate_to_sys_*    back, MB/s; anchor: test_hmm's
 *                       HMM_DMIRROR_MIGRATE_TO_DEV / _TO_SYS, the method
 *                       of hmm-tests' benchmark_thp_migration; to device
 *                       includes reading the data back through the device
 *                       into a user buffer, as test_hmm's ioctl does
 *   fault_back_*        CPU reads of one byte per page of a buffer in
 *                       device memory (migrate_to_ram), us per page;
 *                       anchor: the same on test_hmm's device memory
 *   mr_prefetched_job_* a MIRROR job (fault-in, no device work) over a
 *                       CPU-written buffer named through an ODP region
 *                       after a PREFETCH of it, ms; anchor: the same job
 *                       on a region not prefetched (its first touch)
 *   mr_prefetch_and_job_* the PREFETCH and that job together, ms; anchor:
 *                       the first-touch job alone
 *
 * Output: a table on stdout, progress on stderr, and with --json FILE a
 * JSON list of {"name", "unit", "hmirror", "anchor", "anchor_name",
 * "ratio", "better"} records. No pass/fail: the exit status is non-zero
 * only when the benchmark itself could not run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hmirror.h"
/* From the test kernel's source tree (lib/), found through -I. */
#include "test_hmm_uapi.h"

#define MIB		(1UL << 20)
#define THP_SIZE	(2UL << 20)
#define MAX_LIST	16
#define MAX_RECS	128
#define JOB_TIMEOUT_NS	(120ULL * 1000000000ULL)
/* The region the escalation jobs wait on. */
#define ESC_REGION	(64UL << 10)
/* Safety net for the escalation jobs' WAIT_VALUE: far past any stall. */
#define ESC_WAIT_TIMEOUT_US	(600ULL * 1000000ULL)

enum kind { KIND_4K, KIND_THP };
static const char *const kind_name[] = { "4k", "thp" };

enum {
	B_FAULT = 1 << 0,	/* (1a) */
	B_MIRROR = 1 << 1,	/* (1b) */
	B_INVAL = 1 << 2,	/* (2) */
	B_ESC = 1 << 3,		/* (3) */
	B_PT = 1 << 4,		/* (4) */
	B_MIGRATE = 1 << 5,	/* device memory: migration, fault-back */
	B_MR = 1 << 6,		/* memory regions: first touch, prefetch */
	B_ALL = (1 << 7) - 1,
};

static const struct {
	const char *name;
	unsigned int bit;
} bench_names[] = {
	{ "fault", B_FAULT }, { "mirror", B_MIRROR }, { "inval", B_INVAL },
	{ "escalation", B_ESC }, { "pt", B_PT }, { "migrate", B_MIGRATE },
	{ "mr", B_MR },
};

static struct {
	unsigned int sizes[MAX_LIST];	/* MiB */
	unsigned int nr_sizes;
	unsigned int mig_sizes[MAX_LIST];	/* MiB, for migration */
	unsigned int nr_mig_sizes;
	unsigned int reps;
	unsigned int esc_reps;
	unsigned int ctxs[MAX_LIST];
	unsigned int nr_ctxs;
	unsigned int deadline_ms;
	unsigned int pt_mib;
	unsigned int device;
	unsigned int only;
	bool thp_inval;
	bool verify;
	const char *json;
	const char *dmirror;
	const char *floor;
} opt = {
	.sizes = { 64, 256, 1024 },
	.nr_sizes = 3,
	.mig_sizes = { 2, 64, 256, 1024 },
	.nr_mig_sizes = 4,
	.reps = 7,
	.esc_reps = 3,
	.ctxs = { 1, 10, 100 },
	.nr_ctxs = 3,
	.deadline_ms = 100,
	.pt_mib = 64,
	.only = B_ALL,
	.thp_inval = true,
	.verify = true,
	.dmirror = "/dev/hmm_dmirror0",
	.floor = "/sys/kernel/debug/hmirror/hmm_fault_floor",
};

struct rec {
	char name[64];
	const char *unit;
	double hmirror;
	double anchor;
	const char *anchor_name;
	bool higher;
	char note[96];
};

static struct rec recs[MAX_RECS];
static unsigned int nr_recs;
static size_t page_size;
/* A one-page MIRROR job's submit-to-completion time, for scale. */
static double job_rtt_ms = NAN;
static double engine_rtt_ms = NAN;
static struct hmirror_info info;

/* ---- helpers ------------------------------------------------------------ */

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "hmirror-bench: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static void __attribute__((format(printf, 1, 2))) progress(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hmirror-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double ms_since(uint64_t t0, uint64_t t1)
{
	return (double)(t1 - t0) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, unsigned int n)
{
	double s[64];
	unsigned int i;

	if (!n)
		return NAN;
	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++)
		s[i] = v[i];
	qsort(s, n, sizeof(s[0]), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static struct rec *rec_add(const char *unit, double h, double a,
			   const char *anchor_name, bool higher,
			   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static struct rec *rec_add(const char *unit, double h, double a,
			   const char *anchor_name, bool higher,
			   const char *fmt, ...)
{
	struct rec *r;
	va_list ap;

	if (nr_recs == MAX_RECS)
		die("too many records");
	r = &recs[nr_recs++];
	memset(r, 0, sizeof(*r));
	va_start(ap, fmt);
	vsnprintf(r->name, sizeof(r->name), fmt, ap);
	va_end(ap);
	r->unit = unit;
	r->hmirror = h;
	r->anchor = a;
	r->anchor_name = anchor_name;
	r->higher = higher;
	return r;
}

/*
 * A fresh, 2 MiB-aligned anonymous mapping of @len bytes, with 4 KiB pages
 * (MADV_NOHUGEPAGE) or THP (MADV_HUGEPAGE). Aligned in both cases, so that
 * a buffer covers exactly len / 2 MiB of hmirror's chunks.
 */
static char *buf_map(size_t len, enum kind kind)
{
	char *p, *a;

	p = mmap(NULL, len + THP_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap %zu MiB: %s", len / MIB, strerror(errno));
	a = (char *)(((uintptr_t)p + THP_SIZE - 1) & ~(uintptr_t)(THP_SIZE - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + len, p + THP_SIZE - a);
	if (madvise(a, len, kind == KIND_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		die("madvise(%s): %s", kind == KIND_THP ? "MADV_HUGEPAGE" :
		    "MADV_NOHUGEPAGE", strerror(errno));
	return a;
}

/* Write every byte: a fill plus each page's index, so that CRCs differ. */
static void buf_write(char *p, size_t len)
{
	size_t off;

	memset(p, 0x5a, len);
	for (off = 0; off < len; off += page_size)
		*(uint64_t *)(p + off) = (off / page_size) * 0x9e3779b97f4a7c15ULL;
}

static char *buf_fresh(size_t len, enum kind kind)
{
	char *p = buf_map(len, kind);

	buf_write(p, len);
	return p;
}

/* AnonHugePages of the whole process, in bytes; 0 if unknown. */
static size_t anon_huge_bytes(void)
{
	char line[256];
	size_t kb = 0;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %zu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* Share of a just-written THP buffer that is huge (the only THP mapped). */
static double thp_share(size_t len)
{
	return (double)anon_huge_bytes() / (double)len;
}

/* ---- hmirror ------------------------------------------------------------ */

static struct hmirror *ctx_open(unsigned int cls)
{
	struct hmirror *h;
	int ret;

	ret = hmirror_open(opt.device, &h);
	if (ret)
		die("hmirror_open(%u): %s", opt.device, hmirror_strerror(ret));
	ret = hmirror_set_preempt(h, cls);
	if (ret)
		die("hmirror_set_preempt: %s", hmirror_strerror(ret));
	return h;
}

/* Submit and wait; returns the submit-to-completion time in ms. */
/* How long the last job_run() spent in submit (the fault-in), in ms. */
static double job_submit_ms;

static double job_run(struct hmirror *h, const struct hmirror_job *job)
{
	uint64_t fence, t0, t1;
	int ret, status;

	t0 = now_ns();
	ret = hmirror_submit(h, job, &fence);
	if (ret)
		die("hmirror_submit: %s", hmirror_strerror(ret));
	job_submit_ms = ms_since(t0, now_ns());
	ret = hmirror_wait(h, fence, JOB_TIMEOUT_NS, &status);
	t1 = now_ns();
	if (ret)
		die("hmirror_wait: %s", hmirror_strerror(ret));
	if (status)
		die("job failed: %s", hmirror_strerror(status));
	return ms_since(t0, t1);
}

static void job_mirror(struct hmirror_job *job, const void *p, size_t len)
{
	struct hmirror_cmd c = {
		.op = HMIRROR_OP_MIRROR,
		.src = (uintptr_t)p,
		.len = len,
		.value = 0,
	};
	int ret = hmirror_job_add_cmd(job, &c);

	if (ret)
		die("MIRROR command: %s", hmirror_strerror(ret));
}

/* MIRROR [p, p + len) on a context; returns the job's time in ms. */
static double mirror(struct hmirror *h, const void *p, size_t len)
{
	struct hmirror_cmd cmds[1];
	struct hmirror_job job;

	hmirror_job_init(&job, cmds, 1);
	job_mirror(&job, p, len);
	return job_run(h, &job);
}

/* ---- (1a) fault-in throughput ------------------------------------------- */

/*
 * One COPY job from a fresh buffer into a written (mirrored-on-submit)
 * destination, on a fresh context: MB/s. The same work as test_hmm's
 * HMM_DMIRROR_READ, which also faults the source and copies every byte
 * into a buffer of the caller's.
 */
static double fault_hmirror(size_t len, enum kind kind, bool verify,
			    double *thp)
{
	struct hmirror_cmd cmds[1];
	struct hmirror_stats st;
	struct hmirror_job job;
	struct hmirror *h;
	char *p, *out;
	double ms;

	if (2ULL * len > info.max_job_bytes)
		die("%zu MiB does not fit one job (max_job_bytes %llu)",
		    len / MIB, (unsigned long long)info.max_job_bytes);
	p = buf_fresh(len, kind);
	if (kind == KIND_THP)
		*thp = thp_share(len);
	out = buf_map(len, KIND_4K);
	memset(out, 0, len);
	h = ctx_open(HMIRROR_PREEMPT_PAGE);
	hmirror_job_init(&job, cmds, 1);
	if (hmirror_job_copy(&job, out, p, len))
		die("COPY command");
	ms = job_run(h, &job);
	if (hmirror_stats(h, &st))
		memset(&st, 0, sizeof(st));
	/* Invalidations while it ran park a PAGE-class job: they show here. */
	progress("  hmirror COPY job: %.2f ms in submit (fault-in), %.2f ms on the engine, %llu invalidations, parked %llu times",
		 job_submit_ms, ms - job_submit_ms,
		 (unsigned long long)(st.inval_blockable + st.inval_nonblock),
		 (unsigned long long)st.jobs_parked);
	hmirror_close(h);
	if (verify && memcmp(p, out, len))
		die("COPY job: the copy differs from the buffer");
	munmap(out, len);
	munmap(p, len);
	return (double)len / 1e6 / (ms / 1e3);
}

/* test_hmm's HMM_DMIRROR_READ of a fresh buffer on a fresh file: MB/s. */
/* One test_hmm command over [p, p + len), into @out; its time in ms. */
static double dmirror_cmd(int fd, char *p, char *out, size_t len,
			  unsigned long req, const char *name)
{
	struct hmm_dmirror_cmd cmd;
	uint64_t t0, t1;
	int ret;

	memset(&cmd, 0, sizeof(cmd));
	cmd.addr = (uintptr_t)p;
	cmd.ptr = (uintptr_t)out;
	cmd.npages = len / page_size;
	t0 = now_ns();
	ret = ioctl(fd, req, &cmd);
	t1 = now_ns();
	if (ret)
		die("%s: %s", name, strerror(errno));
	/* MIGRATE_TO_SYS counts a THP once: the data check is the proof. */
	if (!cmd.cpages || (req != HMM_DMIRROR_MIGRATE_TO_SYS &&
			    cmd.cpages != cmd.npages))
		die("%s handled %llu of %llu pages", name,
		    (unsigned long long)cmd.cpages,
		    (unsigned long long)cmd.npages);
	return ms_since(t0, t1);
}

static double fault_test_hmm(size_t len, enum kind kind, bool verify,
			     double *thp)
{
	char *p, *out;
	double ms;
	int fd;

	p = buf_fresh(len, kind);
	if (kind == KIND_THP)
		*thp = thp_share(len);
	out = buf_map(len, KIND_4K);
	memset(out, 0, len);
	fd = open(opt.dmirror, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", opt.dmirror, strerror(errno));
	ms = dmirror_cmd(fd, p, out, len, HMM_DMIRROR_READ, "HMM_DMIRROR_READ");
	close(fd);
	if (verify && memcmp(p, out, len))
		die("HMM_DMIRROR_READ: the copy differs from the buffer");
	munmap(out, len);
	munmap(p, len);
	return (double)len / 1e6 / (ms / 1e3);
}

static void thp_note(struct rec *r, double share_min)
{
	if (share_min < 0.99) {
		snprintf(r->note, sizeof(r->note), "THP only %.0f%% huge",
			 share_min * 100);
		progress("NOTE: %s: THP did not happen (AnonHugePages %.0f%% of the buffer)",
			 r->name, share_min * 100);
	}
}

/*
 * A figure measured on hmirror and on its anchor, each kind of memory and
 * size, median of the repetitions: (1a) and (1b) are both this shape.
 */
struct pair {
	double (*hmirror)(size_t len, enum kind kind, bool verify, double *thp);
	double (*anchor)(size_t len, enum kind kind, bool verify, double *thp);
	const char *what;	/* progress label */
	const char *anchor_short;	/* progress label of the anchor */
	const char *unit;
	const char *anchor_name;
	bool higher;
	const char *name;	/* records: <name>_<kind>_<size>MiB */
};

/* Fewer repetitions of the largest buffers: a median of 5 still. */
static unsigned int reps_for(size_t len)
{
	return len >= (size_t)1024 * MIB && opt.reps > 5 ? 5 : opt.reps;
}

static void bench_pair_sizes(const struct pair *p, const unsigned int *sizes,
			     unsigned int nr_sizes)
{
	double h[64], a[64], th, ta, thp_min;
	unsigned int s, k, i, reps;

	for (k = KIND_4K; k <= KIND_THP; k++) {
		for (s = 0; s < nr_sizes; s++) {
			size_t len = (size_t)sizes[s] * MIB;
			struct rec *r;

			thp_min = 1;
			reps = reps_for(len);
			/*
			 * One run of each side first, not counted: the first
			 * pass over fresh memory of a size is an outlier (in
			 * the TCG guest, up to 6x slower) on both sides.
			 */
			th = ta = 1;
			p->hmirror(len, k, false, &th);
			p->anchor(len, k, false, &ta);
			for (i = 0; i < reps; i++) {
				th = ta = 1;
				h[i] = p->hmirror(len, k, opt.verify && !i, &th);
				a[i] = p->anchor(len, k, opt.verify && !i, &ta);
				thp_min = fmin(thp_min, fmin(th, ta));
				progress("%s %s %u MiB rep %u: hmirror %.2f %s, %s %.2f %s",
					 p->what, kind_name[k], sizes[s],
					 i + 1, h[i], p->unit, p->anchor_short,
					 a[i], p->unit);
			}
			r = rec_add(p->unit, median(h, reps), median(a, reps),
				    p->anchor_name, p->higher, "%s_%s_%uMiB",
				    p->name, kind_name[k], sizes[s]);
			if (k == KIND_THP)
				thp_note(r, thp_min);
		}
	}
}

static void bench_pair(const struct pair *p)
{
	bench_pair_sizes(p, opt.sizes, opt.nr_sizes);
}

static void bench_fault(void)
{
	static const struct pair fault = {
		.hmirror = fault_hmirror, .anchor = fault_test_hmm,
		.what = "fault-in", .anchor_short = "test_hmm",
		.unit = "MB/s", .anchor_name = "test_hmm HMM_DMIRROR_READ",
		.higher = true, .name = "fault_in_copy",
	};

	bench_pair(&fault);
}

/* ---- device memory: migration bandwidth and CPU fault-back ------------- */

/* Which way a migration figure goes, and whether it times the fault-back. */
enum mig_what { MIG_TO_DEV, MIG_TO_SYS, MIG_FAULT_BACK };
static enum mig_what mig_what;

/* One byte read per page by the CPU: every device page comes home. */
static double touch_pages(const char *p, size_t len)
{
	volatile const char *v = p;
	uint64_t t0 = now_ns();
	size_t off;

	for (off = 0; off < len; off += page_size)
		(void)v[off];
	return ms_since(t0, now_ns());
}

static void buf_check(const char *p, size_t len, const char *who)
{
	size_t off;

	for (off = 0; off < len; off += page_size)
		if (*(const uint64_t *)(p + off) !=
		    (off / page_size) * 0x9e3779b97f4a7c15ULL ||
		    p[off + 8] != 0x5a)
			die("%s: data differs at offset %zu", who, off);
}

/* MB/s of a migration, or us per page of the CPU fault-back. */
static double mig_figure(size_t len, double ms)
{
	if (mig_what == MIG_FAULT_BACK)
		return ms * 1e3 / (double)(len / page_size);
	return (double)len / 1e6 / (ms / 1e3);
}

/* Check the buffer came through, let both buffers go, give the figure. */
static double mig_done(char *p, char *out, size_t len, double ms, bool verify,
		       const char *who)
{
	if (verify)
		buf_check(p, len, who);
	munmap(out, len);
	munmap(p, len);
	return mig_figure(len, ms);
}

static double hmirror_mig(struct hmirror *h, char *p, size_t len,
			  unsigned int target)
{
	uint64_t moved = 0, failed = 0, t0, t1;
	size_t i, n = len / page_size, nomem = 0, busy = 0;
	struct hmirror_stats st;
	int32_t *status;
	int ret;

	status = calloc(n, sizeof(*status));
	if (!status)
		die("out of memory");
	t0 = now_ns();
	ret = hmirror_migrate(h, p, len, target, status, &moved, &failed);
	t1 = now_ns();
	if (ret)
		die("hmirror_migrate: %s", hmirror_strerror(ret));
	if (moved != n) {
		for (i = 0; i < n; i++) {
			nomem += status[i] == -ENOMEM;
			busy += status[i] == -EBUSY;
		}
		if (hmirror_stats(h, &st))
			memset(&st, 0, sizeof(st));
		die("hmirror_migrate moved %" PRIu64 " of %zu pages (%zu -ENOMEM, %zu -EBUSY; device: %llu of %llu pages resident, %llu evicted)",
		    moved, n, nomem, busy,
		    (unsigned long long)st.dev_resident,
		    (unsigned long long)st.dev_vram_pages,
		    (unsigned long long)st.dev_evicted);
	}
	free(status);
	return ms_since(t0, t1);
}

/*
 * test_hmm's MIGRATE_TO_DEV also reads the migrated data back through its
 * device page table into a user buffer; to time the same work, the
 * hmirror side follows its migration with a COPY job from the migrated
 * buffer (now device memory) into a user buffer.
 */
static double mig_hmirror(size_t len, enum kind kind, bool verify,
			  double *thp)
{
	struct hmirror *h = ctx_open(HMIRROR_PREEMPT_PAGE);
	char *p = buf_fresh(len, kind), *out = buf_map(len, KIND_4K);
	struct hmirror_cmd cmds[1];
	struct hmirror_job job;
	double ms;

	memset(out, 0, len);
	if (kind == KIND_THP)
		*thp = thp_share(len);
	ms = hmirror_mig(h, p, len, HMIRROR_MIGRATE_TO_DEVICE);
	if (mig_what == MIG_TO_DEV) {
		hmirror_job_init(&job, cmds, 1);
		if (hmirror_job_copy(&job, out, p, len))
			die("COPY command");
		ms += job_run(h, &job);
		if (verify)
			buf_check(out, len, "hmirror read-back");
	} else if (mig_what == MIG_TO_SYS)
		ms = hmirror_mig(h, p, len, HMIRROR_MIGRATE_TO_SYSTEM);
	else if (mig_what == MIG_FAULT_BACK)
		ms = touch_pages(p, len);
	hmirror_close(h);
	return mig_done(p, out, len, ms, verify, "hmirror migration");
}

static double mig_test_hmm(size_t len, enum kind kind, bool verify,
			   double *thp)
{
	int fd = open(opt.dmirror, O_RDWR | O_CLOEXEC);
	char *p = buf_fresh(len, kind), *out = buf_map(len, KIND_4K);
	double ms;

	if (fd < 0)
		die("%s: %s", opt.dmirror, strerror(errno));
	memset(out, 0, len);
	if (kind == KIND_THP)
		*thp = thp_share(len);
	ms = dmirror_cmd(fd, p, out, len, HMM_DMIRROR_MIGRATE_TO_DEV,
			 "HMM_DMIRROR_MIGRATE_TO_DEV");
	if (mig_what == MIG_TO_DEV && verify)
		buf_check(out, len, "test_hmm read-back");
	if (mig_what == MIG_TO_SYS)
		ms = dmirror_cmd(fd, p, out, len, HMM_DMIRROR_MIGRATE_TO_SYS,
				 "HMM_DMIRROR_MIGRATE_TO_SYS");
	else if (mig_what == MIG_FAULT_BACK)
		ms = touch_pages(p, len);
	close(fd);
	return mig_done(p, out, len, ms, verify, "test_hmm migration");
}

static void bench_migrate(void)
{
	static const struct pair to_dev = {
		.hmirror = mig_hmirror, .anchor = mig_test_hmm,
		.what = "migrate to device", .anchor_short = "test_hmm",
		.unit = "MB/s", .anchor_name = "test_hmm MIGRATE_TO_DEV",
		.higher = true, .name = "migrate_to_dev",
	};
	static const struct pair to_sys = {
		.hmirror = mig_hmirror, .anchor = mig_test_hmm,
		.what = "migrate to system", .anchor_short = "test_hmm",
		.unit = "MB/s", .anchor_name = "test_hmm MIGRATE_TO_SYS",
		.higher = true, .name = "migrate_to_sys",
	};
	static const struct pair back = {
		.hmirror = mig_hmirror, .anchor = mig_test_hmm,
		.what = "CPU fault-back", .anchor_short = "test_hmm",
		.unit = "us/page", .anchor_name = "test_hmm migrate_to_ram",
		.higher = false, .name = "fault_back",
	};

	mig_what = MIG_TO_DEV;
	bench_pair_sizes(&to_dev, opt.mig_sizes, opt.nr_mig_sizes);
	mig_what = MIG_TO_SYS;
	bench_pair_sizes(&to_sys, opt.mig_sizes, opt.nr_mig_sizes);
	mig_what = MIG_FAULT_BACK;
	bench_pair_sizes(&back, opt.mig_sizes, opt.nr_mig_sizes);
}

/*
 * (1b) and (2) run on one CPU, the one the process is on: what they time
 * is a few milliseconds of kernel work on each side, and a move to the
 * other vCPU between the sides, or a TLB shootdown reaching it (an IPI,
 * costly under TCG), changed a median by up to 1.6x from run to run.
 */
static void pin_here(cpu_set_t *old)
{
	int cpu = sched_getcpu();
	cpu_set_t one;

	if (cpu < 0 || sched_getaffinity(0, sizeof(*old), old))
		die("sched_getcpu/getaffinity: %s", strerror(errno));
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		die("sched_setaffinity(%d): %s", cpu, strerror(errno));
	progress("mirror and invalidation figures: pinned to CPU %d", cpu);
}

static void unpin(const cpu_set_t *old)
{
	if (sched_setaffinity(0, sizeof(*old), old))
		die("sched_setaffinity: %s", strerror(errno));
}

/* ---- (1b) fault-in alone ------------------------------------------------ */

static double mirror_hmirror(size_t len, enum kind kind, bool verify,
			     double *thp)
{
	struct hmirror *h;
	double ms;
	char *p;

	(void)verify;	/* nothing to verify: no data moves */
	p = buf_fresh(len, kind);
	if (kind == KIND_THP)
		*thp = thp_share(len);
	h = ctx_open(HMIRROR_PREEMPT_PAGE);
	ms = mirror(h, p, len);
	hmirror_close(h);
	munmap(p, len);
	return ms;
}

static double mirror_floor(size_t len, enum kind kind, bool verify,
			   double *thp)
{
	uint64_t t0, t1;
	char cmd[64];
	ssize_t n;
	char *p;
	int fd, l;

	(void)verify;	/* nothing to verify: no data moves */
	p = buf_fresh(len, kind);
	if (kind == KIND_THP)
		*thp = thp_share(len);
	fd = open(opt.floor, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", opt.floor, strerror(errno));
	l = snprintf(cmd, sizeof(cmd), "%lx %zx 0", (unsigned long)(uintptr_t)p,
		     len);
	t0 = now_ns();
	n = write(fd, cmd, l);
	t1 = now_ns();
	if (n != l)
		die("write %s: %s", opt.floor, n < 0 ? strerror(errno) : "short");
	close(fd);
	munmap(p, len);
	return ms_since(t0, t1);
}

/*
 * The fixed cost of a job, for scale: one-page jobs, again and again, on
 * one context whose range for that page already exists. A MIRROR job
 * signals at submit; a WRITE_VALUE job makes a round trip to the engine.
 */
static void job_rtt(void)
{
	struct hmirror *h = ctx_open(HMIRROR_PREEMPT_PAGE);
	char *p = buf_fresh(THP_SIZE, KIND_4K);
	struct hmirror_cmd cmds[1];
	struct hmirror_job job;
	double t[64];
	unsigned int i;

	mirror(h, p, page_size);
	for (i = 0; i < opt.reps; i++)
		t[i] = mirror(h, p, page_size);
	job_rtt_ms = median(t, opt.reps);
	for (i = 0; i < opt.reps; i++) {
		hmirror_job_init(&job, cmds, 1);
		if (hmirror_job_write_value(&job, p, i))
			die("WRITE_VALUE command");
		t[i] = job_run(h, &job);
	}
	engine_rtt_ms = median(t, opt.reps);
	progress("a one-page MIRROR job takes %.3f ms, a WRITE_VALUE job %.3f ms (medians)",
		 job_rtt_ms, engine_rtt_ms);
	hmirror_close(h);
	munmap(p, THP_SIZE);
}

static void bench_mirror(void)
{
	static const struct pair mirror = {
		.hmirror = mirror_hmirror, .anchor = mirror_floor,
		.what = "mirror", .anchor_short = "floor",
		.unit = "ms", .anchor_name = "hmm_range_fault floor",
		.higher = false, .name = "mirror_fault",
	};

	job_rtt();
	bench_pair(&mirror);
}

/* ---- (2) invalidation overhead ------------------------------------------ */

enum inval_op { INVAL_MUNMAP, INVAL_DONTNEED };
static const char *const inval_name[] = { "munmap", "dontneed" };

/* Time munmap or MADV_DONTNEED of a fresh buffer, mirrored or not; ms. */
static double inval_once(size_t len, enum kind kind, enum inval_op op,
			 bool mirrored, double *thp)
{
	struct hmirror *h = NULL;
	uint64_t t0, t1;
	char *p;
	int ret;

	p = buf_fresh(len, kind);
	if (kind == KIND_THP)
		*thp = thp_share(len);
	if (mirrored) {
		h = ctx_open(HMIRROR_PREEMPT_PAGE);
		mirror(h, p, len);
	}
	t0 = now_ns();
	if (op == INVAL_MUNMAP)
		ret = munmap(p, len);
	else
		ret = madvise(p, len, MADV_DONTNEED);
	t1 = now_ns();
	if (ret)
		die("%s: %s", inval_name[op], strerror(errno));
	if (op == INVAL_DONTNEED)
		munmap(p, len);
	if (h) {
		struct hmirror_stats st;

		if (!hmirror_stats(h, &st) && st.ptes)
			die("%s left %llu device PTEs", inval_name[op],
			    (unsigned long long)st.ptes);
		hmirror_close(h);
	}
	return ms_since(t0, t1);
}

static void bench_inval(void)
{
	double h[64], a[64], th, ta, thp_min;
	unsigned int s, k, i, op;

	for (k = KIND_4K; k <= KIND_THP; k++) {
		if (k == KIND_THP && !opt.thp_inval)
			continue;
		for (op = INVAL_MUNMAP; op <= INVAL_DONTNEED; op++) {
			for (s = 0; s < opt.nr_sizes; s++) {
				size_t len = (size_t)opt.sizes[s] * MIB;
				struct rec *r;

				/* A first pair not counted, as in bench_pair(). */
				inval_once(len, k, op, true, &th);
				inval_once(len, k, op, false, &ta);
				thp_min = 1;
				for (i = 0; i < opt.reps; i++) {
					th = ta = 1;
					h[i] = inval_once(len, k, op, true, &th);
					a[i] = inval_once(len, k, op, false, &ta);
					thp_min = fmin(thp_min, fmin(th, ta));
					progress("%s %s %u MiB rep %u: mirrored %.2f ms, unmirrored %.2f ms",
						 inval_name[op], kind_name[k],
						 opt.sizes[s], i + 1, h[i], a[i]);
				}
				r = rec_add("ms", median(h, opt.reps),
					    median(a, opt.reps), "unmirrored",
					    false, "inval_%s_%s_%uMiB",
					    inval_name[op], kind_name[k],
					    opt.sizes[s]);
				if (k == KIND_THP)
					thp_note(r, thp_min);
			}
		}
	}
}

/* ---- (3) escalation bound ------------------------------------------------ */

/*
 * K NONE-class contexts (REVOKE, so that the bench survives), each with a
 * job waiting on a gate word in R that never takes the awaited value; the
 * stall is how long munmap(R) takes. Returns ms; *escalated counts the
 * contexts that were reset.
 */
static double esc_once(unsigned int k, unsigned int *escalated)
{
	struct hmirror **hs = calloc(k, sizeof(*hs));
	struct hmirror_cmd cmd[1];
	struct hmirror_job job;
	uint64_t t0, t1, fence;
	unsigned int i;
	uint64_t *gate;
	char *r;
	int ret;

	if (!hs)
		die("out of memory");
	r = mmap(NULL, ESC_REGION, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	/* Every page the CPU's own: no COW fault may come later. */
	memset(r, 0, ESC_REGION);
	gate = (uint64_t *)r;

	for (i = 0; i < k; i++) {
		struct hmirror_ctx_config c = {
			.set = HMIRROR_CFG_PREEMPT | HMIRROR_CFG_DEADLINE |
			       HMIRROR_CFG_POLICY,
			.preempt = HMIRROR_PREEMPT_NONE,
			.deadline_ms = opt.deadline_ms,
			.policy = HMIRROR_POLICY_REVOKE,
		};

		ret = hmirror_open(opt.device, &hs[i]);
		if (ret)
			die("hmirror_open (context %u of %u): %s", i + 1, k,
			    hmirror_strerror(ret));
		ret = hmirror_config_set(hs[i], &c);
		if (ret)
			die("hmirror_config_set: %s", hmirror_strerror(ret));
		hmirror_job_init(&job, cmd, 1);
		if (hmirror_job_wait_value(&job, gate, 1, ESC_WAIT_TIMEOUT_US))
			die("WAIT_VALUE command");
		ret = hmirror_submit(hs[i], &job, &fence);
		if (ret)
			die("hmirror_submit (context %u of %u): %s", i + 1, k,
			    hmirror_strerror(ret));
	}
	/* Let the engine pick the jobs up. */
	usleep(20000);

	t0 = now_ns();
	ret = munmap(r, ESC_REGION);
	t1 = now_ns();
	if (ret)
		die("munmap: %s", strerror(errno));

	*escalated = 0;
	for (i = 0; i < k; i++) {
		struct hmirror_stats st;

		if (!hmirror_stats(hs[i], &st) && st.escalations)
			(*escalated)++;
		hmirror_close(hs[i]);
	}
	free(hs);
	return ms_since(t0, t1);
}

static void bench_esc(void)
{
	unsigned int c, i, esc, esc_min;
	double worst, ms;

	for (c = 0; c < opt.nr_ctxs; c++) {
		unsigned int k = opt.ctxs[c], asked = k;
		struct rec *r;

		/* A device with context slots: as many as it has. */
		if (info.max_contexts && k > info.max_contexts)
			k = info.max_contexts;

		/*
		 * A first escalation of each K not counted: under TCG the
		 * first run of a kernel path pays for translating it (the
		 * peers' timers and resets are new at K > 1), up to 5 ms
		 * here, which no real CPU pays.
		 */
		ms = esc_once(k, &esc);
		progress("escalation K=%u warm-up: munmap stalled %.1f ms (not counted)",
			 k, ms);
		worst = 0;
		esc_min = k;
		for (i = 0; i < opt.esc_reps; i++) {
			ms = esc_once(k, &esc);
			worst = fmax(worst, ms);
			if (esc < esc_min)
				esc_min = esc;
			progress("escalation K=%u rep %u: munmap stalled %.1f ms, %u of %u contexts reset",
				 k, i + 1, ms, esc, k);
		}
		r = rec_add("ms", worst, opt.deadline_ms, "deadline", false,
			    "escalation_stall_K%u", k);
		if (esc_min < k)
			snprintf(r->note, sizeof(r->note),
				 "only %u of %u contexts reset", esc_min, k);
		else if (k < asked)
			snprintf(r->note, sizeof(r->note),
				 "K=%u asked: the device has %u contexts", asked,
				 k);
	}
}

/* ---- memory regions: first touch against prefetch ---------------------- */

/*
 * One MIRROR job through an ODP region over a fresh CPU-written buffer,
 * on a fresh context: the first touch's cost with no device work to hide
 * it. With @prefetch, a synchronous PREFETCH first, timed apart. Returns
 * the job's ms, the prefetch's in *pf_ms.
 */
static double mr_job(size_t len, enum kind kind, bool prefetch, double *pf_ms,
		     double *thp)
{
	struct hmirror_cmd cmds[1];
	struct hmirror_job job;
	struct hmirror *h;
	uint32_t key = 0;
	uint64_t t0;
	double ms;
	char *p;
	int ret;

	p = buf_fresh(len, kind);
	if (kind == KIND_THP)
		*thp = fmin(*thp, thp_share(len));
	h = ctx_open(HMIRROR_PREEMPT_PAGE);
	ret = hmirror_mr_reg(h, p, len, HMIRROR_MR_ODP, HMIRROR_ACCESS_READ,
			     &key);
	if (ret)
		die("hmirror_mr_reg: %s", hmirror_strerror(ret));
	*pf_ms = 0;
	if (prefetch) {
		t0 = now_ns();
		ret = hmirror_mr_advise(h, key, HMIRROR_ADVISE_PREFETCH, 0, len, 0);
		if (ret)
			die("hmirror_mr_advise: %s", hmirror_strerror(ret));
		*pf_ms = ms_since(t0, now_ns());
	}
	hmirror_job_init(&job, cmds, 1);
	job_mirror(&job, (void *)0, len);
	if (hmirror_job_use_keys(&job, 0, key))
		die("MIRROR command");
	ms = job_run(h, &job);
	hmirror_close(h);
	munmap(p, len);
	return ms;
}

static void bench_mr(void)
{
	double first[64], pre[64], both[64], pf, th;
	unsigned int s, k, i, reps;

	for (k = KIND_4K; k <= KIND_THP; k++) {
		for (s = 0; s < opt.nr_sizes; s++) {
			size_t len = (size_t)opt.sizes[s] * MIB;
			struct rec *r1, *r2;

			reps = reps_for(len);
			th = 1;
			/* Uncounted: first passes over fresh memory (1a). */
			mr_job(len, k, false, &pf, &th);
			mr_job(len, k, true, &pf, &th);
			th = 1;
			for (i = 0; i < reps; i++) {
				first[i] = mr_job(len, k, false, &pf, &th);
				pre[i] = mr_job(len, k, true, &pf, &th);
				both[i] = pre[i] + pf;
				progress("mr %s %u MiB rep %u: first touch %.2f ms, prefetch %.2f ms + job %.2f ms",
					 kind_name[k], opt.sizes[s], i + 1,
					 first[i], pf, pre[i]);
			}
			r1 = rec_add("ms", median(pre, reps), median(first, reps),
				     "the job on a region not prefetched", false,
				     "mr_prefetched_job_%s_%uMiB", kind_name[k],
				     opt.sizes[s]);
			r2 = rec_add("ms", median(both, reps), median(first, reps),
				     "the job on a region not prefetched", false,
				     "mr_prefetch_and_job_%s_%uMiB", kind_name[k],
				     opt.sizes[s]);
			if (k == KIND_THP) {
				thp_note(r1, th);
				thp_note(r2, th);
			}
		}
	}
}

/* ---- (4) page-table memory ---------------------------------------------- */

static void bench_pt(void)
{
	size_t len = (size_t)opt.pt_mib * MIB;
	unsigned int k;

	for (k = KIND_4K; k <= KIND_THP; k++) {
		struct hmirror_stats st;
		struct hmirror *h;
		double thp = 1;
		struct rec *r;
		char *p;
		int ret;

		p = buf_fresh(len, k);
		if (k == KIND_THP)
			thp = thp_share(len);
		h = ctx_open(HMIRROR_PREEMPT_PAGE);
		mirror(h, p, len);
		ret = hmirror_stats(h, &st);
		if (ret)
			die("hmirror_stats: %s", hmirror_strerror(ret));
		hmirror_close(h);
		munmap(p, len);
		progress("page table %s %u MiB: pt_bytes %llu, ptes %llu, ranges %llu",
			 kind_name[k], opt.pt_mib,
			 (unsigned long long)st.pt_bytes,
			 (unsigned long long)st.ptes,
			 (unsigned long long)st.ranges);
		r = rec_add("B/page",
			    st.ptes ? (double)st.pt_bytes / (double)st.ptes : NAN,
			    8, "budget", false, "pt_bytes_per_page_%s_%uMiB",
			    kind_name[k], opt.pt_mib);
		if (st.ptes != len / page_size)
			snprintf(r->note, sizeof(r->note),
				 "ptes %llu, expected %zu",
				 (unsigned long long)st.ptes, len / page_size);
		else if (k == KIND_THP)
			thp_note(r, thp);
	}
}

/* ---- output ------------------------------------------------------------- */

static double rec_ratio(const struct rec *r)
{
	if (!isfinite(r->hmirror) || !isfinite(r->anchor) || r->anchor == 0)
		return NAN;
	return r->hmirror / r->anchor;
}

static void fmt_num(char *buf, size_t len, double v)
{
	if (!isfinite(v))
		snprintf(buf, len, "-");
	else if (fabs(v) >= 1000)
		snprintf(buf, len, "%.0f", v);
	else if (fabs(v) >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.3f", v);
}

static void print_table(void)
{
	char h[32], a[32], q[32];
	unsigned int i;

	printf("\n%-30s %-6s %10s %10s %7s %-6s  %s\n", "figure", "unit",
	       "hmirror", "anchor", "ratio", "better", "anchor (note)");
	for (i = 0; i < nr_recs; i++) {
		const struct rec *r = &recs[i];

		fmt_num(h, sizeof(h), r->hmirror);
		fmt_num(a, sizeof(a), r->anchor);
		fmt_num(q, sizeof(q), rec_ratio(r));
		printf("%-30s %-6s %10s %10s %7s %-6s  %s%s%s%s\n", r->name,
		       r->unit, h, a, q, r->higher ? "higher" : "lower",
		       r->anchor_name, r->note[0] ? " (" : "", r->note,
		       r->note[0] ? ")" : "");
	}
	if (isfinite(job_rtt_ms))
		printf("(for scale: one-page jobs, submit to completion: MIRROR %.3f ms, WRITE_VALUE through the engine %.3f ms)\n",
		       job_rtt_ms, engine_rtt_ms);
	fflush(stdout);
}

static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fprintf(f, "null");
}

static void write_json(const char *path)
{
	FILE *f = fopen(path, "w");
	unsigned int i;

	if (!f)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "[\n");
	for (i = 0; i < nr_recs; i++) {
		const struct rec *r = &recs[i];

		fprintf(f, "  {\"name\": \"%s\", \"unit\": \"%s\", \"hmirror\": ",
			r->name, r->unit);
		json_num(f, r->hmirror);
		fprintf(f, ", \"anchor\": ");
		json_num(f, r->anchor);
		fprintf(f, ", \"anchor_name\": \"%s\", \"ratio\": ",
			r->anchor_name);
		json_num(f, rec_ratio(r));
		fprintf(f, ", \"better\": \"%s\"}%s\n",
			r->higher ? "higher" : "lower",
			i + 1 < nr_recs ? "," : "");
	}
	fprintf(f, "]\n");
	if (fclose(f))
		die("%s: %s", path, strerror(errno));
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hmirror-bench [options]\n"
		"  --json FILE          write the records as JSON to FILE\n"
		"  --sizes LIST         buffer sizes in MiB, comma-separated (64,256,1024)\n"
		"  --mig-sizes LIST     migration: buffer sizes in MiB (2,64,256,1024)\n"
		"  --reps N             repetitions per figure, median kept (7; 5 from 1 GiB)\n"
		"  --contexts LIST      escalation: numbers of contexts (1,10,100)\n"
		"  --esc-reps N         escalation: repetitions, worst kept (3)\n"
		"  --deadline MS        escalation: the contexts' deadline (100)\n"
		"  --pt-size MIB        page-table memory: buffer size (64)\n"
		"  --only LIST          fault,mirror,inval,escalation,pt,migrate,mr (all)\n"
		"  --no-thp-inval       invalidation: 4 KiB pages only\n"
		"  --no-verify          skip checking the data the jobs read\n"
		"  -d, --device N       /dev/hmirrorN (0)\n"
		"  --dmirror PATH       test_hmm device (/dev/hmm_dmirror0)\n"
		"  --floor PATH         the hmm_range_fault floor's debugfs file\n"
		"  -h, --help           this text\n");
}

static unsigned int parse_uint(const char *s, const char *what,
			       unsigned int min, unsigned int max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max) {
		fprintf(stderr, "hmirror-bench: bad %s '%s' (%u..%u)\n", what,
			s, min, max);
		exit(2);
	}
	return (unsigned int)v;
}

static unsigned int parse_list(const char *s, const char *what,
			       unsigned int *out, unsigned int min,
			       unsigned int max)
{
	char *copy = strdup(s), *tok, *save = NULL;
	unsigned int n = 0;

	if (!copy)
		die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_LIST) {
			fprintf(stderr, "hmirror-bench: too many %s\n", what);
			exit(2);
		}
		out[n++] = parse_uint(tok, what, min, max);
	}
	free(copy);
	if (!n) {
		fprintf(stderr, "hmirror-bench: empty %s list\n", what);
		exit(2);
	}
	return n;
}

static unsigned int parse_only(const char *s)
{
	char *copy = strdup(s), *tok, *save = NULL;
	unsigned int mask = 0, i;

	if (!copy)
		die("out of memory");
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(bench_names) / sizeof(bench_names[0]); i++)
			if (!strcmp(tok, bench_names[i].name))
				break;
		if (i == sizeof(bench_names) / sizeof(bench_names[0])) {
			fprintf(stderr, "hmirror-bench: unknown benchmark '%s'\n",
				tok);
			exit(2);
		}
		mask |= bench_names[i].bit;
	}
	free(copy);
	return mask;
}

static void print_setting(const char *path)
{
	char line[256] = "";
	FILE *f = fopen(path, "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
	}
	line[strcspn(line, "\n")] = '\0';
	printf("%s: %s\n", path, line[0] ? line : "(unreadable)");
}

enum {
	OPT_JSON = 256, OPT_SIZES, OPT_MIG_SIZES, OPT_REPS, OPT_CTXS, OPT_ESC_REPS,
	OPT_DEADLINE, OPT_PT, OPT_ONLY, OPT_NO_THP_INVAL, OPT_NO_VERIFY,
	OPT_DMIRROR, OPT_FLOOR,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", required_argument, NULL, OPT_JSON },
		{ "sizes", required_argument, NULL, OPT_SIZES },
		{ "mig-sizes", required_argument, NULL, OPT_MIG_SIZES },
		{ "reps", required_argument, NULL, OPT_REPS },
		{ "contexts", required_argument, NULL, OPT_CTXS },
		{ "esc-reps", required_argument, NULL, OPT_ESC_REPS },
		{ "deadline", required_argument, NULL, OPT_DEADLINE },
		{ "pt-size", required_argument, NULL, OPT_PT },
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "no-thp-inval", no_argument, NULL, OPT_NO_THP_INVAL },
		{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
		{ "device", required_argument, NULL, 'd' },
		{ "dmirror", required_argument, NULL, OPT_DMIRROR },
		{ "floor", required_argument, NULL, OPT_FLOOR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hmirror *h;
	cpu_set_t cpus;
	uint64_t t0;
	int o, ret;

	while ((o = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (o) {
		case OPT_JSON: opt.json = optarg; break;
		case OPT_SIZES:
			opt.nr_sizes = parse_list(optarg, "size", opt.sizes, 2,
						  1U << 20);
			break;
		case OPT_MIG_SIZES:
			opt.nr_mig_sizes = parse_list(optarg, "size",
						      opt.mig_sizes, 2,
						      1U << 20);
			break;
		case OPT_REPS:
			opt.reps = parse_uint(optarg, "repetitions", 1, 64);
			break;
		case OPT_CTXS:
			opt.nr_ctxs = parse_list(optarg, "contexts", opt.ctxs, 1,
						 900);
			break;
		case OPT_ESC_REPS:
			opt.esc_reps = parse_uint(optarg, "repetitions", 1, 64);
			break;
		case OPT_DEADLINE:
			opt.deadline_ms = parse_uint(optarg, "deadline",
						     HMIRROR_DEADLINE_MIN_MS,
						     HMIRROR_DEADLINE_MAX_MS);
			break;
		case OPT_PT:
			opt.pt_mib = parse_uint(optarg, "size", 2, 1U << 20);
			break;
		case OPT_ONLY: opt.only = parse_only(optarg); break;
		case OPT_NO_THP_INVAL: opt.thp_inval = false; break;
		case OPT_NO_VERIFY: opt.verify = false; break;
		case 'd':
			opt.device = parse_uint(optarg, "device", 0, 0xffff);
			break;
		case OPT_DMIRROR: opt.dmirror = optarg; break;
		case OPT_FLOOR: opt.floor = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "hmirror-bench: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	for (o = 0; o < (int)opt.nr_sizes; o++)
		if (opt.sizes[o] % 2)
			die("sizes must be multiples of 2 MiB (THP)");
	for (o = 0; o < (int)opt.nr_mig_sizes; o++)
		if (opt.mig_sizes[o] % 2)
			die("sizes must be multiples of 2 MiB (THP)");
	if (opt.pt_mib % 2)
		die("--pt-size must be a multiple of 2 MiB (THP)");

	page_size = (size_t)sysconf(_SC_PAGESIZE);
	ret = hmirror_open(opt.device, &h);
	if (ret)
		die("hmirror_open(%u): %s (is hmirror.ko loaded?)", opt.device,
		    hmirror_strerror(ret));
	ret = hmirror_get_info(h, &info);
	hmirror_close(h);
	if (ret)
		die("GET_INFO: %s", hmirror_strerror(ret));

	for (o = 0; (opt.only & B_MIGRATE) && o < (int)opt.nr_mig_sizes; o++)
		if ((uint64_t)opt.mig_sizes[o] * MIB > info.vram_bytes)
			die("migration size %u MiB > the device memory (%llu MiB): load hmirror with a larger vram_mb",
			    opt.mig_sizes[o],
			    (unsigned long long)(info.vram_bytes / MIB));

	printf("hmirror-bench: device %u backend %.*s, ABI %u, max_cmds %u, max_job_bytes %llu, max_contexts %u\n",
	       opt.device, (int)sizeof(info.backend), info.backend,
	       info.abi_version, info.max_cmds,
	       (unsigned long long)info.max_job_bytes, info.max_contexts);
	print_setting("/sys/kernel/mm/transparent_hugepage/enabled");
	print_setting("/sys/kernel/mm/transparent_hugepage/defrag");
	printf("repetitions %u (median), escalation %u (worst), sizes",
	       opt.reps, opt.esc_reps);
	for (o = 0; o < (int)opt.nr_sizes; o++)
		printf(" %u", opt.sizes[o]);
	printf(" MiB, migration");
	for (o = 0; o < (int)opt.nr_mig_sizes; o++)
		printf(" %u", opt.mig_sizes[o]);
	printf(" MiB\n");
	fflush(stdout);

	t0 = now_ns();
	if (opt.only & B_FAULT)
		bench_fault();
	if (opt.only & (B_MIRROR | B_INVAL))
		pin_here(&cpus);
	if (opt.only & B_MIRROR)
		bench_mirror();
	if (opt.only & B_INVAL)
		bench_inval();
	if (opt.only & (B_MIRROR | B_INVAL))
		unpin(&cpus);
	if (opt.only & B_ESC)
		bench_esc();
	if (opt.only & B_PT)
		bench_pt();
	if (opt.only & B_MIGRATE)
		bench_migrate();
	if (opt.only & B_MR)
		bench_mr();

	print_table();
	printf("\nhmirror-bench: %u figures in %.0f s\n", nr_recs,
	       (double)(now_ns() - t0) / 1e9);
	if (opt.json) {
		write_json(opt.json);
		printf("hmirror-bench: JSON in %s\n", opt.json);
	}
	return 0;
}
