/* examples/web/store.h - the web domain's view of the storage domain.
 *
 * Asynchronous key-value calls on a libev loop. Every call that returns 0
 * ends with exactly one call of its callback, never from within the call
 * itself. The implementation (store_rpc.c) talks to examples/storage over
 * rpc/.
 */
#ifndef EXAMPLES_WEB_STORE_H
#define EXAMPLES_WEB_STORE_H

#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct store;

enum store_status {
	STORE_OK = 0,
	STORE_UNAVAILABLE, /* no storage domain, or it went away: a 502 */
	STORE_TIMEOUT,	   /* it did not answer in time: a 504 */
	STORE_FAILED,	   /* it answered with an error: a 500 */
	STORE_INVALID,	   /* it refused the request's content: a 400 */
};

struct store_result {
	enum store_status status;
	int found;	      /* get: the key exists; delete: it existed */
	const uint8_t *value; /* get */
	size_t len;
	char **keys; /* list, sorted */
	size_t nkeys;
};

/* The result belongs to the store and is valid during the callback only. */
typedef void store_cb(const struct store_result *r, void *data);

/* A store at rpc address `address` (e.g. "vchan:1/storage"), each call
 * bounded by `timeout_ms`. Connects lazily. Returns NULL + errno. */
struct store *store_open(struct ev_loop *loop, const char *address,
			 int timeout_ms);

/* Wait up to `timeout_ms` for the storage domain to be reachable and
 * connect to it (blocking the loop: meant for start-up, so that the first
 * requests do not meet a storage domain still starting). Returns 0, or -1 +
 * errno (ETIMEDOUT, ECONNREFUSED, ...); calls still connect lazily later. */
int store_connect(struct store *st, int timeout_ms);

/* Free the store; calls in flight end with STORE_UNAVAILABLE before this
 * returns. NULL is accepted. */
void store_close(struct store *st);

/* Calls. `key`, `prefix` and `value` are copied before returning.
 * Return 0 or -1 + errno (EINVAL, ENOMEM; the callback is not called). */
int store_get(struct store *st, const char *key, store_cb *cb, void *data);
int store_put(struct store *st, const char *key, const void *value, size_t len,
	      store_cb *cb, void *data);
int store_delete(struct store *st, const char *key, store_cb *cb, void *data);
int store_list(struct store *st, const char *prefix, store_cb *cb, void *data);

/* Calls in flight. */
size_t store_in_flight(const struct store *st);

#endif
