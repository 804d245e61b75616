/* tests/rpc/codec_check.h - rpc/codec.c held to protobuf-c: the checks that
 * tests/rpc/rpc_codec and tests/fuzz/fuzz_rpc_codec share. Each returns -1
 * on a difference, with what differed in why[n]. */
#ifndef TESTS_RPC_CODEC_CHECK_H
#define TESTS_RPC_CODEC_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* Whether a and b, of one descriptor, hold the same: each flat field's
 * value (has_ flags, NULL or default strings and empty bytes told apart),
 * and the same empty non-flat fields. Returns 0 or -1. */
int cc_same(const ProtobufCMessage *a, const ProtobufCMessage *b, char *why,
	    size_t n);

/* m packs to the same bytes, of the same size, through rpc/codec.c as
 * through protobuf-c. Returns 0 or -1. */
int cc_pack(const ProtobufCMessage *m, char *why, size_t n);

/* `data` decodes as a `d` the same through rpc/codec.c as through
 * protobuf-c: what the one-pass decoder accepts, protobuf-c accepts with
 * the same values (and they pack the same), and rpc_codec_unpack gives
 * what protobuf-c gives. Returns 1 when the one-pass decoder took it, 0
 * when it left it to protobuf-c, -1 on a difference. */
int cc_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data,
	      size_t len, char *why, size_t n);

#endif
