/* tests/unikernel/fake_pv.h - a fake of the unikernel runtime
 * (unikernel/pv.h) for unit tests of the pv backends on Linux: a clock
 * that moves only when the code under test waits, event channel pending
 * bits, pseudo fds, and an in-process xenstored that serves the XenStore
 * ring whenever the client notifies its port or waits.
 *
 * The fake xenstored keeps a small tree with XenStore's permissions, one
 * transaction at a time, and watches. The client is domain FAKE_DOMID;
 * fake_write() changes the tree as domain 0 would (another domain's
 * write), firing watches at once. */
#ifndef VCHAN_TESTS_FAKE_PV_H
#define VCHAN_TESTS_FAKE_PV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/io/xs_wire.h>

#define FAKE_DOMID   5u
#define FAKE_XS_PORT 3u

/* Misbehaviour for the next request of type fake_cfg.bad_type. */
enum fake_bad {
	FAKE_GOOD,
	FAKE_BIG_LEN,	  /* a reply header announcing 5000 bytes */
	FAKE_BAD_RSP_IDX, /* rsp_prod 2000 bytes ahead of rsp_cons */
	FAKE_BAD_REQ_IDX, /* answer, then req_cons 3000 behind req_prod */
	FAKE_WRONG_TYPE,  /* the reply has the request's id, not its type */
	FAKE_STALE_ID,	  /* a reply with another id before the right one */
	FAKE_ERROR_NAME,  /* XS_ERROR naming fake_cfg.error_name */
	FAKE_GAVE_UP,	  /* set the ring's error indicator, answer nothing */
};

struct fake_cfg {
	int end_eagain;	   /* answer EAGAIN to this many END "T" */
	bool silent;	   /* answers are held until fake_release() */
	bool stuck;	   /* requests are not even read */
	bool event_first;  /* a watch's first event goes before its reply */
	enum fake_bad bad; /* cleared once applied */
	uint32_t bad_type; /* the request type it applies to */
	const char *error_name;
};

struct fake_stats {
	unsigned requests[XS_TYPE_COUNT]; /* by type */
	unsigned commits, aborts;	  /* END "T" (any outcome), END "F" */
	size_t max_req;			  /* largest message, header included */
	size_t max_rsp;
};

extern struct fake_cfg fake_cfg;
extern struct fake_stats fake_stats;

/* A fresh ring (indexes just before the u32 wrap), tree, watches, clock
 * and fds; fake_cfg and fake_stats zeroed. */
void fake_reset(void);
/* Free what the fake holds; fails the test if pseudo fds are still open. */
void fake_free(void);

struct xenstore_domain_interface *fake_ring(void);
uint64_t fake_clock(void);

/* Set a node as the toolstack would (perms in XenStore's text form, e.g.
 * "n5,r7"; parents must exist). */
void fake_set(const char *path, const char *value, const char *perms);
/* Domain 0 writes a node (parents created as needed), firing watches. */
void fake_write(const char *path, const char *value);
/* A node's value (NULL if none; *len its length) and permissions text. */
const char *fake_value(const char *path, size_t *len);
const char *fake_perms(const char *path);
/* Watches set on the server, bytes of answers not yet in the ring. */
unsigned fake_watches(void);
size_t fake_unsent(void);
/* Let held answers (fake_cfg.silent) go out. */
void fake_release(void);

/* The pseudo fds the code under test opened. */
int fake_fd_ready(int fd);
unsigned fake_fd_ports(int fd, uint32_t *out, unsigned max);

#endif
