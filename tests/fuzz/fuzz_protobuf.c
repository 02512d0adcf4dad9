/*
 * fuzz_protobuf.c - libFuzzer harness for the Kubernetes protobuf
 * transcoder.  Inputs starting with the "k8s\0" magic go through
 * gt_pb_to_json (envelope, kind lookup, object); inputs starting with '@'
 * pick any message of the table by their second and third bytes and decode
 * the rest as that message with gt_pb_message_to_json, so the fuzzer reaches
 * every table row, not only the kinds kubectl sends.  A success must yield a
 * JSON object that serialises.  tests/fuzz/replay.c turns this into a plain
 * program that replays corpus/protobuf/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/json.h"
#include "codec/protobuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gt_err err;
	json_t *v = NULL;
	int rc;

	if (size >= 3 && data[0] == '@') {
		size_t mi = ((size_t)data[1] << 8 | data[2]) % gt_pb_nmessages;

		rc = gt_pb_message_to_json(gt_pb_messages[mi].name, data + 3, size - 3, &v, &err);
	} else {
		rc = gt_pb_to_json(data, size, &v, &err);
	}
	if (rc == 0) {
		char *s;

		if (!json_is_object(v))
			abort();
		s = gt_json_dump(v, NULL);
		free(s);
		json_decref(v);
	} else if (rc != -EINVAL && rc != -EPROTONOSUPPORT && rc != -ENOENT) {
		abort();
	} else if (v) {
		abort();
	}
	return 0;
}
