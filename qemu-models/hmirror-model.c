// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror-model: the hmirror PCI accelerator, as a host process behind
 * QEMU's ivshmem-doorbell device. src/kernel/hmirror_pci_hw.h is its data
 * sheet; README.md beside this file says how to run it.
 *
 *   hmirror-model --socket PATH --ram FILE [--ram FILE...] --ram-size BYTES
 *                 --lowmem BYTES
 *                 [--vram-mb N] [--slots N] [--control PATH] [--vectors N]
 *
 * It is the ivshmem server QEMU's chardev connects to
 * (docs/specs/ivshmem-spec.rst): every message is a little-endian int64,
 * some with one descriptor. To its one client it sends the protocol
 * version (0), the client's id (0), -1 with the shared memory (BAR2),
 * then its own id (1) once per vector with an eventfd QEMU writes when
 * the guest rings Doorbell (1 << 16) | vector, then the client's id once
 * per vector with an eventfd the model writes to interrupt the guest on
 * that vector. It exits 0 when QEMU disconnects, or on SIGTERM/SIGINT;
 * 2 on bad arguments, 1 if it cannot set up.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "model.h"

#define CONTROL_LINE	256

struct control_client {
	int fd;
	size_t len;
	char buf[CONTROL_LINE];
};

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void __attribute__((noreturn)) usage(const char *why)
{
	if (why)
		fprintf(stderr, "hmirror-model: %s\n", why);
	fprintf(stderr,
		"usage: hmirror-model --socket PATH --ram FILE [--ram FILE...] --ram-size BYTES\n"
		"                     --lowmem BYTES [--vram-mb N (256)] [--slots N (64)]\n"
		"                     [--control PATH] [--vectors N (1)]\n"
		"BYTES may end in K, M or G (powers of 1024). Several --ram files are\n"
		"NUMA nodes' memory, end to end; all but the last have their size already.\n");
	exit(2);
}

/* A size: decimal, hexadecimal or octal, with an optional K/M/G. */
static uint64_t parse_size(const char *opt, const char *s)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (*end == 'K' || *end == 'k')
		mult = KiB;
	else if (*end == 'M' || *end == 'm')
		mult = MiB;
	else if (*end == 'G' || *end == 'g')
		mult = GiB;
	if (mult != 1)
		end++;
	if (errno || end == s || *end || *s == '-' || v > UINT64_MAX / mult) {
		fprintf(stderr, "hmirror-model: --%s: not a size: '%s'\n", opt,
			s);
		usage(NULL);
	}
	return v * mult;
}

static uint32_t parse_count(const char *opt, const char *s, uint32_t min,
			    uint32_t max)
{
	uint64_t v = parse_size(opt, s);

	if (v < min || v > max) {
		fprintf(stderr, "hmirror-model: --%s must be %u..%u\n", opt,
			min, max);
		usage(NULL);
	}
	return (uint32_t)v;
}

static void parse_args(struct model *m, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "ram", required_argument, NULL, 'r' },
		{ "ram-size", required_argument, NULL, 'z' },
		{ "lowmem", required_argument, NULL, 'l' },
		{ "vram-mb", required_argument, NULL, 'v' },
		{ "slots", required_argument, NULL, 'n' },
		{ "control", required_argument, NULL, 'c' },
		{ "vectors", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_size = false, have_low = false;
	uint32_t vram_mb = 256;
	int c;

	m->nr_slots = HMPCI_MAX_SLOTS;
	m->vectors = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			m->socket_path = optarg;
			break;
		case 'r':
			if (m->nr_ram == MAX_RAM_FILES)
				usage("too many --ram files");
			m->ram_path[m->nr_ram++] = optarg;
			break;
		case 'z':
			m->ram_size = parse_size("ram-size", optarg);
			have_size = true;
			break;
		case 'l':
			m->lowmem = parse_size("lowmem", optarg);
			have_low = true;
			break;
		case 'v':
			vram_mb = parse_count("vram-mb", optarg, 0, 65536);
			break;
		case 'n':
			m->nr_slots = parse_count("slots", optarg, 1,
						  HMPCI_MAX_SLOTS);
			break;
		case 'c':
			m->control_path = optarg;
			break;
		case 'i':
			m->vectors = parse_count("vectors", optarg, 1,
						 MAX_VECTORS);
			break;
		case 'h':
			usage(NULL);
		default:
			usage("unknown option");
		}
	}
	if (optind < argc)
		usage("unexpected argument");
	if (!m->socket_path || !m->nr_ram || !have_size || !have_low)
		usage("--socket, --ram, --ram-size and --lowmem are required");
	if (!m->ram_size || m->ram_size % PAGE_SZ || m->lowmem % PAGE_SZ)
		usage("--ram-size and --lowmem must be multiples of 4 KiB, the size not 0");
	if (m->lowmem > m->ram_size || m->lowmem > HIGHMEM_BASE)
		usage("--lowmem must be at most --ram-size and 4 GiB");
	if (vram_mb % 2)
		usage("--vram-mb must be even: VRAM is whole 2 MiB pages");
	m->vram_size = vram_mb * MiB;
}

/* BAR2: regs and slots, then VRAM; a power of two, as a BAR must be. */
static int setup_shm(struct model *m)
{
	struct hmpci_regs *r;
	size_t size = 1;

	while (size < VRAM_OFFSET + m->vram_size)
		size <<= 1;
	m->shm_fd = memfd_create("hmirror-bar2", MFD_CLOEXEC);
	if (m->shm_fd < 0 || ftruncate(m->shm_fd, (off_t)size) < 0)
		goto fail;
	m->shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      m->shm_fd, 0);
	if (m->shm == MAP_FAILED)
		goto fail;
	m->shm_size = size;
	m->regs = r = (struct hmpci_regs *)m->shm;
	m->slots = (struct hmpci_slot *)(m->shm + HMPCI_SLOTS_OFFSET);
	m->vram = m->shm + VRAM_OFFSET;
	r->magic = HMPCI_MAGIC;
	r->version = HMPCI_VERSION;
	r->nr_slots = m->nr_slots;
	r->vram_offset = VRAM_OFFSET;
	r->vram_size = m->vram_size;
	r->doorbell_peer = 1;
	/* READY last: everything else is in place when the driver sees it. */
	STORE_REL(&r->status, HMPCI_STS_READY);
	return 0;
fail:
	fprintf(stderr, "hmirror-model: shared memory: %s\n", strerror(errno));
	return -1;
}

static int setup_eventfds(struct model *m)
{
	unsigned int v;

	m->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->wake_fd < 0)
		return -1;
	for (v = 0; v < m->vectors; v++) {
		m->doorbell_fd[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		m->irq_fd[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (m->doorbell_fd[v] < 0 || m->irq_fd[v] < 0)
			return -1;
	}
	return 0;
}

/* One protocol message: a little-endian int64 and at most one fd. */
static int send_msg(int sock, int64_t val, int fd)
{
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	uint64_t le = htole64((uint64_t)val);
	struct iovec iov = { .iov_base = &le, .iov_len = sizeof(le) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		mh.msg_control = ctl;
		mh.msg_controllen = sizeof(ctl);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == sizeof(le) ? 0 : -1;
}

/* The server side of the ivshmem-doorbell handshake. */
static int greet(struct model *m, int sock)
{
	unsigned int v;

	if (send_msg(sock, 0, -1) || send_msg(sock, 0, -1) ||
	    send_msg(sock, -1, m->shm_fd))
		return -1;
	for (v = 0; v < m->vectors; v++)
		if (send_msg(sock, 1, m->doorbell_fd[v]))
			return -1;
	for (v = 0; v < m->vectors; v++)
		if (send_msg(sock, 0, m->irq_fd[v]))
			return -1;
	return 0;
}

/* Read from a control client, answer its whole lines; -1: it is gone. */
static int control_io(struct model *m, struct control_client *c)
{
	char reply[1024], *nl;
	size_t len;
	ssize_t got;

	got = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	if (got <= 0)
		return -1;
	c->len += got;
	c->buf[c->len] = 0;
	while ((nl = strchr(c->buf, '\n'))) {
		*nl = 0;
		control_command(m, c->buf, reply, sizeof(reply));
		len = strlen(reply);
		if (send(c->fd, reply, len, MSG_NOSIGNAL) != (ssize_t)len)
			return -1;
		c->len -= nl + 1 - c->buf;
		memmove(c->buf, nl + 1, c->len + 1);
	}
	if (c->len == sizeof(c->buf) - 1) {
		static const char too_long[] = "error: line too long\n";

		c->len = 0;
		if (send(c->fd, too_long, sizeof(too_long) - 1, MSG_NOSIGNAL) < 0)
			return -1;
	}
	return 0;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "hmirror-model: socket path too long: %s\n",
			path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* A socket left by an earlier run: ours to replace. */
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0) {
		close(fd);
		goto fail;
	}
	return fd;
fail:
	fprintf(stderr, "hmirror-model: %s: %s\n", path, strerror(errno));
	return -1;
}

static int unix_accept(int lfd)
{
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/*
 * The main loop: signals, the QEMU socket (listening, then its one
 * client), the control socket and its clients. The engine thread does
 * the rest.
 */
static int serve(struct model *m, int sigfd, int qemu_lfd, int ctl_lfd)
{
	struct control_client cc[MAX_CONTROL_CLIENTS];
	struct pollfd pfd[3 + MAX_CONTROL_CLIENTS];
	int qemu = -1, fd, i, n, nc = 0;
	char junk[64];

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = qemu >= 0 ? qemu : qemu_lfd,
					  .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = ctl_lfd, .events = POLLIN };
		for (i = 0; i < nc; i++)
			pfd[3 + i] = (struct pollfd){ .fd = cc[i].fd,
						      .events = POLLIN };
		n = poll(pfd, 3 + nc, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || pfd[0].revents)
			return 0;
		if (pfd[1].revents && qemu < 0) {
			qemu = unix_accept(qemu_lfd);
			if (qemu >= 0 && greet(m, qemu))
				return 0;
			/* One client: nobody else may connect. */
			if (qemu >= 0)
				close(qemu_lfd);
		} else if (pfd[1].revents && read(qemu, junk, sizeof(junk)) <= 0) {
			return 0;	/* QEMU went away */
		}
		for (i = nc - 1; i >= 0; i--) {
			if (!pfd[3 + i].revents || !control_io(m, &cc[i]))
				continue;
			close(cc[i].fd);
			cc[i] = cc[--nc];
		}
		if (ctl_lfd >= 0 && pfd[2].revents) {
			fd = unix_accept(ctl_lfd);
			if (fd >= 0 && nc < MAX_CONTROL_CLIENTS)
				cc[nc++] = (struct control_client){ .fd = fd };
			else if (fd >= 0)
				close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	struct model model = { 0 };
	struct model *m = &model;
	int sigfd, qemu_lfd, ctl_lfd = -1, ret;
	pthread_t engine;
	sigset_t sigs;

	parse_args(m, argc, argv);
	if (bus_map_ram(m) || setup_shm(m) || setup_eventfds(m))
		return 1;
	engine_init(m);

	/* Signals come through the main loop; the engine thread takes none. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	qemu_lfd = unix_listen(m->socket_path);
	if (m->control_path)
		ctl_lfd = unix_listen(m->control_path);
	if (sigfd < 0 || qemu_lfd < 0 || (m->control_path && ctl_lfd < 0))
		return 1;
	if (pthread_create(&engine, NULL, engine_thread, m)) {
		fprintf(stderr, "hmirror-model: cannot start the engine\n");
		return 1;
	}

	ret = serve(m, sigfd, qemu_lfd, ctl_lfd);

	STORE_REL(&m->stop, true);
	engine_wake(m);
	pthread_join(engine, NULL);
	unlink(m->socket_path);
	if (m->control_path)
		unlink(m->control_path);
	return ret;
}
