/* SPDX-License-Identifier: GPL-2.0 */
/*
 * test-guest: what test-model.c's tests stand on. It plays QEMU (the
 * ivshmem handshake, the doorbell and interrupt eventfds) and the guest
 * (guest physical memory in the RAM file, page tables, rings, commands),
 * and talks to the model's control socket.
 */
#ifndef HMIRROR_TEST_GUEST_H
#define HMIRROR_TEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "model.h"

#define RAM_SIZE	(64 * MiB)
#define LOWMEM		(32 * MiB)
#define VRAM_MB		8
#define NSLOTS		8
#define NVEC		2
#define RING		16	/* entries: small, so that tests wrap it */
#define DEVPRIV		0x100000000000ULL	/* PTE address of VRAM 0 */
#define WAIT_MS		2000	/* bound of a wait that must succeed */
#define QUIET_MS	50	/* how long "nothing happens" is watched */
#define LATE_MS		60	/* the delays injected */
#define TEST_ALARM_S	50	/* the whole run, at the very most */
#define V		HMPCI_PTE_VALID
#define W		HMPCI_PTE_WRITE
#define X		HMPCI_PTE_EXCL
#define JOB_TIMEOUT	1	/* wait_job(), wait_copy(): not done in time */
#define VA0		0x40000000ULL	/* where test buffers go */

/* The handshake as received: value, and whether a descriptor came. */
struct hs_msg {
	int64_t val;
	int fd;
};

struct guest {
	const char *model_bin;
	char dir[64], sock[96], ctl[96], ram_path[96], ram1_path[96];
	uint64_t ram_split;	/* two RAM files: where the second starts; 0: one */
	pid_t pid;
	int sock_fd, ctl_fd;
	struct hs_msg hs[3 + 2 * NVEC];
	int shm_fd;
	uint8_t *shm;
	size_t shm_size;
	struct hmpci_regs *regs;
	struct hmpci_slot *slots;
	uint8_t *vram;
	uint8_t *ram;
	uint64_t low_next, high_next;	/* bump allocators, GPAs */
	uint64_t fence;
	uint64_t irqs;			/* interrupts seen */
	char why[256];
};

/* A context: one slot with its page table and ring. */
struct ctx {
	unsigned int slot;
	bool high;	/* its pages above 4 GiB */
	uint64_t root, ring;
	uint32_t tail;
};

/* The copy engine's ring, as the driver keeps it. */
struct cring {
	uint64_t gpa;
	uint32_t size;
	uint32_t tail;
};

#define CHECK(g, cond, ...)						\
	do {								\
		if (!(cond))						\
			return fail(g, __VA_ARGS__);			\
	} while (0)
#define TRY(x)								\
	do {								\
		if (x)							\
			return -1;					\
	} while (0)

/* Wait (1 ms at a time, or for an interrupt) until @cond or @ms pass. */
#define WAIT_FOR(g, cond, ms)						\
	do {								\
		uint64_t t0_ = now_ns();				\
		while (!(cond) && ms_since(t0_) < (ms))			\
			wait_irq(g, 1);					\
	} while (0)

#define CMD(...)	((struct hmirror_cmd){ __VA_ARGS__ })
#define COPY(d, s, l)	CMD(.op = HMIRROR_OP_COPY, .dst = (d), .src = (s), .len = (l))
#define FILL(d, l, v)	CMD(.op = HMIRROR_OP_FILL, .dst = (d), .len = (l), .value = (v))
#define ONE(c)		(&(struct hmirror_cmd[]){ c }[0]), 1

enum slot_req { REQ_RESET, REQ_INVAL, REQ_RESUME };

int fail(struct guest *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t ms_since(uint64_t t0);
int unix_connect(const char *path);
pid_t spawn(struct guest *g, const char *const *argv, int err_fd);
int wait_exit(pid_t pid);
void guest_paths(struct guest *g, const char *prefix);
int start_model(struct guest *g);
int stop_model(struct guest *g);
void doorbell(struct guest *g, unsigned int v);
uint64_t wait_irq(struct guest *g, int ms);
int control(struct guest *g, const char *cmd, char *reply, size_t size);
int inject(struct guest *g, const char *cmd);
int64_t model_stat(struct guest *g, const char *cmd, const char *key);
bool slot_state_is(struct guest *g, unsigned int slot, const char *s);
uint8_t *gpa_host(struct guest *g, uint64_t gpa);
uint64_t alloc_gpa(struct guest *g, bool high, uint64_t size,
		   uint64_t align);
uint64_t alloc_page(struct guest *g, bool high);
uint64_t *pt_entry(struct guest *g, struct ctx *c, uint64_t va,
		   int level);
void map_page(struct guest *g, struct ctx *c, uint64_t va,
	      uint64_t pa, uint64_t flags);
uint8_t *map_buf(struct guest *g, struct ctx *c, uint64_t va,
		 uint64_t len, uint64_t flags);
struct hmpci_slot *hslot(struct guest *g, struct ctx *c);
int request(struct guest *g, uint32_t *req, uint32_t *ack,
	    const char *what);
int slot_request(struct guest *g, struct ctx *c, enum slot_req kind,
		 uint64_t a, uint64_t b);
int ctx_new(struct guest *g, struct ctx *c, unsigned int slot,
	    uint32_t preempt, bool high);
struct hmpci_job *entry(struct guest *g, struct ctx *c, uint32_t idx);
uint32_t submit_job(struct guest *g, struct ctx *c,
		    const struct hmirror_cmd *cmds, unsigned int n,
		    unsigned int vector, uint16_t stride);
uint32_t submit(struct guest *g, struct ctx *c,
		const struct hmirror_cmd *cmds, unsigned int n);
bool job_done(struct guest *g, struct ctx *c, uint32_t idx);
int wait_job(struct guest *g, struct ctx *c, uint32_t idx);
int run_ok(struct guest *g, struct ctx *c,
	   const struct hmirror_cmd *cmds, unsigned int n);
int run_expect(struct guest *g, struct ctx *c,
	       const struct hmirror_cmd *cmds, unsigned int n, int want);
bool all_bytes(const uint8_t *p, uint64_t len, uint8_t v);
void pattern(uint8_t *p, uint64_t len, unsigned int seed);
int wait_park(struct guest *g, struct ctx *c, uint32_t seq0,
	      uint32_t flags, uint64_t addr);
int cring_new(struct guest *g, struct cring *r, uint32_t size, bool high);
struct hmpci_copy *cring_entry(struct guest *g, struct cring *r,
			       uint32_t idx);
uint32_t copy_put(struct guest *g, struct cring *r, uint64_t dst,
		  uint64_t src, uint32_t len, uint32_t flags);
bool copy_passed(struct guest *g, uint32_t idx);
bool copy_done(struct guest *g, struct cring *r, uint32_t idx);
int wait_copy(struct guest *g, struct cring *r, uint32_t idx);
int copy_run(struct guest *g, struct cring *r, uint64_t dst, uint64_t src,
	     uint32_t len, uint32_t flags);

#endif /* HMIRROR_TEST_GUEST_H */
