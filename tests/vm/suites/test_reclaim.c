// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * Guest suite: hmirror-reclaim, the memory-pressure experiment tool. Runs
 * short experiments in a cgroup whose memory.max is below the working set
 * and checks what they recorded: a CSV with the header and enough rows,
 * counters that never go down, reclaim that happened, invalidations when
 * the working set is mirrored and none when it is not, an escalation and
 * a killed owner with --misbehave, a valid SVG, a clear "not made" without
 * gnuplot, and bad input refused with status 2 and nothing left behind.
 *
 * The working set is a file in the run's results folder, a 9p share
 * without cache, whose backing device has read-ahead off: each fault
 * would read one page through 9p. The suite turns read-ahead on (2 MiB)
 * for the experiments and restores it after.
 */
#include <dirent.h>
#include <glob.h>
#include <math.h>
#include <sys/wait.h>

#include "guest.h"

#define MAX_COLS	64
#define MAX_ROWS	4096

/* One experiment's CSV: names, and each field as a number (NAN: empty). */
struct csv {
	int ncols, nrows;
	char *name[MAX_COLS];
	double *v[MAX_ROWS];
	char header[2048];
};

static char tool[PATH_MAX + 64];
static char out[PATH_MAX];		/* results of this suite's runs */
static glob_t bdis;
static char saved_ra[64][16];

static const char *rundir(void)
{
	const char *d = getenv("hmvm_rundir");

	return d && *d ? d : "/tmp";
}

static int suite_up(void **state)
{
	char self[PATH_MAX], *slash;
	ssize_t n;
	size_t i;

	(void)state;
	hm_module_up("inval_deadline_ms=1000");
	/* The tool is built next to this suite: build/tests/vm/.. /tools. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	assert_non_null(slash);
	*slash = '\0';
	snprintf(tool, sizeof(tool), "%s/../../tools/hmirror-reclaim", self);
	assert_int_equal(access(tool, X_OK), 0);
	snprintf(out, sizeof(out), "%s/reclaim-suite", rundir());
	mkdir(out, 0755);
	assert_true(guest_path_exists(out));
	if (!glob("/sys/class/bdi/*/read_ahead_kb", 0, NULL, &bdis)) {
		for (i = 0; i < bdis.gl_pathc && i < 64; i++) {
			FILE *f = fopen(bdis.gl_pathv[i], "r");

			saved_ra[i][0] = '\0';
			if (f) {
				if (!fgets(saved_ra[i], sizeof(saved_ra[i]), f))
					saved_ra[i][0] = '\0';
				fclose(f);
			}
			guest_write_file(bdis.gl_pathv[i], "2048");
		}
	}
	return 0;
}

static int suite_down(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < bdis.gl_pathc && i < 64; i++)
		if (saved_ra[i][0])
			guest_write_file(bdis.gl_pathv[i], saved_ra[i]);
	globfree(&bdis);
	hm_module_down();
	return 0;
}

/*
 * Run the tool with @args (NULL-terminated) and, if @path_env, that PATH;
 * stdout and stderr go to OUT/NAME.out and OUT/NAME.err. Returns the exit
 * status, or 128 + the signal.
 */
static int run_tool(const char *name, const char *const *args,
		    const char *path_env)
{
	char o[PATH_MAX + 64], e[PATH_MAX + 64];
	const char *argv[48];
	int i = 0, st, fd;
	pid_t pid;

	argv[i++] = tool;
	while (*args && i < 46)
		argv[i++] = *args++;
	argv[i] = NULL;
	snprintf(o, sizeof(o), "%s/%s.out", out, name);
	snprintf(e, sizeof(e), "%s/%s.err", out, name);
	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		fd = open(o, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 1);
		fd = open(e, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fd, 2);
		if (path_env)
			setenv("PATH", path_env, 1);
		execv(tool, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/* Print a file of the run as TAP comments: what the tool said. */
static void show(const char *name, const char *ext)
{
	char p[PATH_MAX + 64], line[1024];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s.%s", out, name, ext);
	f = fopen(p, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("# %s.%s: %s", name, ext, line);
	fclose(f);
}

static void csv_load(const char *name, struct csv *c)
{
	char p[PATH_MAX + 64], line[4096], *tok, *save, *s;
	FILE *f;
	int i;

	memset(c, 0, sizeof(*c));
	snprintf(p, sizeof(p), "%s/%s.csv", out, name);
	f = fopen(p, "r");
	if (!f)
		fail_msg("%s: %s", p, strerror(errno));
	assert_non_null(fgets(c->header, sizeof(c->header), f));
	c->header[strcspn(c->header, "\n")] = '\0';
	s = strdup(c->header);
	assert_non_null(s);
	for (tok = strtok_r(s, ",", &save); tok && c->ncols < MAX_COLS;
	     tok = strtok_r(NULL, ",", &save))
		c->name[c->ncols++] = tok;
	while (fgets(line, sizeof(line), f) && c->nrows < MAX_ROWS) {
		double *v = calloc(c->ncols, sizeof(*v));
		char *q = line;

		assert_non_null(v);
		/* strsep keeps empty fields, which mean "unknown". */
		for (i = 0; i < c->ncols; i++) {
			char *field = strsep(&q, ",\n");

			v[i] = field && *field ? strtod(field, NULL) : NAN;
		}
		c->v[c->nrows++] = v;
	}
	fclose(f);
}

static void csv_free(struct csv *c)
{
	int i;

	for (i = 0; i < c->nrows; i++)
		free(c->v[i]);
	if (c->ncols)
		free(c->name[0]);
}

static int csv_col(const struct csv *c, const char *name)
{
	int i;

	for (i = 0; i < c->ncols; i++)
		if (!strcmp(c->name[i], name))
			return i;
	fail_msg("the CSV has no column '%s' (header: %s)", name, c->header);
	return -1;
}

static double first(const struct csv *c, const char *name)
{
	return c->v[0][csv_col(c, name)];
}

static double last(const struct csv *c, const char *name)
{
	return c->v[c->nrows - 1][csv_col(c, name)];
}

/* A counter: present in every row and never smaller than the row before. */
static void assert_monotonic(const struct csv *c, const char *name)
{
	int k = csv_col(c, name), i;

	for (i = 0; i < c->nrows; i++) {
		if (isnan(c->v[i][k]))
			fail_msg("%s is empty in row %d", name, i + 1);
		if (i && c->v[i][k] < c->v[i - 1][k])
			fail_msg("counter %s went down: row %d %.0f, row %d %.0f",
				 name, i, c->v[i - 1][k], i + 1, c->v[i][k]);
	}
}

static const char *const counters[] = {
	"pgscan", "pgsteal", "refault_anon", "refault_file",
	"psi_some_total_us", "psi_full_total_us", "ev_low", "ev_high",
	"ev_max", "ev_oom", "ev_oom_kill", "passes", "cpu_chunks", "dev_jobs",
	"jobs_submitted", "jobs_completed", "jobs_failed", "jobs_cancelled",
	"pages_faulted", "inval_blockable", "inval_nonblock", "inval_refused",
	"inval_waits", "wait_h0", "wait_h1", "wait_h2", "wait_h3", "wait_h4",
	"wait_h5", "wait_h6", "wait_h7", "escalations",
};

/* What every experiment's output must be, whatever it measured. */
static void check_common(const char *name, struct csv *c, double duration_s,
			 unsigned int interval_ms)
{
	char p[PATH_MAX + 64], para[8192];
	int i, t = 0, min_rows = (int)(duration_s * 1000 / interval_ms / 2);
	size_t n;
	FILE *f;
	glob_t g;

	csv_load(name, c);
	assert_true(!strncmp(c->header, "t_s,mem_current,anon,file,pgscan,", 33));
	if (c->nrows < min_rows)
		fail_msg("%d rows, want at least %d", c->nrows, min_rows);
	t = csv_col(c, "t_s");
	for (i = 1; i < c->nrows; i++)
		assert_true(c->v[i][t] > c->v[i - 1][t]);
	for (i = 0; i < (int)(sizeof(counters) / sizeof(*counters)); i++)
		assert_monotonic(c, counters[i]);
	/* The result of every device job and CPU chunk was checked. */
	assert_true(last(c, "data_errors") == 0);
	/* The summary: one paragraph with the key numbers. */
	snprintf(p, sizeof(p), "%s/%s.txt", out, name);
	f = fopen(p, "r");
	assert_non_null(f);
	n = fread(para, 1, sizeof(para) - 1, f);
	fclose(f);
	para[n] = '\0';
	assert_true(n > 200);
	assert_non_null(strstr(para, "peak pgscan rate"));
	assert_non_null(strstr(para, "PSI memory some avg"));
	assert_non_null(strstr(para, "invalidations ("));
	assert_non_null(strstr(para, "mean wait"));
	assert_non_null(strstr(para, "escalations"));
	assert_true(strchr(para, '\n') == para + n - 1);
	/* Nothing of the run is left: no cgroup, no working-set file. */
	snprintf(p, sizeof(p), "/sys/fs/cgroup/hmirror-reclaim-%s-*", name);
	assert_int_equal(glob(p, 0, NULL, &g), GLOB_NOMATCH);
	snprintf(p, sizeof(p), "%s/.%s-*.ws", out, name);
	assert_int_equal(glob(p, GLOB_PERIOD, NULL, &g), GLOB_NOMATCH);
}

/* Reclaim happened: the limit is below the working set. */
static void check_reclaim(const struct csv *c)
{
	double scanned = last(c, "pgscan") - first(c, "pgscan");

	printf("# pgscan grew by %.0f, pgsteal by %.0f, memory.events max by %.0f\n",
	       scanned, last(c, "pgsteal") - first(c, "pgsteal"),
	       last(c, "ev_max") - first(c, "ev_max"));
	assert_true(scanned > 0);
	assert_true(last(c, "pgsteal") > first(c, "pgsteal"));
	assert_true(last(c, "ev_max") > first(c, "ev_max"));
	/* PSI: the test kernel has it, and reclaim stalls show there. */
	assert_false(isnan(last(c, "psi_some_total_us")));
	assert_true(last(c, "psi_some_total_us") > first(c, "psi_some_total_us"));
}

#define EXPERIMENT(...) ((const char *const[]){ "--limit", "24M", "--wss", \
	"48M", "--interval", "200", "--out", out, "--quiet", __VA_ARGS__, NULL })

static void test_mirrored(void **state)
{
	struct csv c;
	int rc;

	(void)state;
	rc = run_tool("mirrored", EXPERIMENT("--mirrored", "1", "--duration", "4",
					     "--name", "mirrored"), NULL);
	show("mirrored", "err");
	show("mirrored", "txt");
	assert_int_equal(rc, 0);
	check_common("mirrored", &c, 4, 200);
	check_reclaim(&c);
	/* Every chunk went through the device; the CPU read none. */
	assert_true(last(&c, "dev_jobs") > 0);
	assert_true(last(&c, "cpu_chunks") == 0);
	assert_true(last(&c, "jobs_completed") == last(&c, "dev_jobs"));
	/* Reclaimed pages were mirrored: the notifiers saw them go. */
	printf("# invalidations: %.0f blockable, %.0f non-blockable\n",
	       last(&c, "inval_blockable"), last(&c, "inval_nonblock"));
	assert_true(last(&c, "inval_blockable") + last(&c, "inval_nonblock") > 0);
	/* More pages went through the mirror than the limit can hold. */
	assert_true(last(&c, "pages_faulted") > 24 * 256);
	assert_true(last(&c, "escalations") == 0);
	assert_true(last(&c, "misbehave") == -1);
	/* Placement: the file part's pages, on the guest's node. */
	assert_true(first(&c, "ws_pages") == 48 * 256);
	assert_false(isnan(first(&c, "ws_node0")));
	csv_free(&c);
}

static void test_unmirrored(void **state)
{
	struct csv c;
	int rc, i, k;
	static const char *const zero[] = {
		"jobs_submitted", "pages_faulted", "inval_blockable",
		"inval_nonblock", "inval_refused", "inval_waits", "escalations",
	};

	(void)state;
	rc = run_tool("unmirrored", EXPERIMENT("--mirrored", "0", "--duration",
					       "4", "--name", "unmirrored"), NULL);
	show("unmirrored", "err");
	show("unmirrored", "txt");
	assert_int_equal(rc, 0);
	check_common("unmirrored", &c, 4, 200);
	check_reclaim(&c);
	assert_true(last(&c, "cpu_chunks") > 0);
	/* Nothing mirrored: hmirror saw no job and no invalidation, ever. */
	for (k = 0; k < (int)(sizeof(zero) / sizeof(*zero)); k++)
		for (i = 0; i < c.nrows; i++)
			if (c.v[i][csv_col(&c, zero[k])] != 0)
				fail_msg("%s is %.0f in row %d of an unmirrored run",
					 zero[k], c.v[i][csv_col(&c, zero[k])], i + 1);
	csv_free(&c);
}

static void test_misbehave(void **state)
{
	struct csv c;
	int rc;

	(void)state;
	rc = run_tool("misbehave", EXPERIMENT("--mirrored", "1", "--misbehave",
					      "--deadline", "200", "--duration",
					      "5", "--name", "misbehave"), NULL);
	show("misbehave", "err");
	show("misbehave", "txt");
	assert_int_equal(rc, 0);
	check_common("misbehave", &c, 5, 200);
	check_reclaim(&c);
	/* Reclaim met the stuck job: waited, escalated, the owner died. */
	printf("# escalations %.0f, waits %.0f, misbehave state %.0f\n",
	       last(&c, "escalations"), last(&c, "inval_waits"),
	       last(&c, "misbehave"));
	assert_true(last(&c, "escalations") >= 1);
	assert_true(last(&c, "inval_waits") >= 1);
	assert_true(first(&c, "misbehave") == 1);
	assert_true(last(&c, "misbehave") == 2);	/* SIGKILL, policy kill */
	/* The wait took the deadline: a bucket above 100 ms holds it. */
	assert_true(last(&c, "wait_h5") + last(&c, "wait_h6") +
		    last(&c, "wait_h7") >= 1);
	/* The well-behaved workload went on. */
	assert_true(last(&c, "dev_jobs") > first(&c, "dev_jobs"));
	csv_free(&c);
}

static int have(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* Runs after test_mirrored, whose SVG it looks at. */
static void test_svg(void **state)
{
	char p[PATH_MAX + 64], cmd[PATH_MAX + 128];

	(void)state;
	if (!have("gnuplot"))
		guest_skip("gnuplot is not installed (tests/deps installs gnuplot-nox)");
	if (!have("xmllint"))
		guest_skip("xmllint is not installed (tests/deps installs libxml2-utils)");
	snprintf(p, sizeof(p), "%s/mirrored.svg", out);
	assert_true(guest_path_exists(p));
	snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", p);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "grep -q '<svg' '%s'", p);
	assert_int_equal(system(cmd), 0);
}

/* Without gnuplot: the CSV and summary, and a clear word about the SVG. */
static void test_no_gnuplot(void **state)
{
	char p[PATH_MAX + 64], cmd[PATH_MAX + 128];
	int rc;

	(void)state;
	rc = run_tool("nognuplot", ((const char *const[]){ "--limit", "64M",
		"--wss", "4M", "--duration", "1", "--interval", "100", "--out",
		out, "--name", "nognuplot", NULL }), "/nonexistent");
	show("nognuplot", "err");
	assert_int_equal(rc, 0);
	snprintf(p, sizeof(p), "%s/nognuplot.csv", out);
	assert_true(guest_path_exists(p));
	snprintf(p, sizeof(p), "%s/nognuplot.svg", out);
	assert_false(guest_path_exists(p));
	snprintf(cmd, sizeof(cmd), "grep -q 'nognuplot.svg was NOT made' '%s/nognuplot.err'",
		 out);
	assert_int_equal(system(cmd), 0);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_bad_input(void **state)
{
	static const char *const bad[][4] = {
		{ "--mirrored", "1.5" }, { "--device", "-0.1" },
		{ "--limit", "lots" }, { "--wss", "0" }, { "--jobs", "copy,fft" },
		{ "--jobs", "copy=0" }, { "--deadline", "0" },
		{ "--interval", "5" }, { "--duration", "0" },
		{ "--name", "../escape" }, { "--class", "gpu" },
		{ "--out", "/nonexistent/dir" }, { "--device", "1", "--misbehave" },
		{ "--device", "0.9", "--wss", "1G" },	/* more than vram */
		{ "--frobnicate" },
	};
	char errs[PATH_MAX + 64];
	glob_t g;
	int i, before, rc;

	(void)state;
	snprintf(errs, sizeof(errs), "%s/bad", out);
	mkdir(errs, 0755);
	before = count_entries(errs);
	for (i = 0; i < (int)(sizeof(bad) / sizeof(*bad)); i++) {
		const char *args[8] = { 0 };
		int k, n = 0;

		for (k = 0; k < 4 && bad[i][k]; k++)
			args[n++] = bad[i][k];
		args[n++] = "--out";
		/* --out given twice for the one case that tests it: the last wins */
		args[n++] = strcmp(bad[i][0], "--out") ? errs : bad[i][1];
		args[n] = NULL;
		rc = run_tool("bad", args, NULL);
		if (rc != 2) {
			show("bad", "err");
			fail_msg("'%s %s' exited %d, want 2", bad[i][0],
				 bad[i][1] ? bad[i][1] : "", rc);
		}
		show("bad", "err");
		assert_int_equal(count_entries(errs), before);
	}
	assert_int_equal(glob("/sys/fs/cgroup/hmirror-reclaim-*", 0, NULL, &g),
			 GLOB_NOMATCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_mirrored),
		cmocka_unit_test(test_svg),
		cmocka_unit_test(test_unmirrored),
		cmocka_unit_test(test_misbehave),
		cmocka_unit_test(test_no_gnuplot),
	};

	guest_suite_setup();
	return cmocka_run_group_tests_name("reclaim", tests, suite_up, suite_down);
}
