/* rpc/codec.h - protobuf's wire format for the rpc runtime (internal).
 *
 * protobuf-c packs and unpacks any message by walking its descriptor in
 * several passes, which costs more than the rest of a call's path on a
 * vchan. Most RPC messages are flat: every field a single scalar, enum,
 * string or bytes. For those, a plan made once per message type packs and
 * unpacks in one pass each, with the same result byte for byte (a
 * differential test and a fuzz harness hold it to protobuf-c); anything
 * else (repeated fields, sub-messages, oneofs, unknown fields, an encoding
 * out of the ordinary) goes to protobuf-c. */
#ifndef VCHAN_RPC_CODEC_H
#define VCHAN_RPC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* How to pack and unpack the messages of one flat type. */
struct rpc_codec_plan;

/* The plan for messages of type d, or NULL + errno: EINVAL when d is not
 * flat (protobuf-c does its messages: a NULL plan is fine below), ENOMEM.
 * It points into d, which outlives it. */
struct rpc_codec_plan *rpc_codec_plan_new(const ProtobufCMessageDescriptor *d);

/* Free pl (NULL: nothing). */
void rpc_codec_plan_free(struct rpc_codec_plan *pl);

/* The plans of a service's messages: the input of method i at [2 * i],
 * its output at [2 * i + 1] (NULL where not flat). Returns the array, or
 * NULL + ENOMEM. Free it with rpc_codec_plans_free(plans, d). */
struct rpc_codec_plan **
rpc_codec_plans_new(const ProtobufCServiceDescriptor *d);

void rpc_codec_plans_free(struct rpc_codec_plan **plans,
			  const ProtobufCServiceDescriptor *d);

/* What one field puts on the wire (internal to rpc_codec_prep). */
struct rpc_codec_wire {
	uint32_t key;	  /* field number << 3 | wire type */
	uint64_t v;	  /* varint and fixed kinds: the bits */
	const uint8_t *p; /* strings and bytes */
	size_t n;
};

/* Fields of a flat message that a rpc_codec_prep holds; a message with
 * more fields to write is packed by protobuf-c. */
#define RPC_CODEC_PREP_FIELDS 16

/* A message measured for packing: its size and what each field it writes
 * puts on the wire, so that packing need not look at the message again.
 * It points into the message: write it out before the message changes or
 * goes. */
struct rpc_codec_prep {
	const ProtobufCMessage *m;
	size_t size;
	unsigned n; /* fields in f; above RPC_CODEC_PREP_FIELDS: protobuf-c */
	struct rpc_codec_wire f[RPC_CODEC_PREP_FIELDS];
};

/* Measure m into *pr with the plan of its type (NULL, or the plan of
 * another type: protobuf-c's way). Returns its packed size (also
 * pr->size), protobuf_c_message_get_packed_size(m). */
size_t rpc_codec_measure(struct rpc_codec_prep *pr,
			 const struct rpc_codec_plan *pl,
			 const ProtobufCMessage *m);

/* Pack the message measured in *pr into out (pr->size bytes): the bytes
 * of protobuf_c_message_pack. Returns pr->size. */
size_t rpc_codec_write(const struct rpc_codec_prep *pr, uint8_t *out);

/* protobuf_c_message_unpack(d, a, len, data), in one pass when pl (the
 * plan of d, or NULL) can: the message (free it with
 * protobuf_c_message_free_unpacked(m, a)) or NULL when `data` does not
 * decode as a `d` or memory ran out. `a` NULL: malloc and free. */
ProtobufCMessage *rpc_codec_unpack(const struct rpc_codec_plan *pl,
				   const ProtobufCMessageDescriptor *d,
				   ProtobufCAllocator *a, size_t len,
				   const uint8_t *data);

/* The one-pass decoder alone: the message, or NULL when it leaves `data`
 * to protobuf-c (not an ordinary encoding, not a message of the plan's
 * type at all, or out of memory). Whatever it returns, protobuf-c returns
 * the same. */
ProtobufCMessage *rpc_codec_flat_unpack(const struct rpc_codec_plan *pl,
					ProtobufCAllocator *a, size_t len,
					const uint8_t *data);

#endif
