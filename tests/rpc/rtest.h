/* tests/rpc/rtest.h - helpers shared by the rpc tests: checks, and the
 * Echo service of echo.proto run as a server process. */
#ifndef VCHAN_RTEST_H
#define VCHAN_RTEST_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rpc/rpc.h"
#include "tests/rpc/echo.pb-c.h"
#include "tests/testutil.h"

#define SRV_DOMID 3u
#define CLI_DOMID 5u
#define CHECK TU_CHECK

/* Serve Echo at the `n` addresses until SIGTERM, then free everything and
 * return 0 (1 on a setup error). Echo echoes text and seq, answers after
 * delay_ms when set (from a timer), with reply_size bytes of blob; Fail
 * answers NULL. `opts` may be NULL. Writes "ready\n"-free: callers wait by
 * connecting with vchan_rpc_client_connect. */
int echo_serve(const char *const *addrs, size_t n,
	       const struct vchan_rpc_options *opts);

/* echo_serve with the server's TLS settings `tls` (NULL: none). */
int echo_serve_tls(const char *const *addrs, size_t n,
		   const struct vchan_rpc_options *opts,
		   const struct vchan_rpc_tls *tls);

/* The test's private directory (VCHAN_TEST_TMP, else /tmp) joined with
 * `name`, for Unix socket paths. */
void rt_tmp_path(char *buf, size_t size, const char *name);

#endif
