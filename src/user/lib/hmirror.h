/* SPDX-License-Identifier: LGPL-2.1-or-later OR MIT */
/*
 * libhmirror: the user-space API of hmirror.
 *
 * Conventions, as in liburing: every function returns 0 (or a non-negative
 * value where documented) on success and a negative errno on failure; errno
 * itself is left alone. The library holds no global state: everything lives
 * in the struct hmirror handle the caller owns, so independent handles may
 * be used from different threads.
 */
#ifndef HMIRROR_LIB_H
#define HMIRROR_LIB_H

#include <stddef.h>
#include <linux/hmirror.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An open hmirror context: one open file of /dev/hmirror<N>. */
struct hmirror;

/**
 * hmirror_dev_path() - format the device node path of instance @index
 * @index: device instance number
 * @buf: output buffer
 * @len: size of @buf
 *
 * Return: 0, -EINVAL on a NULL @buf, -ENAMETOOLONG if @buf is too small.
 */
int hmirror_dev_path(unsigned int index, char *buf, size_t len);

/**
 * hmirror_open() - open a context on device instance @index
 * @index: device instance number (see struct hmirror_info.nr_devices)
 * @out: receives the new handle
 *
 * The context is bound to the calling process's address space: it cannot be
 * used from another process, even if its file descriptor is passed on.
 *
 * Return: 0, or -ENOENT (no such device: is the module loaded?), -ENOTTY
 * (the node is not an hmirror device), -EPROTO (ABI version mismatch), or
 * another negative errno from open(2).
 */
int hmirror_open(unsigned int index, struct hmirror **out);

/**
 * hmirror_open_path() - like hmirror_open(), on a device node named by path
 * @path: path of the device node
 * @out: receives the new handle
 *
 * Return: as hmirror_open().
 */
int hmirror_open_path(const char *path, struct hmirror **out);

/**
 * hmirror_close() - close a context and free its handle
 * @h: handle from hmirror_open(); NULL is ignored
 */
void hmirror_close(struct hmirror *h);

/**
 * hmirror_fd() - the file descriptor behind a handle, for poll(2)
 * @h: handle
 *
 * Return: the descriptor, or -EINVAL on a NULL handle.
 */
int hmirror_fd(const struct hmirror *h);

/**
 * hmirror_get_info() - query the device instance behind a handle
 * @h: handle
 * @info: receives the device's information
 *
 * Return: 0 or a negative errno.
 */
int hmirror_get_info(struct hmirror *h, struct hmirror_info *info);

#ifdef __cplusplus
}
#endif

#endif /* HMIRROR_LIB_H */
