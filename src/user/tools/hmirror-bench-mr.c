// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * hmirror-bench-mr: memory-region registration time against region size,
 * hmirror's HMIRROR_IOC_MR_REG side by side with Soft-RoCE's ibv_reg_mr in
 * the same VM. Runs in the test VM as root with hmirror.ko loaded and rxe0
 * up (tests/bench/guest-bench, tests/vm/rxe-up). For each size, one
 * buffer of 4 KiB pages, written first so that every page is present, and
 * the median of --reps registrations (each deregistered before the next;
 * hmirror and rxe alternate):
 *
 *   mr_reg_odp_<size>      hmirror ODP (bookkeeping only); anchor: rxe
 *                          ibv_reg_mr with IBV_ACCESS_ON_DEMAND (which
 *                          snapshots the range's present pages)
 *   mr_reg_pinned_<size>   hmirror PINNED; anchor: rxe ibv_reg_mr without
 *                          ODP (ib_umem pins the pages)
 *   mr_reg_odp_implicit    hmirror implicit ODP (address 0,
 *                          HMIRROR_MR_IMPLICIT_LEN); anchor: rxe implicit
 *                          ODP (NULL, SIZE_MAX), where rxe has it
 *
 * Times in microseconds, call to return. Output as hmirror-bench's: a
 * table on stdout and with --json FILE a JSON list of {"name", "unit",
 * "hmirror", "anchor", "anchor_name", "ratio", "better"} records (an
 * anchor rxe cannot measure is null). The exit status is non-zero only
 * when hmirror's side could not run.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <infiniband/verbs.h>

#include "hmirror.h"

#define MAX_SIZES 8
#define MAX_REPS 64
#define MAX_RECS 32
#define RW (HMIRROR_ACCESS_READ | HMIRROR_ACCESS_WRITE)
#define IBV_RW (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | \
		IBV_ACCESS_REMOTE_READ)

struct rec {
	char name[48];
	double hmirror, anchor;
	const char *anchor_name;
	char note[128];
};

/* Everything a run needs, on main()'s stack: no global state. */
struct bench {
	uint64_t sizes[MAX_SIZES];
	unsigned int nr_sizes, reps, device;
	const char *json, *rxe_name;
	struct hmirror *h;
	struct ibv_context *ibctx;
	struct ibv_pd *pd;
	char rxe_why[128];	/* why there is no anchor, or "" */
	struct rec recs[MAX_RECS];
	unsigned int nr_recs;
};

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "hmirror-bench-mr: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of the finite values of @v; NaN if none. */
static double median(double *v, unsigned int n)
{
	unsigned int i, m = 0;

	for (i = 0; i < n; i++)
		if (isfinite(v[i]))
			v[m++] = v[i];
	if (!m)
		return NAN;
	qsort(v, m, sizeof(v[0]), cmp_double);
	return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

static void size_name(char *buf, size_t len, uint64_t sz)
{
	if (sz >= (1ULL << 30) && !(sz % (1ULL << 30)))
		snprintf(buf, len, "%lluGiB", (unsigned long long)(sz >> 30));
	else if (sz >= (1ULL << 20) && !(sz % (1ULL << 20)))
		snprintf(buf, len, "%lluMiB", (unsigned long long)(sz >> 20));
	else
		snprintf(buf, len, "%lluKiB", (unsigned long long)(sz >> 10));
}

/* "4K,2M,64M,1G" (K, M, G suffixes; bare numbers are bytes). */
static void parse_sizes(struct bench *b, const char *arg)
{
	char *copy = strdup(arg), *tok, *save = NULL, *end;

	if (!copy)
		die("out of memory");
	b->nr_sizes = 0;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t v = strtoull(tok, &end, 10);

		switch (*end) {
		case 'G': case 'g': v <<= 10; /* fall through */
		case 'M': case 'm': v <<= 10; /* fall through */
		case 'K': case 'k': v <<= 10; end++; break;
		default: break;
		}
		if (*end || !v || v % 4096 || b->nr_sizes == MAX_SIZES)
			die("--sizes: bad list '%s' (at most %d page multiples)",
			    arg, MAX_SIZES);
		b->sizes[b->nr_sizes++] = v;
	}
	free(copy);
}

static struct rec *rec_add(struct bench *b, double h, double a,
			   const char *anchor_name, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static struct rec *rec_add(struct bench *b, double h, double a,
			   const char *anchor_name, const char *fmt, ...)
{
	struct rec *r;
	va_list ap;

	if (b->nr_recs == MAX_RECS)
		die("too many records");
	r = &b->recs[b->nr_recs++];
	memset(r, 0, sizeof(*r));
	va_start(ap, fmt);
	vsnprintf(r->name, sizeof(r->name), fmt, ap);
	va_end(ap);
	r->hmirror = h;
	r->anchor = a;
	r->anchor_name = anchor_name;
	if (!isfinite(a) && b->rxe_why[0])
		snprintf(r->note, sizeof(r->note), "%s", b->rxe_why);
	return r;
}

/* rxe0 and a protection domain, or the reason why not in b->rxe_why. */
static void rxe_open(struct bench *b)
{
	struct ibv_device **l;
	int n, i;

	l = ibv_get_device_list(&n);
	for (i = 0; l && i < n; i++)
		if (!strcmp(ibv_get_device_name(l[i]), b->rxe_name))
			break;
	if (!l || i == n) {
		snprintf(b->rxe_why, sizeof(b->rxe_why), "no %s", b->rxe_name);
		if (l)
			ibv_free_device_list(l);
		return;
	}
	b->ibctx = ibv_open_device(l[i]);
	ibv_free_device_list(l);
	b->pd = b->ibctx ? ibv_alloc_pd(b->ibctx) : NULL;
	if (!b->pd)
		snprintf(b->rxe_why, sizeof(b->rxe_why), "%s: %s", b->rxe_name,
			 strerror(errno));
}

/* One hmirror registration, us; retried on -EAGAIN (the mapping moved). */
static double time_hmirror(struct bench *b, void *p, uint64_t len,
			   unsigned int mode)
{
	uint64_t t0, t1;
	uint32_t key;
	int ret, tries = 0;

	do {
		key = 0;
		t0 = now_ns();
		ret = hmirror_mr_reg(b->h, p, len, mode, RW, &key);
		t1 = now_ns();
	} while (ret == -EAGAIN && ++tries < 5);
	if (ret)
		die("hmirror_mr_reg(%p, %llu, mode %u): %s", p,
		    (unsigned long long)len, mode, hmirror_strerror(ret));
	ret = hmirror_mr_dereg(b->h, key);
	if (ret)
		die("hmirror_mr_dereg: %s", hmirror_strerror(ret));
	return (double)(t1 - t0) / 1e3;
}

/* One rxe registration, us; NaN (and the reason) if rxe refuses it. */
static double time_rxe(struct bench *b, void *p, size_t len, int access,
		       char *why, size_t why_len)
{
	struct ibv_mr *mr;
	uint64_t t0, t1;

	if (!b->pd)
		return NAN;
	t0 = now_ns();
	mr = ibv_reg_mr(b->pd, p, len, access);
	t1 = now_ns();
	if (!mr) {
		snprintf(why, why_len, "rxe refuses it: %s", strerror(errno));
		return NAN;
	}
	if (ibv_dereg_mr(mr))
		die("ibv_dereg_mr: %s", strerror(errno));
	return (double)(t1 - t0) / 1e3;
}

/* One figure: @reps alternated registrations on each side. */
static void figure(struct bench *b, void *p, uint64_t len, unsigned int mode,
		   int access, const char *anchor_name, const char *name)
{
	double h[MAX_REPS], a[MAX_REPS];
	char why[128] = "";
	unsigned int i;
	struct rec *r;

	for (i = 0; i < b->reps; i++) {
		h[i] = time_hmirror(b, p, len, mode);
		a[i] = time_rxe(b, p, len == HMIRROR_MR_IMPLICIT_LEN ? SIZE_MAX : len,
				access, why, sizeof(why));
	}
	r = rec_add(b, median(h, b->reps), median(a, b->reps), anchor_name,
		    "%s", name);
	if (why[0])
		snprintf(r->note, sizeof(r->note), "%s", why);
	fprintf(stderr, "hmirror-bench-mr: %s: hmirror %.1f us, rxe %.1f us\n",
		r->name, r->hmirror, r->anchor);
}

static void run(struct bench *b)
{
	char sz[32], name[48];

	for (unsigned int s = 0; s < b->nr_sizes; s++) {
		uint64_t len = b->sizes[s];
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die("mmap %llu: %s", (unsigned long long)len, strerror(errno));
		/* 4 KiB pages, all present: the same work for every side. */
		madvise(p, len, MADV_NOHUGEPAGE);
		memset(p, 1, len);
		size_name(sz, sizeof(sz), len);
		snprintf(name, sizeof(name), "mr_reg_odp_%s", sz);
		figure(b, p, len, HMIRROR_MR_ODP, IBV_RW | IBV_ACCESS_ON_DEMAND,
		       "rxe ibv_reg_mr ON_DEMAND", name);
		snprintf(name, sizeof(name), "mr_reg_pinned_%s", sz);
		figure(b, p, len, HMIRROR_MR_PINNED, IBV_RW, "rxe ibv_reg_mr",
		       name);
		munmap(p, len);
	}
	figure(b, NULL, HMIRROR_MR_IMPLICIT_LEN, HMIRROR_MR_ODP,
	       IBV_RW | IBV_ACCESS_ON_DEMAND, "rxe implicit ODP",
	       "mr_reg_odp_implicit");
}

static double ratio(const struct rec *r)
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

/* The layout of hmirror-bench's table, so that tests/bench/run shows both. */
static void print_table(const struct bench *b)
{
	char h[32], a[32], q[32];

	printf("\n%-30s %-6s %10s %10s %7s %-6s  %s\n", "figure", "unit",
	       "hmirror", "anchor", "ratio", "better", "anchor (note)");
	for (unsigned int i = 0; i < b->nr_recs; i++) {
		const struct rec *r = &b->recs[i];

		fmt_num(h, sizeof(h), r->hmirror);
		fmt_num(a, sizeof(a), r->anchor);
		fmt_num(q, sizeof(q), ratio(r));
		printf("%-30s %-6s %10s %10s %7s %-6s  %s%s%s%s\n", r->name,
		       "us", h, a, q, "lower", r->anchor_name,
		       r->note[0] ? " (" : "", r->note, r->note[0] ? ")" : "");
	}
	printf("\n");
	fflush(stdout);
}

static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fprintf(f, "null");
}

static void write_json(const struct bench *b)
{
	FILE *f = fopen(b->json, "w");

	if (!f)
		die("%s: %s", b->json, strerror(errno));
	fprintf(f, "[\n");
	for (unsigned int i = 0; i < b->nr_recs; i++) {
		const struct rec *r = &b->recs[i];

		fprintf(f, "  {\"name\": \"%s\", \"unit\": \"us\", \"hmirror\": ",
			r->name);
		json_num(f, r->hmirror);
		fprintf(f, ", \"anchor\": ");
		json_num(f, r->anchor);
		fprintf(f, ", \"anchor_name\": \"%s\", \"ratio\": ", r->anchor_name);
		json_num(f, ratio(r));
		fprintf(f, ", \"better\": \"lower\"}%s\n",
			i + 1 < b->nr_recs ? "," : "");
	}
	fprintf(f, "]\n");
	if (fclose(f))
		die("%s: %s", b->json, strerror(errno));
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hmirror-bench-mr [options]\n"
		"  --json FILE     write the records as JSON to FILE\n"
		"  --sizes LIST    region sizes, K/M/G suffixes (4K,2M,64M,1G)\n"
		"  --reps N        registrations per figure and side, median kept (5)\n"
		"  --rxe NAME      the rxe device (rxe0)\n"
		"  -d, --device N  /dev/hmirrorN (0)\n"
		"  -h, --help      this text\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "sizes", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "rxe", required_argument, NULL, 'x' },
		{ "device", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = { .reps = 5, .rxe_name = "rxe0" };
	int c, ret;
	uint64_t t0 = now_ns();

	parse_sizes(&b, "4K,2M,64M,1G");
	while ((c = getopt_long(argc, argv, "d:h", lo, NULL)) != -1) {
		switch (c) {
		case 'j': b.json = optarg; break;
		case 's': parse_sizes(&b, optarg); break;
		case 'r':
			b.reps = (unsigned int)strtoul(optarg, NULL, 10);
			if (!b.reps || b.reps > MAX_REPS)
				die("--reps: 1..%d", MAX_REPS);
			break;
		case 'x': b.rxe_name = optarg; break;
		case 'd': b.device = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	ret = hmirror_open(b.device, &b.h);
	if (ret)
		die("hmirror_open(%u): %s", b.device, hmirror_strerror(ret));
	rxe_open(&b);
	if (b.rxe_why[0])
		fprintf(stderr, "hmirror-bench-mr: no anchor: %s\n", b.rxe_why);
	run(&b);
	print_table(&b);
	printf("hmirror-bench-mr: %u figures in %.0f s\n", b.nr_recs,
	       (double)(now_ns() - t0) / 1e9);
	if (b.json) {
		write_json(&b);
		printf("hmirror-bench-mr: JSON in %s\n", b.json);
	}
	if (b.pd)
		ibv_dealloc_pd(b.pd);
	if (b.ibctx)
		ibv_close_device(b.ibctx);
	hmirror_close(b.h);
	return 0;
}
