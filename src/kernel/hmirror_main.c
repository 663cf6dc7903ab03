// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror: coherent address-space mirroring for devices.
 *
 * Module entry points: parameters, the device class, the char device
 * region, the debugfs root and the device instances.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "hmirror_internal.h"

/**
 * DOC: object accounting
 *
 * Every object hmirror allocates on behalf of user space (contexts now;
 * ranges, jobs and page-table pages later) is counted in one module-wide
 * counter, readable in debugfs as hmirror/objects. Tests read it to prove
 * that nothing is left behind after close, process exit or an error path,
 * on any kernel and not only on one built with kmemleak; module unload
 * WARNs if it is not zero.
 */
static atomic_long_t hmirror_objects = ATOMIC_LONG_INIT(0);

/**
 * hmirror_obj_get() - account one more live object
 */
void hmirror_obj_get(void)
{
	atomic_long_inc(&hmirror_objects);
}

/**
 * hmirror_obj_put() - account one object freed
 */
void hmirror_obj_put(void)
{
	WARN_ON_ONCE(atomic_long_dec_return(&hmirror_objects) < 0);
}

#define HMIRROR_MAX_DEVICES	16

unsigned int hmirror_nr_devices = 2;
module_param_named(nr_devices, hmirror_nr_devices, uint, 0444);
MODULE_PARM_DESC(nr_devices, "number of device instances (1-16, default 2)");

unsigned int hmirror_vram_mb = 256;
module_param_named(vram_mb, hmirror_vram_mb, uint, 0444);
MODULE_PARM_DESC(vram_mb,
		 "device memory per instance in MiB, a multiple of 2 (0: none; default 256)");

/*
 * Writable at run time (new contexts take the value when opened), so the
 * range is checked on every write, not only at load.
 */
static int hmirror_param_set_range(const char *val, const struct kernel_param *kp,
				   unsigned int min, unsigned int max)
{
	unsigned int v;
	int ret;

	ret = kstrtouint(val, 0, &v);
	if (ret)
		return ret;
	if (v < min || v > max)
		return -EINVAL;
	WRITE_ONCE(*(unsigned int *)kp->arg, v);
	return 0;
}

static int hmirror_param_set_deadline(const char *val,
				      const struct kernel_param *kp)
{
	return hmirror_param_set_range(val, kp, HMIRROR_DEADLINE_MIN_MS,
				       HMIRROR_DEADLINE_MAX_MS);
}

static int hmirror_param_set_policy(const char *val,
				    const struct kernel_param *kp)
{
	return hmirror_param_set_range(val, kp, HMIRROR_POLICY_KILL,
				       HMIRROR_POLICY_REVOKE);
}

static const struct kernel_param_ops hmirror_deadline_ops = {
	.set = hmirror_param_set_deadline,
	.get = param_get_uint,
};

static const struct kernel_param_ops hmirror_policy_ops = {
	.set = hmirror_param_set_policy,
	.get = param_get_uint,
};

unsigned int hmirror_inval_deadline_ms = 1000;
module_param_cb(inval_deadline_ms, &hmirror_deadline_ops,
		&hmirror_inval_deadline_ms, 0644);
MODULE_PARM_DESC(inval_deadline_ms,
		 "default bound of an invalidation's wait for a context's jobs, ms (1-60000, default 1000)");

unsigned int hmirror_inval_policy = HMIRROR_POLICY_KILL;
module_param_cb(inval_policy, &hmirror_policy_ops, &hmirror_inval_policy,
		0644);
MODULE_PARM_DESC(inval_policy,
		 "default escalation policy of new contexts: 0 kill (default), 1 revoke");

static const struct class hmirror_class = {
	.name = "hmirror",
};

static dev_t hmirror_devt;
static struct hmirror_device *hmirror_devices;
static struct dentry *hmirror_debugfs;

/**
 * hmirror_device_get() - a device instance by number
 * @index: N of /dev/hmirror<N>, below hmirror_nr_devices
 *
 * Return: the instance; valid while the module is loaded.
 */
struct hmirror_device *hmirror_device_get(unsigned int index)
{
	return &hmirror_devices[index];
}

static int hmirror_objects_get(void *data, u64 *val)
{
	*val = atomic_long_read(&hmirror_objects);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(hmirror_objects_fops, hmirror_objects_get, NULL,
			 "%llu\n");

static void hmirror_devices_destroy(unsigned int n)
{
	while (n--)
		hmirror_device_destroy(&hmirror_devices[n]);
}

static int __init hmirror_init(void)
{
	unsigned int i;
	int ret;

	if (hmirror_nr_devices < 1 || hmirror_nr_devices > HMIRROR_MAX_DEVICES) {
		pr_err("nr_devices=%u out of range 1..%u\n",
		       hmirror_nr_devices, HMIRROR_MAX_DEVICES);
		return -EINVAL;
	}
	if (hmirror_vram_mb % 2 || hmirror_vram_mb > 65536) {
		pr_err("vram_mb=%u: not a multiple of 2 up to 65536\n",
		       hmirror_vram_mb);
		return -EINVAL;
	}

	hmirror_devices = kzalloc_objs(*hmirror_devices, hmirror_nr_devices,
				       GFP_KERNEL);
	if (!hmirror_devices)
		return -ENOMEM;

	ret = alloc_chrdev_region(&hmirror_devt, 0, hmirror_nr_devices,
				  HMIRROR_DEV_PREFIX);
	if (ret)
		goto err_free;

	ret = class_register(&hmirror_class);
	if (ret)
		goto err_region;

	hmirror_debugfs = debugfs_create_dir("hmirror", NULL);
	debugfs_create_file_unsafe("objects", 0444, hmirror_debugfs, NULL,
				   &hmirror_objects_fops);
	hmirror_floor_debugfs_init(hmirror_debugfs);
	hmirror_fault_debugfs_init(hmirror_debugfs);

	for (i = 0; i < hmirror_nr_devices; i++) {
		ret = hmirror_device_create(&hmirror_devices[i], i,
					    MKDEV(MAJOR(hmirror_devt), i),
					    &hmirror_class, hmirror_debugfs);
		if (ret)
			goto err_devices;
	}

	pr_info("%u device instance(s), %u MiB of device memory each, ABI %u\n",
		hmirror_nr_devices, hmirror_vram_mb, HMIRROR_ABI_VERSION);
	return 0;

err_devices:
	hmirror_devices_destroy(i);
	debugfs_remove_recursive(hmirror_debugfs);
	class_unregister(&hmirror_class);
err_region:
	unregister_chrdev_region(hmirror_devt, hmirror_nr_devices);
err_free:
	kfree(hmirror_devices);
	return ret;
}

static void __exit hmirror_exit(void)
{
	hmirror_devices_destroy(hmirror_nr_devices);
	debugfs_remove_recursive(hmirror_debugfs);
	class_unregister(&hmirror_class);
	unregister_chrdev_region(hmirror_devt, hmirror_nr_devices);
	kfree(hmirror_devices);
	/* Files hold a module reference, so every context is gone by now. */
	WARN(atomic_long_read(&hmirror_objects),
	     "hmirror: %ld objects leaked\n",
	     atomic_long_read(&hmirror_objects));
}

module_init(hmirror_init);
module_exit(hmirror_exit);

MODULE_DESCRIPTION("hmirror: coherent address-space mirroring for devices");
MODULE_LICENSE("GPL");
