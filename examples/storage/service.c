/* examples/storage/service.c - the Storage service over a kvlog. */
#include "config.h"

#include "examples/storage/service.h"

#include <errno.h>
#include <ev.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "examples/common/stop.h"
#include "examples/storage/kvlog.h"
#include "examples/storage/logdev.h"
#include "examples/storage/storage.pb-c.h"
#include "rpc/rpc.h"
#include "xenstore/xs.h"

struct store {
	Storage__Storage_Service svc; /* first: handlers get it back */
	struct kvlog *kv;
};

static struct kvlog *kv_of(Storage__Storage_Service *s)
{
	return ((struct store *)s)->kv;
}

/* A key the store takes: any other ends the call with "invalid argument"
 * and says why (returns 0), whoever the client is. */
static int key_ok(const char *key, void *data)
{
	size_t len = strlen(key);

	if (len > 0 && len <= STORAGE_KEY_MAX)
		return 1;
	vchan_rpc_server_fail(data, VCHAN_RPC_INVALID_ARGUMENT,
			      len == 0 ? "empty key" : "key too long");
	return 0;
}

/* The log could not be written or read: the caller learns why. A full
 * log (ENOSPC) is named as such: it is not a fault of the server, which
 * keeps every answered record and goes on serving reads. */
static void failed(void *data, const char *what)
{
	char msg[VCHAN_RPC_MESSAGE_MAX + 1];

	if (errno == ENOSPC)
		snprintf(msg, sizeof(msg),
			 "log full: no room for this record (%s: %s); "
			 "what was stored is kept and can be read",
			 what, strerror(errno));
	else
		snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno));
	vchan_rpc_server_fail(data, VCHAN_RPC_HANDLER_FAILED, msg);
}

static void do_get(Storage__Storage_Service *s, const Storage__GetRequest *in,
		   Storage__GetReply_Closure closure, void *data)
{
	Storage__GetReply r = STORAGE__GET_REPLY__INIT;
	const uint8_t *v;

	if (!key_ok(in->key, data))
		return;
	v = kvlog_get(kv_of(s), in->key, &r.value.len);

	r.found = v != NULL;
	r.value.data = (uint8_t *)v;
	if (v == NULL)
		r.value.len = 0;
	closure(&r, data);
}

static void do_put(Storage__Storage_Service *s, const Storage__PutRequest *in,
		   Storage__PutReply_Closure closure, void *data)
{
	Storage__PutReply r = STORAGE__PUT_REPLY__INIT;

	if (!key_ok(in->key, data))
		return;
	/* Answered only once the record is on disk: an acknowledged write
	 * survives a crash. */
	if (kvlog_put(kv_of(s), in->key, in->value.data, in->value.len) < 0) {
		failed(data, "writing the log");
		return;
	}
	closure(&r, data);
}

static void do_delete(Storage__Storage_Service *s,
		      const Storage__DeleteRequest *in,
		      Storage__DeleteReply_Closure closure, void *data)
{
	Storage__DeleteReply r = STORAGE__DELETE_REPLY__INIT;
	int e;

	if (!key_ok(in->key, data))
		return;
	e = kvlog_delete(kv_of(s), in->key);
	if (e < 0) {
		failed(data, "writing the log");
		return;
	}
	r.existed = e == 1;
	closure(&r, data);
}

static void do_list(Storage__Storage_Service *s, const Storage__ListRequest *in,
		    Storage__ListReply_Closure closure, void *data)
{
	Storage__ListReply r = STORAGE__LIST_REPLY__INIT;
	const char **keys = kvlog_list(kv_of(s), in->prefix, &r.n_keys);

	if (keys == NULL) {
		failed(data, "listing");
		return;
	}
	r.keys = (char **)keys;
	closure(&r, data);
	free(keys);
}

/* Nothing is owed once the loop stops: every acknowledged write is in the
 * log already (synced before its answer went out). */
static void stop_now(void *ctx)
{
	ev_break(ctx, EVBREAK_ALL);
}

/* Every address is one the rpc layer can parse, or 0 after naming the
 * first bad one. Parsed as a client's address (the same grammar), which
 * has no side effect, unlike listening (a unix: listener takes over the
 * path): nothing is touched before the arguments are known to be good. */
static int addresses_ok(const char *const *addrs, size_t n)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	int ok = loop != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		struct vchan_rpc_client *c = vchan_rpc_client_new(
		    loop, addrs[i], &storage__storage__descriptor, NULL);

		if (c == NULL) {
			fprintf(stderr,
				"storage-server: bad address '%s': expected "
				"vchan:CLIENT_DOMID/PORT, unix:PATH, "
				"tcp:HOST:PORT or tls:HOST:PORT\n",
				addrs[i]);
			ok = 0;
		}
		vchan_rpc_client_free(c);
	}
	if (loop != NULL)
		ev_loop_destroy(loop);
	return ok;
}

/* Say where clients find the server: a vchan listener's address names the
 * client domain (vchan:CLIENT/PORT), its clients name this domain. */
static void say_serving(const char *addr)
{
	unsigned client;
	int self = -1, n = 0;

	if (sscanf(addr, "vchan:%u/%n", &client, &n) == 1 && n > 0) {
		vchan_xs *xs = vchan_xs_open();

		self = xs != NULL ? vchan_xs_domid(xs) : -1;
		vchan_xs_close(xs);
	}
	if (self >= 0)
		fprintf(stderr,
			"storage: serving at vchan:%d/%s for domain %u "
			"(listening as %s)\n",
			self, addr + n, client, addr);
	else
		fprintf(stderr, "storage: serving at %s\n", addr);
}

/* The log: in the file `path`, or on the block device `path` (disk). */
static struct kvlog *open_log(const char *path, int disk,
			      struct kvlog_status *ls)
{
	struct logdev *dev;
	char why[200];

	if (!disk)
		return kvlog_open(path, ls);
	dev = logdev_blk_open(blkdev_open(path), why, sizeof(why));
	if (dev == NULL) {
		int e = errno;

		fprintf(stderr, "storage: cannot use the disk %s: %s\n",
			*path ? path : "(the first)",
			why[0] ? why : strerror(e));
		/* Another program's data is never formatted unasked. */
		if (e == EMEDIUMTYPE)
			fprintf(stderr,
				"storage: to lay out a new log on it, "
				"destroying what it holds: storage-server "
				"--format %s\n",
				path);
		errno = e;
		return NULL;
	}
	if (why[0] != '\0')
		fprintf(stderr, "storage: %s\n", why);
	return kvlog_open_dev(dev, ls);
}

/* Say why the server cannot listen at `addr` (errno), and what to do. */
static void say_listen_error(const char *addr)
{
	int e = errno;
	const char *colon = strchr(addr, ':');

	fprintf(stderr, "storage: cannot listen at %s: %s", addr, strerror(e));
	if (e == EADDRINUSE)
		fprintf(stderr, " (another server is listening there)\n");
	else if (e == EPERM && strncmp(addr, "tcp:", 4) == 0)
		fprintf(stderr,
			".\nstorage: plain TCP on an address that is not "
			"loopback would let anyone who reaches the port read "
			"and change the store. Use tls%s with --tls-ca, "
			"--tls-cert, --tls-key and --tls-allow, or, on a "
			"network you trust, --insecure-tcp.\n",
			colon);
	else if (e == ENOKEY)
		fprintf(stderr, " (a tls: address needs --tls-ca, --tls-cert, "
				"--tls-key and --tls-allow)\n");
	else
		fputc('\n', stderr);
}

/* Say why the TLS settings cannot be used (errno). */
static void say_tls_error(void)
{
	int e = errno;
	const char *hint = "";

	if (e == ENOENT || e == EACCES)
		hint = " (a file of --tls-ca, --tls-cert or --tls-key)";
	else if (e == EBADMSG)
		hint = " (a file holds no PEM certificate or key)";
	else if (e == EKEYREJECTED)
		hint = " (the key is not the certificate's)";
	else if (e == EINVAL)
		hint = " (--tls-ca, --tls-cert, --tls-key and --tls-allow are "
		       "all needed)";
	fprintf(stderr, "storage: cannot use the TLS settings: %s%s\n",
		strerror(e), hint);
}

int storage_serve(const char *const *addrs, size_t n, const char *logpath,
		  int disk, const struct storage_net *net)
{
	struct vchan_rpc_options opts;
	struct store st = {.svc = STORAGE__STORAGE__INIT(do_)};
	struct ev_loop *loop;
	struct vchan_rpc_server *srv;
	struct stopper stop;
	struct kvlog_status ls;
	int rc = 1;

	if (!addresses_ok(addrs, n))
		return 2;
	/* A file size limit (ulimit -f) must fail the one Put that crosses
	 * it (EFBIG, which the log reports as full), not kill the server. */
	signal(SIGXFSZ, SIG_IGN);
	st.kv = open_log(logpath, disk, &ls);
	if (st.kv == NULL && errno == EBADMSG && ls.why[0] != '\0') {
		fprintf(stderr,
			"storage: refusing to start: %s is damaged at offset "
			"%llu: %s.\nstorage: nothing was changed; ",
			logpath, (unsigned long long)ls.offset, ls.why);
		if (disk)
			fprintf(stderr,
				"`storage-server --repair --disk %s` moves the "
				"damaged part aside to a file next to the "
				"disk and keeps every valid record (a "
				"unikernel's disk: in dom0, on its image).\n",
				logpath);
		else
			fprintf(stderr,
				"`storage-server --repair %s` moves the "
				"damaged part aside and keeps every valid "
				"record.\n",
				logpath);
		return 1;
	}
	if (st.kv == NULL && disk)
		return 1; /* open_log said why */
	if (st.kv == NULL) {
		fprintf(stderr, "storage: cannot open %s: %s\n", logpath,
			strerror(errno));
		return 1;
	}
	if (ls.dropped > 0)
		fprintf(stderr,
			"storage: cut off a record torn at the end of the "
			"log (%llu bytes, never acknowledged)\n",
			(unsigned long long)ls.dropped);
	vchan_rpc_options_init(&opts);
	opts.insecure_tcp = net != NULL && net->insecure_tcp;
	loop = ev_loop_new(EVFLAG_AUTO);
	srv = loop != NULL ? vchan_rpc_server_new(loop, &opts) : NULL;
	if (srv == NULL ||
	    vchan_rpc_server_add_service(srv, &st.svc.base) < 0) {
		fprintf(stderr, "storage: %s\n", strerror(errno));
		goto out;
	}
	if (net != NULL && net->tls != NULL &&
	    vchan_rpc_server_set_tls(srv, net->tls) < 0) {
		say_tls_error();
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (vchan_rpc_server_listen(srv, addrs[i]) < 0) {
			say_listen_error(addrs[i]);
			goto out;
		}
	/* Before saying so: a signal sent once the address is known stops
	 * the server cleanly. */
	stopper_start(&stop, loop, "storage", 10.0, stop_now, loop);
	for (size_t i = 0; i < n; i++)
		say_serving(addrs[i]);
	ev_run(loop, 0);
	rc = 0;
out:
	vchan_rpc_server_free(srv);
	if (loop != NULL)
		ev_loop_destroy(loop);
	kvlog_close(st.kv);
	return rc;
}

static void note_part(void *arg, uint64_t offset, uint64_t len, const char *why)
{
	uint64_t *aside_at = arg;

	fprintf(stderr,
		"storage: moved aside: %llu bytes at offset %llu (%s), now at "
		"offset %llu of the side file\n",
		(unsigned long long)len, (unsigned long long)offset, why,
		(unsigned long long)*aside_at);
	*aside_at += len;
}

int storage_repair(const char *logpath)
{
	char aside[4096];
	uint64_t aside_at = 0;
	int parts =
	    kvlog_repair(logpath, aside, sizeof(aside), note_part, &aside_at);

	if (parts < 0) {
		fprintf(stderr, "storage: cannot repair %s: %s\n", logpath,
			strerror(errno));
		return 1;
	}
	if (parts == 0)
		fprintf(stderr, "storage: %s is sound: nothing to repair\n",
			logpath);
	else
		fprintf(stderr,
			"storage: %s repaired: %d damaged part%s (%llu bytes) "
			"moved to %s, every valid record kept\n",
			logpath, parts, parts == 1 ? "" : "s",
			(unsigned long long)aside_at, aside);
	return 0;
}

int storage_format(const char *disk)
{
	char why[200];

	if (logdev_blk_format(blkdev_open(disk), why, sizeof(why)) < 0) {
		fprintf(stderr, "storage: cannot format the disk %s: %s\n",
			*disk ? disk : "(the first)",
			why[0] ? why : strerror(errno));
		return 1;
	}
	fprintf(stderr, "storage: %s: %s\n", *disk ? disk : "(the first)", why);
	return 0;
}

/* ---- Repairing a log on a disk. The disk cannot take the repaired log
 * in one atomic step as a file can (a rename), so the valid records are
 * first put together in a file next to it, DISK.repair, ending with the
 * generation of the disk's header at that time (TRAILER bytes). Only then
 * is the disk rewritten, and the file removed. A rewrite cut short by a
 * crash leaves the disk's generation as it was (the header written last
 * is what raises it): the next --repair finds the file and finishes the
 * rewrite. A file whose generation the disk has passed is what a
 * finished repair left: it is removed, never written back over newer
 * records. */
#define TRAILER_MAGIC "VCHANKVR"
#define TRAILER	      16u

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The repaired log in `journal` (its size, less the trailer, in *n) and
 * the generation it was made at. Returns 0, or -1 + errno (EBADMSG: not
 * a whole repair file). */
static int journal_read(const char *journal, uint64_t *n, uint64_t *gen)
{
	struct logdev *j = logdev_file_open(journal, LOGDEV_FILE_READ);
	uint8_t t[TRAILER];
	uint64_t size;
	int rc = -1, e;

	if (j == NULL)
		return -1;
	if (j->ops->size(j, &size) == 0) {
		if (size < TRAILER)
			errno = EBADMSG;
		else if (j->ops->read_at(j, size - TRAILER, t, TRAILER) == 0) {
			if (memcmp(t, TRAILER_MAGIC, 8) != 0) {
				errno = EBADMSG;
			} else {
				*n = size - TRAILER;
				*gen = get64(t + 8);
				rc = 0;
			}
		}
	}
	e = errno;
	logdev_close(j);
	errno = e;
	return rc;
}

/* Rewrite the disk's log from `journal` (n bytes), sync it, remove the
 * journal. Returns 0 or -1 + errno. */
static int write_back(struct logdev *log, const char *journal, uint64_t n)
{
	struct logdev *j = logdev_file_open(journal, LOGDEV_FILE_READ);
	size_t chunk = 1u << 20;
	uint8_t *buf = malloc(chunk);
	int rc = -1, e;

	if (j == NULL || buf == NULL) {
		if (buf == NULL)
			errno = ENOMEM;
		goto out;
	}
	for (uint64_t off = 0; off < n; off += chunk) {
		size_t k = n - off < chunk ? (size_t)(n - off) : chunk;

		if (j->ops->read_at(j, off, buf, k) < 0 ||
		    log->ops->write_at(log, off, buf, k) < 0)
			goto out;
	}
	if (log->ops->truncate(log, n) < 0 || log->ops->sync(log) < 0)
		goto out;
	/* The disk is whole again: the journal is spent. */
	rc = unlink(journal) < 0 || logdev_sync_dir(journal) < 0 ? -1 : 0;
out:
	e = errno;
	logdev_close(j);
	free(buf);
	errno = e;
	return rc;
}

/* Sort the disk's log out into `journal` (through a .new file) and the
 * side file; 0 when it is sound. Returns the number of parts, or -1. */
static int journal_make(struct logdev *log, const char *disk,
			const char *journal, char *aside, size_t aside_size,
			uint64_t *aside_at)
{
	char tmp[4200];
	uint8_t t[TRAILER];
	struct logdev *j;
	uint64_t size;
	int parts, e;

	snprintf(tmp, sizeof(tmp), "%s.new", journal);
	parts = kvlog_sort_out(log, tmp, disk, aside, aside_size, note_part,
			       aside_at);
	if (parts <= 0)
		return parts;
	memcpy(t, TRAILER_MAGIC, 8);
	put64(t + 8, logdev_blk_generation(log));
	j = logdev_file_open(tmp, LOGDEV_FILE_LOG);
	if (j == NULL || j->ops->size(j, &size) < 0 ||
	    j->ops->write_at(j, size, t, TRAILER) < 0 || j->ops->sync(j) < 0 ||
	    rename(tmp, journal) < 0 || logdev_sync_dir(journal) < 0) {
		e = errno;
		logdev_close(j);
		unlink(tmp);
		errno = e;
		return -1;
	}
	logdev_close(j);
	return parts;
}

int storage_repair_disk(const char *disk)
{
	char why[200], journal[4096], aside[4096];
	uint64_t n, gen, aside_at = 0;
	struct logdev *log;
	int parts = 0;

	if (snprintf(journal, sizeof(journal), "%s.repair", disk) >=
	    (int)sizeof(journal)) {
		fprintf(stderr, "storage: %s: name too long\n", disk);
		return 1;
	}
	log = logdev_blk_open(blkdev_open(disk), why, sizeof(why));
	if (log == NULL) {
		fprintf(stderr, "storage: cannot repair the disk %s: %s\n",
			disk, why[0] ? why : strerror(errno));
		return 1;
	}
	if (journal_read(journal, &n, &gen) == 0) {
		if (gen == logdev_blk_generation(log)) {
			fprintf(stderr,
				"storage: finishing the repair that %s "
				"holds\n",
				journal);
			if (write_back(log, journal, n) < 0)
				goto failed;
		} else {
			fprintf(stderr,
				"storage: %s is a finished repair's: "
				"removed\n",
				journal);
			if (unlink(journal) < 0 || logdev_sync_dir(journal) < 0)
				goto failed;
		}
	} else if (errno != ENOENT) {
		fprintf(stderr,
			"storage: cannot repair %s: %s: %s (a repair's "
			"file, not finished: move it away to start again)\n",
			disk, journal, strerror(errno));
		logdev_close(log);
		return 1;
	}
	parts =
	    journal_make(log, disk, journal, aside, sizeof(aside), &aside_at);
	if (parts < 0 || (parts > 0 && (journal_read(journal, &n, &gen) < 0 ||
					write_back(log, journal, n) < 0)))
		goto failed;
	if (parts == 0)
		fprintf(stderr,
			"storage: the log on %s is sound: nothing "
			"(more) to repair\n",
			disk);
	else
		fprintf(stderr,
			"storage: the log on %s repaired: %d damaged part%s "
			"(%llu bytes) moved to %s, every valid record kept\n",
			disk, parts, parts == 1 ? "" : "s",
			(unsigned long long)aside_at, aside);
	logdev_close(log);
	return 0;
failed:
	fprintf(stderr, "storage: cannot repair %s: %s\n", disk,
		strerror(errno));
	logdev_close(log);
	return 1;
}
