// SPDX-License-Identifier: GPL-2.0
/*
 * Translation: a small fully associative TLB of leaf entries, per (slot,
 * page), filled by walking the slot's four-level table through the bus.
 * The TLB is what makes a stale PTE visible: the device keeps using a
 * cached leaf until an invalidation request drops it, as the data sheet
 * promises the driver.
 */
#include "model.h"

#define LEVEL_BITS	9
#define VA_BITS		48

/*
 * What physical address @pa is: VRAM in the devpriv window, else guest
 * RAM. PTEs and the copy engine's entries name memory alike.
 */
void phys_addr(const struct model *m, uint64_t pa, struct devaddr *da)
{
	uint64_t base = LOAD_RLX(&m->regs->devpriv_base);

	/* devpriv_base 0 is "no VRAM window": guest RAM starts at 0. */
	da->vram = base && pa >= base && pa - base < m->vram_size;
	da->addr = da->vram ? pa - base : pa;
}

/* The leaf's VRAM offset or guest physical address for @va. */
static void leaf_addr(const struct model *m, uint64_t pte, unsigned int shift,
		      uint64_t va, struct devaddr *da)
{
	phys_addr(m, (pte & HMPCI_ADDR_MASK & ~((1ULL << shift) - 1)) +
		     (va & ((1ULL << shift) - 1)), da);
}

static bool leaf_allows(uint64_t pte, const struct devaddr *da, bool write,
			bool excl)
{
	if (!(pte & HMPCI_PTE_VALID))
		return false;
	if (write && !(pte & HMPCI_PTE_WRITE))
		return false;
	/* VRAM is exclusive to the device anyway. */
	return !excl || da->vram || (pte & HMPCI_PTE_EXCL);
}

static struct tlb_entry *tlb_lookup(struct model *m, unsigned int slot,
				    uint64_t va)
{
	struct tlb_entry *e;

	for (e = m->tlb; e < m->tlb + TLB_ENTRIES; e++)
		if (e->valid && e->slot == slot &&
		    (va >> e->shift) == (e->va >> e->shift))
			return e;
	return NULL;
}

/* A free entry if there is one, else the next one round-robin. */
static void tlb_fill(struct model *m, unsigned int slot, uint64_t va,
		     unsigned int shift, uint64_t pte)
{
	struct tlb_entry *e;

	for (e = m->tlb; e < m->tlb + TLB_ENTRIES && e->valid; e++)
		;
	if (e == m->tlb + TLB_ENTRIES) {
		e = &m->tlb[m->tlb_next];
		m->tlb_next = (m->tlb_next + 1) % TLB_ENTRIES;
	}
	e->valid = true;
	e->slot = slot;
	e->shift = shift;
	e->va = va & ~((1ULL << shift) - 1);
	e->pte = pte;
	COUNT(&m->slots[slot].tlb_fills);
}

/*
 * Walk the table for @va: XLATE_OK with *pte and *shift of the leaf
 * (which may still lack the access wanted), XLATE_FAULT for no leaf.
 */
static int walk(struct model *m, unsigned int slot, uint64_t va,
		uint64_t *pte, unsigned int *shift)
{
	uint64_t table = LOAD_RLX(&m->slots[slot].pt_root) & HMPCI_ADDR_MASK;
	unsigned int level, s;
	uint64_t e;

	COUNT(&m->regs->walks);
	if (!table || va >> VA_BITS)
		return XLATE_FAULT;
	for (level = 4; level; level--) {
		s = 12 + LEVEL_BITS * (level - 1);
		if (!bus_read_u64(m, table + ((va >> s) & 511) * 8, &e))
			return XLATE_DMA;
		if (level == 1 || (level == 2 && (e & HMPCI_PTE_HUGE)))
			break;
		if (!(e & HMPCI_DIR_VALID))
			return XLATE_FAULT;
		table = e & HMPCI_ADDR_MASK;
	}
	*pte = e;
	*shift = s;
	return XLATE_OK;
}

/*
 * Translate @va of @slot for a read or a @write, @excl for an exclusive
 * command. A cached leaf that lacks the access is dropped and walked
 * again before the translation counts as failed, and a leaf that fails
 * is not cached: so a driver that only adds access to a PTE (VALID,
 * WRITE, EXCL) need not invalidate it before a resume.
 */
int mmu_translate(struct model *m, unsigned int slot, uint64_t va,
		  bool write, bool excl, struct devaddr *da)
{
	struct tlb_entry *e = tlb_lookup(m, slot, va);
	unsigned int shift;
	uint64_t pte;
	int ret;

	if (e) {
		leaf_addr(m, e->pte, e->shift, va, da);
		if (leaf_allows(e->pte, da, write, excl)) {
			COUNT(&m->regs->tlb_hits);
			return XLATE_OK;
		}
		e->valid = false;
	}
	ret = walk(m, slot, va, &pte, &shift);
	if (ret != XLATE_OK)
		return ret;
	leaf_addr(m, pte, shift, va, da);
	if (!leaf_allows(pte, da, write, excl))
		return XLATE_FAULT;
	tlb_fill(m, slot, va, shift, pte);
	return XLATE_OK;
}

/* Drop @slot's entries overlapping [start, last], bounds included. */
static void tlb_drop(struct model *m, unsigned int slot, uint64_t start,
		     uint64_t last)
{
	struct tlb_entry *e;

	for (e = m->tlb; e < m->tlb + TLB_ENTRIES; e++)
		if (e->valid && e->slot == slot && e->va <= last &&
		    e->va + (1ULL << e->shift) - 1 >= start)
			e->valid = false;
}

/* An invalidation request: [start, end), nothing if it is empty. */
void tlb_inval(struct model *m, unsigned int slot, uint64_t start,
	       uint64_t end)
{
	if (end > start)
		tlb_drop(m, slot, start, end - 1);
}

void tlb_flush_slot(struct model *m, unsigned int slot)
{
	tlb_drop(m, slot, 0, UINT64_MAX);
}
