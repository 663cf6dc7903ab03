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
 *
 * The module creates nr_devices instances of the in-kernel sw engine; the
 * PCI driver (hmirror_pci.c) adds one per accelerator it binds, numbered
 * after them. The backend is brought up before the char device appears
 * and stopped after it is gone.
 */

/**
 * hmirror_device_create() - bring up one device instance
 * @hdev: instance to initialise, zeroed but for ops, parent, vram_mb and
 *	  priv
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
	mutex_init(&hdev->ctxs_lock);
	spin_lock_init(&hdev->lock);
	INIT_LIST_HEAD(&hdev->ctxs);
	INIT_LIST_HEAD(&hdev->runq);
	init_waitqueue_head(&hdev->engine_wq);
	init_waitqueue_head(&hdev->reset_wq);
	atomic_set(&hdev->work_seq, 0);

	/*
	 * Device memory first: the backend tells its device where the
	 * device-private pfns are. coherent_addr is the sw instances' own.
	 */
	ret = hmirror_devmem_init(hdev, hdev->vram_mb, hdev->ops->copy ? 0 :
				  hmirror_coherent_addr[index]);
	if (ret)
		return ret;
	ret = hdev->ops->init(hdev);
	if (ret)
		goto err_devmem;

	cdev_init(&hdev->cdev, &hmirror_ctx_fops);
	hdev->cdev.owner = THIS_MODULE;
	ret = cdev_add(&hdev->cdev, devt, 1);
	if (ret)
		goto err_fini;

	dev = device_create(class, hdev->parent, devt, hdev, HMIRROR_DEV_PREFIX "%u",
			    index);
	if (IS_ERR(dev)) {
		ret = PTR_ERR(dev);
		goto err_cdev;
	}
	hdev->dev = dev;
	hdev->debugfs = debugfs_create_dir(dev_name(dev), debugfs_root);
	hmirror_debugfs_device_init(hdev);
	return 0;

err_cdev:
	cdev_del(&hdev->cdev);
err_fini:
	/* Every page evicted (nothing is there yet) while the engine runs. */
	hmirror_devmem_fini(hdev);
	hdev->ops->fini(hdev);
	return ret;
err_devmem:
	hmirror_devmem_fini(hdev);
	return ret;
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
	/* Pages still in processes' memory go home before the memory does. */
	hmirror_devmem_fini(hdev);
	hdev->ops->fini(hdev);
}
