// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * hmirror-reclaim: memory-pressure experiments on mirrored memory.
 *
 * Creates a cgroup v2 child with memory.max set, forks a workload into it
 * and records, every --interval, the cgroup's reclaim activity (memory.stat,
 * memory.pressure, memory.events), the hmirror counters of the workload's
 * contexts (hmirror_stats()) and the NUMA placement of a sample of the
 * working set (/proc/PID/numa_maps; libnuma for the nodes). Writes DIR/NAME.csv,
 * DIR/NAME.svg (gnuplot) and DIR/NAME.txt (a one-paragraph summary).
 *
 * The working set, and why it is made this way: without swap, anonymous
 * memory cannot be reclaimed, only OOM-killed, and tmpfs is swap-backed
 * too. Clean page cache always can be. So the part of the working set in
 * system memory is a file the tool writes into --file-dir and maps
 * read-only (MAP_SHARED); a cgroup limit below it makes the kernel
 * reclaim those pages, unmapping them from the workload, which goes
 * through the mmu notifiers of every context mirroring them. The part on
 * device memory (--device) is anonymous (migrate_vma moves anonymous pages
 * only). When swap exists, memory.swap.max is set too (--swap-max).
 *
 * One pass of the workload walks the working set chunk by chunk (256 KiB).
 * A chunk in the mirrored fraction is read by a device job (COPY into a
 * scratch buffer or CRC32C, by --jobs), any other chunk by the CPU doing
 * the same work; chunks on device memory always by device jobs. Results
 * are checked against what the file holds (data_errors).
 *
 * Exit status: 0 the experiment ran and its files were written, 1 it
 * could not run or the workload failed, 2 bad usage (nothing changed).
 * hmirror-reclaim(8) has more.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <numa.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hmirror.h"

#define KiB		((uint64_t)1024)
#define MiB		(1024 * KiB)
#define NSEC_PER_SEC	1000000000ULL
#define PAGE		((uint64_t)4096)
/* One job (or one CPU step) covers this much of the working set. */
#define CHUNK		(256 * KiB)
/* Device jobs of the workload in flight at once. */
#define WINDOW		4
#define MAX_NODES	8
/* The misbehaving context holds this part of the file part. */
#define MISBEHAVE_FRAC	0.25
/* How long the workload may take to stop once told to. */
#define STOP_GRACE_NS	(20 * NSEC_PER_SEC)
/* A job that takes longer than this is a failure of the workload. */
#define JOB_TIMEOUT_NS	(60 * NSEC_PER_SEC)
#define WS_MAGIC	0x686d6972726f7221ULL	/* "hmirror!" */

enum job_kind { JOB_COPY, JOB_CRC32C, JOB_KINDS };
static const char *const job_names[JOB_KINDS] = { "copy", "crc32c" };

struct opts {
	uint64_t limit, wss, swap_max;
	int swap_max_set;
	double mirrored, device;
	unsigned int weight[JOB_KINDS];
	int misbehave;
	unsigned int deadline_ms;
	double duration_s;
	unsigned int interval_ms;
	const char *out, *name, *file_dir, *cg_parent;
	unsigned int dev;
	unsigned int preempt;
	int quiet;
};

/*
 * Counters a child publishes for the sampler, in memory shared with it:
 * a sequence count, odd while the child writes, so a reader never sees a
 * half-written copy.
 */
struct published {
	_Atomic uint64_t seq;
	struct hmirror_stats st;
	uint64_t passes, cpu_chunks, dev_jobs, data_errors;
};

struct shared {
	struct published w, m;
	_Atomic int stop;		/* parent -> workload: finish */
	_Atomic int w_ready, m_ready;	/* set up, counting */
	uint64_t ws_addr;		/* the file part, in the workload */
	char err[256];			/* why a child failed */
};

struct sample {
	double t;
	uint64_t mem_current, anon, file, pgscan, pgsteal, refault_anon,
		 refault_file;
	double pgscan_rate, pgsteal_rate, refault_rate;
	int psi;			/* memory.pressure readable */
	double some_avg10, full_avg10;
	uint64_t some_total, full_total;
	uint64_t ev_low, ev_high, ev_max, ev_oom, ev_oom_kill;
	uint64_t passes, cpu_chunks, dev_jobs, data_errors;
	struct hmirror_stats st;	/* workload + misbehaving context */
	double inval_rate;
	int misbehave;			/* -1 none, 1 running, 2 SIGKILLed, 3 other */
	int numa_ok;
	unsigned int numa_sampled, numa_absent, numa_node[MAX_NODES];
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / NSEC_PER_SEC),
			       (long)(ns % NSEC_PER_SEC) };

	while (nanosleep(&ts, &ts) && errno == EINTR && !interrupted)
		;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hmirror-reclaim [options]\n"
		"  --limit SIZE      memory.max of the experiment's cgroup (64M)\n"
		"  --wss SIZE        working set (96M)\n"
		"  --mirrored F      fraction of the system-memory part read by device jobs (1)\n"
		"  --device F        fraction of the working set on device memory (0)\n"
		"  --jobs MIX        job kinds and weights, e.g. copy=1,crc32c=3 (crc32c)\n"
		"  --misbehave       a NONE-class context stuck on WAIT_VALUE over 1/4 of the file part\n"
		"  --deadline MS     invalidation deadline of the contexts (200)\n"
		"  --class page|none preemption class of the workload's context (none)\n"
		"  --duration S      length of the run, seconds (10)\n"
		"  --interval MS     sampling period (250)\n"
		"  --out DIR         where NAME.csv, NAME.svg, NAME.txt go (.)\n"
		"  --name NAME       base name of the files (reclaim)\n"
		"  --file-dir DIR    where the working-set file lives (--out)\n"
		"  --swap-max SIZE   memory.swap.max when swap exists (max)\n"
		"  --cgroup-parent D cgroup v2 directory to create the cgroup in (/sys/fs/cgroup)\n"
		"  --dev N           hmirror instance (0)\n"
		"  --quiet           only errors on stderr\n"
		"  -h, --help        this text\n");
}

static int bad(const char *fmt, ...)
{
	va_list ap;

	fputs("hmirror-reclaim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	return 2;
}

static void fail_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("hmirror-reclaim: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* "96M", "1G", "4096K", "65536": bytes; -1 on anything else. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': mul = KiB; end++; break;
	case 'M': mul = MiB; end++; break;
	case 'G': mul = 1024 * MiB; end++; break;
	default: return -1;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	if (*end || v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int parse_uint(const char *s, unsigned int lo, unsigned int hi,
		      unsigned int *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

/* "copy,crc32c" or "copy=1,crc32c=3". */
static int parse_jobs(const char *s, unsigned int *weight)
{
	char buf[128], *tok, *save, *eq;
	unsigned int i, w, total = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	memset(weight, 0, JOB_KINDS * sizeof(*weight));
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		w = 1;
		eq = strchr(tok, '=');
		if (eq) {
			*eq = '\0';
			if (parse_uint(eq + 1, 1, 1000, &w))
				return -1;
		}
		for (i = 0; i < JOB_KINDS; i++)
			if (!strcmp(tok, job_names[i]))
				break;
		if (i == JOB_KINDS || weight[i])
			return -1;
		weight[i] = w;
		total += w;
	}
	return total ? 0 : -1;
}

static int valid_name(const char *s)
{
	if (!*s || strlen(s) > 64 || *s == '.')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return 0;
	return 1;
}

static int is_dir(const char *p)
{
	struct stat st;

	return !stat(p, &st) && S_ISDIR(st.st_mode);
}

/* ---- cgroup files --------------------------------------------------- */

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* The whole of a small file, NUL-terminated; -errno on failure. */
static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* The value after "key " at the start of a line of @text; 0 if absent. */
static uint64_t keyed(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == ' ')
			return strtoull(p + kl + 1, NULL, 10);
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

static int swap_exists(void)
{
	char buf[4096];

	/* /proc/swaps has a header line, then one line per swap area. */
	if (read_str("/proc/swaps", buf, sizeof(buf)))
		return 0;
	return strchr(buf, '\n') && strchr(buf, '\n')[1] != '\0';
}

/* ---- the working set ------------------------------------------------ */

/*
 * What byte @off of the working-set file holds: every 8-byte word says
 * where it is, so a copy or a checksum of the wrong page shows.
 */
static uint64_t ws_word(uint64_t off)
{
	return (off / 8) ^ WS_MAGIC;
}

static void ws_fill(uint64_t *p, uint64_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = ws_word(off + i * 8);
}

/*
 * Write the file part and compute each chunk's CRC32C. The page cache
 * this leaves behind is dropped, so that the workload's faults charge the
 * pages to the experiment's cgroup, not to this process's.
 */
static int ws_write(const char *path, uint64_t len, uint32_t *crc)
{
	uint64_t *buf = malloc(CHUNK), off;
	int fd, ret = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		free(buf);
		return ret;
	}
	for (off = 0; off < len && !interrupted; off += CHUNK) {
		ws_fill(buf, off, CHUNK);
		crc[off / CHUNK] = hmirror_crc32c(~0U, buf, CHUNK);
		if (write(fd, buf, CHUNK) != (ssize_t)CHUNK) {
			ret = errno ? -errno : -EIO;
			break;
		}
	}
	if (!ret && interrupted)
		ret = -EINTR;
	if (!ret && fdatasync(fd))
		ret = -errno;
	if (!ret)
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
	free(buf);
	return ret;
}

/* ---- children: publishing their counters ---------------------------- */

static void publish(struct published *p, struct hmirror *h,
		    const uint64_t *counts)
{
	struct hmirror_stats st = { .size = sizeof(st) };

	if (h && hmirror_stats(h, &st))
		return;
	atomic_fetch_add_explicit(&p->seq, 1, memory_order_acq_rel);
	atomic_thread_fence(memory_order_release);
	if (h)
		p->st = st;
	if (counts) {
		p->passes = counts[0];
		p->cpu_chunks = counts[1];
		p->dev_jobs = counts[2];
		p->data_errors = counts[3];
	}
	atomic_thread_fence(memory_order_release);
	atomic_fetch_add_explicit(&p->seq, 1, memory_order_acq_rel);
}

static void read_published(struct published *p, struct published *out)
{
	uint64_t s;

	do {
		s = atomic_load_explicit(&p->seq, memory_order_acquire);
		if (s & 1)
			continue;
		atomic_thread_fence(memory_order_acquire);
		out->st = p->st;
		out->passes = p->passes;
		out->cpu_chunks = p->cpu_chunks;
		out->dev_jobs = p->dev_jobs;
		out->data_errors = p->data_errors;
		atomic_thread_fence(memory_order_acquire);
	} while ((s & 1) ||
		 s != atomic_load_explicit(&p->seq, memory_order_acquire));
}

static void child_error(struct shared *sh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sh->err, sizeof(sh->err), fmt, ap);
	va_end(ap);
}

/* Wait for the parent's go (it has moved us into the cgroup). */
static int wait_go(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? 0 : -1;
}

/* ---- the workload --------------------------------------------------- */

struct slot {
	int busy;
	uint64_t fence;
	enum job_kind kind;
	uint64_t chunk;		/* chunk index, counted over file then device part */
	uint64_t off;		/* offset in the working set, for the checks */
	uint8_t *scratch;	/* COPY destination */
	uint32_t *crc;		/* CRC32C result */
};

struct workload {
	const struct opts *o;
	struct shared *sh;
	const uint32_t *crc;	/* expected CRC32C per chunk */
	struct hmirror *h;
	uint8_t *file_ws;	/* file part, read-only mapping */
	uint64_t file_len;
	uint8_t *dev_ws;	/* device part, anonymous, migrated */
	uint64_t dev_len;
	uint64_t counts[4];	/* passes, cpu_chunks, dev_jobs, data_errors */
	unsigned int rr;	/* weighted round robin over the job kinds */
	struct slot slot[WINDOW];
	uint8_t *cpu_scratch;	/* the CPU's COPY destination, no job's */
	uint64_t last_pub;
};

static enum job_kind next_kind(struct workload *w)
{
	unsigned int total = 0, i, pick;

	for (i = 0; i < JOB_KINDS; i++)
		total += w->o->weight[i];
	pick = w->rr++ % total;
	for (i = 0; i < JOB_KINDS; i++) {
		if (pick < w->o->weight[i])
			return (enum job_kind)i;
		pick -= w->o->weight[i];
	}
	return JOB_CRC32C;
}

/* Is chunk @i of the file part one of the mirrored fraction? Spread evenly. */
static int chunk_mirrored(double f, uint64_t i)
{
	return floor((double)(i + 1) * f) > floor((double)i * f);
}

/* The result of a COPY or CRC32C of working-set bytes at @off: right? */
static int result_ok(const struct workload *w, enum job_kind kind,
		     uint64_t chunk, uint64_t off, const uint8_t *scratch,
		     uint32_t crc)
{
	uint64_t p, word;

	if (kind == JOB_CRC32C)
		return crc == w->crc[chunk];
	/* COPY: the first word of every page says where it came from. */
	for (p = 0; p < CHUNK; p += PAGE) {
		memcpy(&word, scratch + p, sizeof(word));
		if (word != ws_word(off + p))
			return 0;
	}
	return 1;
}

static int slot_finish(struct workload *w, struct slot *s)
{
	int status = 0, ret;

	ret = hmirror_wait(w->h, s->fence, JOB_TIMEOUT_NS, &status);
	if (ret) {
		child_error(w->sh, "waiting for a job: %s", hmirror_strerror(ret));
		return ret;
	}
	s->busy = 0;
	if (status) {
		child_error(w->sh, "a device job failed: %s",
			    hmirror_strerror(status));
		return status;
	}
	w->counts[2]++;
	if (!result_ok(w, s->kind, s->chunk, s->off, s->scratch, *s->crc))
		w->counts[3]++;
	return 0;
}

static void maybe_publish(struct workload *w)
{
	uint64_t t = now_ns();

	/* Often enough for any --interval, rarely enough to cost nothing. */
	if (t - w->last_pub < 10 * 1000000ULL)
		return;
	w->last_pub = t;
	publish(&w->sh->w, w->h, w->counts);
}

/* Submit chunk @chunk (at @src) as a device job in a free slot. */
static int dev_chunk(struct workload *w, uint64_t chunk, const uint8_t *src,
		     uint64_t off)
{
	struct hmirror_cmd cmds[1];
	struct hmirror_job job;
	struct slot *s = NULL;
	unsigned int i;
	uint64_t oldest = UINT64_MAX;
	int ret;

	for (i = 0; i < WINDOW; i++)
		if (!w->slot[i].busy) {
			s = &w->slot[i];
			break;
		}
	if (!s) {
		/* Jobs of a context complete in order: wait for the oldest. */
		for (i = 0; i < WINDOW; i++)
			if (w->slot[i].fence < oldest) {
				oldest = w->slot[i].fence;
				s = &w->slot[i];
			}
		ret = slot_finish(w, s);
		if (ret)
			return ret;
	}
	s->kind = next_kind(w);
	s->chunk = chunk;
	s->off = off;
	hmirror_job_init(&job, cmds, 1);
	if (s->kind == JOB_COPY)
		ret = hmirror_job_copy(&job, s->scratch, src, CHUNK);
	else
		ret = hmirror_job_crc32c(&job, s->crc, src, CHUNK, ~0U);
	if (!ret)
		ret = hmirror_submit(w->h, &job, &s->fence);
	if (ret) {
		child_error(w->sh, "submitting a job: %s", hmirror_strerror(ret));
		return ret;
	}
	s->busy = 1;
	return 0;
}

/* The CPU does what a job of the same kind would. */
static void cpu_chunk(struct workload *w, uint64_t chunk, const uint8_t *src,
		      uint64_t off)
{
	enum job_kind kind = next_kind(w);
	uint32_t crc = 0;

	if (kind == JOB_COPY)
		memcpy(w->cpu_scratch, src, CHUNK);
	else
		crc = hmirror_crc32c(~0U, src, CHUNK);
	w->counts[1]++;
	if (!result_ok(w, kind, chunk, off, w->cpu_scratch, crc))
		w->counts[3]++;
}

static int drain(struct workload *w)
{
	unsigned int i;
	int ret;

	/* In fence order, which is submission order. */
	for (;;) {
		struct slot *s = NULL;

		for (i = 0; i < WINDOW; i++)
			if (w->slot[i].busy && (!s || w->slot[i].fence < s->fence))
				s = &w->slot[i];
		if (!s)
			return 0;
		ret = slot_finish(w, s);
		if (ret)
			return ret;
	}
}

/* Fill the device part, 2 MiB at a time, and move it to device memory. */
static int dev_setup(struct workload *w)
{
	uint64_t off, step = 2 * MiB, len, moved = 0, failed = 0, m, f;
	int ret;

	for (off = 0; off < w->dev_len; off += step) {
		len = w->dev_len - off < step ? w->dev_len - off : step;
		ws_fill((uint64_t *)(w->dev_ws + off), w->file_len + off, len);
		ret = hmirror_migrate(w->h, w->dev_ws + off, len,
				      HMIRROR_MIGRATE_TO_DEVICE, NULL, &m, &f);
		if (ret) {
			child_error(w->sh, "hmirror_migrate to the device: %s",
				    hmirror_strerror(ret));
			return ret;
		}
		moved += m;
		failed += f;
	}
	if (failed)
		fprintf(stderr, "hmirror-reclaim: %" PRIu64 " of %" PRIu64
			" device pages stayed in system memory\n", failed,
			moved + failed);
	return 0;
}

static int workload_main(const struct opts *o, struct shared *sh,
			 const uint32_t *crc, const char *ws_path,
			 uint64_t file_len, int go_fd)
{
	struct workload w = { .o = o, .sh = sh, .crc = crc,
			      .file_len = file_len };
	uint64_t c, nfile, ndev;
	unsigned int i;
	uint8_t *scratch;
	int fd, ret;

	prctl(PR_SET_NAME, "reclaim-work");
	if (wait_go(go_fd))
		_exit(1);
	w.dev_len = (uint64_t)llround(o->device * (double)o->wss / CHUNK) * CHUNK;
	ret = hmirror_open(o->dev, &w.h);
	if (ret) {
		child_error(sh, "hmirror_open(%u): %s", o->dev, hmirror_strerror(ret));
		_exit(1);
	}
	if ((ret = hmirror_set_preempt(w.h, o->preempt)) ||
	    (ret = hmirror_set_deadline(w.h, o->deadline_ms))) {
		child_error(sh, "configuring the context: %s", hmirror_strerror(ret));
		_exit(1);
	}
	scratch = mmap(NULL, (WINDOW + 1) * (CHUNK + PAGE), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (scratch == MAP_FAILED) {
		child_error(sh, "mmap of the scratch buffers: %s", strerror(errno));
		_exit(1);
	}
	for (i = 0; i < WINDOW; i++) {
		w.slot[i].scratch = scratch + i * (CHUNK + PAGE);
		w.slot[i].crc = (uint32_t *)(w.slot[i].scratch + CHUNK);
	}
	w.cpu_scratch = scratch + WINDOW * (CHUNK + PAGE);
	if (file_len) {
		fd = open(ws_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			child_error(sh, "open %s: %s", ws_path, strerror(errno));
			_exit(1);
		}
		/* Whatever is cached was charged elsewhere: start cold. */
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		w.file_ws = mmap(NULL, file_len, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		if (w.file_ws == MAP_FAILED) {
			child_error(sh, "mmap of %s: %s", ws_path, strerror(errno));
			_exit(1);
		}
		sh->ws_addr = (uintptr_t)w.file_ws;
	}
	if (w.dev_len) {
		w.dev_ws = mmap(NULL, w.dev_len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (w.dev_ws == MAP_FAILED) {
			child_error(sh, "mmap of the device part: %s", strerror(errno));
			_exit(1);
		}
		if (dev_setup(&w))
			_exit(1);
	}
	publish(&sh->w, w.h, w.counts);
	atomic_store(&sh->w_ready, 1);

	nfile = file_len / CHUNK;
	ndev = w.dev_len / CHUNK;
	while (!atomic_load(&sh->stop)) {
		for (c = 0; c < nfile + ndev && !atomic_load(&sh->stop); c++) {
			if (c >= nfile)
				ret = dev_chunk(&w, c, w.dev_ws + (c - nfile) * CHUNK,
						c * CHUNK);
			else if (chunk_mirrored(o->mirrored, c))
				ret = dev_chunk(&w, c, w.file_ws + c * CHUNK,
						c * CHUNK);
			else
				ret = (cpu_chunk(&w, c, w.file_ws + c * CHUNK,
						 c * CHUNK), 0);
			if (ret)
				goto out;
			maybe_publish(&w);
		}
		if (c == nfile + ndev)
			w.counts[0]++;
	}
	ret = drain(&w);
out:
	publish(&sh->w, w.h, w.counts);
	hmirror_close(w.h);
	_exit(ret ? 1 : 0);
}

/* ---- the misbehaving context ---------------------------------------- */

/*
 * A GPU-like context whose job waits for a value that never comes, over
 * part of the working set: any invalidation there must wait for it, then
 * escalate at the deadline, and the policy kills this process. Its file
 * descriptor goes to the parent, so that the context, dead, stays readable
 * in debugfs after the kill.
 */
static int misbehave_main(const struct opts *o, struct shared *sh,
			  const char *ws_path, uint64_t len, int go_fd,
			  int sock)
{
	struct hmirror_cmd cmds[2];
	struct hmirror_job job;
	struct hmirror *h;
	uint64_t *flag, fence;
	uint32_t *result;
	uint8_t *ws;
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = "f", .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd, ret;

	prctl(PR_SET_NAME, "reclaim-misbhv");
	if (wait_go(go_fd))
		_exit(1);
	ret = hmirror_open(o->dev, &h);
	if (!ret)
		ret = hmirror_set_preempt(h, HMIRROR_PREEMPT_NONE);
	if (!ret)
		ret = hmirror_set_deadline(h, o->deadline_ms);
	if (!ret)
		ret = hmirror_set_policy(h, HMIRROR_POLICY_KILL);
	if (ret) {
		child_error(sh, "misbehaving context: %s", hmirror_strerror(ret));
		_exit(1);
	}
	fd = open(ws_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		child_error(sh, "open %s: %s", ws_path, strerror(errno));
		_exit(1);
	}
	ws = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	flag = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (ws == MAP_FAILED || flag == MAP_FAILED) {
		child_error(sh, "misbehaving context: mmap: %s", strerror(errno));
		_exit(1);
	}
	result = (uint32_t *)(flag + 1);
	/* The wait comes first, so the checksum's footprint stays held. */
	hmirror_job_init(&job, cmds, 2);
	ret = hmirror_job_wait_value(&job, flag, 1, 0);
	if (!ret)
		ret = hmirror_job_crc32c(&job, result, ws, len, ~0U);
	if (!ret)
		ret = hmirror_submit(h, &job, &fence);
	if (ret) {
		child_error(sh, "misbehaving context: submit: %s",
			    hmirror_strerror(ret));
		_exit(1);
	}
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	fd = hmirror_fd(h);
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1) {
		child_error(sh, "misbehaving context: sendmsg: %s", strerror(errno));
		_exit(1);
	}
	publish(&sh->m, h, NULL);
	atomic_store(&sh->m_ready, 1);
	/* Until killed, or until the end of the run. */
	while (!atomic_load(&sh->stop)) {
		int status;

		ret = hmirror_wait(h, fence, 10 * 1000000ULL, &status);
		publish(&sh->m, h, NULL);
		if (!ret)
			break;	/* the job ended: reset, but not killed */
	}
	hmirror_close(h);
	_exit(0);
}

/* ---- the sampler ---------------------------------------------------- */

struct run {
	struct opts o;
	char cg[PATH_MAX];		/* the experiment's cgroup */
	char ws_path[PATH_MAX];
	uint64_t file_len;
	int ws_created, cg_created;
	struct shared *sh;
	pid_t w_pid, m_pid;
	int w_status, m_status, w_done, m_done;
	int m_fd;			/* the misbehaving context, held */
	long m_ctx_id;			/* its debugfs id, -1 unknown */
	struct hmirror_stats m_final;	/* read from debugfs after the kill */
	int m_final_ok;
	int nodes;			/* NUMA nodes sampled; 0: no NUMA */
	int numa_err;			/* numa_maps unreadable (errno) */
	struct sample *samples;
	size_t nsamples, cap;
	int swap;
	uint64_t t0;
};

static void cg_file(const struct run *r, const char *name, char *buf,
		    size_t len)
{
	snprintf(buf, len, "%s/%s", r->cg, name);
}

/* The misbehaving context's id, from debugfs contexts (pid column). */
static long find_ctx_id(unsigned int dev, pid_t pid)
{
	char path[128], line[512];
	long id, found = -1;
	int p;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/debug/hmirror/hmirror%u/contexts", dev);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%ld %d", &id, &p) == 2 && p == pid)
			found = id;
	fclose(f);
	return found;
}

/* debugfs hmirror<N>/ctx<ID>: the counters, by name. */
static int read_ctx_debugfs(unsigned int dev, long id, struct hmirror_stats *st)
{
	char path[128], text[4096];
	unsigned int i;

	snprintf(path, sizeof(path), "/sys/kernel/debug/hmirror/hmirror%u/ctx%ld",
		 dev, id);
	if (read_str(path, text, sizeof(text)))
		return -1;
	memset(st, 0, sizeof(*st));
	st->faults = keyed(text, "faults");
	st->pages_faulted = keyed(text, "pages_faulted");
	st->inval_blockable = keyed(text, "inval_blockable");
	st->inval_nonblock = keyed(text, "inval_nonblock");
	st->inval_refused = keyed(text, "inval_refused");
	st->inval_waits = keyed(text, "inval_waits");
	for (i = 0; i < HMIRROR_WAIT_BUCKETS; i++) {
		char k[16];

		snprintf(k, sizeof(k), "wait_hist%u", i);
		st->wait_hist[i] = keyed(text, k);
	}
	st->escalations = keyed(text, "escalations");
	st->jobs_submitted = keyed(text, "jobs_submitted");
	st->jobs_completed = keyed(text, "jobs_completed");
	st->jobs_failed = keyed(text, "jobs_failed");
	st->jobs_cancelled = keyed(text, "jobs_cancelled");
	return 0;
}

static void stats_add(struct hmirror_stats *a, const struct hmirror_stats *b)
{
	unsigned int i;

	a->pages_faulted += b->pages_faulted;
	a->inval_blockable += b->inval_blockable;
	a->inval_nonblock += b->inval_nonblock;
	a->inval_refused += b->inval_refused;
	a->inval_waits += b->inval_waits;
	for (i = 0; i < HMIRROR_WAIT_BUCKETS; i++)
		a->wait_hist[i] += b->wait_hist[i];
	a->escalations += b->escalations;
	a->jobs_submitted += b->jobs_submitted;
	a->jobs_completed += b->jobs_completed;
	a->jobs_failed += b->jobs_failed;
	a->jobs_cancelled += b->jobs_cancelled;
}

/* Receive the misbehaving child's context fd, if it has sent it. */
static void take_m_fd(struct run *r, int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], c;
	struct iovec iov = { .iov_base = &c, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;

	if (r->m_fd >= 0 || recvmsg(sock, &msg, MSG_DONTWAIT) != 1)
		return;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&r->m_fd, CMSG_DATA(cm), sizeof(int));
	r->m_ctx_id = find_ctx_id(r->o.dev, r->m_pid);
}

static void reap(struct run *r)
{
	int st;

	if (!r->w_done && waitpid(r->w_pid, &st, WNOHANG) == r->w_pid) {
		r->w_done = 1;
		r->w_status = st;
	}
	if (r->m_pid > 0 && !r->m_done &&
	    waitpid(r->m_pid, &st, WNOHANG) == r->m_pid) {
		r->m_done = 1;
		r->m_status = st;
	}
}

static int m_state(const struct run *r)
{
	if (r->m_pid <= 0)
		return -1;
	if (!r->m_done)
		return 1;
	return WIFSIGNALED(r->m_status) && WTERMSIG(r->m_status) == SIGKILL ?
	       2 : 3;
}

/*
 * Where the workload's file part is: its line of /proc/PID/numa_maps
 * gives the pages mapped on each node ("N<node>=<pages>"). Pages not
 * mapped there were reclaimed, or are not faulted in yet.
 */
static void sample_numa(struct run *r, struct sample *s)
{
	char path[64], line[4096], *tok, *save;
	uint64_t npages = r->file_len / PAGE, sum = 0;
	unsigned long long start;
	unsigned int node;
	unsigned long pages;
	FILE *f;

	if (!r->nodes || !r->sh->ws_addr || !npages || r->w_done)
		return;
	snprintf(path, sizeof(path), "/proc/%d/numa_maps", (int)r->w_pid);
	f = fopen(path, "r");
	if (!f) {
		if (!r->numa_err)
			fprintf(stderr, "hmirror-reclaim: %s: %s: NUMA placement "
				"not sampled\n", path, strerror(errno));
		r->numa_err = errno ? errno : EIO;
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx", &start) != 1 || start != r->sh->ws_addr)
			continue;
		s->numa_ok = 1;
		for (tok = strtok_r(line, " \n", &save); tok;
		     tok = strtok_r(NULL, " \n", &save))
			if (sscanf(tok, "N%u=%lu", &node, &pages) == 2 &&
			    node < (unsigned int)r->nodes) {
				s->numa_node[node] = (unsigned int)pages;
				sum += pages;
			}
		break;
	}
	fclose(f);
	s->numa_sampled = (unsigned int)npages;
	s->numa_absent = sum < npages ? (unsigned int)(npages - sum) : 0;
}

static void take_sample(struct run *r)
{
	struct sample s = { 0 }, *prev;
	char path[PATH_MAX + 32], text[8192];
	struct published w = { 0 }, m = { 0 };
	double dt;

	s.t = (double)(now_ns() - r->t0) / 1e9;
	reap(r);
	cg_file(r, "memory.current", path, sizeof(path));
	if (!read_str(path, text, sizeof(text)))
		s.mem_current = strtoull(text, NULL, 10);
	cg_file(r, "memory.stat", path, sizeof(path));
	if (!read_str(path, text, sizeof(text))) {
		s.anon = keyed(text, "anon");
		s.file = keyed(text, "file");
		s.pgscan = keyed(text, "pgscan");
		s.pgsteal = keyed(text, "pgsteal");
		s.refault_anon = keyed(text, "workingset_refault_anon");
		s.refault_file = keyed(text, "workingset_refault_file");
	}
	cg_file(r, "memory.pressure", path, sizeof(path));
	if (!read_str(path, text, sizeof(text))) {
		char *full = strstr(text, "full ");

		s.psi = sscanf(text, "some avg10=%lf %*s %*s total=%" SCNu64,
			       &s.some_avg10, &s.some_total) == 2;
		if (full && sscanf(full, "full avg10=%lf %*s %*s total=%" SCNu64,
				   &s.full_avg10, &s.full_total) != 2)
			s.psi = 0;
	}
	cg_file(r, "memory.events", path, sizeof(path));
	if (!read_str(path, text, sizeof(text))) {
		s.ev_low = keyed(text, "low");
		s.ev_high = keyed(text, "high");
		s.ev_max = keyed(text, "max");
		s.ev_oom = keyed(text, "oom");
		s.ev_oom_kill = keyed(text, "oom_kill");
	}
	read_published(&r->sh->w, &w);
	s.passes = w.passes;
	s.cpu_chunks = w.cpu_chunks;
	s.dev_jobs = w.dev_jobs;
	s.data_errors = w.data_errors;
	s.st = w.st;
	if (r->m_pid > 0) {
		struct hmirror_stats mst;

		if (r->m_final_ok) {
			mst = r->m_final;
		} else if (r->m_fd >= 0 && r->m_ctx_id >= 0 &&
			   !read_ctx_debugfs(r->o.dev, r->m_ctx_id, &mst)) {
			/* debugfs: sees the context after its owner died */
			if (r->m_done) {
				r->m_final = mst;
				r->m_final_ok = 1;
			}
		} else {
			read_published(&r->sh->m, &m);
			mst = m.st;
		}
		stats_add(&s.st, &mst);
	}
	s.misbehave = m_state(r);
	sample_numa(r, &s);

	/* Rates against the previous sample; counters never go down. */
	if (r->nsamples) {
		prev = &r->samples[r->nsamples - 1];
		dt = s.t - prev->t;
		if (dt > 0) {
			s.pgscan_rate = (double)(s.pgscan - prev->pgscan) / dt;
			s.pgsteal_rate = (double)(s.pgsteal - prev->pgsteal) / dt;
			s.refault_rate = (double)(s.refault_file + s.refault_anon -
				prev->refault_file - prev->refault_anon) / dt;
			s.inval_rate = (double)(s.st.inval_blockable +
				s.st.inval_nonblock - prev->st.inval_blockable -
				prev->st.inval_nonblock) / dt;
		}
	}
	if (r->nsamples == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct sample *n = realloc(r->samples, cap * sizeof(*n));

		if (!n)
			return;
		r->samples = n;
		r->cap = cap;
	}
	r->samples[r->nsamples++] = s;
}

/* ---- output --------------------------------------------------------- */

static void csv_header(const struct run *r, FILE *f)
{
	int i;

	fputs("t_s,mem_current,anon,file,pgscan,pgsteal,refault_anon,"
	      "refault_file,pgscan_per_s,pgsteal_per_s,refault_per_s,"
	      "psi_some_avg10,psi_some_total_us,psi_full_avg10,"
	      "psi_full_total_us,ev_low,ev_high,ev_max,ev_oom,ev_oom_kill,"
	      "passes,cpu_chunks,dev_jobs,data_errors,jobs_submitted,"
	      "jobs_completed,jobs_failed,jobs_cancelled,pages_faulted,"
	      "inval_blockable,inval_nonblock,inval_refused,inval_waits,"
	      "inval_per_s", f);
	for (i = 0; i < HMIRROR_WAIT_BUCKETS; i++)
		fprintf(f, ",wait_h%d", i);
	fputs(",escalations,dev_resident,misbehave,ws_pages,ws_absent", f);
	for (i = 0; i < r->nodes; i++)
		fprintf(f, ",ws_node%d", i);
	fputc('\n', f);
}

static void csv_row(const struct run *r, const struct sample *s, FILE *f)
{
	int i;

	fprintf(f, "%.3f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%" PRIu64 ",%.1f,%.1f,%.1f,",
		s->t, s->mem_current, s->anon, s->file, s->pgscan, s->pgsteal,
		s->refault_anon, s->refault_file, s->pgscan_rate,
		s->pgsteal_rate, s->refault_rate);
	/* Empty fields where the kernel has no PSI: unknown, not zero. */
	if (s->psi)
		fprintf(f, "%.2f,%" PRIu64 ",%.2f,%" PRIu64 ",", s->some_avg10,
			s->some_total, s->full_avg10, s->full_total);
	else
		fputs(",,,,", f);
	fprintf(f, "%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
		",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f",
		(uint64_t)s->ev_low, (uint64_t)s->ev_high, (uint64_t)s->ev_max,
		(uint64_t)s->ev_oom, (uint64_t)s->ev_oom_kill, s->passes,
		s->cpu_chunks, s->dev_jobs, s->data_errors,
		(uint64_t)s->st.jobs_submitted, (uint64_t)s->st.jobs_completed,
		(uint64_t)s->st.jobs_failed, (uint64_t)s->st.jobs_cancelled,
		(uint64_t)s->st.pages_faulted, (uint64_t)s->st.inval_blockable,
		(uint64_t)s->st.inval_nonblock, (uint64_t)s->st.inval_refused,
		(uint64_t)s->st.inval_waits, s->inval_rate);
	for (i = 0; i < HMIRROR_WAIT_BUCKETS; i++)
		fprintf(f, ",%" PRIu64, (uint64_t)s->st.wait_hist[i]);
	fprintf(f, ",%" PRIu64 ",%" PRIu64 ",%d,", (uint64_t)s->st.escalations,
		(uint64_t)s->st.dev_resident, s->misbehave);
	if (s->numa_ok)
		fprintf(f, "%u,%u", s->numa_sampled, s->numa_absent);
	else
		fputc(',', f);
	for (i = 0; i < r->nodes; i++) {
		if (s->numa_ok)
			fprintf(f, ",%u", s->numa_node[i]);
		else
			fputc(',', f);
	}
	fputc('\n', f);
}

static int write_csv(const struct run *r, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (!f)
		return -errno;
	csv_header(r, f);
	for (i = 0; i < r->nsamples; i++)
		csv_row(r, &r->samples[i], f);
	return fclose(f) ? -errno : 0;
}

/* The last sample with a placement (the very last comes after the stop). */
static const struct sample *last_numa(const struct run *r)
{
	size_t i;

	for (i = r->nsamples; i-- > 0;)
		if (r->samples[i].numa_ok)
			return &r->samples[i];
	return NULL;
}

/* Column number (1-based, for gnuplot) of @name in the CSV header. */
static int col(const struct run *r, const char *name)
{
	char *buf = NULL, *tok, *save;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int n = 0, found = 0;

	if (!f)
		return 0;
	csv_header(r, f);
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		n++;
		if (!strcmp(tok, name)) {
			found = n;
			break;
		}
	}
	free(buf);
	return found;
}

static int have_gnuplot(void)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save, p[PATH_MAX];
	int found = 0;

	if (!path)
		return 0;
	copy = strdup(path);
	if (!copy)
		return 0;
	for (dir = strtok_r(copy, ":", &save); dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		snprintf(p, sizeof(p), "%s/gnuplot", dir);
		found = !access(p, X_OK);
	}
	free(copy);
	return found;
}

/* Four panels over time; the script stays next to the CSV. */
static int write_plot(const struct run *r, const char *gp, const char *csv,
		      const char *svg)
{
	FILE *f = fopen(gp, "w");
	int i;

	if (!f)
		return -errno;
	fprintf(f, "# hmirror-reclaim: gnuplot %s renders %s from %s\n", gp, svg, csv);
	/* noenhanced: column names have underscores, not subscripts */
	fprintf(f, "set terminal svg size 900,1300 dynamic noenhanced font 'sans,10'\n");
	fprintf(f, "set output '%s'\n", svg);
	fprintf(f, "set datafile separator ','\nset key autotitle columnhead\n");
	fprintf(f, "set key below horizontal\nset grid\nset xlabel 'time (s)'\n");
	fprintf(f, "set autoscale xfix\nset yrange [0:*]\nset y2range [0:*]\n");
	fprintf(f, "set multiplot layout 4,1 title '%s: WSS %" PRIu64
		" MiB, memory.max %" PRIu64 " MiB, mirrored %.2f, device %.2f%s'\n",
		r->o.name, r->o.wss / MiB, r->o.limit / MiB, r->o.mirrored,
		r->o.device, r->o.misbehave ? ", misbehaving context" : "");
	fprintf(f, "set title 'reclaim (pages/s)'\nset ylabel 'pages/s'\n");
	fprintf(f, "plot '%s' using 1:%d with lines lw 2, '' using 1:%d with lines, "
		"'' using 1:%d with lines\n", csv, col(r, "pgscan_per_s"),
		col(r, "pgsteal_per_s"), col(r, "refault_per_s"));
	fprintf(f, "set title 'memory pressure (PSI avg10, %%) and memory.current'\n");
	fprintf(f, "set ylabel '%%'\nset y2label 'MiB'\nset y2tics\nset ytics nomirror\n");
	/* No PSI: empty columns, which gnuplot refuses to plot. */
	if (r->samples[r->nsamples - 1].psi)
		fprintf(f, "plot '%s' using 1:%d with lines lw 2, '' using 1:%d with lines, "
			"'' using 1:($%d/1048576) axes x1y2 with lines title 'memory.current (MiB)'\n",
			csv, col(r, "psi_some_avg10"), col(r, "psi_full_avg10"),
			col(r, "mem_current"));
	else
		fprintf(f, "set title 'memory.current (no PSI: kernel without CONFIG_PSI)'\n"
			"plot '%s' using 1:($%d/1048576) axes x1y2 with lines title 'memory.current (MiB)'\n",
			csv, col(r, "mem_current"));
	fprintf(f, "set title 'hmirror invalidations/s and escalations'\n");
	fprintf(f, "set ylabel 'invalidations/s'\nset y2label 'count'\n");
	fprintf(f, "plot '%s' using 1:%d with lines lw 2, "
		"'' using 1:%d axes x1y2 with steps title 'escalations (total)', "
		"'' using 1:%d axes x1y2 with steps title 'inval waits (total)'\n",
		csv, col(r, "inval_per_s"), col(r, "escalations"),
		col(r, "inval_waits"));
	fprintf(f, "set title 'where the %" PRIu64 " pages of the file part are "
		"(numa_maps)'\n", r->file_len / PAGE);
	fprintf(f, "set ylabel 'pages'\nset y2label 'device-resident pages'\n");
	if (!last_numa(r)) {
		fprintf(f, "set title 'device-resident pages (placement not sampled)'\n"
			"plot '%s' using 1:%d with lines\nunset multiplot\n", csv,
			col(r, "dev_resident"));
		return fclose(f) ? -errno : 0;
	}
	fprintf(f, "plot '%s' using 1:%d with lines lw 2", csv, col(r, "ws_absent"));
	for (i = 0; i < r->nodes; i++) {
		char c[24];

		snprintf(c, sizeof(c), "ws_node%d", i);
		fprintf(f, ", '' using 1:%d with lines", col(r, c));
	}
	fprintf(f, ", '' using 1:%d axes x1y2 with lines\n", col(r, "dev_resident"));
	fprintf(f, "unset multiplot\n");
	return fclose(f) ? -errno : 0;
}

/* gnuplot's warnings (an all-zero panel) go to @log, not the terminal. */
static int run_gnuplot(const char *gp, const char *log)
{
	pid_t pid = fork();
	int st, fd;

	if (pid < 0)
		return -errno;
	if (!pid) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		execlp("gnuplot", "gnuplot", gp, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -errno;
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -EIO;
}

static const char *fmt_mib(uint64_t bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f MiB", (double)bytes / (double)MiB);
	return buf;
}

/*
 * The kernel keeps waits only as a histogram: the mean with each wait
 * counted as its bucket's middle (@which 0), lower bound (-1) or upper
 * bound (1); the last bucket is open, so its lower bound stands for it.
 */
static double mean_wait_ms(const struct hmirror_stats *st, int which)
{
	static const unsigned int ub[HMIRROR_WAIT_BUCKETS] = HMIRROR_WAIT_BUCKET_US;
	double sum = 0, n = 0, lo = 0, v;
	unsigned int i;

	for (i = 0; i < HMIRROR_WAIT_BUCKETS; i++) {
		if (i == HMIRROR_WAIT_BUCKETS - 1 || which < 0)
			v = lo;
		else
			v = which > 0 ? ub[i] : (lo + ub[i]) / 2;
		sum += v * (double)st->wait_hist[i];
		n += (double)st->wait_hist[i];
		lo = ub[i];
	}
	return n ? sum / n / 1000.0 : 0;
}

static int write_summary(const struct run *r, const char *path, char **text)
{
	const struct sample *a = &r->samples[0], *z = &r->samples[r->nsamples - 1];
	const struct sample *nm = last_numa(r);
	double dur = z->t - a->t, peak_scan = 0, peak_some = 0;
	uint64_t inval, waits;
	char *buf = NULL, m1[32], m2[32], m3[32], m4[32];
	size_t len = 0, i;
	int node;
	FILE *f;

	for (i = 0; i < r->nsamples; i++) {
		if (r->samples[i].pgscan_rate > peak_scan)
			peak_scan = r->samples[i].pgscan_rate;
		if (r->samples[i].some_avg10 > peak_some)
			peak_some = r->samples[i].some_avg10;
	}
	if (dur <= 0)
		dur = 1e-9;
	inval = z->st.inval_blockable + z->st.inval_nonblock;
	waits = z->st.inval_waits;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "%s: a working set of %s (%s as file page cache, %.0f%% of it "
		"read by device jobs, the rest by the CPU; %s anonymous on device "
		"memory) under memory.max %s%s, for %.1f s: %" PRIu64 " passes, %"
		PRIu64 " device jobs and %" PRIu64 " CPU chunks, %" PRIu64
		" wrong results. Reclaim scanned %" PRIu64 " and stole %" PRIu64
		" pages (peak pgscan rate %.0f pages/s), %" PRIu64 " refaults; ",
		r->o.name, fmt_mib(r->o.wss, m1, sizeof(m1)),
		fmt_mib(r->file_len, m2, sizeof(m2)), r->o.mirrored * 100,
		fmt_mib(r->o.wss - r->file_len, m3, sizeof(m3)),
		fmt_mib(r->o.limit, m4, sizeof(m4)),
		r->swap ? " (swap allowed)" : " (no swap: only the page cache is reclaimable)",
		dur, z->passes - a->passes, z->dev_jobs - a->dev_jobs,
		z->cpu_chunks - a->cpu_chunks, z->data_errors,
		z->pgscan - a->pgscan, z->pgsteal - a->pgsteal,
		peak_scan, z->refault_file + z->refault_anon -
		a->refault_file - a->refault_anon);
	if (z->psi)
		/* total is in microseconds: its share of the run is the average */
		fprintf(f, "PSI memory some avg %.1f%% over the run (peak avg10 "
			"%.1f%%), full avg %.1f%%; ",
			(double)(z->some_total - a->some_total) / (dur * 1e4),
			peak_some,
			(double)(z->full_total - a->full_total) / (dur * 1e4));
	else
		fprintf(f, "PSI not available (no memory.pressure: kernel without CONFIG_PSI); ");
	fprintf(f, "memory.events max %" PRIu64 ", oom %" PRIu64 ", oom_kill %"
		PRIu64 ". hmirror: %" PRIu64 " invalidations (%.1f/s; %" PRIu64
		" blockable, %" PRIu64 " non-blockable, %" PRIu64 " refused), %"
		PRIu64 " waited for a job (mean wait %.3f ms from the histogram's "
		"bucket middles, between %.3f and %.3f ms), %" PRIu64 " escalations",
		z->ev_max - a->ev_max, z->ev_oom - a->ev_oom,
		z->ev_oom_kill - a->ev_oom_kill, inval, (double)inval / dur,
		(uint64_t)z->st.inval_blockable, (uint64_t)z->st.inval_nonblock,
		(uint64_t)z->st.inval_refused, waits, mean_wait_ms(&z->st, 0),
		mean_wait_ms(&z->st, -1), mean_wait_ms(&z->st, 1),
		(uint64_t)z->st.escalations);
	if (r->m_pid > 0)
		fprintf(f, " (the misbehaving context's owner %s)",
			z->misbehave == 2 ? "was killed (SIGKILL)" :
			z->misbehave == 1 ? "was still running at the end" :
			"ended without being killed");
	fprintf(f, ", %" PRIu64 " pages faulted in, %" PRIu64
		" device-resident at the end. ",
		(uint64_t)z->st.pages_faulted, (uint64_t)z->st.dev_resident);
	if (nm) {
		fprintf(f, "NUMA (numa_maps): of the %u pages of the file part, "
			"at %.1f s,", nm->numa_sampled, nm->t);
		for (node = 0; node < r->nodes; node++)
			fprintf(f, " %u on node %d,", nm->numa_node[node], node);
		fprintf(f, " %u not resident.", nm->numa_absent);
	} else {
		fprintf(f, "NUMA placement: not sampled (%s).",
			r->nodes ? "numa_maps unreadable" : "no NUMA support");
	}
	fputc('\n', f);
	fclose(f);
	f = fopen(path, "w");
	if (!f || fputs(buf, f) < 0 || fclose(f)) {
		free(buf);
		return -errno;
	}
	*text = buf;
	return 0;
}

/* ---- set-up and tear-down ------------------------------------------- */

static int cg_setup(struct run *r)
{
	char path[PATH_MAX + 32], buf[4096];
	int ret;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", r->o.cg_parent);
	if (read_str(path, buf, sizeof(buf))) {
		fail_msg("%s: not a cgroup v2 directory (%s); mount it with "
			 "'mount -t cgroup2 none %s'", r->o.cg_parent,
			 strerror(errno), r->o.cg_parent);
		return -1;
	}
	if (!strstr(buf, "memory")) {
		fail_msg("%s: the memory controller is not available here",
			 r->o.cg_parent);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", r->o.cg_parent);
	if (read_str(path, buf, sizeof(buf)) || !strstr(buf, "memory")) {
		ret = write_str(path, "+memory");
		if (ret) {
			fail_msg("enabling the memory controller in %s: %s",
				 path, strerror(-ret));
			return -1;
		}
	}
	snprintf(r->cg, sizeof(r->cg), "%s/hmirror-reclaim-%s-%d",
		 r->o.cg_parent, r->o.name, (int)getpid());
	if (mkdir(r->cg, 0755)) {
		fail_msg("mkdir %s: %s", r->cg, strerror(errno));
		return -1;
	}
	r->cg_created = 1;
	snprintf(buf, sizeof(buf), "%" PRIu64, r->o.limit);
	cg_file(r, "memory.max", path, sizeof(path));
	if ((ret = write_str(path, buf))) {
		fail_msg("setting %s: %s", path, strerror(-ret));
		return -1;
	}
	r->swap = swap_exists();
	if (r->swap) {
		if (r->o.swap_max_set)
			snprintf(buf, sizeof(buf), "%" PRIu64, r->o.swap_max);
		else
			strcpy(buf, "max");
		cg_file(r, "memory.swap.max", path, sizeof(path));
		if ((ret = write_str(path, buf))) {
			fail_msg("setting %s: %s", path, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

static int cg_join(struct run *r, pid_t pid)
{
	char path[PATH_MAX + 32], buf[32];
	int ret;

	cg_file(r, "cgroup.procs", path, sizeof(path));
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	ret = write_str(path, buf);
	if (ret)
		fail_msg("moving pid %d into %s: %s", (int)pid, r->cg, strerror(-ret));
	return ret;
}

static void cleanup(struct run *r)
{
	int i;

	if (r->w_pid > 0 && !r->w_done) {
		kill(r->w_pid, SIGKILL);
		waitpid(r->w_pid, &r->w_status, 0);
		r->w_done = 1;
	}
	if (r->m_pid > 0 && !r->m_done) {
		kill(r->m_pid, SIGKILL);
		waitpid(r->m_pid, &r->m_status, 0);
		r->m_done = 1;
	}
	if (r->m_fd >= 0)
		close(r->m_fd);
	r->m_fd = -1;
	if (r->ws_created)
		unlink(r->ws_path);
	/* The procs are gone; their exit may take a moment to show. */
	for (i = 0; r->cg_created && i < 100; i++) {
		if (!rmdir(r->cg) || errno != EBUSY)
			break;
		sleep_ns(20 * 1000000ULL);
	}
	if (r->cg_created && is_dir(r->cg))
		fail_msg("could not remove %s: %s", r->cg, strerror(errno));
}

static pid_t spawn(int (*fn)(struct run *, int, int), struct run *r,
		   int *go_w, int sock)
{
	int go[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(go[0]);
		close(go[1]);
		return -1;
	}
	if (!pid) {
		close(go[1]);
		/* The parent dying must not leave the workload behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(fn(r, go[0], sock));
	}
	close(go[0]);
	*go_w = go[1];
	return pid;
}

static const uint32_t *g_crc;

static int workload_entry(struct run *r, int go, int sock)
{
	(void)sock;
	return workload_main(&r->o, r->sh, g_crc, r->ws_path, r->file_len, go);
}

static int misbehave_entry(struct run *r, int go, int sock)
{
	uint64_t len = (uint64_t)(MISBEHAVE_FRAC * (double)r->file_len) / CHUNK * CHUNK;

	return misbehave_main(&r->o, r->sh, r->ws_path, len ? len : CHUNK, go,
			      sock);
}

static int release(struct run *r, pid_t pid, int go)
{
	int ret = cg_join(r, pid);

	if (!ret && write(go, "g", 1) != 1)
		ret = -errno;
	close(go);
	return ret;
}

/* ---- main ----------------------------------------------------------- */

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "wss", required_argument, NULL, 'w' },
		{ "mirrored", required_argument, NULL, 'm' },
		{ "device", required_argument, NULL, 'D' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "misbehave", no_argument, NULL, 'M' },
		{ "deadline", required_argument, NULL, 'd' },
		{ "class", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "file-dir", required_argument, NULL, 'F' },
		{ "swap-max", required_argument, NULL, 'S' },
		{ "cgroup-parent", required_argument, NULL, 'C' },
		{ "dev", required_argument, NULL, 'x' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	*o = (struct opts){
		.limit = 64 * MiB, .wss = 96 * MiB, .mirrored = 1, .device = 0,
		.weight = { [JOB_CRC32C] = 1 }, .deadline_ms = 200,
		.duration_s = 10, .interval_ms = 250, .out = ".",
		.name = "reclaim", .cg_parent = "/sys/fs/cgroup",
		.preempt = HMIRROR_PREEMPT_NONE,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (parse_size(optarg, &o->limit) || o->limit < 4 * MiB)
				return bad("--limit wants a size of at least 4M (e.g. 64M), not '%s'", optarg);
			break;
		case 'w':
			if (parse_size(optarg, &o->wss) || o->wss < 1 * MiB ||
			    o->wss > 64ULL * 1024 * MiB)
				return bad("--wss wants a size from 1M to 64G, not '%s'", optarg);
			break;
		case 'm':
			if (parse_double(optarg, 0, 1, &o->mirrored))
				return bad("--mirrored wants a fraction from 0 to 1, not '%s'", optarg);
			break;
		case 'D':
			if (parse_double(optarg, 0, 1, &o->device))
				return bad("--device wants a fraction from 0 to 1, not '%s'", optarg);
			break;
		case 'j':
			if (parse_jobs(optarg, o->weight))
				return bad("--jobs wants KIND[=WEIGHT],... with KIND copy or crc32c, each once, WEIGHT 1..1000, not '%s'", optarg);
			break;
		case 'M':
			o->misbehave = 1;
			break;
		case 'd':
			if (parse_uint(optarg, HMIRROR_DEADLINE_MIN_MS,
				       HMIRROR_DEADLINE_MAX_MS, &o->deadline_ms))
				return bad("--deadline wants milliseconds, %u to %u, not '%s'",
					   HMIRROR_DEADLINE_MIN_MS,
					   HMIRROR_DEADLINE_MAX_MS, optarg);
			break;
		case 'c':
			if (!strcmp(optarg, "page"))
				o->preempt = HMIRROR_PREEMPT_PAGE;
			else if (!strcmp(optarg, "none"))
				o->preempt = HMIRROR_PREEMPT_NONE;
			else
				return bad("--class wants page or none, not '%s'", optarg);
			break;
		case 't':
			if (parse_double(optarg, 0.5, 86400, &o->duration_s))
				return bad("--duration wants seconds, 0.5 to 86400, not '%s'", optarg);
			break;
		case 'i':
			if (parse_uint(optarg, 20, 60000, &o->interval_ms))
				return bad("--interval wants milliseconds, 20 to 60000, not '%s'", optarg);
			break;
		case 'o':
			o->out = optarg;
			break;
		case 'n':
			if (!valid_name(optarg))
				return bad("--name wants letters, digits, '.', '_' or '-' (not first '.'), at most 64, not '%s'", optarg);
			o->name = optarg;
			break;
		case 'F':
			o->file_dir = optarg;
			break;
		case 'S':
			if (!strcmp(optarg, "max")) {
				o->swap_max_set = 0;
			} else if (parse_size(optarg, &o->swap_max)) {
				return bad("--swap-max wants a size or 'max', not '%s'", optarg);
			} else {
				o->swap_max_set = 1;
			}
			break;
		case 'C':
			o->cg_parent = optarg;
			break;
		case 'x':
			if (parse_uint(optarg, 0, 255, &o->dev))
				return bad("--dev wants an instance number, not '%s'", optarg);
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			if (optopt)
				return bad("option -%c is unknown or wants a value", optopt);
			return bad("option '%s' is unknown or wants a value", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (!is_dir(o->out))
		return bad("--out %s is not a directory", o->out);
	if (!o->file_dir)
		o->file_dir = o->out;
	if (!is_dir(o->file_dir))
		return bad("--file-dir %s is not a directory", o->file_dir);
	if (!is_dir(o->cg_parent))
		return bad("--cgroup-parent %s is not a directory", o->cg_parent);
	if (o->misbehave && o->device >= 1)
		return bad("--misbehave needs part of the working set in system memory (--device below 1)");
	if ((double)o->interval_ms / 1000.0 > o->duration_s)
		return bad("--interval is longer than --duration");
	return 0;
}

static void say(const struct opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->quiet)
		return;
	va_start(ap, fmt);
	fputs("hmirror-reclaim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

int main(int argc, char **argv)
{
	struct run r = { .m_fd = -1, .m_ctx_id = -1 };
	struct hmirror_info info;
	struct hmirror *probe;
	uint64_t dev_len, next, end;
	char csv[PATH_MAX], svg[PATH_MAX], gp[PATH_MAX], txt[PATH_MAX];
	char gplog[PATH_MAX + 8];
	char *summary = NULL;
	uint32_t *crc;
	int ret, sock[2] = { -1, -1 }, go_w = -1, go_m = -1, rc = 0;
	struct sigaction sa = { .sa_handler = on_signal };

	ret = parse_args(argc, argv, &r.o);
	if (ret)
		return ret;
	dev_len = (uint64_t)llround(r.o.device * (double)r.o.wss / CHUNK) * CHUNK;
	r.file_len = (r.o.wss - dev_len) / CHUNK * CHUNK;

	/* What the device can do: checked before anything is created. */
	ret = hmirror_open(r.o.dev, &probe);
	if (ret) {
		fail_msg("cannot open hmirror instance %u: %s", r.o.dev,
			 hmirror_strerror(ret));
		return 1;
	}
	ret = hmirror_get_info(probe, &info);
	hmirror_close(probe);
	if (ret) {
		fail_msg("hmirror_get_info: %s", hmirror_strerror(ret));
		return 1;
	}
	if (dev_len > info.vram_bytes)
		return bad("--device %.2f of --wss is %" PRIu64 " MiB, more than the %"
			   PRIu64 " MiB of device memory of instance %u",
			   r.o.device, dev_len / MiB, info.vram_bytes / MiB, r.o.dev);
	if (r.file_len > info.max_job_bytes)
		return bad("the working set is larger than a job may cover (%" PRIu64 " bytes)",
			   (uint64_t)info.max_job_bytes);

	snprintf(csv, sizeof(csv), "%s/%s.csv", r.o.out, r.o.name);
	snprintf(svg, sizeof(svg), "%s/%s.svg", r.o.out, r.o.name);
	snprintf(gp, sizeof(gp), "%s/%s.gp", r.o.out, r.o.name);
	snprintf(txt, sizeof(txt), "%s/%s.txt", r.o.out, r.o.name);
	snprintf(gplog, sizeof(gplog), "%s.log", gp);
	snprintf(r.ws_path, sizeof(r.ws_path), "%s/.%s-%d.ws", r.o.file_dir,
		 r.o.name, (int)getpid());
	r.nodes = numa_available() < 0 ? 0 : numa_max_node() + 1;
	if (r.nodes > MAX_NODES)
		r.nodes = MAX_NODES;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	r.sh = mmap(NULL, sizeof(*r.sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	crc = mmap(NULL, (r.o.wss / CHUNK + 1) * sizeof(*crc),
		   PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r.sh == MAP_FAILED || crc == MAP_FAILED) {
		fail_msg("mmap: %s", strerror(errno));
		return 1;
	}
	g_crc = crc;
	say(&r.o, "writing the %" PRIu64 " MiB working-set file %s", r.file_len / MiB,
	    r.ws_path);
	{
		struct statfs fs;

		/* V9FS_MAGIC: without cache, 9p turns read-ahead off. */
		if (!statfs(r.o.file_dir, &fs) && fs.f_type == 0x01021997)
			say(&r.o, "note: %s is 9p; unless /sys/class/bdi/*/read_ahead_kb "
			    "is set, every fault reads one page", r.o.file_dir);
	}
	if (r.file_len) {
		ret = ws_write(r.ws_path, r.file_len, crc);
		r.ws_created = ret != -EEXIST;
		if (ret) {
			fail_msg("writing %s: %s", r.ws_path, strerror(-ret));
			rc = 1;
			goto out;
		}
	}
	/* The device part's expected CRCs, for its jobs' checks. */
	{
		uint64_t *buf = malloc(CHUNK), off;

		if (!buf) {
			rc = 1;
			goto out;
		}
		for (off = 0; off < dev_len; off += CHUNK) {
			ws_fill(buf, r.file_len + off, CHUNK);
			crc[(r.file_len + off) / CHUNK] = hmirror_crc32c(~0U, buf, CHUNK);
		}
		free(buf);
	}
	if (cg_setup(&r)) {
		rc = 1;
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sock)) {
		fail_msg("socketpair: %s", strerror(errno));
		rc = 1;
		goto out;
	}
	r.w_pid = spawn(workload_entry, &r, &go_w, -1);
	if (r.w_pid < 0 || release(&r, r.w_pid, go_w)) {
		fail_msg("starting the workload failed");
		rc = 1;
		goto out;
	}
	/* The workload first, so the misbehaving job holds pages it uses. */
	end = now_ns() + 60 * NSEC_PER_SEC;
	while (!atomic_load(&r.sh->w_ready) && !r.w_done && !interrupted &&
	       now_ns() < end) {
		sleep_ns(5 * 1000000ULL);
		reap(&r);
	}
	if (!atomic_load(&r.sh->w_ready)) {
		fail_msg("the workload did not start: %s",
			 r.sh->err[0] ? r.sh->err : "no reason given");
		rc = 1;
		goto out;
	}
	if (r.o.misbehave) {
		r.m_pid = spawn(misbehave_entry, &r, &go_m, sock[1]);
		if (r.m_pid < 0 || release(&r, r.m_pid, go_m)) {
			fail_msg("starting the misbehaving context failed");
			rc = 1;
			goto out;
		}
		end = now_ns() + 60 * NSEC_PER_SEC;
		while (!atomic_load(&r.sh->m_ready) && !r.m_done &&
		       !interrupted && now_ns() < end) {
			sleep_ns(5 * 1000000ULL);
			reap(&r);
		}
		if (!atomic_load(&r.sh->m_ready)) {
			fail_msg("the misbehaving context did not start: %s",
				 r.sh->err[0] ? r.sh->err : "no reason given");
			rc = 1;
			goto out;
		}
		take_m_fd(&r, sock[0]);
	}
	r.t0 = now_ns();
	take_sample(&r);
	say(&r.o, "running %.1f s in %s (memory.max %" PRIu64 " MiB, wss %" PRIu64
	    " MiB)", r.o.duration_s, r.cg, r.o.limit / MiB, r.o.wss / MiB);
	end = r.t0 + (uint64_t)(r.o.duration_s * 1e9);
	next = r.t0;
	while (!interrupted) {
		uint64_t t;

		next += (uint64_t)r.o.interval_ms * 1000000ULL;
		t = now_ns();
		if (next > t)
			sleep_ns(next - t);
		if (r.m_pid > 0)
			take_m_fd(&r, sock[0]);
		take_sample(&r);
		if (r.w_done || now_ns() >= end)
			break;
	}
	/* Tell the workload to finish, then the last sample. */
	atomic_store(&r.sh->stop, 1);
	end = now_ns() + STOP_GRACE_NS;
	while ((!r.w_done || (r.m_pid > 0 && !r.m_done)) && now_ns() < end) {
		sleep_ns(10 * 1000000ULL);
		reap(&r);
	}
	take_sample(&r);
	if (!r.w_done) {
		fail_msg("the workload did not stop within %llu s",
			 (unsigned long long)(STOP_GRACE_NS / NSEC_PER_SEC));
		rc = 1;
	} else if (!WIFEXITED(r.w_status) || WEXITSTATUS(r.w_status)) {
		if (WIFSIGNALED(r.w_status))
			fail_msg("the workload was killed by signal %d%s",
				 WTERMSIG(r.w_status),
				 r.samples[r.nsamples - 1].ev_oom_kill ?
				 " (memory.events oom_kill: the limit is too small "
				 "for its anonymous memory)" : "");
		else
			fail_msg("the workload failed: %s",
				 r.sh->err[0] ? r.sh->err : "no reason given");
		rc = 1;
	}
	if (r.m_pid > 0 && r.m_done && m_state(&r) == 3 && r.sh->err[0])
		fail_msg("the misbehaving context failed: %s", r.sh->err);
	if (interrupted) {
		fail_msg("interrupted; writing what was recorded");
		rc = 1;
	}

	if (r.nsamples < 2) {
		fail_msg("fewer than two samples: nothing to write");
		rc = 1;
		goto out;
	}
	if ((ret = write_csv(&r, csv))) {
		fail_msg("writing %s: %s", csv, strerror(-ret));
		rc = 1;
		goto out;
	}
	if ((ret = write_summary(&r, txt, &summary))) {
		fail_msg("writing %s: %s", txt, strerror(-ret));
		rc = 1;
		goto out;
	}
	if ((ret = write_plot(&r, gp, csv, svg))) {
		fail_msg("writing %s: %s", gp, strerror(-ret));
		rc = 1;
	} else if (!have_gnuplot()) {
		unlink(svg);
		fprintf(stderr, "hmirror-reclaim: gnuplot is not installed: %s was NOT "
			"made (apt-get install gnuplot-nox, then 'gnuplot %s'); the "
			"CSV and the summary are complete\n", svg, gp);
	} else if (run_gnuplot(gp, gplog)) {
		unlink(svg);	/* half a plot is no plot */
		fprintf(stderr, "hmirror-reclaim: gnuplot failed on %s (see %s): "
			"%s was NOT made\n", gp, gplog, svg);
		rc = 1;
	}
	if (!r.o.quiet) {
		fputs(summary, stdout);
		printf("CSV: %s\nSVG: %s\nsummary: %s\n", csv,
		       access(svg, F_OK) ? "(not made)" : svg, txt);
	}
out:
	cleanup(&r);
	free(summary);
	free(r.samples);
	return rc;
}
