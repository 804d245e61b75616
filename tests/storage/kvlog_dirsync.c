/* tests/storage/kvlog_dirsync.c - a new log's directory entry is made
 * durable: opening a log that does not exist yet fsyncs the directory it
 * is created in before the open returns (else the file, and every record
 * later synced into it, can vanish at a crash). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "examples/storage/kvlog.h"
#include "tests/storage/tkv.h"

int main(void)
{
	char dir[512], sub[600], real[4096], path[700];
	struct kvlog *kv;
	int rc = 1, seen = 0;

	CHECK(tkv_tmpdir(dir, sizeof(dir)) == 0);
	snprintf(sub, sizeof(sub), "%s/data", dir);
	snprintf(path, sizeof(path), "%s/kv.log", sub);
	if (mkdir(sub, 0700) < 0 || realpath(sub, real) == NULL)
		goto out;
	tkv.nsynced = 0;
	kv = kvlog_open(path, NULL);
	if (kv == NULL)
		goto out;
	for (int i = 0; i < tkv.nsynced; i++) {
		fprintf(stderr, "synced: %s\n", tkv.synced[i]);
		if (strcmp(tkv.synced[i], real) == 0)
			seen = 1;
	}
	/* The log still works. */
	if (kvlog_put(kv, "k", (const uint8_t *)"v", 1) == 0 && seen)
		rc = 0;
	else
		fprintf(stderr, "%s was not synced after creating %s\n", real,
			path);
	kvlog_close(kv);
out:
	tkv_rmtree(dir);
	return rc;
}
