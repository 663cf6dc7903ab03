/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hmirror-model: the device model of the hmirror PCI accelerator, a host
 * process serving QEMU's ivshmem-doorbell. src/kernel/hmirror_pci_hw.h is
 * the data sheet; this header is what the model's parts share.
 *
 *   hmirror-model.c  arguments, shared memory, the ivshmem server, main loop
 *   bus.c            guest RAM and every DMA access (the "bus")
 *   mmu.c            TLB and the four-level page-table walk
 *   engine.c         the engine thread: requests, slots, jobs, interrupts
 *   copy.c           the copy engine's entries (physical copies)
 *   control.c        the control socket and fault injection
 */
#ifndef HMIRROR_MODEL_H
#define HMIRROR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/hmirror.h>
#include "hmirror_pci_hw.h"

#define KiB			1024ULL
#define MiB			(1024 * KiB)
#define GiB			(1024 * MiB)
#define PAGE_SZ			(4 * KiB)
#define HUGE_SZ			(2 * MiB)
#define NSEC_PER_USEC		1000ULL
#define NSEC_PER_MSEC		1000000ULL

/* The pc machine puts guest RAM above lowmem at this address. */
#define HIGHMEM_BASE		(4 * GiB)
/* Regs and slots live below this in BAR2; VRAM starts here. */
#define VRAM_OFFSET		(2 * MiB)

#define TLB_ENTRIES		64
#define MAX_VECTORS		64
/* NUMA nodes' memory backends, end to end in guest RAM (one per node). */
#define MAX_RAM_FILES		8
#define MAX_CONTROL_CLIENTS	8

/* The guest CPU writes these fields concurrently: always through these. */
#define LOAD_ACQ(p)		__atomic_load_n(p, __ATOMIC_ACQUIRE)
#define LOAD_RLX(p)		__atomic_load_n(p, __ATOMIC_RELAXED)
#define STORE_REL(p, v)		__atomic_store_n(p, v, __ATOMIC_RELEASE)
#define STORE_RLX(p, v)		__atomic_store_n(p, v, __ATOMIC_RELAXED)
#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))

/* A counter the engine alone writes, which others read. */
#define COUNT(p)		STORE_RLX(p, LOAD_RLX(p) + 1)

/* What a bus access is for: fail-dma hits only data accesses. */
enum bus_use {
	BUS_CTRL,	/* ring entries, commands, directory walks, completions */
	BUS_DATA,	/* a command's operands, a copy entry's pages */
};

/* Outcome of a translation (mmu.c). */
enum xlate {
	XLATE_OK,
	XLATE_FAULT,	/* no valid PTE, or not with the access needed */
	XLATE_DMA,	/* the walk's own DMA was refused */
};

/* A translated operand: guest RAM or VRAM, and where. */
struct devaddr {
	bool vram;
	uint64_t addr;	/* guest physical address, or VRAM offset */
};

struct tlb_entry {
	bool valid;
	uint8_t shift;		/* 12, or 21 for a huge leaf */
	uint16_t slot;
	uint64_t va;		/* first byte, aligned to 1 << shift */
	uint64_t pte;		/* the leaf as read, huge address masked */
};

/*
 * Fault injection (control.c sets, the engine reads): every field is
 * accessed with __atomic builtins, the two threads share nothing else.
 */
struct inject {
	bool hang_all;
	bool tlb_ignore;		/* acks invalidations, drops nothing */
	uint64_t hang_slots;		/* bit n: slot n is hung */
	uint32_t drop_irq;		/* interrupts still to drop */
	uint32_t fail_dma;		/* data accesses still to fail */
	uint32_t delay_irq_ms;
	uint32_t delay_inval_ms;
	uint32_t slow_reset_ms;
};

/* The model's own counters, beyond those of struct hmpci_regs. */
struct model_stats {
	uint64_t jobs_done;
	uint64_t jobs_failed;
	uint64_t parks;
	uint64_t invals;
	uint64_t slot_resets;
	uint64_t dev_resets;
	uint64_t resumes;
	uint64_t dma_injected;
	uint64_t copies_failed;		/* copy entries not status 0 */
};

enum job_state {
	JOB_NONE,	/* no job fetched */
	JOB_RUN,	/* fetched, running */
	JOB_PARKED,	/* waiting for resume_req */
};

/* The device's private state of one slot: the engine thread's alone. */
struct slot_state {
	enum job_state state;
	bool fetch_stalled;	/* a ring read was refused: wait for a doorbell */
	bool blocked;		/* last step waited for a value or time */
	uint32_t index;		/* ring index of the running job */
	uint64_t entry;		/* guest physical address of its entry */
	struct hmpci_job job;	/* the entry as fetched */
	uint32_t cur;		/* command index */
	bool cmd_loaded;
	struct hmirror_cmd cmd;
	uint64_t done;		/* bytes of cmd done; WAIT/DELAY: started */
	uint64_t until_ns;	/* WAIT timeout, DELAY end */
	uint32_t acc;		/* CRC32C so far */
	bool migrated;		/* MIGRATE: the host moved the pages */
	uint64_t migrate_value;	/* ...and resume_value then */
	bool park_migrate;	/* the park is a MIGRATE, not a fault */
	uint64_t inval_due;	/* delay-inval: when to carry it out, 0: none */
	uint64_t reset_due;	/* slow-reset: likewise */
	/* Published for the control socket's "slot" command. */
	int32_t last_status;
	uint64_t last_fence;
};

struct model {
	/* Configuration. */
	const char *socket_path;
	const char *control_path;
	const char *ram_path[MAX_RAM_FILES];
	unsigned int nr_ram;
	uint64_t ram_size;
	uint64_t lowmem;
	uint64_t vram_size;
	uint32_t nr_slots;
	uint32_t vectors;

	/* BAR2: regs, slots, VRAM. */
	int shm_fd;
	size_t shm_size;
	uint8_t *shm;
	struct hmpci_regs *regs;
	struct hmpci_slot *slots;
	uint8_t *vram;

	/* Guest RAM, the memory-backend-file QEMU shares. */
	uint8_t *ram;

	/* ivshmem: doorbells QEMU writes, interrupts QEMU reads. */
	int doorbell_fd[MAX_VECTORS];
	int irq_fd[MAX_VECTORS];
	int wake_fd;		/* control thread -> engine: look again */

	/* Engine state. */
	struct slot_state st[HMPCI_MAX_SLOTS];
	struct tlb_entry tlb[TLB_ENTRIES];
	unsigned int tlb_next;	/* round-robin victim */
	unsigned int rr;	/* next slot to run */
	uint32_t crc_table[256];	/* CRC32C, reflected 0x82f63b78 */
	bool irq_pending;
	uint64_t irq_due;	/* delay-irq: when to raise it, 0: none */
	uint64_t dev_reset_due;
	bool copy_stalled;	/* a copy entry's fetch was refused: wait */
	bool stop;		/* __atomic: the engine thread must return */

	struct inject inj;
	struct model_stats stats;
};

/* hmirror-model.c */
uint64_t now_ns(void);

/* bus.c */
int bus_map_ram(struct model *m);
void *bus_access(struct model *m, const struct devaddr *da, uint64_t len,
		 enum bus_use use);
bool bus_read(struct model *m, uint64_t gpa, void *buf, uint64_t len);
bool bus_read_u64(struct model *m, uint64_t gpa, uint64_t *val);
bool bus_master(struct model *m);

/* mmu.c */
void phys_addr(const struct model *m, uint64_t pa, struct devaddr *da);
int mmu_translate(struct model *m, unsigned int slot, uint64_t va,
		  bool write, bool excl, struct devaddr *da);
void tlb_inval(struct model *m, unsigned int slot, uint64_t start,
	       uint64_t end);
void tlb_flush_slot(struct model *m, unsigned int slot);

/* engine.c */
void engine_init(struct model *m);
void *engine_thread(void *arg);
void engine_wake(struct model *m);

/* copy.c */
uint64_t copy_entry(struct model *m, uint64_t budget);

/* control.c */
int control_command(struct model *m, char *line, char *reply, size_t size);
bool inject_take(uint32_t *counter);
bool slot_hung(struct model *m, unsigned int slot);

#endif /* HMIRROR_MODEL_H */
