/* tests/fuzz/fake_vchan.h - a channel with no hypervisor behind it, for
 * the harnesses of the rpc layer (rpc/conn.c, client.c, server.c).
 *
 * It replaces libvchan: what the peer sends is pushed here by the
 * harness, what the local side writes is kept for the harness to parse,
 * and its fd (an eventfd) is readable while the peer has signalled
 * something not yet consumed by vchan_wait. */
#ifndef TESTS_FUZZ_FAKE_VCHAN_H
#define TESTS_FUZZ_FAKE_VCHAN_H

#include <stddef.h>
#include <stdint.h>

struct vchan {
	int efd;
	uint8_t *in; /* from the peer, not yet read: [in_off, in_len) */
	size_t in_off, in_len, in_cap;
	uint8_t *out; /* written by the local side */
	size_t out_len, out_cap;
	size_t room;	     /* bytes a write takes now */
	int peer_gone;	     /* reads end with EPIPE once `in` is drained */
	int poisoned;	     /* every call fails with EPROTO */
	int waiting;	     /* a server's channel whose client has not come */
	uint64_t read_total; /* bytes the local side has read */
};

/* The channel the last vchan_server_create_port or
 * vchan_client_connect_port made, NULL once it is closed. */
extern struct vchan *fake_vchan_cur;
/* Channels made and not yet closed. */
extern int fake_vchan_open_count;
/* Called (when set) by vchan_close before the channel goes, to take
 * what was written last. */
extern void (*fake_vchan_on_close)(struct vchan *ch);
/* While set, creating or connecting fails with ECONNREFUSED. */
extern int fake_vchan_refuse;

struct vchan *fake_vchan_new(void);
/* The peer sends `len` bytes (and signals). */
void fake_vchan_push(struct vchan *ch, const void *buf, size_t len);
/* The peer signals (room came, the peer went...). */
void fake_vchan_signal(struct vchan *ch);
/* Forget the first `n` bytes written. */
void fake_vchan_take(struct vchan *ch, size_t n);

#endif
