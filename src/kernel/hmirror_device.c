// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror device instances: the char device and sysfs/debugfs presence of
 * one /dev/hmirror<N>.
 */

#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/fs.h>

#include "hmirror_internal.h"

/**
 * DOC: device instances
 *
 * The module creates nr_devices instances. Each has its own char device,
 * class device (/sys/class/hmirror/hmirror<N>) and debugfs directory
 * (hmirror/hmirror<N>/). Opening the char device creates a context; the
 * cdev's owner pins the module for as long as any file is open, so an
 * instance is only destroyed when no context refers to it.
 */

/**
 * hmirror_device_create() - bring up one device instance
 * @hdev: zeroed instance to initialise
 * @index: instance number N of /dev/hmirror<N>
 * @devt: device number of the instance's char device
 * @class: the hmirror device class
 * @debugfs_root: hmirror's debugfs directory
 *
 * Return: 0 or a negative errno; on error nothing is left registered.
 */
int hmirror_device_create(struct hmirror_device *hdev, unsigned int index,
			  dev_t devt, const struct class *class,
			  struct dentry *debugfs_root)
{
	struct device *dev;
	int ret;

	hdev->index = index;
	hdev->backend = "sw";
	cdev_init(&hdev->cdev, &hmirror_ctx_fops);
	hdev->cdev.owner = THIS_MODULE;

	ret = cdev_add(&hdev->cdev, devt, 1);
	if (ret)
		return ret;

	dev = device_create(class, NULL, devt, hdev, HMIRROR_DEV_PREFIX "%u",
			    index);
	if (IS_ERR(dev)) {
		cdev_del(&hdev->cdev);
		return PTR_ERR(dev);
	}
	hdev->dev = dev;
	hdev->debugfs = debugfs_create_dir(dev_name(dev), debugfs_root);
	return 0;
}

/**
 * hmirror_device_destroy() - tear down one device instance
 * @hdev: instance set up by hmirror_device_create()
 */
void hmirror_device_destroy(struct hmirror_device *hdev)
{
	debugfs_remove_recursive(hdev->debugfs);
	device_destroy(hdev->dev->class, hdev->dev->devt);
	cdev_del(&hdev->cdev);
}
