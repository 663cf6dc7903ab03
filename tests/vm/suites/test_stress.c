// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Guest suite: stress. For a bounded time, threads and processes submit,
 * wait, munmap, mprotect, mremap, madvise, fork, move pages between NUMA
 * nodes, migrate to and from device memory and open and close contexts,
 * all at once on shared buffers; every lane of data is checked by
 * checksum, through the device and by the CPU, against what its owner
 * knows it must hold.
 *
 *   HMIRROR_STRESS_SECS=N   how long (default 8 s; longer runs by hand)
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "guest.h"

#define PG 4096UL
#define MiB (1UL << 20)
#define LANE (2 * MiB)
#define NR_LANES 8
#define MPOL_MF_MOVE (1 << 1)

struct lane {
	uint8_t *p;
	uint8_t model;		/* every byte holds it (0 after a zap) */
	pthread_mutex_t lock;	/* the owner's changes of mapping */
};

struct stress {
	struct lane lanes[NR_LANES];
	atomic_int stop;
	unsigned int nodes;
	/* Outcomes, for the checks and the report. */
	atomic_ulong jobs, checks, zaps, remaps, moves, migrations, forks,
		     opens, bad;
	uint8_t *scratch;	/* where lanes are mremapped to and back */
};

static uint64_t secs_env(void)
{
	const char *v = getenv("HMIRROR_STRESS_SECS");

	return v && *v ? strtoull(v, NULL, 0) : 8;
}

static unsigned int rnd(unsigned int *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return (*seed >> 16) & 0x7fff;
}

static unsigned int numa_nodes(void)
{
	unsigned int n = 0;
	char path[64];

	for (;; n++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%u", n);
		if (!guest_path_exists(path))
			return n ? n : 1;
	}
}

static void bad(struct stress *s, const char *what, unsigned int lane,
		long v)
{
	atomic_fetch_add(&s->bad, 1);
	printf("# stress: lane %u: %s (%ld)\n", lane, what, v);
	fflush(stdout);
}

/*
 * A CPU access to a lane that faults (SIGBUS: a device page that could
 * not come home) kills the process; say where first, in a line the
 * report cannot lose (cmocka's own handler would longjmp out of a
 * worker thread).
 */
static void fatal_signal(int sig, siginfo_t *si, void *uc)
{
	char line[96];
	int n;

	(void)uc;
	n = snprintf(line, sizeof(line), "# stress (pid %d): signal %d at %p\n",
		     getpid(), sig, si->si_addr);
	if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) < 0)
		n = 0;
	_exit(3);
}

static void fatal_signals_catch(void)
{
	struct sigaction sa = { .sa_sigaction = fatal_signal,
				.sa_flags = SA_SIGINFO };

	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

/*
 * A context for a thread: cmocka's asserts belong to the main thread, so
 * failures here are counted, not asserted. -1 on failure.
 */
static int ctx_open(struct stress *s, unsigned int dev, unsigned int cls,
		    uint32_t deadline_ms)
{
	struct hmirror_ctx_config c = {
		.set = HMIRROR_CFG_PREEMPT | HMIRROR_CFG_DEADLINE,
		.preempt = cls, .deadline_ms = deadline_ms,
	};
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/dev/hmirror%u", dev);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || hm_config(fd, &c)) {
		bad(s, "context open", dev, errno);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* ---- workers: one lane each, the only one that writes it -------------- */

struct worker {
	struct stress *s;
	unsigned int lane, dev, cls;
};

/*
 * Run a job, again while the kernel says the memory kept changing under
 * its fault (-EBUSY, after a second of retries): the mutators here can
 * keep a chunk changing that long in a slow guest.
 */
static int run_retry(int fd, const struct hmirror_cmd *c)
{
	int ret, tries = 0;

	while ((ret = hm_run(fd, c, 1)) == -EBUSY && ++tries < 20)
		;
	return ret;
}

/* CRC32C of the lane by a job, and by the CPU, against the model. */
static void lane_check(struct stress *s, int fd, struct lane *l,
		       unsigned int i, uint32_t *out)
{
	uint8_t ref[64];
	uint32_t want;
	struct hmirror_cmd c = { .op = HMIRROR_OP_CRC32C, .dst = (uintptr_t)out,
		.src = (uintptr_t)l->p, .len = LANE, .value = ~0U };
	int ret;

	memset(ref, l->model, sizeof(ref));
	want = ~0U;
	for (size_t off = 0; off < LANE; off += sizeof(ref))
		want = hm_crc32c(want, ref, sizeof(ref));
	ret = run_retry(fd, &c);
	if (ret)
		bad(s, "CRC32C job failed", i, ret);
	else if (*out != want)
		bad(s, "device sees other data than the CPU wrote", i, *out);
	for (size_t off = 0; off < LANE; off += PG)
		if (l->p[off] != l->model || l->p[off + PG - 1] != l->model) {
			bad(s, "CPU sees other data than the device wrote", i,
			    l->p[off]);
			break;
		}
	atomic_fetch_add(&s->checks, 1);
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct stress *s = w->s;
	struct lane *l = &s->lanes[w->lane];
	unsigned int seed = w->lane * 7919 + 1;
	uint32_t *out = mmap(NULL, PG, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct hmirror_cmd c;
	int fd = ctx_open(s, w->dev, w->cls, 10000), ret;

	if (fd < 0 || out == MAP_FAILED) {
		bad(s, "worker set-up", w->lane, errno);
		return NULL;
	}
	while (!atomic_load(&s->stop)) {
		switch (rnd(&seed) % 10) {
		case 0 ... 3: {
			uint8_t v = (uint8_t)(rnd(&seed) | 1);

			c = hm_fill(l->p, v, LANE);
			pthread_mutex_lock(&l->lock);
			ret = run_retry(fd, &c);
			if (ret)
				bad(s, "FILL job failed", w->lane, ret);
			else
				l->model = v;
			pthread_mutex_unlock(&l->lock);
			atomic_fetch_add(&s->jobs, 1);
			break;
		}
		case 4 ... 6:
			lane_check(s, fd, l, w->lane, out);
			break;
		case 7:
			/*
			 * The owner zaps its lane, or maps new memory over it
			 * (an unmap, without a hole another thread's mmap
			 * could take): zeros from now on.
			 */
			pthread_mutex_lock(&l->lock);
			if (rnd(&seed) % 2 ?
			    madvise(l->p, LANE, MADV_DONTNEED) :
			    mmap(l->p, LANE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				 0) != l->p)
				bad(s, "madvise or mmap", w->lane, errno);
			l->model = 0;
			pthread_mutex_unlock(&l->lock);
			atomic_fetch_add(&s->zaps, 1);
			break;
		case 8: {
			/* Away and back: the same data at the same address. */
			uint8_t *tmp = s->scratch + w->lane * LANE, *p;

			pthread_mutex_lock(&l->lock);
			p = mremap(l->p, LANE, LANE, MREMAP_MAYMOVE | MREMAP_FIXED,
				   tmp);
			if (p != tmp)
				bad(s, "mremap away", w->lane, errno);
			p = mremap(tmp, LANE, LANE, MREMAP_MAYMOVE | MREMAP_FIXED,
				   l->p);
			if (p != l->p)
				bad(s, "mremap back", w->lane, errno);
			pthread_mutex_unlock(&l->lock);
			atomic_fetch_add(&s->remaps, 1);
			break;
		}
		default:
			/* A job that runs a while, under whatever comes. */
			c = (struct hmirror_cmd){ .op = HMIRROR_OP_DELAY,
						  .aux = 200 + rnd(&seed) % 2000 };
			ret = hm_run(fd, &c, 1);
			if (ret)
				bad(s, "DELAY job failed", w->lane, ret);
		}
	}
	lane_check(s, fd, l, w->lane, out);
	close(fd);
	munmap(out, PG);
	return NULL;
}

/* ---- mutators: anything that keeps the data where it is -------------- */

static void *mutator_fn(void *arg)
{
	struct stress *s = arg;
	unsigned int seed = 4242, i;
	int wstatus = 0;
	int fd[2] = { ctx_open(s, 0, HMIRROR_PREEMPT_PAGE, 1000),
		      ctx_open(s, 1, HMIRROR_PREEMPT_PAGE, 1000) };
	uint8_t *own = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (fd[0] < 0 || fd[1] < 0 || own == MAP_FAILED)
		return NULL;

	while (!atomic_load(&s->stop)) {
		struct lane *l = &s->lanes[i = rnd(&seed) % NR_LANES];

		switch (rnd(&seed) % 6) {
		case 0:
			/* Same rights, new VMA flags: the notifiers fire. */
			mprotect(l->p, LANE, PROT_READ | PROT_WRITE | PROT_EXEC);
			mprotect(l->p, LANE, PROT_READ | PROT_WRITE);
			break;
		case 1: {
			void *pages[64];
			int nodes[64], status[64];

			if (s->nodes < 2)
				break;
			for (unsigned int k = 0; k < 64; k++) {
				pages[k] = l->p + (rnd(&seed) % (LANE / PG)) * PG;
				nodes[k] = (int)(rnd(&seed) % s->nodes);
			}
			/* >= 0: done, but for that many pages that stayed. */
			if (syscall(SYS_move_pages, 0, 64, pages, nodes, status,
				    MPOL_MF_MOVE) >= 0)
				atomic_fetch_add(&s->moves, 1);
			else if (errno != ENOENT && errno != EFAULT)
				bad(s, "move_pages", i, errno);
			break;
		}
		case 2:
		case 3: {
			/* To one device or the other, or home; may race a job. */
			unsigned int d = rnd(&seed) % 2;

			hm_migrate(fd[d], l->p + (rnd(&seed) % 8) * (LANE / 8),
				   LANE / 8, rnd(&seed) % 3 ?
				   HMIRROR_MIGRATE_TO_DEVICE :
				   HMIRROR_MIGRATE_TO_SYSTEM, NULL, NULL, NULL);
			atomic_fetch_add(&s->migrations, 1);
			break;
		}
		case 4: {
			/*
			 * A child reads some lanes (copy on write) and goes. A
			 * lane its owner had moved away (mremap) when it forked
			 * is a hole in its copy: mincore() tells, and the
			 * child, single-threaded, sees no other change.
			 */
			pid_t pid = fork();

			if (pid == 0) {
				volatile uint8_t sum = 0;
				unsigned char vec;

				for (unsigned int k = 0; k < NR_LANES; k++)
					if (!mincore(s->lanes[k].p + k * PG, PG,
						     &vec))
						sum += s->lanes[k].p[k * PG];
				(void)sum;
				_exit(0);
			}
			if (pid < 0)
				bad(s, "fork", i, errno);
			else if (waitpid(pid, &wstatus, 0) != pid ||
				 !WIFEXITED(wstatus) || WEXITSTATUS(wstatus))
				bad(s, "fork child failed", i, wstatus);
			atomic_fetch_add(&s->forks, 1);
			break;
		}
		default: {
			/* A context that comes, starts a job and goes. */
			int f = ctx_open(s, rnd(&seed) % 2, rnd(&seed) % 2, 1000);
			struct hmirror_cmd c = hm_fill(own, 1, 64 * 1024);

			if (f < 0)
				break;
			hm_submit(f, &c, 1, NULL);
			close(f);
			atomic_fetch_add(&s->opens, 1);
		}
		}
	}
	close(fd[0]);
	close(fd[1]);
	munmap(own, 64 * 1024);
	return NULL;
}

/* One process's share: lanes, workers and a mutator for @secs. */
static unsigned long stress_run(uint64_t secs, unsigned int first_dev)
{
	static struct worker w[NR_LANES];
	struct stress *s = calloc(1, sizeof(*s));
	pthread_t tw[NR_LANES], tm;
	uint8_t *base;
	unsigned long nbad;

	if (!s)
		return 1;
	fflush(stdout);
	fatal_signals_catch();
	s->nodes = numa_nodes();
	base = mmap(NULL, NR_LANES * LANE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	s->scratch = mmap(NULL, NR_LANES * LANE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED || s->scratch == MAP_FAILED)
		return 1;
	for (unsigned int i = 0; i < NR_LANES; i++) {
		struct lane *l = &s->lanes[i];

		l->p = base + i * LANE;
		/* Half the lanes as THPs: splits and collapses come too. */
		madvise(l->p, LANE, i % 2 ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		l->model = (uint8_t)(0x10 + i);
		memset(l->p, l->model, LANE);
		pthread_mutex_init(&l->lock, NULL);
		w[i] = (struct worker){ .s = s, .lane = i,
			.dev = (first_dev + i) % 2,
			.cls = i % 3 == 2 ? HMIRROR_PREEMPT_NONE :
			       HMIRROR_PREEMPT_PAGE };
		if (pthread_create(&tw[i], NULL, worker_fn, &w[i]))
			return 1;
	}
	if (pthread_create(&tm, NULL, mutator_fn, s))
		return 1;
	sleep((unsigned int)secs);
	atomic_store(&s->stop, 1);
	for (unsigned int i = 0; i < NR_LANES; i++)
		pthread_join(tw[i], NULL);
	pthread_join(tm, NULL);

	printf("# stress (pid %d, %u node%s): %lu jobs, %lu checks, %lu zaps, %lu remaps, %lu NUMA moves, %lu migrations, %lu forks, %lu contexts, %lu bad\n",
	       getpid(), s->nodes, s->nodes == 1 ? "" : "s",
	       atomic_load(&s->jobs), atomic_load(&s->checks),
	       atomic_load(&s->zaps), atomic_load(&s->remaps),
	       atomic_load(&s->moves), atomic_load(&s->migrations),
	       atomic_load(&s->forks), atomic_load(&s->opens),
	       atomic_load(&s->bad));
	fflush(stdout);
	/* Each kind of change really happened, or the run proves little. */
	nbad = atomic_load(&s->bad);
	if (!atomic_load(&s->checks) || !atomic_load(&s->zaps) ||
	    !atomic_load(&s->remaps) || !atomic_load(&s->migrations) ||
	    !atomic_load(&s->forks) || !atomic_load(&s->opens) ||
	    (s->nodes > 1 && !atomic_load(&s->moves)))
		nbad++;
	munmap(base, NR_LANES * LANE);
	munmap(s->scratch, NR_LANES * LANE);
	free(s);
	return nbad;
}

/*
 * Everything at once, in this process and in a second one (its own mm,
 * the same devices): no lane may ever read back other than its owner
 * wrote, through the device or the CPU, and no job may fail.
 */
static void test_stress(void **state)
{
	uint64_t secs = secs_env();
	char arg[32];
	int status;
	pid_t pid;

	(void)state;
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A process of its own, without this one's test state. */
		snprintf(arg, sizeof(arg), "%llu", (unsigned long long)secs);
		execl("/proc/self/exe", "test_stress", "--child", arg,
		      (char *)NULL);
		_exit(99);
	}
	assert_int_equal(stress_run(secs, 0), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress),
	};

	if (argc == 3 && !strcmp(argv[1], "--child"))
		return stress_run(strtoull(argv[2], NULL, 0), 1) ? 1 : 0;
	guest_suite_setup();
	return cmocka_run_group_tests_name("stress", tests, hm_suite_up,
					   hm_suite_down);
}
