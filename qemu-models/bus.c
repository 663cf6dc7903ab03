// SPDX-License-Identifier: GPL-2.0
/*
 * The bus: every access the device makes to guest RAM or to its own VRAM
 * goes through bus_access(), which is where a PCI bridge would stop it.
 * Guest RAM is QEMU's memory-backend-file, mapped shared: the pc machine
 * puts [0, lowmem) of it at guest physical address 0 and the rest at
 * 4 GiB, so those two windows are all the DMA addresses there are.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

/*
 * Maps the RAM file, creating or growing it to ram_size if needed: QEMU
 * creates memory backends after chardevs, so the model may be first, and
 * QEMU uses a file of the right size as it finds it.
 */
int bus_map_ram(struct model *m)
{
	struct stat st;
	void *p;
	int fd;

	fd = open(m->ram_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "hmirror-model: %s: %s\n", m->ram_path,
			strerror(errno));
		return -1;
	}
	if ((uint64_t)st.st_size < m->ram_size &&
	    ftruncate(fd, (off_t)m->ram_size) < 0) {
		fprintf(stderr, "hmirror-model: growing %s: %s\n", m->ram_path,
			strerror(errno));
		close(fd);
		return -1;
	}
	p = mmap(NULL, m->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "hmirror-model: mmap %s: %s\n", m->ram_path,
			strerror(errno));
		return -1;
	}
	m->ram = p;
	return 0;
}

bool bus_master(struct model *m)
{
	return LOAD_ACQ(&m->regs->control) & HMPCI_CTL_BUS_MASTER;
}

/* File offset of [gpa, gpa + len), which must lie in one RAM window. */
static bool gpa_to_offset(const struct model *m, uint64_t gpa, uint64_t len,
			  uint64_t *off)
{
	uint64_t high = m->ram_size - m->lowmem;

	if (!len)
		return false;
	if (gpa < m->lowmem) {
		if (len > m->lowmem - gpa)
			return false;
		*off = gpa;
		return true;
	}
	if (gpa < HIGHMEM_BASE)
		return false;
	gpa -= HIGHMEM_BASE;
	if (gpa >= high || len > high - gpa)
		return false;
	*off = m->lowmem + gpa;
	return true;
}

/*
 * The host address of [da->addr, da->addr + len), or NULL with
 * regs.dma_errors counted: bus mastering off (RAM only: VRAM is the
 * device's own), outside RAM or VRAM, or an injected failure of a data
 * access, a job's or a copy entry's (fail-dma, which hits VRAM too: it
 * models the device's DMA engine failing, not the bus).
 */
void *bus_access(struct model *m, const struct devaddr *da, uint64_t len,
		 enum bus_use use)
{
	uint64_t off;
	uint8_t *p;

	if (da->vram) {
		if (!len || da->addr >= m->vram_size ||
		    len > m->vram_size - da->addr)
			goto refused;
		p = m->vram + da->addr;
	} else {
		if (!bus_master(m) || !gpa_to_offset(m, da->addr, len, &off))
			goto refused;
		p = m->ram + off;
	}
	if (use == BUS_DATA && inject_take(&m->inj.fail_dma)) {
		COUNT(&m->stats.dma_injected);
		goto refused;
	}
	return p;
refused:
	COUNT(&m->regs->dma_errors);
	return NULL;
}

/* Ring entries and commands: a plain copy, ordered by the tail's acquire. */
bool bus_read(struct model *m, uint64_t gpa, void *buf, uint64_t len)
{
	struct devaddr da = { .vram = false, .addr = gpa };
	void *p = bus_access(m, &da, len, BUS_CTRL);

	if (!p)
		return false;
	memcpy(buf, p, len);
	return true;
}

/* A directory or leaf entry: one untorn load, the CPU may be writing it. */
bool bus_read_u64(struct model *m, uint64_t gpa, uint64_t *val)
{
	struct devaddr da = { .vram = false, .addr = gpa };
	uint64_t *p;

	if (gpa & 7)
		return false;
	p = bus_access(m, &da, 8, BUS_CTRL);
	if (!p)
		return false;
	*val = LOAD_RLX(p);
	return true;
}
