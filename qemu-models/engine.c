// SPDX-License-Identifier: GPL-2.0
/*
 * The engine: one thread that is the device. Between every two page steps
 * it carries out what the driver asked for in BAR2 (device reset, slot
 * resets, invalidations, resumes) and raises the interrupt those and the
 * steps asked for; then it runs the slots round-robin, HMPCI_BUDGET page
 * steps each, one job per slot at a time. A step does at most one 4 KiB
 * page per operand, as hmirror_sw.c does, so a request waits at most one
 * step. The command semantics are hmirror_sw.c's. After every round of
 * slots the copy engine (copy.c) takes a turn of HMPCI_COPY_BUDGET bytes.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

#define POLL_MIN_US	50	/* first poll period of blocked jobs */
#define POLL_MAX_US	1000	/* ...doubling up to this */

enum step {
	STEP_PROGRESS,	/* did a page, the command goes on */
	STEP_CMD_DONE,	/* the command finished */
	STEP_BLOCKED,	/* waiting for a value or time */
	STEP_STOP,	/* the job parked, or failed (*err set) */
};

void engine_init(struct model *m)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (c & 1 ? 0x82f63b78 : 0);
		m->crc_table[i] = c;
	}
}

/* The kernel's crc32c(): no inversion on the way in or out. */
static uint32_t crc32c(const struct model *m, uint32_t crc, const uint8_t *p,
		       uint64_t len)
{
	while (len--)
		crc = (crc >> 8) ^ m->crc_table[(crc ^ *p++) & 0xff];
	return crc;
}

void engine_wake(struct model *m)
{
	uint64_t one = 1;

	/* A failure is a full counter, which wakes the engine as well. */
	if (write(m->wake_fd, &one, sizeof(one)) < 0)
		return;
}

static void set_state(struct slot_state *st, enum job_state s)
{
	STORE_RLX(&st->state, s);
}

/* ---- interrupts --------------------------------------------------------- */

static void irq_request(struct model *m)
{
	m->irq_pending = true;
}

/* Something the driver hears of: count it, owe an interrupt. */
static void announce(struct model *m, uint64_t *counter)
{
	COUNT(counter);
	irq_request(m);
}

/* Raise a pending interrupt now, or when delay-irq says. */
static void irq_flush(struct model *m, uint64_t now)
{
	uint32_t delay = LOAD_RLX(&m->inj.delay_irq_ms);
	uint64_t one = 1;

	if (!m->irq_pending)
		return;
	if (!m->irq_due && delay)
		m->irq_due = now + delay * NSEC_PER_MSEC;
	if (m->irq_due && now < m->irq_due)
		return;
	m->irq_pending = false;
	m->irq_due = 0;
	if (inject_take(&m->inj.drop_irq)) {
		COUNT(&m->regs->irqs_dropped);
		return;
	}
	/* MSI-X vector 0 for everything. */
	if (write(m->irq_fd[0], &one, sizeof(one)) == sizeof(one))
		COUNT(&m->regs->irqs);
}

/* ---- jobs --------------------------------------------------------------- */

/*
 * End the running job: status, then DONE, then done_fence, then the ring
 * position, then the interrupt. With bus mastering off the first two are
 * refused like any DMA: the job's end shows in done_fence alone.
 */
static void job_end(struct model *m, unsigned int n, int status)
{
	struct hmpci_slot *hs = &m->slots[n];
	struct slot_state *st = &m->st[n];
	struct devaddr da = { .vram = false, .addr = st->entry };
	struct hmpci_job *e = bus_access(m, &da, sizeof(*e), BUS_CTRL);

	if (e) {
		STORE_RLX(&e->status, status);
		__atomic_fetch_or(&e->flags, HMPCI_JOB_DONE, __ATOMIC_RELEASE);
	}
	STORE_REL(&hs->done_fence, st->job.fence);
	STORE_REL(&hs->ring_head, st->index + 1);
	STORE_RLX(&st->last_status, status);
	STORE_RLX(&st->last_fence, st->job.fence);
	set_state(st, JOB_NONE);
	announce(m, status ? &m->stats.jobs_failed : &m->stats.jobs_done);
}

/* Park the job: fault_* first, fault_seq last, then interrupt. */
static void park(struct model *m, unsigned int n, uint64_t addr,
		 uint32_t flags)
{
	struct hmpci_slot *hs = &m->slots[n];
	struct slot_state *st = &m->st[n];

	STORE_RLX(&hs->fault_flags, flags);
	STORE_RLX(&hs->fault_addr, addr);
	STORE_RLX(&hs->fault_fence, st->job.fence);
	STORE_RLX(&hs->fault_cmd, st->cur);
	STORE_REL(&hs->fault_seq, LOAD_RLX(&hs->fault_seq) + 1);
	st->park_migrate = flags & HMPCI_FAULT_MIGRATE;
	set_state(st, JOB_PARKED);
	announce(m, &m->stats.parks);
}

/*
 * Fetch the entry at ring_head. A refused read leaves the entry in the
 * ring: the slot tries again after the next doorbell.
 */
static bool fetch(struct model *m, unsigned int n)
{
	struct hmpci_slot *hs = &m->slots[n];
	struct slot_state *st = &m->st[n];
	uint32_t head = LOAD_RLX(&hs->ring_head);
	uint32_t size = LOAD_RLX(&hs->ring_size);
	uint64_t gpa;

	gpa = LOAD_RLX(&hs->ring) +
	      (uint64_t)(head & (size - 1)) * sizeof(struct hmpci_job);
	if (!bus_read(m, gpa, &st->job, sizeof(st->job))) {
		st->fetch_stalled = true;
		return false;
	}
	st->index = head;
	st->entry = gpa;
	st->cur = 0;
	st->cmd_loaded = false;
	st->done = 0;
	st->migrated = false;
	set_state(st, JOB_RUN);
	return true;
}

/* A slot's command: cmd_size bytes of it, the rest zero. */
static int load_cmd(struct model *m, struct slot_state *st)
{
	uint64_t size = st->job.cmd_size;

	if (size < HMIRROR_CMD_SIZE_V1)
		return -EINVAL;
	if (size > sizeof(st->cmd))
		size = sizeof(st->cmd);
	memset(&st->cmd, 0, sizeof(st->cmd));
	if (!bus_read(m, st->job.cmds + (uint64_t)st->cur * st->job.cmd_size,
		      &st->cmd, size))
		return -EIO;
	st->cmd_loaded = true;
	st->done = 0;
	st->migrated = false;
	return 0;
}

/*
 * Translate and map [va, va + len) of one operand, which lies in one
 * page. NULL if the job cannot go on: it parked, or *err says why not.
 */
static void *operand(struct model *m, unsigned int n, uint64_t va,
		     uint64_t len, bool write, bool excl, int *err)
{
	struct devaddr da;
	void *p;

	switch (mmu_translate(m, n, va, write, excl, &da)) {
	case XLATE_OK:
		p = bus_access(m, &da, len, BUS_DATA);
		if (!p)
			*err = -EIO;
		return p;
	case XLATE_DMA:
		*err = -EIO;
		return NULL;
	}
	if (LOAD_RLX(&m->slots[n].preempt) != HMPCI_PREEMPT_PAGE) {
		*err = -EFAULT;
		return NULL;
	}
	park(m, n, va, (write ? HMPCI_FAULT_WRITE : 0) |
		       (excl ? HMPCI_FAULT_EXCL : 0));
	return NULL;
}

/* Bytes of the next step: up to the end of a page of each operand. */
static uint64_t chunk(uint64_t left, uint64_t a, uint64_t b)
{
	uint64_t n = left;

	if (n > PAGE_SZ - (a & (PAGE_SZ - 1)))
		n = PAGE_SZ - (a & (PAGE_SZ - 1));
	if (n > PAGE_SZ - (b & (PAGE_SZ - 1)))
		n = PAGE_SZ - (b & (PAGE_SZ - 1));
	return n;
}

/* The first step of a WAIT_VALUE or DELAY sets when it ends. */
static void start_timer(struct slot_state *st, uint64_t us, uint64_t now)
{
	if (st->done)
		return;
	st->until_ns = us ? now + us * NSEC_PER_USEC : 0;
	st->done = 1;
}

static int step_crc32c(struct model *m, unsigned int n, int *err)
{
	struct slot_state *st = &m->st[n];
	const struct hmirror_cmd *c = &st->cmd;
	uint64_t len;
	uint32_t *d;
	uint8_t *s;

	if (c->dst & 3) {
		*err = -EINVAL;
		return STEP_STOP;
	}
	if (!st->done)
		st->acc = c->value;
	if (st->done == c->len) {
		d = operand(m, n, c->dst, 4, true, false, err);
		if (!d)
			return STEP_STOP;
		STORE_RLX(d, st->acc);
		return STEP_CMD_DONE;
	}
	len = chunk(c->len - st->done, c->src + st->done, c->src + st->done);
	s = operand(m, n, c->src + st->done, len, false, false, err);
	if (!s)
		return STEP_STOP;
	st->acc = crc32c(m, st->acc, s, len);
	st->done += len;
	return STEP_PROGRESS;
}

/* One u64 operand at @va, which must be 8-byte aligned. */
static uint64_t *operand64(struct model *m, unsigned int n, uint64_t va,
			   bool write, bool excl, int *err)
{
	if (va & 7) {
		*err = -EINVAL;
		return NULL;
	}
	return operand(m, n, va, 8, write, excl, err);
}

static int step_wait(struct model *m, unsigned int n, uint64_t now, int *err)
{
	struct slot_state *st = &m->st[n];
	const struct hmirror_cmd *c = &st->cmd;
	uint64_t *s;

	start_timer(st, c->aux, now);
	s = operand64(m, n, c->src, false, false, err);
	if (!s)
		return STEP_STOP;
	/* Later reads of the job see what preceded the value. */
	if (LOAD_ACQ(s) == c->value)
		return STEP_CMD_DONE;
	if (st->until_ns && now >= st->until_ns) {
		*err = -ETIME;
		return STEP_STOP;
	}
	return STEP_BLOCKED;
}

/* MIGRATE parks once for the host to move the pages, then writes dst. */
static int step_migrate(struct model *m, unsigned int n, int *err)
{
	struct slot_state *st = &m->st[n];
	uint64_t *d;

	if (!st->migrated) {
		park(m, n, st->cmd.src, HMPCI_FAULT_MIGRATE);
		return STEP_STOP;
	}
	if (!st->cmd.dst)
		return STEP_CMD_DONE;
	d = operand64(m, n, st->cmd.dst, true, false, err);
	if (!d)
		return STEP_STOP;
	STORE_RLX(d, st->migrate_value);
	return STEP_CMD_DONE;
}

/* One step of the slot's current command; returns enum step. */
static int step(struct model *m, unsigned int n, int *err)
{
	struct slot_state *st = &m->st[n];
	const struct hmirror_cmd *c = &st->cmd;
	bool excl = c->flags & HMIRROR_CMD_F_EXCLUSIVE;
	uint64_t len, now = now_ns();
	uint8_t *s, *d;
	uint64_t *p;

	switch (c->op) {
	case HMIRROR_OP_COPY:
		len = chunk(c->len - st->done, c->src + st->done,
			    c->dst + st->done);
		s = operand(m, n, c->src + st->done, len, false, false, err);
		if (!s)
			return STEP_STOP;
		d = operand(m, n, c->dst + st->done, len, true, false, err);
		if (!d)
			return STEP_STOP;
		memmove(d, s, len);
		break;
	case HMIRROR_OP_FILL:
		len = chunk(c->len - st->done, c->dst + st->done,
			    c->dst + st->done);
		d = operand(m, n, c->dst + st->done, len, true, false, err);
		if (!d)
			return STEP_STOP;
		memset(d, (uint8_t)c->value, len);
		break;
	case HMIRROR_OP_CRC32C:
		return step_crc32c(m, n, err);
	case HMIRROR_OP_ATOMIC_ADD:
		/* A real atomic: the guest CPU may add to the same word. */
		p = operand64(m, n, c->dst, true, excl, err);
		if (!p)
			return STEP_STOP;
		__atomic_fetch_add(p, c->value, __ATOMIC_SEQ_CST);
		return STEP_CMD_DONE;
	case HMIRROR_OP_WRITE_VALUE:
		p = operand64(m, n, c->dst, true, excl, err);
		if (!p)
			return STEP_STOP;
		/* Earlier writes of the job are visible before the value. */
		STORE_REL(p, c->value);
		return STEP_CMD_DONE;
	case HMIRROR_OP_WAIT_VALUE:
		return step_wait(m, n, now, err);
	case HMIRROR_OP_DELAY:
		start_timer(st, c->aux, now);
		return now >= st->until_ns ? STEP_CMD_DONE : STEP_BLOCKED;
	case HMIRROR_OP_MIRROR:
		/* The driver mirrored the footprint: nothing to run. */
		return STEP_CMD_DONE;
	case HMIRROR_OP_MIGRATE:
		return step_migrate(m, n, err);
	default:
		*err = -EINVAL;
		return STEP_STOP;
	}
	st->done += len;
	return st->done >= c->len ? STEP_CMD_DONE : STEP_PROGRESS;
}

/* ---- requests ----------------------------------------------------------- */

/*
 * Is a delayed request due? @ms of delay from the first time it is seen
 * (*at keeps that time); true at once without a delay.
 */
static bool due(uint64_t *at, uint32_t ms, uint64_t now)
{
	if (!*at) {
		if (!ms)
			return true;
		*at = now + ms * NSEC_PER_MSEC;
	}
	if (now < *at)
		return false;
	*at = 0;
	return true;
}

/*
 * A request not acked yet that is due now (@delay_ms late, *at keeping
 * when): its value in *req.
 */
static bool take(uint32_t *reqp, uint32_t *ackp, uint64_t *at,
		 uint32_t *delay_ms, uint64_t now, uint32_t *req)
{
	*req = LOAD_ACQ(reqp);
	return *req != LOAD_RLX(ackp) && due(at, LOAD_RLX(delay_ms), now);
}

/* Drop the slot's job, parked state, TLB entries and ring position. */
static void slot_clear(struct model *m, unsigned int n)
{
	struct hmpci_slot *hs = &m->slots[n];
	struct slot_state *st = &m->st[n];

	set_state(st, JOB_NONE);
	st->fetch_stalled = false;
	st->cmd_loaded = false;
	st->park_migrate = false;
	st->reset_due = 0;
	tlb_flush_slot(m, n);
	STORE_REL(&hs->ring_head, LOAD_ACQ(&hs->ring_tail));
}

static void slot_reset(struct model *m, unsigned int n, uint64_t now)
{
	struct hmpci_slot *hs = &m->slots[n];
	uint32_t req;

	if (!take(&hs->reset_req, &hs->reset_ack, &m->st[n].reset_due,
		  &m->inj.slow_reset_ms, now, &req))
		return;
	slot_clear(m, n);
	STORE_REL(&hs->reset_ack, req);
	announce(m, &m->stats.slot_resets);
}

static void slot_inval(struct model *m, unsigned int n, uint64_t now)
{
	struct hmpci_slot *hs = &m->slots[n];
	uint32_t req;

	if (!take(&hs->inval_req, &hs->inval_ack, &m->st[n].inval_due,
		  &m->inj.delay_inval_ms, now, &req))
		return;
	/* The range as it is now, read after the request. */
	if (!LOAD_RLX(&m->inj.tlb_ignore))
		tlb_inval(m, n, LOAD_RLX(&hs->inval_start),
			  LOAD_RLX(&hs->inval_end));
	STORE_REL(&hs->inval_ack, req);
	announce(m, &m->stats.invals);
}

/* Every resume is acked; a parked job then fails or goes on. */
static void slot_resume(struct model *m, unsigned int n)
{
	struct hmpci_slot *hs = &m->slots[n];
	struct slot_state *st = &m->st[n];
	uint32_t req = LOAD_ACQ(&hs->resume_req);
	int32_t status;

	if (req == LOAD_RLX(&hs->resume_ack))
		return;
	status = LOAD_RLX(&hs->resume_status);
	st->migrate_value = LOAD_RLX(&hs->resume_value);
	STORE_REL(&hs->resume_ack, req);
	announce(m, &m->stats.resumes);
	if (st->state != JOB_PARKED)
		return;
	if (status) {
		job_end(m, n, status);
		return;
	}
	if (st->park_migrate)
		st->migrated = true;
	st->park_migrate = false;
	set_state(st, JOB_RUN);
}

/*
 * Whole-device reset: every slot is reset, and every request of every
 * slot is then acked, so that nothing older than the reset is left for
 * the driver to wait for or for the device to carry out later.
 */
static void dev_reset(struct model *m, uint64_t now)
{
	struct hmpci_regs *r = m->regs;
	struct hmpci_slot *hs;
	unsigned int n;
	uint32_t req;

	if (!take(&r->reset_req, &r->reset_ack, &m->dev_reset_due,
		  &m->inj.slow_reset_ms, now, &req))
		return;
	for (n = 0; n < m->nr_slots; n++) {
		hs = &m->slots[n];
		slot_clear(m, n);
		m->st[n].inval_due = 0;
		STORE_REL(&hs->reset_ack, LOAD_ACQ(&hs->reset_req));
		STORE_REL(&hs->inval_ack, LOAD_ACQ(&hs->inval_req));
		STORE_REL(&hs->resume_ack, LOAD_ACQ(&hs->resume_req));
	}
	/* It recovers hung contexts (not a hung device). */
	STORE_RLX(&m->inj.hang_slots, 0);
	memset(m->tlb, 0, sizeof(m->tlb));
	/* Copy entries not done are dropped, nothing written for them. */
	STORE_REL(&r->copy_head, LOAD_ACQ(&r->copy_tail));
	m->copy_stalled = false;
	STORE_REL(&r->reset_ack, req);
	announce(m, &m->stats.dev_resets);
}

/* Carry out every pending request and raise the interrupt owed. */
static void service(struct model *m)
{
	uint64_t now = now_ns();
	unsigned int n;

	if (LOAD_RLX(&m->inj.hang_all))
		return;
	dev_reset(m, now);
	for (n = 0; n < m->nr_slots; n++) {
		if (slot_hung(m, n))
			continue;
		slot_reset(m, n, now);
		slot_inval(m, n, now);
		slot_resume(m, n);
	}
	irq_flush(m, now);
}

/* ---- running ------------------------------------------------------------ */

static bool device_runs(struct model *m)
{
	return (LOAD_ACQ(&m->regs->control) & HMPCI_CTL_ENABLE) &&
	       !LOAD_RLX(&m->inj.hang_all) && !m->dev_reset_due;
}

static bool slot_runnable(struct model *m, unsigned int n)
{
	struct hmpci_slot *hs = &m->slots[n];
	struct slot_state *st = &m->st[n];
	uint32_t size;

	if (!device_runs(m) || !LOAD_ACQ(&hs->enable) || slot_hung(m, n) ||
	    st->reset_due)
		return false;
	if (st->state != JOB_NONE)
		return st->state == JOB_RUN;
	size = LOAD_RLX(&hs->ring_size);
	/* A ring whose size is no power of two runs nothing. */
	return !st->fetch_stalled && size && !(size & (size - 1)) &&
	       LOAD_ACQ(&hs->ring_tail) != LOAD_RLX(&hs->ring_head);
}

/* The command finished: on to the next one, or the job is done. */
static void cmd_done(struct model *m, unsigned int n)
{
	struct slot_state *st = &m->st[n];

	st->cmd_loaded = false;
	if (++st->cur >= st->job.nr_cmds)
		job_end(m, n, 0);
}

/*
 * The host ended the slot's job itself (slot.cancel_fence): end it here
 * too, without another step, parked or not.
 */
static bool cancelled(struct model *m, unsigned int n)
{
	struct slot_state *st = &m->st[n];

	if (st->state == JOB_NONE || !device_runs(m) || slot_hung(m, n) ||
	    st->job.fence > LOAD_ACQ(&m->slots[n].cancel_fence))
		return false;
	job_end(m, n, -ECANCELED);
	return true;
}

/* Up to HMPCI_BUDGET steps of slot @n; true if anything progressed. */
static bool run_slot(struct model *m, unsigned int n, bool *blocked)
{
	struct slot_state *st = &m->st[n];
	bool progress = false;
	unsigned int budget;
	int ret, err;

	for (budget = HMPCI_BUDGET; budget; budget--) {
		service(m);
		if (cancelled(m, n)) {
			progress = true;
			continue;
		}
		if (!slot_runnable(m, n))
			break;
		if (st->state == JOB_NONE) {
			if (!fetch(m, n))
				break;
			progress = true;
			if (!st->job.nr_cmds)
				job_end(m, n, 0);
			continue;
		}
		err = 0;
		if (!st->cmd_loaded)
			err = load_cmd(m, st);
		ret = err ? STEP_STOP : step(m, n, &err);
		if (ret == STEP_BLOCKED) {
			*blocked = true;
			break;
		}
		progress = true;
		if (ret == STEP_STOP) {
			if (err)
				job_end(m, n, err);
			continue;
		}
		COUNT(&m->regs->steps);
		COUNT(&m->slots[n].steps);
		if (ret == STEP_CMD_DONE)
			cmd_done(m, n);
	}
	return progress;
}

/*
 * A turn of the copy engine: entries in ring order while they fit in
 * HMPCI_COPY_BUDGET bytes, requests carried out between them (an entry
 * is a few hundred microseconds at most), one interrupt for the turn.
 * True if copy_head moved.
 */
static bool copy_turn(struct model *m)
{
	uint64_t budget = HMPCI_COPY_BUDGET, cost;
	bool moved = false;

	while (budget) {
		service(m);
		if (!device_runs(m))
			break;
		cost = copy_entry(m, budget);
		if (!cost)
			break;
		moved = true;
		budget -= cost;
	}
	if (moved)
		irq_request(m);
	return moved;
}

/* The earlier of two due times, 0 being "none". */
static uint64_t earlier(uint64_t t, uint64_t x)
{
	return x && (!t || x < t) ? x : t;
}

/* The earliest delayed request or interrupt, 0 for none. */
static uint64_t next_due(struct model *m)
{
	uint64_t t = earlier(m->irq_due, m->dev_reset_due);
	unsigned int n;

	for (n = 0; n < m->nr_slots; n++)
		if (!slot_hung(m, n))
			t = earlier(earlier(t, m->st[n].inval_due),
				    m->st[n].reset_due);
	return t;
}

/*
 * Sleep until a doorbell, a wake-up, or @timeout_ns (-1: none). A
 * doorbell means "look at every slot": refused fetches are retried, the
 * copy ring's too.
 */
static void sleep_doorbell(struct model *m, int64_t timeout_ns)
{
	struct pollfd pfd[MAX_VECTORS + 1];
	struct timespec ts, *tsp = NULL;
	unsigned int i, nfds = m->vectors + 1;
	ssize_t got = 0;
	uint64_t v;

	for (i = 0; i < m->vectors; i++)
		pfd[i] = (struct pollfd){ .fd = m->doorbell_fd[i], .events = POLLIN };
	pfd[m->vectors] = (struct pollfd){ .fd = m->wake_fd, .events = POLLIN };
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	if (ppoll(pfd, nfds, tsp, NULL) <= 0)
		return;
	/* Non-blocking eventfds: reading one that is not set costs nothing. */
	for (i = 0; i < nfds; i++)
		if (pfd[i].revents & POLLIN)
			got = read(pfd[i].fd, &v, sizeof(v));
	(void)got;
	for (i = 0; i < m->nr_slots; i++)
		m->st[i].fetch_stalled = false;
	m->copy_stalled = false;
}

void *engine_thread(void *arg)
{
	struct model *m = arg;
	uint64_t poll_us = POLL_MIN_US, t, now;
	bool progress, blocked;
	int64_t timeout;
	unsigned int i;

	while (!LOAD_ACQ(&m->stop)) {
		progress = false;
		blocked = false;
		service(m);
		for (i = 0; i < m->nr_slots && device_runs(m); i++) {
			progress |= run_slot(m, m->rr, &blocked);
			m->rr = (m->rr + 1) % m->nr_slots;
		}
		/* Entries left after a turn are progress: no sleep. */
		progress |= copy_turn(m);
		service(m);
		if (progress) {
			poll_us = POLL_MIN_US;
			sleep_doorbell(m, 0);
			continue;
		}
		timeout = -1;
		if (blocked) {
			timeout = poll_us * NSEC_PER_USEC;
			poll_us = poll_us * 2 > POLL_MAX_US ? POLL_MAX_US :
							      poll_us * 2;
		}
		/* A hung device carries out nothing: it has nothing due. */
		t = LOAD_RLX(&m->inj.hang_all) ? 0 : next_due(m);
		now = now_ns();
		if (t) {
			t = t > now ? t - now : 0;
			if (timeout < 0 || t < (uint64_t)timeout)
				timeout = (int64_t)t;
		}
		sleep_doorbell(m, timeout);
	}
	return NULL;
}
