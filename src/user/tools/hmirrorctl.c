// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * hmirrorctl: inspect and drive hmirror device instances.
 *
 *   hmirrorctl list                        one line per device instance
 *   hmirrorctl info [-d N]                 what device N reports (default 0)
 *   hmirrorctl stats [-d N] [--json]       a new context's counters on N
 *   hmirrorctl config [-d N] [--json]      a new context's configuration
 *   hmirrorctl contexts [-d N]             the contexts open now (debugfs)
 *   hmirrorctl mr list [-d N]              their memory regions (debugfs)
 *   hmirrorctl set deadline MS             default deadline of new contexts
 *   hmirrorctl set policy kill|revoke      default policy of new contexts
 *   hmirrorctl inject SITE [options]       arm or show a fault injection site
 *   hmirrorctl inject --list               every site, what it does, its state
 *
 * Exit status: 0 success, 1 failure, 2 bad usage. hmirrorctl(8) has more.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "hmirror.h"

#define EXIT_USAGE	2

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hmirrorctl list\n"
		"       hmirrorctl info [-d N]\n"
		"       hmirrorctl stats [-d N] [--json]\n"
		"       hmirrorctl config [-d N] [--json]\n"
		"       hmirrorctl contexts [-d N]\n"
		"       hmirrorctl mr list [-d N]\n"
		"       hmirrorctl set deadline MS\n"
		"       hmirrorctl set policy kill|revoke\n"
		"       hmirrorctl inject SITE [--probability P] [--ppm N] [--interval N]\n"
		"                [--times N] [--space N] [-d N] [--ctx ID] [--pid PID]\n"
		"                [--seed S] [--delay MS] | SITE --off | --list\n"
		"       hmirrorctl -h | --help\n");
}

static int parse_index(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *s == '-' || *s == '+' || *end != '\0' ||
	    v > 0xffff) {
		fprintf(stderr, "hmirrorctl: bad device number '%s'\n", s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int open_dev(unsigned int index, struct hmirror **h)
{
	int ret = hmirror_open(index, h);

	if (ret)
		fprintf(stderr, "hmirrorctl: /dev/" HMIRROR_DEV_PREFIX "%u: %s\n",
			index, hmirror_strerror(ret));
	return ret;
}

static const char *vram_kind_name(uint32_t kind)
{
	switch (kind) {
	case HMIRROR_VRAM_PRIVATE:
		return "device-private";
	case HMIRROR_VRAM_COHERENT:
		return "device-coherent";
	default:
		return "unknown kind";
	}
}

static int print_info(unsigned int index)
{
	struct hmirror_info info;
	struct hmirror *h;
	int ret;

	ret = open_dev(index, &h);
	if (ret)
		return ret;
	ret = hmirror_get_info(h, &info);
	hmirror_close(h);
	if (ret) {
		fprintf(stderr, "hmirrorctl: GET_INFO: %s\n", hmirror_strerror(ret));
		return ret;
	}
	printf("device %u of %u: backend %.*s, ABI %u, device memory %llu MiB",
	       info.device_index, info.nr_devices, (int)sizeof(info.backend),
	       info.backend, info.abi_version,
	       (unsigned long long)(info.vram_bytes >> 20));
	if (info.vram_bytes)
		printf(" (%s)", vram_kind_name(info.vram_kind));
	printf("\n");
	return 0;
}

static int cmd_list(void)
{
	struct hmirror_info info;
	struct hmirror *h;
	unsigned int i;
	int ret;

	ret = hmirror_open(0, &h);
	if (ret) {
		fprintf(stderr, "hmirrorctl: no hmirror device: %s\n",
			hmirror_strerror(ret));
		return ret;
	}
	ret = hmirror_get_info(h, &info);
	hmirror_close(h);
	if (ret) {
		fprintf(stderr, "hmirrorctl: GET_INFO: %s\n", hmirror_strerror(ret));
		return ret;
	}
	for (i = 0; i < info.nr_devices; i++) {
		ret = print_info(i);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- stats ---------------------------------------------------------------- */

struct counter {
	const char *name;
	size_t off;
};

#define COUNTER(f)	{ #f, offsetof(struct hmirror_stats, f) }

/* In struct order, split around wait_hist. */
static const struct counter counters_before[] = {
	COUNTER(faults), COUNTER(pages_faulted), COUNTER(fault_retries),
	COUNTER(inval_blockable), COUNTER(inval_nonblock),
	COUNTER(inval_refused), COUNTER(inval_waits),
};

static const struct counter counters_after[] = {
	COUNTER(escalations), COUNTER(jobs_submitted), COUNTER(jobs_completed),
	COUNTER(jobs_failed), COUNTER(jobs_cancelled), COUNTER(jobs_parked),
	COUNTER(ptes), COUNTER(ranges), COUNTER(pt_bytes),
	COUNTER(migrated_to_dev), COUNTER(migrated_to_sys),
	COUNTER(migrate_failed), COUNTER(dev_vram_pages), COUNTER(dev_resident),
	COUNTER(dev_migrated_in), COUNTER(dev_migrated_out),
	COUNTER(dev_cpu_faults), COUNTER(dev_evicted), COUNTER(dev_vram_kind),
	COUNTER(excl_taken), COUNTER(excl_revoked), COUNTER(mrs),
	COUNTER(mr_revoked),
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static uint64_t counter_value(const struct hmirror_stats *st,
			      const struct counter *c)
{
	uint64_t v;

	memcpy(&v, (const char *)st + c->off, sizeof(v));
	return v;
}

/* "10us", "1ms", "10s" */
static void format_us(char *buf, size_t len, unsigned int us)
{
	if (us && us % 1000000 == 0)
		snprintf(buf, len, "%us", us / 1000000);
	else if (us && us % 1000 == 0)
		snprintf(buf, len, "%ums", us / 1000);
	else
		snprintf(buf, len, "%uus", us);
}

static void print_counters_text(const struct hmirror_stats *st,
				const struct counter *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%-20s %" PRIu64 "\n", c[i].name, counter_value(st, &c[i]));
}

static void print_stats_text(unsigned int index, const struct hmirror_stats *st)
{
	static const unsigned int bucket_us[HMIRROR_WAIT_BUCKETS] =
		HMIRROR_WAIT_BUCKET_US;
	char label[32], bound[16];
	unsigned int i;

	printf("device %u, new context (its counters start at zero)\n", index);
	print_counters_text(st, counters_before, ARRAY_SIZE(counters_before));
	for (i = 0; i < HMIRROR_WAIT_BUCKETS; i++) {
		if (bucket_us[i] == ~0U) {
			format_us(bound, sizeof(bound), i ? bucket_us[i - 1] : 0);
			snprintf(label, sizeof(label), "wait_hist[>%s]", bound);
		} else {
			format_us(bound, sizeof(bound), bucket_us[i]);
			snprintf(label, sizeof(label), "wait_hist[<=%s]", bound);
		}
		printf("%-20s %" PRIu64 "\n", label, (uint64_t)st->wait_hist[i]);
	}
	print_counters_text(st, counters_after, ARRAY_SIZE(counters_after));
	if (st->size < sizeof(*st))
		printf("(the kernel filled %u of %zu bytes; the rest read 0)\n",
		       st->size, sizeof(*st));
}

static void print_counters_json(const struct hmirror_stats *st,
				const struct counter *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("  \"%s\": %" PRIu64 ",\n", c[i].name,
		       counter_value(st, &c[i]));
}

static void print_stats_json(unsigned int index, const struct hmirror_stats *st)
{
	static const unsigned int bucket_us[HMIRROR_WAIT_BUCKETS] =
		HMIRROR_WAIT_BUCKET_US;
	unsigned int i;

	printf("{\n  \"device\": %u,\n  \"size\": %u,\n", index, st->size);
	print_counters_json(st, counters_before, ARRAY_SIZE(counters_before));
	printf("  \"wait_hist\": [\n");
	for (i = 0; i < HMIRROR_WAIT_BUCKETS; i++) {
		if (bucket_us[i] == ~0U)
			printf("    { \"le_us\": null, ");
		else
			printf("    { \"le_us\": %u, ", bucket_us[i]);
		printf("\"count\": %" PRIu64 " }%s\n", (uint64_t)st->wait_hist[i],
		       i + 1 < HMIRROR_WAIT_BUCKETS ? "," : "");
	}
	printf("  ],\n");
	print_counters_json(st, counters_after, ARRAY_SIZE(counters_after) - 1);
	printf("  \"%s\": %" PRIu64 "\n}\n",
	       counters_after[ARRAY_SIZE(counters_after) - 1].name,
	       counter_value(st, &counters_after[ARRAY_SIZE(counters_after) - 1]));
}

static int cmd_stats(unsigned int index, int json)
{
	struct hmirror_stats st;
	struct hmirror *h;
	int ret;

	ret = open_dev(index, &h);
	if (ret)
		return ret;
	ret = hmirror_stats(h, &st);
	hmirror_close(h);
	if (ret) {
		fprintf(stderr, "hmirrorctl: STATS: %s\n", hmirror_strerror(ret));
		return ret;
	}
	if (json)
		print_stats_json(index, &st);
	else
		print_stats_text(index, &st);
	return 0;
}

/* ---- config --------------------------------------------------------------- */

static const char *preempt_name(unsigned int cls)
{
	switch (cls) {
	case HMIRROR_PREEMPT_PAGE: return "page";
	case HMIRROR_PREEMPT_NONE: return "none";
	default: return NULL;
	}
}

static const char *policy_name(unsigned int policy)
{
	switch (policy) {
	case HMIRROR_POLICY_KILL: return "kill";
	case HMIRROR_POLICY_REVOKE: return "revoke";
	default: return NULL;
	}
}

static int cmd_config(unsigned int index, int json)
{
	struct hmirror_ctx_config cfg;
	const char *pre, *pol;
	struct hmirror *h;
	int ret;

	ret = open_dev(index, &h);
	if (ret)
		return ret;
	ret = hmirror_config_get(h, &cfg);
	hmirror_close(h);
	if (ret) {
		fprintf(stderr, "hmirrorctl: CONFIG: %s\n", hmirror_strerror(ret));
		return ret;
	}
	pre = preempt_name(cfg.preempt);
	pol = policy_name(cfg.policy);
	if (json) {
		printf("{\n  \"device\": %u,\n", index);
		if (pre)
			printf("  \"preempt\": \"%s\",\n", pre);
		else
			printf("  \"preempt\": %u,\n", cfg.preempt);
		printf("  \"deadline_ms\": %u,\n", cfg.deadline_ms);
		if (pol)
			printf("  \"policy\": \"%s\",\n", pol);
		else
			printf("  \"policy\": %u,\n", cfg.policy);
		printf("  \"eventfd\": %d\n}\n", cfg.eventfd);
		return 0;
	}
	printf("device %u, new context (the defaults)\n", index);
	if (pre)
		printf("%-12s %s\n", "preempt", pre);
	else
		printf("%-12s %u (unknown)\n", "preempt", cfg.preempt);
	printf("%-12s %u\n", "deadline_ms", cfg.deadline_ms);
	if (pol)
		printf("%-12s %s\n", "policy", pol);
	else
		printf("%-12s %u (unknown)\n", "policy", cfg.policy);
	if (cfg.eventfd < 0)
		printf("%-12s none\n", "eventfd");
	else
		printf("%-12s %d\n", "eventfd", cfg.eventfd);
	return 0;
}

/* ---- module files: sysfs and debugfs ------------------------------------ */

#define DEBUGFS_ROOT	"/sys/kernel/debug"
#define DEBUGFS_DIR	DEBUGFS_ROOT "/" HMIRROR_DEV_PREFIX
#define MODULE_DIR	"/sys/module/hmirror"
#define PARAM_DIR	MODULE_DIR "/parameters"

/* Is the module loaded? Says so on standard error if not. */
static int check_module(void)
{
	struct stat st;
	int ret;

	if (stat(MODULE_DIR, &st) == 0)
		return 0;
	ret = -errno;
	if (ret == -ENOENT)
		fprintf(stderr, "hmirrorctl: the hmirror module is not loaded (no "
			MODULE_DIR ")\n");
	else
		fprintf(stderr, "hmirrorctl: " MODULE_DIR ": %s\n",
			hmirror_strerror(ret));
	return ret;
}

/* Read a module parameter holding an unsigned number. */
static int read_param(const char *name, unsigned int *out)
{
	char path[128], buf[32], *end;
	unsigned long v;
	ssize_t n;
	int fd, ret = 0;

	snprintf(path, sizeof(path), PARAM_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		ret = -errno;
	close(fd);
	if (ret)
		return ret;
	buf[n] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno || end == buf || (*end != '\n' && *end != '\0') || v > UINT_MAX)
		return -EPROTO;
	*out = v;
	return 0;
}

/* Write a module parameter; the kernel checks the value (-EINVAL). */
static int write_param(const char *name, const char *val)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), PARAM_DIR "/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* ---- contexts and regions (debugfs) ------------------------------------ */

/* How a column of the debugfs contexts and mrs files is shown. */
enum cell_fmt {
	FMT_PLAIN,
	FMT_MS,		/* milliseconds: "500 ms" */
	FMT_BYTES,	/* bytes: "512 B", "24 KiB", "1.5 MiB" */
};

static const struct {
	const char *name;	/* in the debugfs header line */
	const char *title;	/* in the table */
	enum cell_fmt fmt;
} column_styles[] = {
	{ "deadline_ms", "DEADLINE", FMT_MS },
	{ "inflight", "JOBS", FMT_PLAIN },		/* jobs in flight */
	{ "pt_bytes", "PT_SIZE", FMT_BYTES },
	{ "escalations", "RESETS", FMT_PLAIN },	/* for missing the deadline */
	{ "len", "SIZE", FMT_BYTES },		/* of a region */
	{ "on_device", "ON_DEV", FMT_PLAIN },	/* mapped pages in its memory */
};

/*
 * The lines of a debugfs table (contexts, mrs) of one or more devices, in
 * the file's columns (whatever its header names), the device in front.
 */
struct ctx_table {
	char *header;		/* the first file's header line, split in place */
	char **names;		/* its column names */
	size_t ncols;		/* how many */
	size_t comm;		/* index of "comm" (may hold spaces); ncols if none */
	char **cells;		/* nrows rows of 1 + ncols formatted cells */
	size_t nrows;
	size_t cap;		/* rows allocated */
};

static void ctx_table_free(struct ctx_table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * (1 + t->ncols); i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->names);
	free(t->header);
	memset(t, 0, sizeof(*t));
}

/* Split @s in place at spaces and newlines into at most @max words. */
static size_t split_words(char *s, char **words, size_t max)
{
	size_t n = 0;
	char *save = NULL, *w;

	for (w = strtok_r(s, " \t\n", &save); w && n < max;
	     w = strtok_r(NULL, " \t\n", &save))
		words[n++] = w;
	return n;
}

static const char *column_title(const char *name, enum cell_fmt *fmt)
{
	size_t i;

	*fmt = FMT_PLAIN;
	for (i = 0; i < ARRAY_SIZE(column_styles); i++) {
		if (!strcmp(name, column_styles[i].name)) {
			*fmt = column_styles[i].fmt;
			return column_styles[i].title;
		}
	}
	return NULL;	/* the name itself, in capitals */
}

/* Take the header line of a contexts file; every file must have the same. */
static int ctx_table_header(struct ctx_table *t, const char *line)
{
	size_t i, max = strlen(line) / 2 + 1;
	char *copy;

	if (t->header) {
		/* The first header was split in place: compare word by word. */
		char **w = calloc(max, sizeof(*w));
		size_t n = 0;
		int same;

		copy = strdup(line);
		if (!copy || !w) {
			free(copy);
			free(w);
			return -ENOMEM;
		}
		n = split_words(copy, w, max);
		same = n == t->ncols;
		for (i = 0; same && i < n; i++)
			same = !strcmp(w[i], t->names[i]);
		free(w);
		free(copy);
		return same ? 0 : -EPROTO;
	}
	t->header = strdup(line);
	t->names = calloc(max, sizeof(*t->names));
	if (!t->header || !t->names)
		return -ENOMEM;
	t->ncols = split_words(t->header, t->names, max);
	if (!t->ncols)
		return -EPROTO;
	t->comm = t->ncols;
	for (i = 0; i < t->ncols; i++)
		if (!strcmp(t->names[i], "comm"))
			t->comm = i;
	return 0;
}

static int format_cell(char **out, const char *val, enum cell_fmt fmt)
{
	unsigned long long v;
	char *end;
	int n;

	errno = 0;
	v = strtoull(val, &end, 10);
	if (fmt == FMT_PLAIN || errno || end == val || *end)
		n = asprintf(out, "%s", val);
	else if (fmt == FMT_MS)
		n = asprintf(out, "%llu ms", v);
	else if (v < 1024)
		n = asprintf(out, "%llu B", v);
	else if (v < 1024 * 1024)
		n = v % 1024 ? asprintf(out, "%.1f KiB", v / 1024.0) :
			       asprintf(out, "%llu KiB", v / 1024);
	else
		n = v % (1024 * 1024) ? asprintf(out, "%.1f MiB", v / 1048576.0) :
					asprintf(out, "%llu MiB", v >> 20);
	if (n < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Add one context line of device @dev. */
static int ctx_table_add(struct ctx_table *t, unsigned int dev, char *line)
{
	size_t i, n, max = strlen(line) / 2 + 1;
	long extra;		/* words more than columns: spaces in comm */
	char **words, **row, *orig, *comm = NULL;
	enum cell_fmt fmt;
	int ret = 0;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **cells = realloc(t->cells, cap * (1 + t->ncols) * sizeof(*cells));

		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		t->cap = cap;
	}
	words = calloc(max, sizeof(*words));
	if (!words)
		return -ENOMEM;
	/* Split in place: a word's offset in @line is its offset in @orig. */
	orig = strdup(line);
	if (!orig) {
		free(words);
		return -ENOMEM;
	}
	n = split_words(line, words, max);
	/* Only comm may have spaces (more words) or be empty (one fewer). */
	extra = (long)n - (long)t->ncols;
	if (extra < -1 || (extra && t->comm == t->ncols)) {
		free(orig);
		free(words);
		return -EPROTO;
	}
	if (extra < 0) {
		comm = strdup("-");
		if (!comm) {
			free(orig);
			free(words);
			return -ENOMEM;
		}
	} else if (t->comm < t->ncols) {
		/* From the comm's first word to its last, spaces as they were. */
		const char *last = words[t->comm + extra];
		size_t from = words[t->comm] - line;

		comm = strndup(orig + from, last + strlen(last) - line - from);
		if (!comm) {
			free(orig);
			free(words);
			return -ENOMEM;
		}
	}

	row = t->cells + t->nrows * (1 + t->ncols);
	memset(row, 0, (1 + t->ncols) * sizeof(*row));
	if (asprintf(&row[0], "%u", dev) < 0) {
		row[0] = NULL;
		ret = -ENOMEM;
	}
	for (i = 0; !ret && i < t->ncols; i++) {
		const char *val = i < t->comm ? words[i] :
				  i == t->comm ? comm : words[i + extra];

		column_title(t->names[i], &fmt);
		ret = format_cell(&row[1 + i], val, fmt);
	}
	free(comm);
	free(orig);
	free(words);
	t->nrows++;	/* freed with the table even if incomplete */
	return ret;
}

/* Read /sys/kernel/debug/hmirror/hmirror<dev>/<file> into @t. */
static int read_table(struct ctx_table *t, unsigned int dev, const char *file)
{
	char path[128], *line = NULL;
	size_t cap = 0;
	int first = 1, ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), DEBUGFS_DIR "/" HMIRROR_DEV_PREFIX "%u/%s",
		 dev, file);
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		if (ret == -EACCES || ret == -EPERM)
			fprintf(stderr, "hmirrorctl: %s: permission denied: "
				"debugfs is readable by root only\n", path);
		else
			fprintf(stderr, "hmirrorctl: %s: %s\n", path,
				hmirror_strerror(ret));
		return ret;
	}
	errno = 0;
	while (!ret && getline(&line, &cap, f) > 0) {
		if (first) {
			first = 0;
			ret = ctx_table_header(t, line);
		} else if (line[strspn(line, " \t\n")]) {
			ret = ctx_table_add(t, dev, line);
		}
		errno = 0;
	}
	if (!ret && ferror(f))
		ret = errno ? -errno : -EIO;
	if (!ret && first)
		ret = -EPROTO;	/* not even a header */
	free(line);
	fclose(f);
	if (ret == -EPROTO)
		fprintf(stderr, "hmirrorctl: %s: not in the format this hmirrorctl "
			"knows\n", path);
	else if (ret)
		fprintf(stderr, "hmirrorctl: %s: %s\n", path, hmirror_strerror(ret));
	return ret;
}

/* The heading of a column: its style's title, or its name in capitals. */
static void column_heading(const char *name, char *buf, size_t len)
{
	enum cell_fmt fmt;
	const char *title = column_title(name, &fmt);
	size_t k;

	snprintf(buf, len, "%s", title ? title : name);
	for (k = 0; buf[k]; k++)
		if (buf[k] >= 'a' && buf[k] <= 'z')
			buf[k] -= 'a' - 'A';
}

static void print_cell(const char *s, size_t width, int right, int last)
{
	if (right)
		printf("%*s", (int)width, s);
	else if (last)
		printf("%s", s);
	else
		printf("%-*s", (int)width, s);
	printf("%s", last ? "\n" : "  ");
}

/* Columns as wide as their widest cell; numbers right, words left. */
static int ctx_table_print(const struct ctx_table *t)
{
	size_t ncells = 1 + t->ncols, i, j;
	char (*head)[32] = calloc(ncells, sizeof(*head));
	size_t *width = calloc(ncells, sizeof(*width));
	int *right = calloc(ncells, sizeof(*right));

	if (!head || !width || !right) {
		free(head);
		free(width);
		free(right);
		return -ENOMEM;
	}
	for (j = 0; j < ncells; j++) {
		column_heading(j ? t->names[j - 1] : "dev", head[j], sizeof(head[j]));
		width[j] = strlen(head[j]);
		right[j] = 1;
		for (i = 0; i < t->nrows; i++) {
			const char *c = t->cells[i * ncells + j];

			if (strlen(c) > width[j])
				width[j] = strlen(c);
			if (*c < '0' || *c > '9')
				right[j] = 0;
		}
	}
	for (j = 0; j < ncells; j++)
		print_cell(head[j], width[j], right[j], j + 1 == ncells);
	for (i = 0; i < t->nrows; i++)
		for (j = 0; j < ncells; j++)
			print_cell(t->cells[i * ncells + j], width[j], right[j],
				   j + 1 == ncells);
	free(head);
	free(width);
	free(right);
	return 0;
}

/*
 * Instances there are: the module's nr_devices sw ones and the
 * accelerators the PCI driver added, as their debugfs directories show
 * (numbered from 0 up).
 */
static unsigned int device_count(void)
{
	char path[PATH_MAX];
	unsigned int n = 0;
	struct stat st;

	for (;;) {
		snprintf(path, sizeof(path), DEBUGFS_ROOT "/hmirror/hmirror%u", n);
		if (stat(path, &st) || !S_ISDIR(st.st_mode))
			return n;
		n++;
	}
}

/* Device @index's (or, @all, every device's) debugfs table @file. */
static int cmd_table(unsigned int index, int all, const char *file,
		     const char *what)
{
	struct ctx_table t = { 0 };
	unsigned int nr, dev;
	struct statfs sf;
	int ret;

	ret = check_module();
	if (ret)
		return ret;
	if (statfs(DEBUGFS_ROOT, &sf) || (unsigned long)sf.f_type != DEBUGFS_MAGIC) {
		fprintf(stderr, "hmirrorctl: debugfs is not mounted on " DEBUGFS_ROOT
			"; as root: mount -t debugfs none " DEBUGFS_ROOT "\n");
		return -ENOENT;
	}
	nr = device_count();
	if (!all && index >= nr) {
		fprintf(stderr, "hmirrorctl: no device %u: there %s %u\n",
			index, nr == 1 ? "is" : "are", nr);
		return -ENOENT;
	}
	for (dev = all ? 0 : index; !ret && dev < (all ? nr : index + 1); dev++)
		ret = read_table(&t, dev, file);
	if (!ret && !t.nrows) {
		if (all)
			printf("no %s on any device (%u device%s)\n", what, nr,
			       nr == 1 ? "" : "s");
		else
			printf("no %s on device %u\n", what, index);
	} else if (!ret) {
		ret = ctx_table_print(&t);
		if (ret)
			fprintf(stderr, "hmirrorctl: %s\n", hmirror_strerror(ret));
	}
	ctx_table_free(&t);
	return ret;
}

/* ---- set: the module's defaults for new contexts --------------------------- */

enum set_what { SET_DEADLINE, SET_POLICY };

struct set_request {
	enum set_what what;
	const char *param;	/* module parameter */
	char value[32];		/* what to write to it */
	const char *shown;	/* the value as the user gave it */
};

/* Parse "deadline MS" or "policy kill|revoke"; -EINVAL on bad usage. */
static int parse_set(char **args, int nargs, struct set_request *req)
{
	const char *v;
	unsigned long long ms;

	if (nargs != 2) {
		fprintf(stderr, "hmirrorctl: set takes a name and a value: "
			"set deadline MS, or set policy kill|revoke\n");
		return -EINVAL;
	}
	v = args[1];
	req->shown = v;
	if (!strcmp(args[0], "deadline")) {
		req->what = SET_DEADLINE;
		req->param = "inval_deadline_ms";
		if (!*v || strspn(v, "0123456789") != strlen(v)) {
			fprintf(stderr, "hmirrorctl: deadline '%s' is not a number of "
				"milliseconds\n", v);
			return -EINVAL;
		}
		/* Decimal, as typed: the kernel would read "010" as octal. */
		errno = 0;
		ms = strtoull(v, NULL, 10);
		if (errno)
			ms = ULLONG_MAX;	/* the kernel refuses it */
		snprintf(req->value, sizeof(req->value), "%llu", ms);
		return 0;
	}
	if (!strcmp(args[0], "policy")) {
		req->what = SET_POLICY;
		req->param = "inval_policy";
		if (!strcmp(v, "kill")) {
			snprintf(req->value, sizeof(req->value), "%u",
				 HMIRROR_POLICY_KILL);
		} else if (!strcmp(v, "revoke")) {
			snprintf(req->value, sizeof(req->value), "%u",
				 HMIRROR_POLICY_REVOKE);
		} else {
			fprintf(stderr, "hmirrorctl: policy '%s': must be kill or "
				"revoke\n", v);
			return -EINVAL;
		}
		return 0;
	}
	fprintf(stderr, "hmirrorctl: cannot set '%s': deadline or policy\n",
		args[0]);
	return -EINVAL;
}

static void print_setting(enum set_what what, unsigned int v)
{
	const char *name;

	if (what == SET_DEADLINE) {
		printf("%u ms", v);
		return;
	}
	name = policy_name(v);
	if (name)
		printf("%s", name);
	else
		printf("%u", v);
}

static int cmd_set(const struct set_request *req)
{
	const char *what = req->what == SET_DEADLINE ? "deadline" : "policy";
	unsigned int before, after;
	int ret;

	ret = check_module();
	if (ret)
		return ret;
	ret = read_param(req->param, &before);
	if (ret) {
		fprintf(stderr, "hmirrorctl: " PARAM_DIR "/%s: %s\n", req->param,
			ret == -ENOENT ? "this hmirror module has no such parameter" :
			hmirror_strerror(ret));
		return ret;
	}
	ret = write_param(req->param, req->value);
	if (ret == -EINVAL || ret == -ERANGE) {
		if (req->what == SET_DEADLINE)
			fprintf(stderr, "hmirrorctl: the kernel refused a deadline "
				"of %s ms: it must be %u to %u ms\n", req->shown,
				HMIRROR_DEADLINE_MIN_MS, HMIRROR_DEADLINE_MAX_MS);
		else
			fprintf(stderr, "hmirrorctl: the kernel refused policy %s\n",
				req->shown);
		return -EINVAL;
	}
	if (ret == -EACCES || ret == -EPERM) {
		fprintf(stderr, "hmirrorctl: " PARAM_DIR "/%s: permission denied: "
			"changing the module's defaults needs root\n", req->param);
		return ret;
	}
	if (ret) {
		fprintf(stderr, "hmirrorctl: " PARAM_DIR "/%s: %s\n", req->param,
			hmirror_strerror(ret));
		return ret;
	}
	ret = read_param(req->param, &after);
	if (ret) {
		fprintf(stderr, "hmirrorctl: " PARAM_DIR "/%s: %s\n", req->param,
			hmirror_strerror(ret));
		return ret;
	}
	printf("default %s for new contexts: ", what);
	print_setting(req->what, after);
	printf(" (was ");
	print_setting(req->what, before);
	printf(")\n");
	return 0;
}

/* ---- inject ---------------------------------------------------------------- */

static void print_inject(const char *site, const struct hmirror_inject_spec *s)
{
	printf("%s: ", site);
	if (!s->times) {
		printf("off");
	} else {
		printf("probability %u.%04u%%, interval %u, times ", s->ppm / 10000,
		       s->ppm % 10000, s->interval);
		if (s->times < 0)
			printf("unlimited");
		else
			printf("%d left", s->times);
		printf(", space %u, seed %llu", s->space,
		       (unsigned long long)s->seed);
		if (s->dev >= 0)
			printf(", device %d", s->dev);
		if (s->ctx >= 0)
			printf(", context %lld", (long long)s->ctx);
		if (s->pid)
			printf(", pid %d", s->pid);
	}
	printf(", delay %u ms; %llu calls, %llu failed\n", s->delay_ms,
	       (unsigned long long)s->calls, (unsigned long long)s->failed);
}

static int inject_list(void)
{
	struct hmirror_inject_spec s;
	char line[256], *what;
	FILE *f = fopen(HMIRROR_INJECT_DIR "/sites", "r");
	int ret = 0;

	if (!f) {
		ret = -errno;
		fprintf(stderr, "hmirrorctl: " HMIRROR_INJECT_DIR "/sites: %s\n",
			hmirror_strerror(ret));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		what = strchr(line, ' ');
		if (!what)
			continue;
		*what++ = '\0';
		printf("%-16s %s\n", line, what);
		ret = hmirror_inject_get(line, &s);
		if (ret) {
			fprintf(stderr, "hmirrorctl: %s: %s\n", line,
				hmirror_strerror(ret));
			break;
		}
		printf("%-16s ", "");
		print_inject("state", &s);
	}
	fclose(f);
	return ret;
}

/* A decimal number in [min, max]; -EINVAL (said) otherwise. */
static int parse_ll(const char *opt, const char *s, long long min,
		    long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || *s == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "hmirrorctl: bad value '%s' for --%s\n", s, opt);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* A percentage with up to four decimals, as parts per million. */
static int parse_percent(const char *s, uint32_t *ppm)
{
	unsigned long whole = 0, frac = 0, scale = 10000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		goto bad;
	while (*p >= '0' && *p <= '9')
		whole = whole * 10 + (*p++ - '0');
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9' && scale > 1; p++) {
			scale /= 10;
			frac += (*p - '0') * scale;
		}
	}
	if (*p == '%')
		p++;
	if (*p || whole > 100 || (whole == 100 && frac))
		goto bad;
	*ppm = whole * 10000 + frac;
	return 0;
bad:
	fprintf(stderr, "hmirrorctl: bad probability '%s' (0-100, in %%)\n", s);
	return -EINVAL;
}

static int cmd_inject(int argc, char **argv)
{
	enum { O_PPM = 256, O_INTERVAL, O_TIMES, O_SPACE, O_CTX, O_PID,
	       O_SEED, O_DELAY, O_OFF, O_LIST };
	static const struct option longopts[] = {
		{ "probability", required_argument, NULL, 'p' },
		{ "ppm", required_argument, NULL, O_PPM },
		{ "interval", required_argument, NULL, O_INTERVAL },
		{ "times", required_argument, NULL, O_TIMES },
		{ "space", required_argument, NULL, O_SPACE },
		{ "device", required_argument, NULL, 'd' },
		{ "ctx", required_argument, NULL, O_CTX },
		{ "pid", required_argument, NULL, O_PID },
		{ "seed", required_argument, NULL, O_SEED },
		{ "delay", required_argument, NULL, O_DELAY },
		{ "off", no_argument, NULL, O_OFF },
		{ "list", no_argument, NULL, O_LIST },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct hmirror_inject_spec s = HMIRROR_INJECT_SPEC_INIT;
	int opt, set = 0, off = 0, list = 0, ret;
	const char *site;
	long long v;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "p:d:h", longopts, NULL)) != -1) {
		ret = 0;
		set |= opt != O_OFF && opt != O_LIST && opt != 'h';
		switch (opt) {
		case 'p':
			ret = parse_percent(optarg, &s.ppm);
			break;
		case O_PPM:
			ret = parse_ll("ppm", optarg, 0, HMIRROR_INJECT_PPM_MAX, &v);
			s.ppm = v;
			break;
		case O_INTERVAL:
			ret = parse_ll("interval", optarg, 0, UINT32_MAX, &v);
			s.interval = v;
			break;
		case O_TIMES:
			ret = parse_ll("times", optarg, -1, INT32_MAX, &v);
			s.times = v;
			break;
		case O_SPACE:
			ret = parse_ll("space", optarg, 0, UINT32_MAX, &v);
			s.space = v;
			break;
		case 'd':
			ret = parse_ll("device", optarg, 0, 0xffff, &v);
			s.dev = v;
			break;
		case O_CTX:
			ret = parse_ll("ctx", optarg, 0, UINT32_MAX, &v);
			s.ctx = v;
			break;
		case O_PID:
			ret = parse_ll("pid", optarg, 1, INT32_MAX, &v);
			s.pid = v;
			break;
		case O_SEED:
			errno = 0;
			s.seed = strtoull(optarg, NULL, 0);
			ret = errno ? -EINVAL : 0;
			break;
		case O_DELAY:
			ret = parse_ll("delay", optarg, 0, 10000, &v);
			s.delay_ms = v;
			break;
		case O_OFF:
			off = 1;
			break;
		case O_LIST:
			list = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			ret = -EINVAL;
		}
		if (ret) {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (list) {
		if (set || off || optind != argc) {
			fprintf(stderr, "hmirrorctl: inject --list takes nothing else\n");
			usage(stderr);
			return EXIT_USAGE;
		}
		return inject_list() ? 1 : 0;
	}
	if (optind + 1 != argc || (off && set)) {
		fprintf(stderr, "hmirrorctl: inject needs one SITE, and --off alone\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	site = argv[optind];
	/* A context id is a context of one instance: 0 unless told. */
	if (s.ctx >= 0 && s.dev < 0)
		s.dev = 0;
	if (set || off) {
		ret = hmirror_inject(site, off ? NULL : &s);
		if (ret) {
			fprintf(stderr, "hmirrorctl: inject %s: %s\n", site,
				hmirror_strerror(ret));
			return 1;
		}
	}
	ret = hmirror_inject_get(site, &s);
	if (ret) {
		fprintf(stderr, "hmirrorctl: inject %s: %s\n", site,
			hmirror_strerror(ret));
		return 1;
	}
	print_inject(site, &s);
	return 0;
}

/* ---- main ------------------------------------------------------------------ */

enum { OPT_JSON = 256 };

/* What each command accepts. */
static const struct {
	const char *name;
	unsigned int takes_dev:1, takes_json:1, nargs:2;
	const char *sub;	/* the one subcommand word it must have */
} commands[] = {
	{ "list", 0, 0, 0, NULL },
	{ "info", 1, 0, 0, NULL },
	{ "stats", 1, 1, 0, NULL },
	{ "config", 1, 1, 0, NULL },
	{ "contexts", 1, 0, 0, NULL },
	{ "mr", 1, 0, 0, "list" },
	{ "set", 0, 0, 2, NULL },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int index = 0;
	int json = 0, dev_given = 0, opt, c;
	struct set_request req;
	const char *cmd;
	int ret;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	/* inject has options of its own. */
	if (!strcmp(cmd, "inject"))
		return cmd_inject(argc - 1, argv + 1);
	for (c = 0; c < (int)ARRAY_SIZE(commands); c++)
		if (!strcmp(cmd, commands[c].name))
			break;
	if (c == (int)ARRAY_SIZE(commands)) {
		fprintf(stderr, "hmirrorctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}

	optind = 2;
	if (commands[c].sub) {
		if (argc < 3 || strcmp(argv[2], commands[c].sub)) {
			fprintf(stderr, "hmirrorctl: %s needs '%s'\n", cmd,
				commands[c].sub);
			usage(stderr);
			return EXIT_USAGE;
		}
		optind = 3;
	}
	/* set's values are not options: "set deadline -1" is a bad value. */
	while ((opt = getopt_long(argc, argv, commands[c].nargs ? "+d:h" : "d:h",
				  longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (!commands[c].takes_dev) {
				fprintf(stderr, "hmirrorctl: %s takes no -d\n", cmd);
				usage(stderr);
				return EXIT_USAGE;
			}
			if (parse_index(optarg, &index)) {
				usage(stderr);
				return EXIT_USAGE;
			}
			dev_given = 1;
			break;
		case OPT_JSON:
			if (!commands[c].takes_json) {
				fprintf(stderr, "hmirrorctl: %s takes no --json\n", cmd);
				usage(stderr);
				return EXIT_USAGE;
			}
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:	/* getopt_long() already said what was wrong */
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!commands[c].nargs && optind < argc) {
		fprintf(stderr, "hmirrorctl: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	if (!strcmp(cmd, "list")) {
		ret = cmd_list();
	} else if (!strcmp(cmd, "info")) {
		ret = print_info(index);
	} else if (!strcmp(cmd, "stats")) {
		ret = cmd_stats(index, json);
	} else if (!strcmp(cmd, "config")) {
		ret = cmd_config(index, json);
	} else if (!strcmp(cmd, "contexts")) {
		ret = cmd_table(index, !dev_given, "contexts", "contexts open");
	} else if (!strcmp(cmd, "mr")) {
		ret = cmd_table(index, !dev_given, "mrs", "memory regions");
	} else {
		if (parse_set(argv + optind, argc - optind, &req)) {
			usage(stderr);
			return EXIT_USAGE;
		}
		ret = cmd_set(&req);
	}
	return ret ? 1 : 0;
}
