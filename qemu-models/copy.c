// SPDX-License-Identifier: GPL-2.0
/*
 * The copy engine: the host's own copies between physical addresses
 * (migrations between guest RAM and VRAM), one ring of struct hmpci_copy
 * in guest RAM. The engine thread gives it a turn between slot turns;
 * this file carries out one entry at a time. There is no page table and
 * no TLB: an address in the devpriv window is VRAM, any other is guest
 * RAM reached through the bus, so bus mastering and fail-dma apply to it
 * as to a job's operands.
 */
#include <errno.h>
#include <string.h>

#include "model.h"

static int check(const struct hmpci_copy *c)
{
	bool zero = c->flags & HMPCI_COPY_ZERO;

	if (!c->len || c->len % PAGE_SZ || c->len > HMPCI_COPY_MAX ||
	    c->dst % PAGE_SZ || (!zero && c->src % PAGE_SZ))
		return -EINVAL;
	return 0;
}

/* The page at physical address @pa, or NULL if the access is refused. */
static void *page(struct model *m, uint64_t pa)
{
	struct devaddr da;

	phys_addr(m, pa, &da);
	return bus_access(m, &da, PAGE_SZ, BUS_DATA);
}

/*
 * Page by page, since a window may end inside the range (the devpriv
 * window next to RAM). The first refused access ends the entry, so a
 * fail-dma count fails one entry, and dst keeps what was written so far.
 */
static int transfer(struct model *m, const struct hmpci_copy *c)
{
	bool zero = c->flags & HMPCI_COPY_ZERO;
	uint8_t *s = NULL, *d;
	uint64_t off;

	/* Past the top of the address space there is no memory. */
	if (c->len - 1 > UINT64_MAX - c->dst ||
	    (!zero && c->len - 1 > UINT64_MAX - c->src))
		return -EIO;
	for (off = 0; off < c->len; off += PAGE_SZ) {
		if (!zero) {
			s = page(m, c->src + off);
			if (!s)
				return -EIO;
		}
		d = page(m, c->dst + off);
		if (!d)
			return -EIO;
		if (zero)
			memset(d, 0, PAGE_SZ);
		else
			memmove(d, s, PAGE_SZ);
	}
	return 0;
}

/*
 * Carry out the entry at copy_head if there is one and it fits in @budget
 * bytes: status, then DONE, then copy_head. With bus mastering off by
 * then, status and DONE are refused like any DMA: the entry's end shows
 * in copy_head only. Returns what the entry costs the turn: its len, a
 * page for a bad one (so that a ring of them cannot hold the slots up).
 * 0: nothing carried out: no entry (or a ring whose size is no power of
 * two), its fetch was refused (tried again after a doorbell), or it waits
 * for the next turn.
 */
uint64_t copy_entry(struct model *m, uint64_t budget)
{
	struct hmpci_regs *r = m->regs;
	uint32_t tail = LOAD_ACQ(&r->copy_tail);
	uint32_t head = LOAD_RLX(&r->copy_head);
	uint32_t size = LOAD_RLX(&r->copy_ring_size);
	struct devaddr da = { .vram = false };
	struct hmpci_copy c, *e;
	uint64_t cost;
	int status;

	if (m->copy_stalled || head == tail || !size || (size & (size - 1)))
		return 0;
	da.addr = LOAD_RLX(&r->copy_ring) +
		  (uint64_t)(head & (size - 1)) * sizeof(c);
	if (!bus_read(m, da.addr, &c, sizeof(c))) {
		m->copy_stalled = true;
		return 0;
	}
	status = check(&c);
	cost = status ? PAGE_SZ : c.len;
	if (cost > budget)
		return 0;
	if (!status)
		status = transfer(m, &c);
	e = bus_access(m, &da, sizeof(*e), BUS_CTRL);
	if (e) {
		STORE_RLX(&e->status, status);
		__atomic_fetch_or(&e->flags, HMPCI_COPY_DONE, __ATOMIC_RELEASE);
	}
	COUNT(&r->copies);
	if (status)
		COUNT(&m->stats.copies_failed);
	else
		STORE_RLX(&r->copy_bytes, LOAD_RLX(&r->copy_bytes) + c.len);
	STORE_REL(&r->copy_head, head + 1);
	return cost;
}
