/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * hmirror: coherent address-space mirroring for devices.
 *
 * This header is the only contract between the hmirror kernel module and
 * user space. Every structure has explicit padding and reserved fields that
 * must be zero; the kernel rejects non-zero reserved fields with -EINVAL so
 * that they can be given a meaning later.
 */
#ifndef _UAPI_LINUX_HMIRROR_H
#define _UAPI_LINUX_HMIRROR_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Bumped on every incompatible change of this header. */
#define HMIRROR_ABI_VERSION	1

/* Character devices are /dev/hmirror<N>, N < hmirror_info.nr_devices. */
#define HMIRROR_DEV_PREFIX	"hmirror"

/**
 * struct hmirror_info - what HMIRROR_IOC_GET_INFO reports
 * @abi_version: HMIRROR_ABI_VERSION of the running module
 * @device_index: N of the /dev/hmirror<N> the file was opened on
 * @nr_devices: number of device instances the module created
 * @backend: name of the device backend driving this instance ("sw", "pci")
 * @reserved: must be zero on input; zero on output
 */
struct hmirror_info {
	__u32 abi_version;
	__u32 device_index;
	__u32 nr_devices;
	__u32 pad;
	char backend[16];
	__u64 reserved[4];
};

#define HMIRROR_IOC_MAGIC	0xb6

#define HMIRROR_IOC_GET_INFO	_IOWR(HMIRROR_IOC_MAGIC, 0x00, struct hmirror_info)

#endif /* _UAPI_LINUX_HMIRROR_H */
