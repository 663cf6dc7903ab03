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
#include <linux/ioport.h>
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

unsigned int hmirror_nr_devices = 2;
module_param_named(nr_devices, hmirror_nr_devices, uint, 0444);
MODULE_PARM_DESC(nr_devices,
		 "number of sw-engine device instances (0-16, default 2); PCI accelerators add theirs");

unsigned int hmirror_vram_mb = 256;
module_param_named(vram_mb, hmirror_vram_mb, uint, 0444);
MODULE_PARM_DESC(vram_mb,
		 "device memory per instance in MiB, a multiple of 2 (0: none; default 256); a PCI accelerator gets at most its VRAM");

/**
 * DOC: device memory kinds
 *
 * A device instance has device-private memory (MEMORY_DEVICE_PRIVATE) by
 * default: a free physical range the CPU cannot map. coherent_addr=A0,A1,...
 * gives instance N device-coherent memory (MEMORY_DEVICE_COHERENT)
 * instead, vram_mb of it at physical address AN, as a CXL or
 * cache-coherent-link accelerator has: memory the CPU maps and accesses in
 * place. 0, or an entry not given, keeps an instance device-private. The
 * range must be reserved at boot (memmap=SIZE$ADDR, or the firmware's
 * reserved or soft-reserved memory), 2 MiB aligned, and not shared with
 * another instance; anything else fails the load with -EINVAL.
 */
unsigned long hmirror_coherent_addr[HMIRROR_MAX_DEVICES];
static unsigned int hmirror_coherent_nr;
module_param_array_named(coherent_addr, hmirror_coherent_addr, ulong,
			 &hmirror_coherent_nr, 0444);
MODULE_PARM_DESC(coherent_addr,
		 "per instance: physical address of vram_mb of boot-reserved memory to use as device-coherent memory (0: device-private, the default)");

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
/* Set once an instance is up, cleared before it goes: read locklessly. */
static struct hmirror_device *hmirror_devices[HMIRROR_MAX_DEVICES];
static DEFINE_MUTEX(hmirror_devices_lock);	/* registration */
static struct dentry *hmirror_debugfs;

/**
 * hmirror_device_get() - a device instance by number
 * @index: N of /dev/hmirror<N>
 *
 * Return: the instance, or NULL if there is none; valid while a context
 * of any instance exists (instances go only at module unload).
 */
struct hmirror_device *hmirror_device_get(unsigned int index)
{
	if (index >= HMIRROR_MAX_DEVICES)
		return NULL;
	return READ_ONCE(hmirror_devices[index]);
}

/**
 * hmirror_device_count() - the number of instances up
 *
 * Return: how many /dev/hmirror<N> exist.
 */
unsigned int hmirror_device_count(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < HMIRROR_MAX_DEVICES; i++)
		n += !!READ_ONCE(hmirror_devices[i]);
	return n;
}

/**
 * hmirror_device_register() - bring an instance up under the lowest free N
 * @hdev: zeroed instance with its ops (and parent, priv) set
 *
 * Return: 0 or a negative errno (-ENOSPC: HMIRROR_MAX_DEVICES are up).
 */
int hmirror_device_register(struct hmirror_device *hdev)
{
	unsigned int i;
	int ret = -ENOSPC;

	mutex_lock(&hmirror_devices_lock);
	for (i = 0; i < HMIRROR_MAX_DEVICES; i++) {
		if (hmirror_devices[i])
			continue;
		ret = hmirror_device_create(hdev, i,
					    MKDEV(MAJOR(hmirror_devt), i),
					    &hmirror_class, hmirror_debugfs);
		if (!ret)
			WRITE_ONCE(hmirror_devices[i], hdev);
		break;
	}
	mutex_unlock(&hmirror_devices_lock);
	return ret;
}

/**
 * hmirror_device_unregister() - take an instance down
 * @hdev: instance hmirror_device_register() brought up, with no context
 */
void hmirror_device_unregister(struct hmirror_device *hdev)
{
	mutex_lock(&hmirror_devices_lock);
	WRITE_ONCE(hmirror_devices[hdev->index], NULL);
	mutex_unlock(&hmirror_devices_lock);
	hmirror_device_destroy(hdev);
}

static int hmirror_objects_get(void *data, u64 *val)
{
	*val = atomic_long_read(&hmirror_objects);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(hmirror_objects_fops, hmirror_objects_get, NULL,
			 "%llu\n");

/* The sw instances: the module's own, made at load. */
static void hmirror_sw_devices_destroy(void)
{
	struct hmirror_device *hdev;
	unsigned int i;

	for (i = 0; i < HMIRROR_MAX_DEVICES; i++) {
		hdev = hmirror_devices[i];
		if (hdev && hdev->ops == &hmirror_sw_ops) {
			hmirror_device_unregister(hdev);
			kfree(hdev);
		}
	}
}

static int __init hmirror_sw_devices_create(void)
{
	struct hmirror_device *hdev;
	unsigned int i;
	int ret;

	for (i = 0; i < hmirror_nr_devices; i++) {
		hdev = kzalloc_obj(*hdev, GFP_KERNEL);
		if (!hdev)
			return -ENOMEM;
		hdev->ops = &hmirror_sw_ops;
		hdev->vram_mb = hmirror_vram_mb;
		ret = hmirror_device_register(hdev);
		if (ret) {
			kfree(hdev);
			return ret;
		}
	}
	return 0;
}

static unsigned int hmirror_coherent_count(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < hmirror_coherent_nr; i++)
		n += !!hmirror_coherent_addr[i];
	return n;
}

/* Sums the part of [start, end] that reserved memory covers. */
static int hmirror_coherent_covered(struct resource *res, void *arg)
{
	*(u64 *)arg += resource_size(res);
	return 0;
}

static u64 hmirror_coherent_reserved(u64 start, u64 size)
{
	u64 covered = 0;

	walk_iomem_res_desc(IORES_DESC_RESERVED, IORESOURCE_MEM, start,
			    start + size - 1, &covered, hmirror_coherent_covered);
	walk_iomem_res_desc(IORES_DESC_SOFT_RESERVED, IORESOURCE_MEM, start,
			    start + size - 1, &covered, hmirror_coherent_covered);
	return covered;
}

/*
 * coherent_addr, checked before any instance exists: memremap_pages()
 * would WARN (and the test runner fail) on RAM or on a range two
 * instances share, and a range of nothing would be mapped as memory.
 */
static int __init hmirror_coherent_check(void)
{
	u64 size = (u64)hmirror_vram_mb << 20, a, b;
	unsigned int i, j;

	if (hmirror_coherent_nr > hmirror_nr_devices) {
		pr_err("coherent_addr has %u entries for %u instances\n",
		       hmirror_coherent_nr, hmirror_nr_devices);
		return -EINVAL;
	}
	for (i = 0; i < hmirror_coherent_nr; i++) {
		a = hmirror_coherent_addr[i];
		if (!a)
			continue;
		if (!size) {
			pr_err("coherent_addr needs vram_mb > 0\n");
			return -EINVAL;
		}
		if (!IS_ALIGNED(a, HMIRROR_CHUNK_SIZE)) {
			pr_err("coherent_addr[%u]=%#llx is not 2 MiB aligned\n",
			       i, a);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			b = hmirror_coherent_addr[j];
			if (b && a < b + size && b < a + size) {
				pr_err("coherent_addr[%u]=%#llx and [%u]=%#llx overlap (vram_mb=%u)\n",
				       j, b, i, a, hmirror_vram_mb);
				return -EINVAL;
			}
		}
		if (hmirror_coherent_reserved(a, size) != size) {
			pr_err("coherent_addr[%u]: [%#llx-%#llx] is not all reserved memory (boot with memmap=%uM$%#llx or larger)\n",
			       i, a, a + size - 1, hmirror_vram_mb, a);
			return -EINVAL;
		}
	}
	return 0;
}

static int __init hmirror_init(void)
{
	int ret;

	if (hmirror_nr_devices > HMIRROR_MAX_DEVICES) {
		pr_err("nr_devices=%u out of range 0..%u\n",
		       hmirror_nr_devices, HMIRROR_MAX_DEVICES);
		return -EINVAL;
	}
	if (hmirror_vram_mb % 2 || hmirror_vram_mb > 65536) {
		pr_err("vram_mb=%u: not a multiple of 2 up to 65536\n",
		       hmirror_vram_mb);
		return -EINVAL;
	}

	ret = hmirror_coherent_check();
	if (ret)
		return ret;

	ret = alloc_chrdev_region(&hmirror_devt, 0, HMIRROR_MAX_DEVICES,
				  HMIRROR_DEV_PREFIX);
	if (ret)
		return ret;

	ret = class_register(&hmirror_class);
	if (ret)
		goto err_region;

	hmirror_debugfs = debugfs_create_dir("hmirror", NULL);
	debugfs_create_file_unsafe("objects", 0444, hmirror_debugfs, NULL,
				   &hmirror_objects_fops);
	hmirror_floor_debugfs_init(hmirror_debugfs);
	hmirror_fault_debugfs_init(hmirror_debugfs);

	ret = hmirror_sw_devices_create();
	if (ret)
		goto err_devices;
	ret = hmirror_pci_register();
	if (ret)
		goto err_devices;

	pr_info("%u sw instance(s), %u MiB of device memory each (%u coherent), ABI %u\n",
		hmirror_nr_devices, hmirror_vram_mb, hmirror_coherent_count(),
		HMIRROR_ABI_VERSION);
	return 0;

err_devices:
	hmirror_sw_devices_destroy();
	debugfs_remove_recursive(hmirror_debugfs);
	class_unregister(&hmirror_class);
err_region:
	unregister_chrdev_region(hmirror_devt, HMIRROR_MAX_DEVICES);
	return ret;
}

static void __exit hmirror_exit(void)
{
	hmirror_pci_unregister();
	hmirror_sw_devices_destroy();
	debugfs_remove_recursive(hmirror_debugfs);
	class_unregister(&hmirror_class);
	unregister_chrdev_region(hmirror_devt, HMIRROR_MAX_DEVICES);
	/* Files hold a module reference, so every context is gone by now. */
	WARN(atomic_long_read(&hmirror_objects),
	     "hmirror: %ld objects leaked\n",
	     atomic_long_read(&hmirror_objects));
}

module_init(hmirror_init);
module_exit(hmirror_exit);

MODULE_DESCRIPTION("hmirror: coherent address-space mirroring for devices");
MODULE_LICENSE("GPL");
