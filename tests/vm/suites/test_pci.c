// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Guest suite: what only a real device has (DEVICE=pci: the emulated
 * accelerator of qemu-models/). Its TLB: an invalidation returns only
 * once the device dropped the translation, which a job proves by the page
 * it writes after an madvise(DONTNEED); the same job with the model told
 * to acknowledge invalidations without dropping anything writes the freed
 * page instead, so the check can fail. Lost interrupts: jobs still end.
 * A device that hangs during an invalidation, whole or one slot: the
 * invalidation returns within its bound, the device is reset or taken
 * off the bus, the owner is handled per policy. Its copy engine: the
 * migrations' copies, a failed one reported page by page, VRAM data
 * brought home from a dead device. A job the host ends while the device
 * holds it parked is dropped (cancel_fence). Faults are injected through each model's control
 * socket, which tests/vm/run makes the guest's ttyS1 and ttyS2.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <termios.h>

#include "guest.h"

#define PG 4096UL

/* The control port of accelerator @dev, or NULL without one. */
static const char *ctl_path(unsigned int dev, char *buf, size_t len)
{
	const char *all = getenv("HMIRROR_PCI_CTL"), *p;
	unsigned int i;
	size_t n;

	if (!all)
		return NULL;
	for (p = all, i = 0; i < dev && p; i++) {
		p = strchr(p, ',');
		if (p)
			p++;
	}
	if (!p || !*p)
		return NULL;
	n = strcspn(p, ",");
	if (n >= len)
		return NULL;
	memcpy(buf, p, n);
	buf[n] = 0;
	return buf;
}

/* The control ports, opened once: a tty's close may wait for its output. */
static int ctl_fds[2] = { -1, -1 };

/*
 * Open model @dev's control port raw. A serial port's open waits for
 * carrier unless CLOCAL: open non-blocking, set CLOCAL, then block again.
 */
static int ctl_open(unsigned int dev)
{
	char path[64];
	struct termios t;
	int fd;

	if (!ctl_path(dev, path, sizeof(path)))
		return -ENOENT;
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	assert_int_equal(tcgetattr(fd, &t), 0);
	/* Raw: no echo back to the model, no line editing. */
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL;
	t.c_cflag &= ~HUPCL;
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 50;	/* 5 s per read */
	assert_int_equal(tcsetattr(fd, TCSANOW, &t), 0);
	assert_int_equal(fcntl(fd, F_SETFL, 0), 0);
	return fd;
}


/* Send one command line to model @dev and read its one-line answer. */
static int ctl_reply(unsigned int dev, const char *cmd, char *reply,
		     size_t size)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	if (dev > 1)
		return -ENOENT;
	if (ctl_fds[dev] < 0)
		ctl_fds[dev] = ctl_open(dev);
	fd = ctl_fds[dev];
	if (fd < 0)
		return fd;
	assert_int_equal(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	assert_int_equal(write(fd, "\n", 1), 1);
	while (got < size - 1) {
		n = read(fd, reply + got, 1);
		if (n <= 0)
			break;
		if (reply[got++] == '\n')
			break;
	}
	reply[got] = 0;
	return got ? 0 : -EIO;
}

/* Send one command line to model @dev; returns 0 if it answered "ok". */
static int ctl(unsigned int dev, const char *cmd)
{
	char reply[256];

	if (ctl_reply(dev, cmd, reply, sizeof(reply)) ||
	    strncmp(reply, "ok", 2)) {
		fprintf(stderr, "# model %u: '%s' -> '%s'\n", dev, cmd, reply);
		return -EIO;
	}
	return 0;
}

/* One counter of model @dev's "stats" line, or -1. */
static long long ctl_stat(unsigned int dev, const char *key)
{
	char reply[2048] = " ", pat[64];
	const char *p;

	/* After a blank, so that the first key matches " key=" too. */
	if (ctl_reply(dev, "stats", reply + 1, sizeof(reply) - 1))
		return -1;
	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(reply, pat);
	return p ? atoll(p + strlen(pat)) : -1;
}

static int suite_up(void **state)
{
	(void)state;
	if (strcmp(guest_backend(), "pci"))
		return 0;
	hm_module_up("inval_deadline_ms=1000");
	assert_int_equal(ctl(0, "clear"), 0);
	assert_int_equal(ctl(1, "clear"), 0);
	return 0;
}

static int suite_down(void **state)
{
	(void)state;
	if (strcmp(guest_backend(), "pci"))
		return 0;
	hm_module_down();
	return 0;
}

static int need_pci(void)
{
	if (strcmp(guest_backend(), "pci")) {
		guest_skip("needs the emulated accelerator (make vm-test DEVICE=pci)");
		return 0;
	}
	return 1;
}

/* munmap @p (a page) with @inject in force on model 0; returns its ms. */
static uint64_t timed_munmap(void *p, size_t len, const char *inject)
{
	uint64_t t0, ms;

	assert_int_equal(ctl(0, inject), 0);
	t0 = hm_now_ns();
	assert_int_equal(munmap(p, len), 0);
	ms = (hm_now_ns() - t0) / 1000000;
	assert_int_equal(ctl(0, "clear"), 0);
	return ms;
}

/*
 * A NONE-class context of instance @dev whose jobs may hold an
 * invalidation for 100 ms, then reset under the revoke policy: nobody is
 * killed.
 */
static int open_revoke(unsigned int dev)
{
	struct hmirror_ctx_config cfg = {
		.set = HMIRROR_CFG_DEADLINE | HMIRROR_CFG_POLICY,
		.deadline_ms = 100, .policy = HMIRROR_POLICY_REVOKE,
	};
	int fd = hm_open(dev, HMIRROR_PREEMPT_NONE);

	assert_int_equal(hm_config(fd, &cfg), 0);
	return fd;
}

/* Instance @dev runs a job of a new context, with the right data. */
static void device_works(unsigned int dev)
{
	struct hmirror_cmd f = { .op = HMIRROR_OP_FILL, .len = PG, .value = 7 };
	int fd = hm_open(dev, HMIRROR_PREEMPT_NONE);
	uint8_t *ok = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(ok != MAP_FAILED);
	f.dst = (uintptr_t)ok;
	assert_int_equal(hm_run(fd, &f, 1), 0);
	assert_int_equal(ok[PG - 1], 7);
	munmap(ok, PG);
	close(fd);
}

static void test_backend(void **state)
{
	struct hmirror_info info = { 0 };
	int fd;

	(void)state;
	if (!need_pci())
		return;
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, &info), 0);
	assert_string_equal(info.backend, "pci");
	close(fd);
}

/*
 * A context is a slot of the device: max_contexts of them open, one more
 * fails with EBUSY and takes nothing from the others; one closed, its
 * slot serves the next.
 */
static void test_context_slots(void **state)
{
	struct hmirror_info info = { 0 };
	struct hmirror_cmd c;
	uint64_t *buf;
	unsigned int i, n;
	int *fds, fd;

	(void)state;
	if (!need_pci())
		return;
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	assert_int_equal(ioctl(fd, HMIRROR_IOC_GET_INFO, &info), 0);
	close(fd);
	n = info.max_contexts;
	assert_true(n > 0 && n <= 64);
	fds = calloc(n, sizeof(*fds));
	assert_non_null(fds);
	for (i = 0; i < n; i++)
		fds[i] = hm_open(0, HMIRROR_PREEMPT_PAGE);
	assert_int_equal(open("/dev/hmirror0", O_RDWR | O_CLOEXEC), -1);
	assert_int_equal(errno, EBUSY);

	/* The last one opened still runs jobs. */
	buf = hm_map(PG);
	c = hm_write_value(buf, 0x5107);
	assert_int_equal(hm_run(fds[n - 1], &c, 1), 0);
	assert_int_equal(*buf, 0x5107);
	close(fds[0]);
	fds[0] = open("/dev/hmirror0", O_RDWR | O_CLOEXEC);
	assert_true(fds[0] >= 0);
	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	munmap(buf, PG);
	device_works(0);
}

/*
 * The probe: the job writes 1 to @va (the device caches its translation),
 * waits for @flag, then writes 2. In between the CPU maps another page at
 * @va (memfd b over memfd a, MAP_FIXED: an invalidation). A device that
 * dropped the translation refaults and writes b's page; one that kept it
 * writes a's page. Both pages stay owned by the test (memfds), so a stale
 * write corrupts nothing else.
 */
struct probe {
	int a, b, f;
	uint64_t *va, *flag, *old;
};

static void *probe_map(void *at, int memfd)
{
	void *p = mmap(at, PG, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (at ? MAP_FIXED : 0), memfd, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static int probe_memfd(void)
{
	int fd = memfd_create("hmirror-probe", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, PG), 0);
	return fd;
}

/* Run the probe on context @fd; returns what the CPU reads at @va then. */
static uint64_t probe_run(int fd, struct probe *p)
{
	struct hmirror_cmd c[3] = { 0 };
	uint64_t fence = 0, t0;
	int status = -1;

	p->a = probe_memfd();
	p->b = probe_memfd();
	p->f = probe_memfd();
	p->va = probe_map(NULL, p->a);
	p->old = probe_map(NULL, p->a);	/* a's page, seen from elsewhere */
	p->flag = probe_map(NULL, p->f);
	c[0] = (struct hmirror_cmd){ .op = HMIRROR_OP_WRITE_VALUE,
				     .dst = (uintptr_t)p->va, .value = 1 };
	c[1] = (struct hmirror_cmd){ .op = HMIRROR_OP_WAIT_VALUE,
				     .src = (uintptr_t)p->flag, .value = 1,
				     .aux = 10000000 };
	c[2] = (struct hmirror_cmd){ .op = HMIRROR_OP_WRITE_VALUE,
				     .dst = (uintptr_t)p->va, .value = 2 };
	assert_int_equal(hm_submit(fd, c, 3, &fence), 0);
	t0 = hm_now_ns();
	while (__atomic_load_n(p->va, __ATOMIC_ACQUIRE) != 1)
		assert_true(hm_now_ns() - t0 < 5000000000ull);
	probe_map(p->va, p->b);
	__atomic_store_n(p->flag, 1, __ATOMIC_RELEASE);
	assert_int_equal(hm_wait(fd, fence, 10000000000ull, &status), 0);
	assert_int_equal(status, 0);
	return *p->va;
}

/* After the context is closed: its slot's TLB is gone with it. */
static void probe_free(struct probe *p)
{
	munmap(p->va, PG);
	munmap(p->old, PG);
	munmap(p->flag, PG);
	close(p->a);
	close(p->b);
	close(p->f);
}

static void test_tlb_invalidate(void **state)
{
	struct probe p;
	int fd;

	(void)state;
	if (!need_pci())
		return;
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	assert_int_equal(probe_run(fd, &p), 2);
	assert_int_equal(*p.old, 1);
	close(fd);
	probe_free(&p);
}

/* The check fails when the device keeps stale translations. */
static void test_tlb_stale_detected(void **state)
{
	struct probe p;
	uint64_t v;
	int fd;

	(void)state;
	if (!need_pci())
		return;
	assert_int_equal(ctl(0, "tlb-ignore on"), 0);
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	v = probe_run(fd, &p);
	close(fd);
	assert_int_equal(ctl(0, "clear"), 0);
	/* The write went to the page the CPU no longer maps there. */
	assert_int_equal(v, 0);
	assert_int_equal(*p.old, 2);
	probe_free(&p);
}

/* An invalidation waits for the device's acknowledgment, however late. */
static void test_inval_waits_for_ack(void **state)
{
	uint64_t *buf, ms;
	struct hmirror_cmd c = { .op = HMIRROR_OP_FILL, .len = PG,
				 .value = 0x5a };
	int fd;

	(void)state;
	if (!need_pci())
		return;
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	buf = mmap(NULL, PG, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(buf != MAP_FAILED);
	c.dst = (uintptr_t)buf;
	assert_int_equal(hm_run(fd, &c, 1), 0);
	ms = timed_munmap(buf, PG, "delay-inval 150");
	fprintf(stderr, "# munmap with a 150 ms late TLB ack: %llu ms\n",
		(unsigned long long)ms);
	assert_true(ms >= 140);
	close(fd);
}

/*
 * One munmap over several mirrored chunks waits for the device's TLB once,
 * once they are all zapped (the notifier's second pass), not once a chunk:
 * with every acknowledgment 150 ms late, 8 MiB (4 chunks or more) takes
 * one delay, where waiting a chunk at a time would take 4.
 */
static void test_inval_one_wait(void **state)
{
	const size_t len = 8UL << 20;
	struct hmirror_cmd c = { .op = HMIRROR_OP_FILL, .len = len,
				 .value = 0x3c };
	uint8_t *buf;
	uint64_t ms;
	int fd;

	(void)state;
	if (!need_pci())
		return;
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	buf = hm_map(len);
	c.dst = (uintptr_t)buf;
	assert_int_equal(hm_run(fd, &c, 1), 0);
	assert_int_equal(buf[len - 1], 0x3c);
	ms = timed_munmap(buf, len, "delay-inval 150");
	fprintf(stderr, "# munmap of 8 MiB mirrored, every TLB ack 150 ms late: %llu ms\n",
		(unsigned long long)ms);
	assert_true(ms >= 140);
	assert_true(ms < 3 * 150);
	close(fd);
}

/* Interrupts lost: the poll finds the completions; data still right. */
static void test_lost_interrupts(void **state)
{
	struct hmirror_cmd c = { .op = HMIRROR_OP_FILL, .len = 4 * PG };
	uint8_t *buf;
	unsigned int i;
	int fd;

	(void)state;
	if (!need_pci())
		return;
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	buf = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(buf != MAP_FAILED);
	assert_int_equal(ctl(0, "drop-irq 1000"), 0);
	for (i = 1; i <= 20; i++) {
		c.dst = (uintptr_t)buf;
		c.value = i;
		assert_int_equal(hm_run(fd, &c, 1), 0);
		assert_int_equal(buf[0], i);
		assert_int_equal(buf[4 * PG - 1], i);
	}
	assert_int_equal(ctl(0, "clear"), 0);
	munmap(buf, 4 * PG);
	close(fd);
}

/*
 * A slot reset acknowledged 30 ms late (within the reset's bound): the
 * NONE-class job holding a munmap past its 100 ms deadline is reset on
 * the device, the munmap returns within deadline + the late ack + slack,
 * the context is dead (revoke policy: nobody killed), the device is not:
 * a new context on it works. Slot resets, not device resets, did it.
 */
static void test_slow_reset(void **state)
{
	struct hmirror_cmd w = { .op = HMIRROR_OP_WAIT_VALUE, .value = 1 };
	struct hmirror_cmd f = { .op = HMIRROR_OP_FILL, .len = PG, .value = 9 };
	uint64_t *buf, fence = 0, ms;
	int fd, status = 0;
	int64_t resets;

	(void)state;
	if (!need_pci())
		return;
	fd = open_revoke(0);
	buf = mmap(NULL, PG, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(buf != MAP_FAILED);
	*buf = 0;
	w.src = (uintptr_t)buf;
	assert_int_equal(hm_submit(fd, &w, 1, &fence), 0);
	usleep(100000);
	resets = ctl_stat(0, "dev_resets");
	assert_true(resets >= 0);
	ms = timed_munmap(buf, PG, "slow-reset 30");
	fprintf(stderr, "# munmap past a 100 ms deadline, reset acked 30 ms late: %llu ms\n",
		(unsigned long long)ms);
	assert_true(ms >= 95 && ms < 1000);
	/* The context is dead: it says so to WAIT and SUBMIT alike. */
	assert_int_equal(hm_wait(fd, fence, 1000000000ull, &status), -EIO);
	assert_int_equal(hm_submit(fd, &f, 1, NULL), -EIO);
	close(fd);
	assert_int_equal(ctl_stat(0, "dev_resets"), resets);

	device_works(0);
}

/*
 * Migrations are the copy engine's: 64 pages to VRAM and back are 64
 * copy entries each way, and the data survives both. With one DMA of the
 * engine failed, exactly one page stays in system memory, reported
 * -EIO, and the data is still whole.
 */
static void test_copy_engine(void **state)
{
	const size_t len = 64 * PG;
	uint64_t moved = 0, failed = 0;
	int32_t st[64];
	long long c0, c1;
	unsigned int i, eio = 0;
	uint8_t *buf;
	int fd;

	(void)state;
	if (!need_pci())
		return;
	hm_need_vram(0);
	fd = hm_open(0, HMIRROR_PREEMPT_PAGE);
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(buf != MAP_FAILED);
	assert_int_equal(madvise(buf, len, MADV_NOHUGEPAGE), 0);
	hm_pattern(buf, len, 11);

	c0 = ctl_stat(0, "copies");
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				    st, &moved, &failed), 0);
	assert_int_equal(moved, 64);
	assert_int_equal(failed, 0);
	c1 = ctl_stat(0, "copies");
	assert_true(c1 - c0 >= 64);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_SYSTEM,
				    st, &moved, &failed), 0);
	assert_int_equal(moved, 64);
	assert_true(ctl_stat(0, "copies") - c1 >= 64);
	assert_true(hm_pattern_ok(buf, len, 11));

	assert_int_equal(ctl(0, "fail-dma 1"), 0);
	assert_int_equal(hm_migrate(fd, buf, len, HMIRROR_MIGRATE_TO_DEVICE,
				    st, &moved, &failed), 0);
	assert_int_equal(ctl(0, "clear"), 0);
	for (i = 0; i < 64; i++)
		eio += st[i] == -EIO;
	assert_int_equal(moved, 63);
	assert_int_equal(failed, 1);
	assert_int_equal(eio, 1);
	/* CPU faults bring the 63 home: all of it reads as written. */
	assert_true(hm_pattern_ok(buf, len, 11));
	munmap(buf, len);
	close(fd);
}

/*
 * The host ends a job the device holds parked: a MIGRATE whose range was
 * unmapped after submit fails on the host (-EFAULT). The device must drop
 * the job (slot.cancel_fence, resume with -ECANCELED), not run the
 * command after the MIGRATE: its WRITE_VALUE never lands. The next job
 * of the context runs.
 */
static void test_cancel_parked(void **state)
{
	struct hmirror_cmd c[3] = {
		{ .op = HMIRROR_OP_WAIT_VALUE, .value = 1 },
		{ .op = HMIRROR_OP_MIGRATE, .len = 2 * PG,
		  .value = HMIRROR_MIGRATE_TO_DEVICE },
		{ .op = HMIRROR_OP_WRITE_VALUE, .value = 77 },
	};
	struct hmirror_cmd f = { .op = HMIRROR_OP_FILL, .len = 8, .value = 3 };
	uint64_t *flag, fence = 0;
	int fd, status = 0;
	void *r;

	(void)state;
	if (!need_pci())
		return;
	hm_need_vram(0);
	fd = hm_open(0, HMIRROR_PREEMPT_NONE);
	flag = mmap(NULL, PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	r = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(flag != MAP_FAILED && r != MAP_FAILED);
	memset(r, 1, 2 * PG);
	flag[0] = 0;
	flag[1] = 0;
	c[0].src = (uintptr_t)flag;
	c[1].src = (uintptr_t)r;
	c[2].dst = (uintptr_t)&flag[1];
	assert_int_equal(hm_submit(fd, c, 3, &fence), 0);
	assert_int_equal(munmap(r, 2 * PG), 0);
	__atomic_store_n(&flag[0], 1, __ATOMIC_RELEASE);
	assert_int_equal(hm_wait(fd, fence, 5000000000ull, &status), 0);
	assert_int_equal(status, -EFAULT);
	usleep(50000);	/* a device that resumed it would have written by now */
	assert_int_equal(__atomic_load_n(&flag[1], __ATOMIC_ACQUIRE), 0);

	f.dst = (uintptr_t)&flag[2];
	assert_int_equal(hm_run(fd, &f, 1), 0);
	assert_int_equal(((uint8_t *)flag)[16], 3);
	assert_int_equal(flag[1], 0);
	munmap(flag, PG);
	close(fd);
}

/*
 * One slot hangs (it acknowledges nothing, not even its reset) while its
 * NONE-class job holds a munmap past a 100 ms deadline: the slot reset
 * times out, a device reset recovers the device, and the munmap returns
 * within the deadline plus the reset's bound. The hung context is dead
 * (revoke policy); another context of the device loses its job in flight
 * (-EIO) but lives on and runs the next one; the device works.
 */
static void test_slot_hang(void **state)
{
	struct hmirror_cmd w = { .op = HMIRROR_OP_WAIT_VALUE, .value = 1 };
	struct hmirror_cmd f = { .op = HMIRROR_OP_FILL, .len = PG, .value = 5 };
	uint64_t *a, *b, fa = 0, fb = 0, ms;
	int fda, fdb, status = 0;
	int64_t resets;
	long long slot;
	char cmd[32];

	(void)state;
	if (!need_pci())
		return;
	a = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(a != MAP_FAILED);
	b = a + PG / sizeof(*a);
	*a = 0;
	*b = 0;
	fda = open_revoke(0);
	/* Our only context on the device yet: its line is the one. */
	slot = hm_ctx_counter(0, getpid(), "slot");
	assert_true(slot >= 0);
	fdb = hm_open(0, HMIRROR_PREEMPT_PAGE);
	w.src = (uintptr_t)a;
	assert_int_equal(hm_submit(fda, &w, 1, &fa), 0);
	w.src = (uintptr_t)b;
	assert_int_equal(hm_submit(fdb, &w, 1, &fb), 0);
	usleep(100000);
	resets = ctl_stat(0, "dev_resets");
	assert_true(resets >= 0);

	snprintf(cmd, sizeof(cmd), "hang %lld", slot);
	ms = timed_munmap(a, PG, cmd);
	fprintf(stderr, "# munmap past a 100 ms deadline, slot %lld hung: %llu ms\n",
		slot, (unsigned long long)ms);
	assert_true(ms >= 95 && ms < 2000);
	assert_int_equal(hm_wait(fda, fa, 1000000000ull, &status), -EIO);
	assert_int_equal(ctl_stat(0, "dev_resets"), resets + 1);

	/* The bystander: its job failed with the device reset, it lives. */
	assert_int_equal(hm_wait(fdb, fb, 1000000000ull, &status), 0);
	assert_int_equal(status, -EIO);
	f.dst = (uintptr_t)b;
	assert_int_equal(hm_run(fdb, &f, 1), 0);
	assert_int_equal(((uint8_t *)b)[PG - 1], 5);
	close(fda);
	close(fdb);
	munmap(b, PG);
	device_works(0);
}

/*
 * A NONE-class job holds a page; the whole device hangs (acknowledges
 * nothing, not even a reset). munmap of the page returns within the
 * deadline plus the reset bounds, the owner is killed, the device is off
 * the bus for good, the data another process had in its VRAM still comes
 * home on a CPU fault, and the other accelerator goes on.
 */
static void test_hang_during_invalidation(void **state)
{
	struct hmirror_cmd c = { .op = HMIRROR_OP_WAIT_VALUE, .value = 1 };
	int pipefd[2], wstatus, fd, other, keep;
	uint64_t *buf, fence, t0, ms, moved = 0;
	uint8_t *home;
	pid_t pid;

	(void)state;
	if (!need_pci())
		return;
	/* Data in device 1's VRAM, which must come home after it dies. */
	hm_need_vram(1);
	keep = hm_open(1, HMIRROR_PREEMPT_PAGE);
	home = mmap(NULL, 16 * PG, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(home != MAP_FAILED);
	assert_int_equal(madvise(home, 16 * PG, MADV_DONTFORK), 0);
	hm_pattern(home, 16 * PG, 5);
	assert_int_equal(hm_migrate(keep, home, 16 * PG,
				    HMIRROR_MIGRATE_TO_DEVICE, NULL, &moved,
				    NULL), 0);
	assert_int_equal(moved, 16);

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		fd = hm_open(1, HMIRROR_PREEMPT_NONE);
		buf = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		*buf = 0;
		c.src = (uintptr_t)buf;
		if (hm_submit(fd, &c, 1, &fence))
			_exit(3);
		usleep(200000);	/* the job is running on the device */
		if (ctl(1, "hang all"))
			_exit(4);
		t0 = hm_now_ns();
		munmap(buf, PG);
		ms = (hm_now_ns() - t0) / 1000000;
		/* Only reached if the kill did not land: report how long. */
		if (write(pipefd[1], &ms, sizeof(ms)) < 0)
			_exit(5);
		_exit(0);
	}
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFSIGNALED(wstatus));
	assert_int_equal(WTERMSIG(wstatus), SIGKILL);
	close(pipefd[0]);

	/* Device 1 is dead: new contexts cannot be made on it. */
	other = open("/dev/hmirror1", O_RDWR | O_CLOEXEC);
	assert_true(other < 0);
	assert_int_equal(errno, EIO);

	/* Its VRAM is still readable through the BAR: the data comes home. */
	assert_true(hm_pattern_ok(home, 16 * PG, 5));
	munmap(home, 16 * PG);
	close(keep);

	/* Device 0 is untouched. */
	device_works(0);
	ctl(1, "clear");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend),
		cmocka_unit_test(test_context_slots),
		cmocka_unit_test(test_tlb_invalidate),
		cmocka_unit_test(test_tlb_stale_detected),
		cmocka_unit_test(test_inval_waits_for_ack),
		cmocka_unit_test(test_inval_one_wait),
		cmocka_unit_test(test_lost_interrupts),
		cmocka_unit_test(test_slow_reset),
		/* Last: it leaves accelerator 1 dead. */
		cmocka_unit_test(test_copy_engine),
		cmocka_unit_test(test_cancel_parked),
		cmocka_unit_test(test_slot_hang),
		cmocka_unit_test(test_hang_during_invalidation),
	};

	guest_suite_setup();
	return cmocka_run_group_tests_name("pci", tests, suite_up, suite_down);
}
