/* examples/storage/service.h - the Storage service over a kvlog. */
#ifndef STORAGE_SERVICE_H
#define STORAGE_SERVICE_H

#include <stddef.h>

/* Longest key the service stores, in bytes; an empty or longer key is
 * refused with VCHAN_RPC_INVALID_ARGUMENT. */
#define STORAGE_KEY_MAX 1024

struct vchan_rpc_tls;

/* How the socket listeners of storage_serve are secured. */
struct storage_net {
	/* The TLS settings of tls: addresses (NULL: none, and a tls:
	 * address is refused). */
	const struct vchan_rpc_tls *tls;
	/* Let a tcp: listener take an address that is not loopback
	 * (vchan_rpc_options.insecure_tcp). */
	int insecure_tcp;
};

/* Open the log at `logpath` (recovering it), serve Storage at the `n`
 * rpc addresses until SIGTERM or SIGINT, then close everything. `net`
 * may be NULL (no TLS, tcp: on loopback only). With
 * `disk`, logpath names a block device (blkdev_open) holding the log
 * (logdev_blk.c), formatted when blank. Returns 0, 2 after naming an
 * address that does not parse (before anything is opened), or 1 after
 * printing why it could not start: a damaged log (see kvlog.h) is refused
 * with the offset and the cause, unchanged; so is a disk that holds
 * something else or is too small, or TLS files that cannot be used, or
 * an address where it may not listen (why, and how to do it). */
int storage_serve(const char *const *addrs, size_t n, const char *logpath,
		  int disk, const struct storage_net *net);

/* Repair the log at `logpath` (kvlog_repair), printing each part moved
 * aside. Returns 0 (repaired, or nothing to repair) or 1 after printing
 * why not. */
int storage_repair(const char *logpath);

/* Repair the log on the block device `disk` as storage_repair does a
 * file's: the damaged parts go to the file `disk`.bad (or .bad.N), the
 * valid records stay, in order. The repaired log is made durable in the
 * file `disk`.repair before the disk is rewritten; an interrupted repair
 * is finished by the next one. Needs files next to the disk (Linux; a
 * unikernel's disk is repaired in dom0, on its image). Returns 0
 * (repaired, or sound) or 1 after printing why not. */
int storage_repair_disk(const char *disk);

/* Lay out an empty log on the block device `disk` (logdev_blk_format),
 * destroying what else it holds, never a log of ours. Returns 0 or 1
 * after printing why not. */
int storage_format(const char *disk);

#endif
