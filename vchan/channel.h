/* vchan/channel.h - the channel handle, shared by the modules of vchan/
 * (internal to the library): vchan.c sets it up and watches the peer,
 * wait.c waits for the peer, data.c moves the data. */
#ifndef VCHAN_CHANNEL_H
#define VCHAN_CHANNEL_H

#include <errno.h>
#include <stdint.h>

#include "grant/grant.h"
#include "vchan/ring.h"
#include "xenstore/xs.h"

/* A ring's own granted pages: shared by the server, mapped by the client.
 * addr is NULL when the ring lives in the control page. */
struct ring_pages {
	void *addr;
	uint32_t count;
};

struct vchan {
	struct vchan_ring_ctl ring;
	vchan_gnt *gnt;
	vchan_evt *evt;
	vchan_xs *xs;  /* server: kept to remove its path on close; xen:
			* watches for the peer domain's death */
	char *path;    /* server: the published XenStore directory */
	int published; /* server: path written */
	uint32_t port; /* local event port */
	void *page;    /* control page (shared or mapped) */
	struct ring_pages left, right; /* granted ring pages */
	int server;
	int blocking;
	int want_space; /* a write came up short: wait for space as well */
	unsigned spin_us;
	/* Moving average of how long a stalled call waited for the peer
	 * (spinning and sleeping), in ns: the spin window follows it. */
	uint64_t wait_avg_ns;
	uint64_t loop_wait_from; /* vchan_spin gave up then (ns), or 0 */
	int spun; /* the last call was a vchan_spin that saw the peer move */
	/* The loop calls vchan_spin or vchan_ask before every poll of the fd:
	 * non-blocking calls leave asking for events to those. */
	int spin_first;
	/* Contention (wait.c): no spinning, nor offering the CPU before a
	 * sleep, until calm_from (ns, 0: never set); the back-off that
	 * follows the next lost CPU is at least twice backoff_ns. A sign
	 * of contention before suspect_until (ns) backs off; one after it
	 * only sets sleep_once: the next wait sleeps, without spinning or
	 * offering the CPU first. */
	uint64_t calm_from, backoff_ns, suspect_until;
	int sleep_once;
	unsigned lost_moved; /* lost CPUs in a row after which the peer moved */
	/* vchan_evt_stolen at steal_at (ns, 0: not yet); steal_sleeps: the
	 * sleeps since; steal_unknown: the platform does not tell */
	uint64_t steal_at, steal_ns;
	unsigned steal_sleeps;
	int steal_unknown;
	uint32_t peer; /* the other domain */
	int efd;       /* xen: epoll set of the event and XenStore fds, or -1 */
};

/* Shared by the modules' setup code (vchan.c unless said otherwise). */

/* A handle with its grant, event and store handles open, nothing else;
 * NULL + errno. */
struct vchan *vchan_new_handle(int server);

/* Release everything and free the handle. Returns 0, or the errno of the
 * first release that failed (errno itself is left as it was). */
int vchan_free_handle(struct vchan *ch);

/* A ring's memory: `count` pages of its own, shared with `peer` (server;
 * their grant references written to refs[]) or mapped from it (client;
 * read from refs[], `writable` or not), kept in *r; when count is 0, the
 * control page at `offset`. Returns its address, or NULL + errno. */
void *vchan_ring_memory(struct vchan *ch, struct ring_pages *r, uint32_t peer,
			uint32_t count, uint32_t *refs, int writable,
			uint32_t offset);

/* On Xen, watch for the peer's domain going (see vchan.c). 0 or -1. */
int vchan_watch_peer(struct vchan *ch);

/* A port name vchan_path accepts: 1 or 0. */
int vchan_port_ok(const char *port);

/* vchan_path, asking `xs` (or, when NULL, a handle of its own) for our
 * domain id where VCHAN_DOMID_SELF stands. */
int vchan_build_path(vchan_xs *xs, char *buf, size_t size, uint32_t owner,
		     uint32_t peer, const char *port);

/* Read a server's two keys under `dir` (connect.c). Returns 1 with both
 * set, 0 when one is not there yet, -1 + errno (EPROTO a malformed value,
 * EACCES, or the store's error). */
int vchan_read_keys(vchan_xs *xs, const char *dir, uint32_t *ref,
		    uint32_t *port);

/* Server: remove the published keys now (a listener hands a channel out
 * and offers the next one at its path); closing then removes nothing.
 * Returns 0 or -1 + errno of the store. */
int vchan_unpublish(struct vchan *ch);

/* The directory where a listener on `port` of domain `server` takes
 * requests: "/local/domain/<server>/data/vchan-listen/<port>" (listen.c).
 * Returns its length or -1 + errno as vchan_path. */
int vchan_listen_path(char *buf, size_t size, uint32_t server,
		      const char *port);

/* After a watch of the peer's domain fired: when that domain is gone,
 * mark the peer closed, as its unmap-notify would have (vchan.c). */
void vchan_check_peer(struct vchan *ch);

/* A poisoned channel fails every call with EPROTO, whatever its arguments
 * (a size above the ring, a zero length) and before any spin: the peer
 * broke the protocol, and nothing else is worth telling the caller. */
static inline int vchan_poisoned(const struct vchan *ch)
{
	if (!ch->ring.poisoned)
		return 0;
	errno = EPROTO;
	return 1;
}

#endif
