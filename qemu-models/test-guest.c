// SPDX-License-Identifier: GPL-2.0
/*
 * test-guest: QEMU's side and the guest's side of test-model (see
 * test-guest.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test-guest.h"

int fail(struct guest *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(g->why, sizeof(g->why), fmt, ap);
	va_end(ap);
	return -1;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t ms_since(uint64_t t0)
{
	return (now_ns() - t0) / NSEC_PER_MSEC;
}

/* ---- QEMU's side ---------------------------------------------------------- */

static int recv_msg(int sock, struct hs_msg *msg)
{
	char ctl[CMSG_SPACE(sizeof(int))];
	uint64_t le;
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl, .msg_controllen = sizeof(ctl),
	};
	struct cmsghdr *cm;

	if (recvmsg(sock, &mh, MSG_WAITALL) != sizeof(le))
		return -1;
	msg->val = (int64_t)le64toh(le);
	msg->fd = -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&msg->fd, CMSG_DATA(cm), sizeof(int));
	return 0;
}

int unix_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t t0 = now_ns();
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* The model creates its sockets a moment after it starts. */
	while (ms_since(t0) < WAIT_MS) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		usleep(2000);
	}
	return -1;
}

/* The model with @argv; its stderr @err_fd's, unless that is -1. */
pid_t spawn(struct guest *g, const char *const *argv, int err_fd)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	/* The model must not outlive a test that dies. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0)
		_exit(126);
	execv(g->model_bin, (char *const *)argv);
	_exit(127);
}

/* @pid's wait status once it ends; -1 if not within WAIT_MS: killed. */
int wait_exit(pid_t pid)
{
	uint64_t t0 = now_ns();
	int status;

	if (pid <= 0)
		return -1;
	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (ms_since(t0) >= WAIT_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		usleep(1000);
	}
	return status;
}

/* The guest's sockets and RAM files in g->dir, named after @prefix. */
void guest_paths(struct guest *g, const char *prefix)
{
	snprintf(g->sock, sizeof(g->sock), "%.60s/%.8sqemu.sock", g->dir,
		 prefix);
	snprintf(g->ctl, sizeof(g->ctl), "%.60s/%.8scontrol.sock", g->dir,
		 prefix);
	snprintf(g->ram_path, sizeof(g->ram_path), "%.60s/%.8sram", g->dir,
		 prefix);
	snprintf(g->ram1_path, sizeof(g->ram1_path), "%.60s/%.8sram1", g->dir,
		 prefix);
}

/*
 * Guest RAM as the model maps it: the first file from 0, and with
 * ram_split the second one over the rest from there, left empty for the
 * model to grow (QEMU may create it after the model).
 */
static int map_ram(struct guest *g)
{
	uint64_t size0 = g->ram_split ? g->ram_split : RAM_SIZE;
	void *p;
	int fd;

	fd = open(g->ram_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size0) < 0)
		return fail(g, "ram file: %s", strerror(errno));
	g->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	CHECK(g, g->ram != MAP_FAILED, "mmap ram: %s", strerror(errno));
	if (!g->ram_split)
		return 0;
	fd = open(g->ram1_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	CHECK(g, fd >= 0, "second ram file: %s", strerror(errno));
	p = mmap(g->ram + g->ram_split, RAM_SIZE - g->ram_split,
		 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	close(fd);
	CHECK(g, p != MAP_FAILED, "mmap second ram file: %s", strerror(errno));
	return 0;
}

int start_model(struct guest *g)
{
	const char *argv[] = {
		g->model_bin, "--socket", g->sock, "--ram", g->ram_path,
		"--ram-size", "64M", "--lowmem", "32M", "--vram-mb", "8",
		"--slots", "8", "--control", g->ctl, "--vectors", "2",
		"--ram", g->ram1_path, NULL,
	};
	struct stat st;
	unsigned int i;

	/* Nothing yet for stop_model() to close. */
	g->pid = -1;
	g->sock_fd = -1;
	g->ctl_fd = -1;
	g->shm_fd = -1;
	for (i = 0; i < ARRAY_SIZE(g->hs); i++)
		g->hs[i].fd = -1;
	if (!g->ram_split)
		argv[ARRAY_SIZE(argv) - 3] = NULL;
	TRY(map_ram(g));
	g->pid = spawn(g, argv, -1);
	g->sock_fd = unix_connect(g->sock);
	CHECK(g, g->sock_fd >= 0, "cannot connect to %s", g->sock);
	for (i = 0; i < ARRAY_SIZE(g->hs); i++)
		CHECK(g, !recv_msg(g->sock_fd, &g->hs[i]),
		      "handshake message %u missing", i);
	g->shm_fd = g->hs[2].fd;
	CHECK(g, g->shm_fd >= 0 && !fstat(g->shm_fd, &st), "no shared memory fd");
	g->shm_size = st.st_size;
	g->shm = mmap(NULL, g->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      g->shm_fd, 0);
	CHECK(g, g->shm != MAP_FAILED, "mmap shm: %s", strerror(errno));
	g->regs = (struct hmpci_regs *)g->shm;
	g->slots = (struct hmpci_slot *)(g->shm + HMPCI_SLOTS_OFFSET);
	g->vram = g->shm + g->regs->vram_offset;
	g->ctl_fd = unix_connect(g->ctl);
	CHECK(g, g->ctl_fd >= 0, "cannot connect to %s", g->ctl);
	g->low_next = 1 * MiB;
	g->high_next = HIGHMEM_BASE;
	return 0;
}

/*
 * QEMU goes away: the model's wait status (wait_exit()). What the guest
 * has of it goes too, mappings, descriptors and files: after
 * start_model(), whether that succeeded or not.
 */
int stop_model(struct guest *g)
{
	unsigned int i;
	int status;

	if (g->sock_fd >= 0)
		close(g->sock_fd);
	status = wait_exit(g->pid);
	for (i = 0; i < ARRAY_SIZE(g->hs); i++)
		if (g->hs[i].fd >= 0)
			close(g->hs[i].fd);
	if (g->ctl_fd >= 0)
		close(g->ctl_fd);
	if (g->shm && g->shm != MAP_FAILED)
		munmap(g->shm, g->shm_size);
	if (g->ram && g->ram != MAP_FAILED)
		munmap(g->ram, RAM_SIZE);
	unlink(g->ram_path);
	if (g->ram_split)
		unlink(g->ram1_path);
	unlink(g->sock);
	unlink(g->ctl);
	return status;
}

static int doorbell_fd(struct guest *g, unsigned int v)
{
	return g->hs[3 + v].fd;
}

static int irq_fd(struct guest *g, unsigned int v)
{
	return g->hs[3 + NVEC + v].fd;
}

/* What the guest's write of (1 << 16) | v to the Doorbell makes QEMU do. */
void doorbell(struct guest *g, unsigned int v)
{
	uint64_t one = 1;

	if (write(doorbell_fd(g, v), &one, sizeof(one)) != sizeof(one))
		abort();
}

/* Wait up to @ms for interrupts; returns how many came. */
uint64_t wait_irq(struct guest *g, int ms)
{
	struct pollfd pfd[NVEC];
	uint64_t v, n = 0;
	unsigned int i;

	for (i = 0; i < NVEC; i++)
		pfd[i] = (struct pollfd){ .fd = irq_fd(g, i), .events = POLLIN };
	if (poll(pfd, NVEC, ms) <= 0)
		return 0;
	for (i = 0; i < NVEC; i++)
		if ((pfd[i].revents & POLLIN) &&
		    read(pfd[i].fd, &v, sizeof(v)) == sizeof(v))
			n += v;
	g->irqs += n;
	return n;
}

/* One control command; @reply gets the answer line. */
int control(struct guest *g, const char *cmd, char *reply, size_t size)
{
	size_t len = 0;
	ssize_t got;
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s\n", cmd);
	if (write(g->ctl_fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		return fail(g, "control: write: %s", strerror(errno));
	while (len < size - 1) {
		got = read(g->ctl_fd, reply + len, 1);
		if (got <= 0)
			return fail(g, "control: no answer to '%s'", cmd);
		if (reply[len++] == '\n')
			break;
	}
	reply[len] = 0;
	return 0;
}

/* A control command that must answer "ok". */
int inject(struct guest *g, const char *cmd)
{
	char reply[1024];

	TRY(control(g, cmd, reply, sizeof(reply)));
	CHECK(g, !strcmp(reply, "ok\n"), "control '%s': %s", cmd, reply);
	return 0;
}

/* A counter of the model's "stats" or "slot N" line; -1 if missing. */
int64_t model_stat(struct guest *g, const char *cmd, const char *key)
{
	char reply[1024], pat[64], *p;

	if (control(g, cmd, reply, sizeof(reply)))
		return -1;
	snprintf(pat, sizeof(pat), " %s=", key);
	memmove(reply + 1, reply, strlen(reply) + 1);
	reply[0] = ' ';
	p = strstr(reply, pat);
	return p ? strtoll(p + strlen(pat), NULL, 0) : -1;
}

bool slot_state_is(struct guest *g, unsigned int slot, const char *s)
{
	char cmd[32], reply[1024], want[32];

	snprintf(cmd, sizeof(cmd), "slot %u", slot);
	snprintf(want, sizeof(want), " state=%s ", s);
	return !control(g, cmd, reply, sizeof(reply)) && strstr(reply, want);
}

/* ---- the guest's memory ----------------------------------------------------- */

uint8_t *gpa_host(struct guest *g, uint64_t gpa)
{
	if (gpa < LOWMEM)
		return g->ram + gpa;
	return g->ram + LOWMEM + (gpa - HIGHMEM_BASE);
}

/* @size bytes of zeroed guest RAM, @align aligned, in the half asked. */
uint64_t alloc_gpa(struct guest *g, bool high, uint64_t size,
		   uint64_t align)
{
	uint64_t *next = high ? &g->high_next : &g->low_next;
	uint64_t end = high ? HIGHMEM_BASE + RAM_SIZE - LOWMEM : LOWMEM;
	uint64_t gpa = (*next + align - 1) & ~(align - 1);

	if (gpa + size > end) {
		fprintf(stderr, "test-model: guest RAM used up\n");
		abort();
	}
	*next = gpa + size;
	memset(gpa_host(g, gpa), 0, size);
	return gpa;
}

uint64_t alloc_page(struct guest *g, bool high)
{
	return alloc_gpa(g, high, PAGE_SZ, PAGE_SZ);
}

/*
 * The entry for @va at @level (1: the L1 leaf, 2: an L2 entry), making
 * the tables above it as needed.
 */
uint64_t *pt_entry(struct guest *g, struct ctx *c, uint64_t va,
		   int level)
{
	uint64_t table = c->root, *e;
	int l;

	for (l = 4; ; l--) {
		e = (uint64_t *)gpa_host(g, table) + ((va >> (12 + 9 * (l - 1))) & 511);
		if (l == level)
			return e;
		if (!(*e & HMPCI_DIR_VALID))
			STORE_REL(e, alloc_page(g, c->high) | HMPCI_DIR_VALID);
		table = *e & HMPCI_ADDR_MASK;
	}
}

void map_page(struct guest *g, struct ctx *c, uint64_t va,
	      uint64_t pa, uint64_t flags)
{
	STORE_REL(pt_entry(g, c, va, 1), pa | flags);
}

/* Fresh pages for [va, va + len), contiguous in RAM: their host address. */
uint8_t *map_buf(struct guest *g, struct ctx *c, uint64_t va,
		 uint64_t len, uint64_t flags)
{
	uint64_t gpa, off;

	len = (len + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
	gpa = alloc_gpa(g, c->high, len, PAGE_SZ);
	for (off = 0; off < len; off += PAGE_SZ)
		map_page(g, c, va + off, gpa + off, flags);
	return gpa_host(g, gpa);
}

/* ---- contexts and jobs ------------------------------------------------------ */

struct hmpci_slot *hslot(struct guest *g, struct ctx *c)
{
	return &g->slots[c->slot];
}

/* Bump a request counter, ring, and wait for its ack. */
int request(struct guest *g, uint32_t *req, uint32_t *ack,
	    const char *what)
{
	uint32_t want = LOAD_RLX(req) + 1;

	STORE_REL(req, want);
	doorbell(g, 0);
	WAIT_FOR(g, LOAD_ACQ(ack) == want, WAIT_MS);
	CHECK(g, LOAD_ACQ(ack) == want, "%s not acked", what);
	return 0;
}

/* A slot request with its arguments: (start, end), (status, value). */
int slot_request(struct guest *g, struct ctx *c, enum slot_req kind,
		 uint64_t a, uint64_t b)
{
	struct hmpci_slot *s = hslot(g, c);

	switch (kind) {
	case REQ_RESET:
		return request(g, &s->reset_req, &s->reset_ack, "slot reset");
	case REQ_INVAL:
		STORE_RLX(&s->inval_start, a);
		STORE_RLX(&s->inval_end, b);
		return request(g, &s->inval_req, &s->inval_ack, "invalidation");
	case REQ_RESUME:
		STORE_RLX(&s->resume_status, (int32_t)a);
		STORE_RLX(&s->resume_value, b);
		return request(g, &s->resume_req, &s->resume_ack, "resume");
	}
	return fail(g, "bad request");
}

/* Set a slot up as a driver would: disabled, programmed, reset, enabled. */
int ctx_new(struct guest *g, struct ctx *c, unsigned int slot,
	    uint32_t preempt, bool high)
{
	struct hmpci_slot *s = &g->slots[slot];

	*c = (struct ctx){ .slot = slot, .high = high };
	STORE_REL(&s->enable, 0);
	c->root = alloc_page(g, high);
	c->ring = alloc_gpa(g, high, RING * sizeof(struct hmpci_job), PAGE_SZ);
	STORE_RLX(&s->pt_root, c->root);
	STORE_RLX(&s->ring, c->ring);
	STORE_RLX(&s->ring_size, RING);
	STORE_RLX(&s->preempt, preempt);
	STORE_REL(&s->ring_tail, 0);
	TRY(slot_request(g, c, REQ_RESET, 0, 0));
	CHECK(g, LOAD_ACQ(&s->ring_head) == 0, "ring_head %u after reset",
	      s->ring_head);
	STORE_REL(&s->enable, 1);
	return 0;
}

struct hmpci_job *entry(struct guest *g, struct ctx *c, uint32_t idx)
{
	return (struct hmpci_job *)gpa_host(g, c->ring) + (idx & (RING - 1));
}

/*
 * Queue a job of @n commands laid out @stride bytes apart (the first
 * @stride bytes of each, if that is less than the struct), ring the
 * doorbell's @vector; returns its ring index.
 */
uint32_t submit_job(struct guest *g, struct ctx *c,
		    const struct hmirror_cmd *cmds, unsigned int n,
		    unsigned int vector, uint16_t stride)
{
	uint64_t gpa = alloc_gpa(g, c->high, (uint64_t)n * stride + 1, 64);
	struct hmpci_job *e = entry(g, c, c->tail);
	unsigned int i;

	for (i = 0; i < n; i++)
		memcpy(gpa_host(g, gpa + (uint64_t)i * stride), &cmds[i],
		       stride < sizeof(*cmds) ? stride : sizeof(*cmds));
	*e = (struct hmpci_job){
		.fence = ++g->fence, .cmds = gpa, .nr_cmds = n,
		.cmd_size = stride,
	};
	STORE_REL(&hslot(g, c)->ring_tail, ++c->tail);
	doorbell(g, vector);
	return c->tail - 1;
}

uint32_t submit(struct guest *g, struct ctx *c,
		const struct hmirror_cmd *cmds, unsigned int n)
{
	return submit_job(g, c, cmds, n, 0, sizeof(*cmds));
}

bool job_done(struct guest *g, struct ctx *c, uint32_t idx)
{
	return LOAD_ACQ(&entry(g, c, idx)->flags) & HMPCI_JOB_DONE;
}

/* The job's status, or JOB_TIMEOUT. */
int wait_job(struct guest *g, struct ctx *c, uint32_t idx)
{
	WAIT_FOR(g, job_done(g, c, idx), WAIT_MS);
	return job_done(g, c, idx) ? entry(g, c, idx)->status : JOB_TIMEOUT;
}

static int run(struct guest *g, struct ctx *c, const struct hmirror_cmd *cmds,
	       unsigned int n)
{
	return wait_job(g, c, submit(g, c, cmds, n));
}

/* Run a job that must succeed. */
int run_ok(struct guest *g, struct ctx *c,
	   const struct hmirror_cmd *cmds, unsigned int n)
{
	int st = run(g, c, cmds, n);

	CHECK(g, st == 0, "job status %d, expected 0", st);
	return 0;
}

int run_expect(struct guest *g, struct ctx *c,
	       const struct hmirror_cmd *cmds, unsigned int n, int want)
{
	int st = run(g, c, cmds, n);

	CHECK(g, st == want, "job status %d, expected %d", st, want);
	return 0;
}

bool all_bytes(const uint8_t *p, uint64_t len, uint8_t v)
{
	while (len--)
		if (*p++ != v)
			return false;
	return true;
}

void pattern(uint8_t *p, uint64_t len, unsigned int seed)
{
	uint64_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 8));
}

/* The parked job's fault as the slot reports it. */
int wait_park(struct guest *g, struct ctx *c, uint32_t seq0,
	      uint32_t flags, uint64_t addr)
{
	struct hmpci_slot *s = hslot(g, c);

	WAIT_FOR(g, LOAD_ACQ(&s->fault_seq) != seq0, WAIT_MS);
	CHECK(g, LOAD_ACQ(&s->fault_seq) == seq0 + 1, "no park (fault_seq %u)",
	      s->fault_seq);
	CHECK(g, s->fault_flags == flags, "fault_flags %#x, expected %#x",
	      s->fault_flags, flags);
	CHECK(g, s->fault_addr == addr, "fault_addr %#llx, expected %#llx",
	      (unsigned long long)s->fault_addr, (unsigned long long)addr);
	CHECK(g, s->fault_fence == g->fence, "fault_fence %llu",
	      (unsigned long long)s->fault_fence);
	return 0;
}

/* ---- the copy engine -------------------------------------------------------- */

/*
 * A fresh ring of @size entries, programmed as a driver would while no
 * entry is pending: a test that failed may have left some, which a device
 * reset drops first.
 */
int cring_new(struct guest *g, struct cring *r, uint32_t size, bool high)
{
	struct hmpci_regs *regs = g->regs;

	if (LOAD_ACQ(&regs->copy_head) != LOAD_ACQ(&regs->copy_tail))
		TRY(request(g, &regs->reset_req, &regs->reset_ack,
			    "device reset"));
	*r = (struct cring){
		.gpa = alloc_gpa(g, high, size * sizeof(struct hmpci_copy),
				 PAGE_SZ),
		.size = size,
		.tail = LOAD_RLX(&regs->copy_tail),
	};
	STORE_RLX(&regs->copy_ring, r->gpa);
	STORE_RLX(&regs->copy_ring_size, size);
	return 0;
}

struct hmpci_copy *cring_entry(struct guest *g, struct cring *r,
			       uint32_t idx)
{
	return (struct hmpci_copy *)gpa_host(g, r->gpa) + (idx & (r->size - 1));
}

/* Queue an entry (no doorbell: a test may queue several); its index. */
uint32_t copy_put(struct guest *g, struct cring *r, uint64_t dst,
		  uint64_t src, uint32_t len, uint32_t flags)
{
	*cring_entry(g, r, r->tail) = (struct hmpci_copy){
		.src = src, .dst = dst, .len = len, .flags = flags,
	};
	STORE_REL(&g->regs->copy_tail, ++r->tail);
	return r->tail - 1;
}

/* Has copy_head moved past entry @idx (free-running indices)? */
bool copy_passed(struct guest *g, uint32_t idx)
{
	return (int32_t)(LOAD_ACQ(&g->regs->copy_head) - idx) > 0;
}

bool copy_done(struct guest *g, struct cring *r, uint32_t idx)
{
	return LOAD_ACQ(&cring_entry(g, r, idx)->flags) & HMPCI_COPY_DONE;
}

/*
 * The entry's status once copy_head is past it (the entry is the
 * device's until then), or JOB_TIMEOUT: not passed in time, or passed
 * without DONE.
 */
int wait_copy(struct guest *g, struct cring *r, uint32_t idx)
{
	WAIT_FOR(g, copy_passed(g, idx), WAIT_MS);
	if (!copy_passed(g, idx) || !copy_done(g, r, idx))
		return JOB_TIMEOUT;
	return cring_entry(g, r, idx)->status;
}

/* One entry, the doorbell, its status. */
int copy_run(struct guest *g, struct cring *r, uint64_t dst, uint64_t src,
	     uint32_t len, uint32_t flags)
{
	uint32_t idx = copy_put(g, r, dst, src, len, flags);

	doorbell(g, 0);
	return wait_copy(g, r, idx);
}
