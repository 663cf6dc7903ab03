/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmirror internal interfaces shared between the files of the module.
 */
#ifndef _HMIRROR_INTERNAL_H
#define _HMIRROR_INTERNAL_H

#include <linux/atomic.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/pid.h>

#include <linux/hmirror.h>

#include "hmirror_compat.h"

struct dentry;

/**
 * struct hmirror_device - one device instance (/dev/hmirror<N>)
 * @index: N
 * @cdev: character device
 * @dev: the struct device of the class device, for messages and sysfs
 * @backend: name of the backend driving this instance
 * @debugfs: this instance's debugfs directory
 */
struct hmirror_device {
	unsigned int index;
	struct cdev cdev;
	struct device *dev;
	const char *backend;
	struct dentry *debugfs;
};

/**
 * struct hmirror_ctx - a context: one per open file of a device
 * @hdev: the device instance the file was opened on
 * @mm: the mm of the opener; the context works only from this mm
 * @owner: thread-group pid of the opener, the process escalation signals
 */
struct hmirror_ctx {
	struct hmirror_device *hdev;
	struct mm_struct *mm;
	struct pid *owner;
};

/* hmirror_main.c */
extern unsigned int hmirror_nr_devices;

void hmirror_obj_get(void);
void hmirror_obj_put(void);

/* hmirror_device.c */
int hmirror_device_create(struct hmirror_device *hdev, unsigned int index,
			  dev_t devt, const struct class *class,
			  struct dentry *debugfs_root);
void hmirror_device_destroy(struct hmirror_device *hdev);

/* hmirror_ctx.c */
extern const struct file_operations hmirror_ctx_fops;

#endif /* _HMIRROR_INTERNAL_H */
