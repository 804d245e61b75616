/* tests/fuzz/fuzz_rpc_codec.c - rpc/codec.c against protobuf-c on any
 * bytes.
 *
 * The first byte picks a message type of tests/rpc/codec.proto or
 * codec3.proto (two flat, two not); the rest is decoded as one.
 * Invariants (tests/rpc/codec_check.c):
 *  - what the one-pass decoder accepts, protobuf-c accepts, with the same
 *    values, and the two pack it to the same bytes;
 *  - rpc_codec_unpack accepts exactly what protobuf-c accepts;
 *  - whatever protobuf-c decoded packs to the same bytes through a plan
 *    as through protobuf-c.
 */
#include "config.h"

#include "tests/fuzz/fuzz.h"
#include "tests/rpc/codec.pb-c.h"
#include "tests/rpc/codec3.pb-c.h"
#include "tests/rpc/codec_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const ProtobufCMessageDescriptor *const ds[] = {
	    &codectest__flat2__descriptor, &codectest3__flat3__descriptor,
	    &codectest__nested2__descriptor, &codectest3__nested3__descriptor};
	const ProtobufCMessageDescriptor *d;
	ProtobufCMessage *g;
	char why[200];
	int rc;

	if (size == 0)
		return 0;
	d = ds[data[0] % 4];
	rc = cc_unpack(d, data + 1, size - 1, why, sizeof(why));
	if (rc < 0)
		fprintf(stderr, "fuzz_rpc_codec: %s\n", why);
	CHECK(rc >= 0);
	g = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
	if (g != NULL) {
		rc = cc_pack(g, why, sizeof(why));
		if (rc < 0)
			fprintf(stderr, "fuzz_rpc_codec: %s\n", why);
		protobuf_c_message_free_unpacked(g, NULL);
		CHECK(rc == 0);
	}
	return 0;
}
