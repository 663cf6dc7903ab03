// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: fault injection and counters, for tests. A UNIX
 * stream socket; one command a line; the answer is one line, "ok", the
 * counters (stats, slot) or "error: why".
 *
 *   hang SLOT       the engine stops running slot SLOT and acknowledges
 *                   none of its requests (invalidation, reset, resume): a
 *                   hung context. A whole-device reset recovers it.
 *   hang all        the whole device stops: it runs nothing, acknowledges
 *                   nothing (not even a device reset), raises nothing.
 *   unhang          undoes every hang.
 *   drop-irq N      the next N interrupts are not raised (regs.irqs_dropped
 *                   counts them); what they announced is still done.
 *   delay-irq MS    interrupts are raised MS late (coalesced meanwhile).
 *   delay-inval MS  invalidations are carried out and acked MS after the
 *                   device first sees them; until then the slot runs on
 *                   with its old translations.
 *   fail-dma N      the next N data accesses of jobs (operand reads and
 *                   writes, RAM or VRAM) or copy entries fail: the job or
 *                   entry fails with -EIO, so N of them fail. Ring,
 *                   command and page-table reads are not hit.
 *   tlb-ignore on|off  invalidations are acked without dropping anything:
 *                   the device keeps stale translations (a broken TLB,
 *                   for tests that must catch one).
 *   slow-reset MS   slot and device resets are carried out and acked MS
 *                   after the device first sees them; the slot (device)
 *                   runs nothing meanwhile.
 *   clear           every injection off, hangs included.
 *   stats           one line of key=value: the counters of struct
 *                   hmpci_regs, the model's own, the injections in force.
 *   slot N          one line of key=value: slot N's device-side state and
 *                   the status of the last job it ended (which a job ended
 *                   with bus mastering off could not write to its entry).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* Take one from a fault-injection counter; false if it is 0. */
bool inject_take(uint32_t *counter)
{
	uint32_t v = LOAD_RLX(counter);

	while (v)
		if (__atomic_compare_exchange_n(counter, &v, v - 1, false,
						__ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return true;
	return false;
}

bool slot_hung(struct model *m, unsigned int slot)
{
	return (LOAD_RLX(&m->inj.hang_slots) >> slot) & 1;
}

/* A whole decimal number that fits @max, nothing else. */
static bool parse_u32(const char *s, uint32_t max, uint32_t *val)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*val = (uint32_t)v;
	return true;
}

static void stats_line(struct model *m, char *reply, size_t size)
{
	const struct hmpci_regs *r = m->regs;
	const struct model_stats *s = &m->stats;
	const struct inject *j = &m->inj;
	const struct {
		const char *key;
		uint64_t val;
	} kv[] = {
		{ "irqs", LOAD_RLX(&r->irqs) },
		{ "irqs_dropped", LOAD_RLX(&r->irqs_dropped) },
		{ "steps", LOAD_RLX(&r->steps) },
		{ "tlb_hits", LOAD_RLX(&r->tlb_hits) },
		{ "walks", LOAD_RLX(&r->walks) },
		{ "dma_errors", LOAD_RLX(&r->dma_errors) },
		{ "copies", LOAD_RLX(&r->copies) },
		{ "copy_bytes", LOAD_RLX(&r->copy_bytes) },
		{ "jobs_done", LOAD_RLX(&s->jobs_done) },
		{ "jobs_failed", LOAD_RLX(&s->jobs_failed) },
		{ "parks", LOAD_RLX(&s->parks) },
		{ "resumes", LOAD_RLX(&s->resumes) },
		{ "invals", LOAD_RLX(&s->invals) },
		{ "slot_resets", LOAD_RLX(&s->slot_resets) },
		{ "dev_resets", LOAD_RLX(&s->dev_resets) },
		{ "dma_injected", LOAD_RLX(&s->dma_injected) },
		{ "copies_failed", LOAD_RLX(&s->copies_failed) },
		{ "hang_all", LOAD_RLX(&j->hang_all) },
		{ "hang_slots", LOAD_RLX(&j->hang_slots) },
		{ "drop_irq", LOAD_RLX(&j->drop_irq) },
		{ "delay_irq_ms", LOAD_RLX(&j->delay_irq_ms) },
		{ "delay_inval_ms", LOAD_RLX(&j->delay_inval_ms) },
		{ "fail_dma", LOAD_RLX(&j->fail_dma) },
		{ "slow_reset_ms", LOAD_RLX(&j->slow_reset_ms) },
	};
	size_t i, len = 0;

	for (i = 0; i < ARRAY_SIZE(kv) && len < size; i++)
		len += snprintf(reply + len, size - len, "%s%s=%" PRIu64,
				i ? " " : "", kv[i].key, kv[i].val);
	if (len < size)
		snprintf(reply + len, size - len, "\n");
}

static void slot_line(struct model *m, unsigned int n, char *reply,
		      size_t size)
{
	static const char *const names[] = {
		[JOB_NONE] = "idle", [JOB_RUN] = "running",
		[JOB_PARKED] = "parked",
	};
	const struct slot_state *st = &m->st[n];

	snprintf(reply, size,
		 "slot=%u state=%s hung=%d last_fence=%" PRIu64
		 " last_status=%d\n",
		 n, names[LOAD_RLX(&st->state)], slot_hung(m, n),
		 (uint64_t)LOAD_RLX(&st->last_fence), LOAD_RLX(&st->last_status));
}

/* The injections that take a number: name, field, largest value. */
static uint32_t *inject_field(struct model *m, const char *name,
			      uint32_t *max)
{
	static const struct {
		const char *name;
		size_t off;
		uint32_t max;
	} knobs[] = {
		{ "drop-irq", offsetof(struct inject, drop_irq), UINT32_MAX },
		{ "fail-dma", offsetof(struct inject, fail_dma), UINT32_MAX },
		{ "delay-irq", offsetof(struct inject, delay_irq_ms), 60000 },
		{ "delay-inval", offsetof(struct inject, delay_inval_ms), 60000 },
		{ "slow-reset", offsetof(struct inject, slow_reset_ms), 60000 },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		if (!strcmp(name, knobs[i].name)) {
			*max = knobs[i].max;
			return (uint32_t *)((char *)&m->inj + knobs[i].off);
		}
	return NULL;
}

static int do_hang(struct model *m, const char *arg, char *reply,
		   size_t size)
{
	uint32_t n;

	if (arg && !strcmp(arg, "all")) {
		STORE_RLX(&m->inj.hang_all, true);
		return 0;
	}
	if (!parse_u32(arg, m->nr_slots - 1, &n)) {
		snprintf(reply, size, "error: hang takes a slot below %u or 'all'\n",
			 m->nr_slots);
		return -1;
	}
	__atomic_fetch_or(&m->inj.hang_slots, 1ULL << n, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Carry out one command line (without its newline) and write the answer
 * into @reply. Returns 0, or -1 for an error answer.
 */
int control_command(struct model *m, char *line, char *reply, size_t size)
{
	char *save, *cmd = strtok_r(line, " \t\r", &save);
	char *arg = strtok_r(NULL, " \t\r", &save);
	uint32_t *field, max, v;

	snprintf(reply, size, "ok\n");
	if (!cmd) {
		snprintf(reply, size, "error: empty command\n");
		return -1;
	}
	if (strtok_r(NULL, " \t\r", &save)) {
		snprintf(reply, size, "error: too many arguments\n");
		return -1;
	}
	if (!strcmp(cmd, "stats") && !arg) {
		stats_line(m, reply, size);
		return 0;
	}
	if (!strcmp(cmd, "slot") && parse_u32(arg, m->nr_slots - 1, &v)) {
		slot_line(m, v, reply, size);
		return 0;
	}
	field = inject_field(m, cmd, &max);
	if (!strcmp(cmd, "hang")) {
		if (do_hang(m, arg, reply, size))
			return -1;
	} else if (!strcmp(cmd, "tlb-ignore") && arg &&
		   (!strcmp(arg, "on") || !strcmp(arg, "off"))) {
		STORE_RLX(&m->inj.tlb_ignore, !strcmp(arg, "on"));
	} else if (!strcmp(cmd, "unhang") && !arg) {
		STORE_RLX(&m->inj.hang_all, false);
		STORE_RLX(&m->inj.hang_slots, 0);
	} else if (!strcmp(cmd, "clear") && !arg) {
		STORE_RLX(&m->inj.hang_all, false);
		STORE_RLX(&m->inj.hang_slots, 0);
		STORE_RLX(&m->inj.tlb_ignore, false);
		STORE_RLX(&m->inj.drop_irq, 0);
		STORE_RLX(&m->inj.fail_dma, 0);
		STORE_RLX(&m->inj.delay_irq_ms, 0);
		STORE_RLX(&m->inj.delay_inval_ms, 0);
		STORE_RLX(&m->inj.slow_reset_ms, 0);
	} else if (field) {
		if (!parse_u32(arg, max, &v)) {
			snprintf(reply, size, "error: %s takes a number up to %u\n",
				 cmd, max);
			return -1;
		}
		STORE_RLX(field, v);
	} else {
		snprintf(reply, size, "error: unknown command '%s'%s\n", cmd,
			 arg ? " or bad argument" : "");
		return -1;
	}
	/* The engine may be asleep with something now due or undone. */
	engine_wake(m);
	return 0;
}
