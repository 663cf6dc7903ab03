// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * A program built only from what `make install` installed, found through
 * pkg-config: proves the installed header, library and hmirror.pc work.
 */
#include <stdio.h>
#include <hmirror.h>

int main(void)
{
	char path[32];

	if (hmirror_dev_path(3, path, sizeof(path)))
		return 1;
	puts(path);
	return 0;
}
