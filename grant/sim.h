/* grant/sim.h - internals shared by the sim backend's grant and event
 * channel halves.
 *
 * A simulation lives in one directory S (common/env.h), flat:
 *   g.<owner>.<block>       a share: struct sim_gnt_meta, which says who may
 *                           map it and where its pages are. Its owner holds
 *                           a shared flock on it while it exists, so a
 *                           successful exclusive flock means "owner gone".
 *                           Grant ref = block << 8 | page index.
 *   e.<domid>.<port>        an event port: struct sim_port_hdr, then the
 *                           unmap-notify records of its holder (append
 *                           only). Its holder keeps an exclusive flock.
 *   e.<domid>.<port>.sock   the listening socket of a port allocated with
 *                           vchan_evt_alloc_unbound, until a peer binds.
 * A bound pair of ports is one SOCK_SEQPACKET connection plus one shared page
 * of pending bits; the kernel closing a dead holder's socket is how its peer
 * learns of the death, applies the dead side's records and sees an event.
 * Block and port numbers are drawn at random, so a number is almost never
 * reused soon after its holder died.
 *
 * Every page two domains share (a share's pages, a pair's pending bits) is
 * a memfd sealed against shrinking (F_SEAL_SHRINK) by the side that made
 * it, and whoever maps one first checks the seal (sim_check_pages). A file
 * that shrinks under a mapping kills the process touching the lost part
 * with SIGBUS; a seal is kept by the kernel for the file's whole life and
 * nobody can remove it, so a hostile peer cannot do that to us, whatever it
 * writes and whatever files it opens. The sim has no daemon to hand such
 * fds around: a share's memfd stays in its owner, and a mapper opens it as
 * /proc/<pid>/fd/<fd> (sim_gnt_meta), which needs the owner in the same pid
 * namespace and dumpable, as ordinary processes of one user are. The
 * pending bits travel in the binder's hello (struct sim_hello).
 *
 * Any name here may be something else than the file it should be: a peer
 * can put a FIFO there, whose open for reading would wait for a writer for
 * ever. Every file a peer names is opened with O_NONBLOCK (which changes
 * nothing for a regular file) and checked before it is used. */
#ifndef VCHAN_GRANT_SIM_H
#define VCHAN_GRANT_SIM_H

#include <stdint.h>
#include <sys/types.h>

#include "grant/backend.h"

#define SIM_GNT_MAGIC  0x56474e54u /* "VGNT" */
#define SIM_PORT_MAGIC 0x56455654u /* "VEVT" */
#define SIM_MAX_BLOCK  (1u << 23)  /* refs stay below 2^31 */
#define SIM_MAX_PORT   (1u << 17)
/* Files of dead holders older than this are removed by later opens. */
#define SIM_STALE_SECONDS 60
/* One open in this many looks for them (sim_ctx_open). */
#define SIM_SWEEP_ONE_IN 16

struct sim_gnt_meta {
	uint32_t magic;
	uint32_t owner;
	uint32_t peer;
	uint32_t writable;
	uint32_t count;
	/* The pages: a memfd named SIM_GNT_MEMFD (owner, block) of count
	 * pages, fd `fd` of the owner's process `pid`; dev and ino tell that
	 * fd from a later one of the same number. */
	int32_t pid;
	int32_t fd;
	uint32_t unused;
	uint64_t dev;
	uint64_t ino;
};

/* The name of a share's memfd; its link in /proc/<pid>/fd reads
 * "/memfd:" SIM_GNT_MEMFD " (deleted)". */
#define SIM_GNT_MEMFD "vchan-gnt.%u.%u"

struct sim_port_hdr {
	uint32_t magic;
	uint32_t domid;	 /* the holder */
	uint32_t remote; /* the domain allowed to bind */
	uint32_t unused;
};

/* The first message on a bound pair's connection, binder to listener, with
 * the pending-bits page (a memfd) attached as SCM_RIGHTS. */
#define SIM_HELLO_VERSION 1
struct sim_hello {
	uint32_t magic; /* SIM_PORT_MAGIC */
	uint32_t version;
	uint32_t domid; /* the binder's */
	uint32_t port;	/* the binder's local port */
};

enum { SIM_REC_ADD = 1, SIM_REC_DEL = 2 };

/* "When I go, clear byte `offset` of page `page` of share (owner, block)". */
struct sim_rec {
	uint32_t op;
	uint32_t owner;
	uint32_t block;
	uint32_t page;
	uint32_t offset;
};

/* Shared state of both halves: the directory and this process's domid. */
struct sim_ctx {
	int dirfd;
	uint32_t domid;
	uint64_t rng;
};

/* Open the simulation directory and read VCHAN_DOMID; removes stale files.
 * Returns 0 or -1 + errno. */
int sim_ctx_open(struct sim_ctx *c);
void sim_ctx_close(struct sim_ctx *c);
/* A random number in [1, limit). */
uint32_t sim_random(struct sim_ctx *c, uint32_t limit);
/* Create and exclusively flock a file that did not exist (or whose holder
 * is dead). Returns the fd, or -1 with errno EEXIST when a live holder has
 * it, or another errno. */
int sim_claim(struct sim_ctx *c, const char *name, int lock_op);
/* Clear one byte of a share's page (a dead holder's unmap notification),
 * through this process's own fd of the share's memfd: the owner's, or a
 * mapper's (which keeps one while it maps), whoever survives. */
void sim_clear_byte(const struct sim_rec *r);
/* A fresh memfd of `size` zeroed bytes named `name`, sealed so that it can
 * neither shrink nor grow. Returns the fd or -1 + errno. */
int sim_new_pages(const char *name, off_t size);
/* Check that fd is pages no one can shrink below `size` bytes: a file of
 * the kernel's shared memory (so touching it cannot fail for want of a
 * huge page) sealed with F_SEAL_SHRINK. Returns 0 or -1 + EPROTO. */
int sim_check_pages(int fd, off_t size);

/* Append an unmap-notify record to local `port` of evt (a sim handle); with
 * r NULL only check that the port is there. Returns 0 or -1 + EINVAL when
 * the port is not in the handle. */
int sim_evt_record(vchan_evt *evt, uint32_t port, const struct sim_rec *r);

/* Close a sim grant handle the way Xen's xengnttab_close/xengntshr_close
 * do: the address ranges of shares and maps still outstanding are left
 * alone, because their user may have released them with a plain munmap
 * (libxenvchan does, for its rings) and the range may hold something else
 * by now. Their unmap notifications still fire, the byte being cleared
 * through the share's file. Always frees the handle; returns 0. */
int sim_gnt_close_unmapped(vchan_gnt *h);

#endif
