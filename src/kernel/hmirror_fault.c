// SPDX-License-Identifier: GPL-2.0
/*
 * hmirror fault injection: named sites where hmirror can be told to fail.
 */

#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/uaccess.h>

#include "hmirror_internal.h"

/**
 * DOC: fault injection
 *
 * Each site hmirror can fail at on purpose has a debugfs file,
 * hmirror/fault/<site>. Writing "SKIP TIMES" arms it: the next SKIP
 * calls pass, then TIMES calls fail (-1: every call from then on); "0 0"
 * disarms it. Reading gives "SKIP TIMES FAILED", FAILED counting the
 * failures injected so far. The countdown makes a run reproducible ("fail
 * the 100th device page allocation") on any kernel, without
 * CONFIG_FAULT_INJECTION.
 */

struct hmirror_fault {
	const char *name;
	atomic_t skip;
	atomic_t times;
	atomic64_t failed;
};

static struct hmirror_fault hmirror_faults[HMIRROR_FAULT_NR] = {
	[HMIRROR_FAULT_DEVMEM_ALLOC] = { .name = "devmem_alloc" },
};

/**
 * hmirror_fault_should_fail() - should this call at @site fail?
 * @site: enum hmirror_fault_site
 *
 * Return: true if the site is armed and its countdown says so.
 */
bool hmirror_fault_should_fail(enum hmirror_fault_site site)
{
	struct hmirror_fault *f = &hmirror_faults[site];
	int times = atomic_read(&f->times);

	if (likely(!times))
		return false;
	if (atomic_dec_if_positive(&f->skip) >= 0)
		return false;
	if (times > 0 && atomic_dec_if_positive(&f->times) < 0)
		return false;
	atomic64_inc(&f->failed);
	return true;
}

static ssize_t hmirror_fault_write(struct file *file, const char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	struct hmirror_fault *f = file_inode(file)->i_private;
	int skip, times;
	char buf[32];

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	if (sscanf(buf, "%d %d", &skip, &times) != 2 || skip < 0 || times < -1)
		return -EINVAL;
	atomic_set(&f->times, 0);	/* disarmed while changing */
	atomic_set(&f->skip, skip);
	atomic_set(&f->times, times);
	return count;
}

static ssize_t hmirror_fault_read(struct file *file, char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct hmirror_fault *f = file_inode(file)->i_private;
	char buf[64];
	int n;

	n = scnprintf(buf, sizeof(buf), "%d %d %lld\n", atomic_read(&f->skip),
		      atomic_read(&f->times), atomic64_read(&f->failed));
	return simple_read_from_buffer(ubuf, count, ppos, buf, n);
}

static const struct file_operations hmirror_fault_fops = {
	.owner = THIS_MODULE,
	.read = hmirror_fault_read,
	.write = hmirror_fault_write,
};

/**
 * hmirror_fault_debugfs_init() - create hmirror/fault/<site>
 * @root: hmirror's debugfs directory
 */
void hmirror_fault_debugfs_init(struct dentry *root)
{
	struct dentry *dir = debugfs_create_dir("fault", root);
	unsigned int i;

	for (i = 0; i < HMIRROR_FAULT_NR; i++)
		debugfs_create_file(hmirror_faults[i].name, 0600, dir,
				    &hmirror_faults[i], &hmirror_fault_fops);
}
