// SPDX-License-Identifier: GPL-2.0
/*
 * The bus: every access the device makes to guest RAM or to its own VRAM
 * goes through bus_access(), which is where a PCI bridge would stop it.
 * Guest RAM is QEMU's memory-backend-file (one per NUMA node, end to end),
 * mapped shared: the pc machine puts [0, lowmem) of it at guest physical
 * address 0 and the rest at 4 GiB, so those two windows are all the DMA
 * addresses there are.
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
 * Maps the RAM files end to end, as QEMU lays out the memory backends of
 * its NUMA nodes: every file but the last must have its size already; the
 * last is created or grown to what is left of ram_size, since QEMU creates
 * memory backends after chardevs, so the model may be first, and QEMU uses
 * a file of the right size as it finds it.
 */
static int bus_map_file(struct model *m, unsigned int i, uint64_t off,
			uint64_t *size)
{
	const char *path = m->ram_path[i];
	bool last = i == m->nr_ram - 1;
	struct stat st;
	void *p;
	int fd;

	fd = open(path, O_RDWR | (last ? O_CREAT : 0) | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "hmirror-model: %s: %s\n", path, strerror(errno));
		goto fail;
	}
	*size = last ? m->ram_size - off : (uint64_t)st.st_size;
	if (!*size || *size % PAGE_SZ || *size > m->ram_size - off) {
		fprintf(stderr,
			"hmirror-model: %s: %llu bytes at %llu do not fit in --ram-size\n",
			path, (unsigned long long)*size,
			(unsigned long long)off);
		goto fail;
	}
	if ((uint64_t)st.st_size < *size &&
	    ftruncate(fd, (off_t)*size) < 0) {
		fprintf(stderr, "hmirror-model: growing %s: %s\n", path,
			strerror(errno));
		goto fail;
	}
	p = mmap(m->ram + off, *size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "hmirror-model: mmap %s: %s\n", path,
			strerror(errno));
		goto fail;
	}
	close(fd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

int bus_map_ram(struct model *m)
{
	uint64_t off = 0, size;
	unsigned int i;
	void *p;

	/* One reservation, so that guest RAM is one range of the model's. */
	p = mmap(NULL, m->ram_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "hmirror-model: reserving %llu bytes: %s\n",
			(unsigned long long)m->ram_size, strerror(errno));
		return -1;
	}
	m->ram = p;
	for (i = 0; i < m->nr_ram; i++, off += size)
		if (bus_map_file(m, i, off, &size))
			goto fail;
	return 0;
fail:
	munmap(m->ram, m->ram_size);
	m->ram = NULL;
	return -1;
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
