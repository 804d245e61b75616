/* examples/mux/mux.h - many byte streams over one vchan.
 *
 * The TLS terminator and the web domain share one channel; each TCP
 * connection of the terminator is one stream on it. A channel per
 * connection would cost a shared page, an event channel and XenStore
 * traffic per connection; a stream costs a slot in an array.
 *
 * Wire format: a sequence of frames, each an 8-byte header followed by
 * `len` bytes of payload. All integers little-endian.
 *
 *   offset 0  u32 id     stream id: bits 0..11 a slot (< MUX_MAX_STREAMS),
 *                        bits 12..31 a generation chosen by the opener
 *   offset 4  u8  type   MUX_OPEN, MUX_DATA, MUX_CLOSE or MUX_CREDIT
 *   offset 5  u8  zero
 *   offset 6  u16 len    OPEN, CLOSE: 0; DATA: 1..MUX_DATA_MAX;
 *                        CREDIT: 4 (payload: u32 bytes granted)
 *
 * Only one side (the opener, here the terminator) sends OPEN. Either side
 * may send CLOSE, which ends the stream both ways at once: the sender
 * forgets the stream, and the receiver forgets it on reading it. Frames for
 * an id that is not open are dropped: they are the peer's answers to a
 * stream this side has already closed. The generation makes a reused slot
 * a different id, so a late frame never reaches the slot's next stream.
 *
 * Flow control: each side may have at most MUX_WINDOW bytes of DATA of a
 * stream unacknowledged; the receiver grants bytes back with CREDIT as it
 * consumes them (mux_consumed). So a stream whose reader is slow stops
 * its writer without holding up the other streams, and each side's
 * buffers are bounded. A peer that exceeds the window, sends an unknown
 * type, a bad length, or an OPEN for an open slot breaks the protocol.
 *
 * The caller runs the event loop: it polls mux_fd() and calls mux_run()
 * when it is readable. Sends are non-blocking and never wait. Callbacks
 * run only from mux_run; they may call any function of this module but
 * mux_free.
 */
#ifndef EXAMPLES_MUX_H
#define EXAMPLES_MUX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vchan;
struct mux;

#define MUX_HDR		8u
#define MUX_DATA_MAX	16384u
#define MUX_MAX_STREAMS 4096u
#define MUX_WINDOW	(128u * 1024)

enum mux_type {
	MUX_OPEN = 1,
	MUX_DATA = 2,
	MUX_CLOSE = 3,
	MUX_CREDIT = 4,
};

struct mux_ops {
	/* The peer opened stream `id` (receiver side only). Call
	 * mux_set_user to attach state, or mux_close to refuse it. */
	void (*open)(void *ctx, uint32_t id);
	/* Bytes of stream `id`. The buffer is valid only during the call.
	 * Call mux_consumed once they have been used, to let more come. */
	void (*data)(void *ctx, uint32_t id, void *user, const uint8_t *buf,
		     size_t len);
	/* The peer closed stream `id`; it is already forgotten here. */
	void (*close)(void *ctx, uint32_t id, void *user);
	/* A mux_send on `id` that took fewer bytes than offered may now take
	 * more. */
	void (*writable)(void *ctx, uint32_t id, void *user);
};

/* Multiplex over `ch`, which the mux takes over (it is set non-blocking
 * and closed by mux_free). `ops` and `ctx` are borrowed. Returns the mux
 * or NULL + ENOMEM (ch is then left to the caller). */
struct mux *mux_new(struct vchan *ch, const struct mux_ops *ops, void *ctx);

/* Close the channel and free everything. No callback is called. NULL is
 * accepted. Must not be called from a callback. */
void mux_free(struct mux *m);

/* The fd to poll for readability (the channel's event fd). */
int mux_fd(const struct mux *m);

/* The channel: consume its events, deliver what arrived, write what is
 * queued. Call when mux_fd() is readable (and once after mux_new).
 * Returns 0, or -1 + errno: EPIPE the peer has gone (everything it sent
 * has been delivered), EPROTO it broke the protocol. After -1 the mux is
 * dead: every call but mux_free fails. */
int mux_run(struct mux *m);

/* Open a stream with state `user`. Returns its id (>= 0) or -1 + errno:
 * EAGAIN no free slot, EPIPE the mux is dead. */
int64_t mux_open(struct mux *m, void *user);

/* Attach `user` to open stream `id`. Returns 0 or -1 + ENOENT. */
int mux_set_user(struct mux *m, uint32_t id, void *user);

/* Queue up to `len` bytes on stream `id`, as far as its window and the
 * queue allow. Returns the bytes taken (0: none now; the writable callback
 * says when to retry) or -1 + errno: ENOENT not open, EPIPE dead. */
ssize_t mux_send(struct mux *m, uint32_t id, const void *buf, size_t len);

/* Close stream `id` (the bytes already sent are delivered first). Unknown
 * ids are ignored. Returns 0 or -1 + EPIPE (dead). */
int mux_close(struct mux *m, uint32_t id);

/* `n` bytes received on `id` have been used: grant them back to the peer.
 * Returns 0 or -1 + errno: ENOENT, EPIPE, EINVAL more than received. */
int mux_consumed(struct mux *m, uint32_t id, size_t n);

/* Open streams. */
size_t mux_streams(const struct mux *m);

/* Bytes queued and not yet in the channel. */
size_t mux_queued(const struct mux *m);

#endif
