/* tests/storage/kvlog_append.c - appends to the log. An empty value
 * (from a NULL pointer) is stored and read back, before and after a
 * reopen. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/storage/kvlog.h"
#include "tests/storage/tkv.h"

/* An empty value from a NULL pointer (what protobuf-c hands over for an
 * empty bytes field). */
static int empty_value(const char *path)
{
	struct kvlog *kv = kvlog_open(path, NULL);
	size_t len = 99;

	CHECK(kv != NULL);
	CHECK(kvlog_put(kv, "empty", NULL, 0) == 0);
	CHECK(kvlog_get(kv, "empty", &len) != NULL && len == 0);
	kvlog_close(kv);
	kv = kvlog_open(path, NULL);
	CHECK(kv != NULL);
	len = 99;
	CHECK(kvlog_get(kv, "empty", &len) != NULL && len == 0);
	kvlog_close(kv);
	return 0;
}

int main(void)
{
	char dir[512], path[600];
	int rc = 1;

	CHECK(tkv_tmpdir(dir, sizeof(dir)) == 0);
	snprintf(path, sizeof(path), "%s/kv.log", dir);
	if (empty_value(path) == 0)
		rc = 0;
	tkv_rmtree(dir);
	return rc;
}
