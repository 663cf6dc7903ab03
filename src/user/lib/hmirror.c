// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * libhmirror: opening contexts and talking to the hmirror char devices.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hmirror.h"

struct hmirror {
	int fd;
	struct hmirror_info info;
};

int hmirror_dev_path(unsigned int index, char *buf, size_t len)
{
	int n;

	if (!buf)
		return -EINVAL;
	n = snprintf(buf, len, "/dev/" HMIRROR_DEV_PREFIX "%u", index);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

static int hmirror_query(int fd, struct hmirror_info *info)
{
	memset(info, 0, sizeof(*info));
	if (ioctl(fd, HMIRROR_IOC_GET_INFO, info) < 0)
		/* Any other driver's node answers with ENOTTY or EINVAL. */
		return errno == EINVAL ? -ENOTTY : -errno;
	return 0;
}

int hmirror_open_path(const char *path, struct hmirror **out)
{
	struct hmirror *h;
	int ret;

	if (!path || !out)
		return -EINVAL;

	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;

	h->fd = open(path, O_RDWR | O_CLOEXEC);
	if (h->fd < 0) {
		ret = -errno;
		goto err_free;
	}

	ret = hmirror_query(h->fd, &h->info);
	if (ret)
		goto err_close;
	if (h->info.abi_version != HMIRROR_ABI_VERSION) {
		ret = -EPROTO;
		goto err_close;
	}

	*out = h;
	return 0;

err_close:
	close(h->fd);
err_free:
	free(h);
	return ret;
}

int hmirror_open(unsigned int index, struct hmirror **out)
{
	char path[64];
	int ret;

	ret = hmirror_dev_path(index, path, sizeof(path));
	if (ret)
		return ret;
	return hmirror_open_path(path, out);
}

void hmirror_close(struct hmirror *h)
{
	if (!h)
		return;
	close(h->fd);
	free(h);
}

int hmirror_fd(const struct hmirror *h)
{
	return h ? h->fd : -EINVAL;
}

int hmirror_get_info(struct hmirror *h, struct hmirror_info *info)
{
	int ret;

	if (!h || !info)
		return -EINVAL;
	ret = hmirror_query(h->fd, &h->info);
	if (ret)
		return ret;
	*info = h->info;
	return 0;
}
