// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * hmirrorctl: inspect and drive hmirror device instances.
 *
 *   hmirrorctl list                        one line per device instance
 *   hmirrorctl info [-d N]                 what device N reports (default 0)
 *   hmirrorctl stats [-d N] [--json]       a new context's counters on N
 *   hmirrorctl config [-d N] [--json]      a new context's configuration
 *
 * Exit status: 0 success, 1 failure, 2 bad usage. hmirrorctl(8) has more.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	printf("device %u of %u: backend %.*s, ABI %u\n", info.device_index,
	       info.nr_devices, (int)sizeof(info.backend), info.backend,
	       info.abi_version);
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

/* ---- main ------------------------------------------------------------------ */

enum { OPT_JSON = 256 };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int index = 0;
	int json = 0, opt, takes_dev, takes_json;
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
	if (!strcmp(cmd, "list")) {
		takes_dev = 0;
		takes_json = 0;
	} else if (!strcmp(cmd, "info")) {
		takes_dev = 1;
		takes_json = 0;
	} else if (!strcmp(cmd, "stats") || !strcmp(cmd, "config")) {
		takes_dev = 1;
		takes_json = 1;
	} else {
		fprintf(stderr, "hmirrorctl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}

	optind = 2;
	while ((opt = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (!takes_dev) {
				fprintf(stderr, "hmirrorctl: %s takes no -d\n", cmd);
				usage(stderr);
				return EXIT_USAGE;
			}
			if (parse_index(optarg, &index)) {
				usage(stderr);
				return EXIT_USAGE;
			}
			break;
		case OPT_JSON:
			if (!takes_json) {
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
	if (optind < argc) {
		fprintf(stderr, "hmirrorctl: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	if (!strcmp(cmd, "list"))
		ret = cmd_list();
	else if (!strcmp(cmd, "info"))
		ret = print_info(index);
	else if (!strcmp(cmd, "stats"))
		ret = cmd_stats(index, json);
	else
		ret = cmd_config(index, json);
	return ret ? 1 : 0;
}
