/* tests/rpc/codec_check.c - see codec_check.h. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/codec.h"
#include "tests/rpc/codec_check.h"

__attribute__((format(printf, 3, 4))) static int differ(char *why, size_t n,
							const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -1;
}

static size_t scalar_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	default:
		return 4;
	}
}

/* A string field: NULL, the default itself, or text. */
static int same_string(const ProtobufCFieldDescriptor *f, const char *a,
		       const char *b, char *why, size_t n)
{
	if ((a == NULL) != (b == NULL))
		return differ(why, n, "%s: NULL in one only", f->name);
	if (a == NULL)
		return 0;
	if ((a == f->default_value) != (b == f->default_value))
		return differ(why, n, "%s: the default in one only", f->name);
	if (strcmp(a, b) != 0)
		return differ(why, n, "%s: \"%.40s\" against \"%.40s\"",
			      f->name, a, b);
	return 0;
}

static int same_bytes(const ProtobufCFieldDescriptor *f,
		      const ProtobufCBinaryData *a,
		      const ProtobufCBinaryData *b, char *why, size_t n)
{
	if (a->len != b->len)
		return differ(why, n, "%s: %zu bytes against %zu", f->name,
			      a->len, b->len);
	if ((a->data == NULL) != (b->data == NULL))
		return differ(why, n, "%s: data NULL in one only", f->name);
	if (a->len > 0 && memcmp(a->data, b->data, a->len) != 0)
		return differ(why, n, "%s: other bytes", f->name);
	return 0;
}

int cc_same(const ProtobufCMessage *a, const ProtobufCMessage *b, char *why,
	    size_t n)
{
	const ProtobufCMessageDescriptor *d = a->descriptor;

	if (b->descriptor != d)
		return differ(why, n, "other descriptors");
	if (a->n_unknown_fields != b->n_unknown_fields)
		return differ(why, n, "%u unknown fields against %u",
			      a->n_unknown_fields, b->n_unknown_fields);
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *ma = (const char *)a + f->offset;
		const char *mb = (const char *)b + f->offset;
		const char *qa = (const char *)a + f->quantifier_offset;
		const char *qb = (const char *)b + f->quantifier_offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			if (memcmp(qa, qb, sizeof(size_t)) != 0)
				return differ(why, n, "%s: other counts",
					      f->name);
			if (*(const size_t *)qa != 0)
				return differ(why, n, "%s: not empty", f->name);
			continue;
		}
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
			if (memcmp(qa, qb, sizeof(uint32_t)) != 0)
				return differ(why, n, "%s: other cases",
					      f->name);
			if (*(const uint32_t *)qa == f->id)
				return differ(why, n, "%s: set", f->name);
			continue;
		}
		if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			if (*(void *const *)ma != NULL ||
			    *(void *const *)mb != NULL)
				return differ(why, n, "%s: set", f->name);
			continue;
		}
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
		    f->type != PROTOBUF_C_TYPE_STRING &&
		    (*(const protobuf_c_boolean *)qa != 0) !=
			(*(const protobuf_c_boolean *)qb != 0))
			return differ(why, n, "%s: has_ differs", f->name);
		if (f->type == PROTOBUF_C_TYPE_STRING) {
			if (same_string(f, *(char *const *)ma,
					*(char *const *)mb, why, n) < 0)
				return -1;
		} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
			if (same_bytes(f, (const ProtobufCBinaryData *)ma,
				       (const ProtobufCBinaryData *)mb, why,
				       n) < 0)
				return -1;
		} else if (memcmp(ma, mb, scalar_size(f->type)) != 0) {
			return differ(why, n, "%s: other values", f->name);
		}
	}
	return 0;
}

int cc_pack(const ProtobufCMessage *m, char *why, size_t n)
{
	/* NULL when the type is not flat: protobuf-c's own way then. */
	struct rpc_codec_plan *pl = rpc_codec_plan_new(m->descriptor);
	struct rpc_codec_prep pr;
	size_t sa = rpc_codec_measure(&pr, pl, m);
	size_t sb = protobuf_c_message_get_packed_size(m);
	uint8_t *a = NULL, *b = NULL;
	size_t la, lb;
	int rc = 0;

	if (sa != sb) {
		rc = differ(why, n, "%s: size %zu against %zu",
			    m->descriptor->name, sa, sb);
		goto out;
	}
	/* One byte more than said, to see a pack write past its size. */
	a = calloc(1, sa + 1);
	b = calloc(1, sb + 1);
	if (a == NULL || b == NULL) {
		rc = differ(why, n, "out of memory");
		goto out;
	}
	la = rpc_codec_write(&pr, a);
	lb = protobuf_c_message_pack(m, b);
	if (la != sa || lb != sb)
		rc = differ(why, n, "%s: packed %zu and %zu bytes of %zu",
			    m->descriptor->name, la, lb, sa);
	else if (memcmp(a, b, sa + 1) != 0) {
		size_t at = 0;

		while (a[at] == b[at])
			at++;
		rc = differ(why, n,
			    "%s: other bytes packed from %zu of %zu: "
			    "%02x against %02x",
			    m->descriptor->name, at, sa, a[at], b[at]);
	}
out:
	free(a);
	free(b);
	rpc_codec_plan_free(pl);
	return rc;
}

int cc_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *data,
	      size_t len, char *why, size_t n)
{
	struct rpc_codec_plan *pl = rpc_codec_plan_new(d);
	ProtobufCMessage *f =
	    pl != NULL ? rpc_codec_flat_unpack(pl, NULL, len, data) : NULL;
	ProtobufCMessage *g = protobuf_c_message_unpack(d, NULL, len, data);
	ProtobufCMessage *u = rpc_codec_unpack(pl, d, NULL, len, data);
	int rc = f != NULL;

	if (f != NULL && g == NULL)
		rc = differ(why, n,
			    "%s: protobuf-c refuses what the one-pass "
			    "decoder took",
			    d->name);
	else if (f != NULL &&
		 (cc_same(f, g, why, n) < 0 || cc_pack(f, why, n) < 0))
		rc = -1;
	else if ((u == NULL) != (g == NULL))
		rc = differ(why, n, "%s: rpc_codec_unpack %s, protobuf-c %s",
			    d->name, u ? "decodes" : "refuses",
			    g ? "decodes" : "refuses");
	else if (f != NULL && cc_same(u, g, why, n) < 0)
		rc = -1;
	if (f != NULL)
		protobuf_c_message_free_unpacked(f, NULL);
	if (g != NULL)
		protobuf_c_message_free_unpacked(g, NULL);
	if (u != NULL)
		protobuf_c_message_free_unpacked(u, NULL);
	rpc_codec_plan_free(pl);
	return rc;
}
