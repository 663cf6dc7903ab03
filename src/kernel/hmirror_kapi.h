/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmirror's kernel interface: what another kernel module may use of
 * hmirror's core (symbol namespace "HMIRROR"). hmirror_kapi.c documents
 * each function.
 */
#ifndef _HMIRROR_KAPI_H
#define _HMIRROR_KAPI_H

#include <linux/bits.h>
#include <linux/types.h>

struct hmirror_ctx;
struct page;

/* hmirror_ctx_fault() flags */
#define HMIRROR_KF_WRITE	BIT(0)	/* for writing */
#define HMIRROR_KF_UNLOCKED	BIT(1)	/* mmap lock may be dropped */
#define HMIRROR_KF_EXCLUSIVE	BIT(2)	/* device-exclusive, for writing */

/* hmirror_ctx_migrate() flags */
#define HMIRROR_KM_TO_DEVICE	BIT(0)	/* else to system memory */
#define HMIRROR_KM_SYSTEM_ONLY	BIT(1)	/* no device-to-device move */

/* What hmirror_ctx_snapshot() says of one page. */
#define HMIRROR_SNAP_VALID	BIT(0)	/* mapped, at least readable */
#define HMIRROR_SNAP_WRITE	BIT(1)	/* mapped writable */
#define HMIRROR_SNAP_ERROR	BIT(2)	/* no VMA, or no access at all */
#define HMIRROR_SNAP_ZERO	BIT(3)	/* the shared zero page */
#define HMIRROR_SNAP_PRIVATE	BIT(4)	/* in device-private memory */
#define HMIRROR_SNAP_COHERENT	BIT(5)	/* in device-coherent memory */
#define HMIRROR_SNAP_LOCAL	BIT(6)	/* ...of the context's device */
#define HMIRROR_SNAP_ORDER_SHIFT 8		/* CPU mapping order above */

int hmirror_device_vram_kind(unsigned int index);
struct hmirror_ctx *hmirror_ctx_create(unsigned int index);
void hmirror_ctx_destroy(struct hmirror_ctx *ctx);
int hmirror_ctx_check(struct hmirror_ctx *ctx);
int hmirror_ctx_fault(struct hmirror_ctx *ctx, unsigned long start,
		      unsigned long end, unsigned int flags);
unsigned long hmirror_ctx_exclusive_pages(struct hmirror_ctx *ctx,
					  unsigned long addr,
					  unsigned long npages);
unsigned long hmirror_ctx_access(struct hmirror_ctx *ctx, unsigned long addr,
				 void *buf, unsigned long npages, bool write);
int hmirror_ctx_snapshot(struct hmirror_ctx *ctx, unsigned long start,
			 unsigned long npages, u32 *out);
int hmirror_ctx_migrate(struct hmirror_ctx *ctx, unsigned long start,
			unsigned long end, unsigned int flags, u64 *moved,
			u64 *failed);
void hmirror_ctx_fail_huge_alloc(struct hmirror_ctx *ctx, bool arm);
long hmirror_ctx_devmem_evict(struct hmirror_ctx *ctx);

#endif /* _HMIRROR_KAPI_H */
