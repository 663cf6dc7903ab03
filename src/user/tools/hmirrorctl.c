// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * hmirrorctl: inspect and drive hmirror device instances.
 *
 *   hmirrorctl list              one line per device instance
 *   hmirrorctl info [-d N]       what device N reports (default 0)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hmirror.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hmirrorctl list\n"
		"       hmirrorctl info [-d N]\n");
}

static int parse_index(const char *s, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v > 0xffff) {
		fprintf(stderr, "hmirrorctl: bad device number '%s'\n", s);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int print_info(unsigned int index)
{
	struct hmirror_info info;
	struct hmirror *h;
	int ret;

	ret = hmirror_open(index, &h);
	if (ret) {
		fprintf(stderr, "hmirrorctl: /dev/" HMIRROR_DEV_PREFIX "%u: %s\n",
			index, strerror(-ret));
		return ret;
	}
	ret = hmirror_get_info(h, &info);
	hmirror_close(h);
	if (ret) {
		fprintf(stderr, "hmirrorctl: GET_INFO: %s\n", strerror(-ret));
		return ret;
	}
	printf("device %u of %u: backend %s, ABI %u\n", info.device_index,
	       info.nr_devices, info.backend, info.abi_version);
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
			strerror(-ret));
		return ret;
	}
	ret = hmirror_get_info(h, &info);
	hmirror_close(h);
	if (ret)
		return ret;
	for (i = 0; i < info.nr_devices; i++) {
		ret = print_info(i);
		if (ret)
			return ret;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int index = 0;
	int opt;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "list"))
		return cmd_list() ? 1 : 0;
	if (strcmp(argv[1], "info")) {
		fprintf(stderr, "hmirrorctl: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return 2;
	}
	optind = 2;
	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt != 'd' || parse_index(optarg, &index)) {
			usage(stderr);
			return 2;
		}
	}
	return print_info(index) ? 1 : 0;
}
