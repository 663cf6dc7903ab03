/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hmirror PCI accelerator's hardware interface: what the driver
 * (hmirror_pci.c) and the device model (qemu-models/hmirror-model.c) agree
 * on, as a data sheet would state it. Everything is little-endian.
 */
#ifndef _HMIRROR_PCI_HW_H
#define _HMIRROR_PCI_HW_H

#include <linux/const.h>
#include <linux/types.h>

/**
 * DOC: hmirror PCI device
 *
 * The device is QEMU's ivshmem-doorbell (vendor 0x1af4, device 0x1110)
 * served by the model process. BAR0 holds ivshmem's registers (the
 * Doorbell at 12), BAR1 its MSI-X table, BAR2 the model's shared memory:
 *
 *   0x0000              struct hmpci_regs
 *   HMPCI_SLOTS_OFFSET  struct hmpci_slot[regs.nr_slots], one per context
 *   regs.vram_offset    regs.vram_size bytes of device memory (VRAM)
 *
 * The driver binds only when BAR2 starts with HMPCI_MAGIC. Fields are
 * written by one side only: (H) the host driver, (D) the device. Counters
 * named *_req / *_ack are sequence numbers: the driver bumps a request,
 * rings the doorbell, and the device copies the value into the ack once
 * the request is carried out.
 *
 * Doorbell: the driver writes (regs.doorbell_peer << 16) | 0 to BAR0's
 * Doorbell; the device then looks at every slot. Interrupt: MSI-X vector
 * 0 for everything; the driver looks at every slot.
 *
 * DMA: a DMA address is a guest physical address (there is no IOMMU).
 * No DMA of any kind reaches memory while regs.control lacks
 * HMPCI_CTL_BUS_MASTER: the model's bus checks it on every access, as a
 * PCI bridge stops a device whose bus-master bit is clear.
 *
 * Page table (per slot, in host memory): four levels of 512 u64 entries,
 * one 4 KiB page each, indexed by virtual address bits 47..39 (L4, the
 * root), 38..30 (L3), 29..21 (L2), 20..12 (L1).
 *
 * - L4 and L3 entries: physical address of the next table | DIR_VALID.
 * - L2 entries: physical address of an L1 table | DIR_VALID; or a leaf
 *   PTE of a 2 MiB page with HMPCI_PTE_HUGE set (the physical address of
 *   its first byte, 2 MiB aligned).
 * - L1 entries: leaf PTEs, physical address of a 4 KiB page | flags.
 *
 * Leaf flags: VALID, WRITE (writes allowed), EXCL (the CPU holds no
 * mapping of the page: atomics marked exclusive may use it). An address
 * in [regs.devpriv_base, regs.devpriv_base + regs.vram_size) is not host
 * memory but VRAM, at offset (address - devpriv_base). VRAM pages count
 * as exclusive.
 *
 * TLB: the device caches leaf translations (it caches no directory
 * entry) and uses a cached translation without reading the table again.
 * Only an invalidation request drops them. Between two page steps the
 * device carries out pending invalidation and reset requests, so when it
 * acknowledges one, no step using a dropped translation is in progress
 * and none will start.
 *
 * Jobs: each slot has a ring of struct hmpci_job entries (a power of two
 * of them) in host memory. The driver fills entries and then advances
 * slot.ring_tail; the device runs jobs in ring order, one at a time per
 * slot, slots round-robin (HMPCI_BUDGET page steps each). A job's
 * commands (struct hmirror_cmd of the uAPI, the stride given in the
 * entry) live in host memory at hmpci_job.cmds. At the end the device
 * writes status, then flags |= HMPCI_JOB_DONE, then slot.done_fence, then
 * interrupts.
 *
 * A translation that fails (no valid PTE, a write through a read-only
 * PTE, an exclusive access to a non-EXCL system page) parks the job if
 * slot.preempt is HMPCI_PREEMPT_PAGE, and fails it with -EFAULT
 * otherwise. A MIGRATE command always parks (the host moves the pages).
 * Parking writes slot.fault_* then bumps slot.fault_seq and interrupts;
 * the job stays parked, and the slot runs nothing else, until the driver
 * bumps slot.resume_req. The device then acks, and, if resume_status is
 * non-zero, fails the job with it; otherwise it retries the translation
 * (a fault) or, for MIGRATE, writes resume_value to *(u64 *)cmd.dst when
 * dst is not 0 and goes on with the next command.
 *
 * Cancel: the host may end jobs itself (a failed refault, a failed
 * migration); it then raises slot.cancel_fence to the newest such fence.
 * The device ends every job whose fence is at most cancel_fence with
 * status -ECANCELED and without running another step of it: a parked one
 * at once, a running one before its next step, a queued one when it
 * reaches it.
 *
 * A translation found in the TLB that fails its permission check is
 * dropped and walked again before the job parks or fails: the host
 * upgrades PTEs (read-only to writable, EXCL added) without invalidating.
 *
 * Reset (per slot): the driver bumps slot.reset_req. The device drops the
 * slot's jobs (it writes nothing more for them), its parked state, its
 * TLB entries and its ring position (ring_head := ring_tail), then acks.
 * Whole-device reset: regs.reset_req; every slot is reset, then acked in
 * regs.reset_ack.
 *
 * Details the above leaves open, as the model implements them:
 *
 * - The device looks at regs.control and at every request when a doorbell
 *   wakes it or while it has work: after changing either, ring. Requests
 *   are carried out whatever ENABLE and slot.enable say; those two only
 *   gate running jobs.
 * - ring_head moves past a job when it ends (after done_fence): the entry
 *   is the device's until then. A ring_size that is no power of two runs
 *   nothing. nr_cmds 0 ends at once with status 0. A cmd_size below
 *   HMIRROR_CMD_SIZE_V1 fails the job with -EINVAL; fields past cmd_size
 *   read as 0. Of hmirror_cmd.flags the device knows EXCLUSIVE only.
 * - Status: 0, -EFAULT (a failed translation, NONE), -EIO (refused DMA),
 *   -EINVAL (unknown op, misaligned operand, cmd_size), -ETIME (the
 *   WAIT_VALUE timeout), or the resume_status of a parked job.
 * - With BUS_MASTER clear a ring entry is not fetched (it is tried again
 *   after the next doorbell); a running job's next DMA fails it with -EIO,
 *   and writing its status and DONE is DMA too: that job's end shows in
 *   done_fence and ring_head only, its entry keeps DONE clear. VRAM is the
 *   device's own memory: no DMA, but reaching it takes a walk or a TLB hit.
 * - fault_addr is the virtual address the step needed (not page-aligned);
 *   fault_flags has WRITE for a write, EXCL for an exclusive command; a
 *   MIGRATE parks with fault_addr = cmd.src and fault_flags MIGRATE. A
 *   resume_req with no job parked is acked and does nothing.
 * - The TLB: a cached leaf that lacks the access a step needs is dropped
 *   and the table walked again before the translation fails, and a failed
 *   walk caches nothing. So adding access to a PTE (VALID, WRITE, EXCL)
 *   needs no invalidation; changing its address or taking access away
 *   does. Virtual address bits 63..48 must be zero. In a huge leaf,
 *   address bits 20..12 are ignored. devpriv_base 0 means no VRAM window.
 * - An invalidation's range is read when it is carried out; an empty one
 *   drops nothing. A slot reset sets ring_head to ring_tail as it is then:
 *   queue the slot's next jobs after the ack. A whole-device reset also
 *   acks every slot's pending reset, invalidation and resume and empties
 *   the TLB; it leaves control, devpriv_base and the counters alone.
 *
 * Copy engine: one ring of struct hmpci_copy entries (a power of two of
 * them) in host memory, at regs.copy_ring, for the host's own copies
 * (migration between host memory and VRAM). Its addresses are physical,
 * not virtual: no page table, no TLB. An address in the devpriv window is
 * VRAM, any other is host memory, reached by DMA like a job's operands
 * (so bus mastering and fail-dma apply to it; fail-dma fails one entry).
 * The driver fills entries and then advances regs.copy_tail; the device
 * carries entries out in ring order, between slot turns, while ENABLE is
 * set (at most HMPCI_COPY_BUDGET bytes per turn, so jobs go on). For each
 * entry it writes status, then flags |= HMPCI_COPY_DONE, then advances
 * regs.copy_head past it, and interrupts once it has advanced copy_head
 * in a turn. An entry's len must be a multiple of 4 KiB, 1 to 512 pages,
 * src and dst 4 KiB aligned (src ignored with HMPCI_COPY_ZERO), else
 * status is -EINVAL; a refused access gives -EIO, with dst partly
 * written. With BUS_MASTER clear an entry is not fetched (tried again
 * after the next doorbell). A whole-device reset drops every entry not
 * yet done (copy_head := copy_tail as it is then, nothing written for
 * them); a hung device (hang all) copies nothing.
 */

#define HMPCI_VENDOR_ID		0x1af4
#define HMPCI_DEVICE_ID		0x1110
#define HMPCI_MAGIC		0x3176494350484d48ULL	/* "HMPCIv1" */
#define HMPCI_VERSION		2

#define HMPCI_BAR_REGS		0	/* ivshmem registers */
#define HMPCI_BAR_SHM		2	/* regs, slots, VRAM */
#define HMPCI_IVSHMEM_DOORBELL	12	/* offset in BAR0 */

#define HMPCI_SLOTS_OFFSET	0x1000
#define HMPCI_MAX_SLOTS		64
#define HMPCI_BUDGET		64	/* page steps per slot per turn */

/* regs.control (H) */
#define HMPCI_CTL_ENABLE	_BITUL(0)	/* run slots */
#define HMPCI_CTL_BUS_MASTER	_BITUL(1)	/* DMA allowed */

/* regs.status (D) */
#define HMPCI_STS_READY		_BITUL(0)

/**
 * struct hmpci_regs - device-wide registers at BAR2 offset 0
 * @magic: (D) HMPCI_MAGIC
 * @version: (D) HMPCI_VERSION
 * @nr_slots: (D) slots at HMPCI_SLOTS_OFFSET, at most HMPCI_MAX_SLOTS
 * @vram_offset: (D) where VRAM starts in BAR2, 2 MiB aligned
 * @vram_size: (D) VRAM bytes, a multiple of 2 MiB (may be 0)
 * @doorbell_peer: (D) ivshmem peer id the driver's doorbell must name
 * @status: (D) HMPCI_STS_*
 * @control: (H) HMPCI_CTL_*
 * @reset_req: (H) whole-device reset request
 * @reset_ack: (D) last whole-device reset done
 * @devpriv_base: (H) physical address PTEs use for VRAM offset 0
 * @irqs: (D) interrupts raised
 * @irqs_dropped: (D) interrupts not raised (fault injection)
 * @steps: (D) page steps run
 * @tlb_hits: (D) translations found in the TLB
 * @walks: (D) page-table walks
 * @dma_errors: (D) accesses refused (bus master off, address outside RAM)
 * @copy_ring: (H) physical address of the copy engine's hmpci_copy ring
 * @copy_ring_size: (H) entries in @copy_ring, a power of two; 0: none
 * @copy_tail: (H) index (free-running) of the next entry the driver fills
 * @copy_head: (D) index (free-running) of the next entry the device runs
 * @pad1: reserved
 * @copies: (D) copy entries carried out (whatever their status)
 * @copy_bytes: (D) bytes copied by them
 */
struct hmpci_regs {
	__u64 magic;
	__u32 version;
	__u32 nr_slots;
	__u64 vram_offset;
	__u64 vram_size;
	__u32 doorbell_peer;
	__u32 status;
	__u32 control;
	__u32 reset_req;
	__u32 reset_ack;
	__u32 pad0;
	__u64 devpriv_base;
	__u64 irqs;
	__u64 irqs_dropped;
	__u64 steps;
	__u64 tlb_hits;
	__u64 walks;
	__u64 dma_errors;
	__u64 copy_ring;
	__u32 copy_ring_size;
	__u32 copy_tail;
	__u32 copy_head;
	__u32 pad1;
	__u64 copies;
	__u64 copy_bytes;
};

/* hmpci_copy.flags */
#define HMPCI_COPY_ZERO		_BITUL(0)	/* (H) fill dst with zeroes */
#define HMPCI_COPY_DONE		_BITUL(31)	/* (D) carried out, status valid */
#define HMPCI_COPY_MAX		(2U << 20)	/* bytes per entry */
#define HMPCI_COPY_BUDGET	(4U << 20)	/* bytes per turn */

/**
 * struct hmpci_copy - a copy-engine ring entry, 32 bytes
 * @src: (H) physical address of the source (VRAM in the devpriv window)
 * @dst: (H) physical address of the destination
 * @len: (H) bytes, a multiple of 4 KiB, at most HMPCI_COPY_MAX
 * @flags: (H) HMPCI_COPY_ZERO; (D) HMPCI_COPY_DONE
 * @status: (D) 0, -EINVAL (bad len or alignment) or -EIO (refused DMA)
 * @pad: reserved
 */
struct hmpci_copy {
	__u64 src;
	__u64 dst;
	__u32 len;
	__u32 flags;
	__s32 status;
	__u32 pad;
};

/* slot.preempt (H) */
#define HMPCI_PREEMPT_NONE	0
#define HMPCI_PREEMPT_PAGE	1

/* slot.fault_flags (D) */
#define HMPCI_FAULT_WRITE	_BITUL(0)
#define HMPCI_FAULT_EXCL	_BITUL(1)
#define HMPCI_FAULT_MIGRATE	_BITUL(2)	/* a MIGRATE command, no fault */

/**
 * struct hmpci_slot - one context's registers, 512 bytes each
 * @enable: (H) 1: the slot runs its ring; 0: idle, ring ignored
 * @preempt: (H) HMPCI_PREEMPT_*
 * @pt_root: (H) physical address of the L4 table, 0: none (every
 *	     translation fails)
 * @ring: (H) physical address of the hmpci_job ring
 * @ring_size: (H) entries in @ring, a power of two
 * @ring_tail: (H) index (free-running) of the next entry the driver fills
 * @ring_head: (D) index (free-running) of the next entry the device runs
 * @pad2: reserved
 * @done_fence: (D) fence of the last job ended (done or failed)
 * @inval_start: (H) first byte of the range to invalidate
 * @inval_end: (H) one past its last byte
 * @inval_req: (H) invalidation request
 * @inval_ack: (D) last invalidation carried out
 * @reset_req: (H) slot reset request
 * @reset_ack: (D) last slot reset carried out
 * @resume_req: (H) resume the parked job
 * @resume_ack: (D) last resume taken
 * @resume_status: (H) 0, or a negative errno to fail the parked job with
 * @pad0: reserved
 * @resume_value: (H) MIGRATE: the value the command writes to its dst
 * @fault_seq: (D) bumped every time a job parks
 * @fault_flags: (D) HMPCI_FAULT_*
 * @fault_addr: (D) the virtual address the parked job needs
 * @fault_fence: (D) fence of the parked job
 * @fault_cmd: (D) index of the command it parked in
 * @pad1: reserved
 * @tlb_fills: (D) translations loaded into the TLB for this slot
 * @steps: (D) page steps run for this slot
 * @cancel_fence: (H) jobs up to this fence are cancelled (see DOC)
 * @reserved: up to 512 bytes
 */
struct hmpci_slot {
	__u32 enable;
	__u32 preempt;
	__u64 pt_root;
	__u64 ring;
	__u32 ring_size;
	__u32 ring_tail;
	__u32 ring_head;
	__u32 pad2;
	__u64 done_fence;
	__u64 inval_start;
	__u64 inval_end;
	__u32 inval_req;
	__u32 inval_ack;
	__u32 reset_req;
	__u32 reset_ack;
	__u32 resume_req;
	__u32 resume_ack;
	__s32 resume_status;
	__u32 pad0;
	__u64 resume_value;
	__u32 fault_seq;
	__u32 fault_flags;
	__u64 fault_addr;
	__u64 fault_fence;
	__u32 fault_cmd;
	__u32 pad1;
	__u64 tlb_fills;
	__u64 steps;
	__u64 cancel_fence;
	__u8 reserved[512 - 160];
};

/* hmpci_job.flags */
#define HMPCI_JOB_DONE		_BITUL(0)	/* (D) ended, status valid */

/**
 * struct hmpci_job - a ring entry, 32 bytes
 * @fence: (H) the job's fence
 * @cmds: (H) physical address of its commands (struct hmirror_cmd)
 * @nr_cmds: (H) commands at @cmds
 * @cmd_size: (H) stride of @cmds in bytes
 * @status: (D) 0, or the negative errno the job failed with
 * @flags: (D) HMPCI_JOB_*
 */
struct hmpci_job {
	__u64 fence;
	__u64 cmds;
	__u16 nr_cmds;
	__u16 cmd_size;
	__s32 status;
	__u32 flags;
	__u32 pad;
};

/* Directory and leaf entry bits (leaf flags are hmirror's own). */
#define HMPCI_DIR_VALID		_BITULL(0)
#define HMPCI_PTE_VALID		_BITULL(0)
#define HMPCI_PTE_WRITE		_BITULL(1)
#define HMPCI_PTE_EXCL		_BITULL(2)
#define HMPCI_PTE_HUGE		_BITULL(7)
#define HMPCI_ADDR_MASK		0x000ffffffffff000ULL

#ifdef __KERNEL__
#include <linux/build_bug.h>
#else
#include <assert.h>
#endif
static_assert(sizeof(struct hmpci_slot) == 512);
static_assert(sizeof(struct hmpci_job) == 32);
static_assert(sizeof(struct hmpci_copy) == 32);
static_assert(sizeof(struct hmpci_regs) <= HMPCI_SLOTS_OFFSET);

#endif /* _HMIRROR_PCI_HW_H */
