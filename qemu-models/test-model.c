// SPDX-License-Identifier: GPL-2.0
/*
 * test-model: hmirror-model against its data sheet, without QEMU. This
 * program plays QEMU (it connects to the model's socket and takes the
 * shared memory and eventfds of the ivshmem handshake) and the guest (it
 * builds page tables, rings and commands inside the guest RAM file, at
 * guest physical addresses it picks below lowmem and above 4 GiB, rings
 * the doorbell and waits for interrupts).
 *
 *   test-model [PATH-OF-hmirror-model]
 *
 * The model is looked for beside this program by default; test-guest.c
 * is the harness the tests stand on. One line a test, "PASS name" or
 * "FAIL name: why", then "N passed, M failed". Exit status 0 only if
 * every test passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-guest.h"

/* ---- the reference CRC: bit by bit, nothing shared with the model ------- */

static uint32_t ref_crc32c(uint32_t crc, const uint8_t *p, size_t len)
{
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
	}
	return crc;
}

/* ---- tests ------------------------------------------------------------------ */

static int t_handshake(struct guest *g)
{
	static const int64_t want[] = { 0, 0, -1, 1, 1, 0, 0 };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(want); i++) {
		CHECK(g, g->hs[i].val == want[i], "message %u is %lld, expected %lld",
		      i, (long long)g->hs[i].val, (long long)want[i]);
		CHECK(g, (g->hs[i].fd >= 0) == (i >= 2),
		      "message %u: fd %s", i, i >= 2 ? "missing" : "unexpected");
	}
	CHECK(g, !(g->shm_size & (g->shm_size - 1)), "BAR2 size %zu: no power of two",
	      g->shm_size);
	CHECK(g, g->shm_size >= 2 * MiB + VRAM_MB * MiB, "BAR2 size %zu", g->shm_size);
	return 0;
}

static int t_regs(struct guest *g)
{
	struct hmpci_regs *r = g->regs;

	CHECK(g, r->magic == HMPCI_MAGIC, "magic %#llx", (unsigned long long)r->magic);
	CHECK(g, r->version == HMPCI_VERSION, "version %u", r->version);
	CHECK(g, r->nr_slots == NSLOTS, "nr_slots %u", r->nr_slots);
	CHECK(g, r->vram_offset == 2 * MiB, "vram_offset %#llx",
	      (unsigned long long)r->vram_offset);
	CHECK(g, r->vram_size == VRAM_MB * MiB, "vram_size %#llx",
	      (unsigned long long)r->vram_size);
	CHECK(g, r->doorbell_peer == 1, "doorbell_peer %u", r->doorbell_peer);
	CHECK(g, LOAD_ACQ(&r->status) & HMPCI_STS_READY, "not READY");
	return 0;
}

/* COPY of unaligned, page-crossing buffers; @src_high/@dst_high: halves. */
static int copy_between(struct guest *g, bool src_high, bool dst_high,
			unsigned int vector)
{
	const uint64_t len = 3 * PAGE_SZ + 123;
	struct ctx c;
	uint8_t *s, *d;

	TRY(ctx_new(g, &c, 0, HMPCI_PREEMPT_NONE, dst_high));
	c.high = src_high;
	s = map_buf(g, &c, VA0, 4 * PAGE_SZ, V);
	c.high = dst_high;
	d = map_buf(g, &c, VA0 + 16 * PAGE_SZ, 5 * PAGE_SZ, V | W);
	pattern(s, 4 * PAGE_SZ, 7);
	TRY(run_ok(g, &c, ONE(COPY(VA0 + 16 * PAGE_SZ + 2000, VA0 + 77, len))));
	CHECK(g, !memcmp(d + 2000, s + 77, len), "copied bytes differ");
	CHECK(g, all_bytes(d, 2000, 0) && all_bytes(d + 2000 + len, 100, 0),
	      "COPY wrote outside its range");
	/* And once more, woken through the other doorbell vector. */
	memset(d, 0, 5 * PAGE_SZ);
	CHECK(g, wait_job(g, &c, submit_job(g, &c, ONE(COPY(VA0 + 16 * PAGE_SZ,
							   VA0, PAGE_SZ)),
					   vector, sizeof(struct hmirror_cmd))) == 0,
	      "COPY through doorbell vector %u failed", vector);
	CHECK(g, !memcmp(d, s, PAGE_SZ), "copied bytes differ (vector %u)",
	      vector);
	return 0;
}

static int t_copy_low(struct guest *g)
{
	return copy_between(g, false, false, 0);
}

static int t_copy_high(struct guest *g)
{
	return copy_between(g, true, true, 1);
}

static int t_copy_across(struct guest *g)
{
	TRY(copy_between(g, false, true, 0));
	return copy_between(g, true, false, 1);
}

static int t_fill(struct guest *g)
{
	struct ctx c;
	uint8_t *d;

	TRY(ctx_new(g, &c, 1, HMPCI_PREEMPT_NONE, true));
	d = map_buf(g, &c, VA0, 3 * PAGE_SZ, V | W);
	TRY(run_ok(g, &c, ONE(FILL(VA0 + 10, 2 * PAGE_SZ + 5, 0x1a5))));
	CHECK(g, all_bytes(d + 10, 2 * PAGE_SZ + 5, 0xa5), "fill bytes wrong");
	CHECK(g, all_bytes(d, 10, 0) && d[2 * PAGE_SZ + 15] == 0,
	      "FILL wrote outside its range");
	return 0;
}

static int t_crc32c(struct guest *g)
{
	/*
	 * The CRC-32C check value of "123456789" is 0xe3069283 (with ~0 in
	 * and out); the kernel's crc32c() does neither inversion.
	 */
	static const char check[] = "123456789";
	const uint64_t len = 2 * PAGE_SZ + 999;
	struct ctx c;
	uint8_t *s, *r;
	uint32_t *res;

	TRY(ctx_new(g, &c, 2, HMPCI_PREEMPT_NONE, false));
	s = map_buf(g, &c, VA0, 4 * PAGE_SZ, V);
	r = map_buf(g, &c, VA0 + 64 * PAGE_SZ, PAGE_SZ, V | W);
	res = (uint32_t *)(r + 4);
	memcpy(s + PAGE_SZ - 4, check, 9);	/* across a page boundary */
	TRY(run_ok(g, &c, ONE(CMD(.op = HMIRROR_OP_CRC32C, .dst = VA0 + 64 * PAGE_SZ + 4,
				  .src = VA0 + PAGE_SZ - 4, .len = 9,
				  .value = 0xffffffff))));
	CHECK(g, *res == (0xe3069283 ^ 0xffffffff),
	      "crc32c(~0, \"123456789\") = %#x, expected %#x", *res,
	      0xe3069283 ^ 0xffffffff);
	pattern(s, 4 * PAGE_SZ, 3);
	TRY(run_ok(g, &c, ONE(CMD(.op = HMIRROR_OP_CRC32C, .dst = VA0 + 64 * PAGE_SZ + 4,
				  .src = VA0 + 100, .len = len, .value = 0x1234))));
	CHECK(g, *res == ref_crc32c(0x1234, s + 100, len),
	      "crc32c of 3 pages %#x, expected %#x", *res,
	      ref_crc32c(0x1234, s + 100, len));
	return 0;
}

#define ADD_JOBS	RING
#define ADD_CMDS	255

static int t_atomic_add(struct guest *g)
{
	struct hmirror_cmd cmds[1 + ADD_CMDS];
	const uint64_t want_dev = ADD_JOBS * ADD_CMDS * 3;
	uint64_t *p, cpu = 0;
	uint32_t idx[ADD_JOBS];
	unsigned int i;
	struct ctx c;

	TRY(ctx_new(g, &c, 3, HMPCI_PREEMPT_NONE, true));
	p = (uint64_t *)map_buf(g, &c, VA0, PAGE_SZ, V | W);
	p[1] = 1000;
	/* Every job waits at a gate, so that the CPU is adding when it runs. */
	cmds[0] = CMD(.op = HMIRROR_OP_WAIT_VALUE, .src = VA0, .value = 1);
	for (i = 1; i <= ADD_CMDS; i++)
		cmds[i] = CMD(.op = HMIRROR_OP_ATOMIC_ADD, .dst = VA0 + 8, .value = 3);
	for (i = 0; i < ADD_JOBS; i++)
		idx[i] = submit(g, &c, cmds, 1 + ADD_CMDS);
	/* The CPU adds to the same word meanwhile: no update may be lost. */
	for (i = 0; i < ADD_JOBS; i++) {
		while (!job_done(g, &c, idx[i]) && cpu < 100000000) {
			__atomic_fetch_add(&p[1], 1, __ATOMIC_SEQ_CST);
			if (++cpu == 1000)
				STORE_REL(&p[0], 1);
		}
		CHECK(g, wait_job(g, &c, idx[i]) == 0, "job %u failed", i);
	}
	CHECK(g, p[1] == 1000 + want_dev + cpu, "sum %llu, expected %llu",
	      (unsigned long long)p[1],
	      (unsigned long long)(1000 + want_dev + cpu));
	return 0;
}

/* EXCLUSIVE commands: only on EXCL pages or VRAM. */
static int t_exclusive(struct guest *g)
{
	struct ctx c;
	uint64_t *p;

	TRY(ctx_new(g, &c, 4, HMPCI_PREEMPT_NONE, false));
	p = (uint64_t *)map_buf(g, &c, VA0, PAGE_SZ, V | W);
	*p = 5;
	TRY(run_expect(g, &c, ONE(CMD(.op = HMIRROR_OP_ATOMIC_ADD,
				      .flags = HMIRROR_CMD_F_EXCLUSIVE,
				      .dst = VA0, .value = 1)), -EFAULT));
	TRY(run_expect(g, &c, ONE(CMD(.op = HMIRROR_OP_WRITE_VALUE,
				      .flags = HMIRROR_CMD_F_EXCLUSIVE,
				      .dst = VA0, .value = 1)), -EFAULT));
	CHECK(g, *p == 5, "a refused exclusive command wrote");
	/* A leaf without EXCL may be cached now: adding EXCL needs no inval. */
	*pt_entry(g, &c, VA0, 1) |= X;
	TRY(run_ok(g, &c, ONE(CMD(.op = HMIRROR_OP_ATOMIC_ADD,
				  .flags = HMIRROR_CMD_F_EXCLUSIVE,
				  .dst = VA0, .value = 2))));
	CHECK(g, *p == 7, "exclusive add: %llu", (unsigned long long)*p);
	TRY(run_ok(g, &c, ONE(CMD(.op = HMIRROR_OP_WRITE_VALUE,
				  .flags = HMIRROR_CMD_F_EXCLUSIVE,
				  .dst = VA0, .value = 42))));
	CHECK(g, *p == 42, "exclusive write: %llu", (unsigned long long)*p);
	return 0;
}

static int t_write_value(struct guest *g)
{
	struct hmirror_cmd cmds[2];
	struct ctx c;
	uint8_t *d;

	TRY(ctx_new(g, &c, 5, HMPCI_PREEMPT_NONE, true));
	d = map_buf(g, &c, VA0, 2 * PAGE_SZ, V | W);
	cmds[0] = FILL(VA0, PAGE_SZ, 0x77);
	cmds[1] = CMD(.op = HMIRROR_OP_WRITE_VALUE, .dst = VA0 + PAGE_SZ + 16,
		      .value = 0x1122334455667788ULL);
	TRY(run_ok(g, &c, cmds, 2));
	CHECK(g, *(uint64_t *)(d + PAGE_SZ + 16) == 0x1122334455667788ULL,
	      "value not written");
	CHECK(g, all_bytes(d, PAGE_SZ, 0x77), "fill before it missing");
	TRY(run_expect(g, &c, ONE(CMD(.op = HMIRROR_OP_WRITE_VALUE, .dst = VA0 + 4,
				      .value = 1)), -EINVAL));
	return 0;
}

static int t_wait_value(struct guest *g)
{
	struct hmirror_cmd cmds[2];
	uint64_t *flag, *out;
	struct ctx c;
	uint32_t idx;

	TRY(ctx_new(g, &c, 6, HMPCI_PREEMPT_NONE, false));
	flag = (uint64_t *)map_buf(g, &c, VA0, PAGE_SZ, V);
	out = (uint64_t *)map_buf(g, &c, VA0 + PAGE_SZ, PAGE_SZ, V | W);
	cmds[0] = CMD(.op = HMIRROR_OP_WAIT_VALUE, .src = VA0, .value = 5);
	cmds[1] = CMD(.op = HMIRROR_OP_WRITE_VALUE, .dst = VA0 + PAGE_SZ, .value = 1);
	idx = submit(g, &c, cmds, 2);
	WAIT_FOR(g, false, QUIET_MS);
	CHECK(g, !job_done(g, &c, idx) && !*out, "did not wait");
	STORE_REL(flag, 4);
	WAIT_FOR(g, false, 5);
	CHECK(g, !job_done(g, &c, idx), "released by the wrong value");
	STORE_REL(flag, 5);
	CHECK(g, wait_job(g, &c, idx) == 0, "not released");
	CHECK(g, *out == 1, "command after the wait did not run");
	return 0;
}

static int t_wait_timeout(struct guest *g)
{
	uint64_t t0, el;
	struct ctx c;

	TRY(ctx_new(g, &c, 7, HMPCI_PREEMPT_NONE, true));
	map_buf(g, &c, VA0, PAGE_SZ, V);
	t0 = now_ns();
	TRY(run_expect(g, &c, ONE(CMD(.op = HMIRROR_OP_WAIT_VALUE, .src = VA0,
				      .value = 1, .aux = 30000)), -ETIME));
	el = ms_since(t0);
	CHECK(g, el >= 30 && el < 1000, "timed out after %llu ms, expected 30",
	      (unsigned long long)el);
	return 0;
}

/* DELAY takes its time, and other slots run meanwhile. */
static int t_delay(struct guest *g)
{
	struct ctx a, b;
	uint32_t ia;
	uint64_t t0;

	TRY(ctx_new(g, &a, 0, HMPCI_PREEMPT_NONE, false));
	TRY(ctx_new(g, &b, 1, HMPCI_PREEMPT_NONE, false));
	map_buf(g, &b, VA0, PAGE_SZ, V | W);
	t0 = now_ns();
	ia = submit(g, &a, ONE(CMD(.op = HMIRROR_OP_DELAY, .aux = 80000)));
	TRY(run_ok(g, &b, ONE(FILL(VA0, PAGE_SZ, 1))));
	CHECK(g, !job_done(g, &a, ia), "DELAY ended before another slot's job");
	CHECK(g, wait_job(g, &a, ia) == 0, "DELAY failed");
	CHECK(g, ms_since(t0) >= 80, "DELAY of 80 ms took %llu ms",
	      (unsigned long long)ms_since(t0));
	return 0;
}

static int t_mirror_and_order(struct guest *g)
{
	uint32_t idx[RING + 4];
	unsigned int i;
	struct ctx c;
	uint8_t *d;

	TRY(ctx_new(g, &c, 2, HMPCI_PREEMPT_NONE, true));
	d = map_buf(g, &c, VA0, PAGE_SZ, V | W);
	TRY(run_ok(g, &c, ONE(CMD(.op = HMIRROR_OP_MIRROR, .src = VA0,
				  .len = PAGE_SZ, .value = 1))));
	TRY(run_ok(g, &c, &CMD(.op = 0), 0));	/* no command at all */
	/* More jobs than the ring holds, in order: the ring wraps. */
	for (i = 0; i < RING + 4; i++) {
		if (i >= RING)
			CHECK(g, wait_job(g, &c, idx[i - RING]) == 0, "job %u", i);
		idx[i] = submit(g, &c, ONE(FILL(VA0 + i, 1, i + 1)));
	}
	CHECK(g, wait_job(g, &c, idx[RING + 3]) == 0, "last job failed");
	for (i = 0; i < RING + 4; i++)
		CHECK(g, d[i] == i + 1, "job %u did not run", i);
	CHECK(g, hslot(g, &c)->done_fence == g->fence, "done_fence %llu, expected %llu",
	      (unsigned long long)hslot(g, &c)->done_fence,
	      (unsigned long long)g->fence);
	CHECK(g, hslot(g, &c)->ring_head == c.tail, "ring_head %u, tail %u",
	      hslot(g, &c)->ring_head, c.tail);
	return 0;
}

/* The stride of commands is the entry's; fields past it read as 0. */
static int t_cmd_stride(struct guest *g)
{
	struct hmirror_cmd cmds[3];
	struct ctx c;
	uint8_t *d;
	int st;

	TRY(ctx_new(g, &c, 3, HMPCI_PREEMPT_NONE, false));
	d = map_buf(g, &c, VA0, PAGE_SZ, V | W);
	cmds[0] = FILL(VA0, 8, 1);
	cmds[1] = FILL(VA0 + 8, 8, 2);
	cmds[2] = FILL(VA0 + 16, 8, 3);
	cmds[2].dst_key = 77;	/* past the V1 size: not read */
	st = wait_job(g, &c, submit_job(g, &c, cmds, 3, 0, 64));
	CHECK(g, st == 0 && d[0] == 1 && d[8] == 2 && d[16] == 3,
	      "64-byte stride: status %d", st);
	st = wait_job(g, &c, submit_job(g, &c, cmds, 3, 0, HMIRROR_CMD_SIZE_V1));
	CHECK(g, st == 0, "V1 stride: status %d", st);
	st = wait_job(g, &c, submit_job(g, &c, cmds, 1, 0, 8));
	CHECK(g, st == -EINVAL, "8-byte stride: status %d, expected -EINVAL", st);
	return run_expect(g, &c, ONE(CMD(.op = 99)), -EINVAL);
}

/* 2 MiB leaves: one TLB entry covers them. */
static int t_huge(struct guest *g)
{
	const uint64_t va = 0x40200000ULL;
	uint64_t huge, fills;
	struct ctx c;
	uint8_t *h, *s;

	TRY(ctx_new(g, &c, 4, HMPCI_PREEMPT_NONE, true));
	huge = alloc_gpa(g, true, HUGE_SZ, HUGE_SZ);
	h = gpa_host(g, huge);
	STORE_REL(pt_entry(g, &c, va, 2), huge | V | W | HMPCI_PTE_HUGE);
	s = map_buf(g, &c, VA0, 3 * PAGE_SZ, V);
	pattern(s, 3 * PAGE_SZ, 9);
	fills = hslot(g, &c)->tlb_fills;
	TRY(run_ok(g, &c, ONE(COPY(va + MiB + 5, VA0, 3 * PAGE_SZ))));
	CHECK(g, !memcmp(h + MiB + 5, s, 3 * PAGE_SZ), "copy into huge page differs");
	CHECK(g, hslot(g, &c)->tlb_fills - fills == 4,
	      "%llu TLB fills for 3 small pages and one huge, expected 4",
	      (unsigned long long)(hslot(g, &c)->tlb_fills - fills));
	TRY(run_ok(g, &c, ONE(FILL(va + HUGE_SZ - 100, 100, 0xee))));
	CHECK(g, all_bytes(h + HUGE_SZ - 100, 100, 0xee), "fill at the huge page's end");
	return 0;
}

/* PTEs naming [devpriv_base, + vram_size) reach VRAM. */
static int t_vram(struct guest *g)
{
	const uint64_t voff = 3 * MiB;
	struct ctx c;
	uint8_t *s;

	STORE_REL(&g->regs->devpriv_base, DEVPRIV);
	TRY(ctx_new(g, &c, 5, HMPCI_PREEMPT_NONE, false));
	map_page(g, &c, VA0 + PAGE_SZ, DEVPRIV + voff, V | W);
	map_page(g, &c, VA0 + 2 * PAGE_SZ, DEVPRIV + voff + PAGE_SZ, V | W);
	s = map_buf(g, &c, VA0 + 8 * PAGE_SZ, PAGE_SZ, V | W);
	pattern(s, PAGE_SZ, 5);
	TRY(run_ok(g, &c, ONE(COPY(VA0 + PAGE_SZ + 8, VA0 + 8 * PAGE_SZ, PAGE_SZ))));
	CHECK(g, !memcmp(g->vram + voff + 8, s, PAGE_SZ), "copy into VRAM differs");
	/* VRAM is exclusive: no EXCL bit needed. */
	*(uint64_t *)(g->vram + voff + 2 * PAGE_SZ - 8) = 40;
	TRY(run_ok(g, &c, ONE(CMD(.op = HMIRROR_OP_ATOMIC_ADD,
				  .flags = HMIRROR_CMD_F_EXCLUSIVE,
				  .dst = VA0 + 3 * PAGE_SZ - 8, .value = 2))));
	CHECK(g, *(uint64_t *)(g->vram + voff + 2 * PAGE_SZ - 8) == 42,
	      "exclusive add in VRAM");
	memset(s, 0, PAGE_SZ);
	TRY(run_ok(g, &c, ONE(COPY(VA0 + 8 * PAGE_SZ, VA0 + PAGE_SZ + 8, PAGE_SZ))));
	CHECK(g, !memcmp(g->vram + voff + 8, s, PAGE_SZ), "copy out of VRAM differs");
	/* Beyond VRAM's end is no memory at all. */
	map_page(g, &c, VA0 + 4 * PAGE_SZ, DEVPRIV + VRAM_MB * MiB, V | W);
	return run_expect(g, &c, ONE(FILL(VA0 + 4 * PAGE_SZ, 8, 1)), -EIO);
}

static int t_readonly_none(struct guest *g)
{
	struct ctx c;
	uint8_t *d;

	TRY(ctx_new(g, &c, 6, HMPCI_PREEMPT_NONE, true));
	d = map_buf(g, &c, VA0, 2 * PAGE_SZ, V);
	d[0] = 0x11;
	TRY(run_expect(g, &c, ONE(FILL(VA0, PAGE_SZ, 0x22)), -EFAULT));
	CHECK(g, d[0] == 0x11 && all_bytes(d + 1, PAGE_SZ - 1, 0),
	      "read-only page written");
	map_page(g, &c, VA0 + 8 * PAGE_SZ, 0, 0);
	return run_expect(g, &c, ONE(COPY(VA0, VA0 + 8 * PAGE_SZ, 8)), -EFAULT);
}

/* PAGE class: a read-only PTE parks the job, the fix and resume finish it. */
static int t_park_resume(struct guest *g)
{
	uint32_t seq, idx;
	uint64_t *pte;
	struct ctx c;
	uint8_t *d;

	TRY(ctx_new(g, &c, 7, HMPCI_PREEMPT_PAGE, false));
	d = map_buf(g, &c, VA0, 2 * PAGE_SZ, V | W);
	pte = pt_entry(g, &c, VA0 + PAGE_SZ, 1);
	*pte &= ~W;
	seq = hslot(g, &c)->fault_seq;
	idx = submit(g, &c, ONE(FILL(VA0 + 8, 2 * PAGE_SZ - 16, 0x5a)));
	TRY(wait_park(g, &c, seq, HMPCI_FAULT_WRITE, VA0 + PAGE_SZ));
	CHECK(g, hslot(g, &c)->fault_cmd == 0, "fault_cmd %u", hslot(g, &c)->fault_cmd);
	CHECK(g, all_bytes(d + 8, PAGE_SZ - 8, 0x5a), "first page not filled");
	CHECK(g, all_bytes(d + PAGE_SZ, PAGE_SZ, 0), "read-only page written");
	WAIT_FOR(g, false, 10);
	CHECK(g, !job_done(g, &c, idx), "parked job ended");
	/* An upgrade of the PTE, then the resume retries the translation. */
	STORE_REL(pte, *pte | W);
	TRY(slot_request(g, &c, REQ_RESUME, (uint64_t)(0), 0));
	CHECK(g, wait_job(g, &c, idx) == 0, "resumed job failed");
	CHECK(g, all_bytes(d + PAGE_SZ, PAGE_SZ - 8, 0x5a), "second page not filled");
	return 0;
}

/* A missing PTE parks a read; a resume with a status fails the job. */
static int t_park_fail(struct guest *g)
{
	uint32_t seq, idx;
	struct ctx c;

	TRY(ctx_new(g, &c, 0, HMPCI_PREEMPT_PAGE, true));
	map_buf(g, &c, VA0, PAGE_SZ, V | W);
	seq = hslot(g, &c)->fault_seq;
	idx = submit(g, &c, ONE(COPY(VA0, VA0 + 5 * PAGE_SZ + 8, 64)));
	TRY(wait_park(g, &c, seq, 0, VA0 + 5 * PAGE_SZ + 8));
	TRY(slot_request(g, &c, REQ_RESUME, (uint64_t)(-EFAULT), 0));
	CHECK(g, wait_job(g, &c, idx) == -EFAULT, "status %d, expected -EFAULT",
	      entry(g, &c, idx)->status);
	/* Exclusive access to a page the CPU maps parks with EXCL. */
	seq = hslot(g, &c)->fault_seq;
	idx = submit(g, &c, ONE(CMD(.op = HMIRROR_OP_ATOMIC_ADD,
				    .flags = HMIRROR_CMD_F_EXCLUSIVE,
				    .dst = VA0 + 16, .value = 1)));
	TRY(wait_park(g, &c, seq, HMPCI_FAULT_WRITE | HMPCI_FAULT_EXCL, VA0 + 16));
	*pt_entry(g, &c, VA0, 1) |= X;
	TRY(slot_request(g, &c, REQ_RESUME, (uint64_t)(0), 0));
	CHECK(g, wait_job(g, &c, idx) == 0, "exclusive add after resume failed");
	return 0;
}

static int t_migrate(struct guest *g)
{
	struct hmirror_cmd cmds[2];
	uint32_t seq, idx;
	uint64_t *out;
	struct ctx c;

	/* NONE class: MIGRATE parks all the same. */
	TRY(ctx_new(g, &c, 1, HMPCI_PREEMPT_NONE, false));
	map_buf(g, &c, VA0, 2 * PAGE_SZ, V | W);
	out = (uint64_t *)map_buf(g, &c, VA0 + 8 * PAGE_SZ, PAGE_SZ, V | W);
	cmds[0] = CMD(.op = HMIRROR_OP_MIGRATE, .dst = VA0 + 8 * PAGE_SZ,
		      .src = VA0, .len = 2 * PAGE_SZ,
		      .value = HMIRROR_MIGRATE_TO_DEVICE);
	cmds[1] = CMD(.op = HMIRROR_OP_WRITE_VALUE, .dst = VA0 + 8 * PAGE_SZ + 8,
		      .value = 9);
	seq = hslot(g, &c)->fault_seq;
	idx = submit(g, &c, cmds, 2);
	TRY(wait_park(g, &c, seq, HMPCI_FAULT_MIGRATE, VA0));
	CHECK(g, !out[0] && !out[1], "ran on before the resume");
	TRY(slot_request(g, &c, REQ_RESUME, (uint64_t)(0), 2));
	CHECK(g, wait_job(g, &c, idx) == 0, "migrate job failed");
	CHECK(g, out[0] == 2 && out[1] == 9, "after resume: %llu %llu",
	      (unsigned long long)out[0], (unsigned long long)out[1]);
	return 0;
}

/*
 * A context on @slot whose TLB holds VA0 -> a page of 'A' (a copy of it
 * to VA0 + 4 pages, *d, ran), while the table now maps VA0 to a page of
 * 'B', not invalidated yet.
 */
static int tlb_remapped(struct guest *g, struct ctx *c, unsigned int slot,
			uint8_t **d)
{
	uint64_t pb;

	TRY(ctx_new(g, c, slot, HMPCI_PREEMPT_PAGE, false));
	memset(map_buf(g, c, VA0, PAGE_SZ, V), 'A', PAGE_SZ);
	*d = map_buf(g, c, VA0 + 4 * PAGE_SZ, PAGE_SZ, V | W);
	pb = alloc_page(g, false);
	memset(gpa_host(g, pb), 'B', PAGE_SZ);
	TRY(run_ok(g, c, ONE(COPY(VA0 + 4 * PAGE_SZ, VA0, PAGE_SZ))));
	CHECK(g, all_bytes(*d, PAGE_SZ, 'A'), "first copy");
	map_page(g, c, VA0, pb, V);
	return 0;
}

/*
 * The device uses a cached translation until an invalidation of it is
 * acked, and the table's new entry after.
 */
static int stale_tlb(struct guest *g, bool late)
{
	struct hmpci_slot *s;
	uint64_t t0;
	struct ctx c;
	uint8_t *d;

	TRY(tlb_remapped(g, &c, 2, &d));
	memset(d, 0, PAGE_SZ);
	TRY(run_ok(g, &c, ONE(COPY(VA0 + 4 * PAGE_SZ, VA0, PAGE_SZ))));
	CHECK(g, all_bytes(d, PAGE_SZ, 'A'), "PTE change seen without invalidation");
	TRY(slot_request(g, &c, REQ_INVAL, VA0 + PAGE_SZ, VA0 + 4 * PAGE_SZ));
	TRY(run_ok(g, &c, ONE(COPY(VA0 + 4 * PAGE_SZ, VA0, PAGE_SZ))));
	CHECK(g, all_bytes(d, PAGE_SZ, 'A'), "an invalidation of other pages dropped it");
	if (late)
		TRY(inject(g, "delay-inval 60"));
	s = hslot(g, &c);
	t0 = now_ns();
	STORE_RLX(&s->inval_start, VA0 + PAGE_SZ - 1);
	STORE_RLX(&s->inval_end, VA0 + PAGE_SZ);
	STORE_REL(&s->inval_req, s->inval_req + 1);
	doorbell(g, 0);
	if (late) {
		/* Requested, not carried out yet: the old page still. */
		TRY(run_ok(g, &c, ONE(COPY(VA0 + 4 * PAGE_SZ, VA0, PAGE_SZ))));
		CHECK(g, all_bytes(d, PAGE_SZ, 'A'), "delayed invalidation early");
	}
	WAIT_FOR(g, LOAD_ACQ(&s->inval_ack) == s->inval_req, WAIT_MS);
	CHECK(g, s->inval_ack == s->inval_req, "invalidation never acked");
	CHECK(g, !late || ms_since(t0) >= LATE_MS, "acked after %llu ms",
	      (unsigned long long)ms_since(t0));
	TRY(run_ok(g, &c, ONE(COPY(VA0 + 4 * PAGE_SZ, VA0, PAGE_SZ))));
	CHECK(g, all_bytes(d, PAGE_SZ, 'B'), "old page used after the ack");
	return 0;
}

static int t_stale_tlb(struct guest *g)
{
	return stale_tlb(g, false);
}

static int t_delay_inval(struct guest *g)
{
	return stale_tlb(g, true);
}

/* tlb-ignore: invalidations are acked, the stale translation stays. */
static int t_tlb_ignore(struct guest *g)
{
	struct ctx c;
	uint8_t *d;

	TRY(tlb_remapped(g, &c, 4, &d));
	TRY(inject(g, "tlb-ignore on"));
	TRY(slot_request(g, &c, REQ_INVAL, VA0, VA0 + PAGE_SZ));
	memset(d, 0, PAGE_SZ);
	TRY(run_ok(g, &c, ONE(COPY(VA0 + 4 * PAGE_SZ, VA0, PAGE_SZ))));
	CHECK(g, all_bytes(d, PAGE_SZ, 'A'), "tlb-ignore dropped the entry");
	TRY(inject(g, "tlb-ignore off"));
	TRY(slot_request(g, &c, REQ_INVAL, VA0, VA0 + PAGE_SZ));
	TRY(run_ok(g, &c, ONE(COPY(VA0 + 4 * PAGE_SZ, VA0, PAGE_SZ))));
	CHECK(g, all_bytes(d, PAGE_SZ, 'B'), "old page used after tlb-ignore off");
	return 0;
}

/*
 * cancel_fence: a parked job ends -ECANCELED at once; a running one before
 * its next step and a queued one when reached, neither writing anything.
 */
static int t_cancel(struct guest *g)
{
	uint32_t seq, i1, i2, i3;
	struct hmpci_slot *s;
	struct ctx c;
	uint8_t *d;

	TRY(ctx_new(g, &c, 5, HMPCI_PREEMPT_PAGE, false));
	s = hslot(g, &c);
	d = map_buf(g, &c, VA0, 2 * PAGE_SZ, V | W);
	seq = s->fault_seq;
	i1 = submit(g, &c, ONE(COPY(VA0, VA0 + 8 * PAGE_SZ, 64)));
	TRY(wait_park(g, &c, seq, 0, VA0 + 8 * PAGE_SZ));
	STORE_REL(&s->cancel_fence, entry(g, &c, i1)->fence);
	doorbell(g, 0);
	CHECK(g, wait_job(g, &c, i1) == -ECANCELED, "parked job: status %d",
	      entry(g, &c, i1)->status);

	i2 = submit(g, &c, ONE(CMD(.op = HMIRROR_OP_WAIT_VALUE, .src = VA0,
				   .value = 1)));
	i3 = submit(g, &c, ONE(FILL(VA0 + PAGE_SZ, PAGE_SZ, 0x77)));
	WAIT_FOR(g, slot_state_is(g, c.slot, "running"), WAIT_MS);
	STORE_REL(&s->cancel_fence, entry(g, &c, i3)->fence);
	doorbell(g, 0);
	CHECK(g, wait_job(g, &c, i2) == -ECANCELED, "running job: status %d",
	      entry(g, &c, i2)->status);
	CHECK(g, wait_job(g, &c, i3) == -ECANCELED, "queued job: status %d",
	      entry(g, &c, i3)->status);
	CHECK(g, all_bytes(d + PAGE_SZ, PAGE_SZ, 0), "cancelled FILL ran");
	/* Later fences run as usual. */
	return run_ok(g, &c, ONE(FILL(VA0 + PAGE_SZ, 8, 1)));
}

static int t_slot_reset(struct guest *g)
{
	struct ctx c;
	uint64_t *flag;
	uint32_t idx;

	TRY(ctx_new(g, &c, 3, HMPCI_PREEMPT_NONE, true));
	flag = (uint64_t *)map_buf(g, &c, VA0, PAGE_SZ, V | W);
	idx = submit(g, &c, ONE(CMD(.op = HMIRROR_OP_WAIT_VALUE, .src = VA0,
				    .value = 1)));
	WAIT_FOR(g, slot_state_is(g, c.slot, "running"), WAIT_MS);
	CHECK(g, slot_state_is(g, c.slot, "running"), "job never started");
	TRY(slot_request(g, &c, REQ_RESET, 0, 0));
	CHECK(g, hslot(g, &c)->ring_head == c.tail, "ring_head %u, tail %u",
	      hslot(g, &c)->ring_head, c.tail);
	CHECK(g, slot_state_is(g, c.slot, "idle"), "job still there");
	STORE_REL(flag, 1);
	WAIT_FOR(g, false, 20);
	CHECK(g, !job_done(g, &c, idx), "dropped job written to");
	return run_ok(g, &c, ONE(FILL(VA0 + 8, 8, 3)));
}

static int t_device_reset(struct guest *g)
{
	struct ctx a, b;
	uint32_t ia, ib;

	TRY(ctx_new(g, &a, 4, HMPCI_PREEMPT_NONE, false));
	TRY(ctx_new(g, &b, 5, HMPCI_PREEMPT_PAGE, false));
	map_buf(g, &a, VA0, PAGE_SZ, V);
	ia = submit(g, &a, ONE(CMD(.op = HMIRROR_OP_WAIT_VALUE, .src = VA0,
				   .value = 1)));
	ib = submit(g, &b, ONE(FILL(VA0, 8, 1)));	/* parks: no PTE */
	WAIT_FOR(g, slot_state_is(g, 5, "parked"), WAIT_MS);
	TRY(request(g, &g->regs->reset_req, &g->regs->reset_ack, "device reset"));
	CHECK(g, hslot(g, &a)->ring_head == a.tail && hslot(g, &b)->ring_head == b.tail,
	      "rings not emptied");
	CHECK(g, slot_state_is(g, 4, "idle") && slot_state_is(g, 5, "idle"),
	      "jobs not dropped");
	CHECK(g, !job_done(g, &a, ia) && !job_done(g, &b, ib), "dropped job written");
	map_buf(g, &b, VA0, PAGE_SZ, V | W);
	return run_ok(g, &b, ONE(FILL(VA0, 8, 1)));
}

/*
 * Bus mastering off: no byte of guest memory changes, the job fails -EIO
 * (which it cannot write: the model's "slot" line says it), a new job is
 * not even fetched.
 */
static int t_bus_master(struct guest *g)
{
	struct hmirror_cmd cmds[3];
	uint64_t dma, *flag, fence;
	struct ctx c;
	uint32_t idx;
	uint8_t *snap;
	bool same;

	TRY(ctx_new(g, &c, 6, HMPCI_PREEMPT_NONE, false));
	flag = (uint64_t *)map_buf(g, &c, VA0, 2 * PAGE_SZ, V | W);
	cmds[0] = CMD(.op = HMIRROR_OP_WRITE_VALUE, .dst = VA0, .value = 1);
	cmds[1] = CMD(.op = HMIRROR_OP_WAIT_VALUE, .src = VA0 + 8, .value = 1);
	cmds[2] = FILL(VA0 + PAGE_SZ, PAGE_SZ, 0xff);
	idx = submit(g, &c, cmds, 3);
	fence = g->fence;
	WAIT_FOR(g, LOAD_ACQ(flag) == 1, WAIT_MS);
	CHECK(g, *flag == 1, "job did not start");
	snap = malloc(RAM_SIZE);
	CHECK(g, snap, "no memory for a snapshot");
	dma = g->regs->dma_errors;
	STORE_REL(&g->regs->control, HMPCI_CTL_ENABLE);
	memcpy(snap, g->ram, RAM_SIZE);
	/* The gate opens (in the snapshot too): the job would go on. */
	STORE_REL(&flag[1], 1);
	((uint64_t *)(snap + ((uint8_t *)flag - g->ram)))[1] = 1;
	doorbell(g, 0);
	WAIT_FOR(g, LOAD_ACQ(&hslot(g, &c)->done_fence) == fence, WAIT_MS);
	same = !memcmp(snap, g->ram, RAM_SIZE);
	free(snap);
	CHECK(g, hslot(g, &c)->done_fence == fence, "job did not end");
	CHECK(g, same, "guest memory changed with bus mastering off");
	CHECK(g, !job_done(g, &c, idx), "DONE written with bus mastering off");
	CHECK(g, model_stat(g, "slot 6", "last_status") == -EIO,
	      "last_status %lld, expected -EIO",
	      (long long)model_stat(g, "slot 6", "last_status"));
	CHECK(g, g->regs->dma_errors > dma, "dma_errors not counted");
	idx = submit(g, &c, ONE(FILL(VA0 + PAGE_SZ, 8, 1)));
	WAIT_FOR(g, false, QUIET_MS);
	CHECK(g, hslot(g, &c)->ring_head == idx, "job fetched without bus mastering");
	CHECK(g, !job_done(g, &c, idx), "job ran without bus mastering");
	/* Back on, and a doorbell: the fetch is tried again. */
	STORE_REL(&g->regs->control, HMPCI_CTL_ENABLE | HMPCI_CTL_BUS_MASTER);
	doorbell(g, 0);
	CHECK(g, wait_job(g, &c, idx) == 0, "job after bus mastering came back");
	return 0;
}

/* Addresses outside guest RAM are DMA errors: -EIO. */
static int t_dma_outside(struct guest *g)
{
	static const uint64_t holes[] = {
		LOWMEM, 2 * GiB, HIGHMEM_BASE - PAGE_SZ,
		HIGHMEM_BASE + RAM_SIZE - LOWMEM, 1ULL << 40,
	};
	unsigned int i;
	struct ctx c;
	uint64_t dma;

	TRY(ctx_new(g, &c, 7, HMPCI_PREEMPT_NONE, false));
	for (i = 0; i < ARRAY_SIZE(holes); i++) {
		map_page(g, &c, VA0 + i * PAGE_SZ, holes[i], V | W);
		dma = g->regs->dma_errors;
		TRY(run_expect(g, &c, ONE(FILL(VA0 + i * PAGE_SZ, 8, 1)), -EIO));
		CHECK(g, g->regs->dma_errors == dma + 1, "dma_errors %llu -> %llu",
		      (unsigned long long)dma,
		      (unsigned long long)g->regs->dma_errors);
	}
	/* The last page of each half is still RAM. */
	map_page(g, &c, VA0 + 16 * PAGE_SZ, LOWMEM - PAGE_SZ, V | W);
	map_page(g, &c, VA0 + 17 * PAGE_SZ, HIGHMEM_BASE + RAM_SIZE - LOWMEM - PAGE_SZ,
		 V | W);
	return run_ok(g, &c, ONE(FILL(VA0 + 16 * PAGE_SZ, 2 * PAGE_SZ, 1)));
}

static int t_enable(struct guest *g)
{
	struct ctx c;
	uint32_t idx;

	TRY(ctx_new(g, &c, 0, HMPCI_PREEMPT_NONE, true));
	map_buf(g, &c, VA0, PAGE_SZ, V | W);
	STORE_REL(&g->regs->control, HMPCI_CTL_BUS_MASTER);
	idx = submit(g, &c, ONE(FILL(VA0, 8, 1)));
	WAIT_FOR(g, false, QUIET_MS);
	CHECK(g, !job_done(g, &c, idx), "ran without ENABLE");
	/* Requests are still carried out. */
	TRY(slot_request(g, &c, REQ_INVAL, 0, UINT64_MAX));
	STORE_REL(&g->regs->control, HMPCI_CTL_ENABLE | HMPCI_CTL_BUS_MASTER);
	doorbell(g, 0);
	CHECK(g, wait_job(g, &c, idx) == 0, "did not run after ENABLE");
	return 0;
}

/* hang SLOT: that slot runs and acks nothing; the others go on. */
static int t_hang_slot(struct guest *g)
{
	struct hmpci_slot *s;
	struct ctx a, b;
	uint32_t idx;

	TRY(ctx_new(g, &a, 1, HMPCI_PREEMPT_NONE, false));
	TRY(ctx_new(g, &b, 2, HMPCI_PREEMPT_NONE, false));
	map_buf(g, &a, VA0, PAGE_SZ, V | W);
	map_buf(g, &b, VA0, PAGE_SZ, V | W);
	s = hslot(g, &a);
	TRY(inject(g, "hang 1"));
	idx = submit(g, &a, ONE(FILL(VA0, 8, 1)));
	STORE_REL(&s->inval_req, s->inval_req + 1);
	STORE_REL(&s->reset_req, s->reset_req + 1);
	doorbell(g, 0);
	TRY(run_ok(g, &b, ONE(FILL(VA0, 8, 1))));
	WAIT_FOR(g, false, QUIET_MS);
	CHECK(g, !job_done(g, &a, idx), "hung slot ran its job");
	CHECK(g, s->inval_ack != s->inval_req, "hung slot acked an invalidation");
	CHECK(g, s->reset_ack != s->reset_req, "hung slot acked a reset");
	TRY(inject(g, "unhang"));
	WAIT_FOR(g, LOAD_ACQ(&s->reset_ack) == s->reset_req &&
		    LOAD_ACQ(&s->inval_ack) == s->inval_req, WAIT_MS);
	CHECK(g, s->inval_ack == s->inval_req && s->reset_ack == s->reset_req,
	      "no acks after unhang");
	return 0;
}

/* hang all: not even a device reset is acked. */
static int t_hang_all(struct guest *g)
{
	struct hmpci_regs *r = g->regs;

	TRY(inject(g, "hang all"));
	STORE_REL(&r->reset_req, r->reset_req + 1);
	doorbell(g, 0);
	WAIT_FOR(g, false, QUIET_MS);
	CHECK(g, r->reset_ack != r->reset_req, "hung device acked a reset");
	TRY(inject(g, "unhang"));
	WAIT_FOR(g, LOAD_ACQ(&r->reset_ack) == r->reset_req, WAIT_MS);
	CHECK(g, r->reset_ack == r->reset_req, "no ack after unhang");
	return 0;
}

/* A hung slot is recovered by a device reset. */
static int t_hang_recovery(struct guest *g)
{
	struct ctx c;

	TRY(ctx_new(g, &c, 3, HMPCI_PREEMPT_NONE, true));
	map_buf(g, &c, VA0, PAGE_SZ, V | W);
	TRY(inject(g, "hang 3"));
	STORE_REL(&hslot(g, &c)->reset_req, hslot(g, &c)->reset_req + 1);
	TRY(request(g, &g->regs->reset_req, &g->regs->reset_ack, "device reset"));
	CHECK(g, hslot(g, &c)->reset_ack == hslot(g, &c)->reset_req,
	      "device reset left the slot's reset pending");
	return run_ok(g, &c, ONE(FILL(VA0, 8, 1)));
}

/*
 * An interrupt injection in force, then a job: its index. *irqs: the
 * interrupts seen before it.
 */
static int irq_job(struct guest *g, struct ctx *c, unsigned int slot,
		   const char *injection, uint64_t *irqs, uint32_t *idx)
{
	TRY(ctx_new(g, c, slot, HMPCI_PREEMPT_NONE, false));
	map_buf(g, c, VA0, PAGE_SZ, V | W);
	TRY(inject(g, injection));
	wait_irq(g, 0);
	*irqs = g->irqs;
	*idx = submit(g, c, ONE(FILL(VA0, 8, 1)));
	return 0;
}

static int t_drop_irq(struct guest *g)
{
	uint64_t irqs, dropped = g->regs->irqs_dropped;
	struct ctx c;
	uint32_t idx;

	TRY(irq_job(g, &c, 4, "drop-irq 1", &irqs, &idx));
	WAIT_FOR(g, job_done(g, &c, idx), WAIT_MS);
	CHECK(g, job_done(g, &c, idx), "done flag not set");
	WAIT_FOR(g, false, QUIET_MS);
	CHECK(g, g->irqs == irqs, "%llu interrupts, expected none",
	      (unsigned long long)(g->irqs - irqs));
	CHECK(g, g->regs->irqs_dropped == dropped + 1, "irqs_dropped %llu",
	      (unsigned long long)g->regs->irqs_dropped);
	submit(g, &c, ONE(FILL(VA0, 8, 2)));
	WAIT_FOR(g, g->irqs > irqs, WAIT_MS);
	CHECK(g, g->irqs > irqs, "no interrupt after the dropped one");
	return 0;
}

static int t_delay_irq(struct guest *g)
{
	uint64_t t0 = now_ns(), irqs;
	struct ctx c;
	uint32_t idx;

	TRY(irq_job(g, &c, 5, "delay-irq 60", &irqs, &idx));
	WAIT_FOR(g, g->irqs > irqs, WAIT_MS);
	CHECK(g, g->irqs > irqs, "no interrupt");
	CHECK(g, ms_since(t0) >= LATE_MS, "interrupt after %llu ms",
	      (unsigned long long)ms_since(t0));
	CHECK(g, job_done(g, &c, idx), "interrupt before DONE");
	return 0;
}

static int t_fail_dma(struct guest *g)
{
	struct ctx c;
	uint8_t *d;

	TRY(ctx_new(g, &c, 6, HMPCI_PREEMPT_NONE, true));
	d = map_buf(g, &c, VA0, 2 * PAGE_SZ, V | W);
	memset(d, 9, PAGE_SZ);
	TRY(inject(g, "fail-dma 1"));
	TRY(run_expect(g, &c, ONE(COPY(VA0 + PAGE_SZ, VA0, PAGE_SZ)), -EIO));
	CHECK(g, all_bytes(d + PAGE_SZ, PAGE_SZ, 0), "failed copy wrote");
	TRY(run_ok(g, &c, ONE(COPY(VA0 + PAGE_SZ, VA0, PAGE_SZ))));
	CHECK(g, all_bytes(d + PAGE_SZ, PAGE_SZ, 9), "copy after it");
	return 0;
}

static int t_slow_reset(struct guest *g)
{
	struct ctx c;
	uint64_t t0;

	TRY(ctx_new(g, &c, 7, HMPCI_PREEMPT_NONE, false));
	TRY(inject(g, "slow-reset 60"));
	t0 = now_ns();
	TRY(slot_request(g, &c, REQ_RESET, 0, 0));
	CHECK(g, ms_since(t0) >= LATE_MS, "slot reset acked after %llu ms",
	      (unsigned long long)ms_since(t0));
	t0 = now_ns();
	TRY(request(g, &g->regs->reset_req, &g->regs->reset_ack, "device reset"));
	CHECK(g, ms_since(t0) >= LATE_MS, "device reset acked after %llu ms",
	      (unsigned long long)ms_since(t0));
	return 0;
}

/* ---- the copy engine -------------------------------------------------------- */

#define VPA(off)	(DEVPRIV + (off))	/* physical address of VRAM @off */

/* regs.copies and copy_bytes moved by @copies and @bytes since *c0, *b0. */
static int copy_counted(struct guest *g, uint64_t c0, uint64_t b0,
			uint64_t copies, uint64_t bytes)
{
	CHECK(g, g->regs->copies - c0 == copies, "copies +%llu, expected +%llu",
	      (unsigned long long)(g->regs->copies - c0),
	      (unsigned long long)copies);
	CHECK(g, g->regs->copy_bytes - b0 == bytes,
	      "copy_bytes +%llu, expected +%llu",
	      (unsigned long long)(g->regs->copy_bytes - b0),
	      (unsigned long long)bytes);
	return 0;
}

/* A ring of four, a page of pattern @seed at *src, a zeroed page at *dst. */
static int page_setup(struct guest *g, struct cring *r, unsigned int seed,
		      uint64_t *src, uint64_t *dst)
{
	TRY(cring_new(g, r, 4, false));
	*src = alloc_gpa(g, false, PAGE_SZ, PAGE_SZ);
	*dst = alloc_gpa(g, false, PAGE_SZ, PAGE_SZ);
	pattern(gpa_host(g, *src), PAGE_SZ, seed);
	return 0;
}

/* Entry @idx ends with status 0, the page at @dst a copy of @src's. */
static int page_copied(struct guest *g, struct cring *r, uint32_t idx,
		       uint64_t src, uint64_t dst, const char *when)
{
	int st = wait_copy(g, r, idx);

	CHECK(g, st == 0, "%s: status %d", when, st);
	CHECK(g, !memcmp(gpa_host(g, dst), gpa_host(g, src), PAGE_SZ),
	      "%s: bytes differ", when);
	return 0;
}

/* RAM to VRAM and back, through the devpriv window; nothing beside. */
static int t_ce_vram(struct guest *g)
{
	const uint64_t voff = 5 * MiB, len = 3 * PAGE_SZ;
	uint64_t c0 = g->regs->copies, b0 = g->regs->copy_bytes, src, dst;
	uint8_t *v = g->vram + voff, *s, *d;
	struct cring r;
	int st;

	STORE_REL(&g->regs->devpriv_base, DEVPRIV);
	TRY(cring_new(g, &r, 4, false));
	src = alloc_gpa(g, false, len, PAGE_SZ);
	s = gpa_host(g, src);
	pattern(s, len, 21);
	memset(v - PAGE_SZ, 0xcc, len + 2 * PAGE_SZ);
	st = copy_run(g, &r, VPA(voff), src, len, 0);
	CHECK(g, st == 0, "RAM to VRAM: status %d", st);
	CHECK(g, !memcmp(v, s, len), "RAM to VRAM: bytes differ");
	CHECK(g, all_bytes(v - PAGE_SZ, PAGE_SZ, 0xcc) &&
		 all_bytes(v + len, PAGE_SZ, 0xcc), "VRAM written beside");
	dst = alloc_gpa(g, true, len + PAGE_SZ, PAGE_SZ);
	d = gpa_host(g, dst);
	pattern(v, len, 22);
	st = copy_run(g, &r, dst, VPA(voff), len, 0);
	CHECK(g, st == 0, "VRAM to RAM: status %d", st);
	CHECK(g, !memcmp(d, v, len), "VRAM to RAM: bytes differ");
	CHECK(g, all_bytes(d + len, PAGE_SZ, 0), "RAM written beside");
	return copy_counted(g, c0, b0, 2, 2 * len);
}

/* RAM to RAM, below lowmem and above 4 GiB, the ring above 4 GiB. */
static int t_ce_ram(struct guest *g)
{
	static const bool halves[][2] = {
		{ false, true }, { true, false }, { false, false }, { true, true },
	};
	const uint64_t len = 5 * PAGE_SZ;
	uint64_t src, dst;
	struct cring r;
	unsigned int i;
	uint8_t *d;
	int st;

	TRY(cring_new(g, &r, 2, true));
	for (i = 0; i < ARRAY_SIZE(halves); i++) {
		src = alloc_gpa(g, halves[i][0], len, PAGE_SZ);
		dst = alloc_gpa(g, halves[i][1], len + PAGE_SZ, PAGE_SZ);
		d = gpa_host(g, dst);
		pattern(gpa_host(g, src), len, 30 + i);
		st = copy_run(g, &r, dst, src, len, 0);
		CHECK(g, st == 0, "copy #%u: status %d", i, st);
		CHECK(g, !memcmp(d, gpa_host(g, src), len), "copy #%u: bytes differ",
		      i);
		CHECK(g, all_bytes(d + len, PAGE_SZ, 0), "copy #%u: written beside",
		      i);
	}
	return 0;
}

/*
 * Entries of HMPCI_COPY_MAX, three in one doorbell: more than one turn's
 * budget, in ring order (the second reads what the first wrote).
 */
static int t_ce_max(struct guest *g)
{
	const uint64_t voff = 2 * MiB, len = HMPCI_COPY_MAX;
	uint64_t c0 = g->regs->copies, b0 = g->regs->copy_bytes, src, dst;
	uint8_t *v = g->vram + voff, *s, *d;
	uint32_t idx[3];
	struct cring r;
	unsigned int i;
	int st;

	STORE_REL(&g->regs->devpriv_base, DEVPRIV);
	TRY(cring_new(g, &r, 4, false));
	src = alloc_gpa(g, false, len, PAGE_SZ);
	dst = alloc_gpa(g, true, len + PAGE_SZ, PAGE_SZ);
	s = gpa_host(g, src);
	d = gpa_host(g, dst);
	pattern(s, len, 41);
	memset(v - PAGE_SZ, 0xcc, len + 2 * PAGE_SZ);
	idx[0] = copy_put(g, &r, VPA(voff), src, len, 0);
	idx[1] = copy_put(g, &r, dst, VPA(voff), len, 0);
	idx[2] = copy_put(g, &r, VPA(voff), 0, len, HMPCI_COPY_ZERO);
	doorbell(g, 0);
	for (i = 0; i < 3; i++) {
		st = wait_copy(g, &r, idx[i]);
		CHECK(g, st == 0, "entry %u: status %d", i, st);
	}
	CHECK(g, !memcmp(d, s, len), "2 MiB through VRAM: bytes differ");
	CHECK(g, all_bytes(d + len, PAGE_SZ, 0), "RAM written beside");
	CHECK(g, all_bytes(v, len, 0), "2 MiB of VRAM not zeroed");
	CHECK(g, all_bytes(v - PAGE_SZ, PAGE_SZ, 0xcc) &&
		 all_bytes(v + len, PAGE_SZ, 0xcc), "VRAM written beside");
	return copy_counted(g, c0, b0, 3, 3 * len);
}

/* ZERO fills dst, in RAM and VRAM; its src is not even looked at. */
static int t_ce_zero(struct guest *g)
{
	const uint64_t voff = 6 * MiB, junk = (1ULL << 40) + 123;
	uint8_t *v = g->vram + voff, *d;
	struct cring r;
	uint64_t dst;
	int st;

	STORE_REL(&g->regs->devpriv_base, DEVPRIV);
	TRY(cring_new(g, &r, 4, false));
	dst = alloc_gpa(g, true, 4 * PAGE_SZ, PAGE_SZ);
	d = gpa_host(g, dst);
	memset(d, 0xab, 4 * PAGE_SZ);
	st = copy_run(g, &r, dst + PAGE_SZ, junk, 2 * PAGE_SZ, HMPCI_COPY_ZERO);
	CHECK(g, st == 0, "ZERO in RAM: status %d", st);
	CHECK(g, all_bytes(d + PAGE_SZ, 2 * PAGE_SZ, 0), "RAM not zeroed");
	CHECK(g, all_bytes(d, PAGE_SZ, 0xab) &&
		 all_bytes(d + 3 * PAGE_SZ, PAGE_SZ, 0xab), "ZERO wrote beside in RAM");
	memset(v, 0xab, 3 * PAGE_SZ);
	st = copy_run(g, &r, VPA(voff + PAGE_SZ), junk, PAGE_SZ, HMPCI_COPY_ZERO);
	CHECK(g, st == 0, "ZERO in VRAM: status %d", st);
	CHECK(g, all_bytes(v + PAGE_SZ, PAGE_SZ, 0), "VRAM not zeroed");
	CHECK(g, all_bytes(v, PAGE_SZ, 0xab) &&
		 all_bytes(v + 2 * PAGE_SZ, PAGE_SZ, 0xab), "ZERO wrote beside in VRAM");
	return 0;
}

#define WRAP_RING	4
#define WRAP_COPIES	10

/*
 * A full ring in one doorbell, then refilled as copy_head moves: ten
 * entries through a ring of four, in order, each once.
 */
static int t_ce_wrap(struct guest *g)
{
	uint64_t c0 = g->regs->copies, b0 = g->regs->copy_bytes, src, dst;
	uint32_t idx[WRAP_COPIES];
	struct cring r;
	unsigned int i;
	int st;

	TRY(cring_new(g, &r, WRAP_RING, false));
	src = alloc_gpa(g, false, WRAP_COPIES * PAGE_SZ, PAGE_SZ);
	dst = alloc_gpa(g, true, WRAP_COPIES * PAGE_SZ, PAGE_SZ);
	for (i = 0; i < WRAP_COPIES; i++)
		memset(gpa_host(g, src + i * PAGE_SZ), i + 1, PAGE_SZ);
	for (i = 0; i < WRAP_COPIES; i++) {
		if (i >= WRAP_RING) {
			st = wait_copy(g, &r, idx[i - WRAP_RING]);
			CHECK(g, st == 0, "entry %u: status %d", i - WRAP_RING, st);
		}
		idx[i] = copy_put(g, &r, dst + i * PAGE_SZ, src + i * PAGE_SZ,
				  PAGE_SZ, 0);
		if (i >= WRAP_RING - 1)
			doorbell(g, 0);
	}
	for (i = WRAP_COPIES - WRAP_RING; i < WRAP_COPIES; i++) {
		st = wait_copy(g, &r, idx[i]);
		CHECK(g, st == 0, "entry %u: status %d", i, st);
	}
	for (i = 0; i < WRAP_COPIES; i++)
		CHECK(g, all_bytes(gpa_host(g, dst + i * PAGE_SZ), PAGE_SZ, i + 1),
		      "entry %u's page wrong", i);
	CHECK(g, g->regs->copy_head == r.tail, "copy_head %u, tail %u",
	      g->regs->copy_head, r.tail);
	return copy_counted(g, c0, b0, WRAP_COPIES, WRAP_COPIES * PAGE_SZ);
}

/*
 * A bad len or alignment is -EINVAL, writes nothing, and the next entry
 * runs; ZERO ignores src's alignment only.
 */
static int t_ce_einval(struct guest *g)
{
	const struct {
		uint32_t len, flags;
		uint64_t src_off, dst_off;
	} bad[] = {
		{ 0, 0, 0, 0 },
		{ 100, 0, 0, 0 },
		{ 3 * PAGE_SZ / 2, 0, 0, 0 },
		{ HMPCI_COPY_MAX + PAGE_SZ, 0, 0, 0 },
		{ UINT32_MAX & ~(PAGE_SZ - 1), 0, 0, 0 },
		{ PAGE_SZ, 0, 8, 0 },
		{ PAGE_SZ, 0, 0, 512 },
		{ PAGE_SZ, HMPCI_COPY_ZERO, 0, 512 },
	};
	uint64_t c0 = g->regs->copies, b0 = g->regs->copy_bytes, src, dst, ok;
	int64_t failed0 = model_stat(g, "stats", "copies_failed"), failed;
	uint32_t idx[2 * ARRAY_SIZE(bad)];
	struct cring r;
	unsigned int i;
	int st;

	TRY(cring_new(g, &r, 16, false));
	src = alloc_gpa(g, false, 2 * PAGE_SZ, PAGE_SZ);
	dst = alloc_gpa(g, true, 3 * PAGE_SZ, PAGE_SZ);
	ok = alloc_gpa(g, true, ARRAY_SIZE(bad) * PAGE_SZ, PAGE_SZ);
	pattern(gpa_host(g, src), 2 * PAGE_SZ, 51);
	memset(gpa_host(g, dst), 0xcc, 3 * PAGE_SZ);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		idx[2 * i] = copy_put(g, &r, dst + bad[i].dst_off,
				      src + bad[i].src_off, bad[i].len,
				      bad[i].flags);
		idx[2 * i + 1] = copy_put(g, &r, ok + i * PAGE_SZ, src, PAGE_SZ, 0);
	}
	doorbell(g, 0);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		st = wait_copy(g, &r, idx[2 * i]);
		CHECK(g, st == -EINVAL, "bad entry %u: status %d, expected -EINVAL",
		      i, st);
		st = wait_copy(g, &r, idx[2 * i + 1]);
		CHECK(g, st == 0, "entry after bad entry %u: status %d", i, st);
		CHECK(g, !memcmp(gpa_host(g, ok + i * PAGE_SZ),
				 gpa_host(g, src), PAGE_SZ),
		      "entry after bad entry %u: bytes differ", i);
	}
	CHECK(g, all_bytes(gpa_host(g, dst), 3 * PAGE_SZ, 0xcc),
	      "a bad entry wrote");
	TRY(copy_counted(g, c0, b0, 2 * ARRAY_SIZE(bad),
			 ARRAY_SIZE(bad) * PAGE_SZ));
	failed = model_stat(g, "stats", "copies_failed");
	CHECK(g, failed - failed0 == (int64_t)ARRAY_SIZE(bad),
	      "copies_failed +%lld, expected +%zu", (long long)(failed - failed0),
	      ARRAY_SIZE(bad));
	return 0;
}

/*
 * fail-dma N fails the next N entries with -EIO, one access each
 * whatever their size (RAM or VRAM); the entry after them runs.
 */
static int t_ce_fail_dma(struct guest *g)
{
	const uint64_t voff = 7 * MiB, len = 4 * PAGE_SZ;
	int64_t inj0 = model_stat(g, "stats", "dma_injected");
	uint64_t src, dst;
	uint32_t idx[5];
	struct cring r;
	int st[5];
	unsigned int i;

	STORE_REL(&g->regs->devpriv_base, DEVPRIV);
	TRY(cring_new(g, &r, 8, false));
	src = alloc_gpa(g, false, len, PAGE_SZ);
	dst = alloc_gpa(g, true, 2 * len, PAGE_SZ);
	pattern(gpa_host(g, src), len, 61);
	TRY(inject(g, "fail-dma 1"));
	idx[0] = copy_put(g, &r, dst, src, len, 0);
	idx[1] = copy_put(g, &r, dst + len, src, len, 0);
	doorbell(g, 0);
	st[0] = wait_copy(g, &r, idx[0]);
	st[1] = wait_copy(g, &r, idx[1]);
	CHECK(g, st[0] == -EIO && st[1] == 0,
	      "fail-dma 1: statuses %d %d, expected -EIO 0", st[0], st[1]);
	CHECK(g, !memcmp(gpa_host(g, dst + len), gpa_host(g, src), len),
	      "the entry after the failed one: bytes differ");
	TRY(inject(g, "fail-dma 2"));
	idx[2] = copy_put(g, &r, VPA(voff), src, len, 0);
	idx[3] = copy_put(g, &r, VPA(voff), 0, len, HMPCI_COPY_ZERO);
	idx[4] = copy_put(g, &r, dst, VPA(voff), len, 0);
	doorbell(g, 0);
	for (i = 2; i < 5; i++)
		st[i] = wait_copy(g, &r, idx[i]);
	CHECK(g, st[2] == -EIO && st[3] == -EIO && st[4] == 0,
	      "fail-dma 2: statuses %d %d %d, expected -EIO -EIO 0", st[2], st[3],
	      st[4]);
	CHECK(g, model_stat(g, "stats", "fail_dma") == 0, "fail_dma left over");
	CHECK(g, model_stat(g, "stats", "dma_injected") - inj0 == 3,
	      "dma_injected +%lld, expected +3",
	      (long long)(model_stat(g, "stats", "dma_injected") - inj0));
	return 0;
}

/*
 * Bus mastering off: no entry is fetched (no DONE, no copy, no
 * interrupt), and the refused fetch waits for a doorbell rather than
 * being retried at once; on again and a doorbell, the entry runs.
 */
static int t_ce_bus_master(struct guest *g)
{
	uint64_t src, dst, dma, irqs;
	struct cring r;
	uint32_t idx;

	TRY(page_setup(g, &r, 71, &src, &dst));
	STORE_REL(&g->regs->control, HMPCI_CTL_ENABLE);
	wait_irq(g, 0);
	irqs = g->irqs;
	dma = g->regs->dma_errors;
	idx = copy_put(g, &r, dst, src, PAGE_SZ, 0);
	doorbell(g, 0);
	WAIT_FOR(g, false, QUIET_MS);
	CHECK(g, !copy_passed(g, idx) && !copy_done(g, &r, idx),
	      "entry fetched without bus mastering");
	CHECK(g, all_bytes(gpa_host(g, dst), PAGE_SZ, 0),
	      "copied without bus mastering");
	CHECK(g, g->irqs == irqs, "interrupt without bus mastering");
	CHECK(g, g->regs->dma_errors - dma >= 1 && g->regs->dma_errors - dma <= 2,
	      "%llu refused fetches, expected 1 or 2",
	      (unsigned long long)(g->regs->dma_errors - dma));
	STORE_REL(&g->regs->control, HMPCI_CTL_ENABLE | HMPCI_CTL_BUS_MASTER);
	doorbell(g, 0);
	return page_copied(g, &r, idx, src, dst, "after bus mastering came back");
}

/*
 * ENABLE clear: entries wait. A device reset then drops them:
 * copy_head := copy_tail, nothing written, nothing run after ENABLE.
 */
static int t_ce_reset(struct guest *g)
{
	uint64_t src, dst, c0;
	uint32_t idx[3];
	struct cring r;
	unsigned int i;

	TRY(cring_new(g, &r, 4, true));
	src = alloc_gpa(g, false, PAGE_SZ, PAGE_SZ);
	dst = alloc_gpa(g, true, 4 * PAGE_SZ, PAGE_SZ);
	pattern(gpa_host(g, src), PAGE_SZ, 81);
	STORE_REL(&g->regs->control, HMPCI_CTL_BUS_MASTER);
	c0 = g->regs->copies;
	for (i = 0; i < 3; i++)
		idx[i] = copy_put(g, &r, dst + i * PAGE_SZ, src, PAGE_SZ, 0);
	doorbell(g, 0);
	WAIT_FOR(g, false, QUIET_MS);
	CHECK(g, !copy_passed(g, idx[0]), "ran with ENABLE clear");
	TRY(request(g, &g->regs->reset_req, &g->regs->reset_ack, "device reset"));
	CHECK(g, g->regs->copy_head == r.tail,
	      "copy_head %u after the reset, tail %u", g->regs->copy_head, r.tail);
	STORE_REL(&g->regs->control, HMPCI_CTL_ENABLE | HMPCI_CTL_BUS_MASTER);
	doorbell(g, 0);
	WAIT_FOR(g, false, QUIET_MS);
	for (i = 0; i < 3; i++)
		CHECK(g, !copy_done(g, &r, idx[i]), "dropped entry %u written", i);
	CHECK(g, all_bytes(gpa_host(g, dst), 3 * PAGE_SZ, 0), "dropped entry ran");
	CHECK(g, g->regs->copies == c0, "dropped entries counted");
	idx[0] = copy_put(g, &r, dst + 3 * PAGE_SZ, src, PAGE_SZ, 0);
	doorbell(g, 0);
	return page_copied(g, &r, idx[0], src, dst + 3 * PAGE_SZ,
			   "entry after the reset");
}

/* hang all: the copy engine copies nothing either, until unhang. */
static int t_ce_hang_all(struct guest *g)
{
	uint64_t src, dst;
	struct cring r;
	uint32_t idx;

	TRY(page_setup(g, &r, 91, &src, &dst));
	TRY(inject(g, "hang all"));
	idx = copy_put(g, &r, dst, src, PAGE_SZ, 0);
	doorbell(g, 0);
	WAIT_FOR(g, false, QUIET_MS);
	CHECK(g, !copy_passed(g, idx) && all_bytes(gpa_host(g, dst), PAGE_SZ, 0),
	      "a hung device copied");
	TRY(inject(g, "unhang"));
	return page_copied(g, &r, idx, src, dst, "after unhang");
}

/* An interrupt once copy_head has moved, DONE already written. */
static int t_ce_irq(struct guest *g)
{
	uint64_t src, dst, irqs;
	struct cring r;
	uint32_t idx;

	TRY(page_setup(g, &r, 111, &src, &dst));
	wait_irq(g, 0);
	irqs = g->irqs;
	idx = copy_put(g, &r, dst, src, PAGE_SZ, 0);
	doorbell(g, 0);
	WAIT_FOR(g, g->irqs > irqs, WAIT_MS);
	CHECK(g, g->irqs > irqs, "no interrupt");
	CHECK(g, copy_passed(g, idx) && copy_done(g, &r, idx),
	      "interrupt before copy_head moved past a DONE entry");
	return 0;
}

/* A copy ring whose size is 0 or no power of two runs nothing. */
static int t_ce_ring_size(struct guest *g)
{
	static const uint32_t sizes[] = { 0, 3 };
	uint64_t src, dst;
	struct cring r;
	uint32_t idx;
	unsigned int i;

	TRY(page_setup(g, &r, 101, &src, &dst));
	idx = copy_put(g, &r, dst, src, PAGE_SZ, 0);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		STORE_REL(&g->regs->copy_ring_size, sizes[i]);
		doorbell(g, 0);
		WAIT_FOR(g, false, QUIET_MS);
		CHECK(g, !copy_passed(g, idx) &&
			 all_bytes(gpa_host(g, dst), PAGE_SZ, 0),
		      "a copy ring of %u entries ran", sizes[i]);
	}
	STORE_REL(&g->regs->copy_ring_size, 4);
	doorbell(g, 0);
	return page_copied(g, &r, idx, src, dst, "a ring of 4 after them");
}

#define BUDGET_COPIES	256

/*
 * A long queue of copies does not hold the slots up: a job queued behind
 * it ends while most of the copies are still pending (each turn of the
 * copy engine stops at HMPCI_COPY_BUDGET bytes).
 */
static int t_ce_budget(struct guest *g)
{
	uint32_t idx, head, left;
	struct cring r;
	unsigned int i;
	struct ctx c;
	int st;

	STORE_REL(&g->regs->devpriv_base, DEVPRIV);
	TRY(ctx_new(g, &c, 0, HMPCI_PREEMPT_NONE, false));
	map_buf(g, &c, VA0, PAGE_SZ, V | W);
	TRY(cring_new(g, &r, BUDGET_COPIES, false));
	/* VRAM to VRAM: no guest RAM needed for 512 MiB of copies. */
	for (i = 0; i < BUDGET_COPIES; i++)
		copy_put(g, &r, VPA(HMPCI_COPY_MAX), VPA(0), HMPCI_COPY_MAX, 0);
	doorbell(g, 0);
	head = r.tail - BUDGET_COPIES;
	WAIT_FOR(g, copy_passed(g, head), WAIT_MS);
	CHECK(g, copy_passed(g, head), "the copies did not start");
	idx = submit(g, &c, ONE(FILL(VA0, 8, 1)));
	st = wait_job(g, &c, idx);
	left = r.tail - LOAD_ACQ(&g->regs->copy_head);
	CHECK(g, st == 0, "job status %d", st);
	CHECK(g, left > BUDGET_COPIES / 4,
	      "the job ended with %u of %u copies left: it waited for them",
	      left, BUDGET_COPIES);
	st = wait_copy(g, &r, r.tail - 1);
	CHECK(g, st == 0, "last copy: status %d", st);
	return 0;
}

/* regs.copies counts every entry, copy_bytes the good ones; stats too. */
static int t_ce_stats(struct guest *g)
{
	uint64_t c0 = g->regs->copies, b0 = g->regs->copy_bytes, src, dst;
	int64_t failed0 = model_stat(g, "stats", "copies_failed");
	struct cring r;
	uint32_t idx;

	TRY(cring_new(g, &r, 4, false));
	src = alloc_gpa(g, false, 2 * PAGE_SZ, PAGE_SZ);
	dst = alloc_gpa(g, false, 2 * PAGE_SZ, PAGE_SZ);
	copy_put(g, &r, dst, src, 2 * PAGE_SZ, 0);
	copy_put(g, &r, dst, src, 5, 0);
	idx = copy_put(g, &r, dst, 0, PAGE_SZ, HMPCI_COPY_ZERO);
	doorbell(g, 0);
	CHECK(g, wait_copy(g, &r, idx) == 0, "ZERO entry failed");
	TRY(copy_counted(g, c0, b0, 3, 3 * PAGE_SZ));
	CHECK(g, model_stat(g, "stats", "copies") == (int64_t)g->regs->copies,
	      "stats copies differ from regs.copies");
	CHECK(g, model_stat(g, "stats", "copy_bytes") ==
		 (int64_t)g->regs->copy_bytes,
	      "stats copy_bytes differ from regs.copy_bytes");
	CHECK(g, model_stat(g, "stats", "copies_failed") - failed0 == 1,
	      "copies_failed +%lld, expected +1",
	      (long long)(model_stat(g, "stats", "copies_failed") - failed0));
	return 0;
}

static int t_control_errors(struct guest *g)
{
	static const char *const bad[] = {
		"bogus", "hang 99", "drop-irq x", "delay-irq -1", "stats now", "",
	};
	char reply[1024];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		TRY(control(g, bad[i], reply, sizeof(reply)));
		CHECK(g, !strncmp(reply, "error: ", 7), "'%s' answered %s", bad[i],
		      reply);
	}
	CHECK(g, model_stat(g, "stats", "irqs") == (int64_t)g->regs->irqs,
	      "stats irqs differ from regs.irqs");
	return 0;
}

static bool exited(int status, int code)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == code;
}

/* QEMU goes away: the model must exit 0. */
static int disconnect(struct guest *g)
{
	int status = stop_model(g);

	CHECK(g, exited(status, 0), "model status %#x after QEMU left", status);
	return 0;
}

/*
 * Run a model that must end at once (wait_exit()): its wait status; what
 * it wrote on stderr, kept off the log, in @err.
 */
static int model_run(struct guest *g, const char *const *argv, char *err,
		     size_t size)
{
	char path[128];
	int fd, status;
	ssize_t n;

	snprintf(path, sizeof(path), "%.60s/stderr", g->dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	status = wait_exit(spawn(g, argv, fd));
	n = pread(fd, err, size - 1, 0);
	err[n > 0 ? n : 0] = 0;
	close(fd);
	unlink(path);
	return status;
}

/* The model refuses bad arguments with exit status 2. */
static int t_bad_args(struct guest *g)
{
	static const char *const argvs[][9] = {
		{ "m", NULL },
		{ "m", "--socket", "/nonexistent/s", "--ram", "/nonexistent/r",
		  "--ram-size", "64M", "--lowmem", "65M" },
		{ "m", "--socket", "s", "--ram", "r", "--ram-size", "64M",
		  "--lowmem", "1x" },
		{ "m", "--socket", "s", "--ram", "r", "--ram-size", "0",
		  "--lowmem", "0" },
	};
	char err[1024];
	unsigned int i;
	int status;

	for (i = 0; i < ARRAY_SIZE(argvs); i++) {
		const char *argv[11] = { 0 };

		memcpy(argv, argvs[i], sizeof(argvs[i]));
		status = model_run(g, argv, err, sizeof(err));
		CHECK(g, exited(status, 2),
		      "bad arguments #%u: status %#x, expected exit 2", i, status);
	}
	return 0;
}

/* A first RAM file the model must refuse, and what it must say. */
struct bad_ram {
	const char *what;
	int64_t size0;		/* the first file's size; -1: no such file */
	bool last;		/* the message names the last file */
	const char *why;
};

/*
 * The model refuses the RAM files: it names the file, exits 1, and
 * serves nothing (no socket); the last file is not grown.
 */
static int ram_refused(struct guest *g, struct guest *n,
		       const char *const *argv, const struct bad_ram *b)
{
	char err[1024], want[256];
	struct stat st;
	int fd, status;

	if (b->size0 >= 0) {
		fd = open(n->ram_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0600);
		CHECK(g, fd >= 0, "%s: %s", n->ram_path, strerror(errno));
		status = ftruncate(fd, (off_t)b->size0);
		close(fd);
		CHECK(g, !status, "%s: %s", n->ram_path, strerror(errno));
	}
	status = model_run(g, argv, err, sizeof(err));
	CHECK(g, exited(status, 1),
	      "a first RAM file %s: status %#x, expected exit 1", b->what,
	      status);
	snprintf(want, sizeof(want), "hmirror-model: %s: %s\n",
		 b->last ? n->ram1_path : n->ram_path, b->why);
	CHECK(g, !strcmp(err, want), "a first RAM file %s: said '%s'", b->what,
	      err);
	CHECK(g, stat(n->sock, &st) && errno == ENOENT,
	      "a first RAM file %s: the model listened", b->what);
	CHECK(g, stat(n->ram1_path, &st) || !st.st_size,
	      "a first RAM file %s: the last one grown", b->what);
	return 0;
}

static int t_bad_ram_files(struct guest *g)
{
	static const struct bad_ram bad[] = {
		{ "of 0 bytes", 0, false,
		  "0 bytes at 0 do not fit in --ram-size" },
		{ "larger than --ram-size", 65 * MiB, false,
		  "68157440 bytes at 0 do not fit in --ram-size" },
		{ "of no whole pages", 40 * MiB + 100, false,
		  "41943140 bytes at 0 do not fit in --ram-size" },
		{ "of all --ram-size", 64 * MiB, true,
		  "0 bytes at 67108864 do not fit in --ram-size" },
		{ "missing", -1, false, "No such file or directory" },
	};
	struct guest n = { 0 };
	const char *const argv[] = {
		g->model_bin, "--socket", n.sock, "--ram", n.ram_path,
		"--ram", n.ram1_path, "--ram-size", "64M", "--lowmem", "32M",
		NULL,
	};
	unsigned int i;
	int ret = 0;

	memcpy(n.dir, g->dir, sizeof(n.dir));
	guest_paths(&n, "bad-");
	for (i = 0; i < ARRAY_SIZE(bad) && !ret; i++) {
		ret = ram_refused(g, &n, argv, &bad[i]);
		unlink(n.ram_path);
		unlink(n.ram1_path);
		unlink(n.sock);
	}
	return ret;
}

#define NODE0_SIZE	(40 * MiB)	/* so node 1 starts at 4 GiB + 8 MiB */

/* @len bytes at @off of the file itself, not through a mapping of it. */
static int file_io(struct guest *g, const char *path, bool write,
		   uint64_t off, void *buf, size_t len)
{
	int fd = open(path, (write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
	ssize_t done = -1;

	if (fd >= 0) {
		done = write ? pwrite(fd, buf, len, (off_t)off) :
			       pread(fd, buf, len, (off_t)off);
		close(fd);
	}
	CHECK(g, done == (ssize_t)len, "%s: %zd of %zu bytes at %llu", path,
	      done, len, (unsigned long long)off);
	return 0;
}

/*
 * Two NUMA nodes' RAM files, end to end: a COPY from the first file to
 * pages across the boundary, another from a page written into the second
 * file itself. Each file holds the bytes at its own offsets, so a model
 * that mapped the second one anywhere else fails here.
 */
static int two_ram_files(struct guest *n)
{
	const uint64_t bound = HIGHMEM_BASE + NODE0_SIZE - LOWMEM;
	const uint64_t len = 3 * PAGE_SZ + 123, lead = 2 * PAGE_SZ - 100;
	uint8_t buf[2 * PAGE_SZ], page[PAGE_SZ], *s, *e, *f;
	struct hmirror_cmd cmds[2];
	struct stat st;
	struct ctx c;
	uint64_t off;

	TRY(start_model(n));
	CHECK(n, !stat(n->ram1_path, &st) && st.st_size == RAM_SIZE - NODE0_SIZE,
	      "the last RAM file not grown to %llu bytes",
	      (unsigned long long)(RAM_SIZE - NODE0_SIZE));
	STORE_REL(&n->regs->control, HMPCI_CTL_ENABLE | HMPCI_CTL_BUS_MASTER);
	TRY(ctx_new(n, &c, 0, HMPCI_PREEMPT_NONE, true));
	s = map_buf(n, &c, VA0, 4 * PAGE_SZ, V);
	e = map_buf(n, &c, VA0 + 8 * PAGE_SZ, PAGE_SZ, V | W);
	pattern(s, 4 * PAGE_SZ, 13);
	/* Four pages across the boundary, two in each file, then one more. */
	CHECK(n, n->high_next <= bound - 2 * PAGE_SZ, "the first file used up");
	n->high_next = bound - 2 * PAGE_SZ;
	map_buf(n, &c, VA0 + 16 * PAGE_SZ, 4 * PAGE_SZ, V | W);
	f = map_buf(n, &c, VA0 + 24 * PAGE_SZ, PAGE_SZ, V);
	off = f - n->ram - NODE0_SIZE;
	pattern(page, PAGE_SZ, 14);
	TRY(file_io(n, n->ram1_path, true, off, page, PAGE_SZ));
	cmds[0] = COPY(VA0 + 16 * PAGE_SZ + 100, VA0 + 77, len);
	cmds[1] = COPY(VA0 + 8 * PAGE_SZ, VA0 + 24 * PAGE_SZ, PAGE_SZ);
	TRY(run_ok(n, &c, cmds, 2));

	TRY(file_io(n, n->ram_path, false, NODE0_SIZE - 2 * PAGE_SZ, buf,
		    sizeof(buf)));
	CHECK(n, all_bytes(buf, 100, 0) && !memcmp(buf + 100, s + 77, lead),
	      "the COPY's first part is not at the first file's end");
	TRY(file_io(n, n->ram1_path, false, 0, buf, sizeof(buf)));
	CHECK(n, !memcmp(buf, s + 77 + lead, len - lead),
	      "the COPY's rest is not at the last file's start");
	CHECK(n, all_bytes(buf + len - lead, sizeof(buf) - (len - lead), 0),
	      "the COPY wrote past its end in the last file");
	TRY(file_io(n, n->ram_path, false, e - n->ram, buf, PAGE_SZ));
	CHECK(n, !memcmp(buf, page, PAGE_SZ),
	      "a page of the last file, at %llu, copied wrong",
	      (unsigned long long)off);
	return 0;
}

/* A model of its own, with two RAM files; stopped whatever happens. */
static int t_two_ram_files(struct guest *g)
{
	struct guest n = { .model_bin = g->model_bin, .ram_split = NODE0_SIZE };

	memcpy(n.dir, g->dir, sizeof(n.dir));
	guest_paths(&n, "numa-");
	if (two_ram_files(&n)) {
		stop_model(&n);
		return fail(g, "%s", n.why);
	}
	if (disconnect(&n))
		return fail(g, "%s", n.why);
	return 0;
}

/* SIGTERM ends a model cleanly, QEMU or not. */
static int t_sigterm(struct guest *g)
{
	char sock[128], ram[128];
	const char *argv[] = {
		g->model_bin, "--socket", sock, "--ram", ram, "--ram-size", "1M",
		"--lowmem", "1M", "--vram-mb", "0", NULL,
	};
	int fd, status;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%.60s/term.sock", g->dir);
	snprintf(ram, sizeof(ram), "%.60s/term.ram", g->dir);
	pid = spawn(g, argv, -1);
	fd = unix_connect(sock);
	CHECK(g, fd >= 0, "second model never listened");
	close(fd);
	kill(pid, SIGTERM);
	CHECK(g, waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		 !WEXITSTATUS(status), "status %#x after SIGTERM", status);
	return 0;
}

static const struct test {
	const char *name;
	int (*fn)(struct guest *g);
} tests[] = {
	{ "handshake", t_handshake },
	{ "regs", t_regs },
	{ "copy-lowmem", t_copy_low },
	{ "copy-highmem", t_copy_high },
	{ "copy-across-halves", t_copy_across },
	{ "fill", t_fill },
	{ "crc32c", t_crc32c },
	{ "atomic-add", t_atomic_add },
	{ "exclusive", t_exclusive },
	{ "write-value", t_write_value },
	{ "wait-value", t_wait_value },
	{ "wait-value-timeout", t_wait_timeout },
	{ "delay", t_delay },
	{ "mirror-order-wrap", t_mirror_and_order },
	{ "command-stride", t_cmd_stride },
	{ "huge-leaf", t_huge },
	{ "vram", t_vram },
	{ "readonly-none-efault", t_readonly_none },
	{ "park-resume", t_park_resume },
	{ "park-fail-excl", t_park_fail },
	{ "migrate", t_migrate },
	{ "stale-tlb", t_stale_tlb },
	{ "tlb-ignore", t_tlb_ignore },
	{ "cancel-fence", t_cancel },
	{ "slot-reset", t_slot_reset },
	{ "device-reset", t_device_reset },
	{ "bus-master-off", t_bus_master },
	{ "dma-outside-ram", t_dma_outside },
	{ "enable-off", t_enable },
	{ "inject-hang-slot", t_hang_slot },
	{ "inject-hang-all", t_hang_all },
	{ "inject-hang-recovery", t_hang_recovery },
	{ "inject-drop-irq", t_drop_irq },
	{ "inject-delay-irq", t_delay_irq },
	{ "inject-delay-inval", t_delay_inval },
	{ "inject-fail-dma", t_fail_dma },
	{ "inject-slow-reset", t_slow_reset },
	{ "copy-engine-ram-vram", t_ce_vram },
	{ "copy-engine-ram-ram", t_ce_ram },
	{ "copy-engine-2mib", t_ce_max },
	{ "copy-engine-zero", t_ce_zero },
	{ "copy-engine-ring-wrap", t_ce_wrap },
	{ "copy-engine-einval", t_ce_einval },
	{ "copy-engine-fail-dma", t_ce_fail_dma },
	{ "copy-engine-bus-master-off", t_ce_bus_master },
	{ "copy-engine-device-reset", t_ce_reset },
	{ "copy-engine-hang-all", t_ce_hang_all },
	{ "copy-engine-irq", t_ce_irq },
	{ "copy-engine-ring-size", t_ce_ring_size },
	{ "copy-engine-stats", t_ce_stats },
	{ "copy-engine-budget", t_ce_budget },
	{ "control-errors", t_control_errors },
	{ "bad-arguments", t_bad_args },
	{ "bad-ram-files", t_bad_ram_files },
	{ "two-ram-files", t_two_ram_files },
	{ "sigterm", t_sigterm },
};

static void timeout(int sig)
{
	static const char msg[] = "FAIL test-model: timed out\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

int main(int argc, char **argv)
{
	struct guest guest = { 0 };
	struct guest *g = &guest;
	char bin[PATH_MAX];
	unsigned int i, pass = 0, nfail = 0;
	ssize_t n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGALRM, timeout);
	alarm(TEST_ALARM_S);
	if (argc > 1) {
		g->model_bin = argv[1];
	} else {
		n = readlink("/proc/self/exe", bin, sizeof(bin) - 32);
		if (n <= 0)
			return 2;
		bin[n] = 0;
		strcpy(strrchr(bin, '/') + 1, "hmirror-model");
		g->model_bin = bin;
	}
	snprintf(g->dir, sizeof(g->dir), "/tmp/test-model.XXXXXX");
	if (!mkdtemp(g->dir))
		return 2;
	guest_paths(g, "");
	if (start_model(g)) {
		printf("FAIL start: %s\n0 passed, 1 failed\n", g->why);
		return 1;
	}
	STORE_REL(&g->regs->control, HMPCI_CTL_ENABLE | HMPCI_CTL_BUS_MASTER);
	doorbell(g, 0);
	for (i = 0; i < ARRAY_SIZE(tests); i++) {
		g->why[0] = 0;
		if (inject(g, "clear") || tests[i].fn(g)) {
			printf("FAIL %s: %s\n", tests[i].name, g->why);
			nfail++;
			/* Leave the next test a device that runs. */
			inject(g, "clear");
			STORE_REL(&g->regs->control,
				  HMPCI_CTL_ENABLE | HMPCI_CTL_BUS_MASTER);
		} else {
			printf("PASS %s\n", tests[i].name);
			pass++;
		}
	}
	if (disconnect(g)) {
		printf("FAIL disconnect: %s\n", g->why);
		nfail++;
	} else {
		printf("PASS disconnect\n");
		pass++;
	}
	snprintf(bin, sizeof(bin), "%.60s/term.ram", g->dir);
	unlink(bin);
	rmdir(g->dir);
	printf("%u passed, %u failed\n", pass, nfail);
	return nfail ? 1 : 0;
}
