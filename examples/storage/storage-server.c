/* examples/storage/storage-server.c - serve a key-value store.
 *
 *   storage-server LOGFILE ADDRESS...
 *
 * e.g. `VCHAN_DOMID=1 storage-server /var/lib/kv.log vchan:2/storage
 * unix:/run/kv.sock`. Stops on SIGTERM or SIGINT. */
#include "config.h"

#include <stdio.h>

#include "examples/storage/service.h"

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: storage-server LOGFILE ADDRESS...\n"
				"ADDRESS: vchan:CLIENT_DOMID/PORT, unix:PATH, "
				"tcp:HOST:PORT\n");
		return 2;
	}
	return storage_serve((const char *const *)argv + 2, (size_t)argc - 2,
			     argv[1]);
}
