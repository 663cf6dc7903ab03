/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmirror compatibility with older kernels.
 *
 * hmirror is written against the newest kernel it is tested on (7.x) and
 * must also build, warning-free, against the 6.12 LTS series. Every
 * difference between the two is decided here, once, at build time; the
 * rest of the module tests HMIRROR_HAVE_* symbols and never a kernel
 * version.
 */
#ifndef _HMIRROR_COMPAT_H
#define _HMIRROR_COMPAT_H

#include <linux/version.h>

/*
 * Large (PMD-sized) device-private folios in migrate_vma_*: the
 * MIGRATE_VMA_SELECT_COMPOUND flag arrived in 6.18. Without it, device
 * memory is migrated in 4 KiB pages.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 18, 0)
#define HMIRROR_HAVE_DEVICE_THP 1
#else
#define HMIRROR_HAVE_DEVICE_THP 0
#endif

#endif /* _HMIRROR_COMPAT_H */
